{%- set reads = cookiecutter.reads | entities_in -%}
{%- set writes = cookiecutter.writes | entities_in -%}
{%- set searches = "orders" in writes or "customers" in writes or "products" in writes or "shipments" in writes or "refunds" in writes or "feedback" in writes -%}
{%- set creates = writes | reject("equalto", "stock") | list -%}
{%- set updates = "customers" in writes or "products" in writes or "feedback" in writes -%}
"""The {{ cookiecutter.system }} API.

On the host's HTTP toolkit: host.http.HttpClient gives timeouts, retries, rate limits and
the mapping of answers to host.errors, host.paging the paging; the plugin hands in the
authenticator (host.auth)."""

from __future__ import annotations
{% if reads %}
from collections.abc import Iterator
from datetime import datetime
{%- endif %}
from typing import Any

import httpx

from host.http import HttpClient
{%- if reads %}
from host.paging import OffsetLimit
{%- endif %}


class {{ cookiecutter.prefix }}Client(HttpClient):
    """Calls the {{ cookiecutter.system }} REST API."""

    # TODO({{ cookiecutter.prefix | lower }}): the real API's paths in the methods below

    def __init__(self, base_url: str, auth: httpx.Auth | None{% if reads %}, page_size: int = 100{% endif %}) -> None:
        super().__init__(base_url, auth=auth, name="{{ cookiecutter.name }}")
{%- if reads %}
        # TODO({{ cookiecutter.prefix | lower }}): the API's paging shape (host.paging has the others)
        self.paging = OffsetLimit("items", page_size=page_size, total="total")
{%- endif %}

    def error_message(self, response: httpx.Response) -> str:
        """The remote's own words from an error answer."""
        # TODO({{ cookiecutter.prefix | lower }}): the API's error body (here {"error": {"code", "message"}})
        try:
            error = response.json()["error"]
            return f"{error['message']} ({error['code']})"
        except (ValueError, KeyError, TypeError):
            return super().error_message(response)

    def ping(self) -> None:
        """One cheap authenticated call."""
        self.get("/api/ping")
{%- if reads %}

    def rows(self, entity: str, since: datetime | None) -> Iterator[dict[str, Any]]:
        """The records of `entity` changed at or after `since`, oldest first, page by page."""
        params = {"updated_since": since.isoformat()} if since is not None else None
        return self.paginate("GET", f"/api/{entity}", self.paging, params=params)
{%- endif %}
{%- if searches %}

    def search(self, entity: str, **fields: str | list[str]) -> list[dict[str, Any]]:
        """The records of `entity` whose every field in `fields` equals the value (or one of
        the values) given; e-mail addresses without case."""
        answer = self.get(f"/api/{entity}/search", params=fields).json()
        return list(answer["items"])
{%- endif %}
{%- if creates %}

    def create(self, entity: str, body: dict[str, Any], key: str | None = None) -> str:
        """Create a record; its id. A repeat with the same `key` answers the first one's id."""
        headers = {"Idempotency-Key": key} if key else None
        return str(self.post(f"/api/{entity}", json=body, headers=headers).json()["id"])
{%- endif %}
{%- if updates %}

    def update(self, entity: str, record_id: str, body: dict[str, Any]) -> str:
        """Update record `record_id` with the fields of `body`; its id."""
        return str(self.put(f"/api/{entity}/{record_id}", json=body).json()["id"])
{%- endif %}
{%- if "stock" in writes %}

    def set_stock(self, levels: list[dict[str, Any]]) -> None:
        """Set the stock of each level's SKU."""
        self.post("/api/stock", json={"levels": levels})
{%- endif %}
