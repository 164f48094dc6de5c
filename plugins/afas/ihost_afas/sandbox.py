"""An AFAS Profit REST emulator on 127.0.0.1 (DESIGN §9, api/afas.md §9).

`/ProfitRestServices/...` (any case): `profitversion`, `metainfo`, `connectors/{id}`.
The token is `AfasToken <base64 of the token XML>`; a wrong one gets 401 with an empty
body, as AFAS answers. GetConnectors serve seeded rows with skip/take (`-1/-1` for all),
filters (`,` AND, `;` OR, operators 1-15), `orderbyfieldids` (`-` descending), and AFAS's
500 error body for a field they do not have. UpdateConnector bodies are validated against
AFAS's OpenAPI files (ihost_afas.spec) and refused with `externalMessage`,
`errorNumber` and `profitLogReference`; sales orders, direct invoices and journal entries
check their debtor, articles and balance as AFAS does, and get numbers in AFAS's
`{"results": ...}` shape.

`seed(connector, rows)` loads GetConnector rows; `dump(connector)` returns the rows of a
GetConnector, or the bodies an UpdateConnector received (`{"method", "body"}`).
"""

from __future__ import annotations

import base64
import itertools
import uuid
from collections import defaultdict
from datetime import datetime
from decimal import Decimal
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from host.sandbox import Sandbox
from ihost_afas import spec

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


def _error(message: str, number: int = -2147220469) -> JSONResponse:
    return JSONResponse(
        {
            "externalMessage": message,
            "errorNumber": number,
            "profitLogReference": uuid.uuid4().hex.upper(),
        },
        status_code=500,
    )


def elements(value: Any) -> list[dict[str, Any]]:
    """The elements under a root or sub-object, whether AFAS got one or a list."""
    element = value.get("Element") if isinstance(value, dict) else None
    if element is None:
        return []
    return element if isinstance(element, list) else [element]


def fields(element: dict[str, Any]) -> dict[str, Any]:
    """An element's fields, its `@Key` attributes included."""
    found = {k[1:]: v for k, v in element.items() if k.startswith("@")}
    found.update(element.get("Fields") or {})
    return found


def objects(element: dict[str, Any], name: str) -> list[dict[str, Any]]:
    """The elements of sub-object `name`, whether Objects is a dict or a list."""
    raw = element.get("Objects") or []
    holders = raw if isinstance(raw, list) else [raw]
    found = []
    for holder in holders:
        if isinstance(holder, dict) and name in holder:
            found += elements(holder[name])
    return found


def _number(value: Any) -> Decimal:
    return Decimal(str(value)) if value not in (None, "") else Decimal(0)


