"""Feedback flow: a customer's feedback on an order, kept with the order in the target
(DESIGN §4).

The order is found as shipments find theirs: through the bindings of an orders flow
between the same two connections, in either direction (a webshop order sent to a feedback
service comes back as that service's feedback). Feedback moves on (sent, reminded,
completed with a score): each change is written again over what the target keeps for it.
The binding keeps the feedback's order number, status, score, grade and dates (`KEPT`; no
personal data) in its fingerprint, so the dashboard shows each order's feedback.
"""

from __future__ import annotations

import json

from host.flows import Action, FlowSettings, Outcome, Unit
from host.flows.shipments import _OrderAttached
from host.flows.writes import CommitEach, WriteStrategy

#: the fields of a feedback its binding keeps, for the dashboard
KEPT = ("order_number", "unit", "status", "score", "grade", "sent_at", "completed_at")


class FeedbackSettings(FlowSettings):
    pass


class FeedbackFlow(_OrderAttached):
    kind = "feedback"
    Settings = FeedbackSettings

    def writes(self) -> WriteStrategy:
        return CommitEach()  # written again as it moves on: the hook replaces what it kept

    def write(self, unit: Unit) -> Outcome:
        feedback = unit.record
        order_id = self.target_order_id(feedback)
        target_id = self.ctx.target.hook.write_feedback(feedback=feedback, order_id=order_id)
        action: Action = "created" if unit.binding is None else "updated"
        reason = None
        if order_id is None and feedback.order_number:
            reason = f"order {feedback.order_number} found by number"
        return Outcome(action, str(target_id), reason)

    def fingerprint(self, unit: Unit) -> str:
        return json.dumps(unit.record.model_dump(mode="json", include=set(KEPT)))
