"""The AFAS Profit connector (DESIGN §2): target of orders (sales orders, direct invoices or
journal entries), debtors and refunds (credit orders); source of articles, stock,
debtors and delivery notes."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from decimal import Decimal
from typing import Any, Literal

from pydantic import BaseModel, Field, SecretStr

from host import hookimpl
from host.capabilities import Capabilities
from host.errors import RecordInvalid
from host.models import (
    Address,
    Customer,
    Order,
    Product,
    Record,
    Refund,
    Shipment,
    StockLevel,
    record_or_invalid,
)
from host.vocabulary import DebtorField, OrderType
from ihost_afas import client as afas
from ihost_afas.client import AfasClient
from ihost_afas.convert import (
    INVOICE_ID,
    customer_problems,
    debtor_customer,
    debtor_type,
    from_afas_datetime,
    order_problems,
    split_amount,
    to_afas_country,
    to_afas_date,
    to_afas_filter,
)

TWO = Decimal("0.01")


class GetConnectors(BaseModel):
    """The GetConnectors the connector reads (their names are the environment's own)."""

    articles: str = "Profit_Article_Basic"
    stock: str = "ihost_Stock"
    debtors: str = "Profit_Debtor"
    orders: str = "Profit_Salesorders"
    deliveries: str = "ihost_Deliverynotes"
    transactions: str = "Profit_Transactions"


class AfasSettings(BaseModel):
    environment: str = Field(description="the environment number, e.g. 12345 (of O12345AA)")
    token: SecretStr = Field(
        description="the App Connector user's token: its XML, or its data part"
    )
    environment_type: Literal["production", "test", "accept"] = "production"
    base_url: str | None = Field(None, description="instead of https://{env}.rest.afas.online/…")
    integration_id: str | None = Field(None, description="IntegrationId header (AFAS partners)")
    administration: int | None = Field(None, description="Unit: the administration to book in")
    debtor_collective_account: str | None = Field(None, description="ColA of new debtors")
    payment_condition: str = Field("14", max_length=5, description="PaCd of new debtors")
    vat_duty: str = Field("1", max_length=3, description="VaDu of new debtors and orders")
    default_country: str = Field("NL", description="ISO country of addresses that have none")
    warehouse: str | None = Field(None, max_length=15, description="War on orders; stock filter")
    article_item_type: str = Field("2", description="VaIt of article lines")
    cost_item_type: str = Field("6", description="VaIt of the shipping cost line")
    shipping_cost_item: str = Field("VERZEND", max_length=40, description="ItCd of shipping costs")
    unit: str = Field("stk", description="BiUn of article lines")
    order_status: str | None = Field(None, description="OrPr (order processing) of new orders")
    journal: str = Field("20", max_length=6, description="JoCo of financial entries")
    revenue_account: str = Field("8000", description="ledger of revenue (or extra.revenue_account)")
    vat_account: str = Field("1500", description="ledger of VAT payable")
    cost_centre: str | None = Field(
        None, max_length=16, description="allocation axis 1 (DiC1) of revenue; or extra.cost_centre"
    )
    cost_carrier: str | None = Field(
        None, max_length=16, description="allocation axis 2 (DiC2) of revenue; or extra.cost_unit"
    )
    country_codes: dict[str, str] = Field(
        default_factory=dict, description="ISO -> AFAS country codes beyond the built-in ones"
    )
    get_connectors: GetConnectors = Field(default_factory=GetConnectors)
    page_size: int = Field(100, ge=1, le=5000, description="rows per GetConnector call")
    timeout: float = Field(60.0, gt=0)


#: the debtors GetConnector column a debtor is found in, by field (capabilities.debtor_match)
DEBTOR_COLUMNS: dict[DebtorField, str] = {
    "email": "Email",
    "phone": "TelNr",
    "vat_number": "VatNr",
    "key": "DebtorId",
}


def _money(value: Decimal | None) -> str:
    return str((value or Decimal(0)).quantize(TWO))


class AfasPlugin:
    """AFAS Profit through its REST App Connector: sales orders, direct invoices or journal
    entries, debtors and credits in; articles, stock, debtors and delivery notes out."""

    name = "afas"
    title = "AFAS Profit"
    Settings = AfasSettings
    capabilities = Capabilities(
        reads={"products", "stock", "customers", "shipments"},
        writes={"orders", "customers", "refunds"},
        product_types={"simple"},
        order_types={"sales_order", "invoice", "direct_invoice", "financial_entry"},
        debtor_match=set(DEBTOR_COLUMNS),
        stock_batch=100,
        rate_limit="no published limit; at most 5 calls at once",
    )

    def __init__(self, settings: AfasSettings) -> None:
        self.settings = settings
        self.client = AfasClient(
            settings.environment,
            settings.token.get_secret_value(),
            settings.environment_type,
            base_url=settings.base_url,
            integration_id=settings.integration_id,
            timeout=settings.timeout,
        )
        self.get = settings.get_connectors

    def close(self) -> None:
        self.client.close()

    @hookimpl
    def check_connection(self) -> None:
        self.client._call("GET", "/metainfo")

    # --- source ---------------------------------------------------------------------------

    def _rows(
        self, connector: str, since: datetime | None, modified: str, key: str
    ) -> Iterator[dict]:
        filters = [(modified, afas.AT_LEAST, to_afas_filter(since))] if since else []
        return self.client.rows(
            connector, filters, order=[modified, key], take=self.settings.page_size
        )

    @hookimpl
    def fetch_products(self, since: datetime | None) -> Iterator[Product]:
        for row in self._rows(self.get.articles, since, "DateModified", "ItemCode"):
            data = {
                "key": str(row["ItemCode"]),
                "sku": str(row["ItemCode"]),
                "name": row.get("Description") or str(row["ItemCode"]),
                "price": row.get("BasicSalesPrice"),
                "unit": row.get("UnitId"),
                "ean": row.get("Barcode"),
                "active": not row.get("Blocked"),
                "updated_at": from_afas_datetime(row.get("DateModified")),
            }
            if data["price"] is not None:
                data["price"] = str(data["price"])
            yield record_or_invalid(Product, data, key=data["key"], payload=row)

    @hookimpl
    def fetch_stock(self, since: datetime | None) -> Iterator[StockLevel]:
        for row in self._rows(self.get.stock, since, "ModifiedDate", "ItemCode"):
            warehouse = row.get("Warehouse")
            if self.settings.warehouse and warehouse != self.settings.warehouse:
                continue
            data = {
                "key": f"{row['ItemCode']}@{warehouse}" if warehouse else str(row["ItemCode"]),
                "sku": str(row["ItemCode"]),
                "location": warehouse,
                "on_hand": str(row.get("StockActual") or 0),
                "reserved": str(row.get("Reserved") or 0),
                "available": None if row.get("Available") is None else str(row["Available"]),
                "updated_at": from_afas_datetime(row.get("ModifiedDate")),
            }
            yield record_or_invalid(StockLevel, data, key=data["key"], payload=row)

    @hookimpl
    def fetch_customers(self, since: datetime | None) -> Iterator[Record | RecordInvalid]:
        settings = self.settings
        for row in self._rows(self.get.debtors, since, "ModifiedDate", "DebtorId"):
            key = str(row["DebtorId"])
            kind = debtor_type(row)
            if kind is None:
                yield RecordInvalid(
                    f"customer {key}: Type: is neither PER (a person) nor ORG (an organisation)",
                    key=key,
                    field="Type",
                    payload=row,
                )
                continue
            data = debtor_customer(row, kind, settings.country_codes, settings.default_country)
            yield record_or_invalid(Customer, data, key=key, payload=row)

    @hookimpl
    def fetch_shipments(self, since: datetime | None) -> Iterator[Shipment]:
        for row in self._rows(self.get.deliveries, since, "ModifiedDate", "DeliveryNote"):
            trace = row.get("TrackTrace") or None
            is_url = bool(trace and trace.startswith(("http://", "https://")))
            data = {
                "key": str(row["DeliveryNote"]),
                "order_key": str(row["OrderNumber"]) if row.get("OrderNumber") else None,
                "order_number": row.get("CustomerReference") or None,
                "carrier": row.get("Carrier") or None,
                "tracking_number": row.get("TrackTraceNumber") or (None if is_url else trace),
                "tracking_url": trace if is_url else None,
                "shipped_at": from_afas_datetime(row.get("DeliveryDate")),
                "complete": bool(row.get("Complete", True)),
                "updated_at": from_afas_datetime(row.get("ModifiedDate")),
            }
            yield record_or_invalid(Shipment, data, key=data["key"], payload=row)

    # --- debtors --------------------------------------------------------------------------

    @hookimpl
    def find_debtor(self, customer: Customer, match_on: DebtorField) -> str | None:
        column = DEBTOR_COLUMNS.get(match_on)
        if column is None:
            raise RecordInvalid(
                f"afas finds debtors by {', '.join(DEBTOR_COLUMNS)}, not {match_on}",
                field=match_on,
            )
        value = getattr(customer, match_on)
        if not value:
            raise RecordInvalid(
                f"customer {customer.key} has no {match_on}", key=customer.key, field=match_on
            )
        rows = self.client.any_of(self.get.debtors, column, [str(value)])
        wanted = str(value).lower()
        for row in rows:
            if str(row.get(column) or "").lower() == wanted:
                return str(row["DebtorId"])
        return None

    def _address(self, address: Address | None) -> list[dict[str, Any]]:
        if address is None:
            return []
        country = to_afas_country(
            address.country or self.settings.default_country, self.settings.country_codes
        )
        values = {
            "CoId": country,
            "PbAd": False,
            "Ad": address.street,
            "HmNr": int(address.house_number) if (address.house_number or "").isdigit() else None,
            "HmAd": address.house_number_suffix,
            "ZpCd": address.postcode,
            "Rs": address.city,
            "ResZip": False,
        }
        return [
            {
                "KnBasicAddressAdr": {
                    "Element": {"Fields": {k: v for k, v in values.items() if v is not None}}
                }
            }
        ]

    def _person(self, customer: Customer, existing: bool, address: bool = True) -> dict[str, Any]:
        values = {
            "MatchPer": "0" if existing else "7",
            "AutoNum": True,
            "PadAdr": True,
            "FiNm": customer.first_name,
            "LaNm": customer.last_name or customer.email or customer.key,
            "EmAd": customer.email,
            "TeNr": customer.phone,
            "ViGe": "O",
        }
        element: dict[str, Any] = {"Fields": {k: v for k, v in values.items() if v is not None}}
        if address and (
            found := self._address(customer.billing_address or customer.shipping_address)
        ):
            element["Objects"] = found
        return {"KnPerson": {"Element": element}}

    @hookimpl
    def upsert_debtor(self, customer: Customer, existing_id: str | None) -> str:
        self.validate_record("customers", customer, None)
        settings = self.settings
        header: dict[str, Any] = {
            "IsDb": True,
            "CuId": "EUR",
            "PaCd": settings.payment_condition,
            "VaDu": settings.vat_duty,
        }
        if customer.vat_number:
            header["VaId"] = customer.vat_number
        if settings.debtor_collective_account:
            header["ColA"] = settings.debtor_collective_account
        header.update(_native(customer.extra))
        if existing_id:
            header = {"DbId": existing_id, **{k: v for k, v in header.items() if k != "IsDb"}}
        if customer.kind == "company":
            organisation: dict[str, Any] = {
                "Fields": {
                    "MatchOga": "6",
                    "AutoNum": True,
                    "PadAdr": True,
                    "Nm": customer.company,
                    "EmAd": customer.email,
                    "TeNr": customer.phone,
                },
                "Objects": self._address(customer.billing_address or customer.shipping_address),
            }
            organisation["Fields"] = {k: v for k, v in organisation["Fields"].items() if v}
            if customer.first_name or customer.last_name:  # the person at the company
                contact = {"ViKc": "PRS", "EmAd": customer.email, "TeNr": customer.phone}
                organisation["Objects"].append(
                    {
                        "KnContact": {
                            "Element": {
                                "Fields": {k: v for k, v in contact.items() if v},
                                "Objects": [self._person(customer, existing=False, address=False)],
                            }
                        }
                    }
                )
            if not organisation["Objects"]:
                del organisation["Objects"]
            if existing_id:
                organisation["Fields"]["MatchOga"] = "0"
            body = {
                "KnSalesRelationOrg": {
                    "Element": {
                        "Fields": header,
                        "Objects": [{"KnOrganisation": {"Element": organisation}}],
                    }
                }
            }
            connector = "KnSalesRelationOrg"
        else:
            body = {
                "KnSalesRelationPer": {
                    "Element": {
                        "Fields": header,
                        "Objects": [self._person(customer, bool(existing_id))],
                    }
                }
            }
            connector = "KnSalesRelationPer"
        if existing_id:
            self.client.update(connector, body)
            return existing_id
        results = self.client.insert(connector, body)
        return str(results[connector]["DbId"])

    # --- orders ---------------------------------------------------------------------------

    def _reference(self, number: str) -> str:
        return number[:100]

    @hookimpl
    def validate_record(self, entity: str, record: Any, order_type: OrderType | None) -> None:
        if entity == "orders":
            problems = order_problems(record, order_type)
            noun = f"order {record.number}"
        elif entity == "customers":
            problems = customer_problems(record)
            noun = f"customer {record.key}"
        else:
            return
        if problems:
            field, _ = problems[0]
            listed = "; ".join(f"{name}: {problem}" for name, problem in problems)
            raise RecordInvalid(f"{noun}: {listed}", key=record.key, field=field)

    @hookimpl
    def find_order(self, order: Order, order_type: OrderType) -> str | None:
        if order_type == "financial_entry":  # found by its invoice number on the debtor line
            invoice = order.number[:INVOICE_ID]
            rows = self.client.any_of(self.get.transactions, "InvoiceId", [invoice])
            return next(
                (
                    str(r["EntryNo"])
                    for r in rows
                    if r.get("InvoiceId") == invoice
                    and str(r.get("JournalId", self.settings.journal)) == self.settings.journal
                ),
                None,
            )
        reference = self._reference(order.number)
        rows = self.client.any_of(self.get.orders, "CustomerReference", [reference])
        return next(
            (str(r["OrderNumber"]) for r in rows if r.get("CustomerReference") == reference), None
        )

    @hookimpl
    def find_products(self, skus: list[str]) -> dict[str, str]:
        rows = self.client.any_of(self.get.articles, "ItemCode", list(dict.fromkeys(skus)))
        wanted = set(skus)
        return {
            str(r["ItemCode"]): str(r["ItemCode"]) for r in rows if str(r["ItemCode"]) in wanted
        }

    def _lines(self, order: Order) -> list[dict[str, Any]]:
        settings = self.settings
        lines = []
        for line in order.lines:
            values = {
                "VaIt": settings.article_item_type,
                "ItCd": line.sku,
                "Ds": line.name[:255] if line.name else None,  # a description may be cut
                "BiUn": settings.unit,
                "QuUn": str(line.quantity),
                "Upri": _money(line.unit_price),
                "War": settings.warehouse,
                "VaRc": order.extra.get("tax_code"),  # the VAT rate group, mapped by country
            }
            if line.discount and line.quantity:
                gross = line.unit_price * line.quantity
                values["PRDc"] = str((line.discount / gross * 100).quantize(TWO)) if gross else None
            lines.append({"Fields": {k: v for k, v in values.items() if v is not None}})
        for shipping in order.shipping_lines:
            if shipping.price:
                lines.append(
                    {
                        "Fields": {
                            "VaIt": settings.cost_item_type,
                            "ItCd": settings.shipping_cost_item,
                            "Ds": shipping.method or "Shipping",
                            "BiUn": "*****",
                            "QuUn": "1",
                            "Upri": _money(shipping.price),
                        }
                    }
                )
        return lines

    def _sales_body(
        self, order: Order, order_type: str, debtor_id: str | None
    ) -> tuple[str, dict[str, Any]]:
        settings = self.settings
        connector = "FbSales" if order_type == "sales_order" else "FbDirectInvoice"
        header = {
            "DbId": debtor_id,
            "OrDa": to_afas_date(order.created_at),
            "RfCs": self._reference(order.number),
            "CuId": order.currency,
            "InVa": order.prices_include_tax,
            "VaDu": settings.vat_duty,
            "PaTp": order.payment_method[:5] if order.payment_method else None,
            "Unit": settings.administration,
            "War": settings.warehouse,
            "Re": order.note,
        }
        if connector == "FbSales" and settings.order_status:
            header["OrPr"] = settings.order_status
        header.update(_native(order.extra))
        lines_name = f"{connector}Lines"
        body = {
            connector: {
                "Element": {
                    "Fields": {k: v for k, v in header.items() if v is not None},
                    "Objects": [{lines_name: {"Element": self._lines(order)}}],
                }
            }
        }
        return connector, body

    def _entry_body(self, order: Order, debtor_id: str | None) -> dict[str, Any]:
        """A balanced sales journal entry: the debtor for the total, revenue and VAT opposite."""
        if not debtor_id:
            raise RecordInvalid("a financial entry needs a debtor", key=order.key, field="customer")
        settings = self.settings
        day = to_afas_date(order.created_at)
        tax = order.tax_total or Decimal(0)
        total = (
            order.total
            if order.total is not None
            else (
                sum((li.unit_price * li.quantity - li.discount for li in order.lines), Decimal(0))
                + sum((s.price for s in order.shipping_lines), Decimal(0))
            )
        )
        net = total - tax if order.prices_include_tax or order.total is not None else total
        revenue_account = str(order.extra.get("revenue_account") or settings.revenue_account)
        vat_code = order.extra.get("tax_code")

        def line(kind: str, account: str, debit: Decimal, credit: Decimal, **more: Any) -> dict:
            values = {
                "VaAs": kind,
                "AcNr": account,
                "EnDa": day,
                "BpDa": day,
                "BpNr": self._reference(order.number)[:15],
                "Ds": f"Order {order.number}",
                "AmDe": _money(debit),
                "AmCr": _money(credit),
                **more,
            }
            return {"Fields": {k: v for k, v in values.items() if v is not None}}

        lines = [line("2", debtor_id, total, Decimal(0), InId=order.number[:INVOICE_ID])]
        revenue = line("1", revenue_account, Decimal(0), net, VaId=vat_code)
        centre = order.extra.get("cost_centre") or settings.cost_centre
        carrier = order.extra.get("cost_unit") or settings.cost_carrier
        if centre or carrier:
            axes = {
                "DiC1": centre,
                "DiC2": carrier,
                "AmDe": _money(Decimal(0)),
                "AmCr": _money(net),
            }
            revenue["Objects"] = [
                {
                    "FiDimEntries": {
                        "Element": [
                            {"Fields": {k: str(v) for k, v in axes.items() if v is not None}}
                        ]
                    }
                }
            ]
        lines.append(revenue)
        if tax:
            lines.append(line("1", settings.vat_account, Decimal(0), tax, VaId=vat_code))
        when = order.created_at
        header = {
            "Year": when.year,
            "Peri": when.month,
            "UnId": settings.administration,
            "JoCo": settings.journal,
        }
        return {
            "FiEntryPar": {
                "Element": {
                    "Fields": {k: v for k, v in header.items() if v is not None},
                    "Objects": [{"FiEntries": {"Element": lines}}],
                }
            }
        }

    @hookimpl
    def create_order(self, order: Order, order_type: OrderType, debtor_id: str | None) -> str:
        existing = self.find_order(order, order_type)
        if existing:
            return existing  # written before a crash: do not book it twice
        self.validate_record("orders", order, order_type)
        if order_type == "financial_entry":
            results = self.client.insert("FiEntries", self._entry_body(order, debtor_id))
            entry = next(iter(results.values()), {})
            return str(entry.get("EnNo") or entry.get("InId"))
        if not debtor_id:
            raise RecordInvalid(
                "AFAS needs a debtor: set default_debtor or let the flow find one",
                key=order.key,
                field="customer",
            )
        connector, body = self._sales_body(order, order_type, debtor_id)
        return str(self.client.insert(connector, body)[connector]["OrNu"])

    @hookimpl
    def create_refund(self, refund: Refund, order_id: str | None) -> str:
        reference = self._reference(f"credit {refund.key}")
        rows = self.client.any_of(self.get.orders, "CustomerReference", [reference])
        if rows:
            return str(rows[0]["OrderNumber"])
        debtor = str(self._refunded_order(refund, order_id)["DebtorId"])
        lines = self._refund_lines(refund)
        if refund.shipping_amount:
            lines.append(
                {
                    "Fields": {
                        "VaIt": self.settings.cost_item_type,
                        "ItCd": self.settings.shipping_cost_item,
                        "BiUn": "*****",
                        "QuUn": "-1",
                        "Upri": _money(refund.shipping_amount),
                    }
                }
            )
        body = {
            "FbSales": {
                "Element": {
                    "Fields": {
                        "DbId": debtor,
                        "RfCs": reference,
                        "CuId": refund.currency,
                        "Re": refund.reason,
                        "CrOr": True,
                    },
                    "Objects": [{"FbSalesLines": {"Element": lines}}],
                }
            }
        }
        return str(self.client.insert("FbSales", body)["FbSales"]["OrNu"])

    def _refunded_order(self, refund: Refund, order_id: str | None) -> dict[str, Any]:
        """The sales order (or invoice) the refund credits: AFAS order `order_id`, else the
        one create_order booked with the refund's order number as customer reference."""
        if order_id:
            column, value, field = "OrderNumber", order_id, "order_key"
        elif refund.order_number:
            column, field = "CustomerReference", "order_number"
            value = self._reference(refund.order_number)
        else:
            raise RecordInvalid(
                f"refund {refund.key} names no order: it has no order_number to find it by",
                key=refund.key,
                field="order_number",
            )
        rows = self.client.any_of(self.get.orders, column, [value])
        found = next((r for r in rows if str(r.get(column)) == value), None)
        if found is None:
            by = value if order_id else f"with customer reference {value}"
            raise RecordInvalid(
                f"refund {refund.key}: AFAS has no sales order or invoice {by} (an order "
                "booked as a journal entry is not credited)",
                key=refund.key,
                field=field,
            )
        return found

    def _refund_lines(self, refund: Refund) -> list[dict[str, Any]]:
        """Credit lines whose quantity x unit price add up to each refund line's amount
        to the cent (a line's units may take two AFAS lines a cent apart)."""
        lines = []
        for line in refund.lines:
            if not (line.quantity or line.amount):
                continue  # nothing to credit
            if not line.sku:
                if line.amount:
                    raise RecordInvalid(
                        f"refund {refund.key}: a line of {line.amount} has no SKU; "
                        "AFAS credits articles",
                        key=refund.key,
                        field="lines.sku",
                    )
                continue
            try:
                parts = split_amount(line.amount, line.quantity)
            except ValueError as exc:
                raise RecordInvalid(
                    f"refund {refund.key}: SKU {line.sku}: {exc}", key=refund.key, field="lines"
                ) from None
            lines += [
                {
                    "Fields": {
                        "VaIt": self.settings.article_item_type,
                        "ItCd": line.sku,
                        "BiUn": self.settings.unit,
                        "QuUn": str(-quantity),
                        "Upri": str(price),
                    }
                }
                for quantity, price in parts
            ]
        return lines


def _native(extra: dict[str, Any]) -> dict[str, Any]:
    """Custom fields: `native.X` keys go into the AFAS Fields as they are."""
    return {k[len("native.") :]: v for k, v in extra.items() if k.startswith("native.")}
