"""Retrying dead letters: the records run through their flow again (CLI and dashboard)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from host.config import Config
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


def retry(
    config: Config, registry: Registry, store: Store, letters: list[DeadLetter]
) -> list[Retried]:
    """Write the records of `letters` again, flow by flow; those that go through are resolved
    by the run itself. Raises the run's error when a flow stops (remote unreachable)."""
    outcomes: list[Retried] = []
    by_flow: dict[str, list[tuple[DeadLetter, Any]]] = {}
    for letter in letters:
        if letter.status != "open":
            outcomes.append(Retried(letter, True, "already resolved"))
        elif letter.flow not in config.flows:
            outcomes.append(Retried(letter, False, f"flow {letter.flow!r} is no longer configured"))
        else:
            try:
                record = RECORD_TYPES[letter.entity].model_validate(letter.payload)
            except Exception:
                why = (
                    "payload purged" if letter.payload is None else "payload is not a valid record"
                )
                outcomes.append(
                    Retried(letter, False, f"cannot retry ({why}); fix it at the source")
                )
                continue
            by_flow.setdefault(letter.flow, []).append((letter, record))
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
