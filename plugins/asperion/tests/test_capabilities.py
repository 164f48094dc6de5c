"""What Asperion does not do says why: in the matrix, and in a config that asks for it."""

from __future__ import annotations

import json
from pathlib import Path

from helpers import run_ihost, write_config
from ihost_asperion.samples import SETTINGS
from ihost_asperion.sandbox import AsperionSandbox
from ihost_testconnectors.sandbox import RecordSandbox


def test_the_matrix_says_why_asperion_takes_no_stock() -> None:
    result = run_ihost("matrix", "--format", "json")
    assert result.code == 0, result.output
    (pair,) = [
        p
        for p in json.loads(result.out)["pairs"]
        if (p["flow"], p["source"], p["target"]) == ("stock", "testerp", "asperion")
    ]
    assert pair["status"] == "unsupported"
    assert pair["notes"] == [
        "target does not write stock: currentStock is read-only in Asperion's API (stock "
        "changes in the application or through sales orders)"
    ]


def test_a_stock_flow_into_asperion_fails_at_load_saying_why(
    tmp_path: Path, asperion: AsperionSandbox
) -> None:
    with RecordSandbox() as erp:
        flows = '[flows.stock]\nkind = "stock"\nsource = "erp"\ntarget = "books"\n'
        connections = {"erp": ("testerp", erp), "books": ("asperion", asperion, SETTINGS)}
        config = write_config(tmp_path, connections, flows)
        result = run_ihost("-c", str(config), "run", "stock")
    assert result.code == 2 and result.err.count("\n") == 1, result.output
    assert "does not write stock: currentStock is read-only" in result.err
