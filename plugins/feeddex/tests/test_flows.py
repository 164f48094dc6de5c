"""Feeddex through the CLI, between sandboxes on 127.0.0.1 with a real SQLite store:
Shopify's (and the test shop's) paid orders in as transactions, once each, their customers
found or made by e-mail; the test shop's customers in; feedback out to the test ERP, kept
with the order and replaced as it moves on (sent, completed with its F100 score, reminded,
expired); products and stock only where a setting names the endpoint."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from flow_data import configurable, customer, order, product
from helpers import actions, dead_letters, run_flow, run_ihost, write_config
from ihost_feeddex.sandbox import FeeddexSandbox
from ihost_shopify import samples
from ihost_shopify.sandbox import ShopifySandbox
from ihost_testconnectors.sandbox import RecordSandbox

AMSTERDAM = ZoneInfo("Europe/Amsterdam")


def flow(name: str, kind: str, source: str, target: str, settings: str = "") -> str:
    text = f'[flows.{name}]\nkind = "{kind}"\nsource = "{source}"\ntarget = "{target}"\n'
    return text + (f"[flows.{name}.settings]\n{settings}" if settings else "")


def by_external_id(feeddex: FeeddexSandbox) -> dict[str, dict[str, Any]]:
    return {t["externalId"]: t for t in feeddex.dump("transactions")}


def behind(box: FeeddexSandbox, days: int) -> None:
    """The sandbox's clock `days` behind the real one, so that what `advance` makes happen
    has happened by the real clock too (the connector reads only moments that have)."""
    box.clock = lambda: datetime.now(timezone.utc) - timedelta(days=days)


# --- orders in as transactions --------------------------------------------------------------


def test_paid_shopify_orders_become_transactions_once_with_their_customers(
    tmp_path: Path, shopify: ShopifySandbox, feeddex: FeeddexSandbox
) -> None:
    shopify.seed(
        "orders",
        [
            # 00:30 in Amsterdam on 1 May; still 30 April in UTC
            samples.order(1001, email="Anna@Example.com", createdAt="2026-04-30T22:30:00Z"),
            samples.order(1002, status="PENDING", email="piet@example.com"),
            samples.order(1003, email=None),
            samples.order(1004, email="kees@example.com", skus=("SKU-1", "SKU-2")),
        ],
    )
    connections = {"shop": ("shopify", shopify), "fx": ("feeddex", feeddex)}
    config = write_config(tmp_path, connections, flow("orders", "orders", "shop", "fx"))
    result, report = run_flow(config, "orders")
    assert result.code == 1, result.output  # 1003 failed, alone
    done = actions(report)
    assert done["1001"][0] == "created" and done["1004"][0] == "created", report
    assert "1002" not in done  # pending: not one of paid
    assert done["1003"][0] == "failed"
    (letter,) = dead_letters(config)
    assert letter["record_key"] == "1003" and "customer.email" in letter["error"], letter

    transactions = by_external_id(feeddex)
    assert sorted(transactions) == ["1001", "1004"]
    anna = transactions["1001"]
    assert done["1001"][1] == str(anna["id"])
    assert anna["date"] == "2026-05-01"  # the order's local date in Europe/Amsterdam
    assert anna["unitId"] == 1  # the organization's only unit
    assert anna["customerCode"] == "1501"  # the shop customer's key
    assert anna["customer"] == {
        "email": "anna@example.com",
        "firstName": "Anna",
        "lastName": "de Vries",
        "companyName": None,
        "phone": "+31201234567",
        "language": "nl",
    }
    assert anna["orderLines"] == [{"sku": "SKU-1", "name": "Product SKU-1", "quantity": 2}]
    assert [line["sku"] for line in transactions["1004"]["orderLines"]] == ["SKU-1", "SKU-2"]
    assert anna["sendInvitationAfterDays"] == 1  # Feeddex's default: none was sent
    customers = {c["email"]: c for c in feeddex.dump("customers")}
    assert sorted(customers) == ["anna@example.com", "kees@example.com"]
    assert customers["anna@example.com"]["customerCode"] == "1501"
    assert customers["kees@example.com"]["customerCode"] == "1504"

    posts = len(feeddex.calls_to("/v1/transactions", "POST"))
    for args in ((), ("--full",)):
        again, second = run_flow(config, "orders", *args)
        assert again.code in (0, 1), again.output
        assert second["counts"]["created"] == 0, second
    assert len(feeddex.dump("transactions")) == 2
    assert len(feeddex.calls_to("/v1/transactions", "POST")) == posts  # none sent again


class Lagging(FeeddexSandbox):
    """A Feeddex whose transaction search does not yet show `hidden` (entered by hand a
    moment ago): only the POST's 409 tells the connector it is there."""

    hidden: frozenset[str] = frozenset()

    def _list_transactions(self, query: dict[str, str]) -> tuple[int, Any]:
        if query.get("externalId") in self.hidden:
            return 200, {"items": [], "total": 0}
        return super()._list_transactions(query)


