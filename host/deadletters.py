"""Retrying dead letters: the records run through their flow again (CLI, dashboard, and the
daemon on each flow's `dead_letter_retries` schedule)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from host.config import Config, FlowConfig
from host.models import RECORD_TYPES
from host.plugins import Registry
from host.runner import Runner
from host.store import DeadLetter, Store


@dataclass
class Retried:
    """What became of one dead letter."""

    letter: DeadLetter
    resolved: bool
    message: str


def retryable(letters: Iterable[DeadLetter]) -> list[tuple[DeadLetter, Any]]:
    """The letters whose payload is still a valid record, with that record."""
    found = []
    for letter in letters:
        try:
            found.append((letter, RECORD_TYPES[letter.entity].model_validate(letter.payload)))
        except Exception:
            continue
    return found


def next_retry(letter: DeadLetter, flow: FlowConfig) -> datetime | None:
    """When the daemon retries `letter` by itself, or None when it no longer will: the
    first retry `dead_letter_wait_minutes` after the failure, each next one twice as late,
    `dead_letter_retries` in all."""
    settings = flow.flow_settings
    done = letter.attempts - 1  # the first attempt was the run that dead-lettered it
    if letter.status != "open" or letter.payload is None or done >= settings.dead_letter_retries:
        return None
    return letter.updated_at + timedelta(minutes=settings.dead_letter_wait_minutes * 2**done)


def due_letters(letters: Iterable[DeadLetter], flow: FlowConfig, now: datetime) -> list[DeadLetter]:
    """The letters whose automatic retry is due at `now`."""
    return [
        letter
        for letter in letters
        if (when := next_retry(letter, flow)) is not None and when <= now
    ]


def retry(
    config: Config, registry: Registry, store: Store, letters: list[DeadLetter]
) -> list[Retried]:
    """Write the records of `letters` again, flow by flow; those that go through are resolved
    by the run itself. Raises the run's error when a flow stops (remote unreachable), and
    FlowBusy when the flow is running."""
    outcomes: list[Retried] = []
    by_flow: dict[str, list[tuple[DeadLetter, Any]]] = {}
    usable = {letter.id: record for letter, record in retryable(letters)}
    for letter in letters:
        if letter.status != "open":
            outcomes.append(Retried(letter, True, "already resolved"))
        elif letter.flow not in config.flows:
            outcomes.append(Retried(letter, False, f"flow {letter.flow!r} is no longer configured"))
        elif letter.id not in usable:
            why = "payload purged" if letter.payload is None else "payload is not a valid record"
            outcomes.append(Retried(letter, False, f"cannot retry ({why}); fix it at the source"))
        else:
            by_flow.setdefault(letter.flow, []).append((letter, usable[letter.id]))
    for flow, items in by_flow.items():
        report = Runner(config, flow, registry, store=store).run(records=[r for _, r in items])
        if report.error:
            raise RuntimeError(f"{flow}: {report.error}")
        for letter, _ in items:
            now = store.get_dead_letter(letter.id)
            resolved = now is not None and now.status == "resolved"
            outcomes.append(
                Retried(
                    letter,
                    resolved,
                    "resolved" if resolved else f"failed again: {now.error if now else '?'}",
                )
            )
    return outcomes
