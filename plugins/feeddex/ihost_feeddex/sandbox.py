"""A Feeddex API emulator on 127.0.0.1 (DESIGN §9, api/feeddex.md).

Public documentation of the Feeddex API is essentially absent: one public notebook shows two
calls, and everything else here is our design.

CONFIRMED (api/feeddex.md §1, §2.1) and emulated byte for byte:
`POST /authenticate` with the JSON body `{"authCode", "organization", "password"}` answers
`{"token": ...}`; every `/v1/` call carries `Authorization: Bearer <token>`;
`GET /v1/feedbackData?year=YYYY&month=MM` answers `{"feedbackData": [{"transaction": {...},
"f100Scores": null | {"overallScore": {"value", "valueAsGrade"}}}], "unitData": [{"id",
"name"}]}`, its timestamps in `%Y-%m-%dT%H:%M:%S.%fZ` (UTC, three fraction digits), no paging.

PROPOSED (our design, not documented facts):
- Auth: `expiresIn` (seconds, `token_ttl`) beside the token, an opaque random token, wrong or
  missing credentials 401 `{"message": "Invalid credentials"}`; a missing, unknown or
  expired token 401 `{"message": ...}` with `WWW-Authenticate: Bearer`. A token's lifetime
  runs on `monotonic` (real seconds), not on the simulated clock, so `advance` logs nobody
  out; `expire_tokens()` does.
- feedbackData: the month is the transaction's `date`; a transaction not yet sent (status
  entered) is left out (it has no `sentOn`); `customerCode` is the string stored (null when
  none was given); `remindedOn`, `feedbackStarted`, `modelQuestionsCompleted`,
  `feedbackCompleted` and `expirationDate` are absent until they happen; `unitData` lists
  the units the answer refers to; year (4 digits) and month (1..12) are required.
- Errors are JSON `{"message": str, "errors"?: {field: [msg]}}`; the message names the first
  field refused. Unknown body fields (at any depth) and unknown query parameters are
  refused with 400 naming them; null counts as absent for an optional field.
- `POST /v1/transactions`: one object or an array of 1..100, all or nothing: `externalId`
  (required, unique per organization), `date` (YYYY-MM-DD), `unitId` (a known unit),
  `customerCode` (string), `customer` {`email` (required), `firstName`, `lastName`,
  `companyName`, `phone`, `language` (2 letters)}, `orderLines` [{`sku`, `name`, `quantity`
  (a number, required)}], `sendInvitationAfterDays` (0..60, default 1). 201 `{"id",
  "externalId", "status": "entered"}` (a list for an array). An externalId held already,
  or given twice in one array: 409 `{"message": "Transaction already exists", "id",
  "externalId"}` (id null for the twice-given one) and nothing stored.
- `GET /v1/transactions?externalId=&from=&to=&page=&pageSize=` (dates inclusive on `date`,
  ordered by id) and `GET /v1/transactions/{id}`: the feedbackData transaction plus
  `externalId`, `status` (entered sent reminded started completed expired),
  `sendInvitationAfterDays`, `customer` (every field, null when not given), `orderLines`
  and `f100Scores` (null until completed).
- `GET /v1/units`; customers keyed by `customerCode` (`POST`, `GET` list with `email` (any
  case) and `customerCode`, `GET`/`PUT /v1/customers/{customerCode}`, PUT a full replace,
  409 `{"message", "id", "customerCode"}` for a code held already). A customer is not tied
  to the transactions that name its code.
- Lists: `{"items": [...], "total": N}`, `page` from 1, `pageSize` 1..100 (default 25).
- Rate limit (off unless `rate_limit=True`; UNCONFIRMED that Feeddex has one): a token
  bucket per token of `rate_limit_burst` (10) refilling `rate_limit_per_second` (10) a
  second over every `/v1/` call; a breach is 429 `{"message": "Too many requests"}` with
  `Retry-After` (whole seconds, at least 1) and uses up nothing.
- The respondent simulation. A transaction is sent `sendInvitationAfterDays` days after
  `enteredOn`. A responder starts 1 day after sending and completes (modelQuestionsCompleted
  and feedbackCompleted) 1 day after starting, i.e. sent + 2 days, with its F100 score; a
  non-responder is reminded 7 days after sending and expires (`expirationDate` = that date)
  30 days after sending. Whoever was reminded never answers; whoever started completes.
  Each moment is the scheduled one, not the moment the clock passed it. Responder and
  score follow from h = the first 8 bytes of SHA-256(externalId) as an integer: a responder
  when h % 100 < `response_rate` (0..100, default 80); value = 40 + h % 61 (40..100);
  valueAsGrade = round(value / 10, 1). The state always follows the sandbox clock: every
  request, `dump` and `advance` first move each transaction up to "now" (so seeded
  transactions move on too).

EMULATOR-ONLY and NON-AUTHORITATIVE (nothing public shows Feeddex having them; they exist
because an integration vendor lists products and stock for Feeddex): `PUT
/v1/products/{sku}` {`sku`, `name`, `price` (string or number), `ean`} stored and answered
verbatim; `GET /v1/products?sku=`, `GET /v1/products/{sku}`; `PUT /v1/stock/{sku}`
{`quantity`}, `GET /v1/stock?sku=`, `GET /v1/stock/{sku}`. A connector must not take them
as proof of anything Feeddex does.

Not emulated, refused loudly: any other method or path under `/v1/` answers 501
`{"message": "<METHOD> <path>: not emulated by the ihost sandbox"}` (after the token check);
any other path outside `/v1/` and `/_sandbox/` answers 404 with the same message.

Test-only controls: `POST /_sandbox/seed/{kind}` (the base class) and `POST
/_sandbox/advance?days=N` (the clock moves N days; answers the transitions made, counted by
new status). In Python: `seed(kind, records)` and `dump(kind)` for the kinds in KINDS,
`advance(days)`, `now()`, `expire_tokens()`, `responds(external_id)`,
`score(external_id)`, `clock` (a callable giving an aware UTC datetime; `advance` adds its
days on top), `monotonic` (seconds, for token lifetimes and the rate limit), `logins`
(successful `/authenticate` calls) and `throttled` (429 answers given).
"""

