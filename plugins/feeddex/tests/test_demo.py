"""`ihost demo asperion-feeddex --once` and `ihost demo shopify-feeddex --once`: the seed
page and the webshop pair on the sandboxes."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from helpers import run_ihost

from host.tokens import KEY_VARIABLE

COUNTS = re.compile(
    r"^(?P<flow>\w+) \(\w+\): read \d+ · created (?P<created>\d+) · "
    r"updated \d+ · unchanged \d+ · skipped \d+ · failed (?P<failed>\d+)$",
    re.MULTILINE,
)


def counts(out: str) -> dict[str, tuple[int, int]]:
    return {m["flow"]: (int(m["created"]), int(m["failed"])) for m in COUNTS.finditer(out)}


def test_the_asperion_feeddex_demo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(KEY_VARIABLE, raising=False)
    result = run_ihost("demo", "asperion-feeddex", "--once", "--dir", str(tmp_path / "demo"))
    assert result.code == 0, result.output
    # debtors (one without e-mail: Feeddex cannot invite it); the three paid invoices, once
    # each; their feedback back into Asperion after the sandbox let four days pass
    assert counts(result.out) == {"customers": (3, 1), "orders": (3, 0), "feedback": (3, 0)}
    assert "customer 10503: email is empty" in result.out
    assert "products (asperion -> feeddex): partial: off unless the target's products_path" in (
        result.out
    )
    kept = re.findall(r"^Asperion debtor (\d+) comments: (.+)$", result.out, re.MULTILINE)
    assert [debtor for debtor, _ in kept] == ["10500", "10501", "10502"]
    assert any(line.startswith("F100 ") for _, line in kept), kept  # one answered
    assert all("order 2026-001" in line for _, line in kept)


def test_the_shopify_feeddex_demo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(KEY_VARIABLE, raising=False)
    result = run_ihost("demo", "shopify-feeddex", "--once", "--dir", str(tmp_path / "demo"))
    assert result.code == 0, result.output
    assert counts(result.out) == {"orders": (4, 0)}
    assert "feedback (feeddex -> shop): unsupported: target does not write feedback" in (result.out)
