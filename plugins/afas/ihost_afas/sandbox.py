"""An AFAS Profit REST emulator on 127.0.0.1 (DESIGN §9, api/afas.md §9).

It serves the connectors the project describes in `connectors.json` (ihost_afas.spec), and
needs nothing else; AFAS's OpenAPI files, when they are beside the repository, validate
UpdateConnector bodies once more. `/ProfitRestServices/...` (any case):

- the token is `AfasToken <base64 of the token XML>`; a wrong one gets 401, empty, as AFAS
  answers (api/afas.md §1);
- `profitversion`; `metainfo` lists the connectors served; `metainfo/get/{id}` and
  `metainfo/update/{id}` give a connector's fields in AFAS's shape (§2);
- GetConnectors (§2): skip/take (default 0/100, `-1/-1` for all, other negative or
  non-numeric values: AFAS's 500 "An unexpected error has occurred." with an
  `internalMessage` saying what was wrong), filters as parallel lists (`,` AND, `;` OR) or
  `filterjson` (fields in a Filter AND, Filters OR), operators 1-15, `orderbyfieldids`
  (`-` descending). Values compare by the field's type: numbers as numbers, dates as
  dates, text without case, as AFAS's database does; empty values sort first ascending, as
  in SQL Server. Date filter values carry no "Z" (§2): one that does is refused. `%` is
  taken off the values of the text operators (6, 10-14). The quick filter (15, "Sf") is
  not specified beyond its name: here its value matches a row when any of the row's
  fields contains it, without case;
- UpdateConnectors (§3): POST inserts (201, AFAS's `{"results": ...}`), PUT updates (200),
  `POST /connectors/FbSales/FbSalesLines` (and FbDirectInvoice/FbDirectInvoiceLines) adds
  lines to the order the header's `OrNu` names. What AFAS checks is checked: the body's
  root element, its fields and their lengths, types and values, the mandatory fields,
  the debtor, articles and orders a record names, the balance of a journal entry. A
  refusal is AFAS's HTTP 500 with `externalMessage`, `errorNumber` and
  `profitLogReference`; a request that is not JSON gets 400.

What the sandbox does not emulate it refuses, with a message that says "not emulated by
the ihost sandbox", never with an empty success: a GetConnector or UpdateConnector it
does not serve gets AFAS's 401 for a connector outside the App Connector, with that
message as body; an object or field its description lacks, a sub-object path, a query
parameter, `@Action`, a PUT of order lines, and DELETE get AFAS's 500 refusal.

`seed(kind, rows)` loads GetConnector rows in AFAS's shape, checked and completed as AFAS
serves them (every field; booleans false and time stamps now where not given); it raises
ValueError, naming the GetConnector and the field, for what AFAS could not hold. The test
route `POST /_sandbox/seed/{kind}` does the same over HTTP. `dump(connector)` returns the
rows of a GetConnector, or the bodies an UpdateConnector received
(`{"method", "path", "body"}`).
"""

from __future__ import annotations

import base64
import itertools
import json
import uuid
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from host.sandbox import NOT_EMULATED, Sandbox
from ihost_afas import spec
from ihost_afas.convert import AMSTERDAM
from ihost_afas.spec import Field, GetConnector

TOKEN = "<token><version>1</version><data>" + "5A" * 32 + "</data></token>"
ROOT = "profitrestservices"
MAX_QUERY = 2049

#: GetConnectors the sandbox serves (and the plugin reads by default)
ARTICLES = "Profit_Article_Basic"
STOCK = "ihost_Stock"
DEBTORS = "Profit_Debtor"
ORDERS = "Profit_Salesorders"
DELIVERIES = "ihost_Deliverynotes"
TRANSACTIONS = "Profit_Transactions"

GET_PARAMETERS = (
    "skip",
    "take",
    "orderbyfieldids",
    "filterfieldids",
    "filtervalues",
    "operatortypes",
    "filterjson",
)
OPERATORS = {str(n) for n in range(1, 16)}
TEXT_OPERATORS = {"6", "10", "11", "12", "13", "14", "15"}
UNEXPECTED = "An unexpected error has occurred."
GENERIC_ERROR = -2147180999  # AFAS's number for its unexpected error (api/afas.md §2)
REFUSED = -2147220469  # the number of AFAS's business refusals (§3)


