"""The BuchhaltungsButler connector: target of orders (outgoing invoices, or outbound
receipts), debtors and refunds (credits); source of orders (outbound receipts). Its API has
no products, stock or sales orders: the capabilities say so, and why."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any, Literal

from pydantic import BaseModel, Field, SecretStr, field_validator

from host import hookimpl
from host.capabilities import Capabilities
from host.errors import ConfigError, RecordInvalid
from host.models import Customer, Order, Record, Refund, record_or_invalid
from host.vocabulary import DebtorField, Entity, OrderType
from ihost_buchhaltungsbutler.client import BATCH_MAX, BuchhaltungsButlerClient
from ihost_buchhaltungsbutler.convert import (
    INVOICE_NUMBER,
    batch_item,
    credit_body,
    credit_number,
    day,
    debtor_body,
    invoice_body,
    order_from_receipt,
    receipt_body,
    to_berlin,
)

#: the debtor field a debtor is found by, per customer field (capabilities.debtor_match)
DEBTOR_FIELDS: dict[DebtorField, str] = {
    "email": "email",
    "vat_number": "sales_tax_id_eu",
    "key": "postingaccount_number",
}
#: the receipt types an order and a refund become
INVOICE_OUTBOUND, CREDIT_OUTBOUND = "invoice outbound", "credit outbound"


class BuchhaltungsButlerSettings(BaseModel):
    api_client: str = Field(description="the API client (Settings > API access)")
    api_secret: SecretStr = Field(description="the API secret")
    api_key: SecretStr = Field(description="the customer's API key (sent in every body)")
    base_url: str = Field(
        "https://webapp.buchhaltungsbutler.de/api/v1", description="the API's base URL"
    )
    revenue_account: str = Field(
        "8400", description="posting account of outbound receipts (or revenue_account_by_country)"
    )
    cost_location: str | None = Field(
        None, description="a cost location ihost check confirms exists (for postings)"
    )
    default_country: str = Field("DE", description="ISO country of addresses that have none")
    vat_rate: Decimal = Field(
        Decimal(19), ge=0, le=100, description="VAT % of a line that names none, and of credits"
    )
    unit: str = Field("Stk", description="item_unit of invoice lines")
    due_days: int | None = Field(None, ge=0, description="due_days of invoices")
    language: Literal["de_DE", "en_US"] = Field("de_DE", description="language of invoices")
    lookback_days: int = Field(
        31,
        ge=0,
        description="orders read again by date, this many days before the cursor (new "
        "receipts are missed by date_since_last_modified)",
    )
    debtor_page_size: int = Field(500, ge=1, le=1000, description="debtors per page (unconfirmed)")
    requests_per_minute: float = Field(
        100, gt=0, le=100, description="requests a minute (100 is BuchhaltungsButler's limit)"
    )
    index_ttl: float = Field(300, gt=0, description="seconds the debtor index is kept")
    timeout: float = Field(60.0, gt=0, description="seconds per request")

    @field_validator("base_url")
    @classmethod
    def _no_slash(cls, value: str) -> str:
        return value.rstrip("/")


class DebtorIndex:
    """Every debtor of the customer, read once (the API has no e-mail filter: a lookup per
    record would page through them all) and kept `ttl` seconds, kept current by the writes
    of this connection, and brought up to date (`refresh`) before a debtor is created, so
    one added by someone else meanwhile is found, not made again."""

    PATH = "/settings/get/debtors"

    def __init__(self, client: BuchhaltungsButlerClient, page_size: int, ttl: float) -> None:
        self.client = client
        self.page_size = page_size
        self.ttl = ttl
        self._rows: dict[str, dict[str, Any]] | None = None
        self._listed: list[str] = []  # the numbers in the order the remote listed them
        self._read_at = 0.0
        #: e-mail addresses of debtors made in a batch (which takes none), by number
        self._emails: dict[str, str] = {}

    def rows(self) -> dict[str, dict[str, Any]]:
        """The debtors by posting account number."""
        if self._rows is None or time.monotonic() - self._read_at > self.ttl:
            self._rows, self._listed = {}, []
            self._take(self.client.rows(self.PATH, page_size=self.page_size))
            self._read_at = time.monotonic()
        return self._rows

    def refresh(self) -> dict[str, dict[str, Any]]:
        """The index with the debtors added since it was read. The remote lists debtors by
        number and gives a new one the next free number: only the list's end is read again
        (from the last debtor read, to see the list did not change before it); when it did,
        everything is read again."""
        if self._rows is None or not self._listed:
            self.forget()
            return self.rows()
        start = len(self._listed) - 1
        found = list(self.client.rows(self.PATH, page_size=self.page_size, start=start))
        if not found or str(found[0].get("postingaccount_number")) != self._listed[-1]:
            self.forget()
            return self.rows()
        del self._listed[start:]
        self._take(found)
        return self._rows

    def _take(self, found: Iterator[dict[str, Any]] | list[dict[str, Any]]) -> None:
        assert self._rows is not None
        for row in found:
            number = str(row["postingaccount_number"])
            if not row.get("email") and number in self._emails:
                row = {**row, "email": self._emails[number]}
            self._rows[number] = row
            self._listed.append(number)

    def find(self, field: str, value: str) -> dict[str, Any] | None:
        wanted = value.strip().casefold()
        return next(
            (r for r in self.rows().values() if str(r.get(field) or "").casefold() == wanted),
            None,
        )

    def keep(self, number: str, values: dict[str, Any]) -> None:
        """What this connection wrote to debtor `number`, in the read shape."""
        row = self.rows().setdefault(number, {"postingaccount_number": number})
        renamed = {"additional_address_line": "additional_addressline"}
        renamed["sales_tax_id"] = "sales_tax_id_eu"
        row.update({renamed.get(k, k): v for k, v in values.items()})

    def remember_email(self, number: str, email: str | None) -> None:
        """The e-mail address of a debtor made without one (in a batch): found by it in
        this process, though BuchhaltungsButler does not keep it."""
        if email:
            self._emails[number] = email
            self.keep(number, {"email": email})

    def forget(self) -> None:
        """Read again on next use (after a write whose outcome is unknown)."""
        self._rows = None


class BuchhaltungsButlerPlugin:
    """BuchhaltungsButler through its API v1: outgoing invoices (or outbound receipts),
    debtors and credits in; outbound receipts out as orders."""

    name = "buchhaltungsbutler"
    title = "BuchhaltungsButler"
    Settings = BuchhaltungsButlerSettings
    capabilities = Capabilities(
        reads={"orders"},
        writes={"orders", "customers", "refunds"},
        order_types={"invoice", "financial_entry"},
        debtor_match=set(DEBTOR_FIELDS),
        debtor_batch=BATCH_MAX,
        rate_limit="100 requests a minute per api_key; one batch call per 5 s, 50 items",
        why_not={
            "writes products": "BuchhaltungsButler's API has no products (no article endpoints)",
            "reads products": "BuchhaltungsButler's API has no products (no article endpoints)",
            "writes stock": "BuchhaltungsButler's API has no stock",
            "reads stock": "BuchhaltungsButler's API has no stock",
            "reads customers": "reading debtors is not built yet",
            "writes shipments": "BuchhaltungsButler's API has no shipments",
            "reads shipments": "BuchhaltungsButler's API has no shipments",
        },
    )

    def __init__(self, settings: BuchhaltungsButlerSettings) -> None:
        self.settings = settings
        self.client = BuchhaltungsButlerClient(
            settings.base_url,
            settings.api_client,
            settings.api_secret.get_secret_value(),
            settings.api_key.get_secret_value(),
            per_minute=settings.requests_per_minute,
            timeout=settings.timeout,
        )
        self.debtors = DebtorIndex(self.client, settings.debtor_page_size, settings.index_ttl)
        self._match_on: DebtorField = "email"

    def close(self) -> None:
        self.client.close()

    @hookimpl
    def check_connection(self) -> None:
        accounts = {
            str(r.get("postingaccount_number"))
            for r in self.client.rows("/settings/get/postingaccounts", page_size=1000)
        }
        if self.settings.revenue_account not in accounts:
            raise ConfigError(
                f"buchhaltungsbutler: revenue_account {self.settings.revenue_account} is not a "
                "posting account of this customer (see /settings/get/postingaccounts)"
            )
        if self.settings.cost_location is not None:
            locations = self.client.rows("/cost-locations/get", page_size=1000)
            names = {str(r.get(k)) for r in locations for k in ("id", "name") if r.get(k)}
            if self.settings.cost_location not in names:
                raise ConfigError(
                    f"buchhaltungsbutler: cost_location {self.settings.cost_location} is not a "
                    f"cost location of this customer (they are: {', '.join(sorted(names))})"
                )

    # --- debtors --------------------------------------------------------------------------

    @hookimpl
    def find_debtor(self, customer: Customer, match_on: DebtorField) -> str | None:
        value = getattr(customer, match_on)
        if not value:
            raise RecordInvalid(
                f"customer {customer.key} has no {match_on}", key=customer.key, field=match_on
            )
        self._match_on = match_on  # what a debtor is found by again before one is made
        row = self.debtors.find(DEBTOR_FIELDS[match_on], str(value))
        if row is None and match_on != "key":
            # a debtor ihost created in a batch carries no e-mail: its customer number
            row = self.debtors.find("customer_number", customer.key)
        return str(row["postingaccount_number"]) if row else None

    def _found_again(self, customer: Customer) -> str | None:
        """The debtor of `customer` in the index as it is now (after `refresh`): one added
        since the index was read, by someone else or another run."""
        try:
            return self.find_debtor(customer, self._match_on)
        except RecordInvalid:
            return None

    @hookimpl
    def upsert_debtor(self, customer: Customer, existing_id: str | None) -> str:
        self.validate_record("customers", customer, None)
        if not existing_id:
            self.debtors.refresh()
            existing_id = self._found_again(customer)
        if existing_id:
            return self._update_debtor(customer, existing_id)
        body = debtor_body(customer, self.settings)
        try:
            answer = self.client.call("/settings/add/debtor", body)
        except Exception:
            self.debtors.forget()  # it may have been made: look again next time
            raise
        number = str(answer["postingaccount_number"])
        self.debtors.keep(number, body)
        return number

    def _update_debtor(self, customer: Customer, number: str) -> str:
        """Debtor `number` updated from `customer`; a customer number it has is its own (the
        bookkeeper's, or another customer's of the same e-mail address) and is kept."""
        body = debtor_body(customer, self.settings)
        if (self.debtors.rows().get(number) or {}).get("customer_number"):
            body.pop("customer_number", None)
        self.client.call("/settings/update/debtor", {**body, "postingaccount_number": int(number)})
        self.debtors.keep(number, body)
        return number

    @hookimpl
    def create_debtors(self, customers: list[Customer]) -> list[str]:
        """Up to BATCH_MAX new debtors in one /settings/add-batch/debtors call, at most one
        call per 5 s; a customer whose debtor was added meanwhile (the index is brought up to
        date first) is updated instead. After a call that failed the index is read again
        (it may have made some)."""
        customers = customers[:BATCH_MAX]
        for customer in customers:
            self.validate_record("customers", customer, None)
        self.debtors.refresh()
        numbers: list[str | None] = [self._found_again(c) for c in customers]
        for i, number in enumerate(numbers):
            if number is not None:
                numbers[i] = self._update_debtor(customers[i], number)
        new = [c for c, n in zip(customers, numbers, strict=True) if n is None]
        made = iter(self._batch(new) if new else [])
        return [n if n is not None else next(made) for n in numbers]

    def _batch(self, customers: list[Customer]) -> list[str]:
        """New debtors for `customers` with one /settings/add-batch/debtors call."""
        items = [batch_item(c, self.settings) for c in customers]
        try:
            answer = self.client.batch("/settings/add-batch/debtors", {"debtors": items})
        except Exception:
            self.debtors.forget()
            raise
        numbers = [str(n) for n in answer.get("postingaccount_numbers") or []]
        if len(numbers) != len(items):
            self.debtors.forget()
            raise RecordInvalid(
                f"buchhaltungsbutler answered {len(numbers)} debtor numbers for {len(items)} "
                "debtors"
            )
        for number, item, customer in zip(numbers, items, customers, strict=True):
            self.debtors.keep(number, item)
            self.debtors.remember_email(number, customer.email)
        return numbers

    # --- orders ---------------------------------------------------------------------------

    @hookimpl
    def validate_record(self, entity: Entity, record: Any, order_type: OrderType | None) -> None:
        problems: list[tuple[str, str]] = []
        if entity == "orders":
            noun = f"order {record.number}"
            if len(record.number) > INVOICE_NUMBER:
                problems.append(
                    ("number", f"is {len(record.number)} characters; an invoice number holds 60")
                )
            for line in record.lines:
                name = line.sku or line.name
                if line.quantity == 0 or line.unit_price < 0:
                    problems.append(("lines", f"{name}: no quantity or a negative price"))
                elif line.discount < 0 or line.discount > abs(line.unit_price * line.quantity):
                    # an item's single price is its price less the discount: never below 0
                    problems.append(
                        ("lines", f"{name}: a discount below 0 or larger than the line")
                    )
        elif entity == "customers":
            noun = f"customer {record.key}"
            if not (record.company or record.first_name or record.last_name or record.email):
                problems.append(("last_name", "a debtor needs a name"))
        else:
            return
        if problems:
            listed = "; ".join(f"{name}: {problem}" for name, problem in problems)
            raise RecordInvalid(f"{noun}: {listed}", key=record.key, field=problems[0][0])

    def _outbound(self, invoicenumber: str, kind: str) -> dict[str, Any] | None:
        """The outbound receipt of `kind` with exactly this invoice number."""
        rows = self.client.rows(
            "/receipts/get",
            {"list_direction": "outbound", "invoicenumber": invoicenumber},
        )
        return next(
            (r for r in rows if r.get("invoicenumber") == invoicenumber and r.get("type") == kind),
            None,
        )

    @hookimpl
    def find_order(self, order: Order, order_type: OrderType) -> str | None:
        found = self._outbound(order.number, INVOICE_OUTBOUND)
        return str(found["id_by_customer"]) if found else None

    def _debtor_row(self, debtor_id: str | None) -> dict[str, Any] | None:
        return self.debtors.rows().get(debtor_id) if debtor_id else None

    @hookimpl
    def create_order(self, order: Order, order_type: OrderType, debtor_id: str | None) -> str:
        existing = self.find_order(order, order_type)
        if existing:
            return existing  # booked before a crash or a lost answer: not twice
        self.validate_record("orders", order, order_type)
        debtor = self._debtor_row(debtor_id)
        if order_type == "financial_entry":
            answer = self.client.call("/receipts/add", receipt_body(order, debtor, self.settings))
        else:
            answer = self.client.call(
                "/invoices/create", invoice_body(order, debtor, self.settings)
            )
        return str(answer["id_by_customer"])

    @hookimpl
    def create_refund(self, refund: Refund, order_id: str | None) -> str:
        number = credit_number(refund)
        found = self._outbound(number, CREDIT_OUTBOUND)
        if found:
            return str(found["id_by_customer"])
        if order_id:
            original = self.client.call(f"/receipts/get/{order_id}", read=True).get("data") or {}
        elif refund.order_number:
            original = self._outbound(refund.order_number, INVOICE_OUTBOUND) or {}
        else:
            raise RecordInvalid(
                f"refund {refund.key} names no order", key=refund.key, field="order_number"
            )
        if not original:
            raise RecordInvalid(
                f"refund {refund.key}: BuchhaltungsButler has no outbound invoice "
                f"{order_id or refund.order_number}",
                key=refund.key,
                field="order_number",
            )
        answer = self.client.call("/invoices/create", credit_body(refund, original, self.settings))
        return str(answer["id_by_customer"])

    # --- orders out ----------------------------------------------------------------------

    def _receipts(self, since: datetime | None, statuses: list[str] | None) -> Iterator[dict]:
        """Outbound receipts changed since the cursor, then those dated from lookback_days
        before it (date_since_last_modified misses new receipts), each once."""
        body: dict[str, Any] = {"list_direction": "outbound", "order": {"date": "ASC"}}
        if statuses is not None and "pending" not in statuses:
            body["payment_status"] = "paid"  # an unpaid receipt is a pending order
        passes = [body]
        if since is not None:
            passes = [
                {**body, "date_since_last_modified": to_berlin(since)},
                {**body, "date_from": day(since - timedelta(days=self.settings.lookback_days))},
            ]
        seen: set[str] = set()
        for query in passes:
            for row in self.client.rows("/receipts/get", query):
                key = str(row.get("id_by_customer"))
                if key not in seen and row.get("type") == INVOICE_OUTBOUND:
                    seen.add(key)
                    yield row

    @hookimpl
    def fetch_orders(
        self, since: datetime | None, statuses: list[str] | None
    ) -> Iterator[Record | RecordInvalid]:
        for row in self._receipts(since, statuses):
            key = str(row.get("id_by_customer"))
            detail = self.client.call(f"/receipts/get/{key}", read=True).get("data") or {}
            debtor = self.debtors.find("name", str(row.get("counterparty") or ""))
            try:
                data = order_from_receipt(row, detail, debtor, self.settings)
            except ValueError as exc:
                yield RecordInvalid(
                    f"receipt {key}: BuchhaltungsButler sent {exc}", key=key, payload=row
                )
                continue
            yield record_or_invalid(Order, data, key=key, payload=row)
