"""A BuchhaltungsButler API v1 emulator on 127.0.0.1 (DESIGN §9, api/buchhaltungsbutler.md,
bhb-wire.md).

Emulated as the notes show it (CONFIRMED there): every endpoint under `/api/v1/` is POST
only; an unknown path, another method, or the literal `id_by_customer` segment gets an HTML
404 page. HTTP Basic (API client and secret; code 3) plus `api_key` in every body (code 4);
no body at all: code 23; `inactive`: code 11. The envelopes (`rows` = rows in this page, no
total), offset paging (an offset past the end: 200 with no rows), amounts out as strings
with two decimals, booleans out as "0"/"1". Debtors (`/settings/get/debtors`,
`/settings/add/debtor`, `/settings/add-batch/debtors`, `/settings/update/debtor`) with the
read/write asymmetries (`additional_address_line` in, `additional_addressline` out;
`sales_tax_id` in, `sales_tax_id_eu` out; no `email` in a batch item), numbers 10001..69999
(10000 is the collective account), German country names. Receipts (`/receipts/get` with its
filters and `order`, `/receipts/get/{id}`, `/receipts/add`) and the observed quirk of
`date_since_last_modified`: it tracks edits only, so an added receipt has no modified time
until `edit_receipt` edits it. `/invoices/create` (net or gross prices, VAT per line
rounded to cents) makes an outbound receipt; `/invoices/create/draft` checks and keeps
nothing. `/settings/get/postingaccounts` (SKR03-like, with payment accounts and debtors, as
the live list has them), `/cost-locations/get`, `/accounts/get` (no paging).

PROPOSED (our design, fixed by bhb-wire.md): validation errors are HTTP 400 with code 10 and
a message naming the parameter; unknown parameters, empty strings and nulls are refused
(omit instead); the add-batch answer `postingaccount_numbers`; `customer_number` on an
invoice must name a debtor (its customer or posting-account number); invoice numbers
`RE-<year>-<5 digits>`, a duplicate refused; the receipt detail's `vat` as a list of
`{rate, net, vat}`; a receipt id the sandbox lacks: 400 code 10; a receipt's `account`
must be in the chart, its `creditor_debtor` a debtor (outbound) or 70000..99999 (inbound);
offers make an "offer outbound" receipt shown only with `include_offers`; `deleted` "1"
lists only the deleted receipts; `counterparty` filters by a case-insensitive part of the
name. The rate
limit (`rate_limit=True`): a token bucket of 100 per api_key refilling 100 a minute, one
add-batch per 5 s, 10 uploads a minute; a breach is HTTP 403 code 15 with `Retry-After`.
Bodies are JSON, or form-urlencoded with flat fields, `name[]` lists and one level of
`name[key]` (deeper nesting is refused: send JSON).

Not emulated, refused loudly: the other real endpoints (transactions, postings, creditors,
comments, reports, uploads, receipt batches and deletion, e-invoices, writes of posting
accounts, accounts and cost locations) answer HTTP 501 code 0 "<path>: not emulated by the
ihost sandbox"; `get_file`, recurring invoices and EUR discounts are refused with code 10.
Products, stock and orders have no endpoints: HTML 404.

Test-only controls: `POST /_sandbox/seed/{kind}` (the base class). In Python:
`seed(kind, records)` and `dump(kind)` (kinds in KINDS; dump also takes "invoices": each
body /invoices/create received, numbers as sent, with its invoice number and `lines`),
`debtors` (the read shape), `edit_receipt(id, **changes)` (an edit in the web app: sets the
modified time), `invoice_lines(id_by_customer)`, `inactive` (customer inactive), `refused`
(code-15 answers given), `requests` (API requests answered), `clock` (a callable giving an
aware datetime: "now") and `monotonic` (seconds, for the rate limit's buckets).
"""

from __future__ import annotations

import base64
import binascii
import copy
import json
import math
import re
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any
from urllib.parse import parse_qsl
from zoneinfo import ZoneInfo

from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import BaseRoute, Route

from host.sandbox import NOT_EMULATED, Sandbox

BERLIN = ZoneInfo("Europe/Berlin")
CENT = Decimal("0.01")
JSON_TYPE = "application/json; charset=utf-8"
PREFIX = "/api/v1/"

DEBTORS = "debtors"
RECEIPTS = "receipts"
POSTINGACCOUNTS = "postingaccounts"
COST_LOCATIONS = "cost_locations"
ACCOUNTS = "accounts"
INVOICES = "invoices"  # dump only: the invoices /invoices/create made, with their lines
KINDS = (DEBTORS, RECEIPTS, POSTINGACCOUNTS, COST_LOCATIONS, ACCOUNTS)

RATE_PER_MINUTE = 100
UPLOADS_PER_MINUTE = 10
BATCH_SPACING = 5.0
BATCH_MAX = 50
RECEIPT_PAGE_MAX = 500
COLLECTIVE_DEBTOR = 10000
DEBTOR_RANGE = (10000, 69999)
RECEIPT_TYPES = ("invoice inbound", "invoice outbound", "credit inbound", "credit outbound")
OFFER_TYPE = "offer outbound"

NOT_FOUND_PAGE = (
    "<!DOCTYPE html>\n<html><head><title>404 Not Found</title></head>"
    "<body><h1>Not Found</h1><p>The requested URL was not found on this server.</p>"
    "</body></html>\n"
)
#: real endpoints the sandbox does not emulate (501); `{id}` paths take digits
NOT_EMULATED_PATHS = frozenset(
    """receipts/addBatch receipts/upload receipts/assigned-transactions/get transactions/get
    transactions/add transactions/addBatch transactions/assign/receipt
    transactions/assign-batch/receipt transactions/unassign/receipt
    transactions/assigned-receipts/get invoices/create/e-invoice postings/get
    postings/add/receipt postings/add/transaction postings/add/free
    postings/add-batch/receipts postings/add-batch/transactions postings/add-batch/free
    postings/unconfirm/receipt postings/unconfirm/transaction postings/unconfirm/free
    postings/assign/receipt-to-free-posting postings/cancel settings/get/creditors
    settings/add/creditor settings/add-batch/creditors settings/update/creditor
    settings/add/postingaccount settings/update/postingaccount accounts/add
    cost-locations/add cost-locations/update cost-locations/delete comments/add
    reports/create/bwa reports/create/sums reports/get/bwa reports/get/sums
    reports/get/sums/ledger""".split()  # noqa: SIM905 (a word list reads best)
)
NOT_EMULATED_ID = re.compile(r"(?:transactions/get|receipts/delete|receipts/restore)/\d+")
RECEIPT_ID = re.compile(r"receipts/get/(\d+)")

