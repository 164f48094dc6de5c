"""The AFAS client, conversions and the sandbox's GetConnector semantics."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from datetime import datetime, timezone

import pytest
from ihost_afas import sandbox as afas
from ihost_afas.client import AfasClient, token_value
from ihost_afas.convert import (
    from_afas_country,
    from_afas_datetime,
    to_afas_country,
    to_afas_date,
    to_afas_filter,
)
from ihost_afas.sandbox import AfasSandbox

from host.errors import AuthError, RemoteRejected

DATA = "5A" * 32


def test_token_forms() -> None:
    xml = f"<token><version>1</version><data>{DATA}</data></token>"
    encoded = base64.b64encode(xml.encode()).decode()
    assert token_value(xml) == token_value(DATA) == token_value(encoded) == encoded


def test_country_codes_both_ways() -> None:
    assert [to_afas_country(c) for c in ("NL", "BE", "DE", "US", "FI")] == [
        "NL",
        "B",
        "D",
        "USA",
        "FIN",
    ]
    assert [from_afas_country(c) for c in ("NL", "B", "D", "USA", "FIN")] == [
        "NL",
        "BE",
        "DE",
        "US",
        "FI",
    ]
    assert (
        to_afas_country("GB", {"GB": "GB"}) == "GB" and from_afas_country("X", {"XK": "X"}) == "XK"
    )


def test_dates_are_amsterdam_local_despite_the_z() -> None:
    summer = from_afas_datetime("2026-07-01T12:00:00Z")
    winter = from_afas_datetime("2026-01-01T12:00:00Z")
    assert summer == datetime(2026, 7, 1, 10, 0, tzinfo=timezone.utc)
    assert winter == datetime(2026, 1, 1, 11, 0, tzinfo=timezone.utc)
    assert to_afas_filter(summer) == "2026-07-01T12:00:00"
    assert to_afas_date(datetime(2026, 6, 30, 23, 30, tzinfo=timezone.utc)) == "2026-07-01"


@pytest.fixture
def box() -> Iterator[AfasSandbox]:
    with AfasSandbox() as running:
        running.seed(
            afas.ARTICLES,
            [
                {
                    "ItemCode": f"A{i:03d}",
                    "Description": "x" if i % 2 else "y",
                    "Blocked": False,
                    "DateModified": f"2026-05-{1 + i % 28:02d}T10:00:00Z",
                }
                for i in range(250)
            ],
        )
        yield running


def client(box: AfasSandbox, token: str | None = None) -> AfasClient:
    settings = box.connection_settings()
    return AfasClient("12345", token or settings["token"], "test", base_url=settings["base_url"])


def test_get_connector_paging_filters_and_order(box: AfasSandbox) -> None:
    afas_client = client(box)
    rows = list(afas_client.rows(afas.ARTICLES, order=["-ItemCode"], take=100))
    assert len(rows) == 250 and rows[0]["ItemCode"] == "A249"
    assert len(box.calls_to("/ProfitRestServices/connectors/")) == 3  # 100, 100, 50
    since = list(afas_client.rows(afas.ARTICLES, [("DateModified", "2", "2026-05-28T00:00:00")]))
    assert {r["ItemCode"] for r in since} == {
        "A027",
        "A055",
        "A083",
        "A111",
        "A139",
        "A167",
        "A195",
        "A223",
    }
    either = afas_client.any_of(afas.ARTICLES, "ItemCode", ["A001", "a002", "ZZZ"])
    assert [r["ItemCode"] for r in either] == ["A001", "A002"]  # AFAS compares without case
    before = len(box.calls_to("/ProfitRestServices/connectors/"))
    many = afas_client.any_of(afas.ARTICLES, "Description", ["x"], take=100)
    assert len(many) == 125  # read on past a full page, not cut off at take
    assert len(box.calls_to("/ProfitRestServices/connectors/")) == before + 2
    afas_client.close()


def test_get_connector_errors_as_afas_gives_them(box: AfasSandbox) -> None:
    afas_client = client(box)
    with pytest.raises(RemoteRejected, match="Connector field 'Colour' not found"):
        list(afas_client.rows(afas.ARTICLES, [("Colour", "1", "red")]))
    with pytest.raises(AuthError, match="not in the App Connector"):
        list(afas_client.rows("Profit_NotEnabled"))
    with pytest.raises(AuthError):
        client(box, token="f" * 64).version()
    assert client(box).version() == "22.22.5"
    afas_client.close()


def test_update_connector_refusals_name_the_field(box: AfasSandbox) -> None:
    afas_client = client(box)
    body = {"FbSales": {"Element": {"Fields": {"DbId": "1", "OrNu": "X" * 13}}}}
    with pytest.raises(RemoteRejected) as info:
        afas_client.insert("FbSales", body)
    assert "FbSales.Element.Fields.OrNu: 'XXXXXXXXXXXXX' is too long" in str(info.value)
    assert "AFAS log reference" in str(info.value)
    assert box.calls_to("/ProfitRestServices/connectors/FbSales")[-1].status == 500
    assert len(box.calls_to("/ProfitRestServices/connectors/FbSales")) == 1  # not retried
    afas_client.close()
