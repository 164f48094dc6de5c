"""The BuchhaltungsButler sandbox over real HTTP on 127.0.0.1, as the wire contract describes
it (bhb-wire.md): paths and methods, auth, envelopes, debtors, receipts, invoices, reference
data, the rate limit and the test controls."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timezone
from typing import Any

import httpx
import pytest
from ihost_buchhaltungsbutler import sandbox as bhb
from ihost_buchhaltungsbutler.sandbox import BuchhaltungsButlerSandbox

NOT_EMULATED = "not emulated by the ihost sandbox"
LIST_FIELDS = [
    "filename",
    "id_by_customer",
    "type",
    "date",
    "delivery_date",
    "date_uploaded",
    "counterparty",
    "invoicenumber",
    "amount",
    "payment_date",
    "due_date",
    "account",
    "amount_paid",
    "amount_paid_fixed",
    "deleted",
    "link_to_receipt_id_by_customer",
]


@pytest.fixture
def box() -> Iterator[BuchhaltungsButlerSandbox]:
    with BuchhaltungsButlerSandbox() as running:
        running.clock = lambda: datetime(2026, 3, 10, 11, 0, tzinfo=timezone.utc)
        yield running


@pytest.fixture
def api(box: BuchhaltungsButlerSandbox) -> Iterator[httpx.Client]:
    settings = box.connection_settings()
    auth = (settings["api_client"], settings["api_secret"])
    with httpx.Client(base_url=settings["base_url"], auth=auth) as session:
        yield session


def post(api: httpx.Client, path: str, **params: Any) -> httpx.Response:
    return api.post(path, json={"api_key": "sandbox-key", **params})


def ok(response: httpx.Response) -> dict[str, Any]:
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert body["success"] is True and body["message"] == ""
    return dict(body)


def refused(response: httpx.Response, status: int, code: int, *words: str) -> str:
    """The refusal's message, after checking its envelope, status, code and words."""
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"success", "error_code", "message"}
    assert body["success"] is False and body["error_code"] == code
    for word in words:
        assert word in body["message"], body["message"]
    return str(body["message"])


def invalid(response: httpx.Response, name: str, *words: str) -> str:
    return refused(response, 400, 10, f"'{name}'", *words)


def html_404(response: httpx.Response) -> None:
    assert response.status_code == 404
    assert response.headers["content-type"].startswith("text/html")
    assert "<html>" in response.text


def invoice(**fields: Any) -> dict[str, Any]:
    body = {
        "type": "invoice",
        "show_prices_type": "net",
        "company_name": "Acme GmbH",
        "date": "2026-03-01",
        "item_name": ["Widget", "Book"],
        "item_amount": [3, 1],
        "item_unit": ["Stk", "Stk"],
        "item_vat": [19, 7],
        "item_single_price": [9.99, 20.0],
    }
    return {**body, **fields}


def receipt(**fields: Any) -> dict[str, Any]:
    return {"type": "invoice outbound", "date": "2026-03-01", "amount": "100.00", **fields}


# --- paths, methods, auth, bodies ---------------------------------------------------------------


def test_connection_settings_point_at_api_v1(box: BuchhaltungsButlerSandbox) -> None:
    assert box.connection_settings() == {
        "base_url": f"http://127.0.0.1:{box.port}/api/v1",
        "api_client": "ihost-client",
        "api_secret": "sandbox-secret",
        "api_key": "sandbox-key",
    }


def test_unknown_paths_other_methods_and_the_literal_id_segment_get_html_404(
    api: httpx.Client, box: BuchhaltungsButlerSandbox
) -> None:
    html_404(post(api, "/products/add", name="x"))
    html_404(post(api, "/receipts/get/id_by_customer"))
    html_404(post(api, "/receipts/get/abc"))
    html_404(api.get("/receipts/get"))
    html_404(api.put("/settings/add/debtor", json={"api_key": "sandbox-key"}))
    html_404(httpx.post(f"{box.base_url}/api/v2/receipts/get", json={}))
    invalid(post(api, "/receipts/get/1"), "id_by_customer")  # an id in the path: JSON