class AfasSandbox(Sandbox):
    """The emulated AFAS environment."""

    name = "afas"

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.token = TOKEN
        self.rows: dict[str, list[dict[str, Any]]] = defaultdict(list)
        self.received: dict[str, list[dict[str, Any]]] = defaultdict(list)
        self.order_numbers = itertools.count(60000001)
        self.debtor_numbers = itertools.count(10001)
        self.relation_numbers = itertools.count(1000001)
        self.entry_numbers = itertools.count(48001)
        for connector in (ARTICLES, STOCK, DEBTORS, ORDERS, DELIVERIES, TRANSACTIONS):
            self.rows[connector]  # an empty GetConnector is still one the App Connector has

    # --- Sandbox API ----------------------------------------------------------------------

    def connection_settings(self) -> dict[str, Any]:
        return {
            "environment": "12345",
            "token": self.token,
            "environment_type": "test",
            "base_url": f"{self.base_url}/ProfitRestServices",
        }

    def seed(self, kind: str, records: list[dict[str, Any]]) -> None:
        with self.lock:
            self.rows[kind].extend(dict(r) for r in records)

    def dump(self, kind: str) -> list[dict[str, Any]]:
        with self.lock:
            if kind in self.received:
                return [dict(r) for r in self.received[kind]]
            return [dict(r) for r in self.rows.get(kind, [])]

    def routes(self) -> list[BaseRoute]:
        return [Route("/{path:path}", self._handle, methods=["GET", "POST", "PUT", "DELETE"])]

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
        head = rest[0].lower() if rest else ""
        if head == "profitversion" and request.method == "GET":
            return JSONResponse({"version": "22.22.5"})
        if head == "metainfo" and request.method == "GET":
            return JSONResponse(
                {
                    "getConnectors": [{"id": c, "description": c} for c in sorted(self.rows)],
                    "updateConnectors": [
                        {"id": c, "description": c} for c in sorted(spec.connectors())
                    ],
                    "info": {
                        "envid": "T12345AA",
                        "appName": "ihost",
                        "group": "ihost",
                        "tokenExpiry": "0",
                    },
                }
            )
        if head != "connectors" or len(rest) < 2:
            return Response(status_code=404)
        connector = rest[1]
        if request.method == "GET":
            return self._get(connector, request)
        if request.method in ("POST", "PUT"):
            try:
                body = await request.json()
            except ValueError:
                return Response(status_code=400)
            return self._update(connector, request.method, body)
        return _error("Deleting is not supported by this sandbox.")

    # --- GetConnectors --------------------------------------------------------------------

    def _get(self, connector: str, request: Request) -> Response:
        name = next((c for c in self.rows if c.lower() == connector.lower()), None)
        if name is None:
            return Response(status_code=401)  # not in the App Connector
        params = request.query_params
        skip, take = int(params.get("skip", 0)), int(params.get("take", 100))
        if (skip == -1) != (take == -1) or skip < -1 or take < -1:
            return _error("An unexpected error has occurred.", -2147180999)
        with self.lock:
            rows = [dict(r) for r in self.rows[name]]
        known = set().union(*(r.keys() for r in rows)) if rows else set()
        try:
            rows = self._filter(rows, params, known)
            for field in reversed([f for f in params.get("orderbyfieldids", "").split(",") if f]):
                key = field.lstrip("-")
                if rows and key not in known:
                    raise KeyError(key)
                rows.sort(
                    key=lambda r, k=key: (r.get(k) is None, str(r.get(k) or "")),
                    reverse=field.startswith("-"),
                )
        except KeyError as exc:
            return _error(f"Connector field '{exc.args[0]}' not found", -2147180999)
        if skip != -1:
            rows = rows[skip : skip + take]
        return JSONResponse({"skip": skip, "take": take, "rows": rows})

    @staticmethod
    def _filter(rows: list[dict[str, Any]], params: Any, known: set[str]) -> list[dict[str, Any]]:
        ids, ops, values = (
            params.get(n) for n in ("filterfieldids", "operatortypes", "filtervalues")
        )
        if not ids:
            return rows
        groups = [
            list(zip(i.split(","), o.split(","), v.split(","), strict=False))
            for i, o, v in zip(
                ids.split(";"), (ops or "").split(";"), (values or "").split(";"), strict=False
            )
        ]
        for group in groups:
            for field, _, _ in group:
                if rows and field not in known:
                    raise KeyError(field)
        return [
            r for r in rows if any(all(_matches(r.get(f), o, v) for f, o, v in g) for g in groups)
        ]

    # --- UpdateConnectors -----------------------------------------------------------------

    def _update(self, connector: str, method: str, body: dict[str, Any]) -> Response:
        problems = spec.problems(connector, method, body) if spec.available() else []
        if problems is None:
            return Response(status_code=404)  # no such UpdateConnector
        if problems:
            return _error("The request does not match the UpdateConnector: " + "; ".join(problems))
        root = body.get(spec.ROOT_ELEMENT.get(connector, connector), {})
        with self.lock:
            handler = getattr(self, f"_{connector.lower()}", None)
            outcome = handler(method, elements(root)) if handler else {}
            if isinstance(outcome, Response):
                return outcome
            self.received[connector].append({"method": method, "body": body})
        if method == "PUT":
            return Response(status_code=200)
        return JSONResponse({"results": {connector: outcome}}, status_code=201)

    def _debtor(self, number: Any) -> dict[str, Any] | None:
        return next((r for r in self.rows[DEBTORS] if str(r.get("DebtorId")) == str(number)), None)

    def _sales_document(
        self,
        method: str,
        records: list[dict[str, Any]],
        lines_name: str,
    ) -> dict[str, Any] | Response:
        articles = {str(r.get("ItemCode")) for r in self.rows[ARTICLES]}
        result: dict[str, Any] = {}
        for element in records:
            header = fields(element)
            if method == "POST" and self._debtor(header.get("DbId")) is None:
                return _error(
                    f"The entered value for 'Sales contact' does not exist: {header.get('DbId')}."
                )
            for line in objects(element, lines_name):
                values = fields(line)
                if str(values.get("VaIt")) == "2" and str(values.get("ItCd")) not in articles:
                    return _error(
                        f"The entered value for 'Item' does not exist: {values.get('ItCd')}."
                    )
            if method == "POST":
                number = str(header.get("OrNu") or next(self.order_numbers))
                self.rows[ORDERS].append(
                    {
                        "OrderNumber": number,
                        "DebtorId": str(header.get("DbId")),
                        "CustomerReference": header.get("RfCs"),
                        "OrderDate": header.get("OrDa"),
                        "CurrencyId": header.get("CuId"),
                        "Type": lines_name,
                        "ModifiedDate": datetime.now().strftime("%Y-%m-%dT%H:%M:%SZ"),
                    }
                )
                result = {"OrNu": number}
        return result

    def _fbsales(self, method: str, records: list[dict[str, Any]]) -> Any:
        return self._sales_document(method, records, "FbSalesLines")

    def _fbdirectinvoice(self, method: str, records: list[dict[str, Any]]) -> Any:
        return self._sales_document(method, records, "FbDirectInvoiceLines")

    def _fientries(self, method: str, records: list[dict[str, Any]]) -> Any:
        """Each journal entry is booked: its lines show in Profit_Transactions."""
        result: dict[str, Any] = {}
        for element in records:
            header = fields(element)
            lines = [fields(line) for line in objects(element, "FiEntries")]
            debit = sum(_number(line.get("AmDe")) for line in lines)
            credit = sum(_number(line.get("AmCr")) for line in lines)
            if debit != credit:
                return _error(f"The entry is not balanced: debit {debit}, credit {credit}.")
            for line in lines:
                if str(line.get("VaAs")) == "2" and self._debtor(line.get("AcNr")) is None:
                    return _error(
                        f"The entered value for 'Debtor' does not exist: {line.get('AcNr')}."
                    )
            number = str(next(self.entry_numbers))
            unit = str(header.get("UnId") or "1")
            stamp = datetime.now().strftime("%Y-%m-%dT%H:%M:%SZ")
            for seq, line in enumerate(lines, 1):
                self.rows[TRANSACTIONS].append(
                    {
                        "UnitId": unit,
                        "EntryNo": number,
                        "SeqNo": seq,
                        "Year": header.get("Year"),
                        "Period": header.get("Peri"),
                        "JournalId": str(header.get("JoCo")),
                        "AccountNo": str(line.get("AcNr")),
                        "AmtDebit": str(_number(line.get("AmDe"))),
                        "AmtCredit": str(_number(line.get("AmCr"))),
                        "EntryDate": line.get("EnDa"),
                        "InvoiceId": line.get("InId"),
                        "VoucherDate": line.get("BpDa"),
                        "VoucherNo": line.get("BpNr"),
                        "VatCode": line.get("VaId"),
                        "Description": line.get("Ds"),
                        "Created": stamp,
                        "Modified": stamp,
                    }
                )
            result = {"EnNo": number, "UnId": unit}
        return result

    def _relation(self, method: str, records: list[dict[str, Any]], kind: str) -> Any:
        result: dict[str, Any] = {}
        for element in records:
            header = fields(element)
            inner = objects(element, kind)
            details = fields(inner[0]) if inner else {}
            name = details.get("Nm") or " ".join(
                str(p) for p in (details.get("FiNm"), details.get("Is"), details.get("LaNm")) if p
            )
            if method == "PUT":
                row = self._debtor(header.get("DbId"))
                if row is None:
                    return _error(f"Sales relation {header.get('DbId')} does not exist.")
                row.setdefault("BcCo", str(next(self.relation_numbers)))
            else:
                row = {
                    "DebtorId": str(header.get("DbId") or next(self.debtor_numbers)),
                    "BcCo": str(next(self.relation_numbers)),
                }
                self.rows[DEBTORS].append(row)
            if name:
                row["DebtorName"] = name
            for field, column in (("EmAd", "Email"), ("TeNr", "TelNr")):
                if details.get(field):
                    row[column] = details[field]
            if header.get("VaId"):
                row["VatNr"] = header["VaId"]
            row["ModifiedDate"] = datetime.now().strftime("%Y-%m-%dT%H:%M:%SZ")
            result = {"DbId": row["DebtorId"], "BcCo": row["BcCo"]}
        return result

    def _fbitemarticle(self, method: str, records: list[dict[str, Any]]) -> Any:
        """A new article shows in the articles GetConnector, as it does in AFAS."""
        result: dict[str, Any] = {}
        for element in records:
            values = fields(element)
            if method == "POST":
                self.rows[ARTICLES].append(
                    {
                        "ItemCode": str(values["ItCd"]),
                        "Description": values.get("Ds"),
                        "UnitId": values.get("BiUn"),
                        "Blocked": False,
                        "DateModified": datetime.now().strftime("%Y-%m-%dT%H:%M:%SZ"),
                    }
                )
                result = {"ItCd": str(values["ItCd"])}
        return result

    def _knsalesrelationorg(self, method: str, records: list[dict[str, Any]]) -> Any:
        return self._relation(method, records, "KnOrganisation")

    def _knsalesrelationper(self, method: str, records: list[dict[str, Any]]) -> Any:
        return self._relation(method, records, "KnPerson")


def _matches(actual: Any, operator: str, wanted: str) -> bool:
    """AFAS's filter operators; text compares without case, as AFAS's database does."""
    text = "" if actual is None else str(actual)
    plain = wanted.strip("%")
    low, want = text.lower(), plain.lower()
    if operator == "8":
        return text == ""
    if operator == "9":
        return text != ""
    if operator in ("6", "11"):
        return (want in low) == (operator == "6")
    if operator in ("10", "12"):
        return low.startswith(want) == (operator == "10")
    if operator in ("13", "14"):
        return low.endswith(want) == (operator == "13")
    if operator in ("1", "7"):
        return (low == want) == (operator == "1")
    left, right = _comparable(text), _comparable(plain)
    try:
        return {"2": left >= right, "3": left <= right, "4": left > right, "5": left < right}[
            operator
        ]
    except TypeError:
        return False


def _comparable(text: str) -> Any:
    try:
        return datetime.fromisoformat(text.rstrip("Z"))
    except ValueError:
        try:
            return Decimal(text)
        except ArithmeticError:
            return text
