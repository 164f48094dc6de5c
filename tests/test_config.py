"""`ihost config validate` and the config loader, as a user meets them."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from helpers import run_ihost

from host.config import load_config
from host.errors import ConfigError
from host.plugins import discover

GOOD = """
[store]
url = "sqlite:///state/ihost.db"
retention_days = 7

[connections.shop]
plugin = "testshop"
base_url = "http://127.0.0.1:9"
token = "${SHOP_TOKEN}"

[connections.erp]
plugin = "testerp"
base_url = "http://127.0.0.1:9"
token = "${ERP_TOKEN}"
page_size = 50

[flows.shop-orders]
kind = "orders"
source = "shop"
target = "erp"
schedule = "every 5m"
[flows.shop-orders.settings]
statuses = ["paid"]
order_type = "invoice"
[flows.shop-orders.mapping]
payment_method = { shopify_payments = "IDEAL", "*" = "OTHER" }

[flows.erp-stock]
kind = "stock"
source = "erp"
target = "shop"
schedule = "*/10 * * * *"
"""

#: the plugins installed in the test environment, as error messages list them
INSTALLED = ", ".join(sorted(p.name for p in discover()))

ENV = {"SHOP_TOKEN": "shop-secret-value-123", "ERP_TOKEN": "erp-secret-value-456"}


def write(tmp_path: Path, text: str, name: str = "ihost.toml") -> Path:
    (tmp_path / "state").mkdir(exist_ok=True)  # the store's directory must exist
    path = tmp_path / name
    path.write_text(text)
    return path


def test_valid_config(tmp_path: Path) -> None:
    path = write(tmp_path, GOOD)
    result = run_ihost("-c", str(path), "config", "validate", env=ENV)
    assert result.code == 0, result.err
    assert result.out.strip() == f"{path}: ok (2 connections, 2 flows)"

    config = load_config(path, discover(), environ=ENV)
    assert config.store_url == f"sqlite:///{tmp_path / 'state' / 'ihost.db'}"
    assert config.retention_days == 7
    erp = config.connections["erp"].settings
    assert erp.page_size == 50 and erp.token.get_secret_value() == ENV["ERP_TOKEN"]
    flow = config.flows["shop-orders"]
    assert (flow.kind, flow.source, flow.target) == ("orders", "shop", "erp")
    assert flow.settings["order_type"] == "invoice"
    assert flow.mapping["payment_method"]["*"] == "OTHER"


def test_config_found_by_env_var_and_in_working_directory(tmp_path: Path) -> None:
    elsewhere = write(tmp_path, GOOD, "custom.toml")
    by_env = run_ihost("config", "validate", env={**ENV, "IHOST_CONFIG": str(elsewhere)})
    assert by_env.code == 0 and "custom.toml: ok" in by_env.out
    write(tmp_path, GOOD)
    in_cwd = run_ihost("config", "validate", cwd=tmp_path, env=ENV)
    assert in_cwd.code == 0 and in_cwd.out.startswith("ihost.toml: ok")


def test_each_problem_is_one_line_naming_file_table_and_key(tmp_path: Path) -> None:
    text = (
        GOOD.replace("page_size = 50", "page_sise = 50")
        .replace('token = "${ERP_TOKEN}"', 'token = "${ERP_TOKN}"')
        .replace('plugin = "testshop"', 'plugin = "acme_erp"')
    )
    path = write(tmp_path, text)
    result = run_ihost("-c", str(path), "config", "validate", env=ENV)
    assert result.code == 2
    assert "Traceback" not in result.output
    assert result.out == ""
    assert result.err.splitlines() == [
        "ihost.toml: [connections.shop] plugin: no plugin 'acme_erp' is installed; install it "
        f"with: pip install ihost-acme-erp (installed: {INSTALLED})",
        "ihost.toml: [connections.erp] token: environment variable ERP_TOKN is not set",
        "ihost.toml: [connections.erp] page_sise: unknown key (did you mean 'page_size'?); "
        "allowed: base_url, page_size, timeout, token, webhook_secret",
    ]


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (
            ('kind = "stock"', 'kind = "stok"'),
            "ihost.toml: [flows.erp-stock] kind: must be one of orders, products, stock, "
            "customers, shipments, refunds, feedback",
        ),
        (
            ('order_type = "invoice"', 'order_type = "quote"'),
            "ihost.toml: [flows.shop-orders.settings] order_type: 'quote' is not an order type "
            "of testerp (it offers: invoice, sales_order)",
        ),
        (
            ('source = "erp"', 'source = "shop"'),
            "ihost.toml: [flows.erp-stock] source: connection 'shop' (testshop) does not read "
            "stock",
        ),
        (
            ('target = "shop"', 'target = "warehouse"'),
            "ihost.toml: [flows.erp-stock] target: no connection 'warehouse' is configured",
        ),
        (
            ('schedule = "every 5m"', 'schedule = "hourly"'),
            "ihost.toml: [flows.shop-orders] schedule: 'hourly' is neither \"every N[s|m|h|d]\" "
            "nor a 5-field cron expression",
        ),
        (
            ("retention_days = 7", "retention_days = 0"),
            "ihost.toml: [store] retention_days: must be a whole number of days, at least 1",
        ),
        (
            ("[store]", "[stor]"),
            "ihost.toml: stor: unknown key (did you mean 'store'?); allowed: alerts, connections, "
            "flows, store",
        ),
        (
            ("page_size = 50", 'page_size = "many"'),
            "ihost.toml: [connections.erp] page_size: Input should be a valid integer, unable to "
            "parse string as an integer",
        ),
        (
            ('base_url = "http://127.0.0.1:9"\ntoken = "${ERP_TOKEN}"', 'token = "${ERP_TOKEN}"'),
            "ihost.toml: [connections.erp] base_url: required key is missing",
        ),
        (
            ('schedule = "every 5m"', 'schedule = "every 5m"\nsettngs = {}'),
            "ihost.toml: [flows.shop-orders] settngs: unknown key (did you mean 'settings'?); "
            "allowed: enabled, kind, mapping, schedule, settings, source, target",
        ),
    ],
)
def test_single_problem(tmp_path: Path, change: tuple[str, str], expected: str) -> None:
    assert change[0] in GOOD
    path = write(tmp_path, GOOD.replace(*change, 1))
    result = run_ihost("-c", str(path), "config", "validate", env=ENV)
    assert result.code == 2, result.out
    assert result.err.splitlines() == [expected]


@pytest.mark.parametrize(
    ("addition", "expected"),
    [
        (
            '[flows.shop-orders.settings]\nstatuses = ["paid"]\nmatch_debtor_on = "mail"',
            "ihost.toml: [flows.shop-orders.settings] match_debtor_on: 'mail' is not a customer "
            "field; use one of company, email, first_name, group, key, language, last_name, "
            "phone, updated_at, vat_number",
        ),
        (
            '[flows.erp-stock.settings]\nstok_rule = "on_hand"',
            "ihost.toml: [flows.erp-stock.settings] stok_rule: unknown key (did you mean "
            "'stock_rule'?); allowed: batch_size, dead_letter_retries, dead_letter_wait_minutes, "
            "locations, manage_stock, record_log, retries, retry_backoff, stock_rule, "
            "unavailable_after",
        ),
        (
            '[flows.erp-stock.settings]\nstock_rule = "everything"',
            "ihost.toml: [flows.erp-stock.settings] stock_rule: Input should be "
            "'available_minus_reserved', 'on_hand' or 'available'",
        ),
        (
            '[flows.erp-stock.mapping]\npayment_method = { "*" = "X" }',
            "ihost.toml: [flows.erp-stock.mapping] payment_method: unknown mapping for stock "
            "flows; allowed: fields, transforms",
        ),
        (
            '[flows.shop-orders.mapping]\npayment_terms = "30"',
            "ihost.toml: [flows.shop-orders.mapping] payment_terms: must be a table of values, "
            'e.g. { paypal = "PP", "*" = "OTHER" }',
        ),
        (
            '[flows.shop-orders.mapping]\nfields = { colour = "red" }',
            "ihost.toml: [flows.shop-orders.mapping] fields.colour: Order has no field 'colour'",
        ),
        (
            '[flows.shop-orders.mapping]\ntransforms = ["nowhere.module:fix"]',
            "ihost.toml: [flows.shop-orders.mapping] transforms: cannot load transform "
            "'nowhere.module:fix': No module named 'nowhere'",
        ),
        (
            '[flows.shop-orders.mapping]\ntransforms = ["tag_webshop"]',
            "ihost.toml: [flows.shop-orders.mapping] transforms: no transform named "
            "'tag_webshop' (ihost.transforms: tag_web)",
        ),
    ],
)
def test_flow_settings_and_mapping_problems(tmp_path: Path, addition: str, expected: str) -> None:
    # GOOD without the orders flow's own settings and mapping tables
    text = re.sub(r"\[flows\.shop-orders\.(settings|mapping)\]\n(?:(?!\[).*\n)*", "", GOOD)
    path = write(tmp_path, text + "\n" + addition + "\n")
    result = run_ihost("-c", str(path), "config", "validate", env=ENV)
    assert result.code == 2, result.out
    assert result.err.splitlines() == [expected]


def test_missing_and_malformed_files(tmp_path: Path) -> None:
    missing = run_ihost("-c", str(tmp_path / "nope.toml"), "config", "validate", process=True)
    assert missing.code == 2
    assert missing.err.strip() == (
        f"{tmp_path / 'nope.toml'}: no such config file (use -c FILE, $IHOST_CONFIG or "
        "./ihost.toml)"
    )
    broken = write(tmp_path, "[connections.shop\nplugin = 1")
    result = run_ihost("-c", str(broken), "config", "validate")
    assert result.code == 2 and len(result.err.splitlines()) == 1
    assert result.err.startswith("ihost.toml: not valid TOML: ")


SHOPIFY_CUSTOMERS = """
[connections.webshop]
plugin = "shopify"
shop = "acme.myshopify.com"
access_token = "${SHOPIFY_TOKEN}"