class AfasError(Exception):
    """What AFAS answers instead: a status and its JSON error body."""

    def __init__(
        self,
        message: str,
        status: int = 500,
        number: int = REFUSED,
        internal: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message, self.status, self.number, self.internal = message, status, number, internal

    def response(self) -> JSONResponse:
        body: dict[str, Any] = {
            "externalMessage": self.message,
            "errorNumber": self.number,
            "profitLogReference": uuid.uuid4().hex.upper(),
        }
        if self.internal:
            body["internalMessage"] = self.internal
        return JSONResponse(body, status_code=self.status)


def _unexpected(why: str) -> AfasError:
    """AFAS's generic 500 for a request it cannot read (invalid paging, a bad filter)."""
    return AfasError(UNEXPECTED, number=GENERIC_ERROR, internal=why)


def _outside_app_connector(kind: str, name: str, served: Iterable[str]) -> AfasError:
    """AFAS's 401 for a connector the App Connector does not hold, saying why."""
    return AfasError(
        f"{kind} {name!r} is not in the App Connector: it is {NOT_EMULATED} "
        f"(it serves {', '.join(served)})",
        status=401,
    )


def _not_found(field: str) -> AfasError:
    return AfasError(f"Connector field '{field}' not found", number=GENERIC_ERROR)


def elements(value: Any) -> list[dict[str, Any]]:
    """The elements under a root or sub-object, whether AFAS got one or a list."""
    element = value.get("Element") if isinstance(value, dict) else None
    return [e for e in spec.as_list(element) if isinstance(e, dict)]


def fields(element: dict[str, Any]) -> dict[str, Any]:
    """An element's fields, its `@Key` attributes included."""
    return spec.element_values(element)


def objects(element: dict[str, Any], name: str) -> list[dict[str, Any]]:
    """The elements of sub-object `name`, whether Objects is a dict or a list."""
    return [
        e for _, found, value in spec.children(element) if found == name for e in elements(value)
    ]


def _text(value: Any) -> str:
    """A row value as text, for the text operators."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _typed(field: Field, value: Any) -> Any:
    """A row value as it compares and sorts (value is not None)."""
    if field.type in ("int", "decimal"):
        return Decimal(str(value))
    if field.type == "date":
        return spec.parse_moment(value)
    if field.type == "boolean":
        return bool(value)
    return str(value).casefold()


# --- GetConnector queries -----------------------------------------------------------------


@dataclass(frozen=True)
class Condition:
    """One filter: a field, an operator (1-15) and the value to compare with."""

    field: Field
    operator: str
    value: str

    def wanted(self) -> Any:
        """The value, typed as the field compares; AFAS's unexpected error when it is not
        of the field's type."""
        if self.operator in TEXT_OPERATORS:
            return self.value.strip("%").casefold()
        if self.operator in ("8", "9"):
            return None
        try:
            if self.field.type == "date" and self.value.endswith("Z"):
                raise ValueError("a date filter value carries no 'Z' (AFAS compares local time)")
            if self.field.type == "boolean":
                return spec.flag(self.value)
            return _typed(self.field, self.value)
        except (ValueError, ArithmeticError) as exc:
            raise _unexpected(
                f"filter value {self.value!r} of {self.field.id} ({self.field.type}): {exc}"
            ) from None

    def holds(self, row: Mapping[str, Any], wanted: Any) -> bool:
        """Whether `row` passes this filter. An empty value passes only "is empty" (8),
        as NULL does in SQL."""
        value = row.get(self.field.id)
        if self.operator in ("8", "9"):
            return (value in (None, "")) == (self.operator == "8")
        if self.operator == "15":
            return any(wanted in _text(v).casefold() for v in row.values())
        if value is None:
            return False
        if self.operator in TEXT_OPERATORS:
            return _text_holds(self.operator, _text(value).casefold(), wanted)
        have = _typed(self.field, value)
        return bool(
            {
                "1": have == wanted,
                "2": have >= wanted,
                "3": have <= wanted,
                "4": have > wanted,
                "5": have < wanted,
                "7": have != wanted,
            }[self.operator]
        )


def _text_holds(operator: str, text: str, wanted: str) -> bool:
    """The text operators: contains (6), starts with (10), ends with (13), and their negations."""
    if operator in ("6", "11"):
        return (wanted in text) == (operator == "6")
    if operator in ("10", "12"):
        return text.startswith(wanted) == (operator == "10")
    return text.endswith(wanted) == (operator == "13")


def _field_of(connector: GetConnector, field_id: str) -> Field:
    field = connector.fields.get(field_id)
    if field is None:
        raise _not_found(field_id)
    return field


def _condition(connector: GetConnector, field_id: str, operator: str, value: str) -> Condition:
    if operator not in OPERATORS:
        raise _unexpected(f"operator type {operator!r} is not one of 1-15")
    return Condition(_field_of(connector, field_id), operator, value)


def _list_filters(connector: GetConnector, params: Mapping[str, str]) -> list[list[Condition]]:
    """Filters from the parallel lists: `;` separates OR groups, `,` the ANDs in a group."""
    ids = params.get("filterfieldids", "")
    operators = params.get("operatortypes", "")
    values = params.get("filtervalues", "")
    if not ids:
        if operators or values:
            raise _unexpected("operatortypes or filtervalues without filterfieldids")
        return []
    found = []
    for group_ids, group_operators, group_values in _parallel(ids, operators, values, ";"):
        conditions = _parallel(group_ids, group_operators, group_values, ",")
        found.append([_condition(connector, i, o, v) for i, o, v in conditions])
    return found


def _parallel(ids: str, operators: str, values: str, separator: str) -> list[tuple[str, str, str]]:
    """The three lists split at `separator`, side by side; they must be as long."""
    lists = ids.split(separator), operators.split(separator), values.split(separator)
    if not len(lists[0]) == len(lists[1]) == len(lists[2]):
        raise _unexpected("filterfieldids, operatortypes and filtervalues differ in length")
    return list(zip(*lists, strict=True))


def _json_filters(connector: GetConnector, text: str) -> list[list[Condition]]:
    """Filters from `filterjson`: {"Filters": {"Filter": [{"@FilterId": ..., "Field":
    [{"@FieldId", "@OperatorType", "#text"}]}]}}; each Filter's fields AND, Filters OR."""
    try:
        document = json.loads(text)
        filters = spec.as_list(document["Filters"]["Filter"])
        found = []
        for item in filters:
            conditions = [
                _condition(
                    connector,
                    str(field["@FieldId"]),
                    str(field["@OperatorType"]),
                    str(field.get("#text", "")),
                )
                for field in spec.as_list(item["Field"])
            ]
            found.append(conditions)
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise _unexpected(f"filterjson cannot be read: {exc!r}") from None
    return found


def _filtered(rows: list[dict[str, Any]], groups: list[list[Condition]]) -> list[dict[str, Any]]:
    """The rows that pass every condition of at least one group."""
    if not groups:
        return rows
    typed = [[(c, c.wanted()) for c in group] for group in groups]
    return [r for r in rows if any(all(c.holds(r, w) for c, w in group) for group in typed)]


def _ordered(
    rows: list[dict[str, Any]], connector: GetConnector, order: str
) -> list[dict[str, Any]]:
    """Rows ordered by `orderbyfieldids` (`-X` descending), values by their type."""
    keys = [key for key in order.split(",") if key]
    fields_ = [(_field_of(connector, key.lstrip("-")), key.startswith("-")) for key in keys]
    for field, descending in reversed(fields_):  # stable: the last key first
        rows.sort(key=_sort_key(field), reverse=descending)
    return rows


def _sort_key(field: Field) -> Callable[[Mapping[str, Any]], tuple[bool, Any]]:
    """Sorts a row by `field`'s typed value, empty values first (SQL Server's order)."""

    def key(row: Mapping[str, Any]) -> tuple[bool, Any]:
        value = row[field.id]
        return (False, 0) if value is None else (True, _typed(field, value))

    return key


def _paging(params: Mapping[str, str]) -> tuple[int, int]:
    """skip and take; AFAS's unexpected error for values or combinations it refuses."""
    try:
        skip, take = int(params.get("skip", "0")), int(params.get("take", "100"))
    except ValueError:
        raise _unexpected(
            f"skip {params.get('skip')!r} / take {params.get('take')!r}: not whole numbers"
        ) from None
    if (skip == -1) != (take == -1) or skip < -1 or take < -1:
        raise _unexpected(f"skip={skip}&take={take}: -1 for both, or neither negative")
    return skip, take


# --- metainfo -----------------------------------------------------------------------------


def _get_meta(connector: GetConnector) -> dict[str, Any]:
    """`metainfo/get/{id}`: AFAS's shape; the sandbox has no control types or decimals."""
    return {
        "name": connector.id,
        "description": connector.label,
        "fields": [
            {
                "id": f.id,
                "fieldId": f.id,
                "dataType": f.type,
                "label": f.label,
                "length": f.length or 0,
                "controlType": 0,
                "decimals": 0,
                "decimalsFieldId": "",
            }
            for f in connector.fields.values()
        ],
    }


def _object_meta(shape: spec.UpdateObject, key: str | None) -> dict[str, Any]:
    """`metainfo/update/{id}` for one object and those nested in it."""
    return {
        "name": shape.name,
        "description": shape.label,
        "fields": [
            {
                "fieldId": f.id,
                "primaryKey": f.id == key,
                "dataType": f.type,
                "label": f.label,
                "mandatory": f.mandatory,
                "length": f.length or 0,
                "decimals": 0,
                "decimalFieldId": "",
                "notzero": False,
                "controlType": 0,
                "values": [{"id": v, "description": v} for v in f.values],
            }
            for f in shape.fields.values()
        ],
        "objects": [_object_meta(nested, None) for nested in shape.objects.values()],
    }


# --- the sandbox --------------------------------------------------------------------------

#: (connector, method, sub-object, record): raises AfasError for what AFAS would refuse
Check = Callable[[str, str, str | None, dict[str, Any]], None]
#: (connector, method, sub-object, record) -> the record's keys for AFAS's `results`
Write = Callable[[str, str, str | None, dict[str, Any]], dict[str, Any]]


class AfasSandbox(Sandbox):
    """The emulated AFAS environment."""

    name = "afas"

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.token = TOKEN
        self.rows: dict[str, list[dict[str, Any]]] = {c: [] for c in spec.get_connectors()}
        self.received: dict[str, list[dict[str, Any]]] = defaultdict(list)
        self.order_kinds: dict[str, str] = {}  # order number -> FbSales or FbDirectInvoice
        self.order_numbers = itertools.count(60000001)
        self.note_numbers = itertools.count(70000001)
        self.debtor_numbers = itertools.count(10001)
        self.relation_numbers = itertools.count(1000001)
        self.entry_numbers = itertools.count(48001)
        self.writers: dict[str, tuple[Check, Write]] = {
            "FbSales": (self._check_sales, self._write_sales),
            "FbDirectInvoice": (self._check_sales, self._write_sales),
            "FbDeliveryNote": (self._check_delivery, self._write_delivery),
            "FiEntries": (self._check_entry, self._write_entry),
            "KnSalesRelationOrg": (self._check_relation, self._write_relation),
            "KnSalesRelationPer": (self._check_relation, self._write_relation),
            "FbItemArticle": (self._check_article, self._write_article),
        }

    # --- Sandbox API ----------------------------------------------------------------------

    def connection_settings(self) -> dict[str, Any]:
        return {
            "environment": "12345",
            "token": self.token,
            "environment_type": "test",
            "base_url": f"{self.base_url}/ProfitRestServices",
        }

    def seed(self, kind: str, records: list[dict[str, Any]]) -> None:
        """Load GetConnector rows, all or none (ValueError naming the kind and the field).
        A standard GetConnector's key is its record's: AFAS has one row for it. A custom
        one's rows may repeat a key, as a definition that joins other tables gives them."""
        connector = spec.get_connectors().get(kind)
        if connector is None:
            served = ", ".join(spec.get_connectors())
            raise ValueError(f"{kind!r}: the AFAS sandbox serves no such GetConnector ({served})")
        now = self._now()
        rows = [connector.row(record, now) for record in records]
        with self.lock:
            if connector.standard:
                self._need_unique(connector, rows)
            for row in rows:
                self._fill_in(kind, row)
                self.rows[kind].append(row)

    def _need_unique(self, connector: GetConnector, rows: list[dict[str, Any]]) -> None:
        taken = {self._key(connector, r) for r in self.rows[connector.id]}
        for row in rows:
            key = self._key(connector, row)
            if key in taken:
                fields_ = ", ".join(connector.key)
                raise ValueError(f"{connector.id}: a row with {fields_} {key} exists")
            taken.add(key)

    def dump(self, kind: str) -> list[dict[str, Any]]:
        with self.lock:
            if kind in self.received:
                return [dict(r) for r in self.received[kind]]
            return [dict(r) for r in self.rows.get(kind, [])]

    def routes(self) -> list[BaseRoute]:
        return [
            Route("/{path:path}", self._handle, methods=["GET", "POST", "PUT", "DELETE"]),
        ]

    # --- rows -----------------------------------------------------------------------------

    @staticmethod
    def _now() -> datetime:
        """Now, as AFAS writes it: Amsterdam local time."""
        return datetime.now(AMSTERDAM).replace(tzinfo=None, microsecond=0)

    def _stamp(self) -> str:
        return self._now().strftime(spec.TIMESTAMP)

    @staticmethod
    def _key(connector: GetConnector, row: Mapping[str, Any]) -> tuple[Any, ...]:
        return tuple(row[k] for k in connector.key)

    def _fill_in(self, kind: str, row: dict[str, Any]) -> None:
        """What AFAS gives every record of `kind` beyond its fields' defaults."""
        if kind == DEBTORS and not row["BcCo"]:
            row["BcCo"] = str(next(self.relation_numbers))
        if kind == ORDERS:
            self.order_kinds.setdefault(row["OrderNumber"], "FbSales")

    def _add(self, kind: str, values: Mapping[str, Any]) -> dict[str, Any]:
        """A row the sandbox itself writes (values as a body gave them)."""
        row = spec.get_connectors()[kind].row(values, self._now(), coerce=True)
        self._fill_in(kind, row)
        self.rows[kind].append(row)
        return row

    def _change(self, kind: str, row: dict[str, Any], values: Mapping[str, Any]) -> None:
        """Update a row with the given values (None: left as it is)."""
        given = {k: v for k, v in values.items() if v is not None}
        row.update(spec.get_connectors()[kind].row({**row, **given}, self._now(), coerce=True))

    def _find(self, kind: str, field: str, value: Any) -> dict[str, Any] | None:
        return next((r for r in self.rows[kind] if r[field] == str(value)), None)

    def _fresh(self, counter: Iterator[int], kind: str, field: str) -> str:
        """The next number of a counter that no row of `kind` has yet."""
        taken = {r[field] for r in self.rows[kind]}
        return next(str(n) for n in counter if str(n) not in taken)

    # --- HTTP -----------------------------------------------------------------------------

    def _authorised(self, request: Request) -> bool:
        header = request.headers.get("authorization", "")
        if not header.startswith("AfasToken "):
            return False
        try:
            return base64.b64decode(header[len("AfasToken ") :]).decode() == self.token
        except (ValueError, UnicodeDecodeError):
            return False

    async def _handle(self, request: Request) -> Response:
        parts = request.path_params["path"].strip("/").split("/")
        if not parts or parts[0].lower() != ROOT:
            return Response(status_code=404)
        if len(str(request.url.query)) > MAX_QUERY:
            return Response(status_code=404)
        if not self._authorised(request):
            return Response(status_code=401)
        rest = parts[1:]
        try:
            return await self._route(request, [p.lower() for p in rest[:1]] + rest[1:])
        except AfasError as error:
            return error.response()

    async def _route(self, request: Request, rest: list[str]) -> Response:
        method = request.method
        head = rest[0] if rest else ""
        if head == "profitversion" and method == "GET" and len(rest) == 1:
            return JSONResponse({"version": "22.22.5"})
        if head == "metainfo" and method == "GET":
            return JSONResponse(self._metainfo(rest[1:]))
        if head != "connectors" or len(rest) < 2:
            return Response(status_code=404)
        if method == "DELETE":
            raise AfasError(f"DELETE is {NOT_EMULATED}")
        if method == "GET" and len(rest) == 2:
            return self._get(rest[1], request.query_params)
        if method in ("POST", "PUT") and len(rest) in (2, 3):
            try:
                body = await request.json()
            except ValueError:
                raise AfasError("The request body is not JSON.", status=400) from None
            return self._update(rest[1], method, rest[2] if len(rest) == 3 else None, body)
        return Response(status_code=404)

    def _metainfo(self, rest: list[str]) -> dict[str, Any]:
        if not rest:
            return {
                "getConnectors": [
                    {"id": c.id, "description": c.label} for c in spec.get_connectors().values()
                ],
                "updateConnectors": [
                    {"id": c.id, "description": c.root.label}
                    for c in spec.update_connectors().values()
                ],
                "info": {
                    "envid": "T12345AA",
                    "appName": "ihost",
                    "group": "ihost",
                    "tokenExpiry": "0",
                },
            }
        kind = rest[0].lower()
        if kind == "get" and len(rest) == 2:
            found = spec.get_connector(rest[1])
            if found is None:
                raise _outside_app_connector("GetConnector", rest[1], spec.get_connectors())
            return _get_meta(found)
        if kind == "update" and len(rest) == 2:
            update = spec.update_connector(rest[1])
            if update is None:
                served = spec.update_connectors()
                raise _outside_app_connector("UpdateConnector", rest[1], served)
            return _object_meta(update.root, update.key)
        raise AfasError(f"metainfo/{'/'.join(rest)} is {NOT_EMULATED}", status=404)

    # --- GetConnectors --------------------------------------------------------------------

    def _get(self, name: str, params: Mapping[str, str]) -> Response:
        connector = spec.get_connector(name)
        if connector is None:
            raise _outside_app_connector("GetConnector", name, spec.get_connectors())
        params = {k.lower(): v for k, v in params.items()}
        unknown = sorted(set(params) - set(GET_PARAMETERS))
        if unknown:
            raise AfasError(f"The query parameter {unknown[0]!r} is {NOT_EMULATED}")
        skip, take = _paging(params)
        if "filterjson" in params and "filterfieldids" in params:
            raise AfasError(f"filterjson together with filterfieldids is {NOT_EMULATED}")
        if "filterjson" in params:
            groups = _json_filters(connector, params["filterjson"])
        else:
            groups = _list_filters(connector, params)
        with self.lock:
            rows = [dict(r) for r in self.rows[connector.id]]
        rows = _ordered(_filtered(rows, groups), connector, params.get("orderbyfieldids", ""))
        if skip != -1:
            rows = rows[skip : skip + take]
        return JSONResponse({"skip": skip, "take": take, "rows": rows})

    # --- UpdateConnectors -----------------------------------------------------------------

    def _update(self, name: str, method: str, sub: str | None, body: Any) -> Response:
        connector = spec.update_connector(name)
        if connector is None:
            raise _outside_app_connector("UpdateConnector", name, spec.update_connectors())
        if method not in connector.methods:
            raise AfasError(f"{connector.id} takes {' and '.join(connector.methods)}", status=404)
        if sub is not None and (method != "POST" or sub not in connector.sub_objects):
            raise AfasError(f"{method} {connector.id}/{sub} is {NOT_EMULATED}")
        problems = spec.problems(connector.id, method, body, sub)
        if problems:
            raise AfasError(
                "The request does not match the UpdateConnector: " + "; ".join(problems)
            )
        records = elements(body[connector.root.name])
        check, write = self.writers[connector.id]
        with self.lock:
            for record in records:  # AFAS takes a body whole or not at all
                check(connector.id, method, sub, record)
            results = [write(connector.id, method, sub, record) for record in records]
            path = connector.id + (f"/{sub}" if sub else "")
            self.received[connector.id].append({"method": method, "path": path, "body": body})
        if method == "PUT":
            return Response(status_code=200)
        return JSONResponse({"results": {connector.id: results[-1]}}, status_code=201)

    def _debtor(self, number: Any) -> dict[str, Any] | None:
        return self._find(DEBTORS, "DebtorId", number)

    def _need_debtor(self, number: Any) -> None:
        if number not in (None, "") and self._debtor(number) is None:
            raise AfasError(f"The entered value for 'Sales contact' does not exist: {number}.")

    def _need_articles(self, lines: list[dict[str, Any]]) -> None:
        """Article lines (item type 2) must name an article AFAS has."""
        for values in (fields(line) for line in lines):
            code = values.get("ItCd")
            if str(values.get("VaIt")) == "2" and self._find(ARTICLES, "ItemCode", code) is None:
                raise AfasError(f"The entered value for 'Item' does not exist: {code}.")

    # sales orders and direct invoices

    def _check_sales(
        self, connector: str, method: str, sub: str | None, record: dict[str, Any]
    ) -> None:
        header = fields(record)
        lines = objects(record, f"{connector}Lines")
        if method == "POST" and sub is None:
            self._need_debtor(header.get("DbId"))
            if header.get("OrNu") and self._find(ORDERS, "OrderNumber", header["OrNu"]):
                raise AfasError(f"Order {header['OrNu']} already exists.")
        else:
            if self.order_kinds.get(str(header.get("OrNu"))) != connector:
                raise AfasError(
                    f"The entered value for 'Number' does not exist: {header.get('OrNu')}."
                )
            self._need_debtor(header.get("DbId"))
            if method == "PUT" and lines:
                raise AfasError(f"Updating order lines in a PUT (by GuLi) is {NOT_EMULATED}")
        self._need_articles(lines)

    def _write_sales(
        self, connector: str, method: str, sub: str | None, record: dict[str, Any]
    ) -> dict[str, Any]:
        """A new order (or invoice) shows in Profit_Salesorders, its lines in its total
        quantity and gross amount (units x unit price); a PUT changes its header, a POST
        of lines adds them to it."""
        header = fields(record)
        columns = {
            "DebtorId": header.get("DbId"),
            "CustomerReference": header.get("RfCs"),
            "OrderDate": header.get("OrDa"),
            "CurrencyId": header.get("CuId"),
        }
        lines = [fields(line) for line in objects(record, f"{connector}Lines")]
        quantity = sum((spec.number(li.get("QuUn") or 0) for li in lines), Decimal(0))
        gross = sum(
            (spec.number(li.get("QuUn") or 0) * spec.number(li.get("Upri") or 0) for li in lines),
            Decimal(0),
        )
        if method == "POST" and sub is None:
            number = header.get("OrNu") or self._fresh(self.order_numbers, ORDERS, "OrderNumber")
            self._add(
                ORDERS, {"OrderNumber": number, **columns, "Quantity": quantity, "Gross": gross}
            )
            self.order_kinds[str(number)] = connector
            return {"OrNu": str(number)}
        row = self._find(ORDERS, "OrderNumber", header["OrNu"])
        if row is not None:  # checked: an order of this connector
            if sub is not None:
                columns["Quantity"] = quantity + spec.number(row["Quantity"] or 0)
                columns["Gross"] = gross + spec.number(row["Gross"] or 0)
            self._change(ORDERS, row, columns)
        return {"OrNu": str(header["OrNu"])}

    # delivery notes

    def _check_delivery(
        self, connector: str, method: str, sub: str | None, record: dict[str, Any]
    ) -> None:
        header = fields(record)
        lines = objects(record, "FbDeliveryNoteLines")
        if method == "PUT":
            if self._find(DELIVERIES, "DeliveryNote", header.get("OrNu")) is None:
                raise AfasError(
                    f"The entered value for 'Number' does not exist: {header.get('OrNu')}."
                )
            if lines:
                raise AfasError(f"Updating delivery note lines in a PUT is {NOT_EMULATED}")
            return
        self._need_debtor(header.get("DbId"))
        for order in [header.get("SoOr")] + [fields(line).get("SoOr") for line in lines]:
            if order and self._find(ORDERS, "OrderNumber", order) is None:
                raise AfasError(
                    f"The entered value for 'Corresponding order' does not exist: {order}."
                )
        self._need_articles(lines)

    def _write_delivery(
        self, connector: str, method: str, sub: str | None, record: dict[str, Any]
    ) -> dict[str, Any]:
        """A delivery note shows in the delivery notes GetConnector, with its track & trace."""
        header = fields(record)
        columns = {
            "Carrier": header.get("TrPt"),
            "TrackTrace": header.get("TrTr"),
            "DeliveryDate": header.get("OrDa"),
            "ModifiedDate": self._stamp(),
        }
        if method == "PUT":
            row = self._find(DELIVERIES, "DeliveryNote", header["OrNu"])
            if row is not None:
                self._change(DELIVERIES, row, columns)
            return {}
        lines = [fields(line) for line in objects(record, "FbDeliveryNoteLines")]
        order = header.get("SoOr") or next((li["SoOr"] for li in lines if li.get("SoOr")), None)
        reference = header.get("RfCs")
        if order and not reference:
            reference = (self._find(ORDERS, "OrderNumber", order) or {}).get("CustomerReference")
        number = header.get("OrNu") or self._fresh(self.note_numbers, DELIVERIES, "DeliveryNote")
        columns["DeliveryDate"] = columns["DeliveryDate"] or self._stamp()
        self._add(
            DELIVERIES,
            {
                "DeliveryNote": number,
                "OrderNumber": order,
                "CustomerReference": reference,
                **columns,
            },
        )
        return {"OrNu": str(number)}

    # journal entries

    def _check_entry(
        self, connector: str, method: str, sub: str | None, record: dict[str, Any]
    ) -> None:
        """A journal entry balances, and its debtor lines name debtors AFAS has."""
        lines = [fields(line) for line in objects(record, "FiEntries")]
        debit = sum(spec.number(line.get("AmDe") or 0) for line in lines)
        credit = sum(spec.number(line.get("AmCr") or 0) for line in lines)
        if debit != credit:
            raise AfasError(f"The entry is not balanced: debit {debit}, credit {credit}.")
        for line in lines:
            if str(line.get("VaAs")) == "2" and self._debtor(line.get("AcNr")) is None:
                raise AfasError(
                    f"The entered value for 'Debtor' does not exist: {line.get('AcNr')}."
                )

    def _write_entry(
        self, connector: str, method: str, sub: str | None, record: dict[str, Any]
    ) -> dict[str, Any]:
        """Each journal entry is booked: its lines show in Profit_Transactions."""
        header = fields(record)
        number = next(self.entry_numbers)
        unit = header.get("UnId") or 1  # AFAS: the administration the user last used
        for seq, line in enumerate((fields(li) for li in objects(record, "FiEntries")), 1):
            self._add(
                TRANSACTIONS,
                {
                    "UnitId": unit,
                    "EntryNo": number,
                    "SeqNo": seq,
                    "Year": header.get("Year"),
                    "Period": header.get("Peri"),
                    "JournalId": header.get("JoCo"),
                    "AccountNo": line.get("AcNr"),
                    "AmtDebit": line.get("AmDe") or 0,
                    "AmtCredit": line.get("AmCr") or 0,
                    "EntryDate": line.get("EnDa"),
                    "InvoiceId": line.get("InId"),
                    "VoucherDate": line.get("BpDa"),
                    "VoucherNo": line.get("BpNr"),
                    "VatCode": line.get("VaId"),
                    "Description": line.get("Ds"),
                },
            )
        return {"EnNo": str(number), "UnId": str(unit)}

    # debtors

    def _check_relation(
        self, connector: str, method: str, sub: str | None, record: dict[str, Any]
    ) -> None:
        number = fields(record).get("DbId")
        if method == "PUT" and self._debtor(number) is None:
            raise AfasError(f"Sales relation {number} does not exist.")
        if method == "POST" and number not in (None, "") and self._debtor(number) is not None:
            raise AfasError(f"Sales relation {number} already exists.")

    def _write_relation(
        self, connector: str, method: str, sub: str | None, record: dict[str, Any]
    ) -> dict[str, Any]:
        """A debtor shows in Profit_Debtor with its name, e-mail, phone and VAT number."""
        header = fields(record)
        kind = "KnOrganisation" if connector == "KnSalesRelationOrg" else "KnPerson"
        inner = objects(record, kind)
        details = fields(inner[0]) if inner else {}
        name = details.get("Nm") or " ".join(
            str(p) for p in (details.get("FiNm"), details.get("Is"), details.get("LaNm")) if p
        )
        columns = {
            "DebtorName": name or None,
            "Email": details.get("EmAd"),
            "TelNr": details.get("TeNr"),
            "VatNr": header.get("VaId"),
            "PayCon": header.get("PaCd"),
            "VatDuty": header.get("VaDu"),
            "CurrencyId": header.get("CuId"),
            "CollectAccount": header.get("ColA"),
            "Blocked": header.get("Bl"),
            "ModifiedDate": self._stamp(),
        }
        if method == "PUT":
            row = self._debtor(header["DbId"])
            assert row is not None  # checked
            self._change(DEBTORS, row, columns)
        else:
            number = header.get("DbId") or self._fresh(self.debtor_numbers, DEBTORS, "DebtorId")
            row = self._add(DEBTORS, {"DebtorId": number, **columns})
        self._mirror_debtor(row["DebtorId"], kind, record, inner)
        return {"DbId": row["DebtorId"], "BcCo": row["BcCo"]}

    def _mirror_debtor(
        self,
        number: str,
        kind: str,
        record: dict[str, Any],
        inner: list[dict[str, Any]],
    ) -> None:
        """The same debtor as the custom GetConnector `ihost_Debtors` shows it (a view of
        the same data in AFAS): person or organisation, the person's or contact person's
        name, and the first address."""
        details = fields(inner[0]) if inner else {}
        person = details
        if kind == "KnOrganisation":
            contacts = [p for c in objects(inner[0], "KnContact") for p in objects(c, "KnPerson")]
            person = fields(contacts[0]) if inner and contacts else {}
        addresses = objects(inner[0], "KnBasicAddressAdr") if inner else []
        address = fields(addresses[0]) if addresses else {}
        columns = {
            "DebtorName": self._debtor(number)["DebtorName"],  # type: ignore[index]
            "Type": "ORG" if kind == "KnOrganisation" else "PER",
            "FirstName": person.get("FiNm"),
            "NamePrefix": person.get("Is"),
            "LastName": person.get("LaNm"),
            "Email": details.get("EmAd"),
            "TelNr": details.get("TeNr"),
            "VatNr": fields(record).get("VaId"),
            "Street": address.get("Ad"),
            "HouseNumber": address.get("HmNr"),
            "HouseNumberAddition": address.get("HmAd"),
            "ZipCode": address.get("ZpCd"),
            "City": address.get("Rs"),
            "CountryId": address.get("CoId"),
            "ModifiedDate": self._stamp(),
        }
        existing = self._find("ihost_Debtors", "DebtorId", number)
        if existing is None:
            self._add("ihost_Debtors", {"DebtorId": number, **columns})
        else:
            self._change("ihost_Debtors", existing, columns)

    # articles

    def _check_article(
        self, connector: str, method: str, sub: str | None, record: dict[str, Any]
    ) -> None:
        code = fields(record).get("ItCd")
        if code in (None, ""):
            raise AfasError(f"An article without an item code (AuId numbering) is {NOT_EMULATED}")
        exists = self._find(ARTICLES, "ItemCode", code) is not None
        if method == "POST" and exists:
            raise AfasError(f"Article {code} already exists.")
        if method == "PUT" and not exists:
            raise AfasError(f"The entered value for 'Item' does not exist: {code}.")

    def _write_article(
        self, connector: str, method: str, sub: str | None, record: dict[str, Any]
    ) -> dict[str, Any]:
        """A new article shows in the articles GetConnector, as it does in AFAS."""
        values = fields(record)
        columns = {
            "Description": values.get("Ds"),
            "UnitId": values.get("BiUn"),
            "ArtGroup": values.get("Grp"),
            "VATgroup": values.get("VaRc"),
            "Blocked": values.get("Bl"),
            "DateModified": self._stamp(),
        }
        code = str(values["ItCd"])
        row = self._find(ARTICLES, "ItemCode", code)
        if row is not None:  # PUT
            self._change(ARTICLES, row, columns)
        else:
            self._add(ARTICLES, {"ItemCode": code, **columns})
        return {"ItCd": code}
