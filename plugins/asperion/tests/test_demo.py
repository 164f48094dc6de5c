"""`ihost demo shopify-asperion --once`: the webshop pair on the Shopify and Asperion sandboxes."""

from __future__ import annotations

import re
import stat
from pathlib import Path

import pytest
from helpers import run_ihost

from host.tokens import KEY_VARIABLE


def test_the_shopify_asperion_demo_runs_every_flow(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(KEY_VARIABLE, raising=False)
    place = tmp_path / "demo"
    result = run_ihost("demo", "shopify-asperion", "--once", "--dir", str(place))
    assert result.code == 0, result.output
    counts = {
        m["flow"]: (int(m["created"]), int(m["updated"]), int(m["failed"]))
        for m in re.finditer(
            r"^(?P<flow>\w+) \(\w+\): read \d+ · created (?P<created>\d+) · "
            r"updated (?P<updated>\d+) · unchanged \d+ · skipped \d+ · failed (?P<failed>\d+)$",
            result.out,
            re.MULTILINE,
        )
    }
    assert counts == {
        "products": (2, 3, 0),  # the shirt's sizes were in the shop already
        "stock": (0, 5, 0),
        "customers": (0, 1, 0),
        "orders": (3, 0, 1),  # CANDLE-01 is not an Asperion article
    }
    # the demo's own key for the tokens it keeps, readable by its owner only
    key = place / ".ihost-demo-key"
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    monkeypatch.setenv(KEY_VARIABLE, key.read_text().strip())
    again = run_ihost("-c", str(place / "ihost.toml"), "run", "orders", "--full")
    # the sandboxes stopped with the demo: the run stops with one line, exit 3
    assert again.code == 3 and again.err.count("\n") == 1, again.output