ISO_COUNTRIES = frozenset(
    """AD AE AF AG AI AL AM AO AQ AR AS AT AU AW AX AZ BA BB BD BE BF BG BH BI BJ BL BM BN BO
    BQ BR BS BT BV BW BY BZ CA CC CD CF CG CH CI CK CL CM CN CO CR CU CV CW CX CY CZ DE DJ DK
    DM DO DZ EC EE EG EH ER ES ET FI FJ FK FM FO FR GA GB GD GE GF GG GH GI GL GM GN GP GQ GR
    GS GT GU GW GY HK HM HN HR HT HU ID IE IL IM IN IO IQ IR IS IT JE JM JO JP KE KG KH KI KM
    KN KP KR KW KY KZ LA LB LC LI LK LR LS LT LU LV LY MA MC MD ME MF MG MH MK ML MM MN MO MP
    MQ MR MS MT MU MV MW MX MY MZ NA NC NE NF NG NI NL NO NP NR NU NZ OM PA PE PF PG PH PK PL
    PM PN PR PS PT PW PY QA RE RO RS RU RW SA SB SC SD SE SG SH SI SJ SK SL SM SN SO SR SS ST
    SV SX SY SZ TC TD TF TG TH TJ TK TL TM TN TO TR TT TV TW TZ UA UG UM US UY UZ VA VC VE VG
    VI VN VU WF WS YE YT ZA ZM ZW""".split()  # noqa: SIM905
)
GERMAN_COUNTRIES = {
    "deutschland": "DE", "österreich": "AT", "schweiz": "CH", "liechtenstein": "LI",
    "niederlande": "NL", "belgien": "BE", "luxemburg": "LU", "frankreich": "FR",
    "italien": "IT", "spanien": "ES", "portugal": "PT", "polen": "PL", "tschechien": "CZ",
    "tschechische republik": "CZ", "dänemark": "DK", "schweden": "SE", "finnland": "FI",
    "norwegen": "NO", "island": "IS", "irland": "IE", "vereinigtes königreich": "GB",
    "großbritannien": "GB", "griechenland": "GR", "ungarn": "HU", "slowakei": "SK",
    "slowenien": "SI", "kroatien": "HR", "rumänien": "RO", "bulgarien": "BG",
    "estland": "EE", "lettland": "LV", "litauen": "LT", "malta": "MT", "zypern": "CY",
    "monaco": "MC", "türkei": "TR", "vereinigte staaten": "US",
    "vereinigte staaten von amerika": "US", "usa": "US", "kanada": "CA", "china": "CN",
    "japan": "JP", "australien": "AU",
}  # fmt: skip

POSTINGACCOUNT_SEED = [
    {"postingaccount_number": "4980", "name": "Sonstiger Betriebsbedarf"},
    {"postingaccount_number": "8120", "name": "Steuerfreie Umsätze § 4 Nr. 1a UStG"},
    {"postingaccount_number": "8125", "name": "Steuerfreie innergem. Lieferungen"},
    {"postingaccount_number": "8200", "name": "Erlöse"},
    {"postingaccount_number": "8300", "name": "Erlöse 7% USt"},
    {"postingaccount_number": "8338", "name": "Erlöse EU 19%"},
    {"postingaccount_number": "8400", "name": "Erlöse 19% USt"},
    {"postingaccount_number": "8736", "name": "Gewährte Skonti 19% USt"},
]
ACCOUNT_SEED = [
    {"postingaccount_number": "1000", "name": "Kasse", "subtype": "cash"},
    {"postingaccount_number": "1200", "name": "Bank", "subtype": "bank/institution"},
]
COST_LOCATION_SEED = [{"code": "100", "name": "Webshop"}, {"code": "200", "name": "Laden"}]


class Refusal(Exception):
    """An error answer: HTTP status, BuchhaltungsButler's error_code, message, headers."""

    def __init__(
        self, status: int, code: int, message: str, headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.headers = status, code, message, headers

    def response(self) -> Response:
        body = {"success": False, "error_code": self.code, "message": self.message}
        return JSONResponse(body, self.status, headers=self.headers, media_type=JSON_TYPE)


def invalid(name: str, why: str) -> Refusal:
    """The validation refusal (PROPOSED code 10) naming the parameter."""
    return Refusal(400, 10, f"Parameter '{name}' {why}")


# --- parameters -----------------------------------------------------------------------------


@dataclass(frozen=True)
class P:
    """One body parameter: its kind (text code number int amount date since choice flag order
    country email list debtors), whether required, bounds (length for text, value for
    numbers), choices, whether "" is allowed, a list's item, and whether it is refused as
    not emulated."""

    kind: str
    required: bool = False
    low: int | None = None
    high: int | None = None
    choices: tuple[str, ...] = ()
    empty: bool = False
    item: P | None = None
    refused: bool = False


Spec = dict[str, P]
TEXT, CODE, DATE = P("text"), P("code"), P("date")
EMAIL_RE = re.compile(r"[^@\s]+@[^@\s.][^@\s]*\.[^@\s]+")
DATE_RE = re.compile(r"\d{4}-\d{2}-\d{2}")
SINCE_RE = re.compile(r"\d{4}-\d{2}-\d{2}(?: \d{2}:\d{2}:\d{2})?")


def _day(name: str, value: Any) -> str:
    try:
        if isinstance(value, str) and DATE_RE.fullmatch(value):
            return date.fromisoformat(value).isoformat()
    except ValueError:
        pass
    raise invalid(name, "must be a date YYYY-MM-DD")


def _amount(name: str, value: Any, form: bool) -> Decimal:
    if isinstance(value, str) and form:
        try:
            value = Decimal(value.strip())
        except InvalidOperation:
            raise invalid(name, "must be a number") from None
    if isinstance(value, bool) or not isinstance(value, (int, Decimal)):
        raise invalid(name, "must be a number")
    number = Decimal(value)
    if not number.is_finite():
        raise invalid(name, "must be a number")
    return number


def _int(name: str, value: Any, form: bool, digits_ok: bool) -> int:
    if isinstance(value, str) and (form or digits_ok) and re.fullmatch(r"\d+", value.strip()):
        return int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        raise invalid(name, "must be a whole number")
    return value


def country(value: str) -> str | None:
    """The ISO-2 code of an ISO-2 code or a German country name; None for anything else."""
    if value.upper() in ISO_COUNTRIES and len(value) == 2:
        return value.upper()
    return GERMAN_COUNTRIES.get(value.strip().casefold())


def _value(name: str, value: Any, p: P, form: bool) -> Any:
    """The checked (and converted) value of one parameter; Refusal names it."""
    if value is None:
        raise invalid(name, "must not be null: omit it instead")
    if value == "" and p.kind not in ("list", "debtors", "order"):
        if p.empty:
            return ""
        raise invalid(name, "is required" if p.required else "must not be empty: omit it instead")
    if p.refused:
        raise invalid(name, NOT_EMULATED)
    kind = p.kind
    if kind == "debtors":  # checked item by item by its endpoint
        return value
    if kind in ("text", "choice", "email", "country", "since"):
        if not isinstance(value, str):
            raise invalid(name, "must be a string")
        if p.high is not None and len(value) > p.high:
            raise invalid(name, f"must be at most {p.high} characters long")
        if kind == "choice" and value not in p.choices:
            raise invalid(name, "must be one of " + ", ".join(p.choices))
        if kind == "email" and not EMAIL_RE.fullmatch(value):
            raise invalid(name, "must be an e-mail address")
        if kind == "country":
            code = country(value)
            if code is None:
                raise invalid(name, "must be an ISO-2 country code or a German country name")
            return code
        if kind == "since":
            if not SINCE_RE.fullmatch(value):
                raise invalid(name, "must be YYYY-MM-DD HH:MM:SS or YYYY-MM-DD")
            try:
                moment = datetime.fromisoformat(value if " " in value else value + " 23:59:59")
            except ValueError:
                raise invalid(name, "must be YYYY-MM-DD HH:MM:SS or YYYY-MM-DD") from None
            return moment
        return value
    if kind == "code":  # an id: a string, or a whole number taken as its digits
        if isinstance(value, int) and not isinstance(value, bool):
            return str(value)
        if not isinstance(value, str):
            raise invalid(name, "must be a string")
        return value
    if kind in ("int", "number"):
        number = _int(name, value, form, kind == "number")
        if p.low is not None and number < p.low:
            raise invalid(name, f"must be at least {p.low}")
        if p.high is not None and number > p.high:
            raise invalid(name, f"must be at most {p.high}")
        return number
    if kind == "amount":
        amount = _amount(name, value, form)
        if p.low is not None and amount < p.low:
            raise invalid(name, f"must be at least {p.low}")
        if p.high is not None and amount > p.high:
            raise invalid(name, f"must be at most {p.high}")
        return amount
    if kind == "date":
        return _day(name, value)
    if kind == "flag":
        if value in (True, 1, "1", "true"):
            return True
        if value in (False, 0, "0", "false"):
            return False
        raise invalid(name, 'must be "0" or "1"')
    if kind == "order":
        if not isinstance(value, dict) or not value:
            raise invalid(name, 'must be an object like {"date": "ASC"}')
        order = []
        for field, direction in value.items():
            if field not in p.choices:
                raise invalid(f"{name}.{field}", "must be one of " + ", ".join(p.choices))
            if not isinstance(direction, str) or direction.upper() not in ("ASC", "DESC"):
                raise invalid(f"{name}.{field}", "must be ASC or DESC")
            order.append((field, direction.upper() == "DESC"))
        return order
    if kind == "list":
        assert p.item is not None
        if not isinstance(value, list):
            raise invalid(name, "must be an array")
        if not value:
            raise invalid(name, "must have at least one item")
        return [_value(f"{name}[{i}]", v, p.item, form) for i, v in enumerate(value)]
    raise AssertionError(kind)


def check(spec: Spec, params: dict[str, Any], form: bool, prefix: str = "") -> dict[str, Any]:
    """The parameters of a body checked against `spec`: the first unknown, missing or
    invalid one is refused by name."""
    for name in params:
        if name not in spec:
            raise invalid(prefix + name, f"is unknown: {NOT_EMULATED}")
    checked = {}
    for name, p in spec.items():
        if name not in params:
            if p.required:
                raise invalid(prefix + name, "is required")
            continue
        checked[name] = _value(prefix + name, params[name], p, form)
    return checked


def _form(body: bytes) -> dict[str, Any]:
    """A form-urlencoded body: flat fields, `a[]` lists, one level of `a[key]`."""
    params: dict[str, Any] = {}
    for key, value in parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True):
        found = re.fullmatch(r"([^\[\]]+)(?:\[([^\[\]]*)\])?", key)
        if found is None:
            raise invalid(key, f"nested form fields are {NOT_EMULATED}: send JSON")
        name, inner = found.groups()
        if inner is None:
            params[name] = value
        elif inner == "":
            params.setdefault(name, []).append(value)
        else:
            params.setdefault(name, {})[inner] = value
    for name, value in params.items():  # a[0]=..&a[1]=.. is a list
        if isinstance(value, dict) and all(k.isdigit() for k in value):
            params[name] = [value[k] for k in sorted(value, key=int)]
    return params


