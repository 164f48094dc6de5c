"""A Lightspeed Retail (R-Series, API V3) emulator on 127.0.0.1 (shared/api/lightspeed.md).

One server answers the OAuth2 endpoints (host.sandbox_oauth, LIGHTSPEED profile) and the API
under ``/API/V3``. Facts come from the research notes (§ numbers below); what the notes do not
settle and the sandbox decides is marked PROPOSED.

OAuth2 (§1), at the paths of cloud.lightspeedapp.com:

- ``GET /auth/oauth/authorize`` (allows at once; codes valid 60 s, once; PKCE S256 optional),
  ``POST /auth/oauth/token`` (form or JSON body; grant_type authorization_code or
  refresh_token; answer ``{token_type, expires_in, access_token, refresh_token}``),
  ``POST /auth/oauth/revoke`` (``token``: either token of a pair ends both; 200).
- Refresh tokens rotate on every refresh: the old access token ends at once, the old refresh
  token when the new access token is first used (the 2026-01-15 retry grace); replayed
  after that: 400 ``invalid_grant``. At most 5 refreshes a minute (429). A refresh token
  unused for 30 days: 400 invalid_grant "Token has expired".
- The access token is a JWT signed HS256 with `jwt_secret` (the real one is RS256 with
  keys at /.well-known/jwks, not emulated). Claims: iss (the sandbox's base URL), aud
  (client id), sub ("1", the employee), acct (the account id, a string: UNCONFIRMED whether
  Lightspeed sends a string or a number), scope, jti, iat/nbf/exp (epoch seconds from
  `clock`). Validity is decided by the server's own `monotonic` clock, not by exp.
- A bad, expired or revoked token on an API route: 401 ``{error, error_description, hint}``.
  Scopes are recorded but not enforced (403 for a missing scope is not emulated).

API (§3-§7). Every path is under ``/API/V3``; every answer under ``/API/`` carries the
bucket headers (below), ``X-LS-Acct-Id`` and ``X-LS-Oauth-Client-Id``.

- ``GET /API/V3/Account.json``: ``{"@attributes":{"count":"1"},"Account":{"accountID",
  "name","link":{"@attributes":{"href":"/API/V3/Account/{id}"}}}}``.
- ``GET /API/V3/Account/{accountID}/{X}.json`` (list) and ``.../{X}/{id}.json`` (single:
  ``{"@attributes":{"count":"1"},"X":{...}}``; unknown id 404) for X in Item, ItemMatrix,
  ItemAttributeSet, Category, ItemShop, Sale, SaleLine, SalePayment, Customer, Shop. An
  accountID other than the token's acct: 403.
- ``PUT /API/V3/Account/{accountID}/Item/{id}.json`` with
  ``{"ItemShops":{"ItemShop":[{"itemShopID":..,"qoh":..}, ...]}}`` (ItemShop a bare object
  also taken; each entry names its row by itemShopID or shopID; qoh, reorderPoint,
  reorderLevel may be set): PROPOSED after the skuvault client (§8,
  UpdateOnHandQuantityRequest, which sends XML); the live docs say stock moves through sales,
  orders and counts. It sets the rows, recomputes the shopID "0" summary row, bumps the
  changed rows' and the summary's timeStamp, leaves Item.timeStamp alone (§4), and answers
  the Item with its ItemShops. Other body fields: 400 (not emulated).
- Any other method on those paths: 405; any other path: 404; both with the legacy body and
  "not emulated by the ihost sandbox". Only the ``.json`` format is emulated.

List parameters (§3):

- ``limit`` 0..100 (default 100; else 400). ``after``/``before``: opaque cursors, base64 of
  the JSON list of the sort key of the last/first row shown (``[100]`` under the default
  sort; ``["<value>",id]`` under another). ``@attributes.next``/``previous`` are full URLs
  that repeat every original parameter (and add the default ``sort`` and ``limit``), or
  ``""`` when there is no page that way (previous is "" on the first page). A list with no
  hit returns only ``@attributes`` (UNCONFIRMED in the docs, §7).
- ``sort=field`` or ``-field``, per endpoint: Item itemID/timeStamp/description, ItemShop
  itemShopID/timeStamp, Sale saleID/timeStamp/completeTime/updatetime, Category
  categoryID/timeStamp/leftNode/rightNode, SalePayment salePaymentID/timeStamp/saleID
  (documented); ItemMatrix, ItemAttributeSet, SaleLine, Customer, Shop: their id and
  timeStamp (PROPOSED). Default: the id, ascending; ties by id. Else 400 listing the allowed.
- Filters ``field=<op>,<value>`` on every scalar field of the entity, ops ``=`` (default),
  ``>``, ``>=``, ``<``, ``<=``, ``!=``, ``><`` (between, inclusive: ``><,1,10``), ``~`` and
  ``!~`` (like / not like, ``%`` wildcard, case-insensitive), ``IN,[1,2,3]`` (at most 100).
  Time fields (timeStamp, createTime, completeTime, updatetime) compare as instants; the
  offset is optional (UTC) and written +00:00 or +0000; an unparseable time (a ``+`` sent
  unencoded arrives as a space) is a 400. Numbers compare as numbers. A field the entity
  lacks: 400 naming it. Dot filters on a loaded relation, one level (``ItemShops.qoh=>,1``):
  a row matches when one related row does. ``or=a=~,x|b=y`` (operands ANDed with the rest).
- ``archived=false`` (default: unarchived only), ``true`` (both), ``only``; on the entities
  with an ``archived`` field (Item, ItemMatrix, Customer, Sale, SalePayment, Shop,
  ItemAttributeSet).
- ``load_relations=["A","B.C"]`` (a JSON array; or ``all``: every top-level relation),
  emulated: Item ItemShops/Category/ItemAttributes; ItemMatrix Items/Category/
  ItemAttributeSet; Category Parent; Sale SaleLines/SalePayments/Customer, SaleLines.Item,
  SalePayments.PaymentType, Customer.Contact; SaleLine Item; SalePayment PaymentType;
  Customer Contact. Another: 400. ``B.C`` loads B too.
- ``count=1``: only ``{"@attributes":{"count":"N"}}``; with limit/sort/after/before: 400.

Costs and the leaky bucket (§2), one bucket per (account, client): size 90 + 10 and drip
1 + 0.5 per register beyond the first. Costs: 1 per request; ``count=1`` 10; load_relations
+0.1 per to-one and +0.2 per to-many relation, doubled on list queries and again under a
to-many parent (each node of the tree counts, an implied parent too); ``or``: 0 when every
operand names one field, else +1 per operand, +10 per entity when the operands span
entities; Item PUT 1 + 0.5 per ItemShop in the body. Every request with a valid token is
charged, refused ones included (PROPOSED); a 429 is not charged. The first request that
takes the level over the size passes; while the level is over it, 429 with
``X-LS-API-RateLimit-Type: api-leaky-bucket`` and ``Retry-After`` (whole seconds until the
level is back at the size). The burst limiter (PROPOSED numbers: the notes give "1/20" as
an example): a fixed 1-second window admits ceil(size * burst_fraction) requests; more: 429
``api-burst-limiter``, Retry-After 1. Headers on every answer: ``X-LS-Api-Bucket-Level``
("level/size", level with up to 2 decimals), ``X-LS-API-Burst-Level`` ("n/limit"; absent
with the limiter off), ``X-LS-Api-Drip-Rate``, ``X-LS-Api-Request-Cost``. The 429 body is
the legacy shape (UNCONFIRMED, §2). `rate_limit=False` keeps the accounting and headers but
never answers 429. `charged` sums the drips charged, `throttled` counts the 429s.

Serialization (§7): every scalar is a string (booleans "true"/"false"; absent foreign keys
"0"; times ``YYYY-MM-DDTHH:MM:SS+00:00``); a container holding one element is the bare
element (top-level lists, ``ItemShops.ItemShop``, ``SaleLines.SaleLine``, ``Items.Item``,
``Prices.ItemPrice``, ``Emails.ContactEmail``, ...), an empty one is ``""``;
``attributeNValues`` is "" (none), a string (one) or a list. ItemShop rows: one per (item,
shop) plus the shopID "0" summary (sums; ``averageCost`` only there); ``sellable`` = qoh
floored at 0; reservations are emitted as ``onWorkorder`` (the sample's casing, §5).

Errors: the legacy body ``{"httpCode","httpMessage","message","errorClass":"Exception"}``.

Seeding (test-only): `seed(kind, records)` and ``POST /_sandbox/seed/{kind}`` take the
native shape (a container as a list, a bare object or ""), all or none; an unknown kind
lists the known ones, an unknown field is named; a record with a taken id replaces that
record. Kinds: items (Prices, ItemAttributes for variants, ItemShops inline: rows for the
shops not given get qoh "0"; a shopID "0" row given is recomputed), itemmatrices
(attributeNValues a string, list or ""), itemattributesets (name one of Lightspeed's four),
categories (nodeDepth, fullPathName, leftNode, rightNode recomputed: a nested set by id),
shops, customers (Contact inline), sales (SaleLines and SalePayments inline; the calc*
totals filled in when not given; seeding does not move stock), itemshops (sets rows of
items the sandbox holds). Filled in as Lightspeed does: ids, createTime and timeStamp (now),
systemSku ("21" + the id in 10 digits), ticketNumber ("22" + 10 digits), the summary row,
a variant's description and its matrix's attributeNValues. Foreign keys must name records
seeded before (or "0"). Built in (PROPOSED ids): shop 1, the four ItemAttributeSets 1-4,
PaymentTypes 1-7. `dump(kind)` gives the same shape with containers as lists.

Clocks: `clock` (an aware datetime, the sandbox's "now" for timeStamps and JWT times) and
`monotonic` (seconds; the bucket, burst windows, code and token lifetimes). Tests move
them; nothing sleeps.
"""

