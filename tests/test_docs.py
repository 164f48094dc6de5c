"""The documentation keeps to the code: docs/hooks.md is what `python -m host.hookdoc`
generates from host/hookspecs.py."""

from __future__ import annotations

import difflib
import types
from pathlib import Path

import pytest

from host import hookdoc, hookspecs
from host.hookspecs import HOOKS

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"


# --- the hook reference -------------------------------------------------------------------


def test_hook_reference_is_generated_from_the_specs() -> None:
    written = (DOCS / "hooks.md").read_text(encoding="utf-8")
    generated = hookdoc.render()
    if written != generated:
        diff = difflib.unified_diff(
            written.splitlines(keepends=True),
            generated.splitlines(keepends=True),
            "docs/hooks.md",
            "generated",
        )
        pytest.fail(
            f"docs/hooks.md is out of date: run `{hookdoc.COMMAND}` (in .venv)\n"
            + "".join(list(diff)[:60]),
            pytrace=False,
        )


def test_the_reference_lists_every_hook_of_the_contract() -> None:
    assert [name for name, _, _ in hookdoc.specs()] == list(HOOKS)


def test_a_new_hook_spec_appears_in_the_reference() -> None:
    module = types.ModuleType("host.hookspecs_more", "The contract.\n\nThe rules.")
    module.PROJECT = hookspecs.PROJECT

    @hookspecs.hookspec(firstresult=True)
    def exchange_code(code: str, redirect_uri: str | None) -> dict[str, str]:
        """Exchange an authorization code for tokens.

        Raise AuthError when the remote refuses the code.
        """

    module.exchange_code = exchange_code
    text = hookdoc.render(module)
    assert "## `exchange_code`" in text
    assert "exchange_code(code: str, redirect_uri: str | None) -> dict[str, str]" in text
    assert "| [`exchange_code`](#exchange_code) | optional | Exchange an authorization" in text
    assert "Raise AuthError when the remote refuses the code." in text
    assert "The rules." in text and "The contract." not in text
