"""`ihost demo`: the Shopify and AFAS sandboxes with a small shop, and the seed page's flows.

Orders go from Shopify to AFAS; products, stock, customers and shipments from AFAS to
Shopify. The shop has orders from a company and from private customers (one of them
not yet paid), products with variants and images, stock, an existing debtor, and, once
the orders are in AFAS, a delivery note with track & trace.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from host.config import Config, load_config
from host.errors import ConfigError
from host.plugins import Registry
from host.runner import Report, Runner

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
#: the AFAS GetConnector for debtors the demo reads (see the AFAS README)
DEBTORS_WITH_NAMES = "ihost_Debtors"
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


def _require(registry: Registry) -> None:
    missing = [
        name for name in ("shopify", "afas") if name not in registry or registry.get(name).error
    ]
    if missing:
        packages = " ".join(f"ihost-{name}" for name in missing)
        raise ConfigError(f"the demo needs the {', '.join(missing)} plugin: pip install {packages}")


def seed_shop(shop: Any, erp: Any) -> None:
    """A small, realistic shop on both sides."""
    from ihost_afas import sandbox as afas
    from ihost_shopify import samples

    shop.seed(
        "orders",
        [
            samples.order(
                1001,
                company="Bakkerij de Molen BV",
                email="inkoop@demolen.nl",
                skus=("MUG-01", "TEA-GRN"),
            ),
            samples.order(
                1002, email="anna@example.com", skus=("SHIRT-M",), updated_at="2026-11-20T10:00:00Z"
            ),
            samples.order(
                1003,
                email="Piet.Jansen@example.com",
                skus=("MUG-01",),
                updated_at="2026-11-20T11:00:00Z",
                billingAddress=samples.mailing_address(country="BE", city="Antwerpen", zip="2000"),
            ),
            samples.order(1004, status="PENDING", email="later@example.com", skus=("TEA-GRN",)),
            # an article AFAS does not know yet: a dead letter until it is created there
            samples.order(
                1005,
                email="kees@example.com",
                skus=("CANDLE-01",),
                updated_at="2026-11-20T12:00:00Z",
            ),
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
        afas.ARTICLES,
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
        afas.STOCK,
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
    erp.seed(afas.DEBTORS, [anna])
    # the same debtor in the debtors GetConnector the AFAS README suggests, which says
    # whether a debtor is a person and gives the name in parts
    erp.seed(
        DEBTORS_WITH_NAMES,
        [{**anna, "Type": "PER", "FirstName": "Anna", "NamePrefix": "de", "LastName": "Vries"}],
    )


def deliver_first_order(erp: Any) -> None:
    """AFAS ships the company's order: a delivery note with track & trace."""
    from ihost_afas import sandbox as afas

    orders = [r for r in erp.dump(afas.ORDERS) if r.get("CustomerReference") == "1001"]
    if orders:
        erp.seed(
            afas.DELIVERIES,
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


def write_config(directory: Path, shop: Any, erp: Any) -> Path:
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
def running_demo(directory: Path, registry: Registry) -> Iterator[tuple[Config, Any, Any]]:
    """Start both sandboxes with the demo shop and write the config; stop them after."""
    _require(registry)
    from ihost_afas.sandbox import AfasSandbox
    from ihost_shopify.sandbox import ShopifySandbox

    check_directory(directory)
    directory.mkdir(parents=True, exist_ok=True)
    (directory / MARKER).write_text("made by `ihost demo`: it replaces its files here\n")
    for stale in directory.glob("ihost.db*"):
        stale.unlink()
    with ShopifySandbox(restore_rate=1000) as shop, AfasSandbox() as erp:
        seed_shop(shop, erp)
        config = load_config(write_config(directory, shop, erp), registry)
        yield config, shop, erp


def run_once(
    config: Config, erp: Any, registry: Registry, on_report: Callable[[Report], None]
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