from __future__ import annotations

import base64
import copy
import hashlib
import hmac
import json
import math
import re
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from decimal import Decimal, InvalidOperation
from typing import Any
from urllib.parse import quote, urlencode

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from host.sandbox import NOT_EMULATED, Sandbox
from host.sandbox_oauth import LIGHTSPEED, OAuth2Server

API = "/API/V3"
MAX_LIMIT = 100
MAX_IN = 100
BASE_SIZE, SIZE_PER_REGISTER = 90, 10
BASE_DRIP, DRIP_PER_REGISTER = 1.0, 0.5
COUNT_COST = Decimal(10)
NESTED_WRITE_COST = Decimal("0.5")
TIME_FIELDS = frozenset({"timeStamp", "createTime", "completeTime", "updatetime"})
HTTP_MESSAGES = {
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    429: "Too Many Requests",
}
RESERVED = frozenset(
    {"limit", "after", "before", "sort", "load_relations", "archived", "count", "or"}
)
OPERATORS = ("=", ">", ">=", "<", "<=", "!=", "><", "~", "!~", "IN")

ITEMS, ITEMMATRICES, ITEMATTRIBUTESETS = "items", "itemmatrices", "itemattributesets"
CATEGORIES, SHOPS, CUSTOMERS, SALES, ITEMSHOPS = (
    "categories",
    "shops",
    "customers",
    "sales",
    "itemshops",
)
KINDS = (ITEMS, ITEMMATRICES, ITEMATTRIBUTESETS, CATEGORIES, SHOPS, CUSTOMERS, SALES, ITEMSHOPS)
ATTRIBUTE_SET_NAMES = ("Color/Size", "Size", "Color", "3 Attributes")
PRICE_TYPES = {"1": "Default", "2": "MSRP", "3": "Online"}


@dataclass(frozen=True)
class Relation:
    """A relation load_relations can load: `how` is ("child", entity, fk) (rows of entity
    whose fk is this record's id), ("parent", entity, fk) (the row this fk names), or
    ("inline", field, "") (a nested object the record keeps)."""

    name: str
    target: str
    many: bool
    how: tuple[str, str, str]
    element: str = ""  # the container's element key, for a to-many relation


@dataclass(frozen=True)
class Entity:
    name: str
    key: str
    defaults: dict[str, str]  # the scalar fields, in answer order, with Lightspeed's default
    sorts: tuple[str, ...]
    relations: tuple[Relation, ...] = ()
    nested: tuple[str, ...] = ()  # non-scalar fields a seed record may give
    hidden: tuple[str, ...] = ()  # inline relations: kept, answered only when loaded

    def relation(self, name: str) -> Relation | None:
        return next((r for r in self.relations if r.name == name), None)


def _fields(text: str, **defaults: str) -> dict[str, str]:
    """Fields named in `text` (space-separated) defaulting to "", then `defaults`'."""
    found = dict.fromkeys(text.split(), "")
    found.update(defaults)
    return found


ENTITIES: dict[str, Entity] = {
    e.name: e
    for e in (
        Entity(
            "Item",
            "itemID",
            _fields(
                "itemID systemSku defaultCost avgCost discountable tax archived itemType "
                "serialized description modelYear upc ean customSku manufacturerSku "
                "createTime timeStamp publishToEcom categoryID taxClassID departmentID "
                "itemMatrixID manufacturerID seasonID defaultVendorID",
                defaultCost="0",
                avgCost="0",
                discountable="true",
                tax="true",
                archived="false",
                itemType="default",
                serialized="false",
                modelYear="0",
                publishToEcom="false",
                categoryID="0",
                taxClassID="1",
                departmentID="0",
                itemMatrixID="0",
                manufacturerID="0",
                seasonID="0",
                defaultVendorID="0",
            ),
            ("itemID", "timeStamp", "description"),
            (
                Relation(
                    "ItemShops", "ItemShop", True, ("child", "ItemShop", "itemID"), "ItemShop"
                ),
                Relation("Category", "Category", False, ("parent", "Category", "categoryID")),
                Relation("ItemAttributes", "", False, ("inline", "ItemAttributes", "")),
            ),
            ("Prices", "ItemShops", "ItemAttributes"),
            ("ItemAttributes",),
        ),
        Entity(
            "ItemMatrix",
            "itemMatrixID",
            _fields(
                "itemMatrixID description tax defaultCost itemType modelYear archived "
                "timeStamp itemAttributeSetID manufacturerID categoryID defaultVendorID "
                "taxClassID seasonID departmentID createTime",
                tax="true",
                defaultCost="0",
                itemType="default",
                modelYear="0",
                archived="false",
                itemAttributeSetID="0",
                manufacturerID="0",
                categoryID="0",
                defaultVendorID="0",
                taxClassID="1",
                seasonID="0",
                departmentID="0",
            ),
            ("itemMatrixID", "timeStamp"),
            (
                Relation("Items", "Item", True, ("child", "Item", "itemMatrixID"), "Item"),
                Relation("Category", "Category", False, ("parent", "Category", "categoryID")),
                Relation(
                    "ItemAttributeSet",
                    "ItemAttributeSet",
                    False,
                    ("parent", "ItemAttributeSet", "itemAttributeSetID"),
                ),
            ),
            ("Prices", "attribute1Values", "attribute2Values", "attribute3Values"),
        ),
        Entity(
            "ItemAttributeSet",
            "itemAttributeSetID",
            _fields(
                "itemAttributeSetID name attributeName1 attributeName2 attributeName3 "
                "system archived",
                system="true",
                archived="false",
            ),
            ("itemAttributeSetID",),
        ),
        Entity(
            "Category",
            "categoryID",
            _fields(
                "categoryID name nodeDepth fullPathName leftNode rightNode parentID "
                "createTime timeStamp",
                parentID="0",
            ),
            ("categoryID", "timeStamp", "leftNode", "rightNode"),
            (Relation("Parent", "Category", False, ("parent", "Category", "parentID")),),
        ),
        Entity(
            "ItemShop",
            "itemShopID",
            _fields(
                "itemShopID qoh sellable backorder componentQoh componentBackorder "
                "reorderPoint reorderLevel timeStamp itemID shopID onLayaway onSpecialOrder "
                "onWorkorder onTransferOut onTransferIn",
                qoh="0",
                sellable="0",
                backorder="0",
                componentQoh="0",
                componentBackorder="0",
                reorderPoint="0",
                reorderLevel="0",
                onLayaway="0",
                onSpecialOrder="0",
                onWorkorder="0",
                onTransferOut="0",
                onTransferIn="0",
            ),
            ("itemShopID", "timeStamp"),
        ),
        Entity(
            "Shop",
            "shopID",
            _fields(
                "shopID name serviceRate timeZone taxLabor labelTitle labelMsrp archived "
                "timeStamp companyRegistrationNumber vatNumber contactID taxCategoryID "
                "receiptSetupID ccGatewayID priceLevelID",
                serviceRate="0",
                timeZone="Europe/Amsterdam",
                taxLabor="false",
                labelTitle="Shop Name",
                labelMsrp="false",
                archived="false",
                contactID="0",
                taxCategoryID="0",
                receiptSetupID="0",
                ccGatewayID="0",
                priceLevelID="1",
            ),
            ("shopID", "timeStamp"),
        ),
        Entity(
            "Customer",
            "customerID",
            _fields(
                "customerID firstName lastName title company companyRegistrationNumber "
                "vatNumber createTime timeStamp archived contactID creditAccountID "
                "customerTypeID discountID taxCategoryID",
                archived="false",
                creditAccountID="0",
                customerTypeID="0",
                discountID="0",
                taxCategoryID="0",
            ),
            ("customerID", "timeStamp"),
            (Relation("Contact", "", False, ("inline", "Contact", "")),),
            ("Contact",),
            ("Contact",),
        ),
        Entity(
            "Sale",
            "saleID",
            _fields(
                "saleID timeStamp discountPercent completed archived voided enablePromotions "
                "isTaxInclusive createTime updatetime completeTime referenceNumber "
                "referenceNumberSource tax1Rate tax2Rate change receiptPreference "
                "displayableSubtotal ticketNumber calcDiscount calcTotal calcSubtotal "
                "calcTaxable calcNonTaxable calcAvgCost calcFIFOCost calcTax1 calcTax2 "
                "calcPayments calcTips total totalDue displayableTotal balance customerID "
                "discountID employeeID quoteID registerID shipToID shopID taxCategoryID "
                "taxTotal",
                discountPercent="0",
                completed="false",
                archived="false",
                voided="false",
                enablePromotions="true",
                isTaxInclusive="false",
                tax1Rate="0",
                tax2Rate="0",
                change="0",
                receiptPreference="printed",
                calcAvgCost="0",
                calcFIFOCost="0",
                customerID="0",
                discountID="0",
                employeeID="1",
                quoteID="0",
                registerID="1",
                shipToID="0",
                shopID="1",
                taxCategoryID="0",
            ),
            ("saleID", "timeStamp", "completeTime", "updatetime"),
            (
                Relation(
                    "SaleLines", "SaleLine", True, ("child", "SaleLine", "saleID"), "SaleLine"
                ),
                Relation(
                    "SalePayments",
                    "SalePayment",
                    True,
                    ("child", "SalePayment", "saleID"),
                    "SalePayment",
                ),
                Relation("Customer", "Customer", False, ("parent", "Customer", "customerID")),
            ),
            ("SaleLines", "SalePayments"),
        ),
        Entity(
            "SaleLine",
            "saleLineID",
            _fields(
                "saleLineID createTime timeStamp unitQuantity unitPrice normalUnitPrice "
                "discountAmount discountPercent avgCost fifoCost tax tax1Rate tax2Rate "
                "isLayaway isWorkorder isSpecialOrder displayableSubtotal "
                "displayableUnitPrice lineType calcLineDiscount calcTransactionDiscount "
                "calcTotal calcSubtotal calcTax1 calcTax2 taxClassID customerID discountID "
                "employeeID itemID noteID parentSaleLineID shopID taxCategoryID saleID "
                "itemFeeID",
                unitQuantity="1",
                unitPrice="0",
                discountAmount="0",
                discountPercent="0",
                avgCost="0",
                fifoCost="0",
                tax="true",
                isLayaway="false",
                isWorkorder="false",
                isSpecialOrder="false",
                calcTransactionDiscount="0",
                taxClassID="1",
                discountID="0",
                itemID="0",
                noteID="0",
                parentSaleLineID="0",
                itemFeeID="0",
            ),
            ("saleLineID", "timeStamp"),
            (Relation("Item", "Item", False, ("parent", "Item", "itemID")),),
        ),
        Entity(
            "SalePayment",
            "salePaymentID",
            _fields(
                "salePaymentID amount tipAmount createTime archived remoteReference saleID "
                "paymentTypeID ccChargeID refPaymentID registerID employeeID creditAccountID "
                "timeStamp",
                amount="0",
                tipAmount="0",
                archived="false",
                paymentTypeID="1",
                ccChargeID="0",
                refPaymentID="0",
                creditAccountID="0",
            ),
            ("salePaymentID", "timeStamp", "saleID"),
            (
                Relation(
                    "PaymentType", "PaymentType", False, ("parent", "PaymentType", "paymentTypeID")
                ),
            ),
        ),
        Entity(
            "PaymentType",
            "paymentTypeID",
            _fields(
                "paymentTypeID code name requireCustomer archived internalReserved type "
                "refundAsPaymentTypeID",
                requireCustomer="false",
                archived="false",
                internalReserved="false",
                refundAsPaymentTypeID="0",
            ),
            ("paymentTypeID",),
        ),
    )
}
#: the entities served under /API/V3/Account/{id}/ (PaymentType only as a relation)
SERVED = (
    "Item",
    "ItemMatrix",
    "ItemAttributeSet",
    "Category",
    "ItemShop",
    "Sale",
    "SaleLine",
    "SalePayment",
    "Customer",
    "Shop",
)
KIND_ENTITY = {
    ITEMS: "Item",
    ITEMMATRICES: "ItemMatrix",
    ITEMATTRIBUTESETS: "ItemAttributeSet",
    CATEGORIES: "Category",
    SHOPS: "Shop",
    CUSTOMERS: "Customer",
    SALES: "Sale",
    ITEMSHOPS: "ItemShop",
}
ITEMSHOP_SEEDABLE = frozenset(
    {
        "itemShopID",
        "itemID",
        "shopID",
        "qoh",
        "backorder",
        "componentQoh",
        "componentBackorder",
        "reorderPoint",
        "reorderLevel",
        "onLayaway",
        "onSpecialOrder",
        "onWorkorder",
        "onWorkOrder",
        "onTransferOut",
        "onTransferIn",
        "timeStamp",
        "sellable",
        "averageCost",
    }
)
SUMMED = (
    "qoh",
    "sellable",
    "backorder",
    "componentQoh",
    "componentBackorder",
    "onLayaway",
    "onSpecialOrder",
    "onWorkorder",
    "onTransferOut",
    "onTransferIn",
)
CONTACT_CONTAINERS = {
    "Addresses": "ContactAddress",
    "Phones": "ContactPhone",
    "Emails": "ContactEmail",
    "Websites": "ContactWebsite",
}
CONTACT_SCALARS = ("contactID", "custom", "noEmail", "noPhone", "noMail", "timeStamp")
PAYMENT_TYPES = (
    ("1", "Cash", "cash"),
    ("2", "Check", "user defined"),
    ("3", "Credit Card", "credit card"),
    ("4", "Credit Account", "credit account"),
    ("5", "Gift Card", "gift card"),
    ("6", "Debit Card", "user defined"),
    ("7", "ECom", "ecom"),
)