from __future__ import annotations

import copy
import hashlib
import json
import math
import re
import secrets
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from host.sandbox import NOT_EMULATED, Sandbox

UNITS = "units"
TRANSACTIONS = "transactions"
CUSTOMERS = "customers"
PRODUCTS = "products"
STOCK = "stock"
KINDS = (UNITS, TRANSACTIONS, CUSTOMERS, PRODUCTS, STOCK)

ENTERED = "entered"
SENT = "sent"
REMINDED = "reminded"
STARTED = "started"
COMPLETED = "completed"
EXPIRED = "expired"
STATUSES = (ENTERED, SENT, REMINDED, STARTED, COMPLETED, EXPIRED)

BATCH_MAX = 100
PAGE_SIZE_DEFAULT = 25
PAGE_SIZE_MAX = 100
START_AFTER = timedelta(days=1)  # a responder starts this long after the invitation
COMPLETE_AFTER = timedelta(days=1)  # ... and completes this long after starting
REMIND_AFTER = timedelta(days=7)
EXPIRE_AFTER = timedelta(days=30)
ADVANCE = "/_sandbox/advance"
DEFAULT_UNITS = [{"id": 1, "name": "Webshop"}]

EMAIL_RE = re.compile(r"[^@\s]+@[^@\s.][^@\s]*\.[^@\s]+")
DATE_RE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
LANGUAGE_RE = re.compile(r"[A-Za-z]{2}")


def stamp(moment: datetime) -> str:
    """A moment as Feeddex writes it: UTC, three fraction digits, `Z`."""
    utc = moment.astimezone(timezone.utc)
    return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}Z"