PAGE = {"limit": P("int", low=1), "offset": P("int", low=0)}
DEBTOR_WRITE: Spec = {
    "name": P("text", required=True),
    "postingaccount_number": P("number"),
    "contact_person_name": TEXT,
    "street": TEXT,
    "additional_address_line": TEXT,
    "customer_number": CODE,
    "zip": TEXT,
    "city": TEXT,
    "country": P("country"),
    "sales_tax_id": TEXT,
    "email": P("email"),
    "iban": TEXT,
    "bic": TEXT,
}
DEBTOR_BATCH_ITEM = {k: v for k, v in DEBTOR_WRITE.items() if k != "email"}
DEBTOR_UPDATE: Spec = {
    **DEBTOR_WRITE,
    "name": TEXT,
    "postingaccount_number": P("number", required=True),
}
#: the write name of a debtor field -> its read name
DEBTOR_RENAMED = {
    "additional_address_line": "additional_addressline",
    "sales_tax_id": "sales_tax_id_eu",
}
RECEIPTS_GET: Spec = {
    "list_direction": P("choice", required=True, choices=("inbound", "outbound")),
    "payment_status": P("choice", choices=("paid", "unpaid")),
    "counterparty": TEXT,
    "date_from": DATE,
    "date_to": DATE,
    "invoicenumber": TEXT,
    "due_date": DATE,
    "include_offers": P("flag"),
    "deleted": P("flag"),
    "order": P("order", choices=("date", "amount", "invoicenumber", "invoicingparty")),
    "date_since_last_modified": P("since"),
    "limit": P("int", low=1, high=RECEIPT_PAGE_MAX),
    "offset": P("int", low=0),
}
RECEIPTS_ADD: Spec = {
    "type": P("choice", required=True, choices=RECEIPT_TYPES),
    "counterparty": P("text", required=True),
    "invoice_number": P("text", required=True, high=60, empty=True),
    "date": P("date", required=True),
    "amount": P("amount", required=True),
    "currency": P("text", required=True),
    "vat_rate": P("amount", low=0, high=100),
    "account": CODE,
    "creditor_debtor": CODE,
    "payment_reference": TEXT,
    "date_delivery": DATE,
    "date_payment_due": DATE,
    "link_to_receipt_id_by_customer": CODE,
}
ITEM_ARRAYS = ("item_name", "item_amount", "item_unit", "item_vat", "item_single_price")
INVOICE_CREATE: Spec = {
    "type": P("choice", required=True, choices=("invoice", "credit", "offer")),
    "show_prices_type": P("choice", required=True, choices=("net", "gross")),
    "company_name": P("text", required=True),
    "date": P("date", required=True),
    "item_name": P("list", required=True, item=P("text", required=True)),
    "item_amount": P("list", required=True, item=P("amount", required=True)),
    "item_unit": P("list", required=True, item=P("text", required=True)),
    "item_vat": P("list", required=True, item=P("amount", required=True, low=0, high=100)),
    "item_single_price": P("list", required=True, item=P("amount", required=True)),
    "item_description": P("list", item=P("text", empty=True)),
    "contact_person_name": TEXT,
    "street": TEXT,
    "additional_addressline": TEXT,
    "zip": TEXT,
    "city": TEXT,
    "country": P("country"),
    "email": P("email"),
    "customer_number": CODE,
    "invoicenumber": P("text", high=60),
    "date_of_supply": DATE,
    "due_days": P("int", low=0),
    "payment_conditions": TEXT,
    "discount_type": P("choice", choices=("percent", "EUR")),
    "discount_value": P("amount", low=0),
    "correspondence": TEXT,
    "final_provisions": TEXT,
    "show_bankdata": P("flag"),
    "show_contactdata": P("flag"),
    "payment_reference": TEXT,
    "language": P("choice", choices=("de_DE", "en_US")),
    "recurring_interval": P("text", refused=True),
    "recurring_date_next": P("date", refused=True),
}


# --- values out ---------------------------------------------------------------------------


def cents(value: Decimal) -> Decimal:
    return value.quantize(CENT, ROUND_HALF_UP)


def money(value: Decimal | None) -> str | None:
    """An amount as BuchhaltungsButler writes it: a string with two decimals."""
    return None if value is None else str(cents(value))


def flag(value: bool) -> str:
    return "1" if value else "0"


def _stamp(moment: datetime | None) -> str | None:
    return None if moment is None else moment.strftime("%Y-%m-%d %H:%M:%S")


def _vat_out(vat: list[dict[str, Decimal]]) -> list[dict[str, Any]]:
    return [{k: money(v) for k, v in group.items()} for group in vat]


def _direction(receipt_type: str) -> str:
    return receipt_type.rpartition(" ")[2]


def _paid(receipt: dict[str, Any]) -> bool:
    amount, paid = receipt["amount"], receipt["amount_paid"]
    return paid != 0 and abs(paid) >= abs(amount)


# --- seeds ----------------------------------------------------------------------------------