def hand_entered(external_id: str, **fields: Any) -> dict[str, Any]:
    return {
        "externalId": external_id,
        "date": "2026-05-01",
        "unitId": 1,
        "customer": {"email": "anna@example.com"},
        **fields,
    }


def test_a_transaction_entered_by_hand_is_found_not_entered_twice(
    tmp_path: Path, shopify: ShopifySandbox
) -> None:
    shopify.seed("orders", [samples.order(n) for n in (2001, 2002, 2003)])
    with Lagging() as feeddex:
        feeddex.hidden = frozenset({"2002"})
        # 2001 is found by its externalId; 2002 only through the 409 the POST answers
        feeddex.seed("transactions", [hand_entered("2001"), hand_entered("2002")])
        held = {t["externalId"]: str(t["id"]) for t in feeddex.dump("transactions")}
        connections = {"shop": ("shopify", shopify), "fx": ("feeddex", feeddex)}
        config = write_config(tmp_path, connections, flow("orders", "orders", "shop", "fx"))
        result, report = run_flow(config, "orders")
        posts = [c.status for c in feeddex.calls_to("/v1/transactions", "POST")]
        transactions = feeddex.dump("transactions")
        _, again = run_flow(config, "orders", "--full")
        posted_again = len(feeddex.calls_to("/v1/transactions", "POST")) - len(posts)
    assert result.code == 0, result.output
    done = {a["key"]: a for a in report["actions"]}
    assert (done["2001"]["action"], done["2001"]["target_id"]) == ("skipped", held["2001"])
    assert done["2001"]["reason"] == "already in the target"
    assert (done["2002"]["action"], done["2002"]["target_id"]) == ("created", held["2002"])
    assert done["2003"]["action"] == "created"
    assert sorted(posts) == [201, 409]  # 2002 refused as held; 2001 never posted
    assert sorted(t["externalId"] for t in transactions) == ["2001", "2002", "2003"]
    # bound: the next run knows all three and posts nothing
    assert again["counts"]["created"] == 0 and again["counts"]["failed"] == 0
    assert posted_again == 0