class Refusal(Exception):
    """An answer in the legacy error shape."""

    def __init__(self, status: int, message: str, headers: dict[str, str] | None = None):
        super().__init__(message)
        self.status, self.message, self.headers = status, message, headers or {}

    def body(self) -> dict[str, str]:
        return legacy_error(self.status, self.message)


def legacy_error(status: int, message: str) -> dict[str, str]:
    """The legacy REST error body (§7)."""
    return {
        "httpCode": str(status),
        "httpMessage": HTTP_MESSAGES.get(status, "Error"),
        "message": message,
        "errorClass": "Exception",
    }


# --- values ---------------------------------------------------------------------------------


def _text(value: Any, where: str) -> str:
    """A seeded scalar as Lightspeed's string."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value
    if value is None:
        return ""
    if isinstance(value, int):
        return str(value)
    if isinstance(value, (float, Decimal)):
        return _num(Decimal(str(value)))
    raise TypeError(f"{where}: a {type(value).__name__} where a scalar belongs")


def _num(value: Decimal) -> str:
    """A computed number: at most 5 decimals, no trailing zeros."""
    text = format(value.quantize(Decimal("0.00001")), "f")
    text = text.rstrip("0").rstrip(".") if "." in text else text
    return "0" if text in ("-0", "") else text


def _dec(value: str) -> Decimal:
    try:
        return Decimal(value or "0")
    except InvalidOperation:
        return Decimal(0)


def _stamp(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S+00:00")


_TIME = re.compile(
    r"^(\d{4}-\d{2}-\d{2})(?:[T ](\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?))?"
    r"(Z|[+-]\d{2}:?\d{2})?$"
)


def parse_time(text: str) -> datetime | None:
    """An instant in the forms Lightspeed takes (offset optional, +00:00 or +0000); None."""
    found = _TIME.match(text.strip())
    if found is None:
        return None
    day, clock, offset = found.groups()
    zone = "+00:00"
    if offset and offset != "Z":
        zone = offset if ":" in offset else f"{offset[:3]}:{offset[3:]}"
    try:
        moment = datetime.fromisoformat(f"{day}T{clock or '00:00:00'}{zone}")
    except ValueError:
        return None
    return moment.astimezone(timezone.utc)


def _many(value: Any, element: str, where: str) -> list[dict[str, Any]]:
    """The rows of a native container: {element: [..]}, {element: {..}}, a list, "" or None."""
    if value is None or value == "":
        return []
    if isinstance(value, dict) and set(value) == {element}:
        value = value[element]
    if isinstance(value, dict):
        value = [value]
    if value == "":
        return []
    if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
        raise TypeError(f"{where}: expected {{{element!r}: [objects]}}")
    return [dict(v) for v in value]


def collapse(value: Any) -> Any:
    """Lightspeed's serialization of a container: {"X": []} -> "", {"X": [one]} -> {"X": one};
    attributeNValues [] -> "", [one] -> "one"."""
    if isinstance(value, list):
        return [collapse(v) for v in value]
    if not isinstance(value, dict):
        return value
    out: dict[str, Any] = {}
    for key, item in value.items():
        if re.fullmatch(r"attribute\dValues", key) and isinstance(item, list):
            out[key] = "" if not item else item[0] if len(item) == 1 else list(item)
        else:
            out[key] = collapse(item)
    if len(out) == 1:
        ((key, item),) = out.items()
        if isinstance(value[key], list) and not key.startswith("attribute"):
            return "" if not item else {key: item[0]} if len(item) == 1 else {key: item}
    return out


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode("ascii").rstrip("=")


# --- the query ------------------------------------------------------------------------------


@dataclass
class Condition:
    field: str  # "qoh", or "ItemShops.qoh"
    op: str
    values: list[str]


@dataclass
class Query:
    entity: Entity
    single: str | None
    limit: int
    sort: str
    descending: bool
    after: list[Any] | None
    before: list[Any] | None
    archived: str
    relations: dict[str, Any]  # a tree: {"SalePayments": {"PaymentType": {}}}
    conditions: list[Condition]
    alternatives: list[Condition]
    count: bool
    cost: Decimal


class LightspeedSandbox(Sandbox):
    """The emulated Lightspeed Retail R-Series API V3 and its OAuth2 server (see the module)."""

    name = "lightspeed"

    def __init__(
        self,
        *,
        client_id: str = "ihost-lightspeed-sandbox",
        client_secret: str = "lightspeed-sandbox-secret",
        account_id: int = 12345,
        account_name: str = "ihost Sandbox Retail",
        registers: int = 1,
        rate_limit: bool = True,
        burst_fraction: float | None = 1 / 20,
        access_ttl: float = 3600.0,
        redirect_uri: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if registers < 1:
            raise ValueError("registers: at least 1")
        self.client_id, self.client_secret = client_id, client_secret
        self.account_id, self.account_name = account_id, account_name
        self.registers = registers
        self.bucket_size = float(BASE_SIZE + SIZE_PER_REGISTER * (registers - 1))
        self.drip_rate = BASE_DRIP + DRIP_PER_REGISTER * (registers - 1)
        self.rate_limit = rate_limit
        self.burst_fraction = burst_fraction
        #: the sandbox's "now" for timeStamps and JWT times (an aware datetime)
        self.clock: Callable[[], datetime] = lambda: datetime.now(timezone.utc)
        #: seconds, for the bucket and the OAuth2 code and token lifetimes
        self.monotonic: Callable[[], float] = time.monotonic
        #: the HS256 key of the access tokens
        self.jwt_secret = secrets.token_bytes(32)
        self.oauth = OAuth2Server(
            LIGHTSPEED,
            client_id=client_id,
            client_secret=client_secret,
            redirect_uri=redirect_uri,
            access_ttl=access_ttl,
            clock=lambda: self.monotonic(),
            mint_access=self._mint,
        )
        #: drips charged so far, and 429s answered
        self.charged = 0.0
        self.throttled = 0
        self.level = 0.0
        self._since: float | None = None
        self._window = -1
        self._window_count = 0
        self.tables: dict[str, dict[int, dict[str, Any]]] = {name: {} for name in ENTITIES}
        with self.lock:
            self.seed(SHOPS, [{"shopID": 1, "name": "ihost Sandbox Shop"}])
            self.seed(
                ITEMATTRIBUTESETS,
                [
                    {"itemAttributeSetID": 1, "name": "Color/Size"},
                    {"itemAttributeSetID": 2, "name": "Size"},
                    {"itemAttributeSetID": 3, "name": "Color"},
                    {"itemAttributeSetID": 4, "name": "3 Attributes"},
                ],
            )
            for number, label, kind in PAYMENT_TYPES:
                self.tables["PaymentType"][int(number)] = {
                    **ENTITIES["PaymentType"].defaults,
                    "paymentTypeID": number,
                    "code": label,
                    "name": label,
                    "type": kind,
                    "internalReserved": "false" if kind == "user defined" else "true",
                }

    @property
    def burst_limit(self) -> int | None:
        if self.burst_fraction is None:
            return None
        return max(1, math.ceil(self.bucket_size * self.burst_fraction))

    # --- Sandbox API ----------------------------------------------------------------------

    def connection_settings(self) -> dict[str, Any]:
        return {
            "base_url": self.base_url,
            "authorize_url": self.base_url + LIGHTSPEED.authorize_path,
            "token_url": self.base_url + LIGHTSPEED.token_path,
            "client_id": self.client_id,
            "client_secret": self.client_secret,
            "account_id": self.account_id,
        }

    def routes(self) -> list[BaseRoute]:
        methods = ["GET", "POST", "PUT", "PATCH", "DELETE"]
        return [*self.oauth.routes(), Route("/API/{path:path}", self._api, methods=methods)]

    def stop(self) -> None:
        self.oauth.release_token_answers()
        super().stop()

    def seed(self, kind: str, records: list[dict[str, Any]]) -> None:
        """Load records of `kind` in Lightspeed's native shape (see the module); all or none;
        ValueError/TypeError name the kind, the record and the field refused."""
        if kind not in KINDS:
            raise ValueError(f"unknown kind {kind!r}: the sandbox knows {', '.join(KINDS)}")
        with self.lock:
            before = copy.deepcopy(self.tables)
            try:
                for index, record in enumerate(records):
                    if not isinstance(record, dict):
                        raise TypeError(f"{kind}[{index}]: a record is a JSON object")
                    self._seed_one(kind, f"{kind}[{index}]", dict(record))
                if kind == CATEGORIES:
                    self._nest_categories()
            except (ValueError, TypeError, KeyError):
                self.tables = before
                raise

    def dump(self, kind: str) -> list[dict[str, Any]]:
        """The records of `kind` in the native shape, containers as lists: items with
        ItemShops (the summary row too) and ItemAttributes, customers with Contact, sales
        with SaleLines and SalePayments."""
        if kind not in KINDS:
            raise ValueError(f"unknown kind {kind!r}: the sandbox knows {', '.join(KINDS)}")
        name = KIND_ENTITY[kind]
        tree: dict[str, Any] = {
            ITEMS: {"ItemShops": {}, "ItemAttributes": {}},
            CUSTOMERS: {"Contact": {}},
            SALES: {"SaleLines": {}, "SalePayments": {}},
        }.get(kind, {})
        with self.lock:
            rows = [self._render(name, r, tree) for _, r in sorted(self.tables[name].items())]
        return copy.deepcopy(rows)

    # --- seeding ----------------------------------------------------------------------------

    def _now(self) -> str:
        return _stamp(self.clock())

    def _scalars(self, entity: Entity, record: dict[str, Any], where: str) -> dict[str, Any]:
        """The record's scalar fields as strings over the entity's defaults; refuses fields
        the entity lacks. Times are normalized to UTC."""
        unknown = sorted(set(record) - set(entity.defaults) - set(entity.nested))
        if unknown:
            raise ValueError(f"{where}: unknown field {unknown[0]!r} for {entity.name}")
        out: dict[str, Any] = dict(entity.defaults)
        for field, value in record.items():
            if field in entity.nested:
                continue
            out[field] = _text(value, f"{where}.{field}")
            if field in TIME_FIELDS and out[field]:
                moment = parse_time(out[field])
                if moment is None:
                    raise ValueError(f"{where}.{field}: not a time: {out[field]!r}")
                out[field] = _stamp(moment)
        return out

    def _key(self, entity: Entity, row: dict[str, str], where: str) -> int:
        """The record's id: given (a taken one replaces that record) or the next free."""
        table = self.tables[entity.name]
        given = row.get(entity.key, "")
        if given not in ("", "0"):
            if not given.isdigit():
                raise ValueError(f"{where}.{entity.key}: not an id: {given!r}")
            number = int(given)
        else:
            number = max(table, default=0) + 1
        row[entity.key] = str(number)
        return number

    def _own_key(self, entity: Entity, row: dict[str, Any], sale: int, where: str) -> None:
        """Give a sale's line or payment its id: the given one unless another sale's row
        has it, else the next free."""
        number = self._key(entity, row, where)
        taken = self.tables[entity.name].get(number)
        if taken is not None and taken["saleID"] != str(sale):
            raise ValueError(f"{where}.{entity.key}: {number} belongs to sale {taken['saleID']}")

    def _exists(self, name: str, row: dict[str, str], field: str, where: str) -> None:
        value = row.get(field, "0")
        if value not in ("", "0") and (not value.isdigit() or int(value) not in self.tables[name]):
            raise ValueError(f"{where}.{field}: there is no {name} {value}")

    def _times(self, row: dict[str, str], *fields: str, old: dict[str, Any] | None = None) -> None:
        now = self._now()
        for field in fields:
            if not row.get(field):
                row[field] = (old or {}).get(field) or now if field == "createTime" else now

    def _seed_one(self, kind: str, where: str, record: dict[str, Any]) -> None:
        name = KIND_ENTITY[kind]
        if kind == ITEMSHOPS:
            self._seed_itemshop(record, where)
            return
        entity = ENTITIES[name]
        row = self._scalars(entity, record, where)
        number = self._key(entity, row, where)
        old = self.tables[name].get(number)
        self._times(row, "createTime", "timeStamp", old=old)
        if kind == ITEMS:
            self._seed_item(number, row, record, where, old)
        elif kind == ITEMMATRICES:
            self._exists("Category", row, "categoryID", where)
            self._exists("ItemAttributeSet", row, "itemAttributeSetID", where)
            row["Prices"] = self._prices(record.get("Prices"), where)
            for n in (1, 2, 3):
                row[f"attribute{n}Values"] = self._values(record, n, where)
        elif kind == ITEMATTRIBUTESETS:
            del row["createTime"], row["timeStamp"]
            if row["name"] not in ATTRIBUTE_SET_NAMES:
                raise ValueError(f"{where}.name: one of {', '.join(ATTRIBUTE_SET_NAMES)}")
        elif kind == CATEGORIES:
            self._exists("Category", row, "parentID", where)
            if row["parentID"] == str(number):
                raise ValueError(f"{where}.parentID: a category is not its own parent")
        elif kind == SHOPS:
            del row["createTime"]
            self.tables[name][number] = row
            for item in self.tables["Item"]:  # every item has a row in every shop
                self._stock_row(item, number)
                self._summarize(item)
            return
        elif kind == CUSTOMERS:
            row["contactID"] = row["contactID"] or str(number)
            row["Contact"] = self._contact(record.get("Contact"), row, where)
        elif kind == SALES:
            self._seed_sale(number, row, record, where, old)
            return
        self.tables[name][number] = row

    def _prices(self, given: Any, where: str) -> dict[str, list[dict[str, str]]]:
        if given is None:
            rows = [{"amount": "0", "useTypeID": k, "useType": v} for k, v in PRICE_TYPES.items()]
            return {"ItemPrice": rows}
        prices = []
        for i, price in enumerate(_many(given, "ItemPrice", f"{where}.Prices")):
            at = f"{where}.Prices.ItemPrice[{i}]"
            unknown = set(price) - {"amount", "useTypeID", "useType"}
            if unknown:
                raise ValueError(f"{at}: unknown field {sorted(unknown)[0]!r}")
            type_id = _text(price.get("useTypeID", "1"), f"{at}.useTypeID")
            use = _text(price.get("useType", PRICE_TYPES.get(type_id, "")), f"{at}.useType")
            if not use:
                raise ValueError(f"{at}.useType: required for useTypeID {type_id}")
            amount = _text(price.get("amount", "0"), f"{at}.amount")
            prices.append({"amount": amount, "useTypeID": type_id, "useType": use})
        return {"ItemPrice": prices}

    @staticmethod
    def _values(record: dict[str, Any], n: int, where: str) -> list[str]:
        given = record.get(f"attribute{n}Values", "")
        if given in ("", None):
            return []
        items = given if isinstance(given, list) else [given]
        return [_text(v, f"{where}.attribute{n}Values") for v in items]

    def _seed_item(
        self,
        number: int,
        row: dict[str, Any],
        record: dict[str, Any],
        where: str,
        old: dict[str, Any] | None,
    ) -> None:
        self._exists("Category", row, "categoryID", where)
        self._exists("ItemMatrix", row, "itemMatrixID", where)
        row["systemSku"] = row["systemSku"] or f"21{number:010d}"
        row["Prices"] = self._prices(record.get("Prices"), where)
        attributes = record.get("ItemAttributes")
        if attributes not in (None, ""):
            self._attributes(row, attributes, where)
        if old is not None:  # replaced: its stock rows go with it
            for key in [
                k for k, r in self.tables["ItemShop"].items() if r["itemID"] == str(number)
            ]:
                del self.tables["ItemShop"][key]
        self.tables["Item"][number] = row
        given: dict[int, dict[str, Any]] = {}
        for i, stock in enumerate(_many(record.get("ItemShops"), "ItemShop", f"{where}.ItemShops")):
            at = f"{where}.ItemShops.ItemShop[{i}]"
            stock.pop("itemID", None)
            shop = _text(stock.get("shopID", ""), f"{at}.shopID")
            if shop == "0":
                continue  # the summary row: recomputed
            if not shop.isdigit() or int(shop) not in self.tables["Shop"]:
                raise ValueError(f"{at}.shopID: there is no Shop {shop or '(none)'}")
            given[int(shop)] = stock
        for shop_id in sorted(self.tables["Shop"]):
            key = self._stock_row(number, shop_id)
            if shop_id in given:
                self._set_stock(key, given[shop_id], f"{where}.ItemShops.shopID={shop_id}")
        self._summarize(number)

    def _attributes(self, row: dict[str, Any], given: Any, where: str) -> None:
        at = f"{where}.ItemAttributes"
        if not isinstance(given, dict):
            raise TypeError(f"{at}: an object")
        allowed = {"attribute1", "attribute2", "attribute3", "itemAttributeSetID"}
        unknown = set(given) - allowed
        if unknown:
            raise ValueError(f"{at}: unknown field {sorted(unknown)[0]!r}")
        matrix = self.tables["ItemMatrix"].get(int(row["itemMatrixID"]))
        if matrix is None:
            raise ValueError(f"{at}: only a variant (an Item with an itemMatrixID) has them")
        attributes = {f: _text(given.get(f, ""), f"{at}.{f}") for f in sorted(allowed)}
        attributes["itemAttributeSetID"] = (
            attributes["itemAttributeSetID"] or matrix["itemAttributeSetID"]
        )
        row["ItemAttributes"] = {
            k: attributes[k]
            for k in ("attribute1", "attribute2", "attribute3", "itemAttributeSetID")
        }
        values = [attributes[f"attribute{n}"] for n in (1, 2, 3)]
        if not row["description"]:
            row["description"] = " ".join([matrix["description"], *filter(None, values)])
        for n, value in enumerate(values, 1):
            if value and value not in matrix[f"attribute{n}Values"]:
                matrix[f"attribute{n}Values"].append(value)

    def _stock_row(self, item: int, shop: int) -> int:
        """The key of the ItemShop row of (item, shop), made when missing."""
        table = self.tables["ItemShop"]
        for key, row in table.items():
            if row["itemID"] == str(item) and row["shopID"] == str(shop):
                return key
        key = max(table, default=0) + 1
        row = {**ENTITIES["ItemShop"].defaults, "itemShopID": str(key)}
        row.update(itemID=str(item), shopID=str(shop), timeStamp=self._now())
        if shop == 0:
            row["averageCost"] = self.tables["Item"][item]["avgCost"]
        table[key] = row
        return key

    def _set_stock(self, key: int, given: dict[str, Any], where: str) -> None:
        row = self.tables["ItemShop"][key]
        for field, value in given.items():
            if field in ("itemShopID", "itemID", "shopID", "sellable", "averageCost"):
                continue
            if field not in ITEMSHOP_SEEDABLE:
                raise ValueError(f"{where}: unknown field {field!r} for ItemShop")
            text = _text(value, f"{where}.{field}")
            if field == "timeStamp":
                moment = parse_time(text)
                if moment is None:
                    raise ValueError(f"{where}.timeStamp: not a time: {text!r}")
                text = _stamp(moment)
            elif not re.fullmatch(r"-?\d+(\.\d+)?", text):
                raise ValueError(f"{where}.{field}: not a number: {text!r}")
            row["onWorkorder" if field == "onWorkOrder" else field] = text
        row["sellable"] = _num(max(_dec(row["qoh"]), Decimal(0)))
        if "timeStamp" not in given:
            row["timeStamp"] = self._now()

    def _summarize(self, item: int) -> None:
        """Recompute the shopID 0 row of `item` from its shop rows (its timeStamp moves
        when a sum does)."""
        summary = self.tables["ItemShop"][self._stock_row(item, 0)]
        rows = [
            r
            for r in self.tables["ItemShop"].values()
            if r["itemID"] == str(item) and r["shopID"] != "0"
        ]
        changed = False
        for field in SUMMED:
            total = _num(sum((_dec(r[field]) for r in rows), Decimal(0)))
            changed |= summary[field] != total
            summary[field] = total
        if changed:
            summary["timeStamp"] = max([self._now(), *(r["timeStamp"] for r in rows)])

    def _seed_itemshop(self, record: dict[str, Any], where: str) -> None:
        unknown = sorted(set(record) - ITEMSHOP_SEEDABLE)
        if unknown:
            raise ValueError(f"{where}: unknown field {unknown[0]!r} for ItemShop")
        table = self.tables["ItemShop"]
        given_key = _text(record.get("itemShopID", ""), f"{where}.itemShopID")
        if given_key:
            if not given_key.isdigit() or int(given_key) not in table:
                raise ValueError(f"{where}.itemShopID: there is no ItemShop {given_key}")
            key = int(given_key)
        else:
            item = _text(record.get("itemID", ""), f"{where}.itemID")
            shop = _text(record.get("shopID", ""), f"{where}.shopID")
            if not item.isdigit() or int(item) not in self.tables["Item"]:
                raise ValueError(f"{where}.itemID: there is no Item {item or '(none)'}")
            if not shop.isdigit() or int(shop) not in self.tables["Shop"]:
                raise ValueError(f"{where}.shopID: there is no Shop {shop or '(none)'}")
            key = self._stock_row(int(item), int(shop))
        if table[key]["shopID"] == "0":
            raise ValueError(f"{where}: the shopID 0 row is the summary the sandbox computes")
        self._set_stock(key, record, where)
        self._summarize(int(table[key]["itemID"]))

    def _contact(self, given: Any, customer: dict[str, str], where: str) -> dict[str, Any]:
        at = f"{where}.Contact"
        given = {} if given in (None, "") else given
        if not isinstance(given, dict):
            raise TypeError(f"{at}: an object")
        unknown = set(given) - set(CONTACT_CONTAINERS) - set(CONTACT_SCALARS)
        if unknown:
            raise ValueError(f"{at}: unknown field {sorted(unknown)[0]!r}")
        contact: dict[str, Any] = {
            "contactID": customer["contactID"],
            "custom": "",
            "noEmail": "false",
            "noPhone": "false",
            "noMail": "false",
        }
        for field in CONTACT_SCALARS:
            if field in given:
                contact[field] = _text(given[field], f"{at}.{field}")
        for field, element in CONTACT_CONTAINERS.items():
            rows = _many(given.get(field), element, f"{at}.{field}")
            contact[field] = {
                element: [
                    {k: _text(v, f"{at}.{field}.{k}") for k, v in row.items()} for row in rows
                ]
            }
        contact["timeStamp"] = contact.get("timeStamp") or customer["timeStamp"]
        return contact

    def _seed_sale(
        self,
        number: int,
        row: dict[str, Any],
        record: dict[str, Any],
        where: str,
        old: dict[str, Any] | None,
    ) -> None:
        self._exists("Customer", row, "customerID", where)
        self._exists("Shop", row, "shopID", where)
        row["ticketNumber"] = row["ticketNumber"] or f"22{number:010d}"
        row["updatetime"] = row["updatetime"] or row["timeStamp"]
        if row["completed"] == "true" and not row["completeTime"]:
            row["completeTime"] = row["timeStamp"]
        if old is not None:
            for table in ("SaleLine", "SalePayment"):
                rows = self.tables[table]
                for key in [k for k, r in rows.items() if r["saleID"] == str(number)]:
                    del rows[key]
        inclusive = row["isTaxInclusive"] == "true"
        totals = dict.fromkeys(("sub", "discount", "tax1", "tax2", "total"), Decimal(0))
        line_entity = ENTITIES["SaleLine"]
        for i, given in enumerate(_many(record.get("SaleLines"), "SaleLine", f"{where}.SaleLines")):
            at = f"{where}.SaleLines.SaleLine[{i}]"
            given.pop("saleID", None)
            line = self._scalars(line_entity, given, at)
            self._exists("Item", line, "itemID", at)
            self._own_key(line_entity, line, number, at)
            line["saleID"] = str(number)
            for field in ("createTime", "timeStamp"):
                line[field] = line[field] or row[field]
            for field in ("customerID", "employeeID", "shopID", "taxCategoryID"):
                line[field] = line[field] or row[field]
            for field in ("tax1Rate", "tax2Rate"):
                line[field] = line[field] if field in given else row[field]
            self._line_totals(line, given, inclusive, totals)
            self.tables["SaleLine"][int(line["saleLineID"])] = line
        paid = tips = Decimal(0)
        pay_entity = ENTITIES["SalePayment"]
        payments = _many(record.get("SalePayments"), "SalePayment", f"{where}.SalePayments")
        for i, given in enumerate(payments):
            at = f"{where}.SalePayments.SalePayment[{i}]"
            given.pop("saleID", None)
            if "PaymentType" in given:
                kind = given.pop("PaymentType")
                if isinstance(kind, dict) and "paymentTypeID" in kind:
                    given.setdefault("paymentTypeID", kind["paymentTypeID"])
            payment = self._scalars(pay_entity, given, at)
            self._exists("PaymentType", payment, "paymentTypeID", at)
            self._own_key(pay_entity, payment, number, at)
            payment["saleID"] = str(number)
            for field in ("createTime", "timeStamp"):
                payment[field] = payment[field] or row[field]
            for field in ("registerID", "employeeID"):
                payment[field] = payment[field] or row[field]
            paid += _dec(payment["amount"])
            tips += _dec(payment["tipAmount"])
            self.tables["SalePayment"][int(payment["salePaymentID"])] = payment
        computed = {
            "calcSubtotal": totals["sub"],
            "displayableSubtotal": totals["sub"],
            "calcDiscount": totals["discount"],
            "calcTax1": totals["tax1"],
            "calcTax2": totals["tax2"],
            "taxTotal": totals["tax1"] + totals["tax2"],
            "calcTaxable": totals["sub"] - totals["discount"],
            "calcNonTaxable": Decimal(0),
            "calcTotal": totals["total"],
            "total": totals["total"],
            "totalDue": totals["total"],
            "displayableTotal": totals["total"],
            "calcPayments": paid,
            "calcTips": tips,
            "balance": totals["total"] - paid,
        }
        for field, value in computed.items():
            if field not in record:
                row[field] = _num(value)
        self.tables["Sale"][number] = row

    @staticmethod
    def _line_totals(
        line: dict[str, str], given: dict[str, Any], inclusive: bool, totals: dict[str, Decimal]
    ) -> None:
        quantity, price = _dec(line["unitQuantity"]), _dec(line["unitPrice"])
        line["normalUnitPrice"] = line["normalUnitPrice"] or line["unitPrice"]
        line["displayableUnitPrice"] = line["displayableUnitPrice"] or line["unitPrice"]
        subtotal = quantity * price
        discount = _dec(line["discountAmount"]) or subtotal * _dec(line["discountPercent"])
        taxable = subtotal - discount
        rate1, rate2 = _dec(line["tax1Rate"]), _dec(line["tax2Rate"])
        if line["tax"] != "true":
            tax1 = tax2 = Decimal(0)
        elif inclusive:
            base = taxable / (1 + rate1 + rate2)
            tax1, tax2 = base * rate1, base * rate2
        else:
            tax1, tax2 = taxable * rate1, taxable * rate2
        total = taxable if inclusive else taxable + tax1 + tax2
        computed = {
            "calcSubtotal": subtotal,
            "displayableSubtotal": subtotal,
            "calcLineDiscount": discount,
            "calcTax1": tax1,
            "calcTax2": tax2,
            "calcTotal": total,
        }
        for field, value in computed.items():
            if field not in given:
                line[field] = _num(value)
        totals["sub"] += _dec(line["calcSubtotal"])
        totals["discount"] += _dec(line["calcLineDiscount"])
        totals["tax1"] += _dec(line["calcTax1"])
        totals["tax2"] += _dec(line["calcTax2"])
        totals["total"] += _dec(line["calcTotal"])

    def _nest_categories(self) -> None:
        """Recompute the nested set (leftNode/rightNode), depth and full path names."""
        table = self.tables["Category"]
        children: dict[str, list[int]] = {}
        for row in table.values():
            row["leftNode"] = row["rightNode"] = ""
        for key in sorted(table):
            children.setdefault(table[key]["parentID"], []).append(key)
        counter = 0

        def visit(key: int, depth: int, path: str) -> None:
            nonlocal counter
            row = table[key]
            counter += 1
            row["leftNode"], row["nodeDepth"] = str(counter), str(depth)
            row["fullPathName"] = f"{path}/{row['name']}" if path else row["name"]
            for child in children.get(str(key), []):
                visit(child, depth + 1, row["fullPathName"])
            counter += 1
            row["rightNode"] = str(counter)

        for root in children.get("0", []):
            visit(root, 0, "")
        seen = {k for k, r in table.items() if r["rightNode"]}
        loose = set(table) - seen
        if loose:
            raise ValueError(f"categories: a parentID cycle through category {min(loose)}")

    # --- tokens -----------------------------------------------------------------------------

    def _mint(self, scope: str | None, ttl: float) -> str:
        now = int(self.clock().timestamp())
        claims = {
            "iss": self._base_url or "ihost-lightspeed-sandbox",
            "aud": self.client_id,
            "jti": secrets.token_hex(16),
            "iat": now,
            "nbf": now,
            "exp": now + int(ttl),
            "sub": "1",
            "acct": str(self.account_id),
            "scope": scope or "",
        }
        header = {"alg": "HS256", "typ": "JWT"}
        signing = ".".join(
            _b64(json.dumps(part, separators=(",", ":")).encode()) for part in (header, claims)
        )
        signature = hmac.new(self.jwt_secret, signing.encode(), hashlib.sha256).digest()
        return f"{signing}.{_b64(signature)}"

    def claims(self, token: str) -> dict[str, Any] | None:
        """The claims of an access token this sandbox signed; None for another."""
        try:
            signing, _, signature = token.rpartition(".")
            expected = hmac.new(self.jwt_secret, signing.encode(), hashlib.sha256).digest()
            if not hmac.compare_digest(_b64(expected), signature):
                return None
            payload = signing.split(".")[1]
            found = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
        except (ValueError, IndexError):
            return None
        return found if isinstance(found, dict) else None

    # --- HTTP -------------------------------------------------------------------------------

    async def _api(self, request: Request) -> Response:
        refused = self.oauth.check_bearer(request)
        if refused is not None:
            with self.lock:
                self._leak(self.monotonic())
                refused.headers.update(self._headers(Decimal(0)))
            return refused
        body = await request.body()
        token = request.headers.get("authorization", "").partition(" ")[2]
        account = str((self.claims(token) or {}).get("acct", ""))
        with self.lock:
            plan: Callable[[], tuple[int, Any]] | None = None
            try:
                cost, plan = self._plan(request, body, account)
            except Refusal as refusal:
                cost, problem = Decimal(1), refusal
            over = self._throttle(cost)
            if over is not None:
                problem, plan = over, None
            if plan is not None:
                try:
                    status, answer = plan()
                except Refusal as refusal:
                    problem, plan = refusal, None
            headers = self._headers(cost)
            if plan is None:
                headers.update(problem.headers)
                return JSONResponse(problem.body(), status_code=problem.status, headers=headers)
        return JSONResponse(answer, status_code=status, headers=headers)

    def _headers(self, cost: Decimal) -> dict[str, str]:
        headers = {
            "X-LS-Acct-Id": str(self.account_id),
            "X-LS-Oauth-Client-Id": self.client_id,
            "X-LS-Api-Bucket-Level": f"{_level(self.level)}/{_level(self.bucket_size)}",
            "X-LS-Api-Drip-Rate": _level(self.drip_rate),
            "X-LS-Api-Request-Cost": _num(cost),
        }
        if self.burst_limit is not None:
            headers["X-LS-API-Burst-Level"] = f"{self._window_count}/{self.burst_limit}"
        return headers

    def _leak(self, now: float) -> None:
        if self._since is not None:
            self.level = max(0.0, self.level - (now - self._since) * self.drip_rate)
        self._since = now
        if math.floor(now) != self._window:
            self._window, self._window_count = math.floor(now), 0

    def _throttle(self, cost: Decimal) -> Refusal | None:
        """Charge `cost` to the bucket, or the 429 when the burst window or the bucket is
        full (see the module)."""
        now = self.monotonic()
        self._leak(now)
        limit = self.burst_limit
        if self.rate_limit and limit is not None and self._window_count >= limit:
            self.throttled += 1
            wait = max(1, math.ceil(self._window + 1 - now))
            return Refusal(
                429,
                "burst rate limit exceeded",
                {"Retry-After": str(wait), "X-LS-API-RateLimit-Type": "api-burst-limiter"},
            )
        if self.rate_limit and self.level > self.bucket_size:
            self.throttled += 1
            wait = max(1, math.ceil((self.level - self.bucket_size) / self.drip_rate))
            return Refusal(
                429,
                "Rate limit exceeded: the leaky bucket is full",
                {"Retry-After": str(wait), "X-LS-API-RateLimit-Type": "api-leaky-bucket"},
            )
        self.level += float(cost)
        self.charged += float(cost)
        self._window_count += 1
        return None

    def _plan(
        self, request: Request, body: bytes, account: str
    ) -> tuple[Decimal, Callable[[], tuple[int, Any]]]:
        """The cost of a request and what answers it; Refusal when it is refused."""
        path = request.url.path
        method = request.method
        segments = path.split("/")[2:]  # after "/API/"
        if segments == ["V3", "Account.json"]:
            if method != "GET":
                raise Refusal(405, f"{method} {path}: {NOT_EMULATED}")
            return Decimal(1), self._account_answer
        if len(segments) not in (4, 5) or segments[:2] != ["V3", "Account"]:
            raise Refusal(404, f"{path}: {NOT_EMULATED}")
        if segments[2] != account:
            raise Refusal(403, f"the access token is not for account {segments[2]}")
        last = segments[-1]
        if not last.endswith(".json"):
            raise Refusal(
                404, f"{path}: only the .json format is emulated; others are " + NOT_EMULATED
            )
        name = segments[3] if len(segments) == 5 else last[: -len(".json")]
        single = last[: -len(".json")] if len(segments) == 5 else None
        if name not in SERVED:
            raise Refusal(404, f"{path}: {NOT_EMULATED}")
        entity = ENTITIES[name]
        if method == "PUT" and name == "Item" and single is not None:
            return self._plan_put(request, body, single)
        if method != "GET":
            raise Refusal(405, f"{method} {path}: {NOT_EMULATED}")
        if single is not None and not single.isdigit():
            raise Refusal(404, f"{name} {single} not found")
        query = self._query(request, entity, single)
        return query.cost, lambda: self._read(request, query)

    def _account_answer(self) -> tuple[int, Any]:
        account = {
            "accountID": str(self.account_id),
            "name": self.account_name,
            "link": {"@attributes": {"href": f"{API}/Account/{self.account_id}"}},
        }
        return 200, {"@attributes": {"count": "1"}, "Account": account}

    # --- reading ----------------------------------------------------------------------------

    def _query(self, request: Request, entity: Entity, single: str | None) -> Query:
        params = request.query_params
        for name, _ in params.multi_items():
            if len(params.getlist(name)) > 1 and name in RESERVED:
                raise Refusal(400, f"{name}: given more than once")
        relations = self._relations(entity, params.get("load_relations"))
        relation_cost = self._relation_cost(entity, relations, listing=single is None)
        count = params.get("count")
        if count is not None:
            if count != "1":
                raise Refusal(400, f"count: only count=1 is emulated, not {count!r}")
            clash = [p for p in ("limit", "sort", "after", "before") if p in params]
            if clash:
                raise Refusal(400, f"count=1 cannot be combined with {', '.join(clash)}")
        limit_text = params.get("limit", str(MAX_LIMIT))
        if not limit_text.isdigit() or int(limit_text) > MAX_LIMIT:
            raise Refusal(400, f"limit must be an integer from 0 to {MAX_LIMIT}: {limit_text!r}")
        sort = params.get("sort", entity.key)
        descending = sort.startswith("-")
        sort = sort.lstrip("-")
        if sort not in entity.sorts:
            raise Refusal(
                400,
                f"Sort field {sort!r} is not supported for {entity.name}; "
                f"supported: {', '.join(entity.sorts)}",
            )
        after = self._cursor(params.get("after"), "after")
        before = self._cursor(params.get("before"), "before")
        if after is not None and before is not None:
            raise Refusal(400, "after and before cannot be combined")
        archived = params.get("archived", "false")
        if archived not in ("false", "true", "only"):
            raise Refusal(400, f"archived must be false, true or only: {archived!r}")
        conditions = [
            self._condition(entity, relations, name, value)
            for name, value in params.multi_items()
            if name not in RESERVED
        ]
        alternatives: list[Condition] = []
        or_cost = Decimal(0)
        if "or" in params:
            for operand in params["or"].split("|"):
                name, equals, value = operand.partition("=")
                if not equals:
                    raise Refusal(400, f"or: an operand is field=value: {operand!r}")
                alternatives.append(self._condition(entity, relations, name, value))
            fields = {c.field for c in alternatives}
            spanned = {c.field.split(".")[0] if "." in c.field else "" for c in alternatives}
            if len(spanned) > 1:
                or_cost = Decimal(10 * len(spanned))
            elif len(fields) > 1:
                or_cost = Decimal(len(alternatives))
        cost = COUNT_COST if count is not None else Decimal(1) + relation_cost + or_cost
        if count is not None:
            cost += relation_cost + or_cost
        return Query(
            entity,
            single,
            int(limit_text),
            sort,
            descending,
            after,
            before,
            archived,
            relations,
            conditions,
            alternatives,
            count is not None,
            cost,
        )

    @staticmethod
    def _cursor(text: str | None, name: str) -> list[Any] | None:
        if text is None:
            return None
        try:
            found = json.loads(base64.b64decode(text + "=" * (-len(text) % 4), validate=True))
        except ValueError:
            found = None
        if not isinstance(found, list) or not found:
            raise Refusal(400, f"{name}: not a cursor this API gave: {text!r}")
        return found

    def _relations(self, entity: Entity, given: str | None) -> dict[str, Any]:
        if given is None:
            return {}
        if given == "all":
            return {r.name: {} for r in entity.relations}
        try:
            names = json.loads(given)
        except ValueError:
            names = None
        if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
            raise Refusal(400, f"load_relations must be a JSON array of names: {given!r}")
        tree: dict[str, Any] = {}
        for name in names:
            node, current = tree, entity
            for part in name.split("."):
                relation = current.relation(part) if current is not None else None
                if relation is None:
                    known = ", ".join(self._relation_names(entity)) or "none"
                    raise Refusal(
                        400,
                        f"Invalid relation {name!r} for {entity.name} (emulated: {known}); "
                        + NOT_EMULATED,
                    )
                node = node.setdefault(part, {})
                current = ENTITIES.get(relation.target)  # type: ignore[assignment]
        return tree

    @staticmethod
    def _relation_names(entity: Entity, prefix: str = "", depth: int = 0) -> list[str]:
        names: list[str] = []
        for relation in entity.relations:
            names.append(prefix + relation.name)
            target = ENTITIES.get(relation.target)
            if target is not None and depth == 0 and entity.name == "Sale":
                names += LightspeedSandbox._relation_names(target, relation.name + ".", 1)
        return names

    def _relation_cost(
        self, entity: Entity, tree: dict[str, Any], *, listing: bool, under_many: bool = False
    ) -> Decimal:
        total = Decimal(0)
        for name, subtree in tree.items():
            relation = entity.relation(name)
            assert relation is not None
            cost = Decimal("0.2") if relation.many else Decimal("0.1")
            if listing:
                cost *= 2
            if under_many:
                cost *= 2
            total += cost
            target = ENTITIES.get(relation.target)
            if target is not None and subtree:
                total += self._relation_cost(
                    target, subtree, listing=listing, under_many=under_many or relation.many
                )
        return total

    def _condition(
        self, entity: Entity, relations: dict[str, Any], name: str, value: str
    ) -> Condition:
        head, dot, tail = name.partition(".")
        if dot:
            relation = entity.relation(head)
            if relation is None or head not in relations:
                raise Refusal(
                    400, f"{name}: a dot filter needs the relation {head!r} in load_relations"
                )
            target = ENTITIES.get(relation.target)
            fields = set(target.defaults) if target is not None else set()
            if tail not in fields:
                raise Refusal(400, f"{name}: {head} has no field {tail!r} to filter on")
        elif name not in entity.defaults:
            raise Refusal(400, f"{name}: {entity.name} has no such field (or parameter)")
        op, comma, rest = value.partition(",")
        if op not in OPERATORS or not comma:
            op, rest = "=", value
        if op == "IN":
            inner = rest.strip()
            if not (inner.startswith("[") and inner.endswith("]")):
                raise Refusal(400, f"{name}: IN takes a list: IN,[1,2,3]")
            values = [v.strip().strip('"') for v in inner[1:-1].split(",") if v.strip()]
            if len(values) > MAX_IN:
                raise Refusal(400, f"{name}: IN takes at most {MAX_IN} values")
        elif op == "><":
            values = rest.split(",")
            if len(values) != 2:
                raise Refusal(400, f"{name}: >< takes two values: ><,1,10")
        else:
            values = [rest]
        field = tail if dot else name
        if field in TIME_FIELDS:
            for v in values:
                if op not in ("~", "!~") and v and parse_time(v) is None:
                    raise Refusal(400, f"{name}: not a valid date/time: {v!r}")
        return Condition(name, op, values)

    def _rows(self, query: Query) -> list[dict[str, Any]]:
        entity = query.entity
        rows = list(self.tables[entity.name].values())
        if "archived" in entity.defaults:
            if query.archived == "false":
                rows = [r for r in rows if r["archived"] != "true"]
            elif query.archived == "only":
                rows = [r for r in rows if r["archived"] == "true"]
        rows = [r for r in rows if all(self._matches(entity, r, c) for c in query.conditions)]
        if query.alternatives:
            rows = [r for r in rows if any(self._matches(entity, r, c) for c in query.alternatives)]
        rows.sort(key=lambda r: self._sort_key(entity, query.sort, r), reverse=query.descending)
        return rows

    def _matches(self, entity: Entity, row: dict[str, Any], condition: Condition) -> bool:
        head, dot, tail = condition.field.partition(".")
        if not dot:
            return _compare(head, row.get(head, ""), condition)
        relation = entity.relation(head)
        assert relation is not None
        related = self._related(entity, relation, row)
        return any(_compare(tail, r.get(tail, ""), condition) for r in related)

    @staticmethod
    def _sort_key(entity: Entity, field: str, row: dict[str, Any]) -> tuple[Any, int]:
        return (_sortable(field, row.get(field, "")), int(row[entity.key]))

    def _read(self, request: Request, query: Query) -> tuple[int, Any]:
        entity = query.entity
        if query.single is not None:
            row = self.tables[entity.name].get(int(query.single))
            if row is None:
                raise Refusal(404, f"{entity.name} {query.single} not found")
            shown = self._render(entity.name, row, query.relations)
            return 200, collapse({"@attributes": {"count": "1"}, entity.name: shown})
        rows = self._rows(query)
        if query.count:
            return 200, {"@attributes": {"count": str(len(rows))}}
        keys = [self._cursor_key(query, r) for r in rows]
        if query.before is not None:
            end = sum(1 for k in keys if _before(k, query.before, query))
            start = max(0, end - query.limit)
        else:
            start = 0
            if query.after is not None:
                start = sum(1 for k in keys if not _before(query.after, k, query))
            end = start + query.limit
        page = rows[start:end]
        attributes = {
            "next": self._page_url(request, query, "after", keys[end - 1])
            if page and end < len(rows)
            else "",
            "previous": self._page_url(request, query, "before", keys[start])
            if page and start > 0
            else "",
        }
        answer: dict[str, Any] = {"@attributes": attributes}
        if page:
            listed = [self._render(entity.name, r, query.relations) for r in page]
            answer[entity.name] = listed[0] if len(listed) == 1 else listed
        return 200, collapse(answer)

    def _cursor_key(self, query: Query, row: dict[str, Any]) -> list[Any]:
        key = int(row[query.entity.key])
        return [key] if query.sort == query.entity.key else [row.get(query.sort, ""), key]

    def _page_url(self, request: Request, query: Query, name: str, key: list[Any]) -> str:
        pairs = [
            (k, v) for k, v in request.query_params.multi_items() if k not in ("after", "before")
        ]
        given = {k for k, _ in pairs}
        if "sort" not in given:
            pairs.append(("sort", query.entity.key))
        if "limit" not in given:
            pairs.append(("limit", str(query.limit)))
        cursor = base64.b64encode(json.dumps(key, separators=(",", ":")).encode()).decode()
        pairs.append((name, cursor))
        origin = f"{request.url.scheme}://{request.url.netloc}"
        return f"{origin}{request.url.path}?{urlencode(pairs, quote_via=quote, safe='')}"

    def _render(self, name: str, row: dict[str, Any], tree: dict[str, Any]) -> dict[str, Any]:
        """A record as Lightspeed answers it (containers still lists), with the relations of
        `tree` loaded."""
        entity = ENTITIES.get(name)
        hidden = entity.hidden if entity is not None else ()
        shown = {k: copy.deepcopy(v) for k, v in row.items() if k not in hidden}
        if entity is None:
            return shown
        for relation_name, subtree in tree.items():
            relation = entity.relation(relation_name)
            assert relation is not None
            related = self._related(entity, relation, row)
            if relation.many:
                shown[relation.name] = {
                    relation.element: [self._render(relation.target, r, subtree) for r in related]
                }
            elif related:
                shown[relation.name] = self._render(relation.target, related[0], subtree)
        return shown

    def _related(self, entity: Entity, relation: Relation, row: dict[str, Any]) -> list[Any]:
        """The rows `relation` loads for `row` of `entity`."""
        how, table, field = relation.how
        if how == "child":
            own = row[entity.key]
            return [r for _, r in sorted(self.tables[table].items()) if r.get(field) == own]
        if how == "inline":
            found = row.get(table)
            return [found] if isinstance(found, dict) else []
        value = row.get(field, "0")
        target = self.tables[table].get(int(value)) if value.isdigit() else None
        return [target] if target is not None else []

    # --- writing ----------------------------------------------------------------------------

    def _plan_put(
        self, request: Request, body: bytes, single: str
    ) -> tuple[Decimal, Callable[[], tuple[int, Any]]]:
        try:
            given = json.loads(body)
        except ValueError:
            raise Refusal(400, "the body is not JSON") from None
        if not isinstance(given, dict):
            raise Refusal(400, "the body is not a JSON object")
        other = sorted(set(given) - {"ItemShops"})
        if other:
            raise Refusal(
                400,
                f"Item PUT: field {other[0]!r}: only ItemShops (stock) is emulated; the rest is "
                + NOT_EMULATED,
            )
        try:
            stock = _many(given.get("ItemShops"), "ItemShop", "ItemShops")
        except TypeError as exc:
            raise Refusal(400, str(exc)) from None
        cost = Decimal(1) + NESTED_WRITE_COST * len(stock)
        return cost, lambda: self._put_item(single, stock)

    def _put_item(self, single: str, stock: list[dict[str, Any]]) -> tuple[int, Any]:
        item = self.tables["Item"].get(int(single)) if single.isdigit() else None
        if item is None:
            raise Refusal(404, f"Item {single} not found")
        table = self.tables["ItemShop"]
        targets: list[tuple[int, dict[str, Any]]] = []
        for i, entry in enumerate(stock):
            at = f"ItemShops.ItemShop[{i}]"
            allowed = {"itemShopID", "shopID", "itemID", "qoh", "reorderPoint", "reorderLevel"}
            unknown = sorted(set(entry) - allowed)
            if unknown:
                raise Refusal(400, f"{at}.{unknown[0]}: {NOT_EMULATED} in an Item PUT")
            key_text = str(entry.get("itemShopID", ""))
            if key_text:
                key = int(key_text) if key_text.isdigit() else -1
                row = table.get(key)
                if row is None or row["itemID"] != single:
                    raise Refusal(400, f"{at}.itemShopID: Item {single} has no ItemShop {key_text}")
            else:
                shop = str(entry.get("shopID", ""))
                key = next(
                    (k for k, r in table.items() if r["itemID"] == single and r["shopID"] == shop),
                    -1,
                )
                if key < 0:
                    raise Refusal(400, f"{at}: name the row by itemShopID or shopID")
            if table[key]["shopID"] == "0":
                raise Refusal(400, f"{at}: the shopID 0 row is a summary and cannot be set")
            for field in ("qoh", "reorderPoint", "reorderLevel"):
                if field in entry and not re.fullmatch(r"-?\d+", str(entry[field]).strip()):
                    raise Refusal(400, f"{at}.{field}: not a whole number: {entry[field]!r}")
            targets.append((key, entry))
        for key, entry in targets:
            values: dict[str, Any] = {
                f: str(entry[f]).strip()
                for f in ("qoh", "reorderPoint", "reorderLevel")
                if f in entry
            }
            self._set_stock(key, values, "ItemShops")
        self._summarize(int(single))
        shown = self._render("Item", item, {"ItemShops": {}})
        return 200, collapse({"@attributes": {"count": "1"}, "Item": shown})


