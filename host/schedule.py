"""Flow schedules: `every N[s|m|h|d]` or a 5-field cron expression (minute hour day month
weekday; `*`, numbers, `a-b`, lists and `/step`; weekday 0 or 7 is Sunday)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta

_EVERY = re.compile(r"every\s+(\d+)\s*([smhd])")
_UNIT = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_BOUNDS = ((0, 59), (0, 23), (1, 31), (1, 12), (0, 7))


def _field(text: str, low: int, high: int) -> frozenset[int]:
    values: set[int] = set()
    for part in text.split(","):
        body, _, step_text = part.partition("/")
        step = int(step_text) if step_text else 1
        if body == "*":
            start, end = low, high
        elif "-" in body:
            start, end = (int(v) for v in body.split("-", 1))
        else:
            start = end = int(body)
            if step_text:
                end = high
        if not (low <= start <= end <= high) or step < 1:
            raise ValueError(f"{part!r} is outside {low}-{high}")
        values.update(range(start, end + 1, step))
    return frozenset(values)


@dataclass(frozen=True)
class Schedule:
    """When a flow runs next."""

    text: str
    interval: float | None = None
    fields: tuple[frozenset[int], ...] = ()

    @classmethod
    def parse(cls, text: str) -> Schedule:
        cleaned = text.strip()
        if match := _EVERY.fullmatch(cleaned):
            seconds = int(match[1]) * _UNIT[match[2]]
            if seconds <= 0:
                raise ValueError("the interval must be at least one second")
            return cls(cleaned, interval=float(seconds))
        parts = cleaned.split()
        if len(parts) != 5:
            raise ValueError(
                f'{text!r} is neither "every N[s|m|h|d]" nor a 5-field cron expression'
            )
        fields = tuple(_field(p, lo, hi) for p, (lo, hi) in zip(parts, _BOUNDS, strict=True))
        weekdays = fields[4] | ({0} if 7 in fields[4] else set())
        return cls(cleaned, fields=(*fields[:4], frozenset(weekdays - {7})))

    def next_after(self, moment: datetime) -> datetime:
        """The first time after `moment` this schedule fires."""
        if self.interval is not None:
            return moment + timedelta(seconds=self.interval)
        minutes, hours, days, months, weekdays = self.fields
        candidate = moment.replace(second=0, microsecond=0) + timedelta(minutes=1)
        for _ in range(366 * 24 * 60):  # a year of minutes at most
            if (
                candidate.month in months
                and candidate.day in days
                and (candidate.isoweekday() % 7) in weekdays
                and candidate.hour in hours
                and candidate.minute in minutes
            ):
                return candidate
            candidate += timedelta(minutes=1)
        raise ValueError(f"{self.text!r} never fires")