@pytest.mark.parametrize(
    ("statuses", "entered"), [(None, ["3001"]), ('["paid", "pending"]', ["3001", "3002"])]
)
def test_the_status_filter_and_order_settings(
    tmp_path: Path,
    testshop: RecordSandbox,
    feeddex: FeeddexSandbox,
    statuses: str | None,
    entered: list[str],
) -> None:
    """Only the orders of the flow's statuses (paid by default) become transactions; the
    connection's unit, invitation delay and order lines settings shape them."""
    feeddex.seed("units", [{"id": 7, "name": "Winkel Haarlem"}])
    testshop.seed(
        "orders",
        [
            order("o1", "3001"),
            order("o2", "3002", status="pending"),
            order("o3", "3003", status="refunded"),
        ],
    )
    settings = {"unit_id": 7, "invite_after_days": 3, "send_order_lines": False}
    connections = {"shop": ("testshop", testshop), "fx": ("feeddex", feeddex, settings)}
    more = f"statuses = {statuses}\n" if statuses else ""
    config = write_config(tmp_path, connections, flow("orders", "orders", "shop", "fx", more))
    result, report = run_flow(config, "orders")
    assert result.code == 0, result.output
    assert report["counts"]["created"] == len(entered), report
    transactions = by_external_id(feeddex)
    assert sorted(transactions) == entered
    first = transactions["3001"]
    assert first["unitId"] == 7 and first["customerCode"] == "c-o1"
    assert first["sendInvitationAfterDays"] == 3 and first["orderLines"] == []


# --- customers in ---------------------------------------------------------------------------


def test_test_shop_customers_reach_feeddex_found_by_email_and_updated(
    tmp_path: Path, testshop: RecordSandbox, feeddex: FeeddexSandbox
) -> None:
    feeddex.seed(
        "customers",
        [{"customerCode": "FX-77", "email": "MARIE@example.com", "lastName": "Oud"}],
    )
    testshop.seed(
        "customers",
        [
            customer("c1", "jan@example.com", language="nl-NL"),
            customer("c2", "marie@example.com", first_name="Marie", last_name="Nieuw"),
            customer("c3", "bv@example.com", company="Bakkerij BV"),
        ],
    )
    connections = {"shop": ("testshop", testshop), "fx": ("feeddex", feeddex)}
    config = write_config(tmp_path, connections, flow("customers", "customers", "shop", "fx"))
    result, report = run_flow(config, "customers")
    assert result.code == 0, result.output
    done = actions(report)
    assert done["c1"] == ("created", "c1") and done["c3"] == ("created", "c3")
    assert done["c2"] == ("updated", "FX-77")  # found by e-mail, any case
    held = {c["customerCode"]: c for c in feeddex.dump("customers")}
    assert sorted(held) == ["FX-77", "c1", "c3"]
    assert (held["FX-77"]["firstName"], held["FX-77"]["lastName"]) == ("Marie", "Nieuw")
    assert held["c1"]["language"] == "nl" and held["c3"]["companyName"] == "Bakkerij BV"
    assert held["c1"]["email"] == "jan@example.com" and held["c1"]["lastName"] == "Jansen"

    # nothing changed: nothing written; a changed customer: updated in place
    _, unchanged = run_flow(config, "customers", "--full")
    assert unchanged["counts"]["unchanged"] == 3, unchanged
    testshop.seed(
        "customers",
        [customer("c1", "jan@example.com", id=_id_of(testshop, "c1"), last_name="Jansen-Bos")],
    )
    _, changed = run_flow(config, "customers")
    assert actions(changed)["c1"] == ("updated", "c1")
    held = {c["customerCode"]: c for c in feeddex.dump("customers")}
    assert len(held) == 3 and held["c1"]["lastName"] == "Jansen-Bos"


def _id_of(shop: RecordSandbox, key: str) -> str:
    (row,) = [r for r in shop.dump("customers") if r["key"] == key]
    return str(row["id"])


# --- feedback out ---------------------------------------------------------------------------


FEEDBACK_FLOWS = (
    flow("orders", "orders", "shop", "fx")
    + flow("erp_orders", "orders", "shop", "erp")
    + flow("feedback", "feedback", "fx", "erp")
)


def kept(erp: RecordSandbox) -> dict[str, dict[str, Any]]:
    """The feedback the ERP keeps, by order number."""
    rows = erp.dump("feedback")
    found = {str(f["order_number"]): f for f in rows}
    assert len(found) == len(rows), rows  # one each: replaced, never added twice
    return found