def test_real_endpoints_not_emulated_answer_501(api: httpx.Client) -> None:
    for path in ("/transactions/get", "/postings/add/free", "/settings/get/creditors"):
        refused(post(api, path), 501, 0, f"/api/v1{path}: {NOT_EMULATED}")
    refused(post(api, "/transactions/get/12"), 501, 0, NOT_EMULATED)


def test_basic_auth_is_code_3(box: BuchhaltungsButlerSandbox) -> None:
    url = box.connection_settings()["base_url"] + "/accounts/get"
    body = {"api_key": "sandbox-key"}
    refused(httpx.post(url, json=body), 401, 3)
    refused(httpx.post(url, json=body, auth=("ihost-client", "wrong")), 401, 3)
    ok(httpx.post(url, json=body, auth=("ihost-client", "sandbox-secret")))


def test_api_key_is_code_4(api: httpx.Client) -> None:
    refused(api.post("/accounts/get", json={}), 401, 4)
    refused(api.post("/accounts/get", json={"api_key": "other"}), 401, 4)


def test_inactive_customer_is_code_11(api: httpx.Client, box: BuchhaltungsButlerSandbox) -> None:
    box.inactive = True
    refused(post(api, "/accounts/get"), 403, 11, "inactive")
    box.inactive = False
    ok(post(api, "/accounts/get"))


def test_no_body_is_code_23(api: httpx.Client) -> None:
    refused(api.post("/accounts/get", content=b""), 400, 23)


def test_unknown_empty_and_null_parameters_are_refused(api: httpx.Client) -> None:
    invalid(post(api, "/settings/get/debtors", page=2), "page", NOT_EMULATED)
    invalid(post(api, "/settings/add/debtor", name="Acme", city=""), "city", "omit")
    invalid(post(api, "/settings/add/debtor", name="Acme", city=None), "city", "omit")
    invalid(post(api, "/settings/add/debtor", name=""), "name", "is required")
    invalid(post(api, "/settings/add/debtor"), "name", "is required")


def test_form_bodies_with_flat_fields_lists_and_one_level(
    api: httpx.Client, box: BuchhaltungsButlerSandbox
) -> None:
    form = {"content-type": "application/x-www-form-urlencoded"}
    answer = api.post(
        "/settings/add/debtor", content=b"api_key=sandbox-key&name=Form+AG", headers=form
    )
    assert ok(answer)["postingaccount_number"] == "10001"
    box.seed(bhb.RECEIPTS, [receipt(amount=5), receipt(amount=7)])
    query = b"api_key=sandbox-key&list_direction=outbound&order[amount]=DESC&limit=1"
    listed = ok(api.post("/receipts/get", content=query, headers=form))
    assert [r["amount"] for r in listed["data"]] == ["7.00"]
    nested = b"api_key=sandbox-key&debtors[0][name]=A"
    invalid(
        api.post("/settings/add-batch/debtors", content=nested, headers=form), "debtors[0][name]"
    )


# --- debtors ----------------------------------------------------------------------------------


def test_debtor_add_get_and_the_field_name_asymmetries(api: httpx.Client) -> None:
    answer = ok(
        post(
            api,
            "/settings/add/debtor",
            name="Müller GmbH",
            contact_person_name="Eva Müller",
            street="Hauptstr. 1",
            additional_address_line="Hinterhaus",
            zip="10115",
            city="Berlin",
            country="Deutschland",
            customer_number="K-1",
            sales_tax_id="DE123456789",
            email="eva@example.de",
        )
    )
    assert answer == {"success": True, "postingaccount_number": "10001", "message": ""}
    listed = ok(post(api, "/settings/get/debtors"))
    assert listed["rows"] == 1 and "total" not in listed
    assert listed["data"] == [
        {
            "type": "debitor",
            "name": "Müller GmbH",
            "postingaccount_number": "10001",
            "contact_person_name": "Eva Müller",
            "street": "Hauptstr. 1",
            "additional_addressline": "Hinterhaus",
            "zip": "10115",
            "city": "Berlin",
            "country": "DE",
            "customer_number": "K-1",
            "sales_tax_id_eu": "DE123456789",
            "email": "eva@example.de",
            "uid_ch": None,
            "iban": None,
            "bic": None,
            "import_pending": 0,
        }
    ]
    invalid(
        post(api, "/settings/add/debtor", name="X", additional_addressline="y"),
        "additional_addressline",
    )
    invalid(post(api, "/settings/add/debtor", name="X", sales_tax_id_eu="y"), "sales_tax_id_eu")


