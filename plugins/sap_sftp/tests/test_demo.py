"""`ihost demo asperion-sap-sftp --once`: the seed page's flows between the Asperion and the
SAP SFTP sandboxes, and what SAP's file port made of the files."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from helpers import run_ihost

from host.tokens import KEY_VARIABLE


def test_the_asperion_sap_demo_runs_every_flow_and_sap_takes_every_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(KEY_VARIABLE, raising=False)
    result = run_ihost("demo", "asperion-sap-sftp", "--once", "--dir", str(tmp_path / "demo"))
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
        "products": (5, 0, 0),
        "stock": (0, 5, 0),
        "customers": (1, 0, 0),
        "orders": (2, 0, 0),  # Anna found by e-mail, the bakery made a company debtor
    }
    assert (
        "SAP's file port took 7 file(s) from the inbound folder: 5 materials, 1 customers, "
        "stock for 5 material(s)" in result.out
    )
    assert "SAP refused" not in result.out


def test_the_pair_is_listed() -> None:
    result = run_ihost("demo", "--list")
    assert "asperion-sap-sftp" in result.out
