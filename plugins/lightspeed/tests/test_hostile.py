"""A hostile merchant's developer against the Lightspeed connector, through the CLI: bad
configuration, OAuth2 chains broken, raced and cut, secrets and personal data in logs, a
tiny bucket and another app eating it, malformed JSON past every quirk of §7, pages that
lead away or loop, stock writes Lightspeed cannot take, and a Lightspeed that hangs."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cryptography.fernet import Fernet
from helpers import (
    IHOST,
    actions,
    authorize,
    dead_letters,
    one_line,
    run_flow,
    run_ihost,
    secret_forms,
    write_config,
)
from ihost_lightspeed import client as lightspeed_client
from ihost_lightspeed.demo import seed_pos
from ihost_lightspeed.sandbox import LightspeedSandbox
from ihost_testconnectors.sandbox import RecordSandbox

from host.tokens import KEY_VARIABLE


@pytest.fixture(autouse=True)
def fresh_buckets() -> Iterator[None]:
    """Each test's sandbox is another account's bucket: forget what an earlier one taught."""
    lightspeed_client._buckets.clear()
    yield
    lightspeed_client._buckets.clear()


@pytest.fixture
def pos(monkeypatch: pytest.MonkeyPatch) -> Iterator[LightspeedSandbox]:
    monkeypatch.setenv(KEY_VARIABLE, Fernet.generate_key().decode())
    with LightspeedSandbox(burst_fraction=None) as running:
        seed_pos(running)
        yield running


@pytest.fixture
def erp() -> Iterator[RecordSandbox]:
    with RecordSandbox() as running:
        yield running


def flow(kind: str, source: str = "pos", target: str = "erp", more: str = "") -> str:
    return f'[flows.{kind}]\nkind = "{kind}"\nsource = "{source}"\ntarget = "{target}"\n{more}'


FAST = "retry_backoff = 0\nunavailable_after = 1\n"


def fast(name: str) -> str:
    return f"[flows.{name}.settings]\n{FAST}"


def setup(
    tmp_path: Path,
    pos: LightspeedSandbox,
    erp: RecordSandbox,
    flows: str,
    *,
    authorized: bool = True,
    **settings: Any,
) -> Path:
    connections = {"pos": ("lightspeed", pos, settings), "erp": ("testerp", erp)}
    path = write_config(tmp_path, connections, flows)
    if authorized:
        authorize(path, "pos")
    return path


# --- bad configuration: one line, exit 2 --------------------------------------------------


@pytest.mark.parametrize(
    ("change", "named"),
    [
        ({"client_id": None}, "client_id"),
        ({"sku_field": "foo"}, "sku_field"),
        ({"skufield": "customSku"}, "skufield"),
        ({"timeout": 0}, "timeout"),
        ({"account_id": "my-shop"}, "account_id"),
    ],
)
def test_bad_settings_are_one_line_and_exit_2(
    tmp_path: Path,
    pos: LightspeedSandbox,
    erp: RecordSandbox,
    change: dict[str, Any],
    named: str,
) -> None:
    settings = {**pos.connection_settings(), **change}
    given = {k: v for k, v in settings.items() if v is not None}
    config = tmp_path / "ihost.toml"
    write_config(tmp_path, {"erp": ("testerp", erp)}, flow("customers"))
    lines = [f"{k} = {json.dumps(v)}" for k, v in given.items()]
    config.write_text(
        config.read_text() + '\n[connections.pos]\nplugin = "lightspeed"\n' + "\n".join(lines)
    )
    for command in (("run", "customers"), ("check", "pos")):
        result = run_ihost("-c", str(config), *command)
        assert result.code == 2, result.output
        line = one_line(result)
        assert named in line and "pos" in line, line


# --- OAuth2 -----------------------------------------------------------------------------------


def test_not_authorized_yet_says_to_run_ihost_auth(
    tmp_path: Path, pos: LightspeedSandbox, erp: RecordSandbox
) -> None:
    config = setup(tmp_path, pos, erp, flow("customers"), authorized=False)
    for command in (("run", "customers"), ("check", "pos")):
        result = run_ihost("-c", str(config), *command)
        assert result.code == 3, result.output
        assert "ihost auth pos" in one_line(result)


def test_a_refresh_token_replayed_after_its_successor_was_used(
    tmp_path: Path, pos: LightspeedSandbox, erp: RecordSandbox
) -> None:
    """A store restored from last night's backup holds a refresh token Lightspeed has
    rotated away: one line, exit 3, `ihost auth` again."""
    config = setup(tmp_path, pos, erp, flow("customers"))
    shutil.copy(tmp_path / "ihost.db", tmp_path / "backup.db")
    pos.oauth.expire_access_tokens()
    result, _ = run_flow(config, "customers")
    assert result.code == 0, result.output  # refreshed, and the new access token used
    shutil.copy(tmp_path / "backup.db", tmp_path / "ihost.db")
    pos.oauth.expire_access_tokens()
    for command in (("run", "customers"), ("check", "pos")):
        result = run_ihost("-c", str(config), *command)
        assert result.code == 3, result.output
        line = one_line(result)
        assert "ihost auth pos" in line and "invalid_grant" in line, line


class Child:
    """`ihost ARGS` in a subprocess, its output collected when it ends."""

    def __init__(self, *args: str) -> None:
        env = {k: v for k, v in os.environ.items() if k != "IHOST_CONFIG"}
        self.proc = subprocess.Popen(
            [IHOST, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env
        )

    def wait(self) -> tuple[int, str]:
        out, err = self.proc.communicate(timeout=120)
        return self.proc.returncode, out + err


def test_two_processes_refreshing_at_once_keep_the_chain(
    tmp_path: Path, pos: LightspeedSandbox, erp: RecordSandbox
) -> None:
    """Two `ihost run` of different flows on the same connection, the access token
    expired: the first refresh is held at the token endpoint while the second process
    starts; both runs succeed, one refresh is made, and the chain holds for the next run."""
    config = setup(tmp_path, pos, erp, flow("customers") + flow("products"))
    pos.oauth.expire_access_tokens()
    pos.oauth.hold_token_answers()
    first = Child("-c", str(config), "run", "customers")
    while pos.oauth.held == 0:  # the first process refreshes, holding the vault lock
        assert first.proc.poll() is None, first.wait()
    second = Child("-c", str(config), "run", "products")
    # the second finds its access token refused, and waits for the vault lock to refresh
    while len([c for c in pos.calls_to("/API/") if c.status == 401]) < 2:
        assert second.proc.poll() is None, second.wait()
    pos.oauth.release_token_answers()
    done = [first.wait(), second.wait()]
    assert [code for code, _ in done] == [0, 0], done
    assert all("Traceback" not in output for _, output in done)
    assert pos.oauth.refreshes == 1
    pos.oauth.expire_access_tokens()
    again, _ = run_flow(config, "customers", "--full")
    assert again.code == 0, again.output


def test_a_refresh_whose_answer_is_lost_twice(
    tmp_path: Path, pos: LightspeedSandbox, erp: RecordSandbox
) -> None:
    config = setup(tmp_path, pos, erp, flow("customers"))
    pos.oauth.expire_access_tokens()
    lost = pos.inject("POST", "/auth/oauth/token", "lost", times=2)
    result, report = run_flow(config, "customers")
    assert result.code == 0, result.output
    assert report["counts"]["created"] == 1
    assert lost.hits == 2 and pos.oauth.refreshes == 3
    pos.oauth.expire_access_tokens()
    again, _ = run_flow(config, "customers", "--full")
    assert again.code == 0, again.output


def test_no_secret_or_personal_data_leaks_at_any_verbosity(
    tmp_path: Path, pos: LightspeedSandbox, erp: RecordSandbox
) -> None:
    with pos.lock:  # one sale the ERP refuses: a dead letter carrying the sale
        (sale,) = [s for s in pos.tables["Sale"].values() if s["completed"] == "true"]
    flows = flow("orders", more='[flows.orders.settings]\norder_type = "sales_order"\n')
    flows += flow("customers")
    config = setup(tmp_path, pos, erp, flows)
    codes = list(pos.oauth._codes)
    erp.seed("products", [])
    outputs = []
    for verbosity in ("-v", "-vv", "-vvv"):
        pos.oauth.expire_access_tokens()  # a refresh in every run
        for name in ("orders", "customers"):
            result = run_ihost("-c", str(config), verbosity, "run", name, "--full", process=True)
            assert "Traceback" not in result.output, result.output
            outputs.append(result.output)
    logs = [
        run_ihost("-c", str(config), "-vv", *command).output
        for command in (("logs",), ("logs", "orders"), ("logs", "customers"))
    ]
    dead = run_ihost("-c", str(config), "deadletters", "--json").output
    secrets = [pos.client_secret, *codes, *pos.oauth._access, *pos.oauth._refresh]
    assert len(secrets) >= 8 and sale
    seen = "\n".join([*outputs, *logs, dead])
    for secret in secrets:
        for form in secret_forms(secret, pos.client_id):
            assert form not in seen, f"a secret leaked as {form!r}"
    for personal in ("lena@kaffeehaus", "Lena", "Schmidt", "Marktplatz", "10115"):
        assert personal not in "\n".join(logs), personal


# --- rate limits: a tiny bucket, the burst limiter, another app --------------------------------


def many_items(pos: LightspeedSandbox, count: int, start: int = 0) -> None:
    pos.seed(
        "items",
        [
            {
                "description": f"Ding {n}",
                "customSku": f"D-{n:04d}",
                "Prices": {"ItemPrice": {"amount": 1 + n % 7}},
                "ItemShops": {"ItemShop": {"shopID": 1, "qoh": n % 13}},
            }
            for n in range(start, start + count)
        ],
    )


def tiny(pos: LightspeedSandbox) -> None:
    """A bucket of 10 drips, 3 a second, and the burst limiter at 2 requests a second."""
    with pos.lock:
        pos.bucket_size, pos.drip_rate, pos.burst_fraction = 10.0, 3.0, 0.2


def test_a_tiny_bucket_and_the_burst_limiter_never_surface_a_429(
    tmp_path: Path, pos: LightspeedSandbox, erp: RecordSandbox
) -> None:
    many_items(pos, 300)
    tiny(pos)
    config = setup(tmp_path, pos, erp, flow("products") + flow("stock"))
    for name in ("products", "stock"):
        result, _ = run_flow(config, name)
        assert result.code == 0, result.output
        assert "429" not in result.output and "rate" not in result.err.lower()
    assert len(erp.dump("products")) == 303
    # the client spaces what it sends; the sandbox counts what arrives in fixed windows: on
    # a loaded machine (CI, the suite beside other work) a request held up on its way can
    # land in the next window, and its 429 is waited out unseen. Without the burst limiter
    # the run meets six; with it, none or a stray one (it failed once at == 0 in CI)
    assert pos.throttled <= 2


def test_a_429_answered_anyway_is_waited_out(
    tmp_path: Path, pos: LightspeedSandbox, erp: RecordSandbox
) -> None:
    """Another app of the merchant's (the same client elsewhere) has filled the bucket: the
    first answer is a 429; its Retry-After is waited out and the run goes on."""
    tiny(pos)
    config = setup(tmp_path, pos, erp, flow("products") + flow("customers"))
    for name in ("products", "customers"):
        with pos.lock:
            pos.level = pos.bucket_size + 1
        result, _ = run_flow(config, name)
        assert result.code == 0, result.output
        assert "429" not in result.output
    assert pos.throttled >= 1


# --- malformed JSON past the quirks of §7: dead-lettered alone, named ----------------------


def item_row(pos: LightspeedSandbox, sku: str) -> dict[str, Any]:
    (row,) = [i for i in pos.tables["Item"].values() if i.get("customSku") == sku]
    return row


def mug_stock(pos: LightspeedSandbox) -> dict[str, Any]:
    (row,) = [
        r for r in pos.tables["ItemShop"].values() if (r["itemID"], r["shopID"]) == ("1", "1")
    ]
    return row


def without_lines(pos: LightspeedSandbox) -> None:
    sale = pos.tables["Sale"][1]
    sale["customerID"], sale["Customer"] = "0", ""
    for key in [k for k, line in pos.tables["SaleLine"].items() if line["saleID"] == "1"]:
        del pos.tables["SaleLine"][key]


BAD = {
    "timeStamp garbage": (
        "products",
        lambda p: item_row(p, "MUG-01").update(timeStamp="gisteren"),
        "item-1",
        ["timeStamp", "not a date and time"],
    ),
    "no Default price": (
        "products",
        lambda p: item_row(p, "MUG-01").update(
            Prices={"ItemPrice": {"amount": "3", "useType": "MSRP", "useTypeID": "2"}}
        ),
        "item-1",
        ["Prices", "Default", "MSRP"],
    ),
    "Prices a string": (
        "products",
        lambda p: item_row(p, "MUG-01").update(Prices="12.10"),
        "item-1",
        ["Prices", "expected an object"],
    ),
    "Category a list": (
        "products",
        lambda p: item_row(p, "MUG-01").update(Category=["Mokken"], categoryID="0"),
        "item-1",
        ["Category", "expected an object"],
    ),
    "a matrix that does not exist": (
        "products",
        lambda p: item_row(p, "TEE-M").update(itemMatrixID="99"),
        "item-3",
        ["itemMatrixID", "99", "TEE-M"],
    ),
    "qoh not a number": (
        "stock",
        lambda p: mug_stock(p).update(qoh="veel"),
        "MUG-01",
        ["qoh", "not a number"],
    ),
    "ItemShop timeStamp garbage": (
        "stock",
        lambda p: mug_stock(p).update(timeStamp="0000-00-00 00:00:00"),
        "MUG-01",
        ["timeStamp", "not a date and time"],
    ),
    "Customer timeStamp garbage": (
        "customers",
        lambda p: p.tables["Customer"][1].update(timeStamp="31-12-2026"),
        "1",
        ["timeStamp", "not a date and time"],
    ),
    "Emails a string": (
        "customers",
        lambda p: p.tables["Customer"][1]["Contact"].update(Emails="lena-at-kaffeehaus"),
        "1",
        ["Emails"],
    ),
    "a sale with Customer '' and no lines": ("orders", without_lines, "1", ["SaleLines"]),
    "a refund line": (
        "orders",
        lambda p: p.tables["SaleLine"][2].update(unitQuantity="-1"),
        "1",
        ["SaleLine.unitQuantity", "sale line 2", "refund"],
    ),
}


@pytest.mark.parametrize("case", list(BAD))
def test_a_malformed_record_is_dead_lettered_alone(
    tmp_path: Path, pos: LightspeedSandbox, erp: RecordSandbox, case: str
) -> None:
    name, corrupt, key, words = BAD[case]
    many_items(pos, 2)
    pos.seed(
        "sales",
        [
            {
                "completed": True,
                "customerID": 1,
                "SaleLines": {"SaleLine": {"itemID": 1, "unitQuantity": 1, "unitPrice": 12.1}},
            }
        ],
    )
    pos.seed(
        "customers",
        [
            {
                "firstName": "Piet",
                "Contact": {"Emails": {"ContactEmail": {"address": "piet@example.nl"}}},
            }
        ],
    )
    with pos.lock:
        corrupt(pos)
    more = '[flows.orders.settings]\norder_type = "sales_order"\n' if name == "orders" else ""
    skus = ["MUG-01", "TEE-S", "TEE-M", "D-0000", "D-0001"]
    erp.seed("products", [{"sku": sku, "name": sku, "price": "1"} for sku in skus])
    config = setup(tmp_path, pos, erp, flow(name, more=more))
    result, report = run_flow(config, name)
    assert "Traceback" not in result.output
    assert result.code == 1, result.output
    done = actions(report)
    assert done.pop(key)[0] == "failed", report
    assert done and all(a in ("created", "updated") for a, _ in done.values()), report
    (letter,) = dead_letters(config)
    assert letter["record_key"] == key, letter
    for word in words:
        assert word in letter["error"], letter


def test_a_mended_record_resolves_its_dead_letter(
    tmp_path: Path, pos: LightspeedSandbox, erp: RecordSandbox
) -> None:
    """The dead letter of a record Lightspeed sent wrong carries the record's own key: once
    the record is mended in Lightspeed, the next run resolves it."""
    with pos.lock:
        mug_stock(pos)["qoh"] = "veel"
    skus = ["MUG-01", "TEE-S", "TEE-M"]
    erp.seed("products", [{"sku": sku, "name": sku, "price": "1"} for sku in skus])
    config = setup(tmp_path, pos, erp, flow("stock"))
    result, _ = run_flow(config, "stock")
    assert result.code == 1 and len(dead_letters(config)) == 1
    with pos.lock:
        mug_stock(pos)["qoh"] = "41"
    result, _ = run_flow(config, "stock", "--full")
    assert result.code == 0, result.output
    assert [d for d in dead_letters(config) if d["status"] == "open"] == []


def test_matrices_of_zero_and_one_variant(
    tmp_path: Path, pos: LightspeedSandbox, erp: RecordSandbox
) -> None:
    pos.seed("itemmatrices", [{"itemMatrixID": 8, "description": "Leeg", "itemAttributeSetID": 2}])
    with pos.lock:
        item_row(pos, "TEE-M")["itemMatrixID"] = "0"  # the tee keeps one size
        pos.tables["ItemMatrix"][7]["attribute1Values"] = "S"
    config = setup(tmp_path, pos, erp, flow("products"))
    result, report = run_flow(config, "products")
    assert result.code == 1, result.output
    done = actions(report)
    assert done.pop("matrix-8")[0] == "failed"
    assert {k: a for k, (a, _) in done.items()} == {
        "item-1": "created",
        "item-3": "created",
        "matrix-7/TEE-S": "created",
    }
    (letter,) = dead_letters(config)
    assert "matrix 8" in letter["error"] and "Items" in letter["error"], letter


# --- paging: away, in circles, in XML --------------------------------------------------------


@pytest.mark.parametrize(
    ("where", "words"),
    [
        ("http://198.51.100.7:{port}{path}?after=WzEwMF0%3D", "refused"),
        ("{origin}{path}?limit=100&after=WzEwMF0%3D", "already"),
        ("{origin}{bare}?limit=100&after=WzEwMF0%3D", ".json"),
    ],
    ids=["another host", "a loop", "XML"],
)
def test_a_next_link_that_leads_away_loops_or_drops_json(
    tmp_path: Path,
    pos: LightspeedSandbox,
    erp: RecordSandbox,
    monkeypatch: pytest.MonkeyPatch,
    where: str,
    words: str,
) -> None:
    many_items(pos, 200)
    origin = pos.base_url.rstrip("/")
    port = origin.rsplit(":", 1)[1]

    def page_url(request: Any, query: Any, name: str, key: list[Any]) -> str:
        path = request.url.path
        return where.format(origin=origin, port=port, path=path, bare=path[: -len(".json")])

    monkeypatch.setattr(pos, "_page_url", page_url)
    config = setup(tmp_path, pos, erp, flow("products", more=fast("products")), timeout=2)
    result, _ = run_flow(config, "products")
    assert result.code == 3, result.output
    line = one_line(result)
    assert words in line, line


# --- stock into Lightspeed ----------------------------------------------------------------------


def stock_in(tmp_path: Path, pos: LightspeedSandbox, erp: RecordSandbox, **settings: Any) -> Path:
    return setup(tmp_path, pos, erp, flow("stock", "erp", "pos"), **settings)


def qoh(pos: LightspeedSandbox) -> dict[str, str]:
    return {
        item_row(pos, sku)["itemID"]: r["qoh"]
        for sku in ("MUG-01", "TEE-S", "TEE-M")
        for r in pos.tables["ItemShop"].values()
        if r["itemID"] == item_row(pos, sku)["itemID"] and r["shopID"] == "1"
    }


def test_stock_in_an_unknown_sku_and_decimals_fail_alone(
    tmp_path: Path, pos: LightspeedSandbox, erp: RecordSandbox
) -> None:
    erp.seed(
        "stock",
        [
            {"sku": "MUG-01", "on_hand": "7"},
            {"sku": "NOPE-404", "on_hand": "9"},
            {"sku": "TEE-S", "on_hand": "2.5"},
            {"sku": "TEE-M", "on_hand": "4.000"},
        ],
    )
    config = stock_in(tmp_path, pos, erp)
    result, report = run_flow(config, "stock")
    assert result.code == 1, result.output
    done = {a["key"]: a for a in report["actions"]}
    assert done["MUG-01"]["action"] == "updated" and done["TEE-M"]["action"] == "updated"
    assert done["NOPE-404"]["action"] == "failed" and "NOPE-404" in done["NOPE-404"]["reason"]
    assert done["TEE-S"]["action"] == "failed" and "2.5" in done["TEE-S"]["reason"]
    assert qoh(pos) == {"1": "7", "2": "3", "3": "4"}


def test_stock_in_for_a_shop_the_account_lacks_stops_the_run(
    tmp_path: Path, pos: LightspeedSandbox, erp: RecordSandbox
) -> None:
    erp.seed("stock", [{"sku": "MUG-01", "on_hand": "7"}, {"sku": "TEE-S", "on_hand": "2"}])
    config = stock_in(tmp_path, pos, erp, shop_id="9")
    result = run_ihost("-c", str(config), "run", "stock")
    assert result.code == 3, result.output
    line = one_line(result)
    assert "shop_id 9" in line and "1 (ihost Sandbox Shop)" in line, line
    assert qoh(pos) == {"1": "40", "2": "3", "3": "5"}
    assert dead_letters(config) == []


# --- a Lightspeed that hangs or refuses ------------------------------------------------------


@pytest.mark.parametrize("path", ["/API/", "/auth/oauth/token"])
def test_a_lightspeed_that_hangs(
    tmp_path: Path, pos: LightspeedSandbox, erp: RecordSandbox, path: str
) -> None:
    config = setup(tmp_path, pos, erp, flow("products", more=fast("products")), timeout=0.5)
    if path == "/auth/oauth/token":
        pos.oauth.expire_access_tokens()
    pos.inject("POST" if "token" in path else "GET", path, "stall", times=1000, seconds=2)
    result = run_ihost("-c", str(config), "run", "products")
    assert result.code == 3, result.output
    assert "timed out" in one_line(result)
    assert erp.dump("products") == []


def test_a_lightspeed_that_refuses_connections(
    tmp_path: Path, pos: LightspeedSandbox, erp: RecordSandbox
) -> None:
    config = setup(
        tmp_path, pos, erp, flow("products", more=fast("products")) + flow("stock", "erp", "pos")
    )
    erp.seed("stock", [{"sku": "MUG-01", "on_hand": "7"}])
    pos.stop()
    for command in (("run", "products"), ("run", "stock"), ("check", "pos")):
        result = run_ihost("-c", str(config), *command)
        assert result.code == 3, result.output
        assert "cannot connect" in one_line(result)