def test_debtor_countries_iso_or_german_names(
    api: httpx.Client, box: BuchhaltungsButlerSandbox
) -> None:
    ok(post(api, "/settings/add/debtor", name="A", country="Niederlande"))
    ok(post(api, "/settings/add/debtor", name="B", country="AT"))
    invalid(post(api, "/settings/add/debtor", name="C", country="Netherlands"), "country")
    invalid(post(api, "/settings/add/debtor", name="C", country="XX"), "country")
    assert [d["country"] for d in box.debtors] == ["NL", "AT"]


def test_debtor_numbers_from_10001_and_their_range(
    api: httpx.Client, box: BuchhaltungsButlerSandbox
) -> None:
    box.seed(bhb.DEBTORS, [{"name": "Seeded", "postingaccount_number": "10002"}])
    assert ok(post(api, "/settings/add/debtor", name="A"))["postingaccount_number"] == "10001"
    assert ok(post(api, "/settings/add/debtor", name="B"))["postingaccount_number"] == "10003"
    given = ok(post(api, "/settings/add/debtor", name="C", postingaccount_number="20000"))
    assert given["postingaccount_number"] == "20000"
    for number in ("9999", "70000"):
        invalid(
            post(api, "/settings/add/debtor", name="D", postingaccount_number=number),
            "postingaccount_number",
            "10000",
        )
    invalid(
        post(api, "/settings/add/debtor", name="D", postingaccount_number="10000"),
        "postingaccount_number",
        "collective",
    )
    invalid(
        post(api, "/settings/add/debtor", name="D", postingaccount_number="20000"),
        "postingaccount_number",
        "taken",
    )
    assert [d["postingaccount_number"] for d in box.debtors] == ["10001", "10002", "10003", "20000"]


def test_debtor_paging_rows_per_page_no_total(
    box: BuchhaltungsButlerSandbox, api: httpx.Client
) -> None:
    box.seed(bhb.DEBTORS, [{"name": f"D{i}"} for i in range(30)])
    first = ok(post(api, "/settings/get/debtors"))
    assert (
        first["rows"] == 25
        and len(first["data"]) == 25
        and set(first) == {"success", "message", "rows", "data"}
    )
    rest = ok(post(api, "/settings/get/debtors", limit=25, offset=25))
    assert rest["rows"] == 5 and rest["data"][0]["postingaccount_number"] == "10026"
    beyond = ok(post(api, "/settings/get/debtors", offset=100))
    assert beyond["rows"] == 0 and beyond["data"] == []
    invalid(post(api, "/settings/get/debtors", limit=1001), "limit", "at most 1000")
    invalid(post(api, "/settings/get/debtors", limit="ten"), "limit")


def test_debtor_page_max_is_a_setting() -> None:
    with BuchhaltungsButlerSandbox(debtor_page_max=50) as box:
        settings = box.connection_settings()
        answer = httpx.post(
            settings["base_url"] + "/settings/get/debtors",
            json={"api_key": "sandbox-key", "limit": 51},
            auth=(settings["api_client"], settings["api_secret"]),
        )
    invalid(answer, "limit", "at most 50")


def test_debtor_update_keeps_the_other_fields(
    api: httpx.Client, box: BuchhaltungsButlerSandbox
) -> None:
    ok(post(api, "/settings/add/debtor", name="Acme", city="Köln", email="a@example.de"))
    answer = ok(
        post(
            api,
            "/settings/update/debtor",
            postingaccount_number=10001,
            street="Ring 2",
            additional_address_line="2. OG",
        )
    )
    assert answer["postingaccount_number"] == "10001"
    debtor = box.debtors[0]
    assert (debtor["name"], debtor["city"], debtor["email"]) == ("Acme", "Köln", "a@example.de")
    assert (debtor["street"], debtor["additional_addressline"]) == ("Ring 2", "2. OG")
    invalid(
        post(api, "/settings/update/debtor", postingaccount_number=10999, city="X"),
        "postingaccount_number",
        "10999",
    )
    invalid(post(api, "/settings/update/debtor", city="X"), "postingaccount_number", "required")