def _millis(moment: datetime) -> datetime:
    utc = moment.astimezone(timezone.utc)
    return utc.replace(microsecond=utc.microsecond // 1000 * 1000)


class ApiError(Exception):
    """An error answer: status, message, errors by field, extra body fields, headers."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        errors: dict[str, list[str]] | None = None,
        extra: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status, self.message = status, message
        self.errors, self.extra, self.headers = errors, extra, headers

    def response(self) -> Response:
        body: dict[str, Any] = {"message": self.message}
        if self.errors:
            body["errors"] = self.errors
        body.update(self.extra or {})
        return JSONResponse(body, status_code=self.status, headers=self.headers)


class Errors(dict[str, list[str]]):
    """Validation errors by field path, in the order found."""

    def add(self, path: str, message: str) -> None:
        self.setdefault(path, []).append(message)

    def first(self) -> str:
        path, messages = next(iter(self.items()))
        return f"{path}: {messages[0]}"

    def raise_400(self) -> None:
        if self:
            more = sum(len(m) for m in self.values()) - 1
            message = self.first() + (f" (and {more} more)" if more else "")
            raise ApiError(400, message, errors=dict(self))

    def raise_value_error(self) -> None:
        if self:
            raise ValueError(self.first())


# --- fields -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class F:
    """One field: its kind (str int number date email language choice stamp object lines
    price ean), whether required, bounds for numbers, choices, nested fields, default."""

    kind: str
    required: bool = False
    low: int | None = None
    high: int | None = None
    choices: tuple[str, ...] = ()
    sub: Mapping[str, F] | None = None
    default: Any = None


Spec = Mapping[str, F]
TEXT = F("str")
STAMP = F("stamp")
_BAD = object()  # a value refused (the error is recorded)

CUSTOMER_FIELDS: Spec = {
    "email": F("email", required=True),
    "firstName": TEXT,
    "lastName": TEXT,
    "companyName": TEXT,
    "phone": TEXT,
    "language": F("language"),
}
ORDER_LINE: Spec = {"sku": TEXT, "name": TEXT, "quantity": F("number", required=True)}
TRANSACTION_WRITE: Spec = {
    "externalId": F("str", required=True),
    "date": F("date", required=True),
    "unitId": F("int", required=True, low=1),
    "customerCode": TEXT,
    "customer": F("object", required=True, sub=CUSTOMER_FIELDS),
    "orderLines": F("lines", sub=ORDER_LINE),
    "sendInvitationAfterDays": F("int", low=0, high=60, default=1),
}
SCORES: Spec = {
    "overallScore": F(
        "object",
        required=True,
        sub={"value": F("int", required=True, low=0, high=100), "valueAsGrade": F("number")},
    )
}
#: the moments of a transaction: read name -> Transaction attribute
MOMENTS = {
    "enteredOn": "entered_on",
    "sentOn": "sent_on",
    "remindedOn": "reminded_on",
    "feedbackStarted": "feedback_started",
    "modelQuestionsCompleted": "questions_completed",
    "feedbackCompleted": "feedback_completed",
}
TRANSACTION_SEED: Spec = {
    "id": F("int", low=1),
    **TRANSACTION_WRITE,
    "status": F("choice", choices=STATUSES),
    **{name: STAMP for name in MOMENTS},
    "expirationDate": F("date"),
    "f100Scores": F("object", sub=SCORES),
}
CUSTOMER_WRITE: Spec = {"customerCode": F("str", required=True), **CUSTOMER_FIELDS}
CUSTOMER_PUT: Spec = {**CUSTOMER_WRITE, "customerCode": TEXT}
CUSTOMER_SEED: Spec = {"id": F("int", low=1), **CUSTOMER_WRITE}
PRODUCT_PUT: Spec = {"sku": TEXT, "name": TEXT, "price": F("price"), "ean": F("ean")}
PRODUCT_SEED: Spec = {**PRODUCT_PUT, "sku": F("str", required=True)}
STOCK_PUT: Spec = {"sku": TEXT, "quantity": F("number", required=True)}
STOCK_SEED: Spec = {**STOCK_PUT, "sku": F("str", required=True)}
UNIT_SEED: Spec = {"id": F("int", low=1), "name": F("str", required=True)}

#: per status: the moments a transaction must have, and those it may have
STATE_REQUIRED: dict[str, tuple[str, ...]] = {
    ENTERED: (),
    SENT: ("sentOn",),
    REMINDED: ("sentOn", "remindedOn"),
    STARTED: ("sentOn", "feedbackStarted"),
    COMPLETED: ("sentOn", "feedbackCompleted"),
    EXPIRED: ("sentOn",),
}
STATE_ALLOWED: dict[str, frozenset[str]] = {
    ENTERED: frozenset(),
    SENT: frozenset({"sentOn"}),
    REMINDED: frozenset({"sentOn", "remindedOn"}),
    STARTED: frozenset({"sentOn", "remindedOn", "feedbackStarted", "modelQuestionsCompleted"}),
    COMPLETED: frozenset(
        {"sentOn", "remindedOn", "feedbackStarted", "modelQuestionsCompleted", "feedbackCompleted"}
    ),
    EXPIRED: frozenset(
        {"sentOn", "remindedOn", "feedbackStarted", "modelQuestionsCompleted", "expirationDate"}
    ),
}


def _join(prefix: str, name: str) -> str:
    return f"{prefix}.{name}" if prefix else name


def _valid_date(value: Any) -> bool:
    if not isinstance(value, str) or not DATE_RE.fullmatch(value):
        return False
    try:
        date.fromisoformat(value)
    except ValueError:
        return False
    return True


def _parse_stamp(value: Any) -> datetime | None:
    """A UTC timestamp like 2026-03-10T11:00:00.000Z (any ISO 8601 form with a zone)."""
    if not isinstance(value, str) or "T" not in value:
        return None
    text = value[:-1] + "+00:00" if value.endswith("Z") else value
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    if moment.tzinfo is None:
        return None
    return _millis(moment)


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return (_is_int(value) or isinstance(value, float)) and math.isfinite(value)


def _value(f: F, value: Any, path: str, errors: Errors) -> Any:
    """A present, non-null value checked (and converted); _BAD after recording why not."""
    kind = f.kind
    if kind in ("str", "email", "language", "choice", "date"):
        if not isinstance(value, str):
            errors.add(path, "must be a string")
            return _BAD
        if f.required and not value.strip():
            errors.add(path, "must not be empty")
            return _BAD
        if kind == "email" and not EMAIL_RE.fullmatch(value):
            errors.add(path, "must be an e-mail address")
            return _BAD
        if kind == "language" and not LANGUAGE_RE.fullmatch(value):
            errors.add(path, "must be a language code of 2 letters")
            return _BAD
        if kind == "choice" and value not in f.choices:
            errors.add(path, "must be one of " + ", ".join(f.choices))
            return _BAD
        if kind == "date" and not _valid_date(value):
            errors.add(path, "must be a date YYYY-MM-DD")
            return _BAD
        return value
    if kind in ("int", "number"):
        if not (_is_int(value) if kind == "int" else _is_number(value)):
            errors.add(path, "must be a whole number" if kind == "int" else "must be a number")
            return _BAD
        if (f.low is not None and value < f.low) or (f.high is not None and value > f.high):
            bounds = f"from {f.low} to {f.high}" if f.high is not None else f"{f.low} or more"
            errors.add(path, f"must be {bounds}")
            return _BAD
        return value
    if kind == "price":
        if isinstance(value, str) or _is_number(value):
            return value
        errors.add(path, "must be a string or a number")
        return _BAD
    if kind == "ean":
        if isinstance(value, str) or _is_int(value):
            return value
        errors.add(path, "must be a string")
        return _BAD
    if kind == "stamp":
        moment = _parse_stamp(value)
        if moment is None:
            errors.add(path, "must be a UTC timestamp like 2026-03-10T11:00:00.000Z")
            return _BAD
        return moment
    if kind == "object":
        assert f.sub is not None
        return check(f.sub, value, path, errors)
    if kind == "lines":
        assert f.sub is not None
        if not isinstance(value, list):
            errors.add(path, "must be an array")
            return _BAD
        lines = [check(f.sub, item, f"{path}[{i}]", errors) for i, item in enumerate(value)]
        return _BAD if any(line is _BAD for line in lines) else lines
    raise AssertionError(kind)


def check(spec: Spec, value: Any, prefix: str, errors: Errors) -> Any:
    """An object checked against `spec`: every field of the spec, absent (or null) optional
    ones as their default (None, or [] for lines); _BAD when something was refused."""
    if not isinstance(value, dict):
        errors.add(prefix or "body", "must be an object")
        return _BAD
    bad = False
    for name in value:
        if name not in spec:
            errors.add(_join(prefix, name), "is not a known field")
            bad = True
    out: dict[str, Any] = {}
    for name, f in spec.items():
        path = _join(prefix, name)
        given = value.get(name)
        if given is None:
            if f.required:
                errors.add(path, "is required")
                bad = True
            out[name] = [] if f.kind == "lines" else f.default
            continue
        out[name] = _value(f, given, path, errors)
        bad = bad or out[name] is _BAD
    return _BAD if bad else out


def _int_param(
    query: dict[str, str], name: str, errors: Errors, low: int, high: int | None, default: int
) -> int:
    given = query.get(name)
    if given is None:
        return default
    number = int(given) if re.fullmatch(r"[0-9]{1,9}", given) else -1
    if number < low or (high is not None and number > high):
        bounds = f"from {low} to {high}" if high is not None else f"{low} or more"
        errors.add(name, f"must be a whole number {bounds}")
    return number


# --- records ----------------------------------------------------------------------------------


@dataclass
class Transaction:
    """A transaction as the sandbox holds it (moments in UTC, to the millisecond)."""

    id: int
    external_id: str
    date: str
    unit_id: int
    customer_code: str | None
    customer: dict[str, Any]
    order_lines: list[dict[str, Any]]
    delay: int
    status: str
    entered_on: datetime
    sent_on: datetime | None = None
    reminded_on: datetime | None = None
    feedback_started: datetime | None = None
    questions_completed: datetime | None = None
    feedback_completed: datetime | None = None
    expiration_date: str | None = None
    scores: dict[str, Any] | None = None

    @classmethod
    def entered(cls, number: int, row: Mapping[str, Any], **state: Any) -> Transaction:
        """Transaction `number` from a validated body (`row`), in `state` (status and
        moments)."""
        return cls(
            id=number,
            external_id=row["externalId"],
            date=row["date"],
            unit_id=row["unitId"],
            customer_code=row["customerCode"],
            customer=row["customer"],
            order_lines=row["orderLines"],
            delay=row["sendInvitationAfterDays"],
            **state,
        )

    def core(self) -> dict[str, Any]:
        """The `transaction` object of feedbackData: moments absent until they happen."""
        out: dict[str, Any] = {
            "id": self.id,
            "date": self.date,
            "customerCode": self.customer_code,
            "unitId": self.unit_id,
        }
        for name, attribute in MOMENTS.items():
            moment = getattr(self, attribute)
            if moment is not None:
                out[name] = stamp(moment)
        if self.expiration_date is not None:
            out["expirationDate"] = self.expiration_date
        return out

    def item(self) -> dict[str, Any]:
        """The read shape of /v1/transactions."""
        return {
            **self.core(),
            "externalId": self.external_id,
            "status": self.status,
            "sendInvitationAfterDays": self.delay,
            "customer": dict(self.customer),
            "orderLines": copy.deepcopy(self.order_lines),
            "f100Scores": copy.deepcopy(self.scores),
        }


@dataclass
class Bucket:
    level: float
    when: float


@dataclass(frozen=True)
class Endpoint:
    """One emulated endpoint: method, path pattern, handler."""

    method: str
    pattern: re.Pattern[str]
    handler: Callable[..., tuple[int, Any]]


class FeeddexSandbox(Sandbox):
    """The emulated Feeddex API (see the module)."""

    name = "feeddex"

    def __init__(
        self,
        *,
        auth_code: str = "ihost-demo",
        organization: str = "ihost Demo BV",
        password: str = "sandbox-password",
        token_ttl: int = 3600,
        rate_limit: bool = False,
        rate_limit_per_second: float = 10,
        rate_limit_burst: int = 10,
        response_rate: int = 80,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if not 0 <= response_rate <= 100:
            raise ValueError("response_rate must be from 0 to 100")
        self.auth_code, self.organization, self.password = auth_code, organization, password
        self.token_ttl = token_ttl
        self.rate_limit = rate_limit
        self.rate_limit_per_second = rate_limit_per_second
        self.rate_limit_burst = rate_limit_burst
        self.response_rate = response_rate
        #: the real "now" (an aware datetime); `advance` adds its days on top
        self.clock: Callable[[], datetime] = lambda: datetime.now(timezone.utc)
        #: seconds, for token lifetimes and the rate limit; tests may replace it
        self.monotonic: Callable[[], float] = time.monotonic
        #: successful /authenticate calls
        self.logins = 0
        #: 429 answers given
        self.throttled = 0
        self._offset = timedelta(0)
        self._tokens: dict[str, float] = {}  # token -> expiry on `monotonic`
        self._buckets: dict[str, Bucket] = {}
        self._units: dict[int, str] = {}
        self._transactions: dict[int, Transaction] = {}
        self._customers: dict[str, dict[str, Any]] = {}
        self._products: dict[str, dict[str, Any]] = {}
        self._stock: dict[str, dict[str, Any]] = {}
        self.seed(UNITS, DEFAULT_UNITS)
        self._table = [
            self._r("GET", "/v1/feedbackData", self._feedback_data),
            self._r("POST", "/v1/transactions", self._create_transactions),
            self._r("GET", "/v1/transactions", self._list_transactions),
            self._r("GET", "/v1/transactions/{key}", self._get_transaction),
            self._r("GET", "/v1/units", self._list_units),
            self._r("POST", "/v1/customers", self._create_customer),
            self._r("GET", "/v1/customers", self._list_customers),
            self._r("GET", "/v1/customers/{key}", self._get_customer),
            self._r("PUT", "/v1/customers/{key}", self._put_customer),
            self._r("GET", "/v1/products", self._list_products),
            self._r("GET", "/v1/products/{key}", self._get_product),
            self._r("PUT", "/v1/products/{key}", self._put_product),
            self._r("GET", "/v1/stock", self._list_stock),
            self._r("GET", "/v1/stock/{key}", self._get_stock),
            self._r("PUT", "/v1/stock/{key}", self._put_stock),
        ]

    @staticmethod
    def _r(method: str, path: str, handler: Callable[..., tuple[int, Any]]) -> Endpoint:
        pattern = re.compile(re.escape(path).replace(re.escape("{key}"), "(?P<key>[^/]+)"))
        return Endpoint(method, pattern, handler)

    # --- Sandbox API ------------------------------------------------------------------------

    def connection_settings(self) -> dict[str, Any]:
        return {
            "base_url": self.base_url,
            "auth_code": self.auth_code,
            "organization": self.organization,
            "password": self.password,
        }

    def routes(self) -> list[BaseRoute]:
        methods = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]
        return [
            Route(ADVANCE, self._advance_route, methods=["POST"]),
            Route("/{path:path}", self._handle, methods=methods),
        ]

    def seed(self, kind: str, records: list[dict[str, Any]]) -> None:
        """Load records of `kind` in the native write shape (the POST/PUT bodies; a
        transaction may also carry `id`, `status`, its moments and `f100Scores`; units and
        customers an `id`), completed as Feeddex completes them (ids, `enteredOn` = now,
        status from the moments given, the F100 score of a completed one). A record whose
        key (id; externalId; customerCode; sku) the sandbox holds replaces it. All or none:
        ValueError names the kind, the record and the field."""
        if kind not in KINDS:
            raise ValueError(f"unknown kind {kind!r}: the sandbox knows {', '.join(KINDS)}")
        if not isinstance(records, list):
            raise TypeError(f"{kind}: expected a list of records")
        with self.lock:
            if kind == UNITS:
                self._seed_units(records)
            elif kind == TRANSACTIONS:
                self._seed_transactions(records)
            elif kind == CUSTOMERS:
                self._seed_customers(records)
            else:
                self._seed_verbatim(kind, records)

    def dump(self, kind: str) -> list[dict[str, Any]]:
        """The records of `kind` in the native read shape (transactions as
        `GET /v1/transactions` lists them, moved up to now), ordered by id or key."""
        with self.lock:
            if kind == UNITS:
                return [{"id": n, "name": name} for n, name in sorted(self._units.items())]
            if kind == TRANSACTIONS:
                self._catch_up()
                return [t.item() for _, t in sorted(self._transactions.items())]
            if kind == CUSTOMERS:
                return self._customer_rows()
            if kind == PRODUCTS:
                return [copy.deepcopy(p) for _, p in sorted(self._products.items())]
            if kind == STOCK:
                return [dict(s) for _, s in sorted(self._stock.items())]
        raise ValueError(f"unknown kind {kind!r}: the sandbox knows {', '.join(KINDS)}")

    # --- test controls ----------------------------------------------------------------------

    def now(self) -> datetime:
        """The sandbox's "now": `clock()` plus the days advanced, UTC, to the millisecond."""
        with self.lock:
            return _millis(self.clock() + self._offset)

    def advance(self, days: int) -> dict[str, int]:
        """Move the clock `days` days on and every transaction with it; returns the
        transitions made, counted by new status."""
        if not _is_int(days) or days < 0:
            raise ValueError("days must be a whole number of 0 or more")
        with self.lock:
            self._catch_up()
            self._offset += timedelta(days=days)
            return self._catch_up()

    def expire_tokens(self) -> None:
        """Make every token issued so far expired (the next /v1/ call with one: 401)."""
        with self.lock:
            gone = self.monotonic() - 1
            for token in self._tokens:
                self._tokens[token] = gone

    def responds(self, external_id: str) -> bool:
        """Whether the customer of the transaction `external_id` answers (see the module)."""
        return _hash(external_id) % 100 < self.response_rate

    @staticmethod
    def score(external_id: str) -> dict[str, Any]:
        """The F100 scores a completed transaction `external_id` gets."""
        value = 40 + _hash(external_id) % 61
        return {"overallScore": {"value": value, "valueAsGrade": round(value / 10, 1)}}

    # --- the simulation ---------------------------------------------------------------------

    def _next_step(self, t: Transaction) -> tuple[datetime, str] | None:
        if t.status == ENTERED:
            return t.entered_on + timedelta(days=t.delay), SENT
        assert t.sent_on is not None
        if t.status == SENT:
            if self.responds(t.external_id):
                return t.sent_on + START_AFTER, STARTED
            return t.sent_on + REMIND_AFTER, REMINDED
        if t.status == REMINDED:
            return t.sent_on + EXPIRE_AFTER, EXPIRED
        if t.status == STARTED:
            assert t.feedback_started is not None
            return t.feedback_started + COMPLETE_AFTER, COMPLETED
        return None

    def _catch_up(self) -> dict[str, int]:
        """Move every transaction up to now; the transitions made by new status."""
        now = _millis(self.clock() + self._offset)
        counts = dict.fromkeys(STATUSES[1:], 0)
        for t in self._transactions.values():
            while True:
                step = self._next_step(t)
                if step is None or step[0] > now:
                    break
                moment, status = step
                if status == SENT:
                    t.sent_on = moment
                elif status == STARTED:
                    t.feedback_started = moment
                elif status == COMPLETED:
                    t.questions_completed = t.questions_completed or moment
                    t.feedback_completed = moment
                    t.scores = t.scores or self.score(t.external_id)
                elif status == REMINDED:
                    t.reminded_on = moment
                else:
                    t.expiration_date = moment.date().isoformat()
                t.status = status
                counts[status] += 1
        return counts

    # --- seeding ----------------------------------------------------------------------------

    def _seed_units(self, records: list[dict[str, Any]]) -> None:
        rows = _checked_all(UNITS, UNIT_SEED, records)
        built: dict[int, str] = {}
        next_id = max(self._units, default=0) + 1
        for row in rows:
            number = row["id"]
            if number is None:
                while next_id in self._units or next_id in built:
                    next_id += 1
                number = next_id
            built[number] = row["name"]
        self._units.update(built)

    def _seed_customers(self, records: list[dict[str, Any]]) -> None:
        rows = _checked_all(CUSTOMERS, CUSTOMER_SEED, records)
        ids = {c["id"]: code for code, c in self._customers.items()}
        built: dict[str, dict[str, Any]] = {}
        next_id = max(ids, default=0) + 1
        for i, row in enumerate(rows):
            code, number = row["customerCode"], row["id"]
            where = f"{CUSTOMERS}[{i}]"
            if code in built:
                raise ValueError(f"{where}.customerCode: {code!r} is given twice")
            held = self._customers.get(code)
            if number is None:
                if held is not None:
                    number = held["id"]
                else:
                    while next_id in ids or any(c["id"] == next_id for c in built.values()):
                        next_id += 1
                    number = next_id
            elif ids.get(number, code) != code or any(c["id"] == number for c in built.values()):
                raise ValueError(f"{where}.id: {number} is another customer's id")
            built[code] = {**row, "id": number}
        for code, row in built.items():
            self._customers[code] = _customer_row(row)

    def _seed_verbatim(self, kind: str, records: list[dict[str, Any]]) -> None:
        spec = PRODUCT_SEED if kind == PRODUCTS else STOCK_SEED
        _checked_all(kind, spec, records)
        table = self._products if kind == PRODUCTS else self._stock
        for record in records:
            table[record["sku"]] = copy.deepcopy(record)

    def _seed_transactions(self, records: list[dict[str, Any]]) -> None:
        rows = _checked_all(TRANSACTIONS, TRANSACTION_SEED, records)
        now = _millis(self.clock() + self._offset)
        by_external = {t.external_id: t.id for t in self._transactions.values()}
        next_id = max(self._transactions, default=0) + 1
        built: dict[int, Transaction] = {}
        for i, row in enumerate(rows):
            where = f"{TRANSACTIONS}[{i}]"
            external = row["externalId"]
            if row["unitId"] not in self._units:
                raise ValueError(f"{where}.unitId: names no unit {row['unitId']}")
            if any(t.external_id == external for t in built.values()):
                raise ValueError(f"{where}.externalId: {external!r} is given twice")
            number = row["id"]
            held = by_external.get(external)
            if number is None:
                if held is not None:
                    number = held
                else:
                    while next_id in self._transactions or next_id in built:
                        next_id += 1
                    number = next_id
            elif held not in (None, number):
                raise ValueError(
                    f"{where}.externalId: {external!r} is transaction {held}'s, not {number}'s"
                )
            if number in built:
                raise ValueError(f"{where}.id: {number} is given twice")
            built[number] = self._seeded_transaction(row, number, now, where)
        self._transactions.update(built)

    def _seeded_transaction(
        self, row: dict[str, Any], number: int, now: datetime, where: str
    ) -> Transaction:
        """A transaction from a checked seed record: its status from the moments given (or
        checked against them), the rest completed."""
        given = {name for name in (*MOMENTS, "expirationDate") if row[name] is not None}
        given.discard("enteredOn")
        status = row["status"]
        if status is None:
            status = ENTERED
            for name, implied in (
                ("sentOn", SENT),
                ("remindedOn", REMINDED),
                ("feedbackStarted", STARTED),
                ("modelQuestionsCompleted", STARTED),
                ("expirationDate", EXPIRED),
                ("feedbackCompleted", COMPLETED),
            ):
                if name in given:
                    status = implied
        for name in STATE_REQUIRED[status]:
            if name not in given:
                raise ValueError(f"{where}.{name}: required with status {status}")
        for name in sorted(given - STATE_ALLOWED[status]):
            raise ValueError(f"{where}.{name}: not with status {status}")
        scores = row["f100Scores"]
        if scores is not None:
            if status != COMPLETED:
                raise ValueError(f"{where}.f100Scores: only with status {COMPLETED}")
            overall = scores["overallScore"]
            grade = round(overall["value"] / 10, 1)
            if overall["valueAsGrade"] not in (None, grade):
                raise ValueError(
                    f"{where}.f100Scores.overallScore.valueAsGrade: must be {grade} "
                    "(value / 10, one decimal)"
                )
            scores = {"overallScore": {"value": overall["value"], "valueAsGrade": grade}}
        sent_on = row["sentOn"]
        entered_on = row["enteredOn"]
        if entered_on is None:
            entered_on = (
                sent_on - timedelta(days=row["sendInvitationAfterDays"]) if sent_on else now
            )
        t = Transaction.entered(
            number,
            row,
            status=status,
            entered_on=entered_on,
            sent_on=sent_on,
            reminded_on=row["remindedOn"],
            feedback_started=row["feedbackStarted"],
            questions_completed=row["modelQuestionsCompleted"],
            feedback_completed=row["feedbackCompleted"],
            expiration_date=row["expirationDate"],
            scores=scores,
        )
        if status == COMPLETED:
            t.questions_completed = t.questions_completed or t.feedback_completed
            t.feedback_started = t.feedback_started or t.questions_completed
            t.scores = t.scores or self.score(t.external_id)
        if status == EXPIRED and t.expiration_date is None:
            assert sent_on is not None
            t.expiration_date = (sent_on + EXPIRE_AFTER).date().isoformat()
        return t

    # --- HTTP -------------------------------------------------------------------------------

    async def _advance_route(self, request: Request) -> Response:
        """`POST /_sandbox/advance?days=N` (test-only): `advance(N)`'s counts."""
        days = request.query_params.get("days", "")
        if not re.fullmatch(r"[0-9]{1,6}", days):
            return JSONResponse(
                {"error": "days: a whole number of 0 or more is required"}, status_code=400
            )
        return JSONResponse(self.advance(int(days)))

    async def _handle(self, request: Request) -> Response:
        path: str = request.scope["path"]
        body = await request.body()
        with self.lock:
            try:
                status, answer = self._answer(request, path, body)
            except ApiError as error:
                if error.status == 429:
                    self.throttled += 1
                return error.response()
        return JSONResponse(answer, status_code=status)

    def _answer(self, request: Request, path: str, body: bytes) -> tuple[int, Any]:
        method = request.method
        refusal = f"{method} {path}: {NOT_EMULATED}"
        if path == "/authenticate":
            if method != "POST":
                raise ApiError(501, refusal)
            return self._login(body)
        if path != "/v1" and not path.startswith("/v1/"):
            raise ApiError(404, refusal)
        token = self._bearer(request.headers.get("authorization", ""))
        self._throttle(token)
        self._catch_up()
        for route in self._table:
            found = route.pattern.fullmatch(path)
            if found and route.method == method:
                query = self._query(request)
                if method in ("POST", "PUT"):
                    return route.handler(query, _json(body), *found.groups())
                return route.handler(query, *found.groups())
        raise ApiError(501, refusal)

    @staticmethod
    def _query(request: Request) -> dict[str, str]:
        query: dict[str, str] = {}
        errors = Errors()
        for name, value in request.query_params.multi_items():
            if name in query:
                errors.add(name, "is given more than once")
            query[name] = value
        errors.raise_400()
        return query

    def _login(self, body: bytes) -> tuple[int, Any]:
        given = _json(body)
        if not isinstance(given, dict):
            raise ApiError(400, "body: must be an object")
        unknown = [name for name in given if name not in ("authCode", "organization", "password")]
        if unknown:
            errors = Errors()
            for name in unknown:
                errors.add(name, "is not a known field")
            errors.raise_400()
        good = all(
            isinstance(given.get(name), str)
            and secrets.compare_digest(given[name].encode(), wanted.encode())
            for name, wanted in (
                ("authCode", self.auth_code),
                ("organization", self.organization),
                ("password", self.password),
            )
        )
        if not good:
            raise ApiError(401, "Invalid credentials")
        token = secrets.token_urlsafe(32)
        self._tokens[token] = self.monotonic() + self.token_ttl
        self.logins += 1
        return 200, {"token": token, "expiresIn": self.token_ttl}

    def _bearer(self, header: str) -> str:
        scheme, _, token = header.partition(" ")
        token = token.strip()
        challenge = {"WWW-Authenticate": "Bearer"}
        if scheme.lower() != "bearer" or not token:
            raise ApiError(401, "Authorization: Bearer <token> is required", headers=challenge)
        expiry = self._tokens.get(token)
        if expiry is None:
            raise ApiError(401, "Invalid token", headers=challenge)
        if self.monotonic() >= expiry:
            raise ApiError(401, "Token expired", headers=challenge)
        return token

    def _throttle(self, token: str) -> None:
        """The rate limit (with rate_limit on): a bucket per token; a refused request uses
        up nothing."""
        if not self.rate_limit:
            return
        now = self.monotonic()
        burst, rate = float(self.rate_limit_burst), float(self.rate_limit_per_second)
        bucket = self._buckets.setdefault(token, Bucket(burst, now))
        bucket.level = min(burst, bucket.level + (now - bucket.when) * rate)
        bucket.when = now
        if bucket.level < 1:
            wait = max(1, math.ceil((1 - bucket.level) / rate))
            raise ApiError(429, "Too many requests", headers={"Retry-After": str(wait)})
        bucket.level -= 1

    # --- feedback data ----------------------------------------------------------------------

    def _feedback_data(self, query: dict[str, str]) -> tuple[int, Any]:
        errors = Errors()
        _known(query, ("year", "month"), errors)
        year, month = query.get("year"), query.get("month")
        if year is None:
            errors.add("year", "is required")
        elif not re.fullmatch(r"[0-9]{4}", year):
            errors.add("year", "must be a year of 4 digits")
        if month is None:
            errors.add("month", "is required")
        elif not re.fullmatch(r"[0-9]{1,2}", month) or not 1 <= int(month) <= 12:
            errors.add("month", "must be a whole number from 1 to 12")
        errors.raise_400()
        assert year is not None and month is not None
        bucket = f"{year}-{int(month):02d}-"
        chosen = [
            t
            for _, t in sorted(self._transactions.items())
            if t.date.startswith(bucket) and t.status != ENTERED
        ]
        units = sorted({t.unit_id for t in chosen})
        return 200, {
            "feedbackData": [
                {"transaction": t.core(), "f100Scores": copy.deepcopy(t.scores)} for t in chosen
            ],
            "unitData": [{"id": u, "name": self._units[u]} for u in units],
        }

    # --- transactions -----------------------------------------------------------------------

    def _create_transactions(self, query: dict[str, str], body: Any) -> tuple[int, Any]:
        _no_query(query)
        single = isinstance(body, dict)
        if single:
            items = [body]
        elif isinstance(body, list):
            if not body:
                raise ApiError(400, "body: must hold at least one transaction")
            if len(body) > BATCH_MAX:
                raise ApiError(
                    400, f"body: at most {BATCH_MAX} transactions per request (got {len(body)})"
                )
            items = body
        else:
            raise ApiError(400, "body: must be a transaction object or an array of them")
        errors = Errors()
        rows = []
        for i, item in enumerate(items):
            prefix = "" if single else f"[{i}]"
            row = check(TRANSACTION_WRITE, item, prefix, errors)
            if row is not _BAD and row["unitId"] not in self._units:
                errors.add(_join(prefix, "unitId"), f"names no unit {row['unitId']}")
            rows.append(row)
        errors.raise_400()
        held = {t.external_id: t.id for t in self._transactions.values()}
        seen: dict[str, int] = {}
        for i, row in enumerate(rows):
            external = row["externalId"]
            if external in held:
                raise ApiError(
                    409,
                    "Transaction already exists",
                    extra={"id": held[external], "externalId": external},
                )
            if external in seen:
                raise ApiError(
                    409,
                    "Transaction already exists",
                    errors={f"[{i}].externalId": [f"is given twice (also [{seen[external]}])"]},
                    extra={"id": None, "externalId": external},
                )
            seen[external] = i
        now = _millis(self.clock() + self._offset)
        answers = []
        for row in rows:
            number = max(self._transactions, default=0) + 1
            self._transactions[number] = Transaction.entered(
                number, row, status=ENTERED, entered_on=now
            )
            answers.append({"id": number, "externalId": row["externalId"], "status": ENTERED})
        return 201, answers[0] if single else answers

    def _list_transactions(self, query: dict[str, str]) -> tuple[int, Any]:
        errors = Errors()
        _known(query, ("externalId", "from", "to", "page", "pageSize"), errors)
        for name in ("from", "to"):
            if name in query and not _valid_date(query[name]):
                errors.add(name, "must be a date YYYY-MM-DD")
        page, size = _paging(query, errors)
        errors.raise_400()
        rows = [
            t
            for _, t in sorted(self._transactions.items())
            if query.get("externalId", t.external_id) == t.external_id
            and query.get("from", t.date) <= t.date <= query.get("to", t.date)
        ]
        return 200, _page([t.item() for t in rows], page, size)

    def _get_transaction(self, query: dict[str, str], key: str) -> tuple[int, Any]:
        _no_query(query)
        t = self._transactions.get(int(key)) if re.fullmatch(r"[0-9]{1,18}", key) else None
        if t is None:
            raise ApiError(404, f"Transaction {key} not found")
        return 200, t.item()

    def _list_units(self, query: dict[str, str]) -> tuple[int, Any]:
        errors = Errors()
        _known(query, ("page", "pageSize"), errors)
        page, size = _paging(query, errors)
        errors.raise_400()
        return 200, _page(self.dump(UNITS), page, size)

    # --- customers --------------------------------------------------------------------------

    def _customer_rows(self) -> list[dict[str, Any]]:
        return [dict(c) for c in sorted(self._customers.values(), key=lambda c: c["id"])]

    def _create_customer(self, query: dict[str, str], body: Any) -> tuple[int, Any]:
        _no_query(query)
        errors = Errors()
        row = check(CUSTOMER_WRITE, body, "", errors)
        errors.raise_400()
        code = row["customerCode"]
        held = self._customers.get(code)
        if held is not None:
            raise ApiError(
                409, "Customer already exists", extra={"id": held["id"], "customerCode": code}
            )
        number = max((c["id"] for c in self._customers.values()), default=0) + 1
        self._customers[code] = _customer_row({**row, "id": number})
        return 201, dict(self._customers[code])

    def _put_customer(self, query: dict[str, str], body: Any, key: str) -> tuple[int, Any]:
        _no_query(query)
        held = self._customers.get(key)
        if held is None:
            raise ApiError(404, f"Customer {key} not found")
        errors = Errors()
        row = check(CUSTOMER_PUT, body, "", errors)
        if row is not _BAD and row["customerCode"] not in (None, key):
            errors.add("customerCode", f"must be {key}, the customerCode in the path")
        errors.raise_400()
        self._customers[key] = _customer_row({**row, "customerCode": key, "id": held["id"]})
        return 200, dict(self._customers[key])

    def _list_customers(self, query: dict[str, str]) -> tuple[int, Any]:
        errors = Errors()
        _known(query, ("email", "customerCode", "page", "pageSize"), errors)
        page, size = _paging(query, errors)
        errors.raise_400()
        rows = self._customer_rows()
        if "email" in query:
            wanted = query["email"].casefold()
            rows = [c for c in rows if c["email"].casefold() == wanted]
        if "customerCode" in query:
            rows = [c for c in rows if c["customerCode"] == query["customerCode"]]
        return 200, _page(rows, page, size)

    def _get_customer(self, query: dict[str, str], key: str) -> tuple[int, Any]:
        _no_query(query)
        held = self._customers.get(key)
        if held is None:
            raise ApiError(404, f"Customer {key} not found")
        return 200, dict(held)

    # --- products and stock (emulator-only, non-authoritative) --------------------------------

    def _put_verbatim(
        self, kind: str, spec: Spec, query: dict[str, str], body: Any, key: str
    ) -> tuple[int, Any]:
        _no_query(query)
        errors = Errors()
        row = check(spec, body, "", errors)
        if row is not _BAD and row["sku"] not in (None, key):
            errors.add("sku", f"must be {key}, the sku in the path")
        errors.raise_400()
        record = {"sku": key, **copy.deepcopy(body)}
        (self._products if kind == PRODUCTS else self._stock)[key] = record
        return 200, copy.deepcopy(record)

    def _put_product(self, query: dict[str, str], body: Any, key: str) -> tuple[int, Any]:
        return self._put_verbatim(PRODUCTS, PRODUCT_PUT, query, body, key)

    def _put_stock(self, query: dict[str, str], body: Any, key: str) -> tuple[int, Any]:
        return self._put_verbatim(STOCK, STOCK_PUT, query, body, key)

    def _list_verbatim(self, kind: str, query: dict[str, str]) -> tuple[int, Any]:
        errors = Errors()
        _known(query, ("sku", "page", "pageSize"), errors)
        page, size = _paging(query, errors)
        errors.raise_400()
        rows = [r for r in self.dump(kind) if query.get("sku", r["sku"]) == r["sku"]]
        return 200, _page(rows, page, size)

    def _list_products(self, query: dict[str, str]) -> tuple[int, Any]:
        return self._list_verbatim(PRODUCTS, query)

    def _list_stock(self, query: dict[str, str]) -> tuple[int, Any]:
        return self._list_verbatim(STOCK, query)

    def _get_verbatim(self, kind: str, query: dict[str, str], key: str) -> tuple[int, Any]:
        _no_query(query)
        record = (self._products if kind == PRODUCTS else self._stock).get(key)
        if record is None:
            noun = "Product" if kind == PRODUCTS else "Stock for"
            raise ApiError(404, f"{noun} {key} not found")
        return 200, copy.deepcopy(record)

    def _get_product(self, query: dict[str, str], key: str) -> tuple[int, Any]:
        return self._get_verbatim(PRODUCTS, query, key)

    def _get_stock(self, query: dict[str, str], key: str) -> tuple[int, Any]:
        return self._get_verbatim(STOCK, query, key)


# --- helpers ----------------------------------------------------------------------------------


def _hash(external_id: str) -> int:
    return int.from_bytes(hashlib.sha256(external_id.encode("utf-8")).digest()[:8], "big")


def _json(body: bytes) -> Any:
    if not body.strip():
        raise ApiError(400, "body: a JSON body is required")
    try:
        return json.loads(body)
    except ValueError:
        raise ApiError(400, "body: not valid JSON") from None


def _known(query: dict[str, str], names: tuple[str, ...], errors: Errors) -> None:
    for name in query:
        if name not in names:
            errors.add(name, "is not a known parameter")


def _no_query(query: dict[str, str]) -> None:
    errors = Errors()
    _known(query, (), errors)
    errors.raise_400()


def _paging(query: dict[str, str], errors: Errors) -> tuple[int, int]:
    page = _int_param(query, "page", errors, 1, None, 1)
    size = _int_param(query, "pageSize", errors, 1, PAGE_SIZE_MAX, PAGE_SIZE_DEFAULT)
    return page, size


def _page(rows: list[dict[str, Any]], page: int, size: int) -> dict[str, Any]:
    return {"items": rows[(page - 1) * size : page * size], "total": len(rows)}


def _customer_row(row: dict[str, Any]) -> dict[str, Any]:
    """A customer in the read shape: every field, null when not given."""
    return {"id": row["id"], **{name: row[name] for name in CUSTOMER_WRITE}}


def _checked_all(kind: str, spec: Spec, records: list[Any]) -> list[dict[str, Any]]:
    """Every record of a seed checked against `spec`; ValueError names kind, record, field."""
    rows = []
    for i, record in enumerate(records):
        errors = Errors()
        row = check(spec, record, f"{kind}[{i}]", errors)
        errors.raise_value_error()
        rows.append(row)
    return rows