#: seed field -> kind (text code number money date uploaded flag int vat moment rtype);
#: "!" marks a required one; date_uploaded may be a date or a Berlin date-time
SEED_FIELDS: dict[str, dict[str, str]] = {
    DEBTORS: {
        "type": "text",
        "name": "text!",
        "postingaccount_number": "number",
        "contact_person_name": "text",
        "street": "text",
        "additional_addressline": "text",
        "zip": "text",
        "city": "text",
        "country": "country",
        "customer_number": "code",
        "sales_tax_id_eu": "text",
        "email": "text",
        "uid_ch": "text",
        "iban": "text",
        "bic": "text",
        "import_pending": "int",
    },
    RECEIPTS: {
        "id_by_customer": "number",
        "filename": "text",
        "type": "rtype!",
        "date": "date!",
        "delivery_date": "date",
        "date_delivery": "date",
        "date_uploaded": "uploaded",
        "counterparty": "text",
        "invoicenumber": "text",
        "amount": "money!",
        "payment_date": "date",
        "due_date": "date",
        "date_payment_due": "date",
        "account": "code",
        "amount_paid": "money",
        "amount_paid_fixed": "money",
        "deleted": "flag",
        "link_to_receipt_id_by_customer": "code",
        "amount_original": "money",
        "currency": "text",
        "currency_original": "text",
        "exchangerate": "text",
        "vat": "vat",
        "e_invoice_type": "int",
        "list_direction": "text",
        "payment_reference": "text",
        "modified": "moment",
    },
    POSTINGACCOUNTS: {
        "postingaccount_number": "number!",
        "name": "text!",
        "type": "text",
        "subtype": "text",
    },
    ACCOUNTS: {"postingaccount_number": "number!", "name": "text!", "subtype": "text"},
    COST_LOCATIONS: {"id": "code", "code": "code", "name": "text!"},
}


def _seed_value(where: str, kind: str, value: Any) -> Any:
    """A seed field's value converted; ValueError says what is wrong with it."""
    if kind in ("text", "code") and isinstance(value, (int, str)) and not isinstance(value, bool):
        if kind == "text" and not isinstance(value, str):
            raise ValueError(f"{where}: expected a string, got {value!r}")
        return str(value)
    digits = isinstance(value, str) and value.isdigit()
    if (
        kind in ("number", "int")
        and not isinstance(value, bool)
        and (isinstance(value, int) or digits)
    ):
        return int(value)
    if (
        kind == "money"
        and not isinstance(value, bool)
        and isinstance(value, (int, float, str, Decimal))
    ):
        try:
            number = Decimal(str(value))
        except InvalidOperation:
            number = Decimal("NaN")
        if number.is_finite():
            return number
    if kind == "date":
        try:
            return _day(where, value)
        except Refusal:
            pass
    if kind == "uploaded" and isinstance(value, str) and SINCE_RE.fullmatch(value):
        try:
            return datetime.fromisoformat(value).strftime(
                "%Y-%m-%d %H:%M:%S" if " " in value else "%Y-%m-%d"
            )
        except ValueError:
            pass
    if kind == "flag" and value in (True, False, 0, 1, "0", "1"):
        return value in (True, 1, "1")
    if kind == "country" and isinstance(value, str) and country(value):
        return country(value)
    if kind == "rtype" and value in (*RECEIPT_TYPES, OFFER_TYPE):
        return value
    if kind == "moment" and isinstance(value, str):
        try:
            moment = datetime.fromisoformat(value)
        except ValueError:
            moment = None
        if moment is not None:
            if moment.tzinfo is not None:
                moment = moment.astimezone(BERLIN).replace(tzinfo=None)
            return moment.replace(microsecond=0)
    if kind == "vat" and isinstance(value, list):
        try:
            return [{k: Decimal(str(g[k])) for k in ("rate", "net", "vat")} for g in value]
        except (TypeError, KeyError, InvalidOperation):
            pass
    raise ValueError(f"{where}: {value!r} is not a valid {kind}")


def _seed_record(kind: str, index: int, record: Any, partial: bool = False) -> dict[str, Any]:
    """A seed record's known fields converted; ValueError names the kind and the field."""
    if not isinstance(record, dict):
        raise ValueError(f"{kind}[{index}]: a record is a JSON object")
    fields = SEED_FIELDS[kind]
    for name in record:
        if name not in fields:
            raise ValueError(f"{kind}[{index}].{name}: unknown field (known: {', '.join(fields)})")
    out: dict[str, Any] = {}
    for name, kind_of in fields.items():
        where = f"{kind}[{index}].{name}"
        if record.get(name) is None:
            if kind_of.endswith("!") and not partial:
                raise ValueError(f"{where}: required")
            if name in record:
                out[name] = None
            continue
        out[name] = _seed_value(where, kind_of.rstrip("!"), record[name])
    return out


@dataclass
class Bucket:
    level: float
    when: float