def test_debtor_batch_in_order_all_or_nothing_no_email(
    api: httpx.Client, box: BuchhaltungsButlerSandbox
) -> None:
    answer = ok(
        post(
            api,
            "/settings/add-batch/debtors",
            debtors=[{"name": "A"}, {"name": "B", "postingaccount_number": "30000"}, {"name": "C"}],
        )
    )
    assert answer["postingaccount_numbers"] == ["10001", "30000", "10002"]
    refusal = post(
        api,
        "/settings/add-batch/debtors",
        debtors=[{"name": "D"}, {"name": "E", "email": "e@example.de"}],
    )
    invalid(refusal, "debtors[1].email")
    invalid(
        post(
            api,
            "/settings/add-batch/debtors",
            debtors=[{"name": "D"}, {"name": "E", "country": "Mars"}],
        ),
        "debtors[1].country",
    )
    invalid(
        post(
            api,
            "/settings/add-batch/debtors",
            debtors=[
                {"name": "D", "postingaccount_number": "40000"},
                {"name": "E", "postingaccount_number": "40000"},
            ],
        ),
        "debtors[1].postingaccount_number",
        "taken",
    )
    invalid(
        post(api, "/settings/add-batch/debtors", debtors=[{"name": f"N{i}"} for i in range(51)]),
        "debtors",
        "50",
    )
    assert [d["name"] for d in box.debtors] == ["A", "C", "B"]
    ok(post(api, "/settings/add-batch/debtors", debtors=[{"name": f"N{i}"} for i in range(50)]))
    assert len(box.debtors) == 53


# --- receipts ---------------------------------------------------------------------------------


def test_receipts_need_a_direction_and_show_amounts_as_strings(
    api: httpx.Client, box: BuchhaltungsButlerSandbox
) -> None:
    box.seed(bhb.RECEIPTS, [receipt(amount=1234.5), receipt(type="invoice inbound", amount=-3)])
    invalid(post(api, "/receipts/get"), "list_direction", "required")
    invalid(post(api, "/receipts/get", list_direction="both"), "list_direction")
    listed = ok(post(api, "/receipts/get", list_direction="outbound"))
    assert listed["rows"] == 1
    row = listed["data"][0]
    assert list(row) == LIST_FIELDS
    assert (row["id_by_customer"], row["amount"], row["amount_paid"], row["deleted"]) == (
        "1",
        "1234.50",
        "0.00",
        "0",
    )
    inbound = ok(post(api, "/receipts/get", list_direction="inbound"))["data"]
    assert [r["amount"] for r in inbound] == ["-3.00"]


def test_receipt_limits_and_offset(api: httpx.Client, box: BuchhaltungsButlerSandbox) -> None:
    box.seed(bhb.RECEIPTS, [receipt() for _ in range(3)])
    invalid(
        post(api, "/receipts/get", list_direction="outbound", limit=501), "limit", "at most 500"
    )
    page = ok(post(api, "/receipts/get", list_direction="outbound", limit=2, offset=2))
    assert page["rows"] == 1 and page["data"][0]["id_by_customer"] == "3"
    assert ok(post(api, "/receipts/get", list_direction="outbound", offset=3))["data"] == []


def test_receipt_filters_and_order(api: httpx.Client, box: BuchhaltungsButlerSandbox) -> None:
    box.seed(
        bhb.RECEIPTS,
        [
            receipt(date="2026-01-10", counterparty="Beta AG", invoicenumber="RE-1", amount=50),
            receipt(
                date="2026-02-10",
                counterparty="Alpha GmbH",
                invoicenumber="RE-2",
                amount=80,
                amount_paid=80,
            ),
            receipt(
                date="2026-03-10",
                counterparty="Gamma KG",
                invoicenumber="RE-3",
                amount=20,
                payment_date="2026-03-11",
            ),
            receipt(
                date="2026-03-11",
                counterparty="Delta",
                invoicenumber="RE-4",
                amount=10,
                deleted="1",
            ),
        ],
    )

    def ids(**params: Any) -> list[str]:
        answer = ok(post(api, "/receipts/get", list_direction="outbound", **params))
        return [r["id_by_customer"] for r in answer["data"]]

    assert ids() == ["1", "2", "3"]
    assert ids(payment_status="paid") == ["2", "3"]
    assert ids(payment_status="unpaid") == ["1"]
    assert ids(date_from="2026-02-10", date_to="2026-03-10") == ["2", "3"]
    assert ids(invoicenumber="RE-1") == ["1"]
    assert ids(counterparty="alpha") == ["2"]
    assert ids(order={"amount": "DESC"}) == ["2", "1", "3"]
    assert ids(order={"invoicingparty": "ASC"}) == ["2", "1", "3"]
    assert ids(order={"date": "desc"}) == ["3", "2", "1"]
    assert ids(deleted="1") == ["4"]
    invalid(
        post(api, "/receipts/get", list_direction="outbound", order={"colour": "ASC"}),
        "order.colour",
    )
    invalid(
        post(api, "/receipts/get", list_direction="outbound", date_from="01.03.2026"), "date_from"
    )
    invalid(
        post(api, "/receipts/get", list_direction="outbound", payment_status="open"),
        "payment_status",
    )


