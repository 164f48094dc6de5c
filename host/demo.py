"""`ihost demo [PAIR]`: two sandboxes with a small shop, and a seed page's flows between them.

A demo pair (`DemoPair`) names its two systems by role, the flows of its seed page, the
records each sandbox starts with (in each remote's native shape), and what happens on
the remote side between flows (a delivery note once the orders are in). Pairs come from
the `ihost.demos` entry points: `shopify-afas` is ihost's own (orders from Shopify to AFAS;
products, stock, customers and shipments back), and each connector package adds the pairs
of its seed pages. The sandboxes come from the `ihost.sandboxes` entry points, never by
import. A connection that signs in with OAuth2 is authorized at its sandbox before the
first flow, its tokens sealed with IHOST_SECRET_KEY (a key of the demo's own, in the demo
directory, when the environment has none).
"""

from __future__ import annotations

import importlib.metadata
import json
import os
from collections.abc import Callable, Iterator, Mapping
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from host.config import Config, load_config
from host.errors import ConfigError
from host.plugins import Registry, package_for, sandbox_class
from host.report import Report
from host.runner import Runner
from host.sandbox import Sandbox
from host.tokens import KEY_VARIABLE, new_key

DEMO_GROUP = "ihost.demos"
DEFAULT_PAIR = "shopify-afas"
STAMP = "2026-11-20T09:30:00Z"
MARKER = ".ihost-demo"  # in a directory the demo made: it may replace its own files there
KEY_FILE = ".ihost-demo-key"  # the demo's IHOST_SECRET_KEY, when the environment has none
OWN_FILES = {MARKER, KEY_FILE, "ihost.toml", "ihost.db", "ihost.db-wal", "ihost.db-shm"}
Sandboxes = Mapping[str, Sandbox]


@dataclass(frozen=True)
class DemoFlow:
    """One flow of a pair: `kind` from the connection of role `source` to `target`;
    `settings` are extra TOML lines of its table (order_type, mapping, ...)."""

    name: str
    kind: str
    source: str
    target: str
    settings: tuple[str, ...] = ()


@dataclass(frozen=True)
class DemoPair:
    """Two systems on sandboxes and the seed page's flows between them.

    `systems` maps a role (the connection's name in the demo's config: "shop", "erp") to
    the plugin and its sandbox's options; `settings` adds connection settings per role
    beyond the sandbox's own; `seed` fills the sandboxes; `before` runs remote-side events
    before a flow (by flow name); `unsupported` names the page's flows the APIs cannot
    carry."""

    name: str
    title: str
    systems: Mapping[str, tuple[str, Mapping[str, Any]]]
    flows: tuple[DemoFlow, ...]
    seed: Callable[[Sandboxes], None]
    settings: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    before: Mapping[str, Callable[[Sandboxes], None]] = field(default_factory=dict)
    #: flows of the seed page one side's API cannot carry: (kind, source role, target role),
    #: shown with the matrix's reason instead of run
    unsupported: tuple[tuple[str, str, str], ...] = ()
    #: what the remote side did with what the flows wrote, as lines shown after them (SAP's
    #: file port accepting the IDoc files)
    epilogue: Callable[[Sandboxes], list[str]] | None = None


def pairs() -> dict[str, DemoPair]:
    """The installed demo pairs, by name (a pair whose package fails to load is left out)."""
    found = {}
    for entry in importlib.metadata.entry_points(group=DEMO_GROUP):
        try:
            pair = entry.load()
        except Exception:  # a broken package must not take the other demos with it
            continue
        if isinstance(pair, DemoPair):
            found[entry.name] = pair
    return dict(sorted(found.items()))


def pair_named(name: str) -> DemoPair:
    """The pair `name`; ConfigError (one line, the pairs there are) when it is not installed."""
    found = pairs()
    if name not in found:
        listed = ", ".join(found) or "none"
        raise ConfigError(f"no demo pair {name!r} is installed (there are: {listed})")
    return found[name]


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


def _require(pair: DemoPair, registry: Registry) -> dict[str, type[Sandbox]]:
    """The pair's sandbox classes by role; ConfigError (one line) when a plugin or its
    sandbox is not installed."""
    plugins = [plugin for plugin, _ in pair.systems.values()]
    missing = [name for name in plugins if (info := registry.get(name)) is None or info.error]
    if missing:
        packages = " ".join(package_for(name) for name in missing)
        raise ConfigError(
            f"the {pair.name} demo needs the {', '.join(missing)} plugin: pip install {packages}"
        )
    return {role: sandbox_class(plugin) for role, (plugin, _) in pair.systems.items()}


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


