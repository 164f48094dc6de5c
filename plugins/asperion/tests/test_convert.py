"""Asperion's values both ways: Amsterdam local times around the clock changes, amounts to
the cent, names and addresses."""

from __future__ import annotations

from datetime import datetime, timezone
from decimal import Decimal

import pytest
from ihost_asperion.convert import (
    customer_from_debtor,
    from_local,
    net_and_vat,
    split_name,
    to_local,
    to_local_date,
)


@pytest.mark.parametrize(
    ("local", "utc"),
    [
        ("2026-01-15T12:00:00", "2026-01-15T11:00:00+00:00"),  # winter: UTC+1
        ("2026-07-15T12:00:00", "2026-07-15T10:00:00+00:00"),  # summer: UTC+2
        ("2026-03-29T03:30:00", "2026-03-29T01:30:00+00:00"),  # just after the spring change
        ("2026-10-25T01:59:59", "2026-10-24T23:59:59+00:00"),
        ("2026-05-01", "2026-04-30T22:00:00+00:00"),  # a date is its local midnight
        ("2026-05-01T10:00:00Z", "2026-05-01T10:00:00+00:00"),  # a zone given is kept
    ],
)
def test_local_times_read_as_amsterdam(local: str, utc: str) -> None:
    moment = from_local(local)
    assert moment is not None and moment.isoformat() == utc


def test_moments_written_in_amsterdam_time_and_day() -> None:
    late = datetime(2026, 3, 28, 23, 30, tzinfo=timezone.utc)
    assert to_local(late) == "2026-03-29T00:30:00"
    assert to_local_date(late) == "2026-03-29"  # booked on the Amsterdam day
    summer = datetime(2026, 6, 30, 22, 15, 30, 123456, tzinfo=timezone.utc)
    assert to_local(summer) == "2026-07-01T00:15:30"
    for moment in (late, summer):  # both ways, to the second
        assert from_local(to_local(moment)) == moment.replace(microsecond=0)


@pytest.mark.parametrize(
    ("gross", "rate", "includes", "net", "vat"),
    [
        ("10.00", "21", True, "8.26", "1.74"),
        ("4.95", "21", True, "4.09", "0.86"),
        ("24.20", "9", True, "22.20", "2.00"),
        ("10.00", "21", False, "10.00", "2.10"),
        ("0.01", "21", True, "0.01", "0.00"),
        ("100.00", "0", True, "100.00", "0.00"),
    ],
)
def test_net_and_vat_add_up_to_the_cent(
    gross: str, rate: str, includes: bool, net: str, vat: str
) -> None:
    found = net_and_vat(Decimal(gross), Decimal(rate), includes)
    assert found == (Decimal(net), Decimal(vat))
    if includes:
        assert found[0] + found[1] == Decimal(gross)


def test_names_split_as_dutch_names_are_written() -> None:
    assert split_name("Anna de Vries") == ("Anna", "de Vries")
    assert split_name("Cher") == (None, "Cher")
    assert split_name("  ") == (None, None)


def test_a_company_debtor_is_named_by_its_contact_and_a_person_by_its_name() -> None:
    company = customer_from_debtor(
        {
            "id": 1,
            "customerNumber": "10001",
            "name": "Acme BV",
            "attentionTo": "Jan Jansen",
            "address": "Dorpsstraat 12 b",
            "postCode": "1234 AB",
            "city": "Utrecht",
            "countryCode": "NL",
            "dateLastChange": "2026-05-01T12:00:00",
        }
    )
    assert (company["company"], company["first_name"], company["last_name"]) == (
        "Acme BV",
        "Jan",
        "Jansen",
    )
    address = company["billing_address"]
    assert (address["street"], address["house_number"], address["house_number_suffix"]) == (
        "Dorpsstraat",
        "12",
        "b",
    )
    assert company["updated_at"].isoformat() == "2026-05-01T10:00:00+00:00"
    person = customer_from_debtor({"id": 2, "customerNumber": "10002", "name": "Piet Jansen"})
    assert person["company"] is None and person["last_name"] == "Jansen"
    assert person["billing_address"] is None