def test_modified_since_tracks_edits_only(
    api: httpx.Client, box: BuchhaltungsButlerSandbox
) -> None:
    added = ok(
        post(
            api,
            "/receipts/add",
            type="invoice outbound",
            counterparty="Acme",
            invoice_number="A-1",
            date="2026-03-01",
            amount=10,
            currency="EUR",
        )
    )
    made = ok(post(api, "/invoices/create", **invoice()))
    box.seed(bhb.RECEIPTS, [receipt(), receipt(modified="2026-03-09 12:00:00")])

    def since(value: str) -> list[str]:
        answer = ok(
            post(api, "/receipts/get", list_direction="outbound", date_since_last_modified=value)
        )
        return [r["id_by_customer"] for r in answer["data"]]

    assert since("2026-01-01 00:00:00") == ["4"]  # nothing added shows: it was never edited
    box.clock = lambda: datetime(2026, 3, 10, 11, 30, tzinfo=timezone.utc)  # 12:30 in Berlin
    edited = box.edit_receipt(added["id_by_customer"], counterparty="Acme AG")
    assert edited["modified"] == "2026-03-10 12:30:00" and edited["counterparty"] == "Acme AG"
    assert since("2026-03-10 12:00:00") == ["1"]
    assert since("2026-03-10 12:30:01") == []
    assert since("2026-03-09") == ["1"]  # a date alone means 23:59:59 of that day
    assert made["id_by_customer"] not in since("2000-01-01")
    invalid(
        post(api, "/receipts/get", list_direction="outbound", date_since_last_modified="yesterday"),
        "date_since_last_modified",
    )


def test_edit_receipt_pays_and_deletes(api: httpx.Client, box: BuchhaltungsButlerSandbox) -> None:
    box.seed(bhb.RECEIPTS, [receipt(amount=40)])
    box.edit_receipt(1, payment_date="2026-03-05")
    assert (
        ok(post(api, "/receipts/get", list_direction="outbound", payment_status="paid"))["rows"]
        == 1
    )
    box.edit_receipt(1, deleted=True)
    assert ok(post(api, "/receipts/get", list_direction="outbound"))["rows"] == 0
    with pytest.raises(ValueError, match="colour"):
        box.edit_receipt(1, colour="red")
    with pytest.raises(ValueError, match="no receipt 9"):
        box.edit_receipt(9, amount=1)


def test_receipt_detail_shape(api: httpx.Client, box: BuchhaltungsButlerSandbox) -> None:
    box.seed(
        bhb.RECEIPTS,
        [
            receipt(
                delivery_date="2026-02-27",
                due_date="2026-03-15",
                amount=119,
                vat=[{"rate": 19, "net": 100, "vat": 19}],
                payment_reference="PR-1",
            )
        ],
    )
    answer = ok(post(api, "/receipts/get/1"))
    assert "rows" not in answer
    data = answer["data"]
    assert len(data) == 23
    assert "delivery_date" not in data and "due_date" not in data
    assert (data["date_delivery"], data["date_payment_due"]) == ("2026-02-27", "2026-03-15")
    assert data["list_direction"] == "outbound" and data["e_invoice_type"] == 0
    assert (data["amount"], data["amount_original"], data["currency"]) == (
        "119.00",
        "119.00",
        "EUR",
    )
    assert data["vat"] == [{"rate": "19.00", "net": "100.00", "vat": "19.00"}]
    invalid(post(api, "/receipts/get/99"), "id_by_customer", "99")
    invalid(post(api, "/receipts/get/1", get_file="1"), "get_file", NOT_EMULATED)


