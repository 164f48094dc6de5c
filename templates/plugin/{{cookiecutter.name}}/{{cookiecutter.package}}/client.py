"""The {{ cookiecutter.system }} API client, on host.http (timeouts, retries, redaction)."""

from __future__ import annotations
{% if cookiecutter.auth == "oauth2_client_credentials" %}
import time
{%- endif %}
from typing import Any
{% if cookiecutter.auth == "oauth2_client_credentials" %}
import httpx

from host.errors import AuthError
{%- endif %}
from host.http import HttpClient


class Client:
    """Calls the {{ cookiecutter.system }} REST API. Replace the paths with the real ones."""

    def __init__(self, settings: Any) -> None:
        headers: dict[str, str] = {}
        auth: Any = None
{%- if cookiecutter.auth == "api_key" %}
        headers["X-Api-Key"] = settings.api_key.get_secret_value()
{%- elif cookiecutter.auth == "bearer" %}
        headers["Authorization"] = f"Bearer {settings.token.get_secret_value()}"
{%- elif cookiecutter.auth == "basic" %}
        auth = (settings.username, settings.password.get_secret_value())
{%- endif %}
        self.settings = settings
        self.http = HttpClient(settings.base_url, headers=headers, auth=auth, name="{{ cookiecutter.name }}")
{%- if cookiecutter.auth == "oauth2_client_credentials" %}
        self._token: str | None = None
        self._expires = 0.0

    def _authorise(self) -> dict[str, str]:
        """A bearer token from the client-credentials grant, renewed before it expires."""
        if self._token is None or time.monotonic() > self._expires - 30:
            try:
                answer = self.http.post(
                    self.settings.token_url or "/oauth/token",
                    data={
                        "grant_type": "client_credentials",
                        "client_id": self.settings.client_id,
                        "client_secret": self.settings.client_secret.get_secret_value(),
                    },
                ).json()
            except AuthError:
                raise
            except httpx.HTTPError as exc:
                raise AuthError(f"{{ cookiecutter.name }}: token request failed: {exc}") from None
            self._token = answer["access_token"]
            self._expires = time.monotonic() + float(answer.get("expires_in", 3600))
        return {"Authorization": f"Bearer {self._token}"}
{%- else %}

    def _authorise(self) -> dict[str, str]:
        return {}
{%- endif %}

    def close(self) -> None:
        self.http.close()

    def get(self, path: str, **params: Any) -> Any:
        return self.http.get(path, params=params or None, headers=self._authorise()).json()

    def post(self, path: str, body: Any, key: str | None = None) -> Any:
        headers = self._authorise()
        if key:
            headers["Idempotency-Key"] = key
        return self.http.post(path, json=body, headers=headers).json()

    def put(self, path: str, body: Any) -> Any:
        return self.http.put(path, json=body, headers=self._authorise()).json()