def seed_shopify_shop(shop: Sandbox) -> None:
    """The demo shop's orders and products, in Shopify's shape: orders from a company and
    from private customers (one not yet paid, one naming an article the ERP does not have),
    and a shirt with three sizes and two images."""
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
            # an article the ERP does not know yet: a dead letter until it is created there
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


#: the demo's articles (code, name, price), their stock and what sales orders reserve
ARTICLES = (
    ("MUG-01", "Stoneware mug", 12.5),
    ("TEA-GRN", "Green tea, 100 g", 7.95),
    *((f"SHIRT-{s}", f"Organic cotton shirt {s}", 29.95) for s in ("S", "M", "L")),
)
STOCK = (40, 120, 8, 15, 0)
RESERVED = (2, 0, 1, 3, 0)

#: the AFAS GetConnectors the shopify-afas demo seeds and reads (see the AFAS README)
AFAS_ARTICLES, AFAS_STOCK, AFAS_DEBTORS = "Profit_Article_Basic", "ihost_Stock", "Profit_Debtor"
AFAS_ORDERS, AFAS_DELIVERIES = "Profit_Salesorders", "ihost_Deliverynotes"
AFAS_DEBTORS_WITH_NAMES = "ihost_Debtors"


def _seed_shopify_afas(sandboxes: Sandboxes) -> None:
    seed_shopify_shop(sandboxes["shop"])
    erp = sandboxes["erp"]
    erp.seed(
        AFAS_ARTICLES,
        [
            {
                "ItemCode": code,
                "Description": name,
                "BasicSalesPrice": price,
                "UnitId": "stk",
                "Blocked": False,
                "DateModified": STAMP,
            }
            for code, name, price in ARTICLES
        ],
    )
    erp.seed(
        AFAS_STOCK,
        [
            {
                "ItemCode": code,
                "Warehouse": "*****",
                "StockActual": stock,
                "Reserved": reserved,
                "ModifiedDate": STAMP,
            }
            for (code, _, _), stock, reserved in zip(ARTICLES, STOCK, RESERVED, strict=True)
        ],
    )
    anna = {
        "DebtorId": "10500",
        "DebtorName": "Anna de Vries",
        "Email": "anna@example.com",
        "TelNr": "+31201234567",
        "ModifiedDate": STAMP,
    }
    erp.seed(AFAS_DEBTORS, [anna])
    # the same debtor in the debtors GetConnector the AFAS README suggests, which says
    # whether a debtor is a person and gives the name in parts
    erp.seed(
        AFAS_DEBTORS_WITH_NAMES,
        [{**anna, "Type": "PER", "FirstName": "Anna", "NamePrefix": "de", "LastName": "Vries"}],
    )


