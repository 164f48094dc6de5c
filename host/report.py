"""What a run did: its counts and an action per record (`ihost run --json`, DESIGN §6)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

#: the actions a record can end in, in the order reports show them
COUNT_KEYS = ("read", "created", "updated", "unchanged", "skipped", "failed")
#: actions listed in a report; those beyond are counted in `actions_omitted`
MAX_ACTIONS = 10_000


@dataclass
class Report:
    """What a run did; `as_dict` is the `ihost run --json` shape (DESIGN §6).

    Each action is `{"key", "action", "target_id", "reason"}`; a dry run adds `changes`
    (old -> new of each field an update would change) and `steps` (what the writes a record
    needs first would do, such as an order's debtor) where there are any."""

    flow: str
    kind: str
    dry_run: bool
    run_id: int | None = None
    status: str = "running"
    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(COUNT_KEYS, 0))
    actions: list[dict[str, Any]] = field(default_factory=list)
    actions_omitted: int = 0
    error: str | None = None
    exit_code: int = 0
    cursor: str | None = None
    rate_limit_wait: float = 0.0  # seconds the connectors waited on remote rate limits

    def add(
        self,
        key: str,
        action: str,
        target_id: str | None = None,
        reason: str | None = None,
        changes: dict[str, list[Any]] | None = None,
        steps: list[dict[str, Any]] | None = None,
    ) -> None:
        """Count one record's action and list it (up to MAX_ACTIONS)."""
        self.counts[action] += 1
        if len(self.actions) >= MAX_ACTIONS:
            self.actions_omitted += 1
            return
        entry: dict[str, Any] = {
            "key": key,
            "action": action,
            "target_id": target_id,
            "reason": reason,
        }
        if changes is not None:
            entry["changes"] = changes
        if steps:
            entry["steps"] = steps
        self.actions.append(entry)

    def as_dict(self) -> dict[str, Any]:
        """The report as `ihost run --json` prints it."""
        return {
            "flow": self.flow,
            "kind": self.kind,
            "dry_run": self.dry_run,
            "run_id": self.run_id,
            "status": self.status,
            "counts": self.counts,
            "actions": self.actions,
            "actions_omitted": self.actions_omitted,
            "error": self.error,
            "cursor": self.cursor,
            "rate_limit_wait": round(self.rate_limit_wait, 3),
        }
