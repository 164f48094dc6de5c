"""Every GraphQL operation the connector sends (a test validates each against the schema)."""

from __future__ import annotations

MONEY = "shopMoney { amount currencyCode }"
#: line items read with an order: Shopify charges each, so an order page stays under the
#: 1000-point limit only with a few orders of at most this many lines (see page_size)
LINES_PER_ORDER = 30

ADDRESS = """
fragment Address on MailingAddress {
  firstName lastName name company address1 address2 zip city province provinceCode
  countryCodeV2 phone
}
"""

SHOP = "query Shop { shop { name myshopifyDomain currencyCode } }"

#: the fields of an order the connector reads (paged and bulk); its nested connections follow
ORDER_FIELDS = (
    """
fragment OrderFields on Order {
  id name email createdAt updatedAt cancelledAt note tags poNumber
  displayFinancialStatus displayFulfillmentStatus currencyCode taxesIncluded
  paymentGatewayNames
  totalPriceSet { %(money)s }
  totalTaxSet { %(money)s }
  customer { id firstName lastName email phone locale updatedAt }
  billingAddress { ...Address }
  shippingAddress { ...Address }
}
"""
    % {"money": MONEY}
    + ADDRESS
)
LINE_FIELDS = """
fragment LineFields on LineItem {
  sku name quantity originalUnitPriceSet { %(money)s }
  totalDiscountSet { %(money)s } taxLines { rate }
}
""" % {"money": MONEY}
SHIPPING_FIELDS = """
fragment ShippingFields on ShippingLine {
  title code originalPriceSet { %(money)s } discountedPriceSet { %(money)s }
  taxLines { rate }
}
""" % {"money": MONEY}
PAGE_INFO = "pageInfo { hasNextPage endCursor }"

ORDERS = (
    """
query Orders($first: Int!, $after: String, $query: String!) {
  orders(first: $first, after: $after, query: $query, sortKey: UPDATED_AT) {
    %(page)s
    nodes {
      ...OrderFields
      shippingLines(first: 5) { %(page)s nodes { ...ShippingFields } }
      lineItems(first: %(lines)d) { %(page)s nodes { ...LineFields } }
    }
  }
}
"""
    % {"page": PAGE_INFO, "lines": LINES_PER_ORDER}
    + ORDER_FIELDS
    + LINE_FIELDS
    + SHIPPING_FIELDS
)

#: the rest of an order's lines, past the first page read with the order
ORDER_LINES = (
    """
query OrderLines($id: ID!, $after: String) {
  order(id: $id) { lineItems(first: 100, after: $after) { %(page)s nodes { ...LineFields } } }
}
"""
    % {"page": PAGE_INFO}
    + LINE_FIELDS
)

ORDER_SHIPPING_LINES = (
    """
query OrderShippingLines($id: ID!, $after: String) {
  order(id: $id) {
    shippingLines(first: 100, after: $after) { %(page)s nodes { ...ShippingFields } }
  }
}
"""
    % {"page": PAGE_INFO}
    + SHIPPING_FIELDS
)

#: a bulk export of orders (api/shopify.md §10): no sizes; nested nodes name their type
BULK_ORDERS = (
    """
{
  orders(query: %s, sortKey: UPDATED_AT) {
    edges { node {
      ...OrderFields
      shippingLines { edges { node { __typename ...ShippingFields } } }
      lineItems { edges { node { __typename ...LineFields } } }
    } }
  }
}
"""
    + ORDER_FIELDS
    + LINE_FIELDS
    + SHIPPING_FIELDS
)

BULK_RUN = """
mutation BulkRun($query: String!, $group: Boolean) {
  bulkOperationRunQuery(query: $query, groupObjects: $group) {
    bulkOperation { id status }
    userErrors { field message code }
  }
}
"""

BULK_RUN_UNGROUPED = """
mutation BulkRunDefault($query: String!) {
  bulkOperationRunQuery(query: $query) {
    bulkOperation { id status }
    userErrors { field message code }
  }
}
"""

BULK_STATUS = """
query BulkStatus($id: ID!) {
  node(id: $id) {
    ... on BulkOperation { id status errorCode objectCount url partialDataUrl }
  }
}
"""

REFUNDS = """
query Refunds($first: Int!, $after: String, $query: String!) {
  orders(first: $first, after: $after, query: $query, sortKey: UPDATED_AT) {
    pageInfo { hasNextPage endCursor }
    nodes {
      id name updatedAt currencyCode
      refunds(first: 20) {
        id createdAt note
        totalRefundedSet { %(money)s }
        refundLineItems(first: %(lines)d) {
          %(page)s
          nodes { quantity lineItem { sku } subtotalSet { %(money)s } }
        }
      }
    }
  }
}
""" % {"money": MONEY, "lines": LINES_PER_ORDER, "page": PAGE_INFO}