def test_receipt_add(api: httpx.Client, box: BuchhaltungsButlerSandbox) -> None:
    body = {
        "type": "invoice outbound",
        "counterparty": "Acme",
        "invoice_number": "",
        "date": "2026-03-02",
        "amount": 119,
        "currency": "EUR",
    }
    answer = ok(post(api, "/receipts/add", **body, vat_rate=19, account="1200"))
    assert answer["id_by_customer"] == "1"
    stored = box.dump(bhb.RECEIPTS)[0]
    assert (stored["amount"], stored["invoicenumber"], stored["account"]) == ("119.00", "", "1200")
    assert stored["vat"] == [{"rate": "19.00", "net": "100.00", "vat": "19.00"}]
    assert stored["date_uploaded"] == "2026-03-10" and stored["modified"] is None
    invalid(post(api, "/receipts/add", **{**body, "amount": 0}), "amount", "not be 0")
    invalid(post(api, "/receipts/add", **{**body, "amount": "119"}), "amount", "number")
    invalid(
        post(api, "/receipts/add", **{**body, "invoice_number": "x" * 61}), "invoice_number", "60"
    )
    invalid(post(api, "/receipts/add", **{**body, "type": "invoice"}), "type")
    invalid(post(api, "/receipts/add", **{**body, "account": "1300"}), "account")
    inbound = {**body, "type": "invoice inbound", "creditor_debtor": "70001"}
    ok(post(api, "/receipts/add", **inbound, account="8400"))
    invalid(post(api, "/receipts/add", **{**body, "creditor_debtor": "10001"}), "creditor_debtor")
    missing = {k: v for k, v in body.items() if k != "currency"}
    invalid(post(api, "/receipts/add", **missing), "currency", "required")
    assert len(box.dump(bhb.RECEIPTS)) == 2


# --- invoices ---------------------------------------------------------------------------------


def test_invoice_with_net_prices(api: httpx.Client, box: BuchhaltungsButlerSandbox) -> None:
    answer = ok(post(api, "/invoices/create", **invoice()))
    assert answer == {
        "success": True,
        "message": "",
        "id_by_customer": "1",
        "invoicenumber": "RE-2026-00001",
        "file_name": "RE-2026-00001.pdf",
    }
    (made,) = box.dump(bhb.INVOICES)  # the body as received, with the computed lines
    assert made["item_single_price"] == [9.99, 20.0] and made["item_amount"] == [3, 1]
    assert made["company_name"] == "Acme GmbH" and made["invoicenumber"] == "RE-2026-00001"
    lines = box.invoice_lines(1)
    assert made["lines"] == lines
    assert [(x["net"], x["vat"], x["gross"]) for x in lines] == [
        ("29.97", "5.69", "35.66"),
        ("20.00", "1.40", "21.40"),
    ]
    detail = ok(post(api, "/receipts/get/1"))["data"]
    assert (detail["type"], detail["amount"], detail["counterparty"]) == (
        "invoice outbound",
        "57.06",
        "Acme GmbH",
    )
    assert detail["invoicenumber"] == "RE-2026-00001"
    assert detail["vat"] == [
        {"rate": "7.00", "net": "20.00", "vat": "1.40"},
        {"rate": "19.00", "net": "29.97", "vat": "5.69"},
    ]


def test_invoice_with_gross_prices_and_a_credit(
    api: httpx.Client, box: BuchhaltungsButlerSandbox
) -> None:
    gross = invoice(show_prices_type="gross", item_single_price=[11.9, 10.7], item_amount=[2, 1])
    ok(post(api, "/invoices/create", **gross))
    assert [(x["net"], x["vat"]) for x in box.invoice_lines(1)] == [
        ("20.00", "3.80"),
        ("10.00", "0.70"),
    ]
    assert box.dump(bhb.RECEIPTS)[0]["amount"] == "34.50"
    credit = ok(post(api, "/invoices/create", **invoice(type="credit")))
    assert box.dump(bhb.RECEIPTS)[1]["type"] == "credit outbound"
    assert credit["invoicenumber"] == "RE-2026-00002"


