{%- set reads = cookiecutter.reads | entities_in -%}
{%- set writes = cookiecutter.writes | entities_in -%}
{%- set P = cookiecutter.prefix -%}
{%- set attached = "shipments" in writes or "refunds" in writes or "feedback" in writes -%}
{%- set seeded = [] -%}
{%- for entity in entities if entity in reads or (entity == "orders" and attached) -%}
{%- set _ = seeded.append(entity) -%}
{%- endfor -%}
{%- set overrides = seeded or attached or "stock" in writes -%}
{%- set stdlib = (["from decimal import Decimal"] if "stock" in writes else []) + (["from typing import Any"] if overrides else []) -%}
"""The contract kit against the {{ cookiecutter.system }} sandbox."""

from __future__ import annotations
{%- if stdlib %}

{{ stdlib | join("\n") }}
{%- endif %}

from {{ cookiecutter.package }}.plugin import {{ P }}Plugin
from {{ cookiecutter.package }}.sandbox import {{ P }}Sandbox
{% if overrides %}
from host.plugins import Connection
{%- endif %}
from host.testing import ContractTests
{%- if seeded %}

#: What the sandbox holds before each test: of each kind, a copy of the kit's sample with
#: these changes, so that every fetch reads a record and none is taken for one the kit writes.
SEEDED: dict[str, dict[str, Any]] = {
{%- for entity in seeded %}
{%- if entity == "orders" and "orders" not in writes %}
    "orders": {"id": "order-1", "key": "seed-orders"},  # what is attached is for it
{%- elif entity == "orders" %}
    "orders": {"key": "seed-orders", "number": "SEED-1"},
{%- elif entity == "products" %}
    "products": {"key": "seed-products", "sku": "SEED-1"},
{%- elif entity == "customers" %}
    "customers": {
        "key": "seed-customers",
        "email": "seeded@example.com",
        "phone": None,
        "vat_number": None,
    },
{%- else %}
    "{{ entity }}": {"key": "seed-{{ entity }}"},
{%- endif %}
{%- endfor %}
}
{%- endif %}


class TestContract(ContractTests):
    plugin_class = {{ P }}Plugin
    sandbox_class = {{ P }}Sandbox
{%- if reads %}
    # a fetch that yields nothing fails: prepare() gives each something to read
    expect_records = {
{%- for entity in reads %}
        {{ entity | tojson }},
{%- endfor %}
    }
{%- endif %}
{%- if seeded %}

    def prepare(self, sandbox: Any, connection: Connection) -> None:
        super().prepare(sandbox, connection)
        samples = self.samples()
        for kind, changes in SEEDED.items():
            sandbox.seed(kind, [{**samples[kind].model_dump(mode="json"), **changes}])
{%- endif %}
{%- if attached and "orders" not in writes %}

    def existing_order_id(self, sandbox: Any, connection: Connection) -> str:
        return "order-1"  # seeded by prepare
{%- endif %}
{%- if "stock" in writes %}

    def stock_of(self, sandbox: Any, connection: Connection, sku: str) -> Decimal | None:
        rows = [r for r in sandbox.dump("stock") if r["sku"] == sku and r.get("on_hand")]
        return Decimal(rows[-1]["on_hand"]) if rows else None
{%- endif %}
{%- if attached %}

    def exists(self, sandbox: Any, connection: Connection, entity: str, target_id: str) -> bool:
        return any(r["id"] == target_id for r in sandbox.dump(entity))
{%- endif %}