#: the rest of a refund's lines
REFUND_LINES = """
query RefundLines($id: ID!, $after: String) {
  node(id: $id) {
    ... on Refund {
      refundLineItems(first: 100, after: $after) {
        %(page)s
        nodes { quantity lineItem { sku } subtotalSet { %(money)s } }
      }
    }
  }
}
""" % {"money": MONEY, "page": PAGE_INFO}

VARIANTS_BY_SKU = """
query VariantsBySku($first: Int!, $query: String!) {
  productVariants(first: $first, query: $query) {
    nodes { id sku product { id } inventoryItem { id } }
  }
}
"""

INVENTORY_ITEMS_BY_SKU = """
query InventoryItemsBySku($first: Int!, $query: String!) {
  productVariants(first: $first, query: $query) { nodes { sku inventoryItem { id } } }
}
"""

PRODUCTS_BY_HANDLE = """
query ProductsByHandle($query: String!) { products(first: 1, query: $query) { nodes { id } } }
"""

PRODUCT = """
query Product($id: ID!) {
  product(id: $id) {
    id title
    variants(first: 250) { nodes { id sku selectedOptions { name value } } }
  }
}
"""

PRODUCT_SET = """
mutation ProductSet($input: ProductSetInput!) {
  productSet(input: $input, synchronous: true) {
    product { id variants(first: 250) { nodes { id sku } } }
    userErrors { field message code }
  }
}
"""

VARIANTS_BULK_UPDATE = """
mutation VariantsBulkUpdate($productId: ID!, $variants: [ProductVariantsBulkInput!]!) {
  productVariantsBulkUpdate(productId: $productId, variants: $variants) {
    productVariants { id sku price }
    userErrors { field message code }
  }
}
"""

COLLECTIONS = """
query Collections($query: String!) {
  collections(first: 5, query: $query) { nodes { id title } }
}
"""

COLLECTION_CREATE = """
mutation CollectionCreate($input: CollectionInput!) {
  collectionCreate(input: $input) { collection { id title } userErrors { field message } }
}
"""

LOCATIONS = "query Locations { locations(first: 10) { nodes { id name isActive } } }"

INVENTORY_SET = """
mutation InventorySet($input: InventorySetQuantitiesInput!, $key: String!) {
  inventorySetQuantities(input: $input) @idempotent(key: $key) {
    inventoryAdjustmentGroup { id }
    userErrors { field message code }
  }
}
"""

CUSTOMERS_BY = """
query CustomersBy($query: String!) {
  customers(first: 10, query: $query) { nodes { id email phone } }
}
"""

CUSTOMER_CREATE = """
mutation CustomerCreate($input: CustomerInput!) {
  customerCreate(input: $input) { customer { id } userErrors { field message } }
}
"""

CUSTOMER_UPDATE = """
mutation CustomerUpdate($input: CustomerInput!) {
  customerUpdate(input: $input) { customer { id } userErrors { field message } }
}
"""

ORDER_BY_NAME = """
query OrderByName($query: String!) { orders(first: 1, query: $query) { nodes { id name } } }
"""

FULFILMENT_ORDER_FIELDS = """
fragment FulfilmentOrderFields on FulfillmentOrder {
  id status lineItems(first: 50) { %(page)s nodes { id remainingQuantity sku } }
}
""" % {"page": PAGE_INFO}

ORDER_FULFILMENT = (
    """
query OrderFulfilment($id: ID!) {
  order(id: $id) {
    id name
    fulfillments(first: 50) { id trackingInfo { number company url } }
    fulfillmentOrders(first: 5) { %(page)s nodes { ...FulfilmentOrderFields } }
  }
}
"""
    % {"page": PAGE_INFO}
    + FULFILMENT_ORDER_FIELDS
)

ORDER_FULFILMENT_ORDERS = (
    """
query OrderFulfilmentOrders($id: ID!, $after: String) {
  order(id: $id) {
    fulfillmentOrders(first: 5, after: $after) { %(page)s nodes { ...FulfilmentOrderFields } }
  }
}
"""
    % {"page": PAGE_INFO}
    + FULFILMENT_ORDER_FIELDS
)

FULFILMENT_ORDER_LINES = """
query FulfilmentOrderLines($id: ID!, $after: String) {
  node(id: $id) {
    ... on FulfillmentOrder {
      lineItems(first: 100, after: $after) { %(page)s nodes { id remainingQuantity sku } }
    }
  }
}
""" % {"page": PAGE_INFO}

FULFILLMENT_CREATE = """
mutation FulfillmentCreate($fulfillment: FulfillmentInput!) {
  fulfillmentCreate(fulfillment: $fulfillment) {
    fulfillment { id status trackingInfo { number company url } }
    userErrors { field message }
  }
}
"""

#: every operation, by name, for the schema test
OPERATIONS = {
    name: text
    for name, text in globals().items()
    if name.isupper() and isinstance(text, str) and ("query " in text or "mutation " in text)
}
