"""`ihost run --dry-run`: host middleware that answers every write hook, writing nothing."""

from __future__ import annotations

from typing import Any

from host.errors import RemoteRejected
from host.hookspecs import hookimpl
from host.plugins import Connection

#: the debtor id a dry run answers for a debtor it would create
NEW_DEBTOR = "(new debtor)"


class DryRun:
    """Registered first on a dry run's target: answers every write hook, writing nothing.

    Reads go to the connector as in a real run. What the run would have created, later
    records of it find through the runner (a second order of a new customer uses the
    debtor the first one would have made, as in the real run), and a stock level for a
    SKU the target does not have fails as the real push would."""

    def __init__(self, target: Connection) -> None:
        self.target = target

    def _preview(
        self, entity: str, record: Any, order_type: str | None, target_id: str | None
    ) -> None:
        """Let a target with a validate-only mode check the write (preview_write)."""
        if self.target.implements("preview_write"):
            self.target.hook.preview_write(
                entity=entity, record=record, order_type=order_type, target_id=target_id
            )

    @hookimpl(tryfirst=True)
    def create_order(self, order: Any, order_type: str, debtor_id: str | None) -> str:
        known = debtor_id if debtor_id and debtor_id != NEW_DEBTOR else None
        self._preview("orders", order, order_type, known)
        return "(new order)"

    @hookimpl(tryfirst=True)
    def upsert_debtor(self, customer: Any, existing_id: str | None) -> str:
        self._preview("customers", customer, None, existing_id)
        return existing_id or NEW_DEBTOR

    @hookimpl(tryfirst=True)
    def create_debtors(self, customers: list[Any]) -> list[str]:
        for customer in customers:  # each checked as upsert_debtor would check it
            self._preview("customers", customer, None, None)
        return [NEW_DEBTOR] * len(customers)

    @hookimpl(tryfirst=True)
    def upsert_product(self, existing_id: str | None) -> str:
        return existing_id or "(new product)"

    @hookimpl(tryfirst=True)
    def push_stock(self, levels: list[Any]) -> bool:
        target = self.target
        if target.implements("find_products") and not target.capabilities.switched_off(
            "products", target.settings
        ):
            skus = list(dict.fromkeys(level.sku for level in levels))
            known = self.target.hook.find_products(skus=skus) or {}
            missing = [sku for sku in skus if sku not in known]
            if missing:
                raise RemoteRejected(
                    f"{self.target.name} has no product with SKU {', '.join(missing)}"
                )
        return True  # an answer other than None keeps the connector from being called

    @hookimpl(tryfirst=True)
    def create_shipment(self, shipment: Any) -> str:
        return "(new shipment)"

    @hookimpl(tryfirst=True)
    def create_refund(self, refund: Any) -> str:
        return "(new refund)"

    @hookimpl(tryfirst=True)
    def write_feedback(self, feedback: Any) -> str:
        return "(feedback kept)"
