"""SAP over SFTP through the CLI, the seed page's rules end to end: articles, stock and
debtors from Asperion become IDoc and CSV files SAP's file port takes; SAP's orders become
Asperion sales orders (debtor by e-mail or created as a company with its contact person,
an order already there skipped, SKUs checked); a web shop's orders go to SAP as ORDERS05
and are found again by SAP's confirmation; SAP's deliveries reach the shop."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from flow_data import order
from helpers import actions, authorize, run_flow, write_config
from ihost_asperion.sandbox import AsperionSandbox
from ihost_sap_sftp.demo import ERP_SETTINGS, sap_orders
from ihost_sap_sftp.idoc import read_idocs
from ihost_sap_sftp.sandbox import SapSftpSandbox
from ihost_testconnectors.sandbox import RecordSandbox

from host.config import load_config
from host.models import Order
from host.plugins import discover

pytestmark = pytest.mark.usefixtures("secret_key")

ORDERS = """
[flows.orders]
kind = "orders"
source = "sap"
target = "erp"
[flows.orders.settings]
order_type = "sales_order"
{more}
[flows.orders.mapping]
payment_terms = {{ "0001" = "1", "0002" = "2" }}
"""
TO_SAP = "".join(
    f'[flows.{kind}]\nkind = "{kind}"\nsource = "erp"\ntarget = "sap"\n'
    for kind in ("products", "stock", "customers")
)


def setup(
    tmp_path: Path,
    erp: AsperionSandbox,
    sap: SapSftpSandbox,
    flows: str,
    erp_settings: dict[str, Any] | None = None,
    **more: Any,
) -> Path:
    """The config with Asperion (`erp_settings` beyond the demo's) and SAP (`more`)."""
    connections = {
        "erp": ("asperion", erp, {**ERP_SETTINGS, **(erp_settings or {})}),
        "sap": ("sap_sftp", sap, more),
    }
    path = write_config(tmp_path, connections, flows)
    authorize(path, "erp")
    return path


def files(sap: SapSftpSandbox, folder: str) -> list[str]:
    return sorted(f["name"] for f in sap.dump("files") if f["folder"].startswith(folder))


def test_articles_stock_and_debtors_become_files_sap_takes(
    tmp_path: Path, asperion: AsperionSandbox, sap: SapSftpSandbox
) -> None:
    config = setup(tmp_path, asperion, sap, TO_SAP)
    for flow in ("products", "stock", "customers"):
        result, report = run_flow(config, flow)
        assert result.code == 0, result.output
    written = files(sap, "in")
    assert len([n for n in written if n.startswith("MATMAS_")]) == 5
    assert len([n for n in written if n.startswith("STOCK_") and n.endswith(".csv")]) == 1
    assert [n for n in written if n.startswith("DEBMAS_")] == [
        n for n in written if "0000010500" in n
    ]
    taken = sap.process_inbound()
    assert {t["status"] for t in taken} == {"accepted"}, taken
    materials = {m["MATNR"]: m for m in sap.dump("materials")}
    assert set(materials) == {"MUG-01", "TEA-GRN", "SHIRT-S", "SHIRT-M", "SHIRT-L"}
    assert materials["MUG-01"]["E1MAKTM"][0]["MAKTX"] == "Stoneware mug"
    # the stock rule's default: on hand less reserved (MUG-01: 40 - 2)
    assert {s["MATNR"]: s["LABST"] for s in sap.dump("stock")}["MUG-01"] == "38"
    (anna,) = sap.dump("customers")
    assert (anna["KUNNR"], anna["NAME1"], anna["LAND1"]) == ("0000010500", "Anna de Vries", "NL")

    # a second run finds everything written: no new files
    for flow in ("products", "customers"):
        _, report = run_flow(config, flow)
        assert report["counts"]["created"] == 0, report
    assert files(sap, "in") == []


def test_an_existing_material_keeps_its_descriptions_without_the_update_checkbox(
    tmp_path: Path, asperion: AsperionSandbox, sap: SapSftpSandbox
) -> None:
    flows = TO_SAP + "[flows.products.settings]\nupdate_info = false\n"
    config = setup(tmp_path, asperion, sap, flows)
    run_flow(config, "products")
    sap.process_inbound()
    (mug,) = [a for a in asperion.dump("articles") if a["articleCode"] == "MUG-01"]
    asperion.seed(
        "articles",
        [{**mug, "description": "Renamed in Asperion", "dateLastChange": "2026-11-21T10:00:00"}],
    )
    _, report = run_flow(config, "products", "--full")
    assert actions(report)["MUG-01"][0] == "updated", report
    (update,) = [n for n in files(sap, "in") if "MUG-01" in n]
    with (sap.root / "in" / update).open("rb") as stream:
        (idoc,) = list(read_idocs(stream))
    assert idoc.first("E1MARAM") is not None and idoc.first("E1MARAM").first("E1MAKTM") is None
    sap.process_inbound()
    (stored,) = [m for m in sap.dump("materials") if m["MATNR"] == "MUG-01"]
    assert stored["E1MAKTM"][0]["MAKTX"] == "Stoneware mug"


def test_sap_orders_become_sales_orders_with_the_debtor_rules(
    tmp_path: Path, asperion: AsperionSandbox, sap: SapSftpSandbox
) -> None:
    sap.seed("orders", sap_orders())  # two IDocs in one file
    config = setup(tmp_path, asperion, sap, ORDERS.format(more=""))
    result, report = run_flow(config, "orders")
    assert result.code == 0, result.output
    assert {k: a for k, (a, _) in actions(report).items()} == {
        "0000012001": "created",
        "0000012002": "created",
    }
    debtors = {d["customerNumber"]: d for d in asperion.dump("debtors")}
    # Anna was found by e-mail; the bakery is new: a company with its contact person
    (bakery,) = [d for d in debtors.values() if d["name"] == "Bakkerij Jansen BV"]
    contacts = [c for c in asperion.dump("contactpersons") if c["debtorId"] == bakery["id"]]
    assert [c.get("lastName") for c in contacts] == ["Jansen"]
    orders = asperion.dump("salesorders")
    assert sorted(o["debtorId"] for o in orders) == sorted([bakery["id"], debtors["10500"]["id"]])
    # the file is archived, never deleted; nothing is left claimed
    assert files(sap, "out") == []
    assert len(files(sap, "archive")) == 1

    # SAP sends the same IDocs again in a new file: nothing is created twice
    sap.seed("orders", sap_orders())
    _, again = run_flow(config, "orders")
    assert again["counts"]["created"] == 0 and len(asperion.dump("salesorders")) == 2
    assert len(files(sap, "archive")) == 2


def test_an_order_for_an_article_asperion_lacks_waits_and_the_file_is_archived(
    tmp_path: Path, asperion: AsperionSandbox, sap: SapSftpSandbox
) -> None:
    orders = sap_orders()
    orders[1]["E1EDP01"][0]["E1EDP19"]["IDTNR"] = "NOT-IN-ASPERION"
    sap.seed("orders", orders)
    config = setup(tmp_path, asperion, sap, ORDERS.format(more=""))
    result, report = run_flow(config, "orders")
    assert result.code == 1
    assert actions(report)["0000012002"][0] == "failed"
    assert "NOT-IN-ASPERION" in result.output
    assert len(asperion.dump("salesorders")) == 1
    assert files(sap, "out") == [] and len(files(sap, "archive")) == 1


def test_the_status_filter_skips_orders_sap_releases_as_pending(
    tmp_path: Path, asperion: AsperionSandbox, sap: SapSftpSandbox
) -> None:
    sap.seed("orders", sap_orders())
    flows = ORDERS.format(more='statuses = ["paid"]')
    config = setup(tmp_path, asperion, sap, flows, order_status="pending")
    _, report = run_flow(config, "orders")
    assert report["counts"]["skipped"] == 2 and asperion.dump("salesorders") == []


def test_a_dry_run_archives_nothing_and_the_real_run_after_it_reads_every_order(
    tmp_path: Path, asperion: AsperionSandbox, sap: SapSftpSandbox
) -> None:
    sap.seed("orders", sap_orders())
    config = setup(tmp_path, asperion, sap, ORDERS.format(more=""))
    _, dry = run_flow(config, "orders", "--dry-run")
    assert dry["counts"]["created"] == 2 and asperion.dump("salesorders") == []
    assert files(sap, "archive") == []  # claimed at most, never archived by a dry run
    _, real = run_flow(config, "orders")
    assert real["counts"]["created"] == 2 and len(files(sap, "archive")) == 1


def test_shop_orders_go_to_sap_and_are_found_by_sap_confirmation(
    tmp_path: Path, sap: SapSftpSandbox
) -> None:
    sap.seed("materials", [{"MATNR": "SKU-1", "MAKTX": "Mug"}])  # not sent by ihost
    with RecordSandbox() as shop:
        shop.seed("orders", [order("1", "1001")])
        flows = (
            '[flows.orders]\nkind = "orders"\nsource = "shop"\ntarget = "sap"\n'
            '[flows.orders.settings]\norder_type = "sales_order"\n'
        )
        connections = {
            "shop": ("testshop", shop),
            "sap": ("sap_sftp", sap, {"check_materials": False}),
        }
        config = write_config(tmp_path, connections, flows)
        result, report = run_flow(config, "orders")
        assert result.code == 0, result.output
        debmas, written = files(sap, "in")  # the buyer first, then the order
        assert debmas.startswith("DEBMAS_") and written.startswith("ORDERS_")
        assert actions(report)["1"][1] == written
        taken = sap.process_inbound()
        assert [t["status"] for t in taken] == ["accepted", "accepted"], taken
        (sales_order,) = sap.dump("orders")
        assert sales_order["PO"] == "1001"
        # the next run that writes reads SAP's ORDRSP: 1001 is known by SAP's number now
        shop.seed("orders", [order("2", "1002", updated_at="2026-05-02T10:00:00+00:00")])
        _, again = run_flow(config, "orders", "--full")
        assert again["counts"]["created"] == 1 and actions(again)["1"][0] == "unchanged"
        assert [n for n in files(sap, "archive") if n.startswith("ORDRSP_")]
        connection = load_config(config, discover()).connect("sap", discover())
        web_order = {k: v for k, v in order("1", "1001").items() if k != "id"}
        with connection:
            found = connection.hook.find_order(
                order=Order.model_validate(web_order), order_type="sales_order"
            )
        assert found == sales_order["VBELN"]


def test_sap_deliveries_reach_the_shop_with_their_tracking_number(
    tmp_path: Path, sap: SapSftpSandbox
) -> None:
    sap.seed(
        "deliveries",
        [
            {
                "E1EDL20": {
                    "VBELN": "0080000001",
                    "BOLNR": "3SABC123",
                    "E1ADRM1": {"PARTNER_Q": "SP", "NAME1": "PostNL"},
                    "E1EDL24": {
                        "POSNR": "000010",
                        "MATNR": "SKU-1",
                        "LFIMG": "1",
                        "E1EDL41": {"QUALI": "001", "BSTNR": "1001"},
                    },
                }
            }
        ],
    )
    with RecordSandbox() as shop:
        shop.seed("orders", [order("1", "1001")])
        flows = '[flows.shipments]\nkind = "shipments"\nsource = "sap"\ntarget = "shop"\n'
        config = write_config(
            tmp_path, {"shop": ("testshop", shop), "sap": ("sap_sftp", sap)}, flows
        )
        result, _ = run_flow(config, "shipments")
        assert result.code == 0, result.output
        (shipment,) = shop.dump("shipments")
        assert shipment["tracking_number"] == "3SABC123" and shipment["carrier"] == "PostNL"
    assert len(files(sap, "archive")) == 1


def test_orders_read_from_a_csv_export(
    tmp_path: Path, asperion: AsperionSandbox, sap: SapSftpSandbox
) -> None:
    rows = [
        "BELNR;BSTKD;AUDAT;WAERK;KUNNR;SMTP_ADDR;NAME1;MATNR;KWMENG;NETPR;ZTERM",
        "0000013001;PO-1;20261120;EUR;10500;anna@example.com;;MUG-01;2;10,33;0001",
        "0000013001;PO-1;20261120;EUR;10500;anna@example.com;;TEA-GRN;1;6,57;0001",
    ]
    sap.seed(
        "files",
        [{"folder": "out", "name": "ORDERS_20261120.csv", "content": "\n".join(rows) + "\n"}],
    )
    config = setup(tmp_path, asperion, sap, ORDERS.format(more=""), format="csv")
    result, report = run_flow(config, "orders")
    assert result.code == 0, result.output
    assert actions(report)["0000013001"][0] == "created"
    (sales_order,) = asperion.dump("salesorders")
    assert len(sales_order["lines"]["_data"]) == 2


def test_a_run_the_target_stops_archives_nothing_and_the_next_run_reads_it_all(
    tmp_path: Path, asperion: AsperionSandbox, sap: SapSftpSandbox
) -> None:
    """Asperion hangs: the run stops with exit 3 and no acknowledgement, so SAP's file stays
    claimed, not archived; the next run reads it again, books both orders and archives it."""
    sap.seed("orders", sap_orders())
    more = "retry_backoff = 0\nunavailable_after = 1"
    config = setup(tmp_path, asperion, sap, ORDERS.format(more=more), {"timeout": 0.5})
    stall = asperion.inject("GET", "/v1/", "stall", times=1000, seconds=2)
    result, _ = run_flow(config, "orders")
    assert result.code == 3, result.output
    assert stall.hits and asperion.dump("salesorders") == []
    assert [n for n in files(sap, "out") if n.endswith(".processing")] and files(
        sap, "archive"
    ) == []
    stall.times = 0
    result, report = run_flow(config, "orders")
    assert result.code == 0, result.output
    assert report["counts"]["created"] == 2 and len(asperion.dump("salesorders")) == 2
    assert files(sap, "out") == [] and len(files(sap, "archive")) == 1
