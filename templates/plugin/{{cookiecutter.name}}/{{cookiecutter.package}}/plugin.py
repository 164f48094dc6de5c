{%- set reads = cookiecutter.reads | entities_in -%}
{%- set writes = cookiecutter.writes | entities_in -%}
{%- set types = cookiecutter.order_types | order_types_in if "orders" in writes else [] -%}
{%- set auth = cookiecutter.auth -%}
{%- set P = cookiecutter.prefix -%}
{%- set attached = [] -%}
{%- for entity in ("shipments", "refunds", "feedback") if entity in writes -%}
{%- set _ = attached.append(record_types[entity]) -%}
{%- endfor -%}
{%- set models = [] -%}
{%- for entity in entities if entity in reads or entity in writes -%}
{%- set _ = models.append(record_types[entity]) -%}
{%- endfor -%}
{%- set vocabulary = (["DebtorField"] if "customers" in writes else []) + (["OrderType"] if "orders" in writes else []) -%}
{%- set converts = (["to_record"] if reads else []) + (["to_remote"] if writes | reject("equalto", "stock") | list else []) -%}
"""The {{ cookiecutter.system }} connector.

Reads: {{ reads | join(", ") or "nothing" }}.
Writes: {{ writes | join(", ") or "nothing" }}.
"""

from __future__ import annotations
{% if reads %}
from collections.abc import Iterator
from datetime import datetime
{% endif %}
from pydantic import BaseModel, Field{% if auth != "none" %}, SecretStr{% endif %}

from host import hookimpl
{%- if auth == "api_key" %}
from host.auth import ApiKeyHeader
{%- elif auth == "bearer" %}
from host.auth import Bearer
{%- elif auth == "basic" %}
from host.auth import Basic
{%- elif auth == "oauth2_client_credentials" %}
from host.auth import OAuth2ClientCredentials
{%- elif auth == "oauth2_authorization_code" %}
from host.auth import ConnectorContext, OAuth2AuthorizationCode
{%- endif %}
from host.capabilities import Capabilities
{%- if "customers" in writes or attached %}
from host.errors import RecordInvalid
{%- endif %}
{%- if models %}
from host.models import {{ models | sort | join(", ") }}
{%- endif %}
{%- if vocabulary %}
from host.vocabulary import {{ vocabulary | join(", ") }}
{%- endif %}
from {{ cookiecutter.package }}.client import {{ P }}Client
{%- if converts %}
from {{ cookiecutter.package }}.convert import {{ converts | join(", ") }}
{%- endif %}


class {{ P }}Settings(BaseModel):
    """A connection's settings: its keys in ihost.toml."""

    base_url: str = Field(description="the API's base URL")
{%- if auth == "api_key" %}
    api_key: SecretStr = Field(description="API key: give it as ${VAR}")
{%- elif auth == "bearer" %}
    token: SecretStr = Field(description="API token: give it as ${VAR}")
{%- elif auth == "basic" %}
    username: str = Field(description="user name")
    password: SecretStr = Field(description="password: give it as ${VAR}")
{%- elif auth == "oauth2_client_credentials" %}
    token_url: str = Field(description="the OAuth2 token endpoint")
    client_id: str = Field(description="the OAuth2 client registered for ihost")
    client_secret: SecretStr = Field(description="its secret: give it as ${VAR}")
{%- elif auth == "oauth2_authorization_code" %}
    authorize_url: str = Field(description="where a merchant authorizes ihost (`ihost auth`)")
    token_url: str = Field(description="the OAuth2 token endpoint")
    client_id: str = Field(description="the OAuth2 client registered for ihost")
    client_secret: SecretStr = Field(description="its secret: give it as ${VAR}")
    redirect_uri: str | None = Field(
        None, description="the redirect URI registered with the client (none: any loopback one)"
    )
{%- endif %}
{%- if reads %}
    page_size: int = Field(100, ge=1, le=250, description="records per page read (at most 250)")
{%- endif %}