def test_invoice_refusals(api: httpx.Client, box: BuchhaltungsButlerSandbox) -> None:
    invalid(post(api, "/invoices/create", **invoice(item_unit=["Stk"])), "item_unit", "as many")
    invalid(
        post(api, "/invoices/create", **invoice(item_vat=[19, 101])), "item_vat[1]", "at most 100"
    )
    invalid(post(api, "/invoices/create", **invoice(item_name=[])), "item_name")
    invalid(post(api, "/invoices/create", **invoice(show_prices_type="brutto")), "show_prices_type")
    invalid(
        post(api, "/invoices/create", **invoice(customer_number="K-9")), "customer_number", "K-9"
    )
    invalid(
        post(api, "/invoices/create", **invoice(recurring_interval="monthly")),
        "recurring_interval",
        NOT_EMULATED,
    )
    assert box.dump(bhb.RECEIPTS) == [] and box.dump(bhb.INVOICES) == []


def test_invoice_numbers_and_the_linked_debtor(
    api: httpx.Client, box: BuchhaltungsButlerSandbox
) -> None:
    box.seed(bhb.DEBTORS, [{"name": "Acme GmbH", "customer_number": "K-1"}])
    given = ok(
        post(
            api, "/invoices/create", **invoice(invoicenumber="RE-2026-00001", customer_number="K-1")
        )
    )
    assert given["invoicenumber"] == "RE-2026-00001"
    assigned = ok(post(api, "/invoices/create", **invoice(customer_number="10001", due_days=14)))
    assert assigned["invoicenumber"] == "RE-2026-00002"
    invalid(
        post(api, "/invoices/create", **invoice(invoicenumber="RE-2026-00002")),
        "invoicenumber",
        "already exists",
    )
    invoices = box.dump(bhb.INVOICES)
    assert [i["debtor_postingaccount_number"] for i in invoices] == ["10001", "10001"]
    assert box.dump(bhb.RECEIPTS)[1]["due_date"] == "2026-03-15"


def test_invoice_draft_creates_nothing(api: httpx.Client, box: BuchhaltungsButlerSandbox) -> None:
    assert ok(post(api, "/invoices/create/draft", **invoice())) == {"success": True, "message": ""}
    invalid(post(api, "/invoices/create/draft", **invoice(item_vat=[19])), "item_vat")
    assert box.dump(bhb.RECEIPTS) == [] and box.dump(bhb.INVOICES) == []
    with pytest.raises(ValueError, match="no invoice"):
        box.invoice_lines(1)


# --- reference data ---------------------------------------------------------------------------


def test_reference_data(api: httpx.Client, box: BuchhaltungsButlerSandbox) -> None:
    box.seed(bhb.DEBTORS, [{"name": "Acme"}])
    chart = ok(post(api, "/settings/get/postingaccounts"))["data"]
    names = {row["postingaccount_number"]: (row["name"], row["type"]) for row in chart}
    assert names["8400"] == ("Erlöse 19% USt", "postingaccount")
    assert names["8300"][0] == "Erlöse 7% USt" and "8125" in names and "8338" in names
    assert names["1200"] == ("Bank", "account") and names["10001"] == ("Acme", "debtor")
    accounts = ok(post(api, "/accounts/get"))
    assert accounts["data"] == [
        {"name": "Kasse", "postingaccount_number": "1000"},
        {"name": "Bank", "postingaccount_number": "1200"},
    ]
    invalid(post(api, "/accounts/get", limit=10), "limit")
    places = ok(post(api, "/cost-locations/get"))["data"]
    assert [(c["id"], c["name"]) for c in places] == [("100", "Webshop"), ("200", "Laden")]


# --- rate limit -------------------------------------------------------------------------------