[flows.erp-customers]
kind = "customers"
source = "erp"
target = "webshop"
[flows.erp-customers.settings]
match_debtor_on = "FIELD"
"""

SHOPIFY_ENV = {**ENV, "SHOPIFY_TOKEN": "shpat-secret-value-789"}


def test_a_debtor_field_the_target_cannot_find_by_is_refused_at_load(tmp_path: Path) -> None:
    """Shopify finds customers by e-mail or phone: a VAT number would fail every record."""
    path = write(tmp_path, GOOD + SHOPIFY_CUSTOMERS.replace("FIELD", "vat_number"))
    result = run_ihost("-c", str(path), "config", "validate", env=SHOPIFY_ENV)
    assert result.code == 2, result.out
    assert result.err.splitlines() == [
        "ihost.toml: [flows.erp-customers.settings] match_debtor_on: target 'webshop' "
        "(shopify) cannot find debtors by 'vat_number'; it finds them by: email, phone"
    ]
    path = write(tmp_path, GOOD + SHOPIFY_CUSTOMERS.replace("FIELD", "phone"))
    config = load_config(path, discover(), environ=SHOPIFY_ENV)
    assert config.flows["erp-customers"].settings["match_debtor_on"] == "phone"


def test_the_orders_flow_debtor_field_is_checked_unless_a_default_debtor_is_set(
    tmp_path: Path,
) -> None:
    text = GOOD.replace('order_type = "invoice"', 'order_type = "invoice"\nmatch_debtor_on = "key"')
    with pytest.raises(ConfigError) as info:
        load_config(write(tmp_path, text), discover(), environ=ENV)
    assert info.value.problems == [
        "ihost.toml: [flows.shop-orders.settings] match_debtor_on: target 'erp' (testerp) "
        "cannot find debtors by 'key'; it finds them by: email, phone, vat_number"
    ]
    booked_on_one = text.replace(
        'match_debtor_on = "key"', 'match_debtor_on = "key"\ndefault_debtor = "D-1"'
    )
    assert load_config(write(tmp_path, booked_on_one), discover(), environ=ENV).flows


def test_dollar_escape_and_loader_errors(tmp_path: Path) -> None:
    text = GOOD.replace('token = "${SHOP_TOKEN}"', 'token = "pa$$word-${SHOP_TOKEN}"')
    config = load_config(write(tmp_path, text), discover(), environ=ENV)
    token = config.connections["shop"].settings.token.get_secret_value()
    assert token == "pa$word-shop-secret-value-123"
    with pytest.raises(ConfigError) as info:
        load_config(write(tmp_path, GOOD), discover(), environ={})
    assert len(info.value.problems) == 2