class BuchhaltungsButlerSandbox(Sandbox):
    """The emulated BuchhaltungsButler API v1 (see the module)."""

    name = "buchhaltungsbutler"

    def __init__(
        self,
        *,
        api_client: str = "ihost-client",
        api_secret: str = "sandbox-secret",
        api_key: str = "sandbox-key",
        rate_limit: bool = False,
        debtor_page_max: int = 1000,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.api_client, self.api_secret, self.api_key = api_client, api_secret, api_key
        self.rate_limit = rate_limit
        self.debtor_page_max = debtor_page_max
        #: the sandbox's "now" (an aware datetime); tests may replace it
        self.clock: Callable[[], datetime] = lambda: datetime.now(timezone.utc)
        #: seconds for the rate limit's buckets; tests may replace it
        self.monotonic: Callable[[], float] = time.monotonic
        #: test switch: the customer is inactive (every call: 403 code 11)
        self.inactive = False
        #: how many code-15 (rate limit) answers were given
        self.refused = 0
        #: how many API requests (under /api/v1/, POST) were answered
        self.requests = 0
        self._debtors: dict[int, dict[str, Any]] = {}
        self._receipts: dict[int, dict[str, Any]] = {}
        self._invoices: dict[int, dict[str, Any]] = {}
        self._postingaccounts: dict[int, dict[str, Any]] = {}
        self._accounts: dict[int, dict[str, Any]] = {}
        self._cost_locations: dict[str, dict[str, Any]] = {}
        self._invoice_counter: dict[int, int] = {}
        self._buckets: dict[tuple[str, str], Bucket] = {}
        self._last_batch: dict[str, float] = {}
        self._body: dict[str, Any] = {}
        self.seed(POSTINGACCOUNTS, POSTINGACCOUNT_SEED)
        self.seed(ACCOUNTS, ACCOUNT_SEED)
        self.seed(COST_LOCATIONS, COST_LOCATION_SEED)
        self._endpoints: dict[str, tuple[Spec, Callable[..., dict[str, Any]]]] = {
            "settings/get/debtors": (
                {"limit": P("int", low=1, high=debtor_page_max), "offset": P("int", low=0)},
                self._get_debtors,
            ),
            "settings/add/debtor": (DEBTOR_WRITE, self._add_debtor),
            "settings/add-batch/debtors": ({"debtors": P("debtors", required=True)}, self._batch),
            "settings/update/debtor": (DEBTOR_UPDATE, self._update_debtor),
            "settings/get/postingaccounts": (
                {"limit": P("int", low=1, high=1000), "offset": P("int", low=0)},
                self._get_postingaccounts,
            ),
            "cost-locations/get": (
                {"limit": P("int", low=1, high=1000), "offset": P("int", low=0)},
                self._get_cost_locations,
            ),
            "accounts/get": ({}, self._get_accounts),
            "receipts/get": (RECEIPTS_GET, self._get_receipts),
            "receipts/get/{id}": ({"get_file": P("flag")}, self._get_receipt),
            "receipts/add": (RECEIPTS_ADD, self._add_receipt),
            "invoices/create": (INVOICE_CREATE, self._create_invoice),
            "invoices/create/draft": (INVOICE_CREATE, self._draft_invoice),
        }

    # --- Sandbox API ----------------------------------------------------------------------

    def connection_settings(self) -> dict[str, Any]:
        return {
            "base_url": self.base_url + PREFIX.rstrip("/"),
            "api_client": self.api_client,
            "api_secret": self.api_secret,
            "api_key": self.api_key,
        }

    def routes(self) -> list[BaseRoute]:
        methods = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]
        return [Route("/{path:path}", self._handle, methods=methods)]

    def seed(self, kind: str, records: list[dict[str, Any]]) -> None:
        """Load records of `kind` in BuchhaltungsButler's read shape, completed as it
        completes them (numbers and ids assigned when absent). A record with a number or id
        the sandbox holds replaces it. A seed is no edit: a receipt's modified time is only
        the `modified` given. All or none: ValueError names the kind, record and field."""
        if kind not in KINDS:
            raise ValueError(f"unknown kind {kind!r}: the sandbox knows {', '.join(KINDS)}")
        if not isinstance(records, list):
            raise TypeError(f"{kind}: expected a list of records")
        with self.lock:
            checked = [_seed_record(kind, i, r) for i, r in enumerate(records)]
            if kind == DEBTORS:
                self._seed_debtors(checked)
            elif kind == RECEIPTS:
                self._seed_receipts(checked)
            elif kind == COST_LOCATIONS:
                for i, record in enumerate(checked):
                    code = record.get("code") or record.get("id")
                    if code is None or record.get("id") not in (None, code):
                        raise ValueError(f"{kind}[{i}].code: required, and equal to id if given")
                for record in checked:
                    code = record.get("code") or record["id"]
                    self._cost_locations[code] = {"id": code, "code": code, "name": record["name"]}
            else:
                table = self._postingaccounts if kind == POSTINGACCOUNTS else self._accounts
                for record in checked:
                    number = record["postingaccount_number"]
                    row = {"postingaccount_number": str(number), "name": record["name"]}
                    if kind == POSTINGACCOUNTS:
                        row["type"] = record.get("type") or "postingaccount"
                        row["subtype"] = record.get("subtype") or "default chart"
                    else:
                        row["subtype"] = record.get("subtype") or "bank/institution"
                    table[number] = row

    def dump(self, kind: str) -> list[dict[str, Any]]:
        """The records of `kind` in the read shape (receipts: the detail fields, the list's
        date fields and the internal `modified`); "invoices": those created, with lines."""
        with self.lock:
            if kind == DEBTORS:
                return [dict(d) for _, d in sorted(self._debtors.items())]
            if kind == RECEIPTS:
                return [self._receipt_dump(r) for _, r in sorted(self._receipts.items())]
            if kind == POSTINGACCOUNTS:
                return self._postingaccount_rows()
            if kind == ACCOUNTS:
                return [self._account_row(a) for _, a in sorted(self._accounts.items())]
            if kind == COST_LOCATIONS:
                return [dict(c) for c in self._cost_locations.values()]
            if kind == INVOICES:
                return [self._invoice_dump(i) for _, i in sorted(self._invoices.items())]
        known = ", ".join((*KINDS, INVOICES))
        raise ValueError(f"unknown kind {kind!r}: the sandbox knows {known}")

    # --- test helpers -----------------------------------------------------------------------

    @property
    def debtors(self) -> list[dict[str, Any]]:
        """The debtors in the read shape of `/settings/get/debtors`."""
        return self.dump(DEBTORS)

    def edit_receipt(self, id_by_customer: int | str, **changes: Any) -> dict[str, Any]:
        """Change a receipt as a user of the web app would (seed field names), stamping its
        modified time with the clock; returns the receipt as dump("receipts") shows it."""
        with self.lock:
            number = int(id_by_customer)
            if number not in self._receipts:
                raise ValueError(f"receipts: no receipt {id_by_customer}")
            if "id_by_customer" in changes or "modified" in changes:
                raise ValueError("receipts: id_by_customer and modified are not edited")
            _seed_record(RECEIPTS, 0, changes, partial=True)  # names what is refused
            merged = {**self._receipt_dump(self._receipts[number]), **changes}
            merged["list_direction"] = None  # the type decides
            if "payment_date" in changes and "amount_paid" not in changes:
                merged["amount_paid"] = None  # paid in full on that day, or unpaid
            receipt = self._receipt_from(_seed_record(RECEIPTS, 0, merged), number, 0)
            receipt["modified"] = self._now().replace(tzinfo=None)
            self._receipts[number] = receipt
            return self._receipt_dump(receipt)

    def invoice_lines(self, id_by_customer: int | str) -> list[dict[str, Any]]:
        """The line items of the invoice /invoices/create made as receipt `id_by_customer`
        (test-only: the API has no way to read them)."""
        with self.lock:
            invoice = self._invoices.get(int(id_by_customer))
            if invoice is None:
                raise ValueError(f"invoices: no invoice made receipt {id_by_customer}")
            return self._invoice_dump(invoice)["lines"]

    # --- internals -------------------------------------------------------------------------

    def _now(self) -> datetime:
        return self.clock().astimezone(BERLIN).replace(microsecond=0)

    def _seed_debtors(self, records: list[dict[str, Any]]) -> None:
        taken = set(self._debtors)
        built = []
        for i, record in enumerate(records):
            if record.get("type") not in (None, "debitor"):
                raise ValueError(f"debtors[{i}].type: only 'debitor'")
            number = record.get("postingaccount_number")
            if number is None:
                number = self._free_debtor_number(taken)
            elif not DEBTOR_RANGE[0] < number <= DEBTOR_RANGE[1]:
                raise ValueError(f"debtors[{i}].postingaccount_number: not in 10001..69999")
            taken.add(number)
            row = self._debtor_row(number)
            row.update({k: v for k, v in record.items() if k not in ("type", "import_pending")})
            row["postingaccount_number"] = str(number)
            row["import_pending"] = record.get("import_pending") or 0
            built.append((number, row))
        self._debtors.update(built)

    def _seed_receipts(self, records: list[dict[str, Any]]) -> None:
        next_id = max(self._receipts, default=0) + 1
        built = {}
        for i, record in enumerate(records):
            number = record.get("id_by_customer")
            if number is None:
                while next_id in self._receipts or next_id in built:
                    next_id += 1
                number = next_id
            built[number] = self._receipt_from(record, number, i)
        self._receipts.update(built)

    def _receipt_from(self, record: dict[str, Any], number: int, index: int) -> dict[str, Any]:
        """A receipt as stored, from a checked seed record."""
        where = f"receipts[{index}]"
        kind = record["type"]
        if record.get("list_direction") not in (None, _direction(kind)):
            raise ValueError(f"{where}.list_direction: {kind} is {_direction(kind)}")
        for read, detail in (("delivery_date", "date_delivery"), ("due_date", "date_payment_due")):
            if (
                None not in (record.get(read), record.get(detail))
                and record[read] != record[detail]
            ):
                raise ValueError(f"{where}.{detail}: differs from {read}")
        amount = record["amount"]
        paid = record.get("amount_paid")
        if paid is None:
            paid = amount if record.get("payment_date") else Decimal(0)
        currency = record.get("currency") or "EUR"
        return {
            "id_by_customer": number,
            "filename": record.get("filename"),
            "type": kind,
            "date": record["date"],
            "delivery_date": record.get("delivery_date") or record.get("date_delivery"),
            "date_uploaded": record.get("date_uploaded") or record["date"],
            "counterparty": record.get("counterparty") or "",
            "invoicenumber": record.get("invoicenumber") or "",
            "amount": amount,
            "payment_date": record.get("payment_date"),
            "due_date": record.get("due_date") or record.get("date_payment_due"),
            "account": record.get("account"),
            "amount_paid": paid,
            "amount_paid_fixed": record.get("amount_paid_fixed") or Decimal(0),
            "deleted": bool(record.get("deleted")),
            "link_to_receipt_id_by_customer": record.get("link_to_receipt_id_by_customer"),
            "amount_original": _or(record.get("amount_original"), amount),
            "currency": currency,
            "currency_original": record.get("currency_original") or currency,
            "exchangerate": record.get("exchangerate") or "1.0000",
            "vat": record.get("vat") or [],
            "e_invoice_type": record.get("e_invoice_type") or 0,
            "payment_reference": record.get("payment_reference"),
            "modified": record.get("modified"),
        }

    def _receipt_list(self, r: dict[str, Any]) -> dict[str, Any]:
        """A receipt as /receipts/get lists it (16 fields)."""
        return {
            "filename": r["filename"],
            "id_by_customer": str(r["id_by_customer"]),
            "type": r["type"],
            "date": r["date"],
            "delivery_date": r["delivery_date"],
            "date_uploaded": r["date_uploaded"],
            "counterparty": r["counterparty"],
            "invoicenumber": r["invoicenumber"],
            "amount": money(r["amount"]),
            "payment_date": r["payment_date"],
            "due_date": r["due_date"],
            "account": r["account"],
            "amount_paid": money(r["amount_paid"]),
            "amount_paid_fixed": money(r["amount_paid_fixed"]),
            "deleted": flag(r["deleted"]),
            "link_to_receipt_id_by_customer": r["link_to_receipt_id_by_customer"],
        }

    def _receipt_detail(self, r: dict[str, Any]) -> dict[str, Any]:
        """A receipt as /receipts/get/{id} gives it (23 fields, as measured live)."""
        return {
            "filename": r["filename"],
            "id_by_customer": str(r["id_by_customer"]),
            "type": r["type"],
            "date": r["date"],
            "counterparty": r["counterparty"],
            "invoicenumber": r["invoicenumber"],
            "amount": money(r["amount"]),
            "amount_original": money(r["amount_original"]),
            "currency": r["currency"],
            "currency_original": r["currency_original"],
            "exchangerate": r["exchangerate"],
            "vat": _vat_out(r["vat"]),
            "payment_date": r["payment_date"],
            "account": r["account"],
            "e_invoice_type": r["e_invoice_type"],
            "list_direction": _direction(r["type"]),
            "payment_reference": r["payment_reference"],
            "date_delivery": r["delivery_date"],
            "date_payment_due": r["due_date"],
            "amount_paid": money(r["amount_paid"]),
            "amount_paid_fixed": money(r["amount_paid_fixed"]),
            "deleted": flag(r["deleted"]),
            "link_to_receipt_id_by_customer": r["link_to_receipt_id_by_customer"],
        }

    def _receipt_dump(self, r: dict[str, Any]) -> dict[str, Any]:
        detail = self._receipt_detail(r)
        for name in ("date_delivery", "date_payment_due"):
            del detail[name]
        return {**self._receipt_list(r), **detail, "modified": _stamp(r["modified"])}

    @staticmethod
    def _invoice_dump(invoice: dict[str, Any]) -> dict[str, Any]:
        """The body /invoices/create received (numbers as given), its invoice number, file
        name and debtor, and `lines`: each item with its net, VAT and gross as strings."""
        lines = [  # a quantity keeps its own decimals
            {k: str(v) if k == "item_amount" else _out(v) for k, v in line.items()}
            for line in invoice["lines"]
        ]
        return {**copy.deepcopy({k: v for k, v in invoice.items() if k != "lines"}), "lines": lines}

    def _debtor_row(self, number: int) -> dict[str, Any]:
        return {
            "type": "debitor",
            "name": None,
            "postingaccount_number": str(number),
            "contact_person_name": None,
            "street": None,
            "additional_addressline": None,
            "zip": None,
            "city": None,
            "country": None,
            "customer_number": None,
            "sales_tax_id_eu": None,
            "email": None,
            "uid_ch": None,
            "iban": None,
            "bic": None,
            "import_pending": 0,
        }

    @staticmethod
    def _free_debtor_number(taken: set[int]) -> int:
        number = COLLECTIVE_DEBTOR + 1
        while number in taken:
            number += 1
        if number > DEBTOR_RANGE[1]:
            raise invalid(
                "postingaccount_number", "cannot be assigned: no free debtor number is left"
            )
        return number

    @staticmethod
    def _account_row(account: dict[str, Any]) -> dict[str, Any]:
        return {"name": account["name"], "postingaccount_number": account["postingaccount_number"]}

    def _postingaccount_rows(self) -> list[dict[str, Any]]:
        """The chart as the live list gives it: ledger and payment accounts and debtors."""
        rows: list[tuple[int, dict[str, Any]]] = [
            (n, dict(a)) for n, a in self._postingaccounts.items()
        ]
        rows += [
            (n, {**self._account_row(a), "type": "account", "subtype": a["subtype"]})
            for n, a in self._accounts.items()
        ]
        rows += [
            (n, {"postingaccount_number": str(n), "name": d["name"], "type": "debtor"})
            for n, d in self._debtors.items()
        ]
        rows.sort(key=lambda pair: pair[0])
        out = []
        for _, row in rows:
            out.append(
                {
                    "postingaccount_number": row["postingaccount_number"],
                    "name": row["name"],
                    "type": row["type"],
                    "subtype": row.get("subtype"),
                }
            )
        return out

    # --- HTTP -----------------------------------------------------------------------------

    @staticmethod
    def _route(path: str) -> tuple[str, int | None] | None:
        """The endpoint a path names (and a receipt id), "not emulated", or None (404)."""
        if not path.startswith(PREFIX):
            return None
        rest = path[len(PREFIX) :]
        if rest in NOT_EMULATED_PATHS or NOT_EMULATED_ID.fullmatch(rest):
            return "not emulated", None
        found = RECEIPT_ID.fullmatch(rest)
        if found:
            return "receipts/get/{id}", int(found.group(1))
        return rest, None

    async def _handle(self, request: Request) -> Response:
        path = request.url.path
        route = self._route(path)
        if (
            route is None
            or request.method != "POST"
            or (route[0] != "not emulated" and route[0] not in self._endpoints)
        ):
            return HTMLResponse(NOT_FOUND_PAGE, status_code=404)
        body = await request.body()
        with self.lock:
            self.requests += 1
            try:
                answer = self._answer(request, path, route, body)
            except Refusal as refusal:
                if refusal.code == 15:
                    self.refused += 1
                return refusal.response()
        return JSONResponse(answer, media_type=JSON_TYPE)

    def _answer(
        self, request: Request, path: str, route: tuple[str, int | None], body: bytes
    ) -> dict[str, Any]:
        self._authenticate(request.headers.get("authorization", ""))
        if not body.strip():
            raise Refusal(400, 23, "No request body: send the parameters as JSON")
        form = "x-www-form-urlencoded" in request.headers.get("content-type", "")
        params = _form(body) if form else self._json(body)
        key = params.pop("api_key", None)
        if not isinstance(key, str) or not secrets.compare_digest(key, self.api_key):
            raise Refusal(401, 4, "Invalid api_key or insufficient privileges")
        if self.inactive:
            raise Refusal(403, 11, "customer inactive")
        self._throttle(key, path[len(PREFIX) :])
        name, receipt_id = route
        if name == "not emulated":
            raise Refusal(501, 0, f"{path}: {NOT_EMULATED}")
        spec, handler = self._endpoints[name]
        self._body = params  # as received: what dump("invoices") shows
        if name == "settings/add-batch/debtors":
            return handler(params, form)
        checked = check(spec, params, form)
        return handler(checked, receipt_id) if receipt_id is not None else handler(checked)

    @staticmethod
    def _json(body: bytes) -> dict[str, Any]:
        try:
            params = json.loads(body, parse_float=Decimal)
        except ValueError:
            raise Refusal(400, 23, "The request body is not valid JSON") from None
        if not isinstance(params, dict):
            raise Refusal(400, 23, "The request body must be a JSON object")
        return params

    def _authenticate(self, header: str) -> None:
        scheme, _, encoded = header.partition(" ")
        try:
            user, _, password = base64.b64decode(encoded.strip()).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            user = password = ""
        good = (
            scheme.lower() == "basic"
            and secrets.compare_digest(user.encode(), self.api_client.encode())
            and secrets.compare_digest(password.encode(), self.api_secret.encode())
        )
        if not good:
            raise Refusal(401, 3, "Authentication failed: wrong API client or API secret")

    def _throttle(self, key: str, rest: str) -> None:
        """The rate limits (with rate_limit on): 100 a minute, 10 uploads a minute, one
        add-batch per 5 s, per api_key; a refused request uses up nothing."""
        if not self.rate_limit:
            return
        now = self.monotonic()
        is_batch = "add-batch" in rest or "addBatch" in rest
        if is_batch and key in self._last_batch:
            wait = BATCH_SPACING - (now - self._last_batch[key])
            if wait > 0:
                self._too_many("at most one batch call per 5 seconds", wait)
        limits = [("minute", RATE_PER_MINUTE, "at most 100 per minute")]
        if rest == "receipts/upload":
            limits.append(("upload", UPLOADS_PER_MINUTE, "at most 10 uploads per minute"))
        buckets = []
        for name, most, said in limits:
            bucket = self._buckets.setdefault((key, name), Bucket(float(most), now))
            bucket.level = min(float(most), bucket.level + (now - bucket.when) * most / 60)
            bucket.when = now
            if bucket.level < 1:
                self._too_many(said, (1 - bucket.level) * 60 / most)
            buckets.append(bucket)
        for bucket in buckets:
            bucket.level -= 1
        if is_batch:
            self._last_batch[key] = now

    @staticmethod
    def _too_many(said: str, wait: float) -> None:
        seconds = max(1, math.ceil(wait))
        message = f"Too many requests: {said}. Retry in {seconds} seconds."
        raise Refusal(403, 15, message, headers={"Retry-After": str(seconds)})

    # --- debtors ----------------------------------------------------------------------------

    def _get_debtors(self, p: dict[str, Any]) -> dict[str, Any]:
        return _page([dict(d) for _, d in sorted(self._debtors.items())], p, 25)

    def _debtor_values(
        self, p: dict[str, Any], taken: set[int], prefix: str = ""
    ) -> tuple[int, dict[str, Any]]:
        """A new debtor's number (checked or assigned) and read-shape fields."""
        number = p.get("postingaccount_number")
        name = prefix + "postingaccount_number"
        if number is None:
            number = self._free_debtor_number(taken)
        elif not DEBTOR_RANGE[0] <= number <= DEBTOR_RANGE[1]:
            raise invalid(name, f"must be from {DEBTOR_RANGE[0]} to {DEBTOR_RANGE[1]}")
        elif number == COLLECTIVE_DEBTOR:
            raise invalid(name, f"{number} is the collective debtor account")
        elif number in taken:
            raise invalid(name, f"{number} is already taken")
        fields = {DEBTOR_RENAMED.get(k, k): v for k, v in p.items() if k != "postingaccount_number"}
        return number, fields

    def _add_debtor(self, p: dict[str, Any]) -> dict[str, Any]:
        number, fields = self._debtor_values(p, set(self._debtors))
        self._debtors[number] = {**self._debtor_row(number), **fields}
        return {"success": True, "postingaccount_number": str(number), "message": ""}

    def _batch(self, params: dict[str, Any], form: bool) -> dict[str, Any]:
        """`/settings/add-batch/debtors`: all or nothing, at most 50, no e-mail."""
        check({"debtors": P("debtors", required=True)}, params, form)
        items = params["debtors"]
        if not isinstance(items, list) or not items:
            raise invalid("debtors", "must be a non-empty array of debtors")
        if len(items) > BATCH_MAX:
            raise invalid("debtors", f"must have at most {BATCH_MAX} items")
        taken, built = set(self._debtors), []
        for i, item in enumerate(items):
            where = f"debtors[{i}]."
            if not isinstance(item, dict):
                raise invalid(f"debtors[{i}]", "must be an object")
            if "email" in item:
                raise invalid(where + "email", "is not accepted in a batch: use add/debtor")
            number, fields = self._debtor_values(
                check(DEBTOR_BATCH_ITEM, item, form, where), taken, where
            )
            taken.add(number)
            built.append((number, {**self._debtor_row(number), **fields}))
        self._debtors.update(built)
        numbers = [str(n) for n, _ in built]
        return {"success": True, "message": "", "postingaccount_numbers": numbers}

    def _update_debtor(self, p: dict[str, Any]) -> dict[str, Any]:
        number = p.pop("postingaccount_number")
        if number not in self._debtors:
            raise invalid("postingaccount_number", f"names no debtor {number}")
        self._debtors[number].update({DEBTOR_RENAMED.get(k, k): v for k, v in p.items()})
        return {"success": True, "postingaccount_number": str(number), "message": ""}

    # --- reference data ---------------------------------------------------------------------

    def _get_postingaccounts(self, p: dict[str, Any]) -> dict[str, Any]:
        return _page(self._postingaccount_rows(), p, 1000)

    def _get_cost_locations(self, p: dict[str, Any]) -> dict[str, Any]:
        return _page([dict(c) for c in self._cost_locations.values()], p, 1000)

    def _get_accounts(self, p: dict[str, Any]) -> dict[str, Any]:
        rows = [self._account_row(a) for _, a in sorted(self._accounts.items())]
        return {"success": True, "message": "", "rows": len(rows), "data": rows}

    # --- receipts ---------------------------------------------------------------------------

    def _get_receipts(self, p: dict[str, Any]) -> dict[str, Any]:
        direction, deleted = p["list_direction"], p.get("deleted", False)
        rows = [
            r
            for _, r in sorted(self._receipts.items())
            if _direction(r["type"]) == direction
            and r["deleted"] == deleted
            and (r["type"] != OFFER_TYPE or p.get("include_offers"))
        ]
        if "payment_status" in p:
            rows = [r for r in rows if _paid(r) == (p["payment_status"] == "paid")]
        if "counterparty" in p:
            rows = [r for r in rows if p["counterparty"].casefold() in r["counterparty"].casefold()]
        if "date_from" in p:
            rows = [r for r in rows if r["date"] >= p["date_from"]]
        if "date_to" in p:
            rows = [r for r in rows if r["date"] <= p["date_to"]]
        if "invoicenumber" in p:
            rows = [r for r in rows if r["invoicenumber"] == p["invoicenumber"]]
        if "due_date" in p:
            rows = [r for r in rows if r["due_date"] == p["due_date"]]
        if "date_since_last_modified" in p:  # edits only: an added receipt has no modified time
            since = p["date_since_last_modified"]
            rows = [r for r in rows if r["modified"] is not None and r["modified"] >= since]
        fields = {"invoicingparty": "counterparty"}
        for field, descending in reversed(p.get("order", [])):
            name = fields.get(field, field)
            rows.sort(key=_sort_key(name), reverse=descending)
        return _page([self._receipt_list(r) for r in rows], p, RECEIPT_PAGE_MAX)

    def _get_receipt(self, p: dict[str, Any], number: int) -> dict[str, Any]:
        if p.get("get_file"):
            raise invalid("get_file", NOT_EMULATED)
        receipt = self._receipts.get(number)
        if receipt is None:
            raise invalid("id_by_customer", f"names no receipt {number}")
        return {"success": True, "message": "", "data": self._receipt_detail(receipt)}

    def _next_receipt_id(self) -> int:
        return max(self._receipts, default=0) + 1

    def _add_receipt(self, p: dict[str, Any]) -> dict[str, Any]:
        kind, amount = p["type"], p["amount"]
        if amount == 0:
            raise invalid("amount", "must not be 0")
        if not re.fullmatch(r"[A-Z]{3}", p["currency"]):
            raise invalid("currency", "must be an ISO 4217 code like EUR")
        account = p.get("account")
        chart = {*self._accounts, *self._postingaccounts}
        if account is not None and not (account.isdigit() and int(account) in chart):
            raise invalid("account", f"names no posting or payment account {account}")
        partner = p.get("creditor_debtor")
        if partner is not None:
            outbound = _direction(kind) == "outbound"
            known = partner.isdigit() and (
                int(partner) in self._debtors if outbound else 70000 <= int(partner) <= 99999
            )
            if not known:
                noun = "debtor" if outbound else "creditor number (70000..99999)"
                raise invalid("creditor_debtor", f"names no {noun} {partner}")
        link = p.get("link_to_receipt_id_by_customer")
        if link is not None and not (link.isdigit() and int(link) in self._receipts):
            raise invalid("link_to_receipt_id_by_customer", f"names no receipt {link}")
        vat = []
        if "vat_rate" in p:
            net = cents(amount * 100 / (100 + p["vat_rate"]))
            vat = [{"rate": p["vat_rate"], "net": net, "vat": amount - net}]
        number = self._next_receipt_id()
        self._receipts[number] = self._receipt_from(
            {
                "type": kind,
                "date": p["date"],
                "counterparty": p["counterparty"],
                "invoicenumber": p["invoice_number"],
                "amount": amount,
                "currency": p["currency"],
                "account": account,
                "payment_reference": p.get("payment_reference"),
                "delivery_date": p.get("date_delivery"),
                "due_date": p.get("date_payment_due"),
                "link_to_receipt_id_by_customer": link,
                "date_uploaded": self._now().date().isoformat(),
                "vat": vat,
            },
            number,
            0,
        )
        return {"success": True, "message": "", "id_by_customer": str(number)}

    # --- invoices ---------------------------------------------------------------------------

    def _invoice_lines(self, p: dict[str, Any]) -> list[dict[str, Any]]:
        """The lines of an invoice: parallel arrays of one length, amounts computed per line
        (net prices: VAT on the net; gross prices: net from the gross), in cents."""
        count = len(p["item_name"])
        for name in (*ITEM_ARRAYS, "item_description"):
            if name in p and len(p[name]) != count:
                raise invalid(name, f"must have as many items as item_name ({count})")
        if p.get("discount_type") == "EUR":
            raise invalid("discount_type", f"EUR: {NOT_EMULATED}")
        if "discount_value" in p and p.get("discount_type") != "percent":
            raise invalid("discount_type", "is required with discount_value")
        keep = 1 - p.get("discount_value", Decimal(0)) / 100
        lines = []
        for i in range(count):
            quantity, price, rate = (
                p[a][i] for a in ("item_amount", "item_single_price", "item_vat")
            )
            if quantity == 0:
                raise invalid(f"item_amount[{i}]", "must not be 0")
            base = cents(quantity * price * keep)
            if p["show_prices_type"] == "net":
                net, vat = base, cents(base * rate / 100)
            else:
                net = cents(base * 100 / (100 + rate))
                vat = base - net
            lines.append(
                {
                    "item_name": p["item_name"][i],
                    "item_description": p["item_description"][i]
                    if "item_description" in p
                    else None,
                    "item_amount": quantity,
                    "item_unit": p["item_unit"][i],
                    "item_vat": rate,
                    "item_single_price": price,
                    "net": net,
                    "vat": vat,
                    "gross": net + vat,
                }
            )
        return lines

    def _debtor_for(self, p: dict[str, Any]) -> dict[str, Any] | None:
        wanted = p.get("customer_number")
        if wanted is None:
            return None
        for number, debtor in sorted(self._debtors.items()):
            if wanted in (debtor["customer_number"], str(number)):
                return debtor
        raise invalid(
            "customer_number", f"names no debtor with customer or account number {wanted}"
        )

    def _draft_invoice(self, p: dict[str, Any]) -> dict[str, Any]:
        self._invoice_lines(p)
        self._debtor_for(p)
        return {"success": True, "message": ""}

    def _create_invoice(self, p: dict[str, Any]) -> dict[str, Any]:
        lines = self._invoice_lines(p)
        debtor = self._debtor_for(p)
        taken = {r["invoicenumber"] for r in self._receipts.values() if "outbound" in r["type"]}
        given = p.get("invoicenumber")
        if given is not None and given in taken:
            raise invalid("invoicenumber", f"{given}: invoicenumber already exists")
        year = int(p["date"][:4])
        number_text = given
        while number_text is None or number_text in taken:
            self._invoice_counter[year] = self._invoice_counter.get(year, 0) + 1
            number_text = f"RE-{year}-{self._invoice_counter[year]:05d}"
        groups: dict[Decimal, dict[str, Decimal]] = {}
        for line in lines:
            group = groups.setdefault(
                line["item_vat"], {"rate": line["item_vat"], "net": Decimal(0), "vat": Decimal(0)}
            )
            group["net"] += line["net"]
            group["vat"] += line["vat"]
        kind = {"invoice": "invoice outbound", "credit": "credit outbound"}.get(
            p["type"], OFFER_TYPE
        )
        due = None
        if "due_days" in p:
            due = (date.fromisoformat(p["date"]) + timedelta(days=p["due_days"])).isoformat()
        file_name = f"{number_text}.pdf"
        number = self._next_receipt_id()
        self._receipts[number] = self._receipt_from(
            {
                "type": kind,
                "filename": file_name,
                "date": p["date"],
                "delivery_date": p.get("date_of_supply"),
                "date_uploaded": self._now().date().isoformat(),
                "counterparty": p["company_name"],
                "invoicenumber": number_text,
                "amount": sum((line["gross"] for line in lines), Decimal(0)),
                "due_date": due,
                "payment_reference": p.get("payment_reference"),
                "vat": sorted(groups.values(), key=lambda g: g["rate"]),
            },
            number,
            0,
        )
        self._invoices[number] = {
            **_as_given(self._body),
            "id_by_customer": str(number),
            "invoicenumber": number_text,
            "file_name": file_name,
            "debtor_postingaccount_number": debtor["postingaccount_number"] if debtor else None,
            "lines": lines,
        }
        return {
            "success": True,
            "message": "",
            "id_by_customer": str(number),
            "invoicenumber": number_text,
            "file_name": file_name,
        }


def _out(value: Any) -> Any:
    return money(value) if isinstance(value, Decimal) else value


def _as_given(value: Any) -> Any:
    """A JSON body as the client sent it (its fractions parsed as Decimal: floats again)."""
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, dict):
        return {k: _as_given(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_as_given(v) for v in value]
    return value


def _sort_key(field: str) -> Callable[[dict[str, Any]], tuple[bool, Any]]:
    """Order by `field`, empty values first."""

    def key(row: dict[str, Any]) -> tuple[bool, Any]:
        return (row[field] is not None, _or(row[field], 0))

    return key


def _or(value: Any, default: Any) -> Any:
    return default if value is None else value


def _page(rows: list[dict[str, Any]], p: dict[str, Any], default: int) -> dict[str, Any]:
    """One page of `rows` (limit, offset) in the list envelope: rows = the page's count."""
    offset, limit = p.get("offset", 0), p.get("limit", default)
    page = rows[offset : offset + limit]
    return {"success": True, "message": "", "rows": len(page), "data": page}