class Ticker:
    """A monotonic clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def limited() -> tuple[BuchhaltungsButlerSandbox, Ticker]:
    box = BuchhaltungsButlerSandbox(rate_limit=True)
    ticker = Ticker()
    box.monotonic = ticker
    return box, ticker


def test_rate_limit_100_a_minute_then_code_15() -> None:
    box, ticker = limited()
    with box:
        settings = box.connection_settings()
        with httpx.Client(
            base_url=settings["base_url"], auth=("ihost-client", "sandbox-secret")
        ) as api:
            for _ in range(100):
                ok(post(api, "/accounts/get"))
            answer = post(api, "/accounts/get")
            refused(answer, 403, 15, "at most 100 per minute", "Retry in 1 seconds")
            assert answer.headers["retry-after"] == "1"
            assert box.refused == 1
            ticker.now += 0.6  # one request's worth of refill
            ok(post(api, "/accounts/get"))
            refused(post(api, "/accounts/get"), 403, 15)
            assert box.refused == 2 and box.requests == 103


def test_no_rate_limit_unless_asked(api: httpx.Client, box: BuchhaltungsButlerSandbox) -> None:
    for _ in range(101):
        ok(post(api, "/accounts/get"))
    assert box.refused == 0


def test_one_batch_per_five_seconds() -> None:
    box, ticker = limited()
    with box:
        settings = box.connection_settings()
        with httpx.Client(
            base_url=settings["base_url"], auth=("ihost-client", "sandbox-secret")
        ) as api:
            ok(post(api, "/settings/add-batch/debtors", debtors=[{"name": "A"}]))
            ticker.now += 1
            answer = post(api, "/settings/add-batch/debtors", debtors=[{"name": "B"}])
            refused(answer, 403, 15, "Retry in 4 seconds")
            assert answer.headers["retry-after"] == "4"
            ok(post(api, "/settings/add/debtor", name="C"))  # single writes are not held
            ticker.now += 4
            ok(post(api, "/settings/add-batch/debtors", debtors=[{"name": "B"}]))
    assert [d["name"] for d in box.debtors] == ["A", "C", "B"]


# --- seed and dump ----------------------------------------------------------------------------


def test_seed_refuses_unknown_kinds_fields_and_missing_ones(box: BuchhaltungsButlerSandbox) -> None:
    with pytest.raises(ValueError, match=r"products.*debtors, receipts"):
        box.seed("products", [])
    with pytest.raises(ValueError, match=r"debtors\[0\]\.colour"):
        box.seed(bhb.DEBTORS, [{"name": "A", "colour": "red"}])
    with pytest.raises(ValueError, match=r"receipts\[1\]\.amount: required"):
        box.seed(bhb.RECEIPTS, [receipt(), {"type": "invoice outbound", "date": "2026-01-01"}])
    with pytest.raises(ValueError, match=r"receipts\[0\]\.type"):
        box.seed(bhb.RECEIPTS, [receipt(type="bill")])
    with pytest.raises(ValueError, match="unknown kind"):
        box.dump("products")
    assert box.dump(bhb.RECEIPTS) == [] and box.debtors == []


def test_seed_over_http(box: BuchhaltungsButlerSandbox, api: httpx.Client) -> None:
    answer = httpx.post(
        f"{box.base_url}/_sandbox/seed/debtors",
        json=[{"name": "Via HTTP", "country": "Österreich"}],
    )
    assert answer.status_code == 200 and answer.json() == {"seeded": 1}
    bad = httpx.post(f"{box.base_url}/_sandbox/seed/debtors", json=[{"nme": "typo"}])
    assert bad.status_code == 400 and "debtors[0].nme" in bad.json()["error"]
    listed = ok(post(api, "/settings/get/debtors"))["data"]
    assert [(d["name"], d["country"], d["postingaccount_number"]) for d in listed] == [
        ("Via HTTP", "AT", "10001")
    ]


def test_dump_receipts_seeds_again(box: BuchhaltungsButlerSandbox) -> None:
    box.seed(
        bhb.RECEIPTS,
        [
            receipt(amount=12.5, modified="2026-03-01T10:00:00+00:00"),
            receipt(date_uploaded="2026-03-02 09:15:00"),
        ],
    )
    dumped = box.dump(bhb.RECEIPTS)
    assert dumped[0]["modified"] == "2026-03-01 11:00:00"  # Berlin local time
    assert (dumped[0]["date_uploaded"], dumped[1]["date_uploaded"]) == (
        "2026-03-01",
        "2026-03-02 09:15:00",
    )
    with BuchhaltungsButlerSandbox() as other:
        other.seed(bhb.RECEIPTS, dumped)
        assert other.dump(bhb.RECEIPTS) == dumped
