# mypy: disable-error-code="empty-body"
# (a hook spec is a signature and its documentation: it has no body)
"""THE plugin contract: every hook a connector may implement (DESIGN §2).

A connector is a class with `name`, `title`, `Settings`, `capabilities` and
methods marked with `@hookimpl` (``from host import hookimpl``). The host builds
one pluggy PluginManager per configured connection and calls the hooks with
keyword arguments. Every connector hook is ``firstresult=True``: the first
implementation that returns something other than None answers.

Errors (host.errors): raise AuthError when the remote refuses the credentials,
RemoteUnavailable when it cannot be reached, TransientError / RateLimited for
failures worth retrying, RemoteRejected (with the remote's own message) when it
refuses one record, RecordInvalid when a record cannot be expressed in the
remote's terms (name the field). Never return an error as a value.

Source hooks return an iterable that streams: write them as generators that page
through the remote, never build a list of everything. Yield records ordered by
`updated_at` ascending where the remote allows it; the runner advances the
flow's cursor only past records it has finished. A record the connector cannot
convert is yielded as a RecordInvalid (see host.models.record_or_invalid), never
raised: a raised exception ends the stream, and the run with it.

Target hooks are called once per record (push_stock and create_debtors once per
batch). Writes must be safe to repeat for the same record key (see each hook).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime

import pluggy

from host.auth import OAuth2AuthorizationCode
from host.models import (
    Customer,
    Feedback,
    Order,
    Product,
    Record,
    Refund,
    Shipment,
    StockLevel,
    WebhookEvent,
)
from host.vocabulary import DebtorField, Entity, OrderType

PROJECT = "ihost"

hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)


# --- both sides -------------------------------------------------------------------------


@hookspec(firstresult=True)
def check_connection() -> None:
    """Check that the remote answers and accepts the credentials.

    Make one cheap authenticated call. Return None when it works. Raise AuthError
    or RemoteUnavailable with a message a user can act on ("the token was refused:
    check the App Connector token for environment 12345"). Never put the secret in
    the message.
    """


@hookspec(firstresult=True)
def parse_webhook(headers: Mapping[str, str], body: bytes) -> WebhookEvent | None:
    """Verify and read one webhook delivery from the remote.

    `headers` are the HTTP request headers (look them up case-insensitively),
    `body` the raw request body exactly as received: verify the signature over
    these bytes, comparing in constant time. Raise AuthError when the signature is
    missing or does not match. Return a WebhookEvent naming the entity, the keys of
    the changed records and the remote's event id (for de-duplication), or None for
    a delivery the host need not act on (a test ping, an unknown topic).
    """


@hookspec(firstresult=True)
def oauth2_flow() -> OAuth2AuthorizationCode | None:
    """The OAuth2 authorization-code flow this connection signs in with, for `ihost auth`.

    Implement it when the remote is authorized by a merchant in a browser (OAuth2
    authorization code: Lightspeed, Asperion): return the host.auth.OAuth2AuthorizationCode
    your client authenticates with, built with ``vault=context.tokens`` (take
    ``context: host.auth.ConnectorContext`` in the constructor), so that the tokens
    `ihost auth CONNECTION` obtains, and every refreshed set after them, are kept in the
    store. Leave the hook out, or return None, when the connection needs no authorization.
    Never call the remote here.
    """


# --- source side ------------------------------------------------------------------------


@hookspec(firstresult=True)
def fetch_orders(since: datetime | None, statuses: list[str] | None) -> Iterable[Order]:
    """Stream orders changed at or after `since` (all orders when None).

    `statuses` lists canonical statuses (Order.status) to read; None means all.
    Filter on the remote where its API allows (the runner filters again). Yield
    Order records with their customer, addresses, lines, shipping lines and taxes,
    ordered by `updated_at` ascending where possible. Must be a generator.
    """


@hookspec(firstresult=True)
def fetch_products(since: datetime | None) -> Iterable[Product]:
    """Stream products changed at or after `since`, variants nested in their product.

    A configurable product carries its variants in `Product.variants`; never yield
    a variant as a product of its own. Must be a generator.
    """


@hookspec(firstresult=True)
def fetch_stock(since: datetime | None) -> Iterable[StockLevel]:
    """Stream stock levels changed at or after `since`, one per SKU and location.

    Fill on_hand, reserved and, when the remote reports it, available; leave
    `quantity` to the stock flow. Must be a generator.
    """


@hookspec(firstresult=True)
def fetch_customers(since: datetime | None) -> Iterable[Customer]:
    """Stream customers (or debtors) changed at or after `since`. Must be a generator."""


@hookspec(firstresult=True)
def fetch_shipments(since: datetime | None) -> Iterable[Shipment]:
    """Stream shipments made at or after `since`, with carrier and tracking.

    Set `order_key` and/or `order_number` so the flow can find the order in the
    target. Must be a generator.
    """


@hookspec(firstresult=True)
def fetch_refunds(since: datetime | None) -> Iterable[Refund]:
    """Stream refunds made at or after `since`, each naming its order. Must be a generator."""


@hookspec(firstresult=True)
def fetch_feedback(since: datetime | None) -> Iterable[Feedback]:
    """Stream the feedback on orders that changed at or after `since` (all when None).

    One Feedback per order the customer was invited for, with the invitation's status
    and, once answered, the score and grade; `updated_at` is the last moment its status
    changed. Read back far enough that an invitation sent before `since` and answered
    after it is found (a service that files feedback under the order's date: the months
    before). Yield it again each time it moves on (sent, reminded, completed): the flow
    writes what changed. Must be a generator.
    """


@hookspec(firstresult=True)
def acknowledge_read() -> None:
    """The run has finished every record this connection's source hook yielded: each is
    written, skipped as unchanged or filtered, or dead-lettered, and all of it committed.

    Called once, after a real run that read the whole stream (never after a dry run, a
    run that stopped or was aborted, or a retry of dead letters). A source that consumes
    what it reads acknowledges it here: a file connector moves the files it claimed to
    its archive. Until then, what was read must stay where the next run finds it again
    (the bindings make the records read twice a no-op). Optional.
    """


# --- target side ------------------------------------------------------------------------


@hookspec(firstresult=True)
def validate_record(entity: Entity, record: Record, order_type: OrderType | None) -> None:
    """Refuse a record this target would refuse, before anything is written.

    `entity` is the flow's kind ("orders", "products", ...), `record` the record as it
    will be written (mapped and adapted), `order_type` the flow's order type for orders
    (else None). Raise RecordInvalid naming the record and the field for what the
    connector can tell without calling the remote: a required value missing, a value
    too long or out of range for the remote's field. Called in real and dry runs alike,
    so a dry run fails what the real run would. Optional; never call the remote here.
    """


@hookspec(firstresult=True)
def preview_write(
    entity: Entity, record: Record, order_type: OrderType | None, target_id: str | None
) -> None:
    """On a dry run, ask the remote whether it would take this write, keeping nothing.

    Implement it only where the remote has a validate-only mode (Asperion's
    ``validateOnly=true``). A dry run calls it in place of create_order (`entity`
    "orders", `target_id` the debtor id, None when the debtor would be new in this run)
    and upsert_debtor ("customers", `target_id` the existing debtor's id, None when it
    would be created). Send what the write would send with the remote's validate-only
    switch; raise RemoteRejected with the remote's own words, as the write would, or
    RecordInvalid; return None. Skip quietly what cannot be checked without an earlier
    write (an order for a debtor that does not exist yet). Never write.
    """


@hookspec(firstresult=True)
def find_order(order: Order, order_type: OrderType) -> str | None:
    """Return the target id of this order if the target already has it as `order_type`,
    else None.

    Look it up by what create_order writes into the remote record (the source
    key or order number in a reference field; for a journal entry, its reference or
    invoice number). This is how a repeated run, a run after a crash between the
    remote write and the host's commit, or a retry after the remote's answer to
    create_order was lost avoids a second copy. Every order type the connector
    offers must be findable; say so in its README where the remote makes one
    impossible.
    """


@hookspec(firstresult=True)
def create_order(order: Order, order_type: OrderType, debtor_id: str | None) -> str:
    """Create the order in the target as `order_type` for debtor `debtor_id`; return its id.

    `order_type` is one of capabilities.order_types. `debtor_id` comes from
    find_debtor / upsert_debtor or the flow's default debtor; None when the target
    keeps no debtors. Put the source key or number into the remote record so that
    find_order finds it; where the remote has an idempotency key, use it. Raise
    RemoteRejected with the remote's message when it refuses the order.
    """


@hookspec(firstresult=True)
def find_debtor(customer: Customer, match_on: DebtorField) -> str | None:
    """Return the id of the target's debtor matching `customer`, else None.

    `match_on` names the customer field to match (host.vocabulary.DebtorField): "email"
    (the default, case-insensitive), "phone", "vat_number" or "key" (the customer's key
    is the debtor's number). It is always one of capabilities.debtor_match: declare there
    every field this hook can match on, and no other (the config is checked against it).
    Raise RecordInvalid when the customer has no value for that field.
    """


@hookspec(firstresult=True)
def upsert_debtor(customer: Customer, existing_id: str | None) -> str:
    """Create the debtor (existing_id None) or update debtor `existing_id`; return its id.

    A customer with a company name becomes a company debtor with the person as
    its contact; without one, a person debtor. Write the billing and shipping
    addresses.
    """


@hookspec(firstresult=True)
def create_debtors(customers: list[Customer]) -> list[str]:
    """Create every customer as a new debtor in one call; return their ids in the same order.

    Implement it where the remote has a batch endpoint, and declare the most customers one
    call takes in capabilities.debtor_batch (more than 1). Each customer becomes a debtor
    as upsert_debtor creates one: a company debtor with the person as its contact, or a
    person debtor; both addresses. The customers flow calls it with at most debtor_batch
    customers that have no binding and that find_debtor did not find (the orders flow
    writes its debtors one at a time). All or nothing: when the remote refuses a customer
    or the call fails, raise for the whole batch (RemoteRejected with the remote's words,
    RecordInvalid, TransientError, ...), never return a shorter list. The flow then writes
    that batch's customers one at a time, find_debtor first: find_debtor must find every
    debtor the failed call did create (a connector that keeps an index of debtors
    refreshes it after a failed batch).
    """


@hookspec(firstresult=True)
def find_products(skus: list[str]) -> dict[str, str]:
    """Return {sku: target id} for the SKUs the target has; leave missing SKUs out.

    Match SKUs exactly (a remote search that also returns near matches must be
    filtered). A variant SKU maps to the variant's id.
    """


@hookspec(firstresult=True)
def upsert_product(product: Product, existing_id: str | None, update_info: bool) -> str:
    """Create the product (existing_id None) or update `existing_id`; return its id.

    With update_info False an existing product keeps its descriptive data (name,
    descriptions, attributes, characteristics, categories, images); only
    commercial data (price, EAN, active, stock settings) is updated. The runner
    has already adapted the product to the capabilities (variants, images,
    categories).
    """


@hookspec(firstresult=True)
def push_stock(levels: list[StockLevel]) -> None:
    """Set the stock of each level's SKU to `level.quantity`; `managed` says whether to track.

    At most capabilities.stock_batch levels a call. Setting an absolute quantity
    is idempotent; raise RemoteRejected naming the SKU when the remote refuses one.
    """


@hookspec(firstresult=True)
def create_shipment(shipment: Shipment, order_id: str | None) -> str:
    """Create the shipment (carrier, tracking number and URL) for target order `order_id`.

    The runner finds `order_id` through the bindings of the orders flow; when no binding
    is known it passes None, and the connector looks the order up by
    `shipment.order_number` (raise RecordInvalid naming order_number when it cannot).
    Return the target id. Safe to repeat: a second call for the same shipment key
    returns the existing shipment instead of creating another.
    """


@hookspec(firstresult=True)
def create_refund(refund: Refund, order_id: str | None) -> str:
    """Create the refund (or credit note) for target order `order_id`; return its id.

    `order_id` None: look the order up by `refund.order_number`, as for shipments.
    Safe to repeat: a second call for the same refund key returns the existing one.
    """


@hookspec(firstresult=True)
def write_feedback(feedback: Feedback, order_id: str | None) -> str:
    """Keep the feedback with target order `order_id`; return the id of what keeps it.

    The runner finds `order_id` through the bindings of an orders flow between the two
    connections (either way); None when none is known: look the order up by
    `feedback.order_number`, or keep the feedback with the customer named by
    `feedback.customer_key`, as the connector's README says (raise RecordInvalid naming
    the field when neither can be found). The same feedback comes again as it moves on
    (sent, then completed with a score): replace what was kept for `feedback.key`, never
    add a second copy.
    """


#: Names of every connector hook, in the order above: the functions marked @hookspec.
HOOKS: tuple[str, ...] = tuple(
    name for name, value in list(globals().items()) if hasattr(value, f"{PROJECT}_spec")
)