def test_feedback_reaches_the_erp_and_moves_on(
    tmp_path: Path, testshop: RecordSandbox, testerp: RecordSandbox, feeddex: FeeddexSandbox
) -> None:
    behind(feeddex, 50)
    candidates = [str(n) for n in range(4001, 4100)]
    yes = next(n for n in candidates if feeddex.responds(n))
    no = next(n for n in candidates if not feeddex.responds(n))
    placed = (datetime.now(timezone.utc) - timedelta(days=50)).isoformat()
    testshop.seed("orders", [order(f"o{n}", n, created_at=placed) for n in (yes, no)])
    feeddex.seed("units", [{"id": 7, "name": "Winkel Haarlem"}])
    # entered by hand in Feeddex (an order the shop's staff invited for): answered long ago
    sent = feeddex.now() - timedelta(days=5)
    feeddex.seed(
        "transactions",
        [
            hand_entered(
                "H-1",
                unitId=7,
                date=sent.date().isoformat(),
                sentOn=f"{sent:%Y-%m-%dT%H:%M:%S}.000Z",
                feedbackCompleted=f"{sent + timedelta(days=2):%Y-%m-%dT%H:%M:%S}.000Z",
            )
        ],
    )
    testerp.seed("orders", [order("h1", "H-1", source_key="h1")])
    connections = {
        "shop": ("testshop", testshop),
        "fx": ("feeddex", feeddex, {"unit_id": 7}),
        "erp": ("testerp", testerp),
    }
    config = write_config(tmp_path, connections, FEEDBACK_FLOWS)
    for name in ("orders", "erp_orders"):
        result, _ = run_flow(config, name)
        assert result.code == 0, result.output
    erp_orders = {o["number"]: str(o["id"]) for o in testerp.dump("orders")}

    def lookups() -> int:
        return len(feeddex.calls_to("/v1/transactions/", "GET"))

    # entered, not yet sent: Feeddex lists only the hand-entered one
    result, first = run_flow(config, "feedback")
    assert result.code == 0, result.output
    assert first["counts"]["read"] == 1 and first["counts"]["created"] == 1, first
    assert lookups() == 1  # its order number asked once: ihost did not enter it
    hand = kept(testerp)["H-1"]
    assert hand["order_id"] == erp_orders["H-1"] and hand["status"] == "completed"
    assert hand["score"] == str(feeddex.score("H-1")["overallScore"]["value"])

    feeddex.advance(1)  # both invited
    result, second = run_flow(config, "feedback")
    assert result.code == 0, result.output
    assert second["counts"]["created"] == 2, second
    reasons = {a["reason"] for a in second["actions"] if a["action"] == "created"}
    assert reasons == {f"order {yes} found by number", f"order {no} found by number"}
    now = kept(testerp)
    for number in (yes, no):
        assert now[number]["status"] == "sent" and now[number]["score"] is None
        assert now[number]["order_id"] == erp_orders[number]
        assert now[number]["unit"] == "Winkel Haarlem"
        assert now[number]["customer_key"] == f"c-o{number}"
        assert now[number]["sent_at"] is not None
    assert lookups() == 1  # the order numbers of what ihost entered are in its ledger

    feeddex.advance(3)  # the responder answered on the second day after the invitation
    result, third = run_flow(config, "feedback")
    assert result.code == 0, result.output
    assert actions(third)[_key(feeddex, yes)][0] == "updated"
    answered = kept(testerp)[yes]
    expected = feeddex.score(yes)["overallScore"]
    assert answered["status"] == "completed"
    assert answered["score"] == str(expected["value"])
    assert answered["grade"] == str(expected["valueAsGrade"])
    assert answered["completed_at"] is not None
    assert kept(testerp)[no]["status"] == "sent"

    feeddex.advance(5)  # a week after the invitation: the reminder
    run_flow(config, "feedback")
    assert kept(testerp)[no]["status"] == "reminded"
    feeddex.advance(30)  # a month after it: expired, unanswered
    result, last = run_flow(config, "feedback")
    assert result.code == 0, result.output
    assert actions(last)[_key(feeddex, no)][0] == "updated"
    final = kept(testerp)
    assert final[no]["status"] == "expired" and final[no]["score"] is None
    assert final[yes]["status"] == "completed" and len(final) == 3

    # read again from the start: nothing changed, nothing written, nothing asked again
    result, full = run_flow(config, "feedback", "--full")
    assert full["counts"]["unchanged"] == 3 and lookups() == 1, full


