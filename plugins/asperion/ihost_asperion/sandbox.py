"""An Asperion REST API emulator on 127.0.0.1 (DESIGN §9, api/asperion.md, asperion-wire.md).

One server answers the identity endpoints (`/connect/authorize`, `/connect/token`, from
host.sandbox_oauth with the ASPERION profile) and the API under `/v1/` (paths and query
parameter names without case, as ASP.NET routes them). Every `/v1/` request needs a bearer
token (401 problem details without), `X-Tenant-Id` or `X-TenantId` picks the administration
(absent: the primary one; one the sandbox lacks: 403), `Accept-Language: nl...` gives Dutch
titles and messages.

Emulated as the public notes show it (CONFIRMED there): the `{_data, _meta}` envelope with
page/pageSize/metaOnly/fields/orderBy; PascalCase field filters with `_comparison`, `_from`
and `_to`; `validateOnly`; problem details with `errors` keyed by field; debtors (GET, POST),
sales invoices with lines (GET, POST, `/{id}/file`), payment conditions, VAT codes, ledger
accounts, journals, administrations; articles that hide inactive ones unless `ActiveState`,
and whose `currentStock` is read-only.

Sales invoices: `GET /v1/salesinvoiceswithlines` lists, pages and filters every invoice of
the administration, whether a POST made it or `seed("salesinvoices", ...)` loaded it (a
seed may give the read-only `status`, numbers and totals; lines get ids), in the shape of
the notes (§2.5) with `lines: {_data, _meta: {totalCount}}`. `status` is the number of the
notes' enum (1 Concept, 2 InJournalentry, 3 InLedger, 6 Payable, 7 Paid, 8 Hold): a POST
makes a Concept (1); a payment booked in Asperion is a seed over the invoice's id. The
notes' filters `DebtorId`, `DebtorCustomerNumber`, `InvoiceNumber`, `Status`, `Date`
(with `_from`/`_to`), `JournalId`, `Bookyear`, `Bookperiod` answer as documented; `DebtorId`
matches the invoices of that debtor's customer number. An invoice has no `dateLastChange`
in the notes, so `DateLastChange_from` on invoices is refused (400) like any unknown
parameter, and no change date is invented.

PROPOSED (our design, not documented facts): PUT of debtors and articles (a full replace),
contact persons under `/v1/debtors/{id}/contactpersons`, `/v1/paymentmethods`,
`/v1/debtorkinds`, `/v1/salestypes`, the article fields besides currentStock and salesTypeId,
`reservedStock`, the `/v1/SalesOrderWithLines` body (an order reserves stock and leaves
currentStock and the article's dateLastChange alone) and its GET (list and by id: what POST
made or `seed("salesorders", ...)` loaded; `status` a text, "Open" unless seeded, and
`dateLastChange`, so `DateLastChange_from` filters), which fields filter, case-insensitive
comparisons, `DateLastChange_from/_to`, page size bounds, strict refusal of unknown fields and
parameters, the second administration, the File answer's values, and the rate limit (off
unless `rate_limit=(N, S)`: 429 with Retry-After). Every date-time is Amsterdam local time
without a zone.

What is not emulated is refused, never answered with an empty success: an unknown path under
`/v1/` gets 404 "<path>: not emulated by the ihost sandbox", an unknown query parameter or
body field 400 naming it.

Test-only controls: `POST /_sandbox/seed/{kind}` (the base class) seeds the primary
administration. In Python: `seed(kind, records, administration_id=None)`,
`dump(kind, administration_id=None)`, `files(invoice_id)` (what `/file` received), and
`clock` (a callable giving an aware datetime: the sandbox's "now").
"""

from __future__ import annotations

import copy
import json
import math
import re
import secrets
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from decimal import ROUND_HALF_UP, Decimal
from email.parser import BytesParser
from email.policy import HTTP
from typing import Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from host.sandbox import NOT_EMULATED, Sandbox
from host.sandbox_oauth import ASPERION, OAuth2Server

AMSTERDAM = ZoneInfo("Europe/Amsterdam")
CENT = Decimal("0.01")
PROFILE = "ihost sandbox"

ADMINISTRATIONS = "administrations"
DEBTORS = "debtors"
CONTACT_PERSONS = "contactpersons"
ARTICLES = "articles"
SALES_ORDERS = "salesorders"
SALES_INVOICES = "salesinvoices"
PAYMENT_CONDITIONS = "paymentconditions"
PAYMENT_METHODS = "paymentmethods"
DEBTOR_KINDS = "debtorkinds"
VAT_CODES = "vatcodes"
LEDGER_ACCOUNTS = "ledgeraccounts"
JOURNALS = "journals"
SALES_TYPES = "salestypes"
REFERENCE_KINDS = (
    PAYMENT_CONDITIONS,
    PAYMENT_METHODS,
    DEBTOR_KINDS,
    VAT_CODES,
    LEDGER_ACCOUNTS,
    JOURNALS,
    SALES_TYPES,
)
KINDS = (
    ADMINISTRATIONS,
    DEBTORS,
    CONTACT_PERSONS,
    ARTICLES,
    SALES_ORDERS,
    SALES_INVOICES,
    *REFERENCE_KINDS,
)

# --- messages -------------------------------------------------------------------------------

MESSAGES: dict[str, tuple[str, str]] = {
    "required": ("The {field} field is required.", "Het veld {field} is verplicht."),
    "type": ("The value is not a valid {type}.", "De waarde is geen geldige {type}."),
    "max": (
        "The field {field} must be at most {n} characters long.",
        "Het veld {field} mag hoogstens {n} tekens lang zijn.",
    ),
    "unknown_field": ("unknown field", "onbekend veld"),
    "unknown_param": ("unknown parameter: " + NOT_EMULATED, "onbekende parameter: " + NOT_EMULATED),
    "missing": ("{noun} {value} does not exist", "{noun} {value} bestaat niet"),
    "taken": ("{field} {value} is already in use", "{field} {value} is al in gebruik"),
    "email": ("not a valid e-mail address", "geen geldig e-mailadres"),
    "country": (
        "not an ISO 3166 alpha-2 country code in upper case",
        "geen landcode volgens ISO 3166 alpha-2 in hoofdletters",
    ),
    "ean": ("an EAN has 8 or 13 digits", "een EAN heeft 8 of 13 cijfers"),
    "nonzero": ("the quantity must not be 0", "het aantal mag niet 0 zijn"),
    "percentage": ("must be from 0 to 100", "moet van 0 tot en met 100 zijn"),
    "no_lines": ("at least one line is required", "minstens een regel is verplicht"),
    "inactive": ("article {value} is not active", "artikel {value} is niet actief"),
    "blocked": ("debtor {value} is blocked", "debiteur {value} is geblokkeerd"),
    "no_article": (
        "articleId or articleCode is required",
        "articleId of articleCode is verplicht",
    ),
    "two_articles": (
        "articleId and articleCode name different articles",
        "articleId en articleCode noemen verschillende artikelen",
    ),
    "not_sales": ("journal {value} is not a sales journal", "dagboek {value} is geen verkoopboek"),
    "disabled": (
        "ledger account {value} is disabled",
        "grootboekrekening {value} is geblokkeerd",
    ),
    "stock": (
        "currentStock is read-only: stock changes through the Asperion application or sales orders",
        "currentStock is alleen-lezen: de voorraad verandert via de Asperion-applicatie of "
        "verkooporders",
    ),
    "page": ("page must be a whole number of 1 or more", "page moet een geheel getal vanaf 1 zijn"),
    "page_size": (
        "pageSize must be a whole number from 1 to {n}",
        "pageSize moet een geheel getal van 1 tot en met {n} zijn",
    ),
    "bool": ("must be true or false", "moet true of false zijn"),
    "comparison": (
        "must be Contains, Equals, NotEquals, StartsWith or EndsWith",
        "moet Contains, Equals, NotEquals, StartsWith of EndsWith zijn",
    ),
    "active_state": ("must be Active, Inactive or All", "moet Active, Inactive of All zijn"),
    "field_name": ("unknown field {value}", "onbekend veld {value}"),
    "filter_value": ("{value!r} is not a valid {type}", "{value!r} is geen geldige {type}"),
    "body": ("the body is not a JSON object", "de body is geen JSON-object"),
    "file": (
        "a multipart/form-data body with a part named File is required",
        "een multipart/form-data-body met een deel File is verplicht",
    ),
    "forbidden": ("no access to administration {value}", "geen toegang tot administratie {value}"),
    "not_emulated": ("{value}: " + NOT_EMULATED, "{value}: " + NOT_EMULATED),
    "method": ("{value} is not allowed", "{value} is niet toegestaan"),
    "rate": (
        "at most {n} requests per {s} seconds",
        "hoogstens {n} verzoeken per {s} seconden",
    ),
}
TITLES = {
    400: (
        "One or more validation errors occurred.",
        "Er zijn een of meer validatiefouten opgetreden.",
    ),
    403: ("Forbidden", "Verboden"),
    404: ("Not Found", "Niet gevonden"),
    405: ("Method Not Allowed", "Methode niet toegestaan"),
    429: ("Too Many Requests", "Te veel verzoeken"),
}
TYPES = {
    400: "https://tools.ietf.org/html/rfc9110#section-15.5.1",
    403: "https://tools.ietf.org/html/rfc9110#section-15.5.4",
    404: "https://tools.ietf.org/html/rfc9110#section-15.5.5",
    405: "https://tools.ietf.org/html/rfc9110#section-15.5.6",
    429: "https://tools.ietf.org/html/rfc6585#section-4",
}
NOUNS = {
    ADMINISTRATIONS: ("administration", "administratie"),
    DEBTORS: ("debtor", "debiteur"),
    CONTACT_PERSONS: ("contact person", "contactpersoon"),
    ARTICLES: ("article", "artikel"),
    SALES_ORDERS: ("sales order", "verkooporder"),
    SALES_INVOICES: ("sales invoice", "verkoopfactuur"),
    PAYMENT_CONDITIONS: ("payment condition", "betalingsconditie"),
    PAYMENT_METHODS: ("payment method", "betaalwijze"),
    DEBTOR_KINDS: ("debtor kind", "debiteursoort"),
    VAT_CODES: ("VAT code", "btw-code"),
    LEDGER_ACCOUNTS: ("ledger account", "grootboekrekening"),
    JOURNALS: ("journal", "dagboek"),
    SALES_TYPES: ("sales type", "verkoopsoort"),
}


