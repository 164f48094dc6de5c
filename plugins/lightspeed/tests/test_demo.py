"""`ihost demo lightspeedpos-buchhaltungsbutler --once`: the seed page on the two sandboxes."""

from __future__ import annotations

from pathlib import Path

import pytest
from helpers import run_ihost

from host.tokens import KEY_VARIABLE


def test_the_lightspeedpos_buchhaltungsbutler_demo(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(KEY_VARIABLE, raising=False)
    place = str(tmp_path / "demo")
    result = run_ihost("demo", "lightspeedpos-buchhaltungsbutler", "--once", "--dir", place)
    assert result.code == 0, result.output
    assert "orders (orders): read 1 · created 1 · updated 0" in result.out
    assert (
        "stock (lightspeedpos -> buchhaltungsbutler): unsupported: target does not write "
        "stock: BuchhaltungsButler's API has no stock" in result.out
    )
