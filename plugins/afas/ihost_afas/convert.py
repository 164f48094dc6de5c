"""AFAS values <-> host.models: country codes, Amsterdam-local dates, debtor and order bodies."""

from __future__ import annotations

from datetime import date, datetime, timezone
from zoneinfo import ZoneInfo

AMSTERDAM = ZoneInfo("Europe/Amsterdam")

#: ISO 3166-1 alpha-2 -> AFAS country code where they differ (api/afas.md §4.1); every other
#: country uses its ISO code. Extend with the `country_codes` setting.
AFAS_COUNTRY = {
    "BE": "B",
    "DE": "D",
    "FR": "F",
    "AT": "A",
    "ES": "E",
    "IT": "I",
    "LU": "L",
    "US": "USA",
    "SE": "S",
    "NO": "N",
    "PT": "P",
    "FI": "FIN",
    "JP": "J",
}


def to_afas_country(iso: str | None, extra: dict[str, str] | None = None) -> str | None:
    if iso is None:
        return None
    table = {**AFAS_COUNTRY, **(extra or {})}
    return table.get(iso, iso)


def from_afas_country(code: str | None, extra: dict[str, str] | None = None) -> str | None:
    if code is None:
        return None
    reverse = {afas: iso for iso, afas in {**AFAS_COUNTRY, **(extra or {})}.items()}
    return reverse.get(code, code)


def from_afas_datetime(text: str | None) -> datetime | None:
    """An AFAS timestamp (Amsterdam local time, despite its "Z") as aware UTC."""
    if not text:
        return None
    local = datetime.fromisoformat(text.rstrip("Z").replace("Z", ""))
    if local.tzinfo is None:
        local = local.replace(tzinfo=AMSTERDAM)
    return local.astimezone(timezone.utc)


def to_afas_filter(moment: datetime) -> str:
    """A moment as AFAS compares it in a filter: Amsterdam local time, no "Z"."""
    return moment.astimezone(AMSTERDAM).strftime("%Y-%m-%dT%H:%M:%S")


def to_afas_date(moment: datetime | date) -> str:
    """The Amsterdam calendar date of a moment, as AFAS dates are written."""
    if isinstance(moment, datetime):
        moment = moment.astimezone(AMSTERDAM).date()
    return moment.isoformat()
