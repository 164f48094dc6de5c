"""Tests that need the third-party specs (DESIGN §9): skipped with the reason in a clone
with nothing beside it, an error where the specs are required ($IHOST_REQUIRE_SPECS=1, as
CI sets it), so they can never be skipped silently there."""

from __future__ import annotations

import os

import pytest

REQUIRE_VARIABLE = "IHOST_REQUIRE_SPECS"


def required() -> bool:
    return os.environ.get(REQUIRE_VARIABLE) == "1"


def need_specs(present: bool, what: str) -> None:
    """Skip (or, when required, fail) the calling test unless `present`."""
    if present:
        return
    reason = f"{what} not found beside the repository (../shared/specs, or set IHOST_SPECS_DIR)"
    if required():
        pytest.fail(f"{reason}, but {REQUIRE_VARIABLE}=1", pytrace=False)
    pytest.skip(reason)
