"""The Lightspeed Retail (R-Series, "LightspeedPos") connector: source of products (items,
and item matrices with their variants), stock per shop, completed sales and customers;
target of stock (the quantity on hand at one shop)."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from datetime import datetime
from decimal import Decimal
from itertools import islice
from typing import Any, Literal

from pydantic import BaseModel, Field, SecretStr

from host import hookimpl
from host.auth import ConnectorContext, OAuth2AuthorizationCode
from host.capabilities import Capabilities
from host.errors import ConfigError, RecordInvalid, RemoteRejected
from host.models import Customer, Order, Product, Record, StockLevel, record_or_invalid
from ihost_lightspeed.client import PAGE_MAX, LightspeedClient, one_or_many
from ihost_lightspeed.convert import (
    FieldError,
    customer,
    matrix_product,
    order_from_sale,
    simple_product,
    sku_of,
    stock_body,
    stock_level,
    to_filter,
)

CLOUD = "https://cloud.lightspeedapp.com"
SALE_RELATIONS = [
    "SaleLines",
    "SaleLines.Item",
    "SalePayments",
    "SalePayments.PaymentType",
    "Customer",
    "Customer.Contact",
]


class LightspeedSettings(BaseModel):
    client_id: str = Field(description="the OAuth2 client registered for ihost")
    client_secret: SecretStr = Field(description="its secret")
    account_id: int | None = Field(None, description="the account (default: the token's)")
    base_url: str = Field("https://api.lightspeedapp.com", description="the API")
    authorize_url: str = Field(f"{CLOUD}/auth/oauth/authorize", description="OAuth2 authorize")
    token_url: str = Field(f"{CLOUD}/auth/oauth/token", description="OAuth2 token endpoint")
    redirect_uri: str | None = Field(None, description="the redirect URI registered (HTTPS)")
    scope: str = Field(
        "employee:inventory employee:register_read employee:customers_read employee:reports",
        description="scopes asked for (which suffice is unconfirmed)",
    )
    pkce: bool = Field(True, description="send a PKCE S256 challenge when authorizing")
    sku_field: Literal["customSku", "systemSku", "manufacturerSku", "upc", "ean"] = Field(
        "customSku", description="the item field that is the SKU (else its systemSku)"
    )
    price_level: str = Field("Default", description="the price level (useType) read as price")
    prices_include_tax: bool = Field(True, description="item prices include VAT (EU accounts)")
    currency: str = Field("EUR", description="the account's currency")
    shop_id: str = Field("1", description="the shop whose quantity on hand stock sets")
    timeout: float = Field(60.0, gt=0, description="seconds per request")


class LightspeedPlugin:
    """Lightspeed Retail R-Series through API V3, authorized with OAuth2 (`ihost auth`):
    items and matrices, stock per shop, completed sales and customers out; stock in."""

    name = "lightspeed"
    title = "Lightspeed Retail (R-Series)"
    Settings = LightspeedSettings
    capabilities = Capabilities(
        reads={"products", "stock", "orders", "customers"},
        writes={"stock"},
        product_types={"simple", "configurable"},
        variants=True,
        categories=True,
        attributes=True,
        stock_batch=1,
        rate_limit="leaky bucket per account and client: 90 drips, 1 a second (one register)",
        why_not={
            "writes products": "not built yet (Lightspeed is the source of products here)",
            "writes orders": "not built yet (Lightspeed is the source of sales here)",
            "writes customers": "not built yet",
        },
    )

    def __init__(self, settings: LightspeedSettings, context: ConnectorContext) -> None:
        self.settings = settings
        self.auth = OAuth2AuthorizationCode(
            settings.authorize_url,
            settings.token_url,
            settings.client_id,
            settings.client_secret.get_secret_value(),
            scope=settings.scope,
            redirect_uri=settings.redirect_uri,
            pkce=settings.pkce,
            vault=context.tokens,
            timeout=settings.timeout,
            name=context.connection,
        )
        self.client = LightspeedClient(
            settings.base_url,
            self.auth,
            client_id=settings.client_id,
            account_id=settings.account_id,
            timeout=settings.timeout,
        )
        self._shops: dict[str, str] | None = None

    def close(self) -> None:
        self.client.close()
        self.auth.close()

    @hookimpl
    def oauth2_flow(self) -> OAuth2AuthorizationCode:
        return self.auth

    @hookimpl
    def check_connection(self) -> None:
        if self.settings.shop_id not in self._shop_names():
            listed = ", ".join(f"{k} ({v})" for k, v in self._shop_names().items())
            raise RemoteRejected(
                f"lightspeed: shop_id {self.settings.shop_id} is not a shop of account "
                f"{self.client.account} (they are: {listed})"
            )

    def _shop_names(self) -> dict[str, str]:
        if self._shops is None:
            self._shops = {
                str(s["shopID"]): str(s.get("name") or s["shopID"])
                for s in self.client.rows("Shop")
            }
        return self._shops

    # --- source ---------------------------------------------------------------------------

    @staticmethod
    def _converted(
        model: type[Record],
        row: Mapping[str, Any],
        record_key: str,
        label: str,
        convert: Callable[[Mapping[str, Any]], dict[str, Any]],
    ) -> Record | RecordInvalid:
        """The row as a record, or RecordInvalid keyed as the record would be (so its dead
        letter is resolved once the row is mended) naming the row and the field."""
        try:
            data = convert(row)
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            field = exc.field if isinstance(exc, FieldError) else None
            words = f"no {exc}" if isinstance(exc, KeyError) else str(exc)
            return RecordInvalid(
                f"{label}: Lightspeed sent {words}",
                key=record_key,
                field=field,
                payload=dict(row),
            )
        return record_or_invalid(model, data, key=data.get("key") or record_key, payload=row)

    @staticmethod
    def _since(since: datetime | None, field: str = "timeStamp") -> dict[str, str]:
        return {field: to_filter(since)} if since else {}

    @hookimpl
    def fetch_products(self, since: datetime | None) -> Iterator[Record | RecordInvalid]:
        """Items changed since the cursor: those that are no variant as they come, those
        that are a variant name their matrix. Then the matrices with their variants: those
        changed, and those whose variants changed. A variant whose matrix Lightspeed does
        not answer (archived, deleted) fails alone, named."""
        params = {"sort": "timeStamp", **self._since(since)}
        # of each variant only what names it (a catalogue's variants are not held whole)
        variants: dict[str, list[tuple[str, str]]] = {}
        for item in self.client.rows("Item", params, ["Category"]):
            matrix_id = str(item.get("itemMatrixID") or "0")
            if matrix_id != "0":
                found = (str(item.get("itemID")), sku_of(item, self.settings))
                variants.setdefault(matrix_id, []).append(found)
                continue
            yield self._converted(
                Product,
                item,
                f"item-{item.get('itemID')}",
                f"item {item.get('itemID')}",
                lambda r: simple_product(r, self.settings),
            )
        relations = ["Items", "Items.ItemAttributes", "ItemAttributeSet", "Category"]
        queries = [{"sort": "timeStamp", **self._since(since)}]
        seen: set[str] = set()
        for query in self._matrix_queries(queries, variants, seen):
            for matrix in self.client.rows("ItemMatrix", query, relations):
                matrix_id = str(matrix.get("itemMatrixID"))
                if matrix_id in seen:
                    continue
                seen.add(matrix_id)
                yield self._converted(
                    Product,
                    matrix,
                    f"matrix-{matrix_id}",
                    f"matrix {matrix_id}",
                    lambda r: matrix_product(r, self.settings),
                )
        for matrix_id in sorted(set(variants) - seen):
            for item_id, sku in variants[matrix_id]:
                yield RecordInvalid(
                    f"item {item_id} (SKU {sku}): "
                    f"Lightspeed sent itemMatrixID {matrix_id}, a matrix it does not answer "
                    "(archived or deleted?)",
                    key=f"item-{item_id}",
                    field="itemMatrixID",
                    payload={"itemID": item_id, "itemMatrixID": matrix_id},
                )

    @staticmethod
    def _matrix_queries(
        first: list[dict[str, str]], variants: Mapping[str, Any], seen: set[str]
    ) -> Iterator[dict[str, str]]:
        """The matrix queries: `first`, then the matrices of the variants read that those
        did not answer, a hundred a call."""
        yield from first
        ids = sorted(set(variants) - seen, key=lambda i: (len(i), i))
        for i in range(0, len(ids), PAGE_MAX):
            yield {"itemMatrixID": f"IN,[{','.join(ids[i : i + PAGE_MAX])}]"}

    @hookimpl
    def fetch_stock(self, since: datetime | None) -> Iterator[Record | RecordInvalid]:
        """Every ItemShop row of a shop (the shopID 0 row is their sum, left out), changed
        since the cursor: ItemShop.timeStamp moves with stock, Item.timeStamp does not.
        The rows name their item by id: each hundred rows' items are read in one call
        (`itemID=IN,[...]`) for their SKUs."""
        shops = self._shop_names()
        params = {"sort": "timeStamp", "shopID": "!=,0", **self._since(since)}
        rows = self.client.rows("ItemShop", params)
        while chunk := list(islice(rows, PAGE_MAX)):
            ids = sorted({str(r["itemID"]) for r in chunk})
            query = {"itemID": f"IN,[{','.join(ids)}]", "archived": "true"}
            items = {str(i["itemID"]): i for i in self.client.rows("Item", query)}
            for row in chunk:
                shop = shops.get(str(row.get("shopID")), str(row.get("shopID")))
                item = items.get(str(row.get("itemID")), {})

                def level(r: Mapping[str, Any], at: str = shop, of: Any = item) -> dict:
                    return stock_level(r, of, at, self.settings)

                # keyed by the SKU, as the stock flow keys its levels: a mended row's
                # dead letter is then resolved
                yield self._converted(
                    StockLevel,
                    row,
                    sku_of(item, self.settings) if item else str(row.get("itemID")),
                    f"item {row.get('itemID')} at shop {row.get('shopID')}",
                    level,
                )

    @hookimpl
    def fetch_customers(self, since: datetime | None) -> Iterator[Record | RecordInvalid]:
        params = {"sort": "timeStamp", **self._since(since)}
        for row in self.client.rows("Customer", params, ["Contact"]):
            yield self._converted(
                Customer,
                row,
                str(row.get("customerID")),
                f"customer {row.get('customerID')}",
                customer,
            )

    @hookimpl
    def fetch_orders(
        self, since: datetime | None, statuses: list[str] | None
    ) -> Iterator[Record | RecordInvalid]:
        """Completed sales since the cursor by completeTime, then those changed since (a
        void flips `voided` on a sale exported before), each once."""
        queries = [
            {"completed": "true", "sort": "completeTime", **self._since(since, "completeTime")}
        ]
        if since is not None:
            queries.append({"completed": "true", "sort": "timeStamp", **self._since(since)})
        seen: set[str] = set()
        for query in queries:
            for sale in self.client.rows("Sale", query, SALE_RELATIONS):
                sale_id = str(sale.get("saleID"))
                if sale_id in seen:
                    continue
                seen.add(sale_id)
                yield self._converted(
                    Order,
                    sale,
                    sale_id,
                    f"sale {sale_id}",
                    lambda r: order_from_sale(r, self.settings),
                )

    # --- stock in -------------------------------------------------------------------------

    @hookimpl
    def find_products(self, skus: list[str]) -> dict[str, str]:
        found = {}
        field = self.settings.sku_field
        for sku in dict.fromkeys(skus):
            for item in self.client.rows("Item", {field: sku}):
                if sku_of(item, self.settings) == sku:
                    found[sku] = str(item["itemID"])
                    break
        return found

    @hookimpl
    def push_stock(self, levels: list[StockLevel]) -> None:
        shops = self._shop_names()
        if self.settings.shop_id not in shops:
            listed = ", ".join(f"{k} ({v})" for k, v in shops.items())
            raise ConfigError(
                f"lightspeed: shop_id {self.settings.shop_id} is not a shop of account "
                f"{self.client.account} (they are: {listed}); set shop_id to one of them"
            )
        for level in levels:
            items = self.find_products([level.sku])
            if level.sku not in items:
                raise RecordInvalid(
                    f"lightspeed has no item with SKU {level.sku}", key=level.key, field="sku"
                )
            item = self.client.get("Item", items[level.sku], ["ItemShops"])
            rows = one_or_many((item.get("ItemShops") or {}).get("ItemShop"))
            body = stock_body(rows, self.settings.shop_id, level.quantity or Decimal(0))
            if not body["ItemShops"]["ItemShop"]:
                raise RecordInvalid(
                    f"lightspeed: item {level.sku} has no stock row at shop "
                    f"{self.settings.shop_id}",
                    key=level.key,
                    field="location",
                )
            self.client.put("Item", items[level.sku], body, nested=1)
