"""The Asperion connector (inBalance / inTrade): target of orders (sales orders or sales
invoices), debtors and feedback (a line in a debtor field, by setting); source of orders
(sales invoices, or sales orders), articles, stock and debtors. See the README for what
is confirmed about Asperion's API and what is configurable because it is not."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any, Literal, NamedTuple

from pydantic import BaseModel, Field, SecretStr, ValidationError, field_validator, model_validator

from host import hookimpl
from host.auth import ConnectorContext, OAuth2AuthorizationCode
from host.capabilities import Capabilities
from host.codes import CURRENCIES
from host.errors import AuthError, RecordInvalid, RemoteRejected
from host.models import (
    Customer,
    Feedback,
    Order,
    OrderStatus,
    Product,
    Record,
    StockLevel,
    record_or_invalid,
    validation_problems,
)
from host.vocabulary import DebtorField, Entity, OrderType
from ihost_asperion.client import REFERENCE_TTL, AsperionClient
from ihost_asperion.convert import (
    INVOICE_STATUS_NAMES,
    Malformed,
    changed_at,
    contact_body,
    customer_from_debtor,
    debtor_body,
    debtor_problems,
    decimal,
    feedback_debtor_body,
    feedback_line,
    feedback_replaces,
    invoice_body,
    invoice_lines,
    invoice_statuses,
    order_from_invoice,
    order_from_sales_order,
    order_problems,
    product_from_article,
    sales_order_body,
    status_filter,
    stock_from_article,
    to_local,
    to_local_date,
)

FreeField = Literal["freeField1", "freeField2", "freeField3", "freeField4", "freeField5"]
#: the debtor's free text fields (api/asperion.md §2.3; a debtor has no freeField1..5)
DebtorFreeField = Literal["comments", "characteristic4", "characteristic5"]

#: the debtor filter a debtor is found by, per customer field (capabilities.debtor_match)
DEBTOR_FILTERS: dict[DebtorField, str] = {
    "email": "EmailAddress",
    "phone": "PhoneNumber",
    "vat_number": "VatNumber",
    "key": "CustomerNumber",
}
INVOICES = "salesinvoiceswithlines"
#: the number of each invoice status, to ask for one (`Status=7`)
INVOICE_STATUS_NUMBERS = {name.casefold(): code for code, name in INVOICE_STATUS_NAMES.items()}
#: the Asperion field a record field is read from, to name it in Asperion's words
ASPERION_FIELDS = {
    "email": "emailAddress",
    "phone": "phoneNumber",
    "vat_number": "vatNumber",
    "price": "salesPrice",
    "ean": "ean",
    "on_hand": "currentStock",
    "reserved": "reservedStock",
    "billing_address.country": "countryCode",
    "billing_address.postcode": "postCode",
}
#: the invoice or sales-order field an order field is read from
ORDER_FIELDS = {"created_at": "date", "total": "amountInclVat", "tax_total": "vatAmount"}


class OrderKind(NamedTuple):
    """Invoices or sales orders, as an order of the orders bindings names them: the noun,
    the resource, the field the connector writes the order number into, Asperion's own
    number, and the field naming the debtor."""

    noun: str
    resource: str
    reference: str
    own: str
    debtor: str


def pascal(field: str) -> str:
    """The filter of a JSON field: `invoiceNumber` is filtered as `InvoiceNumber`."""
    return field[0].upper() + field[1:]


class AsperionSettings(BaseModel):
    client_id: str = Field(description="the client id Asperion's API support issued to you")
    client_secret: SecretStr = Field(description="its client secret")
    business_booking_group: str = Field(
        description="the business booking group new debtors get (mandatory in Asperion): "
        "an id of /v1/debtorkinds, written to booking_group_field"
    )
    administration_id: int | None = Field(
        None, description="X-Tenant-Id: the administration (None: the user's default one)"
    )
    base_url: str = Field("https://api.asperion.nl", description="the API (sandbox: api-sandbox)")
    identity_url: str = Field(
        "https://identity.asperion.nl", description="the identity server (connect/authorize)"
    )
    redirect_uri: str | None = Field(None, description="the redirect URI registered, if any")
    scope: str | None = Field(None, description="OAuth2 scope to ask for (not documented)")
    pkce: bool = Field(True, description="send a PKCE S256 challenge when authorizing")
    language: str = Field("en-US", description="Accept-Language: en-US or nl-NL error texts")
    booking_group_field: str = Field(
        "debtorKindId", description="the debtor field of the business booking group (PROPOSED)"
    )
    payment_condition_id: int | None = Field(
        None, description="payment terms (/v1/paymentconditions) of new debtors and orders"
    )
    payment_method_id: str | None = Field(
        None, description="payment method (/v1/paymentmethods) when an order names none"
    )
    default_country: str = Field("NL", description="ISO country of addresses that have none")
    sales_orders_path: str = Field(
        "SalesOrderWithLines", description="the sales orders resource under /v1 (inTrade)"
    )
    order_reference_field: str = Field(
        "orderNumber", description="the sales-order field the order number goes in (PROPOSED)"
    )
    invoice_reference_field: str = Field(
        "invoiceNumber", description="the invoice field the order number goes in"
    )
    shipping_article: str = Field(
        "VERZENDKOSTEN", description="article code of shipping costs on sales orders"
    )
    sales_journal_id: str | None = Field(None, description="journal of invoices (e.g. VK)")
    revenue_ledger_account_id: int | None = Field(None, description="ledger of invoice lines")
    shipping_ledger_account_id: int | None = Field(
        None, description="ledger of shipping on invoices (default: the revenue ledger)"
    )
    cost_center_id: int | None = Field(None, description="cost centre of invoice lines")
    vat_codes: dict[str, str] = Field(
        default_factory=dict,
        description='VAT percentage -> VAT code, e.g. { "21" = "H21", "0" = "EU0" }, where '
        "Asperion's /v1/vatcodes has several codes (or none) for a rate",
    )
    attribute_fields: dict[FreeField, str] = Field(
        default_factory=dict,
        description='free fields read as attributes, e.g. { freeField1 = "Colour" }',
    )
    characteristic_fields: dict[FreeField, str] = Field(
        default_factory=dict,
        description='free fields read as characteristics, e.g. { freeField3 = "Origin" }',
    )
    reserved_stock_field: str | None = Field(
        "reservedStock", description="the article field of reserved stock (PROPOSED; None: 0)"
    )
    order_source: Literal["invoices", "sales_orders"] = Field(
        "invoices",
        description="what is read as orders: sales invoices with lines (confirmed), or sales "
        "orders (reading SalesOrderWithLines is UNCONFIRMED)",
    )
    invoice_statuses: dict[str, OrderStatus] = Field(
        default_factory=dict,
        description="invoice status (name or number) -> order status, over the defaults "
        "(Paid: paid; Concept, InJournalentry, InLedger, Payable, Hold: pending), e.g. "
        '{ Payable = "authorized" }',
    )
    sales_order_statuses: dict[str, OrderStatus] = Field(
        default_factory=dict,
        description='sales order status -> order status, e.g. { Delivered = "paid" } '
        "(PROPOSED: Asperion's values are not documented)",
    )
    unknown_order_status: OrderStatus = Field(
        "pending", description="the status of an order whose native status is not mapped"
    )
    invoice_lookback_days: int | None = Field(
        None,
        ge=0,
        description="read only invoices dated from this many days before the flow's cursor "
        "(Date_from); none: every invoice on every run (invoices have no change date)",
    )
    currency: str = Field("EUR", description="the administration's currency (invoices name none)")
    changed_since_filter: bool = Field(
        True,
        description="read changes with DateLastChange_from (UNCONFIRMED filter); false reads "
        "everything and lets content hashes find the changes",
    )
    feedback_field: DebtorFreeField | None = Field(
        None,
        description="the debtor field the latest feedback on the debtor's orders is written "
        "into, replacing what it held (none: feedback is not written)",
    )
    feedback_max_length: int = Field(
        100,
        ge=30,
        description="the characters feedback_field holds (PROPOSED: Asperion documents none); "
        "a longer line has its order number cut",
    )
    page_size: int = Field(100, ge=1, le=100, description="items per page when reading")
    requests_per_second: float | None = Field(
        None, gt=0, description="pace requests (Asperion publishes no limit)"
    )
    timeout: float = Field(60.0, gt=0, description="seconds per request")

    @field_validator("base_url", "identity_url")
    @classmethod
    def _no_slash(cls, value: str) -> str:
        return value.rstrip("/")

    @field_validator("currency")
    @classmethod
    def _currency(cls, value: str) -> str:
        if value.strip().upper() not in CURRENCIES:
            raise ValueError(f"{value!r} is not an ISO 4217 currency code")
        return value.strip().upper()

    @model_validator(mode="after")
    def _free_fields_once(self) -> AsperionSettings:
        both = set(self.attribute_fields) & set(self.characteristic_fields)
        if both:
            raise ValueError(
                f"{', '.join(sorted(both))} cannot be both an attribute and a characteristic"
            )
        if self.feedback_field is not None and self.feedback_field == self.booking_group_field:
            raise ValueError(
                f"feedback_field {self.feedback_field} is the booking_group_field: feedback "
                "would overwrite the business booking group"
            )
        return self


class AsperionPlugin:
    """Asperion inBalance / inTrade through its REST API, authorized with OAuth2
    (`ihost auth CONNECTION`): sales orders or invoices, debtors and feedback (in the debtor
    field feedback_field names) in; invoices (or sales orders), articles, stock and debtors
    out."""

    name = "asperion"
    title = "Asperion (inBalance / inTrade)"
    Settings = AsperionSettings
    capabilities = Capabilities(
        reads={"orders", "products", "stock", "customers"},
        writes={"orders", "customers", "feedback"},
        writes_when_set={"feedback": "feedback_field"},
        product_types={"simple"},
        order_types={"sales_order", "invoice"},
        debtor_match=set(DEBTOR_FILTERS),
        rate_limit="no published limit: Retry-After is honoured; requests_per_second paces",
        why_not={
            "writes stock": "currentStock is read-only in Asperion's API (stock changes in "
            "the application or through sales orders)",
            "writes products": "Asperion is the source of articles here; writing them is not "
            "built yet",
            "writes feedback": "Asperion keeps no feedback; it is written into the debtor free "
            "field named by feedback_field",
        },
    )

    def __init__(self, settings: AsperionSettings, context: ConnectorContext) -> None:
        self.settings = settings
        self.auth = OAuth2AuthorizationCode(
            f"{settings.identity_url}/connect/authorize",
            f"{settings.identity_url}/connect/token",
            settings.client_id,
            settings.client_secret.get_secret_value(),
            scope=settings.scope,
            redirect_uri=settings.redirect_uri,
            pkce=settings.pkce,
            token_body="form",
            client_auth="body",
            vault=context.tokens,
            timeout=settings.timeout,
            name=context.connection,
        )
        self.client = AsperionClient(
            settings.base_url,
            self.auth,
            administration_id=settings.administration_id,
            language=settings.language,
            page_size=settings.page_size,
            timeout=settings.timeout,
            requests_per_second=settings.requests_per_second,
        )
        self._debtor_ids: dict[str, int] = {}  # customer number -> Asperion's id
        # the debtor find_debtor just read, for the upsert that follows it (taken once)
        self._found_debtor: dict[str, dict[str, Any]] = {}
        self._contacts: set[tuple[int, str]] = set()  # (debtor id, person) known to be there
        self._articles: dict[str, tuple[float, str]] = {}  # SKU -> (when found, article id)

    def close(self) -> None:
        self.client.close()
        self.auth.close()

    @hookimpl
    def oauth2_flow(self) -> OAuth2AuthorizationCode:
        return self.auth

    @hookimpl
    def check_connection(self) -> None:
        administrations = list(self.client.rows("administrations"))
        wanted = self.settings.administration_id
        if wanted is not None and all(a.get("id") != wanted for a in administrations):
            known = ", ".join(f"{a.get('id')} ({a.get('name')})" for a in administrations)
            raise AuthError(
                f"asperion: administration {wanted} is not one this user may open "
                f"(they are: {known or 'none'}): check administration_id"
            )
        self._check_booking_group()

    def _check_booking_group(self) -> None:
        """Stop (not fail each new debtor alone) where the administration has no debtor
        kind business_booking_group: every debtor the run would make is refused for it."""
        kinds = self._reference_ids("debtorkinds")
        if kinds is not None and self.settings.business_booking_group not in kinds:
            raise AuthError(
                f"asperion: business_booking_group {self.settings.business_booking_group} "
                f"is not a debtor kind of the administration (they are: {', '.join(kinds)})"
            )

    def _reference_ids(self, resource: str) -> list[str] | None:
        """The ids of a reference list; None where the administration does not serve it."""
        try:
            return [str(row.get("id")) for row in self.client.reference(resource)]
        except RemoteRejected as exc:
            if exc.status == 404:
                return None
            raise

    # --- source ---------------------------------------------------------------------------

    def _changed(self, resource: str, since: datetime | None, **params: Any) -> Iterator[dict]:
        """Items changed at or after `since`, oldest change first: asked with
        DateLastChange_from, and what a server ignoring the filter sends from before `since`
        dropped here. All items when `since` is None or the filter is switched off."""
        params["orderBy"] = "DateLastChange"
        if since is None or not self.settings.changed_since_filter:
            # everything: a dateLastChange not to be trusted is why the filter is off
            yield from self.client.rows(resource, params)
            return
        params["DateLastChange_from"] = to_local(since)
        for row in self.client.rows(resource, params):
            try:
                changed = changed_at(row)
            except Malformed:
                changed = None  # passed on: the conversion names what is wrong with it
            if changed is None or changed >= since:
                yield row

    def _vat_rates(self) -> dict[str, Decimal]:
        return {
            str(row.get("id")): rate
            for row in self.client.reference("vatcodes")
            if (rate := decimal(row.get("percentage"))) is not None
        }

    @staticmethod
    def _converted(
        model: type[Record],
        row: Mapping[str, Any],
        key_field: str,
        convert: Callable[[Mapping[str, Any]], dict[str, Any]],
    ) -> Record | RecordInvalid:
        """One item of Asperion's as a record, or, where Asperion sent what its fields
        cannot hold, a RecordInvalid naming the item and Asperion's field: it waits as a
        dead letter and the read goes on."""
        key = str(row.get(key_field) or row.get("id"))
        noun = {StockLevel: "stock level", Customer: "debtor"}.get(model, "article")
        try:
            data = convert(row)
        except Malformed as exc:
            return RecordInvalid(
                f"{noun} {key}: Asperion sent {exc}",
                key=key,
                field=exc.field,
                payload=row,
                summary=f"{noun} {key}: {exc.problem}",
            )
        found = record_or_invalid(model, data, key=key, payload=row)
        if isinstance(found, RecordInvalid) and found.field in ASPERION_FIELDS:
            remote = ASPERION_FIELDS[found.field]
            return RecordInvalid(
                f"{found} (Asperion's {remote})",
                key=key,
                field=remote,
                payload=row,
                summary=f"{found.summary} (Asperion's {remote})",
            )
        return found

    @hookimpl
    def fetch_products(self, since: datetime | None) -> Iterator[Record | RecordInvalid]:
        rates = self._vat_rates()
        for row in self._changed("articles", since):
            if row.get("articleCode") == self.settings.shipping_article:
                continue  # shipping costs on orders, not a product
            yield self._converted(
                Product,
                row,
                "articleCode",
                lambda item: product_from_article(item, rates, self.settings),
            )

    @hookimpl
    def fetch_stock(self, since: datetime | None) -> Iterator[Record | RecordInvalid]:
        # a sales order changes an article's stock without changing its dateLastChange:
        # every run reads every active article, and the flow passes on what changed
        reserved = self.settings.reserved_stock_field
        for row in self.client.rows("articles", {"orderBy": "ArticleCode"}):
            if row.get("articleCode") == self.settings.shipping_article:
                continue
            yield self._converted(
                StockLevel, row, "articleCode", lambda item: stock_from_article(item, reserved)
            )

    @hookimpl
    def fetch_customers(self, since: datetime | None) -> Iterator[Record | RecordInvalid]:
        for row in self._changed("debtors", since):
            yield self._converted(Customer, row, "customerNumber", customer_from_debtor)

    # --- orders (source) --------------------------------------------------------------------

    @hookimpl
    def fetch_orders(
        self, since: datetime | None, statuses: list[str] | None
    ) -> Iterator[Record | RecordInvalid]:
        """Sales invoices with lines (order_source "invoices") or sales orders
        ("sales_orders", an UNCONFIRMED read) as orders of their debtors; each debtor is
        read once a run. Invoices have no change date: every run reads every invoice (or,
        with invoice_lookback_days, those dated that long before `since`), oldest date
        first, and the flow passes on what changed."""
        settings = self.settings
        rates = self._vat_rates()
        debtors = _RunDebtors(self.client, self._debtor_record)
        params = self._status_params(statuses)
        if settings.order_source == "sales_orders":
            for row in self._changed(settings.sales_orders_path, since, **params):
                yield self._order(
                    row,
                    ("sales order", settings.order_reference_field, "salesOrderNumber", "debtorId"),
                    debtors.by_id,
                    lambda item, customer: order_from_sales_order(item, customer, rates, settings),
                )
            return
        params["orderBy"] = "Date"
        if since is not None and settings.invoice_lookback_days is not None:
            start = since - timedelta(days=settings.invoice_lookback_days)
            params["Date_from"] = to_local_date(start)
        for row in self.client.rows(INVOICES, params):
            yield self._order(
                row,
                (
                    "invoice",
                    settings.invoice_reference_field,
                    "invoiceNumber",
                    "debtorCustomerNumber",
                ),
                debtors.by_number,
                lambda item, customer: order_from_invoice(item, customer, rates, settings),
            )

    def _status_params(self, statuses: list[str] | None) -> dict[str, Any]:
        """The Status filter asking Asperion for the wanted statuses only, where one native
        status stands for all of them; else none, and the runner selects."""
        if statuses is None:
            return {}
        unknown = self.settings.unknown_order_status
        if self.settings.order_source == "sales_orders":
            table = self.settings.sales_order_statuses
            native = status_filter(statuses, table, unknown)
            return {} if native is None else {"Status": native, "Status_comparison": "Equals"}
        if "refunded" in statuses:
            return {}  # a credit invoice is refunded, whatever its status
        native = status_filter(statuses, invoice_statuses(self.settings.invoice_statuses), unknown)
        if native is None:
            return {}
        code = INVOICE_STATUS_NUMBERS.get(native.casefold())
        if code is None and native.isdigit():
            code = int(native)
        return {} if code is None else {"Status": code}

    def _debtor_record(self, row: Mapping[str, Any]) -> Record | RecordInvalid:
        return self._converted(Customer, row, "customerNumber", customer_from_debtor)

    def _order(
        self,
        row: Mapping[str, Any],
        names: tuple[str, str, str, str],
        find_debtor: Callable[[str], Record | RecordInvalid | None],
        convert: Callable[[Mapping[str, Any], Customer], dict[str, Any]],
    ) -> Record | RecordInvalid:
        """An invoice or sales order as an Order of its debtor, or a RecordInvalid naming
        it (`names`: its noun, the fields of the order number the connector writes and of
        Asperion's own number, the field naming its debtor) and the field: where its debtor
        cannot be found or read, or it does not convert."""
        noun, reference_field, own_field, debtor_field = names
        key = str(row.get("id"))
        number = row.get(reference_field) or row.get(own_field)
        label = f"{noun} {key}" + (f" ({number})" if number and str(number) != key else "")
        reference = row.get(debtor_field)
        reference = None if reference is None else str(reference).strip() or None
        customer = find_debtor(reference) if reference else None
        if not isinstance(customer, Customer):
            if reference is None:
                problem = summary = f"{debtor_field} is empty: it names no debtor"
            elif isinstance(customer, RecordInvalid):
                problem = f"{debtor_field}: debtor {reference} cannot be read: {customer}"
                summary = f"{debtor_field}: debtor {reference} cannot be read: {customer.summary}"
            else:
                problem = summary = f"{debtor_field}: Asperion has no debtor {reference}"
            return RecordInvalid(
                f"{label}: {problem}",
                key=key,
                field=debtor_field,
                payload=row,
                summary=f"{label}: {summary}",
            )
        try:
            data = convert(row, customer)
        except Malformed as exc:
            return RecordInvalid(
                f"{label}: Asperion sent {exc}",
                key=key,
                field=exc.field,
                payload=row,
                summary=f"{label}: {exc.problem}",
            )
        try:
            return Order.model_validate(data)
        except ValidationError as exc:
            problems = validation_problems(exc, label)
            loc = exc.errors()[0]["loc"] if exc.errors() else ()
            field = ".".join(str(part) for part in loc) or None
            if field in ORDER_FIELDS:
                problems[0] += f" (Asperion's {ORDER_FIELDS[field]})"
                field = ORDER_FIELDS[field]
            return RecordInvalid("; ".join(problems), key=key, field=field, payload=row)

    # --- debtors --------------------------------------------------------------------------

    def _debtor(self, customer_number: str) -> dict[str, Any] | None:
        if (just_read := self._found_debtor.pop(customer_number, None)) is not None:
            return just_read
        found = self.client.equal("debtors", "CustomerNumber", customer_number)
        if found:
            self._debtor_ids[customer_number] = int(found[0]["id"])
        return found[0] if found else None

    @hookimpl
    def find_debtor(self, customer: Customer, match_on: DebtorField) -> str | None:
        value = getattr(customer, match_on)
        if not value:
            raise RecordInvalid(
                f"customer {customer.key} has no {match_on}", key=customer.key, field=match_on
            )
        found = self.client.equal("debtors", DEBTOR_FILTERS[match_on], str(value))
        if not found:
            return None
        number = str(found[0]["customerNumber"])
        self._debtor_ids[number] = int(found[0]["id"])
        self._found_debtor = {number: found[0]}
        return number

    def _payment_condition(self, terms: Any, noun: str, key: str) -> int | None:
        """A payment condition by its id or its description (after the flow's value map)."""
        if terms is None or terms == "":
            return self.settings.payment_condition_id
        return int(self._reference("paymentconditions", str(terms), noun, key, "payment_terms"))

    def _reference(self, resource: str, value: str, noun: str, key: str, field: str) -> str:
        rows = self.client.reference(resource)
        for row in rows:
            if value.casefold() in (
                str(row.get("id")).casefold(),
                str(row.get("description")).casefold(),
            ):
                return str(row["id"])
        known = ", ".join(f"{r.get('id')} ({r.get('description')})" for r in rows)
        example = rows[0]["id"] if rows else "ID"
        raise RecordInvalid(
            f"{noun}: Asperion has no {resource[:-1]} {value!r} (it has: {known}); map the "
            f'value in the flow\'s mapping, e.g. {field} = {{ "{value}" = "{example}" }}',
            key=key,
            field=field,
        )

    @hookimpl
    def upsert_debtor(self, customer: Customer, existing_id: str | None) -> str:
        self.validate_record("customers", customer, None)
        terms = (
            self._payment_condition(
                customer.extra.get("payment_terms"), f"customer {customer.key}", customer.key
            )
            if customer.extra.get("payment_terms")
            else None
        )
        if existing_id:
            existing = self._debtor(existing_id)
            if existing is None:
                raise RecordInvalid(
                    f"customer {customer.key}: Asperion has no debtor {existing_id} any more",
                    key=customer.key,
                    field="key",
                )
            body = debtor_body(customer, self.settings, existing, terms)
            kept = {k: v for k, v in existing.items() if k in body}
            # Asperion has it as it would be written: nothing to send
            saved = (
                existing if kept == body else self.client.replace("debtors", existing["id"], body)
            )
        else:
            self._check_booking_group()
            saved = self.client.create("debtors", debtor_body(customer, self.settings, None, terms))
        number = str(saved["customerNumber"])
        self._debtor_ids[number] = int(saved["id"])
        if customer.company and (customer.first_name or customer.last_name):
            self._ensure_contact(int(saved["id"]), customer)
        return number

    def _ensure_contact(self, debtor_id: int, customer: Customer) -> None:
        """The person at a company debtor, added once (found again by e-mail or name)."""
        body = contact_body(customer)
        person = str(body.get("emailAddress") or (body.get("firstName"), body.get("lastName")))
        if (debtor_id, person) in self._contacts:
            return
        self._contacts.add((debtor_id, person))
        path = f"debtors/{debtor_id}/contactpersons"
        for contact in self.client.rows(path):
            same_mail = (
                body.get("emailAddress")
                and str(contact.get("emailAddress") or "").casefold()
                == str(body["emailAddress"]).casefold()
            )
            same_name = (contact.get("firstName"), contact.get("lastName")) == (
                body.get("firstName"),
                body.get("lastName"),
            )
            if same_mail or same_name:
                return
        self.client.create(path, body)

    # --- orders ---------------------------------------------------------------------------

    @hookimpl
    def validate_record(self, entity: Entity, record: Any, order_type: OrderType | None) -> None:
        if entity == "orders":
            problems = order_problems(record, self.settings, order_type)
            if order_type == "invoice":
                problems += [
                    (name, "is not set: invoices need it in the Asperion connection's settings")
                    for name in ("sales_journal_id", "revenue_ledger_account_id")
                    if getattr(self.settings, name) is None
                ]
            noun = f"order {record.number}"
        elif entity == "customers":
            problems = debtor_problems(record, self.settings)
            noun = f"customer {record.key}"
        else:
            return
        if problems:
            listed = "; ".join(f"{name}: {problem}" for name, problem in problems)
            raise RecordInvalid(f"{noun}: {listed}", key=record.key, field=problems[0][0])

    def _resource(self, order_type: OrderType) -> tuple[str, str]:
        """The resource an order type is written to, and the filter that finds it."""
        if order_type == "invoice":
            return INVOICES, pascal(self.settings.invoice_reference_field)
        return self.settings.sales_orders_path, pascal(self.settings.order_reference_field)

    @hookimpl
    def find_order(self, order: Order, order_type: OrderType) -> str | None:
        resource, field = self._resource(order_type)
        found = self.client.equal(resource, field, order.number)
        return str(found[0]["id"]) if found else None

    @hookimpl
    def find_products(self, skus: list[str]) -> dict[str, str]:
        """The active articles with these codes. An article found is remembered for
        REFERENCE_TTL seconds (an order names the same articles as the one before); one not
        found is asked again each time."""
        found = {}
        now = time.monotonic()
        for sku in dict.fromkeys(skus):
            known = self._articles.get(sku)
            if known is not None and now - known[0] < REFERENCE_TTL:
                found[sku] = known[1]
                continue
            rows = self.client.equal("articles", "ArticleCode", sku)
            exact = [r for r in rows if str(r.get("articleCode")) == sku]
            if exact:
                found[sku] = str(exact[0]["id"])
                self._articles[sku] = (now, found[sku])
        return found

    def _vat_code(self, rate: Decimal | None, order: Order, field: str) -> tuple[str, Decimal]:
        """(code, percentage) of a rate: the vat_codes setting, else the one sales code of
        /v1/vatcodes with that percentage (the default one among several); a line without a
        rate takes the default code."""
        codes = [r for r in self.client.reference("vatcodes") if r.get("salesCode", True)]
        text = "default" if rate is None else f"{rate.normalize():f}"
        if text in self.settings.vat_codes:
            code = self.settings.vat_codes[text]
            known = next((r for r in codes if str(r.get("id")) == code), {})
            return code, decimal(known.get("percentage")) or rate or Decimal(0)
        if rate is None:
            matching = [r for r in codes if r.get("isDefault")]
        else:
            matching = [r for r in codes if decimal(r.get("percentage")) == rate]
            if len(matching) > 1:
                matching = [r for r in matching if r.get("isDefault")] or matching
        if len(matching) != 1:
            listed = ", ".join(str(r.get("id")) for r in matching) or "none"
            what = "a default" if rate is None else f"{text}%"
            raise RecordInvalid(
                f"order {order.number}: {field}: Asperion has {len(matching)} VAT codes for "
                f'{what} ({listed}): set vat_codes = {{ "{text}" = "CODE" }} in the '
                "connection's settings",
                key=order.key,
                field=field,
            )
        return str(matching[0]["id"]), decimal(matching[0].get("percentage")) or Decimal(0)

    def _payment(self, order: Order) -> dict[str, Any]:
        noun = f"order {order.number}"
        method = (
            self._reference(
                "paymentmethods", order.payment_method, noun, order.key, "payment_method"
            )
            if order.payment_method
            else self.settings.payment_method_id
        )
        return {
            "paymentConditionId": self._payment_condition(order.payment_terms, noun, order.key),
            "paymentMethodId": method,
        }

    def _lines(self, order: Order) -> list[Any]:
        return [*order.lines, *(s for s in order.shipping_lines if s.price)]

    def _order_body(self, order: Order, order_type: OrderType, debtor_id: str) -> dict[str, Any]:
        noun = f"order {order.number}"
        if order_type == "invoice":
            rates = [
                self._vat_code(line.tax_rate, order, f"lines[{index}].tax_rate")
                for index, line in enumerate(self._lines(order))
            ]
            terms = self._payment_condition(order.payment_terms, noun, order.key)
            lines = invoice_lines(order, rates, self.settings)
            return invoice_body(order, debtor_id, lines, self.settings, terms)
        internal = self._debtor_ids.get(debtor_id)
        if internal is None:
            row = self._debtor(debtor_id)
            if row is None:
                raise RecordInvalid(
                    f"{noun}: Asperion has no debtor with customer number {debtor_id}",
                    key=order.key,
                    field="customer",
                )
            internal = int(row["id"])
        codes = {
            index: self._vat_code(line.tax_rate, order, f"lines[{index}].tax_rate")[0]
            for index, line in enumerate(self._lines(order))
            if line.tax_rate is not None  # else the article's own VAT code
        }
        return sales_order_body(order, internal, codes, self.settings, self._payment(order))

    @hookimpl
    def create_order(self, order: Order, order_type: OrderType, debtor_id: str | None) -> str:
        existing = self.find_order(order, order_type)
        if existing:
            return existing  # written before a crash or a lost answer: not twice
        self.validate_record("orders", order, order_type)
        if not debtor_id:
            raise RecordInvalid(
                f"order {order.number}: Asperion books every order on a debtor: set the "
                "flow's default_debtor or let it find one",
                key=order.key,
                field="customer",
            )
        resource, _ = self._resource(order_type)
        saved = self.client.create(resource, self._order_body(order, order_type, debtor_id))
        return str(saved["id"])

    @hookimpl
    def preview_write(
        self, entity: Entity, record: Record, order_type: OrderType | None, target_id: str | None
    ) -> None:
        """Dry runs: Asperion's validateOnly=true checks the write and keeps nothing."""
        if entity == "customers" and isinstance(record, Customer):
            existing = self._debtor(target_id) if target_id else None
            body = debtor_body(record, self.settings, existing)
            if existing:
                self.client.replace("debtors", existing["id"], body, validate_only=True)
            else:
                self._check_booking_group()
                self.client.create("debtors", body, validate_only=True)
        elif entity == "orders" and isinstance(record, Order) and order_type and target_id:
            self.validate_record("orders", record, order_type)
            resource, _ = self._resource(order_type)
            body = self._order_body(record, order_type, target_id)
            self.client.create(resource, body, validate_only=True)

    # --- feedback -------------------------------------------------------------------------

    @hookimpl
    def write_feedback(self, feedback: Feedback, order_id: str | None) -> str:
        """The latest feedback on a debtor's orders, as one line in the debtor field
        feedback_field names (Asperion keeps no feedback of its own). The debtor is that of
        order `order_id` (an id of order_source's kind), else of the invoice or sales order
        numbered `order_number`, else the debtor whose customer number is `customer_key`.
        The line replaces the one there unless that is of a later day (see the README);
        the debtor is written back whole (PUT, as upsert_debtor writes it), and not at all
        where the line is already there. Returns the debtor's customer number."""
        field = self.settings.feedback_field
        if field is None:
            raise RecordInvalid(
                f"feedback {feedback.key}: Asperion keeps feedback only in the debtor field "
                "feedback_field names: set it in the connection's settings",
                key=feedback.key,
                field="feedback_field",
            )
        debtor, number = self._feedback_debtor(feedback, order_id)
        line = feedback_line(feedback, number, self.settings.feedback_max_length)
        held = debtor.get(field)
        if feedback_replaces(line, None if held is None else str(held)):
            body = feedback_debtor_body(debtor, field, line)
            debtor = self.client.replace("debtors", debtor["id"], body) or debtor
        customer_number = str(debtor["customerNumber"])
        self._debtor_ids[customer_number] = int(debtor["id"])
        return customer_number

    def _order_kinds(self) -> tuple[OrderKind, OrderKind]:
        """Invoices and sales orders, what order_source reads first."""
        settings = self.settings
        invoices = OrderKind(
            "invoice",
            INVOICES,
            settings.invoice_reference_field,
            "invoiceNumber",
            "debtorCustomerNumber",
        )
        sales = OrderKind(
            "sales order",
            settings.sales_orders_path,
            settings.order_reference_field,
            "salesOrderNumber",
            "debtorId",
        )
        return (sales, invoices) if settings.order_source == "sales_orders" else (invoices, sales)

    @staticmethod
    def _unless_missing(read: Callable[[], Any]) -> Any:
        """What `read` answers; None where Asperion answers 404 (no such item, or an
        administration without the resource)."""
        try:
            return read()
        except RemoteRejected as exc:
            if exc.status == 404:
                return None
            raise

    def _feedback_debtor(
        self, feedback: Feedback, order_id: str | None
    ) -> tuple[dict[str, Any], str | None]:
        """The debtor (as GET gives it) the feedback is kept with, and its order's number;
        RecordInvalid naming the field and what was looked up where none is found."""
        number = (feedback.order_number or "").strip()
        looked = []
        first, other = self._order_kinds()
        if order_id:
            row = self._unless_missing(lambda: self.client.get(first.resource, order_id))
            # an id of the other kind (an orders flow writing what order_source does not
            # read) names another order: its number tells
            if row is not None and (not number or number.casefold() in _numbers(first, row)):
                return self._order_debtor(feedback, first, row)
            looked.append(f"{first.noun} {order_id}" + (f" numbered {number}" if number else ""))
        if number:
            lookups = [(first, first.reference), (first, first.own), (other, other.reference)]
            for kind, name in dict.fromkeys(lookups):
                try:
                    rows = self.client.equal(kind.resource, pascal(name), number)
                except RemoteRejected as exc:
                    if exc.status != 404:
                        raise
                    rows = []  # an administration without sales orders (inBalance)
                if rows:
                    return self._order_debtor(feedback, kind, rows[0])
            filters = ", ".join(f"{k.resource} {pascal(n)}" for k, n in dict.fromkeys(lookups))
            looked.append(f"invoice or sales order numbered {number} ({filters})")
        if feedback.customer_key:
            found = self.client.equal("debtors", "CustomerNumber", feedback.customer_key)
            if found:
                return found[0], number or None
            looked.append(f"debtor with customer number {feedback.customer_key} (CustomerNumber)")
        if not looked:
            problem = "names no order number or customer key to find its debtor by"
        else:
            problem = "Asperion has no " + "; no ".join(looked)
        raise RecordInvalid(
            f"feedback {feedback.key}: {problem}",
            key=feedback.key,
            field="order_number" if number or not feedback.customer_key else "customer_key",
        )

    def _order_debtor(
        self, feedback: Feedback, kind: OrderKind, row: Mapping[str, Any]
    ) -> tuple[dict[str, Any], str | None]:
        """The debtor of an invoice (by customer number) or sales order (by id), and the
        order's number (the feedback's, else the order's own)."""
        reference = str(row.get(kind.debtor) or "").strip()
        debtor = None
        if reference and kind.debtor == "debtorId":
            debtor = self._unless_missing(lambda: self.client.get("debtors", reference))
        elif reference:
            found = self.client.equal("debtors", "CustomerNumber", reference)
            debtor = found[0] if found else None
        if debtor is None:
            raise RecordInvalid(
                f"feedback {feedback.key}: {kind.noun} {row.get('id')} names debtor "
                f"{reference or 'none'} ({kind.debtor}), which Asperion does not have",
                key=feedback.key,
                field=kind.debtor,
            )
        number = feedback.order_number or row.get(kind.reference) or row.get(kind.own)
        return debtor, None if number is None else str(number)


def _numbers(kind: OrderKind, row: Mapping[str, Any]) -> set[str]:
    """The numbers an invoice or sales order is known by (the one the connector wrote,
    Asperion's own), without case."""
    return {str(row[f]).strip().casefold() for f in (kind.reference, kind.own) if row.get(f)}


class _RunDebtors:
    """The debtors of the orders one read yields, each asked of Asperion once (found,
    missing or unreadable): by customer number (an invoice's debtorCustomerNumber, with the
    confirmed CustomerNumber filter) or by id (a sales order's debtorId: GET
    /v1/debtors/{id}, PROPOSED)."""

    def __init__(
        self,
        client: AsperionClient,
        convert: Callable[[Mapping[str, Any]], Record | RecordInvalid],
    ) -> None:
        self.client = client
        self.convert = convert
        self.known: dict[tuple[str, str], Record | RecordInvalid | None] = {}

    def by_number(self, customer_number: str) -> Record | RecordInvalid | None:
        """The debtor with this customer number as a Customer; None when there is none."""
        key = ("number", customer_number)
        if key not in self.known:
            rows = self.client.equal("debtors", "CustomerNumber", customer_number)
            self.known[key] = self.convert(rows[0]) if rows else None
        return self.known[key]

    def by_id(self, debtor_id: str) -> Record | RecordInvalid | None:
        """The debtor with this id as a Customer; None when Asperion has none (404)."""
        key = ("id", debtor_id)
        if key not in self.known:
            try:
                found: Record | RecordInvalid | None = self.convert(
                    self.client.get("debtors", debtor_id)
                )
            except RemoteRejected as exc:
                found = None
                if exc.status != 404:
                    found = RecordInvalid(
                        f"Asperion answered {exc}", key=debtor_id, field="debtorId"
                    )
            self.known[key] = found
        return self.known[key]
