"""feedbackData items as Feedback: status from the moments that happened."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from decimal import Decimal

import pytest
from ihost_feeddex.convert import TIMESTAMP, feedback_from_item

from host.models import Feedback


def stamp(days: int) -> str:
    return (datetime.now(timezone.utc) + timedelta(days=days)).strftime(TIMESTAMP)


def test_an_expiration_date_ahead_is_a_deadline_and_moments_count_as_given() -> None:
    """Feeddex's clock may run ahead of ours (the sandbox's does after advance): a sent,
    started, completed moment counts as it is given; only an expiration date still to come
    is not yet an expiry."""
    item = {
        "transaction": {"id": 7, "unitId": 1, "customerCode": "10500"}
        | {"enteredOn": stamp(1), "sentOn": stamp(2), "expirationDate": "2999-01-01"},
        "f100Scores": None,
    }
    feedback = feedback_from_item(item, {"1": "Webshop"}, "1001")
    assert isinstance(feedback, Feedback)
    assert (feedback.status, feedback.unit, feedback.order_number) == ("sent", "Webshop", "1001")
    item["transaction"]["expirationDate"] = "2020-01-01"
    assert feedback_from_item(item, {}, None).status == "expired"  # type: ignore[union-attr]
    item["transaction"] |= {"feedbackCompleted": stamp(3)}
    item["f100Scores"] = {"overallScore": {"value": 85, "valueAsGrade": 8.5}}
    done = feedback_from_item(item, {}, None)
    assert isinstance(done, Feedback)
    assert (done.status, done.score, done.grade) == ("completed", Decimal(85), Decimal("8.5"))


def test_renamed_fields_are_renamed_in_look_ups_too() -> None:
    """field_names renames a filter as it renames the field: a Feeddex that calls the
    external id orderNumber is asked for ?orderNumber= (the sandbox, which knows only
    externalId, refuses the unknown parameter by name: the rename reached the query)."""
    from ihost_feeddex.plugin import FeeddexPlugin
    from ihost_feeddex.sandbox import FeeddexSandbox

    from host.auth import ConnectorContext
    from host.errors import RemoteRejected
    from host.testing import samples

    with FeeddexSandbox() as sandbox:
        settings = FeeddexPlugin.Settings.model_validate(
            {**sandbox.connection_settings(), "field_names": {"externalId": "orderNumber"}}
        )
        plugin = FeeddexPlugin(settings, ConnectorContext("fx"))
        try:
            with pytest.raises(RemoteRejected, match="orderNumber"):
                plugin.find_order(order=samples.order(), order_type="sales_order")
        finally:
            plugin.close()
