from __future__ import annotations

from datetime import datetime, timezone

import pytest

from host.schedule import Schedule

T = datetime(2026, 11, 22, 10, 7, 30, tzinfo=timezone.utc)  # a Sunday


def test_every() -> None:
    assert Schedule.parse("every 5m").next_after(T) == datetime(
        2026, 11, 22, 10, 12, 30, tzinfo=timezone.utc
    )
    assert Schedule.parse("every 2 h").interval == 7200
    assert Schedule.parse("every 30s").interval == 30


@pytest.mark.parametrize(
    ("cron", "expected"),
    [
        ("*/15 * * * *", datetime(2026, 11, 22, 10, 15, tzinfo=timezone.utc)),
        ("0 6 * * *", datetime(2026, 11, 23, 6, 0, tzinfo=timezone.utc)),
        ("30 8 * * 1-5", datetime(2026, 11, 23, 8, 30, tzinfo=timezone.utc)),  # next weekday
        ("0 0 1 * *", datetime(2026, 12, 1, 0, 0, tzinfo=timezone.utc)),
        ("5,10 10 * * 0", datetime(2026, 11, 22, 10, 10, tzinfo=timezone.utc)),  # Sunday as 0
        ("0 12 * * 7", datetime(2026, 11, 22, 12, 0, tzinfo=timezone.utc)),  # ... and as 7
    ],
)
def test_cron(cron: str, expected: datetime) -> None:
    assert Schedule.parse(cron).next_after(T) == expected


@pytest.mark.parametrize("text", ["hourly", "every 0m", "61 * * * *", "* * * *", "0 0 31 2 *"])
def test_bad_schedules(text: str) -> None:
    with pytest.raises(ValueError):
        Schedule.parse(text).next_after(T)