def _level(value: float) -> str:
    text = f"{value:.2f}".rstrip("0").rstrip(".")
    return text or "0"


def _sortable(field: str, value: str) -> Any:
    if field in TIME_FIELDS:
        moment = parse_time(value) if value else None
        return moment.timestamp() if moment is not None else float("-inf")
    if field.endswith("ID") or field.endswith("Node"):
        return _dec(value)
    return value.casefold()


def _before(left: list[Any], right: list[Any], query: Query) -> bool:
    """Whether cursor key `left` comes before `right` in the query's order."""
    a = (_sortable(query.sort, str(left[0])), int(left[-1])) if len(left) > 1 else (int(left[0]),)
    b = (
        (_sortable(query.sort, str(right[0])), int(right[-1]))
        if len(right) > 1
        else (int(right[0]),)
    )
    return a > b if query.descending else a < b


def _like(pattern: str, value: str) -> bool:
    regex = ".*".join(re.escape(part) for part in pattern.split("%"))
    return re.fullmatch(regex, value, re.IGNORECASE | re.DOTALL) is not None


def _compare(field: str, value: str, condition: Condition) -> bool:
    op, wanted = condition.op, condition.values
    if op == "~":
        return _like(wanted[0], value)
    if op == "!~":
        return not _like(wanted[0], value)
    if op == "IN":
        return any(_equal(field, value, w) for w in wanted)
    if op == "=":
        return _equal(field, value, wanted[0])
    if op == "!=":
        return not _equal(field, value, wanted[0])
    left = _ordered(field, value)
    if left is None:
        return False
    bounds = [_ordered(field, w) for w in wanted]
    if any(b is None for b in bounds):
        return False
    try:
        if op == "><":
            return bool(bounds[0] <= left <= bounds[1])
        return bool(
            {">": left > bounds[0], ">=": left >= bounds[0], "<": left < bounds[0]}.get(
                op, left <= bounds[0]
            )
        )
    except TypeError:
        return False


def _ordered(field: str, value: str) -> Any:
    if field in TIME_FIELDS:
        return parse_time(value) if value else None
    try:
        return Decimal(value)
    except InvalidOperation:
        return value.casefold()


def _equal(field: str, value: str, wanted: str) -> bool:
    if field in TIME_FIELDS:
        return value != "" and parse_time(value) == parse_time(wanted)
    try:
        return Decimal(value) == Decimal(wanted)
    except InvalidOperation:
        return value.casefold() == wanted.casefold()
