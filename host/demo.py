"""`ihost demo`: the Shopify and AFAS sandboxes with a small shop, and the seed page's flows.

Orders go from Shopify to AFAS; products, stock, customers and shipments from AFAS to
Shopify. The shop has orders from a company and from private customers (one of them
not yet paid), products with variants and images, stock, an existing debtor, and, once
the orders are in AFAS, a delivery note with track & trace.

The sandboxes come from the `ihost.sandboxes` entry points of the installed ihost-shopify and
ihost-afas packages, never by import: the demo's shop is its own data here, in each remote's
native shape.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from host.config import Config, load_config
from host.errors import ConfigError
from host.plugins import Registry, package_for, sandbox_class
from host.report import Report
from host.runner import Runner
from host.sandbox import Sandbox

#: the flows of the seed page, in the order a first run needs them
FLOWS = (
    ("products", "products", "erp", "shop"),
    ("stock", "stock", "erp", "shop"),
    ("customers", "customers", "erp", "shop"),
    ("orders", "orders", "shop", "erp"),
    ("shipments", "shipments", "erp", "shop"),
)
STAMP = "2026-11-20T09:30:00Z"
MARKER = ".ihost-demo"  # in a directory the demo made: it may replace its own files there
#: the AFAS GetConnectors the demo seeds and reads (see the AFAS README)
ARTICLES, STOCK, DEBTORS = "Profit_Article_Basic", "ihost_Stock", "Profit_Debtor"
ORDERS, DELIVERIES = "Profit_Salesorders", "ihost_Deliverynotes"
DEBTORS_WITH_NAMES = "ihost_Debtors"
#: the sandboxes the demo starts, by plugin name, with their options (Shopify's rate limit
#: restores quickly: the demo shows flows, not throttling)
SANDBOXES: dict[str, dict[str, Any]] = {"shopify": {"restore_rate": 1000}, "afas": {}}
OWN_FILES = {MARKER, "ihost.toml", "ihost.db", "ihost.db-wal", "ihost.db-shm"}


def check_directory(directory: Path) -> None:
    """Refuse a directory holding files the demo did not make: it would overwrite them."""
    if not directory.exists():
        return
    if not directory.is_dir():
        raise ConfigError(f"{directory} is a file: give --dir a directory for the demo")
    names = {entry.name for entry in directory.iterdir()}
    foreign = sorted(names - OWN_FILES if MARKER in names else names)
    if foreign:
        shown = ", ".join(foreign[:5]) + (", ..." if len(foreign) > 5 else "")
        raise ConfigError(
            f"{directory} holds files the demo did not make ({shown}); the demo would "
            "overwrite its ihost.toml and store: choose a new or empty --dir"
        )


def _require(registry: Registry) -> dict[str, type[Sandbox]]:
    """The demo's sandbox classes; ConfigError (one line) when a plugin or its sandbox is not
    installed."""
    missing = [name for name in SANDBOXES if (info := registry.get(name)) is None or info.error]
    if missing:
        packages = " ".join(package_for(name) for name in missing)
        raise ConfigError(f"the demo needs the {', '.join(missing)} plugin: pip install {packages}")
    return {name: sandbox_class(name) for name in SANDBOXES}


def _money(amount: float) -> dict[str, Any]:
    """A Shopify MoneyBag in euros."""
    value = {"amount": f"{amount:.2f}", "currencyCode": "EUR"}
    return {"shopMoney": value, "presentmentMoney": value}


def _address(company: str | None = None, **changes: Any) -> dict[str, Any]:
    """A Shopify MailingAddress in Amsterdam."""
    return {
        "firstName": "Anna",
        "lastName": "de Vries",
        "name": "Anna de Vries",
        "company": company,
        "address1": "Keizersgracht 123 A",
        "address2": None,
        "zip": "1015 CJ",
        "city": "Amsterdam",
        "province": None,
        "provinceCode": None,
        "countryCodeV2": "NL",
        "phone": "+31201234567",
        **changes,
    }


def _vat(amount: float) -> list[dict[str, Any]]:
    return [{"rate": 0.21, "ratePercentage": 21.0, "title": "BTW", "priceSet": _money(amount)}]


def _order(
    number: int,
    email: str,
    skus: tuple[str, ...],
    status: str = "PAID",
    company: str | None = None,
    updated_at: str = "2026-05-01T10:00:00Z",
    **changes: Any,
) -> dict[str, Any]:
    """A Shopify Order node: two of each SKU at 12.10 and PostNL shipping, 21 % VAT included."""
    return {
        "id": f"gid://shopify/Order/{number}",
        "name": f"#{number}",
        "email": email,
        "createdAt": "2026-05-01T09:00:00Z",
        "updatedAt": updated_at,
        "cancelledAt": None,
        "note": None,
        "tags": [],
        "poNumber": None,
        "displayFinancialStatus": status,
        "displayFulfillmentStatus": "UNFULFILLED",
        "currencyCode": "EUR",
        "taxesIncluded": True,
        "paymentGatewayNames": ["shopify_payments"],
        "totalPriceSet": _money(24.20 * len(skus) + 6.95),
        "totalTaxSet": _money(4.20 * len(skus) + 1.21),
        "customer": {
            "id": f"gid://shopify/Customer/{500 + number}",
            "firstName": "Anna",
            "lastName": "de Vries",
            "email": email,
            "phone": "+31201234567",
            "locale": "nl",
            "updatedAt": updated_at,
        },
        "billingAddress": _address(company),
        "shippingAddress": _address(company),
        "shippingLines": [
            {
                "title": "PostNL",
                "code": "postnl-standard",
                "originalPriceSet": _money(6.95),
                "discountedPriceSet": _money(6.95),
                "taxLines": _vat(1.21),
            }
        ],
        "lineItems": [
            {
                "sku": sku,
                "name": f"Product {sku}",
                "quantity": 2,
                "originalUnitPriceSet": _money(12.10),
                "totalDiscountSet": _money(0),
                "taxLines": _vat(4.20),
            }
            for sku in skus
        ],
        **changes,
    }


def seed_shop(shop: Sandbox, erp: Sandbox) -> None:
    """A small, realistic shop on both sides."""
    shop.seed(
        "orders",
        [
            _order(
                1001,
                company="Bakkerij de Molen BV",
                email="inkoop@demolen.nl",
                skus=("MUG-01", "TEA-GRN"),
            ),
            _order(1002, "anna@example.com", ("SHIRT-M",), updated_at="2026-11-20T10:00:00Z"),
            _order(
                1003,
                "Piet.Jansen@example.com",
                ("MUG-01",),
                updated_at="2026-11-20T11:00:00Z",
                billingAddress=_address(countryCodeV2="BE", city="Antwerpen", zip="2000"),
            ),
            _order(1004, "later@example.com", ("TEA-GRN",), status="PENDING"),
            # an article AFAS does not know yet: a dead letter until it is created there
            _order(1005, "kees@example.com", ("CANDLE-01",), updated_at="2026-11-20T12:00:00Z"),
        ],
    )
    shop.seed(
        "products",
        [
            {
                "title": "Organic cotton shirt",
                "handle": "shirt",
                "status": "ACTIVE",
                "options": [{"name": "Size", "values": ["S", "M", "L"]}],
                "media": [
                    {
                        "__typename": "MediaImage",
                        "image": {"url": f"https://img.example.com/shirt-{v}.jpg"},
                    }
                    for v in ("front", "back")
                ],
                "variants": [
                    {
                        "sku": f"SHIRT-{size}",
                        "price": "29.95",
                        "title": size,
                        "selectedOptions": [{"name": "Size", "value": size}],
                    }
                    for size in ("S", "M", "L")
                ],
            }
        ],
    )
    articles = [("MUG-01", "Stoneware mug", 12.5), ("TEA-GRN", "Green tea, 100 g", 7.95)]
    articles += [(f"SHIRT-{s}", f"Organic cotton shirt {s}", 29.95) for s in ("S", "M", "L")]
    erp.seed(
        ARTICLES,
        [
            {
                "ItemCode": code,
                "Description": name,
                "BasicSalesPrice": price,
                "UnitId": "stk",
                "Blocked": False,
                "DateModified": STAMP,
            }
            for code, name, price in articles
        ],
    )
    erp.seed(
        STOCK,
        [
            {
                "ItemCode": code,
                "Warehouse": "*****",
                "StockActual": stock,
                "Reserved": reserved,
                "ModifiedDate": STAMP,
            }
            for (code, _, _), stock, reserved in zip(
                articles, (40, 120, 8, 15, 0), (2, 0, 1, 3, 0), strict=True
            )
        ],
    )
    anna = {
        "DebtorId": "10500",
        "DebtorName": "Anna de Vries",
        "Email": "anna@example.com",
        "TelNr": "+31201234567",
        "ModifiedDate": STAMP,
    }
    erp.seed(DEBTORS, [anna])
    # the same debtor in the debtors GetConnector the AFAS README suggests, which says
    # whether a debtor is a person and gives the name in parts
    erp.seed(
        DEBTORS_WITH_NAMES,
        [{**anna, "Type": "PER", "FirstName": "Anna", "NamePrefix": "de", "LastName": "Vries"}],
    )


def deliver_first_order(erp: Sandbox) -> None:
    """AFAS ships the company's order: a delivery note with track & trace."""
    orders = [r for r in erp.dump(ORDERS) if r.get("CustomerReference") == "1001"]
    if orders:
        erp.seed(
            DELIVERIES,
            [
                {
                    "DeliveryNote": "PB-2026-001",
                    "OrderNumber": orders[0]["OrderNumber"],
                    "CustomerReference": "1001",
                    "Carrier": "PostNL",
                    "TrackTrace": "3SDEMO0001001",
                    "DeliveryDate": STAMP,
                    "ModifiedDate": "2026-11-21T08:00:00Z",
                }
            ],
        )