def _key(feeddex: FeeddexSandbox, external_id: str) -> str:
    return str(by_external_id(feeddex)[external_id]["id"])


def month_start(moment: date, back: int) -> date:
    index = moment.year * 12 + moment.month - 1 - back
    return date(index // 12, index % 12 + 1, 1)


def stamp(moment: datetime) -> str:
    return f"{moment.astimezone(timezone.utc):%Y-%m-%dT%H:%M:%S}.000Z"


@pytest.mark.parametrize(("months_back", "found"), [(2, True), (1, False)])
def test_feedback_on_an_older_month_is_read_again_months_back(
    tmp_path: Path,
    testerp: RecordSandbox,
    feeddex: FeeddexSandbox,
    months_back: int,
    found: bool,
) -> None:
    """Feeddex files feedback under the transaction's date: one dated two months before
    the cursor's month and answered now is found while feedback_months_back reaches it."""
    behind(feeddex, 1)
    now = feeddex.now()
    this_month = now - timedelta(hours=1)
    old_date = month_start(this_month.astimezone(AMSTERDAM).date(), 2) + timedelta(days=14)
    feeddex.seed(
        "transactions",
        [
            hand_entered(
                "NEW-1",
                date=this_month.astimezone(AMSTERDAM).date().isoformat(),
                sentOn=stamp(now - timedelta(days=1)),
                feedbackCompleted=stamp(this_month),
            ),
            # invited long ago, started a moment ago: it completes a day after starting
            hand_entered(
                "OLD-1",
                date=old_date.isoformat(),
                status="started",
                sentOn=stamp(now - timedelta(days=3)),
                feedbackStarted=stamp(now - timedelta(hours=2)),
            ),
        ],
    )
    testerp.seed("orders", [order("n", "NEW-1"), order("o", "OLD-1")])
    connections = {
        "fx": ("feeddex", feeddex, {"feedback_months_back": months_back}),
        "erp": ("testerp", testerp),
    }
    config = write_config(tmp_path, connections, flow("feedback", "feedback", "fx", "erp"))
    result, first = run_flow(config, "feedback")
    assert result.code == 0, result.output
    assert first["counts"]["created"] == 2
    cursor = datetime.fromisoformat(first["cursor"]).astimezone(AMSTERDAM)
    assert cursor.date().replace(day=1) == month_start(cursor.date(), 0)
    assert month_start(cursor.date(), 2) == old_date.replace(day=1)
    assert kept(testerp)["OLD-1"]["status"] == "started"

    feeddex.advance(1)  # OLD-1 completes now (by the real clock: an hour ago)
    result, second = run_flow(config, "feedback")
    assert result.code == 0, result.output
    status = kept(testerp)["OLD-1"]["status"]
    assert status == ("completed" if found else "started"), second


def test_an_expiry_later_on_the_cursors_day_is_not_missed(
    tmp_path: Path, testerp: RecordSandbox, feeddex: FeeddexSandbox
) -> None:
    """Feeddex gives the expiration as a date, not a moment: a transaction that expires at
    noon, after a run whose cursor is ten o'clock that day, is still read as expired."""
    invited = (datetime.now(timezone.utc) - timedelta(days=40)).replace(
        hour=12, minute=0, second=0, microsecond=0
    )
    expires = invited + timedelta(days=30)  # unanswered: expired a month after the invitation
    start, started = expires - timedelta(hours=1), datetime.now(timezone.utc)
    feeddex.clock = lambda: start + (datetime.now(timezone.utc) - started)
    feeddex.seed(
        "transactions",
        [
            hand_entered(
                "EXP-1",
                date=invited.date().isoformat(),
                status="reminded",
                sentOn=stamp(invited),
                remindedOn=stamp(invited + timedelta(days=7)),
            ),
            # another one, invited that morning: the run at eleven takes it as its cursor
            hand_entered(
                "MORNING-1",
                date=expires.date().isoformat(),
                sentOn=stamp(expires - timedelta(hours=2)),
            ),
        ],
    )
    testerp.seed("orders", [order("e", "EXP-1"), order("m", "MORNING-1")])
    connections = {"fx": ("feeddex", feeddex), "erp": ("testerp", testerp)}
    config = write_config(tmp_path, connections, flow("feedback", "feedback", "fx", "erp"))
    result, first = run_flow(config, "feedback")
    assert result.code == 0, result.output
    assert datetime.fromisoformat(first["cursor"]) == expires - timedelta(hours=2)
    assert kept(testerp)["EXP-1"]["status"] == "reminded"

    feeddex.advance(1)
    result, _ = run_flow(config, "feedback")
    assert result.code == 0, result.output
    assert kept(testerp)["EXP-1"]["status"] == "expired"


# --- products and stock: only where a setting names the endpoint ------------------------------


PRODUCT_FLOWS = flow("products", "products", "shop", "fx", 'variants = "{variants}"\n')


def test_products_to_feeddex_need_products_path(
    tmp_path: Path, testshop: RecordSandbox, feeddex: FeeddexSandbox
) -> None:
    connections = {"shop": ("testshop", testshop), "fx": ("feeddex", feeddex)}
    config = write_config(tmp_path, connections, PRODUCT_FLOWS.format(variants="flatten"))
    result = run_ihost("-c", str(config), "config", "validate")
    assert result.code == 2, result.output
    lines = result.err.strip().splitlines()
    assert len(lines) == 1 and "products_path" in lines[0], result.output
    assert "Traceback" not in result.output
    assert feeddex.dump("products") == []


@pytest.mark.parametrize("variants", ["flatten", "skip"])
def test_products_and_stock_to_feeddex_with_their_paths(
    tmp_path: Path,
    testshop: RecordSandbox,
    testerp: RecordSandbox,
    feeddex: FeeddexSandbox,
    variants: str,
) -> None:
    testshop.seed("products", [product("MUG", "Mug", "7.50", ean="8712345678906"), configurable()])
    testerp.seed("stock", [{"sku": "MUG", "on_hand": "15", "reserved": "3"}])
    settings = {"products_path": "/v1/products", "stock_path": "/v1/stock"}
    connections = {
        "shop": ("testshop", testshop),
        "erp": ("testerp", testerp),
        "fx": ("feeddex", feeddex, settings),
    }
    flows = PRODUCT_FLOWS.format(variants=variants) + flow("stock", "stock", "erp", "fx")
    config = write_config(tmp_path, connections, flows)
    assert run_ihost("-c", str(config), "config", "validate").code == 0
    result, report = run_flow(config, "products")
    assert result.code == 0, result.output
    products = {p["sku"]: p for p in feeddex.dump("products")}
    assert products["MUG"] == {"sku": "MUG", "name": "Mug", "price": "7.50", "ean": "8712345678906"}
    if variants == "flatten":
        assert sorted(products) == ["MUG", "SHIRT-L", "SHIRT-M", "SHIRT-S"]
    else:
        assert sorted(products) == ["MUG"]
        assert actions(report)["p-SHIRT"][0] == "skipped"
    result, _ = run_flow(config, "stock")
    assert result.code == 0, result.output
    assert feeddex.dump("stock") == [{"sku": "MUG", "quantity": 12}]