class {{ P }}Plugin:
    """{{ cookiecutter.system }}.{% if auth == "oauth2_authorization_code" %}

    A connection is authorized once, with `ihost auth CONNECTION`.
    {% endif %}"""

    name = "{{ cookiecutter.name }}"
    title = "{{ cookiecutter.system }}"
    Settings = {{ P }}Settings
    # TODO({{ cookiecutter.prefix | lower }}): declare what the real API can do, and nothing more
    capabilities = Capabilities(
        reads={{ "{" ~ (reads | map("tojson") | join(", ")) ~ "}" if reads else "set()" }},
        writes={{ "{" ~ (writes | map("tojson") | join(", ")) ~ "}" if writes else "set()" }},
        product_types={{ '{"simple", "configurable"}' if cookiecutter.variants == "yes" else '{"simple"}' }},
        variants={{ "True" if cookiecutter.variants == "yes" else "False" }},
        images={{ cookiecutter.images | int }},
        variant_images={{ 1 if cookiecutter.variants == "yes" and (cookiecutter.images | int) > 0 else 0 }},
        categories={{ "True" if cookiecutter.categories == "yes" else "False" }},
        order_types={{ "{" ~ (types | map("tojson") | join(", ")) ~ "}" if types else "set()" }},
{%- if "customers" in writes %}
        debtor_match={"email", "phone", "vat_number"},  # the fields its customer search takes
{%- endif %}
        stock_batch={{ cookiecutter.stock_batch | int }},
    )
{% if auth == "oauth2_authorization_code" %}
    def __init__(self, settings: {{ P }}Settings, context: ConnectorContext) -> None:
        self.settings = settings
        # TODO({{ cookiecutter.prefix | lower }}): its OAuth2 options (scope, pkce, token_body)
        self.auth = OAuth2AuthorizationCode(
            settings.authorize_url,
            settings.token_url,
            settings.client_id,
            settings.client_secret.get_secret_value(),
            redirect_uri=settings.redirect_uri,
            vault=context.tokens,
            name=context.connection,
        )
        self.client = {{ P }}Client(settings.base_url, self.auth{% if reads %}, settings.page_size{% endif %})

    def close(self) -> None:
        self.client.close()
        self.auth.close()

    @hookimpl
    def oauth2_flow(self) -> OAuth2AuthorizationCode:
        return self.auth
{% elif auth == "oauth2_client_credentials" %}
    def __init__(self, settings: {{ P }}Settings) -> None:
        self.settings = settings
        # TODO({{ cookiecutter.prefix | lower }}): its OAuth2 options (scope, client_auth, token_body)
        self.auth = OAuth2ClientCredentials(
            settings.token_url,
            settings.client_id,
            settings.client_secret.get_secret_value(),
            name=self.name,
        )
        self.client = {{ P }}Client(settings.base_url, self.auth{% if reads %}, settings.page_size{% endif %})

    def close(self) -> None:
        self.client.close()
        self.auth.close()
{% else %}
    def __init__(self, settings: {{ P }}Settings) -> None:
        self.settings = settings
{%- if auth == "api_key" %}
        # TODO({{ cookiecutter.prefix | lower }}): the remote's header for the key (or ApiKeyQuery)
        auth = ApiKeyHeader("X-Api-Key", settings.api_key.get_secret_value())
{%- elif auth == "bearer" %}
        auth = Bearer(settings.token.get_secret_value())
{%- elif auth == "basic" %}
        auth = Basic(settings.username, settings.password.get_secret_value())
{%- else %}
        auth = None  # the system takes no credentials
{%- endif %}
        self.client = {{ P }}Client(settings.base_url, auth{% if reads %}, settings.page_size{% endif %})

    def close(self) -> None:
        self.client.close()
{% endif %}
    @hookimpl
    def check_connection(self) -> None:
        self.client.ping()
{%- for entity in reads %}
{%- if entity == "orders" %}

    @hookimpl
    def fetch_orders(self, since: datetime | None, statuses: list[str] | None) -> Iterator[Order]:
        for row in self.client.rows("orders", since):
            if statuses is None or row.get("status") in statuses:
                yield to_record(Order, row)
{%- else %}

    @hookimpl
    def fetch_{{ entity }}(self, since: datetime | None) -> Iterator[{{ record_types[entity] }}]:
        for row in self.client.rows("{{ entity }}", since):
            yield to_record({{ record_types[entity] }}, row)
{%- endif %}
{%- endfor %}
{%- if "orders" in writes %}

    @hookimpl
    def find_order(self, order: Order, order_type: OrderType) -> str | None:
        found = self.client.search("orders", source_key=order.key, order_type=order_type)
        return str(found[0]["id"]) if found else None

    @hookimpl
    def create_order(self, order: Order, order_type: OrderType, debtor_id: str | None) -> str:
        body = {
            **to_remote(order),
            "source_key": order.key,
            "order_type": order_type,
            "debtor_id": debtor_id,
        }
        return self.client.create("orders", body, key=f"{order_type}-{order.key}")
{%- endif %}
{%- if "customers" in writes %}

    @hookimpl
    def find_debtor(self, customer: Customer, match_on: DebtorField) -> str | None:
        value = getattr(customer, match_on)
        if not value:
            raise RecordInvalid(
                f"customer {customer.key} has no {match_on}", key=customer.key, field=match_on
            )
        found = self.client.search("customers", **{match_on: str(value)})
        return str(found[0]["id"]) if found else None

    @hookimpl
    def upsert_debtor(self, customer: Customer, existing_id: str | None) -> str:
        if existing_id:
            return self.client.update("customers", existing_id, to_remote(customer))
        return self.client.create("customers", to_remote(customer))
{%- endif %}
{%- if "products" in writes %}

    @hookimpl
    def find_products(self, skus: list[str]) -> dict[str, str]:
        found = self.client.search("products", sku=skus) if skus else []
        return {row["sku"]: str(row["id"]) for row in found if row["sku"] in skus}

    @hookimpl
    def upsert_product(self, product: Product, existing_id: str | None, update_info: bool) -> str:
        body = to_remote(product)
        if existing_id is None:
            return self.client.create("products", body)
        if not update_info:  # commercial data only
            body = {k: body[k] for k in ("price", "ean", "active", "cost_price")}
        return self.client.update("products", existing_id, body)
{%- endif %}
{%- if "stock" in writes %}

    @hookimpl
    def push_stock(self, levels: list[StockLevel]) -> None:
        self.client.set_stock(
            [{"sku": lv.sku, "quantity": str(lv.quantity), "managed": lv.managed} for lv in levels]
        )
{%- endif %}
{%- if attached %}

    def _order_id(self, record: {{ attached | join(" | ") }}, order_id: str | None) -> str:
        """The target order: `order_id`, else the order numbered as the record says."""
        if order_id:
            return order_id
        number = record.order_number
        found = self.client.search("orders", number=number) if number else []
        if not found:
            raise RecordInvalid(
                f"no order numbered {number} in {self.title}",
                key=record.key,
                field="order_number",
            )
        return str(found[0]["id"])
{%- endif %}
{%- if "shipments" in writes %}

    @hookimpl
    def create_shipment(self, shipment: Shipment, order_id: str | None) -> str:
        body = {
            **to_remote(shipment),
            "order_id": self._order_id(shipment, order_id),
            "source_key": shipment.key,
        }
        return self.client.create("shipments", body, key=f"shipment-{shipment.key}")
{%- endif %}
{%- if "refunds" in writes %}

    @hookimpl
    def create_refund(self, refund: Refund, order_id: str | None) -> str:
        body = {
            **to_remote(refund),
            "order_id": self._order_id(refund, order_id),
            "source_key": refund.key,
        }
        return self.client.create("refunds", body, key=f"refund-{refund.key}")
{%- endif %}
{%- if "feedback" in writes %}

    @hookimpl
    def write_feedback(self, feedback: Feedback, order_id: str | None) -> str:
        """Kept with its order; written again as it moves on, over what was kept."""
        body = {
            **to_remote(feedback),
            "order_id": self._order_id(feedback, order_id),
            "source_key": feedback.key,
        }
        kept = self.client.search("feedback", source_key=feedback.key)
        if kept:
            return self.client.update("feedback", str(kept[0]["id"]), body)
        return self.client.create("feedback", body, key=f"feedback-{feedback.key}")
{%- endif %}