def write_config(directory: Path, shop: Sandbox, erp: Sandbox) -> Path:
    """The demo's ihost.toml (the credentials are the sandboxes', not secrets)."""
    lines = [
        "# ihost demo: the Shopify and AFAS sandboxes on 127.0.0.1",
        f'[store]\nurl = "sqlite:///{directory / "ihost.db"}"\n',
    ]
    for name, plugin, box in (("shop", "shopify", shop), ("erp", "afas", erp)):
        lines.append(f'[connections.{name}]\nplugin = "{plugin}"')
        lines += [
            f"{key} = {json.dumps(value)}" for key, value in box.connection_settings().items()
        ]
        if plugin == "afas":
            lines.append(f'get_connectors = {{ debtors = "{DEBTORS_WITH_NAMES}" }}')
        lines.append("")
    for flow, kind, source, target in FLOWS:
        lines.append(
            f'[flows.{flow}]\nkind = "{kind}"\nsource = "{source}"\ntarget = "{target}"\n'
            'schedule = "every 1m"\n'
        )
    path = directory / "ihost.toml"
    path.write_text("\n".join(lines))
    return path


@contextmanager
def running_demo(directory: Path, registry: Registry) -> Iterator[tuple[Config, Sandbox, Sandbox]]:
    """Start both sandboxes with the demo shop and write the config; stop them after."""
    sandboxes = _require(registry)
    check_directory(directory)
    directory.mkdir(parents=True, exist_ok=True)
    (directory / MARKER).write_text("made by `ihost demo`: it replaces its files here\n")
    for stale in directory.glob("ihost.db*"):
        stale.unlink()
    with (
        sandboxes["shopify"](**SANDBOXES["shopify"]) as shop,
        sandboxes["afas"](**SANDBOXES["afas"]) as erp,
    ):
        seed_shop(shop, erp)
        config = load_config(write_config(directory, shop, erp), registry)
        yield config, shop, erp


def run_once(
    config: Config, erp: Sandbox, registry: Registry, on_report: Callable[[Report], None]
) -> int:
    """Run every flow once, in order. A failed record is part of the demo (order 1005 waits
    for its article): only a flow that could not run makes the exit code non-zero."""
    worst = 0
    for flow, *_ in FLOWS:
        if flow == "shipments":
            deliver_first_order(erp)
        report = Runner(config, flow, registry).run()
        on_report(report)
        if report.exit_code == 3:
            worst = 3
    return worst