def _afas_delivers(sandboxes: Sandboxes) -> None:
    """AFAS ships the company's order: a delivery note with track & trace."""
    erp = sandboxes["erp"]
    orders = [r for r in erp.dump(AFAS_ORDERS) if r.get("CustomerReference") == "1001"]
    if orders:
        erp.seed(
            AFAS_DELIVERIES,
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


#: ihost's own pair: the AFAS <-> Shopify seed page. Shopify's rate limit restores quickly:
#: the demo shows flows, not throttling.
SHOPIFY_AFAS = DemoPair(
    name="shopify-afas",
    title="Shopify webshop and AFAS Profit: orders to AFAS; products, stock, customers and "
    "shipments to Shopify",
    systems={"shop": ("shopify", {"restore_rate": 1000}), "erp": ("afas", {})},
    flows=(
        DemoFlow("products", "products", "erp", "shop"),
        DemoFlow("stock", "stock", "erp", "shop"),
        DemoFlow("customers", "customers", "erp", "shop"),
        DemoFlow("orders", "orders", "shop", "erp"),
        DemoFlow("shipments", "shipments", "erp", "shop"),
    ),
    seed=_seed_shopify_afas,
    settings={"erp": {"get_connectors": {"debtors": AFAS_DEBTORS_WITH_NAMES}}},
    before={"shipments": _afas_delivers},
)


def toml_value(value: Any) -> str:
    """A settings value as TOML (JSON's strings, numbers and booleans are TOML's; a table
    becomes an inline table)."""
    if isinstance(value, Mapping):
        entries = ", ".join(f"{json.dumps(k)} = {toml_value(v)}" for k, v in value.items())
        return "{ " + entries + " }"
    return json.dumps(value)


def write_config(directory: Path, pair: DemoPair, sandboxes: Sandboxes) -> Path:
    """The demo's ihost.toml (the credentials are the sandboxes', not secrets)."""
    lines = [
        f"# ihost demo {pair.name}: {pair.title}",
        f'[store]\nurl = "sqlite:///{directory / "ihost.db"}"\n',
    ]
    for role, (plugin, _) in pair.systems.items():
        lines.append(f'[connections.{role}]\nplugin = "{plugin}"')
        values = {**sandboxes[role].connection_settings(), **pair.settings.get(role, {})}
        lines += [f"{key} = {toml_value(value)}" for key, value in values.items()]
        lines.append("")
    for flow in pair.flows:
        lines.append(
            f'[flows.{flow.name}]\nkind = "{flow.kind}"\nsource = "{flow.source}"\n'
            f'target = "{flow.target}"\nschedule = "every 1m"'
        )
        lines += [*flow.settings, ""]
    path = directory / "ihost.toml"
    path.write_text("\n".join(lines))
    return path


def _demo_key(directory: Path) -> None:
    """IHOST_SECRET_KEY for this process: the environment's, else the demo directory's own
    (made once, readable by its owner only)."""
    if os.environ.get(KEY_VARIABLE):
        return
    place = directory / KEY_FILE
    if not place.is_file():  # made readable by its owner only, never for a moment by others
        descriptor = os.open(place, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w") as out:
            out.write(new_key() + "\n")
    os.environ[KEY_VARIABLE] = place.read_text().strip()


def authorize(config: Config, registry: Registry) -> None:
    """Authorize every connection that signs in with OAuth2 at its sandbox, as
    `ihost auth` would with a merchant at the browser."""
    from host.authorize import authorize_at_sandbox

    for name in config.connections:
        connection = config.connect(name, registry)
        try:
            flow = connection.hook.oauth2_flow() if connection.implements("oauth2_flow") else None
            if flow is not None:
                authorize_at_sandbox(flow)
        finally:
            connection.close()


@contextmanager
def running_demo(
    directory: Path, registry: Registry, pair: DemoPair | None = None
) -> Iterator[tuple[Config, dict[str, Sandbox]]]:
    """Start the pair's sandboxes with its records, write the config and authorize the
    connections that need it; stop the sandboxes after."""
    pair = pair or pair_named(DEFAULT_PAIR)
    classes = _require(pair, registry)
    check_directory(directory)
    directory.mkdir(parents=True, exist_ok=True)
    (directory / MARKER).write_text("made by `ihost demo`: it replaces its files here\n")
    for stale in directory.glob("ihost.db*"):
        stale.unlink()
    with ExitStack() as stack:
        sandboxes = {
            role: stack.enter_context(classes[role](**dict(options)))
            for role, (_, options) in pair.systems.items()
        }
        pair.seed(sandboxes)
        config = load_config(write_config(directory, pair, sandboxes), registry)
        plugins = [registry.plugins[plugin] for plugin, _ in pair.systems.values()]
        if any("oauth2_flow" in info.hooks for info in plugins):
            _demo_key(directory)
            authorize(config, registry)
        yield config, sandboxes


def unsupported(pair: DemoPair, registry: Registry) -> list[str]:
    """A line for each of the pair's unsupported flows, with the matrix's reasons."""
    from host.matrix import pair_notes

    lines = []
    for kind, source, target in pair.unsupported:
        plugins = [registry.plugins[pair.systems[role][0]] for role in (source, target)]
        caps = [info.capabilities for info in plugins]
        if caps[0] is None or caps[1] is None:
            continue
        status, notes = pair_notes(kind, caps[0], caps[1])
        lines.append(f"{kind} ({source} -> {target}): {status}: {'; '.join(notes)}")
    return lines


def run_once(
    config: Config,
    pair: DemoPair,
    sandboxes: Sandboxes,
    registry: Registry,
    on_report: Callable[[Report], None],
) -> int:
    """Run every flow of the pair once, in order. A failed record is part of the demo
    (order 1005 waits for its article): only a flow that could not run makes the exit code
    non-zero."""
    worst = 0
    for flow in pair.flows:
        if flow.name in pair.before:
            pair.before[flow.name](sandboxes)
        report = Runner(config, flow.name, registry).run()
        on_report(report)
        if report.exit_code == 3:
            worst = 3
    return worst
