"""A named transform (`ihost.transforms` entry point) for the host's tests."""

from __future__ import annotations

from typing import Any


def tag_web(record: Any) -> Any:
    """Tag an order as coming from the web shop."""
    return record.model_copy(update={"tags": [*record.tags, "web"]})