def text(lang: str, key: str, **values: Any) -> str:
    english, dutch = MESSAGES[key]
    return (dutch if lang == "nl" else english).format(**values)


class Problem(Exception):
    """An answer in problem details: status, detail, errors by field, extra headers."""

    def __init__(
        self,
        status: int,
        detail: str | None = None,
        errors: dict[str, list[str]] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(detail or str(errors))
        self.status, self.detail, self.errors, self.headers = status, detail, errors, headers

    def response(self, lang: str) -> JSONResponse:
        english, dutch = TITLES[self.status]
        body: dict[str, Any] = {
            "type": TYPES[self.status],
            "title": dutch if lang == "nl" else english,
            "status": self.status,
        }
        if self.detail is not None:
            body["detail"] = self.detail
        body["traceId"] = f"00-{secrets.token_hex(16)}-{secrets.token_hex(8)}-00"
        if self.errors is not None:
            body["errors"] = self.errors
        return JSONResponse(body, status_code=self.status, headers=self.headers)


class Errors(dict[str, list[str]]):
    """Validation errors by camelCase JSON path, in one language."""

    def __init__(self, lang: str) -> None:
        super().__init__()
        self.lang = lang

    def add(self, path: str, key: str, **values: Any) -> None:
        self.setdefault(path, []).append(text(self.lang, key, **values))

    def check(self) -> None:
        if self:
            raise Problem(400, errors=dict(self))


# --- fields -------------------------------------------------------------------------------


@dataclass(frozen=True)
class F:
    """One field of a resource: its JSON type (str int number bool date datetime object
    lines), whether a body must give it, its maximum length, whether the server owns it,
    the kind whose id it names, a format check, its default, and what it nests."""

    type: str
    required: bool = False
    max: int | None = None
    readonly: bool = False
    ref: str | None = None
    check: str | None = None
    default: Any = None
    sub: Mapping[str, F] | None = None


Spec = Mapping[str, F]
RO_INT, RO_STAMP, RO_AMOUNT = (F(t, readonly=True) for t in ("int", "datetime", "number"))
_text = F("str")
_flag = F("bool", default=False)

DEBTOR: Spec = {
    "id": RO_INT,
    "customerNumber": _text,
    "name": F("str", required=True, max=100),
    "attentionTo": F("str", max=100),
    "address": F("str", max=100),
    "addressLine2": _text,
    "addressLine3": _text,
    "postCode": F("str", max=10),
    "city": F("str", max=50),
    "countryCode": F("str", check="country"),
    "phoneNumber": F("str", max=30),
    "mobileNumber": _text,
    "faxNumber": _text,
    "emailAddress": F("str", max=100, check="email"),
    "cocNumber": _text,
    "vatNumber": _text,
    "iban": _text,
    "bic": _text,
    "bban": _text,
    "directDebit": _flag,
    "debtorKindId": F("str", required=True, ref=DEBTOR_KINDS),
    "paymentConditionId": F("int", ref=PAYMENT_CONDITIONS),
    "paymentMethodId": F("str", ref=PAYMENT_METHODS),
    "comments": _text,
    "characteristic4": _text,
    "characteristic5": _text,
    "dateAdded": RO_STAMP,
    "dateLastChange": RO_STAMP,
    "blocked": _flag,
    "noReminder": _flag,
}
CONTACT: Spec = {
    "id": RO_INT,
    "firstName": _text,
    "lastName": F("str", required=True),
    "emailAddress": F("str", check="email"),
    "phoneNumber": _text,
}
ARTICLE: Spec = {
    "id": RO_INT,
    "articleCode": F("str", required=True, max=30),
    "description": F("str", required=True, max=100),
    "longDescription": _text,
    "salesPrice": F("number", default=Decimal(0)),
    "vatCodeId": F("str", ref=VAT_CODES),
    "salesTypeId": F("int", required=True, ref=SALES_TYPES),
    "ean": F("str", check="ean"),
    "unit": _text,
    **{f"freeField{n}": F("str", max=100) for n in range(1, 6)},
    "currentStock": F("number", readonly=True, default=Decimal(0)),
    "reservedStock": F("number", readonly=True, default=Decimal(0)),
    "active": F("bool", default=True),
    "dateLastChange": RO_STAMP,
}
ADDRESS: Spec = {
    "name": _text,
    "attentionTo": _text,
    "address": _text,
    "addressLine2": _text,
    "postCode": _text,
    "city": _text,
    "countryCode": F("str", check="country"),
}
ORDER_LINE: Spec = {
    "id": RO_INT,
    "articleId": F("int"),
    "articleCode": _text,
    "description": _text,
    "quantity": F("number", required=True, check="nonzero"),
    "unitPrice": F("number"),
    "discountPercentage": F("number", check="percentage"),
    "vatCodeId": F("str", ref=VAT_CODES),
}
ORDER: Spec = {
    "id": RO_INT,
    "salesOrderNumber": F("str", readonly=True),
    "orderNumber": _text,
    "debtorId": F("int", required=True, ref=DEBTORS),
    "date": F("date", required=True),
    "description": F("str", max=255),
    "reference": F("str", max=50),
    "paymentConditionId": F("int", ref=PAYMENT_CONDITIONS),
    "paymentMethodId": F("str", ref=PAYMENT_METHODS),
    "pricesIncludeVat": _flag,
    "deliveryAddress": F("object", sub=ADDRESS),
    "status": F("str", readonly=True),
    "amountExclVat": RO_AMOUNT,
    "vatAmount": RO_AMOUNT,
    "amountInclVat": RO_AMOUNT,
    "dateAdded": RO_STAMP,
    "dateLastChange": RO_STAMP,
    "lines": F("lines", required=True, sub=ORDER_LINE),
}
INVOICE_LINE: Spec = {
    "id": RO_INT,
    "description": F("str", required=True),
    "amount": F("number", required=True),
    "vatAmount": F("number"),
    "vatCode": F("str", required=True, ref=VAT_CODES),
    "ledgerAccountId": F("int", required=True, ref=LEDGER_ACCOUNTS),
    "costCenterId": F("int"),
    "costUnitId": F("int"),
}
INVOICE: Spec = {
    "id": RO_INT,
    "invoiceNumber": _text,
    "date": F("date", required=True),
    "description": _text,
    "debtorCustomerNumber": F("str", required=True),
    "journalId": F("str", required=True, ref=JOURNALS),
    "bookyear": RO_INT,
    "bookperiod": RO_INT,
    "paymentConditionId": F("int", ref=PAYMENT_CONDITIONS),
    "paymentDueDate": F("date"),
    "status": RO_INT,
    "amountExclVat": RO_AMOUNT,
    "vatAmount": RO_AMOUNT,
    "amountInclVat": RO_AMOUNT,
    "lines": F("lines", required=True, sub=INVOICE_LINE),
}
_described = {"id": RO_INT, "description": F("str", required=True)}
_coded = {"id": F("str", required=True), "description": F("str", required=True)}
SPECS: dict[str, Spec] = {
    ADMINISTRATIONS: {"id": RO_INT, "name": F("str", required=True)},
    DEBTORS: DEBTOR,
    CONTACT_PERSONS: CONTACT,
    ARTICLES: ARTICLE,
    SALES_ORDERS: ORDER,
    SALES_INVOICES: INVOICE,
    PAYMENT_CONDITIONS: _described,
    PAYMENT_METHODS: _coded,
    DEBTOR_KINDS: _coded,
    VAT_CODES: {
        **_coded,
        "salesCode": F("bool", default=True),
        "percentage": F("number", required=True),
        "isDefault": _flag,
        "validFrom": F("datetime"),
        "validUntil": F("datetime"),
        "countryCode": _text,
    },
    LEDGER_ACCOUNTS: {
        "id": F("int", required=True),
        "type": F("int", default=1),
        "description": F("str", required=True),
        "vatCode": F("str", ref=VAT_CODES),
        "disabled": _flag,
        "rcsfi": _text,
    },
    JOURNALS: {**_coded, "type": F("str", required=True)},
    SALES_TYPES: _described,
}
#: the reference data both administrations start with
REFERENCE: dict[str, list[dict[str, Any]]] = {
    PAYMENT_CONDITIONS: [
        {"id": 1, "description": "14 dagen"},
        {"id": 2, "description": "30 dagen"},
        {"id": 3, "description": "Direct"},
    ],
    PAYMENT_METHODS: [
        {"id": "BANK", "description": "Bankoverschrijving"},
        {"id": "IDEAL", "description": "iDEAL"},
        {"id": "PIN", "description": "Pinbetaling"},
        {"id": "CASH", "description": "Contant"},
    ],
    DEBTOR_KINDS: [
        {"id": "BI", "description": "Binnenland"},
        {"id": "EU", "description": "Binnen de EU"},
        {"id": "BU", "description": "Buiten de EU"},
    ],
    VAT_CODES: [
        {"id": "H21", "description": "BTW hoog", "percentage": 21.0, "isDefault": True},
        {"id": "L9", "description": "BTW laag", "percentage": 9.0},
        {"id": "N0", "description": "Vrijgesteld", "percentage": 0.0},
        {"id": "EU0", "description": "Intracommunautaire levering", "percentage": 0.0},
    ],
    LEDGER_ACCOUNTS: [
        {"id": 8000, "description": "Omzet hoog", "vatCode": "H21"},
        {"id": 8010, "description": "Omzet laag", "vatCode": "L9"},
        {"id": 8020, "description": "Omzet verzendkosten", "vatCode": "H21"},
        {"id": 8030, "description": "Omzet EU", "vatCode": "EU0"},
    ],
    JOURNALS: [
        {"id": "VK", "description": "Verkoopboek", "type": "Sales"},
        {"id": "MEM", "description": "Memoriaal", "type": "Memorial"},
    ],
    SALES_TYPES: [
        {"id": 1, "description": "Handelsgoederen"},
        {"id": 2, "description": "Diensten"},
    ],
}
for _code in REFERENCE[VAT_CODES]:
    _code["countryCode"] = None if _code["id"] == "EU0" else "NL"

CHECKS: dict[str, Callable[[Any], bool]] = {
    "email": lambda v: re.fullmatch(r"[^@\s]+@[^@\s.][^@\s]*\.[^@\s]+", v) is not None,
    "country": lambda v: re.fullmatch(r"[A-Z]{2}", v) is not None,
    "ean": lambda v: re.fullmatch(r"\d{8}|\d{13}", v) is not None,
    "nonzero": lambda v: v != 0,
    "percentage": lambda v: 0 <= v <= 100,
}
TYPE_NAMES = {
    "str": "string",
    "int": "integer",
    "number": "number",
    "bool": "boolean",
    "date": "date",
    "datetime": "date-time",
    "object": "object",
    "lines": "object {_data: [...]}",
}
COMPARISONS = {"contains", "equals", "notequals", "startswith", "endswith"}
_MOMENT = re.compile(r"(\d{4}-\d{2}-\d{2})(?:[T ](\d{2}:\d{2}(?::\d{2})?)(?:\.\d+)?)?")


def moment(value: Any) -> tuple[datetime, bool]:
    """A zone-less date or date-time as a naive datetime, and whether it was a date only;
    ValueError for anything else (a zone included)."""
    found = _MOMENT.fullmatch(value) if isinstance(value, str) else None
    if found is None:
        raise ValueError(value)
    day, clock = found.groups()
    return datetime.fromisoformat(f"{day}T{clock or '00:00'}"), clock is None


def native(value: Any) -> Any:
    """A stored value as JSON: Decimals as numbers rounded to cents."""
    if isinstance(value, Decimal):
        return float(value.quantize(CENT, ROUND_HALF_UP))
    if isinstance(value, dict):
        return {k: native(v) for k, v in value.items()}
    if isinstance(value, list):
        return [native(v) for v in value]
    return value


def cents(value: Decimal) -> Decimal:
    return value.quantize(CENT, ROUND_HALF_UP)


def _sortable(f: F, value: Any) -> Any:
    if f.type in ("date", "datetime"):
        return moment(value)[0]
    if f.type == "str":
        return str(value).casefold()
    return value


class Administration:
    """One administration's tables (records by id) and counters."""

    def __init__(self, id: int, name: str) -> None:
        self.id, self.name = id, name
        self.tables: dict[str, dict[Any, dict[str, Any]]] = {k: {} for k in KINDS[1:]}
        self.next_id: dict[str, int] = {}
        self.last_customer = 10000
        self.last_order = 0
        self.last_invoice: dict[int, int] = {}
        self.last_line = 0
        self.files: dict[int, list[tuple[dict[str, Any], bytes]]] = {}


@dataclass
class Call:
    """One API request, read: what the handlers need of it."""

    method: str
    path: str
    segments: list[str]
    params: list[tuple[str, str]]
    headers: Mapping[str, str]
    body: bytes
    lang: str
    admin: Administration

    def errors(self) -> Errors:
        return Errors(self.lang)


@dataclass
class Draft:
    """A write (or seed) under way: the administration, the values given, the record as
    stored (a PUT), the record being built, what is refused, whether it is a seed, whether
    it will be kept (not validateOnly), and the time stamp it gets."""

    admin: Administration
    given: dict[str, Any]
    stored: dict[str, Any] | None
    record: dict[str, Any]
    errors: Errors
    seed: bool
    keep: bool
    now: str

    def stamp(self, *fields: str) -> None:
        """Set server time stamps: dateAdded once, dateLastChange on every write; a seed
        keeps those it gives."""
        for field in fields:
            if not self.record[field] or (field == "dateLastChange" and not self.seed):
                self.record[field] = self.now

    def line_id(self, line: dict[str, Any]) -> int:
        """A new line's id: the next one when kept, 0 when only validated."""
        if self.seed and line.get("id"):
            return int(line["id"])
        if not self.keep:
            return 0
        self.admin.last_line += 1
        return self.admin.last_line

    def totals(self, totals: list[Decimal]) -> None:
        names = ("amountExclVat", "vatAmount", "amountInclVat")
        for name, total in zip(names, totals, strict=True):
            given = self.given.get(name)
            self.record[name] = given if self.seed and given is not None else total


class AsperionSandbox(Sandbox):
    """The emulated Asperion: identity server and REST API (see the module)."""

    name = "asperion"

    def __init__(
        self,
        *,
        client_id: str = "ihost-sandbox",
        client_secret: str = "sandbox-secret",
        administration_id: int = 1001,
        rate_limit: tuple[int, float] | None = None,
        changed_since_filters: bool = True,
        max_page_size: int = 100,
        access_ttl: float = 3600.0,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.client_id, self.client_secret = client_id, client_secret
        self.administration_id = administration_id
        self.rate_limit = rate_limit
        self.changed_since_filters = changed_since_filters
        self.max_page_size = max_page_size
        self.oauth = OAuth2Server(
            ASPERION, client_id=client_id, client_secret=client_secret, access_ttl=access_ttl
        )
        #: the sandbox's "now" (an aware datetime); tests may replace it
        self.clock: Callable[[], datetime] = lambda: datetime.now(timezone.utc)
        self.administrations: dict[int, Administration] = {}
        self._buckets: dict[str, tuple[float, float]] = {}  # token -> (level, when)
        self.seed(ADMINISTRATIONS, [{"id": administration_id, "name": "ihost Sandbox BV"}])
        self.seed(ADMINISTRATIONS, [{"id": administration_id + 1, "name": "ihost Sandbox Test BV"}])

    # --- Sandbox API ----------------------------------------------------------------------

    def connection_settings(self) -> dict[str, Any]:
        return {
            "base_url": self.base_url,
            "identity_url": self.base_url,
            "client_id": self.client_id,
            "client_secret": self.client_secret,
            "administration_id": self.administration_id,
        }

    def routes(self) -> list[BaseRoute]:
        methods = ["GET", "POST", "PUT", "PATCH", "DELETE"]
        return [*self.oauth.routes(), Route("/{root}/{path:path}", self._handle, methods=methods)]

    def stop(self) -> None:
        self.oauth.release_token_answers()
        super().stop()

    def seed(
        self, kind: str, records: list[dict[str, Any]], *, administration_id: int | None = None
    ) -> None:
        """Load records in Asperion's JSON shape into the primary administration (or
        `administration_id`), completed as Asperion completes them; read-only fields may be
        given (currentStock, reservedStock, dates, numbers). A record with the id of one the
        table holds replaces it, as a change made in Asperion itself would (its read-only
        fields kept unless given). All or none: ValueError names the kind, the record and the
        field of what is refused."""
        if kind not in KINDS:
            raise ValueError(f"unknown kind {kind!r}: the sandbox knows {', '.join(KINDS)}")
        with self.lock:
            before = copy.deepcopy(self.administrations)
            try:
                for index, record in enumerate(records):
                    if not isinstance(record, dict):
                        raise TypeError(f"{kind}[{index}]: a record is a JSON object")
                    self._seed_one(kind, index, dict(record), administration_id)
            except (ValueError, TypeError):
                self.administrations = before  # all or none
                raise

    def _seed_one(
        self, kind: str, index: int, record: dict[str, Any], administration_id: int | None
    ) -> None:
        errors = Errors("en")
        if kind == ADMINISTRATIONS:
            given = self._coerce(SPECS[kind], record, errors, seed=True)
            number = given.get("id") or max(self.administrations, default=1000) + 1
            if number in self.administrations:
                errors.add("id", "taken", field="id", value=number)
            _refuse(kind, index, errors)
            self.administrations[number] = Administration(number, given["name"])
            for reference, rows in REFERENCE.items():
                self.seed(reference, rows, administration_id=number)
            return
        admin = self._admin(administration_id)
        contacts = record.pop("contactPersons", None) if kind == DEBTORS else None
        owner = record.pop("debtorId", None) if kind == CONTACT_PERSONS else None
        if kind == CONTACT_PERSONS and not isinstance(owner, int):
            errors.add("debtorId", "required", field="debtorId")
        elif kind == CONTACT_PERSONS and owner not in admin.tables[DEBTORS]:
            errors.add("debtorId", "missing", noun="debtor", value=owner)
        given = self._coerce(SPECS[kind], record, errors, seed=True)
        _refuse(kind, index, errors)
        stored = admin.tables[kind].get(given.get("id"))  # an id the table has: replaced
        if stored is not None and kind == CONTACT_PERSONS and stored["debtorId"] != owner:
            errors.add("id", "taken", field="id", value=given["id"])
        built = self._build(kind, admin, given, stored, errors, "seed", owner)
        _refuse(kind, index, errors)
        if stored is not None:
            stored.clear()
            stored.update(built)
        else:
            self._store(admin, kind, built, given.get("id"))
        for contact in contacts or []:
            self._seed_one(CONTACT_PERSONS, index, {**contact, "debtorId": built["id"]}, admin.id)

    def dump(self, kind: str, *, administration_id: int | None = None) -> list[dict[str, Any]]:
        """The records of `kind` as Asperion's JSON (contact persons with their debtorId)."""
        if kind not in KINDS:
            raise ValueError(f"unknown kind {kind!r}: the sandbox knows {', '.join(KINDS)}")
        with self.lock:
            if kind == ADMINISTRATIONS:
                return [{"id": a.id, "name": a.name} for a in self.administrations.values()]
            table = self._admin(administration_id).tables[kind]
            return [native(self._shape(kind, r, internal=True)) for r in table.values()]

    def files(
        self, invoice_id: int, *, administration_id: int | None = None
    ) -> list[tuple[dict[str, Any], bytes]]:
        """The files attached to a sales invoice: (File object, content)."""
        with self.lock:
            return list(self._admin(administration_id).files.get(invoice_id, []))

    def _admin(self, administration_id: int | None) -> Administration:
        number = self.administration_id if administration_id is None else administration_id
        if number not in self.administrations:
            raise ValueError(f"the sandbox has no administration {number}")
        return self.administrations[number]

    def _now(self) -> str:
        return self.clock().astimezone(AMSTERDAM).strftime("%Y-%m-%dT%H:%M:%S")

    def _store(self, admin: Administration, kind: str, record: dict[str, Any], given: Any) -> None:
        """Keep a new record under its id: the given one, else the next free one."""
        table = admin.tables[kind]
        key = given if given is not None else record.get("id")
        if key is None or key == 0:
            key = admin.next_id.get(kind, 1)
            while key in table:
                key += 1
        record["id"] = key
        table[key] = record
        if isinstance(key, int):
            admin.next_id[kind] = max(admin.next_id.get(kind, 1), key + 1)

    # --- HTTP -----------------------------------------------------------------------------

    async def _handle(self, request: Request) -> Response:
        language = request.headers.get("accept-language", "").strip().lower()
        lang = "nl" if language.startswith("nl") else "en"
        path = request.url.path
        if request.path_params["root"].lower() != "v1":
            return Problem(404, text(lang, "not_emulated", value=path)).response(lang)
        if (refused := self.oauth.check_bearer(request)) is not None:
            return refused
        body = await request.body()
        try:
            with self.lock:
                self._throttle(request, lang)
                call = Call(
                    request.method,
                    path,
                    [s for s in request.path_params["path"].split("/") if s],
                    list(request.query_params.multi_items()),
                    request.headers,
                    body,
                    lang,
                    self._tenant(request, lang),
                )
                status, answer = self._dispatch(call)
        except Problem as problem:
            return problem.response(lang)
        return JSONResponse(answer, status_code=status)

    def _throttle(self, request: Request, lang: str) -> None:
        """A token bucket per access token (PROPOSED: Asperion documents no limit): it holds
        N requests and refills N every S seconds; a request finding it empty is answered
        429 with the whole seconds until a request is let through again."""
        if self.rate_limit is None:
            return
        most, seconds = self.rate_limit
        token = request.headers.get("authorization", "")
        now = time.monotonic()
        level, since = self._buckets.get(token, (float(most), now))
        level = min(float(most), level + (now - since) * most / seconds)
        if level < 1:
            wait = max(1, math.ceil((1 - level) * seconds / most))
            self._buckets[token] = (level, now)
            detail = text(lang, "rate", n=most, s=f"{seconds:g}")
            raise Problem(429, detail, headers={"Retry-After": str(wait)})
        self._buckets[token] = (level - 1, now)

    def _tenant(self, request: Request, lang: str) -> Administration:
        raw = request.headers.get("x-tenant-id", request.headers.get("x-tenantid"))
        if raw is None:
            return self.administrations[self.administration_id]
        try:
            return self.administrations[int(raw.strip())]
        except (ValueError, KeyError):
            raise Problem(403, text(lang, "forbidden", value=raw)) from None

    def _dispatch(self, call: Call) -> tuple[int, Any]:
        """Route by the lower-cased path (ids keep their case) and the method."""
        segments, method = call.segments, call.method
        shape = [s.lower() for s in segments]
        head, count = (shape[0] if shape else ""), len(shape)
        if head in REFERENCE_KINDS or head == ADMINISTRATIONS:
            if count in (1, 2):
                self._allow(call, "GET")
                if count == 1:
                    return 200, self._list(call, head, self._rows(call.admin, head))
                return 200, self._one(call, head, self._find(call, head, segments[1]))
        elif head in (DEBTORS, ARTICLES) and count in (1, 2):
            if count == 1:
                self._allow(call, "GET", "POST")
                if method == "GET":
                    return 200, self._list(call, head, self._rows(call.admin, head))
                return self._write(call, head, None)
            self._allow(call, "GET", "PUT")
            found = self._find(call, head, segments[1])
            if method == "PUT":
                return self._write(call, head, found)
            return 200, self._one(call, head, found)
        elif head == DEBTORS and count in (3, 4) and shape[2] == CONTACT_PERSONS:
            self._allow(call, "GET", "POST" if count == 3 else "PUT")
            debtor = self._find(call, DEBTORS, segments[1])
            if count == 3:
                if method == "GET":
                    rows = self._rows(call.admin, CONTACT_PERSONS, debtor["id"])
                    return 200, self._list(call, CONTACT_PERSONS, rows)
                return self._write(call, CONTACT_PERSONS, None, debtor)
            contact = self._find(call, CONTACT_PERSONS, segments[3], debtor["id"])
            if method == "GET":
                return 200, self._one(call, CONTACT_PERSONS, contact)
            return self._write(call, CONTACT_PERSONS, contact, debtor)
        elif head in ("salesorderwithlines", "salesinvoiceswithlines") and count in (1, 2):
            kind = SALES_ORDERS if head == "salesorderwithlines" else SALES_INVOICES
            if count == 1:
                self._allow(call, "GET", "POST")
                if method == "GET":
                    return 200, self._list(call, kind, self._rows(call.admin, kind))
                return self._write(call, kind, None)
            self._allow(call, "GET")
            return 200, self._one(call, kind, self._find(call, kind, segments[1]))
        elif head == "salesinvoiceswithlines" and count == 3 and shape[2] == "file":
            self._allow(call, "POST")
            return self._attach(call, self._find(call, SALES_INVOICES, segments[1]))
        raise Problem(404, text(call.lang, "not_emulated", value=call.path))

    @staticmethod
    def _allow(call: Call, *methods: str) -> None:
        if call.method not in methods:
            detail = text(call.lang, "method", value=f"{call.method} {call.path}")
            raise Problem(405, detail, headers={"Allow": ", ".join(methods)})

    def _rows(self, admin: Administration, kind: str, owner: int | None = None) -> list[Any]:
        if kind == ADMINISTRATIONS:
            return [{"id": a.id, "name": a.name} for a in self.administrations.values()]
        rows = admin.tables[kind].values()
        return [r for r in rows if owner is None or r.get("debtorId") == owner]

    def _find(self, call: Call, kind: str, key: str, owner: int | None = None) -> dict[str, Any]:
        """The record `key` names (an int id or a code), else 404 naming it."""
        id_type = SPECS[kind]["id"].type
        rows = {r["id"]: r for r in self._rows(call.admin, kind, owner)}
        found = rows.get(int(key) if id_type == "int" and re.fullmatch(r"-?\d+", key) else key)
        if found is None:
            noun = NOUNS[kind][call.lang == "nl"]
            raise Problem(404, text(call.lang, "missing", noun=noun, value=key))
        return found

    # --- answers ----------------------------------------------------------------------------

    def _shape(self, kind: str, record: dict[str, Any], internal: bool = False) -> dict[str, Any]:
        """A stored record as Asperion's JSON (lines enveloped; a contact person's debtorId
        only in dumps: the path names its debtor; a sales order's is in its body)."""
        hidden = kind == CONTACT_PERSONS and not internal
        shaped = {k: v for k, v in record.items() if not (hidden and k == "debtorId")}
        if "lines" in shaped and kind in (SALES_ORDERS, SALES_INVOICES):
            lines = shaped["lines"]
            shaped["lines"] = {"_data": lines, "_meta": {"totalCount": len(lines)}}
        return shaped

    def _item_url(self, kind: str, record: dict[str, Any]) -> str:
        paths = {SALES_ORDERS: "SalesOrderWithLines", SALES_INVOICES: "salesinvoiceswithlines"}
        if kind == CONTACT_PERSONS:
            return f"{self.base_url}/v1/debtors/{record['debtorId']}/contactpersons/{record['id']}"
        return f"{self.base_url}/v1/{paths.get(kind, kind)}/{record['id']}"

    def _item(self, kind: str, record: dict[str, Any], only: list[str] | None) -> dict[str, Any]:
        shaped = self._shape(kind, record)
        if only is not None:
            shaped = {k: v for k, v in shaped.items() if k == "id" or k in only}
        return {**native(shaped), "_meta": {"self": self._item_url(kind, record)}}

    def _one(self, call: Call, kind: str, record: dict[str, Any]) -> dict[str, Any]:
        errors, only = call.errors(), None
        for name, value in call.params:
            if name.lower() == "fields":
                only = self._field_list(SPECS[kind], value, errors)
            else:
                errors.add(name, "unknown_param")
        errors.check()
        return self._item(kind, record, only)

    @staticmethod
    def _field_list(spec: Spec, value: str, errors: Errors) -> list[str]:
        names = {n.lower(): n for n in spec}
        wanted = [part.strip() for part in value.split(",") if part.strip()]
        for part in wanted:
            if part.lower() not in names:
                errors.add("fields", "field_name", value=part)
        return [names[p.lower()] for p in wanted if p.lower() in names]

    def _list(self, call: Call, kind: str, rows: list[dict[str, Any]]) -> dict[str, Any]:
        """Filter, order and page `rows` as the query asks; the envelope."""
        spec, errors = SPECS[kind], call.errors()
        page, size, meta_only, only = 1, 25, False, None
        order: list[tuple[str, bool]] = []
        active = "active" if kind == ARTICLES else "all"
        comparisons = {
            n.lower()[: -len("_comparison")]: (n, v)
            for n, v in call.params
            if n.lower().endswith("_comparison")
        }
        tests: list[Callable[[dict[str, Any]], bool]] = []
        for name, value in call.params:
            low = name.lower()
            if low in ("page", "pagesize"):
                limit = 10**9 if low == "page" else self.max_page_size
                number = int(value) if re.fullmatch(r"\s*\d+\s*", value) else 0
                if not 1 <= number <= limit:
                    key = "page" if low == "page" else "pageSize"
                    errors.add(key, "page" if low == "page" else "page_size", n=limit)
                elif low == "page":
                    page = number
                else:
                    size = number
            elif low == "metaonly":
                if value.lower() not in ("true", "false"):
                    errors.add("metaOnly", "bool")
                meta_only = value.lower() == "true"
            elif low == "fields":
                only = self._field_list(spec, value, errors)
            elif low == "orderby":
                order = self._order_by(spec, value, errors)
            elif low == "activestate" and kind == ARTICLES:
                if value.lower() not in ("active", "inactive", "all"):
                    errors.add("ActiveState", "active_state")
                active = value.lower()
            elif low.endswith("_comparison") and _is_text(spec, low[: -len("_comparison")]):
                if value.lower() not in COMPARISONS:
                    errors.add(name, "comparison")
            elif kind == SALES_INVOICES and low == "debtorid":
                test = self._invoice_debtor(call.admin, value, errors)
                if test is not None:
                    tests.append(test)
            elif not self.changed_since_filters and low in (
                "datelastchange_from",
                "datelastchange_to",
            ):
                continue  # a server without that filter: silently ignored
            else:
                test = self._filter(spec, name, value, comparisons, errors)
                if test is not None:
                    tests.append(test)
        errors.check()
        if active != "all":
            rows = [r for r in rows if r["active"] == (active == "active")]
        rows = [r for r in rows if all(test(r) for test in tests)]
        rows.sort(key=lambda r: _sortable(spec["id"], r["id"]))
        for field, descending in reversed(order):
            rows.sort(key=_order_key(spec[field], field), reverse=descending)
        total = len(rows)
        pages = math.ceil(total / size)
        shown = [] if meta_only else rows[(page - 1) * size : page * size]
        admin = call.admin
        return {
            "_data": [self._item(kind, r, only) for r in shown],
            "_meta": {
                "administrationId": admin.id,
                "administrationName": admin.name,
                "profileName": PROFILE,
                "previousPage": self._page_url(call, page - 1) if page > 1 else None,
                "nextPage": self._page_url(call, page + 1) if page < pages else None,
                "totalCount": total,
                "pageCount": pages,
                "self": self._page_url(call, None),
            },
        }

    @staticmethod
    def _invoice_debtor(
        admin: Administration, value: str, errors: Errors
    ) -> Callable[[dict[str, Any]], bool] | None:
        """`DebtorId=` on sales invoices (a confirmed filter, though an invoice names its
        debtor by customer number): the invoices of the debtor with that id; none for an
        id no debtor has."""
        if not re.fullmatch(r"\s*-?\d+\s*", value):
            errors.add("DebtorId", "filter_value", value=value, type=TYPE_NAMES["int"])
            return None
        debtor = admin.tables[DEBTORS].get(int(value))
        number = debtor["customerNumber"] if debtor is not None else None
        return lambda r: number is not None and r["debtorCustomerNumber"] == number

    def _page_url(self, call: Call, page: int | None) -> str:
        """This request's URL, with `page` (None: as asked)."""
        params = list(call.params)
        if page is not None:
            at = [i for i, (name, _) in enumerate(params) if name.lower() == "page"]
            if at:
                params[at[0]] = (params[at[0]][0], str(page))
            else:
                params.append(("page", str(page)))
        query = urlencode(params)
        return f"{self.base_url}{call.path}" + (f"?{query}" if query else "")

    @staticmethod
    def _order_by(spec: Spec, value: str, errors: Errors) -> list[tuple[str, bool]]:
        names = {n.lower(): n for n, f in spec.items() if f.type not in ("object", "lines")}
        order = []
        for part in (p.split() for p in value.split(",") if p.strip()):
            field = names.get(part[0].lower())
            direction = part[1].lower() if len(part) == 2 else "asc"
            if field is None or len(part) > 2 or direction not in ("asc", "desc"):
                errors.add("orderBy", "field_name", value=" ".join(part))
            else:
                order.append((field, direction == "desc"))
        return order

    def _filter(
        self,
        spec: Spec,
        name: str,
        value: str,
        comparisons: dict[str, tuple[str, str]],
        errors: Errors,
    ) -> Callable[[dict[str, Any]], bool] | None:
        """The test a `<Field>`, `<Field>_from` or `<Field>_to` parameter makes."""
        low = name.lower()
        base, suffix = low, ""
        for end in ("_from", "_to"):
            if low.endswith(end):
                base, suffix = low[: -len(end)], end[1:]
        field = _filterable(spec).get(base)
        f = spec[field] if field else None
        if f is None or (suffix and f.type not in ("int", "number", "date", "datetime")):
            errors.add(name, "unknown_param")
            return None
        assert field is not None
        try:
            if f.type == "str":
                how = comparisons.get(base, ("", "contains"))[1].lower()
                return _text_test(field, value.casefold(), how)
            if f.type == "bool":
                if value.lower() not in ("true", "false"):
                    raise ValueError(value)
                return lambda r: r[field] == (value.lower() == "true")
            if f.type in ("date", "datetime"):
                wanted, day = moment(value)
                return _moment_test(field, wanted, day, suffix)
            number = Decimal(value.strip())
            if not number.is_finite():
                raise ValueError(value)
        except (ValueError, ArithmeticError):
            errors.add(name, "filter_value", value=value, type=TYPE_NAMES[f.type])
            return None
        return _number_test(field, number, suffix)

    # --- writes ---------------------------------------------------------------------------

    def _write(
        self,
        call: Call,
        kind: str,
        stored: dict[str, Any] | None,
        debtor: dict[str, Any] | None = None,
    ) -> tuple[int, dict[str, Any]]:
        """POST (stored None) or PUT: validate, build, and persist unless validateOnly."""
        errors, validate_only = call.errors(), False
        for name, value in call.params:
            if name.lower() != "validateonly":
                errors.add(name, "unknown_param")
            elif value.lower() not in ("true", "false"):
                errors.add("validateOnly", "bool")
            else:
                validate_only = value.lower() == "true"
        errors.check()
        body = _json_body(call)
        given = self._coerce(SPECS[kind], body, errors)
        mode = "put" if stored is not None else "post"
        owner = debtor["id"] if debtor is not None else None
        built = self._build(kind, call.admin, given, stored, errors, mode, owner, validate_only)
        errors.check()
        if validate_only:
            return 200, self._item(kind, built, None)
        if stored is not None:
            stored.clear()
            stored.update(built)
        else:
            self._store(call.admin, kind, built, None)
        if debtor is not None:
            debtor["dateLastChange"] = self._now()
        return (200 if stored is not None else 201), self._item(kind, built, None)

    def _coerce(
        self, spec: Spec, body: Any, errors: Errors, prefix: str = "", seed: bool = False
    ) -> dict[str, Any]:
        """The body's values by field name, typed; unknown fields, wrong types, lengths and
        missing required fields reported. Read-only fields are ignored unless seeding (but
        currentStock, which a write must leave alone, is read)."""
        if not isinstance(body, dict):
            if prefix:
                errors.add(prefix.rstrip("."), "type", type=TYPE_NAMES["object"])
            else:
                errors.add("$", "body")
            return {}
        names = {n.lower(): n for n in spec}
        given: dict[str, Any] = {}
        for key, value in body.items():
            name = names.get(str(key).lower())
            ignored = key == "_meta" or (name and spec[name].readonly and not seed)
            if ignored and name != "currentStock":
                continue
            if name is None:
                errors.add(f"{prefix}{key}", "unknown_field")
                continue
            given[name] = self._value(spec[name], value, f"{prefix}{name}", errors, seed)
        for name, f in spec.items():
            if f.required and given.get(name) in (None, "") and f"{prefix}{name}" not in errors:
                errors.add(f"{prefix}{name}", "required", field=name)
        return given

    def _value(self, f: F, value: Any, path: str, errors: Errors, seed: bool) -> Any:
        if value is None:
            return None
        ok, typed = True, value
        if f.type == "str":
            ok = isinstance(value, str)
            if ok and f.max is not None and len(value) > f.max:
                errors.add(path, "max", field=path.rpartition(".")[2], n=f.max)
        elif f.type in ("int", "number"):
            ok = isinstance(value, int if f.type == "int" else (int, float))
            ok = ok and not isinstance(value, bool)
            if ok and f.type == "number":
                typed = Decimal(str(value))
                ok = typed.is_finite()
        elif f.type == "bool":
            ok = isinstance(value, bool)
        elif f.type in ("date", "datetime"):
            try:
                stamp, _ = moment(value)
                typed = stamp.strftime("%Y-%m-%d" if f.type == "date" else "%Y-%m-%dT%H:%M:%S")
            except ValueError:
                ok = False
        elif f.type == "object":
            assert f.sub is not None
            ok = isinstance(value, dict)
            typed = self._coerce(f.sub, value, errors, f"{path}.", seed) if ok else None
        elif f.type == "lines":
            assert f.sub is not None
            items = value.get("_data") if isinstance(value, dict) else None
            ok = isinstance(items, list)
            if ok:
                assert isinstance(items, list)
                typed = [
                    self._coerce(f.sub, item, errors, f"{path}._data[{i}].", seed)
                    for i, item in enumerate(items)
                ]
        if not ok:
            errors.add(path, "type", type=TYPE_NAMES[f.type])
            return None
        return typed

    def _checked(
        self,
        admin: Administration,
        spec: Spec,
        given: dict[str, Any],
        errors: Errors,
        prefix: str = "",
    ) -> None:
        """References to other records and formats of the given values."""
        for name, value in given.items():
            f = spec[name]
            if value is None or value == "" or f.readonly:
                continue
            if f.ref is not None and value not in admin.tables[f.ref]:
                errors.add(f"{prefix}{name}", "missing", noun=_noun(f.ref, errors), value=value)
            if f.check is not None and not CHECKS[f.check](value):
                errors.add(f"{prefix}{name}", f.check)
            if f.type == "object" and f.sub is not None:
                self._checked(admin, f.sub, value, errors, f"{prefix}{name}.")

    @staticmethod
    def _filled(
        spec: Spec, given: dict[str, Any], stored: dict[str, Any] | None, seed: bool
    ) -> dict[str, Any]:
        """A whole record: the given writable values, defaults for the absent ones (a PUT
        replaces); read-only ones as stored (seeding: as given, else as stored, but for
        dateLastChange, which a replacing seed sets to now)."""
        record: dict[str, Any] = {}
        for name, f in spec.items():
            kept = stored.get(name, f.default) if stored else f.default
            if f.readonly and not seed:
                record[name] = kept
            elif f.readonly and name not in given:
                record[name] = None if name == "dateLastChange" else kept
            else:
                record[name] = given.get(name, f.default)
            if f.type == "object" and f.sub is not None and record[name] is not None:
                record[name] = {k: record[name].get(k) for k in f.sub}
        return record

    def _build(
        self,
        kind: str,
        admin: Administration,
        given: dict[str, Any],
        stored: dict[str, Any] | None,
        errors: Errors,
        mode: str,
        owner: int | None,
        validate_only: bool = False,
    ) -> dict[str, Any]:
        """The record a write (or seed) of `kind` makes; errors collects what is refused.
        Numbers are assigned and stock reserved only when it passes and will be kept."""
        spec, seed = SPECS[kind], mode == "seed"
        self._checked(admin, spec, given, errors)
        record = self._filled(spec, given, stored, seed)
        draft = Draft(admin, given, stored, record, errors, seed, not validate_only, self._now())
        if kind == CONTACT_PERSONS:
            record["debtorId"] = owner
        builders = {
            DEBTORS: self._debtor,
            ARTICLES: self._article,
            SALES_ORDERS: self._order,
            SALES_INVOICES: self._invoice,
        }
        if kind in builders:
            builders[kind](draft)
        if not seed:
            record["id"] = stored["id"] if stored else 0
        return record

    def _debtor(self, d: Draft) -> None:
        number = d.given.get("customerNumber") or (d.stored or {}).get("customerNumber")
        self._unique(d, DEBTORS, "customerNumber", number)
        if d.errors:
            return
        if not number and d.keep:
            taken = {r["customerNumber"] for r in d.admin.tables[DEBTORS].values()}
            d.admin.last_customer += 1
            while str(d.admin.last_customer) in taken:
                d.admin.last_customer += 1
            number = str(d.admin.last_customer)
        d.record["customerNumber"] = number or None
        d.stamp("dateAdded", "dateLastChange")

    def _article(self, d: Draft) -> None:
        self._unique(d, ARTICLES, "articleCode", d.given.get("articleCode"))
        stock = d.given.get("currentStock")
        before = d.stored["currentStock"] if d.stored else Decimal(0)
        if not d.seed and stock is not None and stock != before:
            d.errors.add("currentStock", "stock")
        d.stamp("dateLastChange")

    @staticmethod
    def _unique(d: Draft, kind: str, field: str, value: Any) -> None:
        own = d.stored["id"] if d.stored else None
        rows = d.admin.tables[kind].values()
        if value and any(r[field] == value and r["id"] != own for r in rows):
            d.errors.add(field, "taken", field=field, value=value)

    def _order(self, d: Draft) -> None:
        """A sales order's checks, lines (article, price and VAT filled in) and totals; kept,
        it takes the next VO number and reserves its quantities."""
        admin, record, errors = d.admin, d.record, d.errors
        debtor = admin.tables[DEBTORS].get(d.given.get("debtorId"))
        if debtor is not None and debtor["blocked"] and not d.seed:
            errors.add("debtorId", "blocked", value=debtor["id"])
        self._unique(d, SALES_ORDERS, "orderNumber", d.given.get("orderNumber"))
        lines = self._lines(d, ORDER_LINE)
        chosen = []
        for i, line in enumerate(lines):
            article = self._line_article(d, line, f"lines._data[{i}].articleCode")
            vat = line.get("vatCodeId") or (article or {}).get("vatCodeId") or _default_vat(admin)
            if article is not None and vat is None:  # none given, on the article, or default
                errors.add(f"lines._data[{i}].vatCodeId", "required", field="vatCodeId")
            chosen.append((article, vat))
        if errors:
            return
        built, totals = [], [Decimal(0)] * 3
        for line, (article, vat) in zip(lines, chosen, strict=True):
            assert article is not None
            filled = {
                "id": d.line_id(line),
                "articleId": article["id"],
                "articleCode": article["articleCode"],
                "description": line.get("description") or article["description"],
                "quantity": line["quantity"],
                "unitPrice": _or(line.get("unitPrice"), article["salesPrice"]),
                "discountPercentage": line.get("discountPercentage"),
                "vatCodeId": vat,
            }
            percentage = admin.tables[VAT_CODES][vat]["percentage"]
            discount = 1 - _or(filled["discountPercentage"], Decimal(0)) / 100
            gross = cents(filled["quantity"] * filled["unitPrice"] * discount)
            if record["pricesIncludeVat"]:
                excl = cents(gross * 100 / (100 + percentage))
                amounts = (excl, gross - excl, gross)
            else:
                vat_amount = cents(gross * percentage / 100)
                amounts = (gross, vat_amount, gross + vat_amount)
            totals = [t + a for t, a in zip(totals, amounts, strict=True)]
            built.append(filled)
        record["lines"] = built
        d.totals(totals)
        record["status"] = (record["status"] if d.seed else None) or "Open"
        if not record["salesOrderNumber"] and d.keep:
            admin.last_order += 1
            record["salesOrderNumber"] = f"VO{admin.last_order:06d}"
        if d.keep and not d.seed:
            for line in built:
                admin.tables[ARTICLES][line["articleId"]]["reservedStock"] += line["quantity"]
        d.stamp("dateAdded", "dateLastChange")

    def _lines(self, d: Draft, spec: Spec) -> list[dict[str, Any]]:
        """The given lines, their references and formats checked; at least one."""
        lines: list[dict[str, Any]] = d.given.get("lines") or []
        if d.given.get("lines") == []:
            d.errors.add("lines", "no_lines")
        for i, line in enumerate(lines):
            self._checked(d.admin, spec, line, d.errors, f"lines._data[{i}].")
        return lines

    @staticmethod
    def _line_article(d: Draft, line: dict[str, Any], at: str) -> dict[str, Any] | None:
        """The article an order line names by articleId or articleCode, if it may be
        ordered (errors under `at`, the line's articleCode, whichever it gave)."""
        articles, errors = d.admin.tables[ARTICLES], d.errors
        number, code = line.get("articleId"), line.get("articleCode")
        by_id = articles.get(number) if number is not None else None
        by_code = next((a for a in articles.values() if a["articleCode"] == code), None)
        if number is None and not code:
            errors.add(at, "no_article")
        elif number is not None and by_id is None:
            errors.add(at, "missing", noun=_noun(ARTICLES, errors), value=number)
        elif code and by_code is None:
            errors.add(at, "missing", noun=_noun(ARTICLES, errors), value=code)
        elif by_id is not None and by_code is not None and by_id is not by_code:
            errors.add(at, "two_articles")
        else:
            article = by_id or by_code
            assert article is not None
            if article["active"] or d.seed:
                return article
            errors.add(at, "inactive", value=article["articleCode"])
        return None

    def _invoice(self, d: Draft) -> None:
        """A sales invoice's checks, lines (VAT computed where absent) and totals; kept, it
        takes the next number of its date's year."""
        admin, record, errors = d.admin, d.record, d.errors
        customer = d.given.get("debtorCustomerNumber")
        if customer and all(
            r["customerNumber"] != customer for r in admin.tables[DEBTORS].values()
        ):
            errors.add(
                "debtorCustomerNumber", "missing", noun=_noun(DEBTORS, errors), value=customer
            )
        journal = admin.tables[JOURNALS].get(d.given.get("journalId"))
        if journal is not None and journal["type"] != "Sales":
            errors.add("journalId", "not_sales", value=journal["id"])
        self._unique(d, SALES_INVOICES, "invoiceNumber", d.given.get("invoiceNumber"))
        lines = self._lines(d, INVOICE_LINE)
        for i, line in enumerate(lines):
            account = admin.tables[LEDGER_ACCOUNTS].get(line.get("ledgerAccountId"))
            if account is not None and account["disabled"]:
                errors.add(f"lines._data[{i}].ledgerAccountId", "disabled", value=account["id"])
        if errors:
            return
        built, totals = [], [Decimal(0)] * 3
        for line in lines:
            percentage = admin.tables[VAT_CODES][line["vatCode"]]["percentage"]
            amount = line["amount"]
            vat = _or(line.get("vatAmount"), cents(amount * percentage / 100))
            built.append({**{n: line.get(n) for n in INVOICE_LINE}, "vatAmount": vat})
            built[-1]["id"] = d.line_id(line)
            totals = [t + a for t, a in zip(totals, (amount, vat, amount + vat), strict=True)]
        record["lines"] = built
        d.totals(totals)
        day, _ = moment(record["date"])
        record["bookyear"] = record["bookyear"] or day.year
        record["bookperiod"] = record["bookperiod"] or day.month
        record["status"] = record["status"] or 1
        if not record["invoiceNumber"] and d.keep:
            taken = {r["invoiceNumber"] for r in admin.tables[SALES_INVOICES].values()}
            number = None
            while number is None or number in taken:
                admin.last_invoice[day.year] = admin.last_invoice.get(day.year, 0) + 1
                number = f"{day.year}-{admin.last_invoice[day.year]:05d}"
            record["invoiceNumber"] = number

    def _attach(self, call: Call, invoice: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        """`POST /v1/salesinvoiceswithlines/{id}/file`: a multipart part named File."""
        errors, validate_only = call.errors(), False
        for name, value in call.params:
            if name.lower() == "validateonly" and value.lower() in ("true", "false"):
                validate_only = value.lower() == "true"
            else:
                errors.add(name, "unknown_param")
        errors.check()
        kind = call.headers.get("content-type", "")
        part = None
        if kind.lower().startswith("multipart/form-data"):
            parsed = BytesParser(policy=HTTP).parsebytes(
                f"Content-Type: {kind}\r\n\r\n".encode("latin-1") + call.body
            )
            if parsed.is_multipart():
                for found in parsed.iter_parts():
                    if found.get_param("name", header="content-disposition") == "File":
                        part = found
        if part is None:
            errors.add("File", "file")
            errors.check()
        assert part is not None
        content = part.get_payload(decode=True) or b""
        assert isinstance(content, bytes)
        name = part.get_filename() or "file"
        file_id = str(uuid.UUID(int=0) if validate_only else uuid.uuid4())
        admin = call.admin
        answer = {
            "id": file_id,
            "name": name,
            "type": part.get_content_type(),
            "extension": name.rpartition(".")[2].lower() if "." in name else "",
            "size": len(content),
            "createdOn": self._now(),
            "fileUrl": f"{self.base_url}/v1/files/{file_id}",
            "fullImageUrl": None,
            "thumbnail1Url": None,
            "thumbnail2Url": None,
            "thumbnail3Url": None,
            "_meta": {
                "administrationId": admin.id,
                "administrationName": admin.name,
                "profileName": PROFILE,
                "self": f"{self.base_url}/v1/files/{file_id}",
            },
        }
        if validate_only:
            return 200, answer
        admin.files.setdefault(invoice["id"], []).append((answer, content))
        return 201, answer


# --- helpers --------------------------------------------------------------------------------


def _refuse(kind: str, index: int, errors: Errors) -> None:
    if errors:
        said = "; ".join(f"{field}: {' '.join(messages)}" for field, messages in errors.items())
        raise ValueError(f"{kind}[{index}]: {said}")


def _json_body(call: Call) -> Any:
    try:
        return json.loads(call.body)
    except ValueError:
        errors = call.errors()
        errors.add("$", "body")
        raise Problem(400, errors=dict(errors)) from None


def _is_text(spec: Spec, lowered: str) -> bool:
    field = _filterable(spec).get(lowered)
    return field is not None and spec[field].type == "str"


def _filterable(spec: Spec) -> dict[str, str]:
    """Lower-cased names of the fields a query may filter on."""
    return {n.lower(): n for n, f in spec.items() if f.type not in ("object", "lines")}


def _order_key(f: F, field: str) -> Callable[[dict[str, Any]], tuple[bool, Any]]:
    def key(record: dict[str, Any]) -> tuple[bool, Any]:
        value = record[field]
        return (False, 0) if value is None else (True, _sortable(f, value))

    return key


def _text_test(field: str, wanted: str, how: str) -> Callable[[dict[str, Any]], bool]:
    def test(record: dict[str, Any]) -> bool:
        value = record[field]
        if value is None:
            return how == "notequals"
        have = str(value).casefold()
        return {
            "contains": wanted in have,
            "equals": have == wanted,
            "notequals": have != wanted,
            "startswith": have.startswith(wanted),
            "endswith": have.endswith(wanted),
        }[how]

    return test


def _moment_test(
    field: str, wanted: datetime, day: bool, suffix: str
) -> Callable[[dict[str, Any]], bool]:
    """Dates compare as Amsterdam local times; a date alone means its whole day."""

    def test(record: dict[str, Any]) -> bool:
        if record[field] is None:
            return False
        have = moment(record[field])[0]
        if suffix == "from":
            return have >= wanted
        if suffix == "to":
            return have.date() <= wanted.date() if day else have <= wanted
        return have.date() == wanted.date() if day else have == wanted

    return test


def _number_test(field: str, wanted: Decimal, suffix: str) -> Callable[[dict[str, Any]], bool]:
    def test(record: dict[str, Any]) -> bool:
        have = record[field]
        if have is None:
            return False
        have = Decimal(have)
        if suffix == "from":
            return have >= wanted
        return have <= wanted if suffix == "to" else have == wanted

    return test


def _noun(kind: str, errors: Errors) -> str:
    return NOUNS[kind][errors.lang == "nl"]


def _or(value: Any, default: Any) -> Any:
    return default if value is None else value


def _default_vat(admin: Administration) -> str | None:
    return next((v["id"] for v in admin.tables[VAT_CODES].values() if v["isDefault"]), None)
