"""The Feeddex connector: orders in as feedback transactions (Feeddex invites each order's
customer), customers in; feedback out, month by month, with the F100 score once the
customer answered. Only the login and `feedbackData` are documented (CONFIRMED); every other
path, field name and code is PROPOSED and a setting. Products and stock are written only
when a setting names an endpoint Feeddex gave you: nothing public shows it has them."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from datetime import date, datetime, timedelta
from typing import Any
from urllib.parse import quote
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, Field, SecretStr, field_validator

from host import hookimpl
from host.auth import ConnectorContext
from host.capabilities import Capabilities
from host.errors import ConfigError, RecordInvalid, RemoteRejected
from host.models import Customer, Feedback, Order, Product, Record, StockLevel
from host.vocabulary import DebtorField, Entity, OrderType
from ihost_feeddex.client import PROPOSED_NAMES, Duplicate, FeeddexClient, Names
from ihost_feeddex.convert import (
    customer_body,
    feedback_from_item,
    product_body,
    stock_body,
    transaction_body,
)

log = logging.getLogger(__name__)

PROPOSED = "PROPOSED: Feeddex does not document it; set what Feeddex tells you"
#: feedback read again before the cursor: an expirationDate is a day, read as its start, so
#: an expiry later that day than the cursor would otherwise fall before it
OVERLAP = timedelta(days=1)


class FeeddexSettings(BaseModel):
    auth_code: str = Field(description="the user name Feeddex gave you (sent as authCode)")
    organization: str = Field(description="the organization name Feeddex gave you")
    password: SecretStr = Field(description="the password Feeddex gave you")
    base_url: str = Field("https://api.feeddex.nl", description="the API's base URL")
    unit_id: int | None = Field(
        None,
        description="the Feeddex unit (branch, shop) transactions are entered for; none: the "
        "organization's only unit (read from units_path)",
    )
    timezone: str = Field("Europe/Amsterdam", description="the zone of a transaction's date")
    invite_after_days: int | None = Field(
        None, ge=0, le=60, description="days before Feeddex invites (none: Feeddex's default)"
    )
    send_order_lines: bool = Field(True, description="send each order's lines (sku, name, qty)")
    feedback_months_back: int = Field(
        3,
        ge=0,
        le=24,
        description="months before the flow's cursor read again: feedback is filed under the "
        "order's date and may be answered weeks later",
    )
    feedback_history_months: int = Field(
        12, ge=0, le=120, description="months read back on a flow's first run"
    )
    read_external_ids: bool = Field(
        True,
        description="look up the order number of feedback on transactions ihost did not enter "
        f"(GET transactions_path/ID, once per transaction; {PROPOSED})",
    )
    login_path: str = Field("/authenticate", description="the login (CONFIRMED)")
    feedback_path: str = Field("/v1/feedbackData", description="feedback by month (CONFIRMED)")
    transactions_path: str = Field("/v1/transactions", description=f"transactions ({PROPOSED})")
    customers_path: str = Field("/v1/customers", description=f"customers ({PROPOSED})")
    units_path: str = Field("/v1/units", description=f"units ({PROPOSED})")
    products_path: str | None = Field(
        None, description="products: off unless set (nothing public shows Feeddex has them)"
    )
    stock_path: str | None = Field(
        None, description="stock: off unless set (nothing public shows Feeddex has it)"
    )
    field_names: dict[str, str] = Field(
        default_factory=dict,
        description=f"JSON names of the proposed endpoints as Feeddex spells them, e.g. "
        f'{{ externalId = "orderNumber" }} ({PROPOSED})',
    )
    duplicate_status: int = Field(
        409, ge=400, le=499, description=f"the status of 'already exists' ({PROPOSED})"
    )
    requests_per_second: float | None = Field(
        None, gt=0, le=1000, description="keep to this many requests a second (none: no limit)"
    )
    timeout: float = Field(30.0, gt=0, le=600, description="seconds per request")

    @field_validator("base_url", "login_path", "feedback_path", "transactions_path")
    @classmethod
    def _no_slash(cls, value: str) -> str:
        return value.rstrip("/")

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"{value!r} is not a time zone (e.g. Europe/Amsterdam)") from None
        return value

    @field_validator("field_names")
    @classmethod
    def _known_names(cls, value: dict[str, str]) -> dict[str, str]:
        unknown = sorted(set(value) - set(PROPOSED_NAMES))
        if unknown:
            raise ValueError(
                f"{', '.join(unknown)}: not a proposed name; rename any of "
                + ", ".join(PROPOSED_NAMES)
            )
        return value


class FeeddexPlugin:
    """Feeddex, the Dutch customer-feedback service: transactions and customers in,
    feedback and F100 scores out."""

    name = "feeddex"
    title = "Feeddex (customer feedback)"
    Settings = FeeddexSettings
    capabilities = Capabilities(
        reads={"feedback"},
        writes={"orders", "customers", "products", "stock"},
        product_types={"simple", "virtual"},
        order_types={"sales_order"},
        debtor_match={"email", "key"},
        stock_batch=1,
        writes_when_set={"products": "products_path", "stock": "stock_path"},
        rate_limit="not documented (requests_per_second keeps to one; a 429 is waited out)",
        why_not={
            "writes products": "nothing public shows Feeddex has a products endpoint; set "
            "products_path when Feeddex gave you one",
            "writes stock": "nothing public shows Feeddex has a stock endpoint; set stock_path "
            "when Feeddex gave you one",
            "reads orders": "Feeddex keeps transactions, not orders: read them as feedback",
            "reads customers": "not documented",
            "writes feedback": "Feeddex makes feedback; it does not take it",
        },
    )

    def __init__(self, settings: FeeddexSettings, context: ConnectorContext) -> None:
        self.settings = settings
        self.ledger = context.ledger
        self.zone = ZoneInfo(settings.timezone)
        self.client = FeeddexClient(
            settings.base_url,
            {
                "authCode": settings.auth_code,
                "organization": settings.organization,
                "password": settings.password.get_secret_value(),
            },
            login_path=settings.login_path,
            names=Names(settings.field_names),
            duplicate_status=settings.duplicate_status,
            per_second=settings.requests_per_second,
            timeout=settings.timeout,
        )
        self._unit: int | None = settings.unit_id

    def close(self) -> None:
        self.client.close()

    @property
    def waited(self) -> float:
        return self.client.waited

    # --- both sides -----------------------------------------------------------------------

    @hookimpl
    def check_connection(self) -> None:
        today = datetime.now(self.zone)
        self.client.feedback_month(self.settings.feedback_path, today.year, today.month)

    # --- feedback (source) ----------------------------------------------------------------

    @hookimpl
    def fetch_feedback(self, since: datetime | None) -> Iterator[Record | RecordInvalid]:
        """Each month's feedbackData from `feedback_months_back` months before `since` (or
        `feedback_history_months` back) to this month; what changed at or after `since`
        (less OVERLAP)."""
        settings = self.settings
        today = datetime.now(self.zone).date()
        back = settings.feedback_months_back if since else settings.feedback_history_months
        first = (since.astimezone(self.zone).date() if since else today).replace(day=1)
        for year, month in _months(_months_before(first, back), today):
            answer = self.client.feedback_month(settings.feedback_path, year, month)
            units = {
                str(u.get("id")): str(u.get("name"))
                for u in answer.get("unitData") or []
                if isinstance(u, dict) and u.get("name")
            }
            found = [feedback_from_item(item, units, None) for item in _items(answer)]
            changed = [
                f
                for f in found
                if not isinstance(f, Feedback)
                or since is None
                or f.updated_at is None
                or f.updated_at >= since - OVERLAP
            ]
            numbers = self._order_numbers(f.key for f in changed if isinstance(f, Feedback))
            for feedback in changed:
                if isinstance(feedback, Feedback) and feedback.key in numbers:
                    feedback = feedback.model_copy(update={"order_number": numbers[feedback.key]})
                yield feedback

    def _order_numbers(self, keys: Iterable[str]) -> dict[str, str]:
        """The order number (externalId) of each transaction: from the ledger (every
        transaction this connection entered, and each looked up before), else looked up
        once (read_external_ids) and kept."""
        wanted = list(keys)
        known = {
            k.removeprefix("tx:"): v for k, v in self.ledger.get(f"tx:{k}" for k in wanted).items()
        }
        if not self.settings.read_external_ids:
            return known
        learnt: dict[str, str] = {}
        for key in wanted:
            if key in known:
                continue
            try:
                row = self.client.get(f"{self.settings.transactions_path}/{_segment(key)}")
            except RemoteRejected as exc:  # not there, or not this API: the binding may know
                log.info("feeddex: no order number for transaction %s: %s", key, exc.summary)
                continue
            number = row.get("externalId") if isinstance(row, dict) else None
            if number not in (None, ""):
                learnt[f"tx:{key}"] = known[key] = str(number)
        if learnt:
            self.ledger.put(learnt)
        return known

    # --- orders and customers (target) ----------------------------------------------------

    @hookimpl
    def validate_record(self, entity: Entity, record: Any, order_type: OrderType | None) -> None:
        if entity == "orders":
            if record.customer is None or record.customer.email is None:
                raise RecordInvalid(
                    f"order {record.number}: customer.email is empty: Feeddex invites the "
                    "customer by e-mail",
                    key=record.key,
                    field="customer.email",
                )
        elif entity == "customers" and record.email is None:
            raise RecordInvalid(
                f"customer {record.key}: email is empty: Feeddex keeps customers by e-mail",
                key=record.key,
                field="email",
            )

    def _unit_id(self) -> int:
        """The unit transactions are entered for: unit_id, else the organization's only one."""
        if self._unit is None:
            units = list(self.client.rows(self.settings.units_path))
            if len(units) != 1:
                listing = ", ".join(f"{u.get('id')} ({u.get('name')})" for u in units) or "none"
                raise ConfigError(
                    f"feeddex: set unit_id: the organization has {len(units)} units: {listing}"
                )
            self._unit = int(units[0]["id"])
        return self._unit

    @hookimpl
    def find_order(self, order: Order, order_type: OrderType) -> str | None:
        known = self.ledger.get([f"order:{order.number}"])
        if known:
            return known[f"order:{order.number}"]
        path = self.settings.transactions_path
        for row in self.client.rows(path, externalId=order.number):
            if str(row.get("externalId")) == order.number:
                self._remember(order.number, str(row["id"]))
                return str(row["id"])
        return None

    @hookimpl
    def create_order(self, order: Order, order_type: OrderType, debtor_id: str | None) -> str:
        customer = order.customer
        code = debtor_id or (customer.key if customer else None)
        body = transaction_body(
            order,
            self._unit_id(),
            code,
            self.zone,
            invite_after_days=self.settings.invite_after_days,
            order_lines=self.settings.send_order_lines,
        )
        try:
            answer = self.client.post(self.settings.transactions_path, body)
            made = str(answer["id"])
        except Duplicate as exc:  # entered before (a lost answer, or by hand): found, not made
            made = exc.existing or self.find_order(order=order, order_type=order_type) or ""
            if not made:
                raise
        self._remember(order.number, made)
        return made

    def _remember(self, number: str, transaction: str) -> None:
        self.ledger.put({f"order:{number}": transaction, f"tx:{transaction}": number})

    @hookimpl
    def find_debtor(self, customer: Customer, match_on: DebtorField) -> str | None:
        value = customer.email if match_on == "email" else customer.key
        if not value:
            raise RecordInvalid(
                f"customer {customer.key}: {match_on} is empty: Feeddex finds customers by it",
                key=customer.key,
                field=match_on,
            )
        query = {"email": value} if match_on == "email" else {"customerCode": value}
        for row in self.client.rows(self.settings.customers_path, **query):
            found = str(row.get(match_on if match_on == "email" else "customerCode") or "")
            if found.lower() == value.lower() if match_on == "email" else found == value:
                return str(row["customerCode"])
        return None

    @hookimpl
    def upsert_debtor(self, customer: Customer, existing_id: str | None) -> str:
        path = self.settings.customers_path
        body = customer_body(customer)
        if existing_id is None:
            try:
                self.client.post(path, body)
                return customer.key
            except Duplicate:  # the code is taken: this customer, under another e-mail
                existing_id = customer.key
        self.client.put(f"{path}/{_segment(existing_id)}", {**body, "customerCode": existing_id})
        return existing_id

    # --- products and stock (only where a setting names the endpoint) ---------------------

    def _path(self, entity: str) -> str:
        path: str | None = getattr(self.settings, f"{entity}_path")
        if not path:
            why = self.capabilities.reason("writes", entity)
            raise ConfigError(f"feeddex: {entity}_path is not set{why}")
        return path.rstrip("/")

    @hookimpl
    def find_products(self, skus: list[str]) -> dict[str, str]:
        path = self._path("products")
        found: dict[str, str] = {}
        for sku in skus:
            for row in self.client.rows(path, sku=sku):
                if row.get("sku") == sku:
                    found[sku] = sku
        return found

    @hookimpl
    def upsert_product(self, product: Product, existing_id: str | None, update_info: bool) -> str:
        self.client.put(f"{self._path('products')}/{_segment(product.sku)}", product_body(product))
        return product.sku

    @hookimpl
    def push_stock(self, levels: list[StockLevel]) -> None:
        path = self._path("stock")
        for level in levels:
            self.client.put(f"{path}/{_segment(level.sku)}", stock_body(level))


def _segment(value: str) -> str:
    """A key (SKU, customer code, id) as one path segment: "#", "?", "/" and spaces
    encoded, so that the key is not cut off as a fragment, a query or another path."""
    return quote(value, safe="")


def _items(answer: dict[str, Any]) -> list[Any]:
    items = answer.get("feedbackData")
    return items if isinstance(items, list) else []


def _months_before(first: date, count: int) -> date:
    """The first day of the month `count` months before `first`'s."""
    index = first.year * 12 + first.month - 1 - count
    return date(index // 12, index % 12 + 1, 1)


def _months(start: date, end: date) -> Iterator[tuple[int, int]]:
    """(year, month) from `start`'s month to `end`'s, both included."""
    index, last = start.year * 12 + start.month - 1, end.year * 12 + end.month - 1
    while index <= last:
        yield index // 12, index % 12 + 1
        index += 1
