"""`ihost demo asperion-buchhaltungsbutler --once`: the seed page on the two sandboxes."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from helpers import run_ihost

from host.tokens import KEY_VARIABLE


def test_the_asperion_buchhaltungsbutler_demo(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(KEY_VARIABLE, raising=False)
    result = run_ihost(
        "demo", "asperion-buchhaltungsbutler", "--once", "--dir", str(tmp_path / "demo")
    )
    assert result.code == 0, result.output
    counts = {
        m["flow"]: (int(m["created"]), int(m["failed"]))
        for m in re.finditer(
            r"^(?P<flow>\w+) \(\w+\): read \d+ · created (?P<created>\d+) · "
            r"updated \d+ · unchanged \d+ · skipped \d+ · failed (?P<failed>\d+)$",
            result.out,
            re.MULTILINE,
        )
    }
    # debtors to BuchhaltungsButler; paid receipts back, one without a debtor to find
    assert counts == {"customers": (2, 0), "orders": (2, 1)}
    assert (
        "products (asperion -> buchhaltungsbutler): unsupported: target does not write "
        "products: BuchhaltungsButler's API has no products" in result.out
    )
    assert "stock (asperion -> buchhaltungsbutler): unsupported" in result.out
