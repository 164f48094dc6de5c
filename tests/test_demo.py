"""`ihost demo --once`: both sandboxes with a small shop, every flow of the seed page run once."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from helpers import run_ihost


def test_demo_runs_every_flow_once(tmp_path: Path) -> None:
    result = run_ihost("demo", "--once", "--dir", str(tmp_path / "demo"))
    assert result.code == 0, result.output
    summaries = {
        m["flow"]: m
        for m in re.finditer(
            r"^(?P<flow>\w+) \(\w+\): read (?P<read>\d+) · created (?P<created>\d+) · "
            r"updated (?P<updated>\d+) · unchanged \d+ · skipped \d+ · failed (?P<failed>\d+)$",
            result.out,
            re.MULTILINE,
        )
    }
    assert list(summaries) == ["products", "stock", "customers", "orders", "shipments"]
    assert all(m["failed"] == "0" for flow, m in summaries.items() if flow != "orders")
    assert summaries["orders"]["created"] == "3"  # the unpaid order is not read
    assert summaries["orders"]["failed"] == "1"  # CANDLE-01 is not an AFAS article yet
    assert summaries["stock"]["updated"] == "5"
    assert summaries["shipments"]["created"] == "1"
    config = tmp_path / "demo" / "ihost.toml"
    assert config.is_file() and (tmp_path / "demo" / "ihost.db").is_file()
    logs = run_ihost("-c", str(config), "logs", "orders")
    assert logs.code == 0 and "1001" in logs.out


def test_demo_starts_the_daemon_and_its_dashboard(tmp_path: Path) -> None:
    import signal

    import httpx
    from helpers import start_demo
    from test_daemon import free_port

    process, base = start_demo(tmp_path / "demo", free_port())
    try:
        page = httpx.get(base).text
        for flow in ("products", "stock", "customers", "orders", "shipments"):
            assert f'data-flow="{flow}"' in page
    finally:
        process.send_signal(signal.SIGTERM)
        out, err = process.communicate(timeout=30)
    assert process.returncode == 0, err
    assert f"dashboard: {base}/" in out


def test_a_sandbox_not_installed_is_one_line_and_exit_2(tmp_path: Path) -> None:
    """ihost-afas installed without its `ihost.sandboxes` entry point (a distribution found
    first on the path, as an older release would be): the demo names what to install."""
    site = tmp_path / "site"
    info = site / "ihost_afas-0.1.0.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: ihost-afas\nVersion: 0.1.0\n")
    (info / "entry_points.txt").write_text("[ihost.plugins]\nafas = ihost_afas.plugin:AfasPlugin\n")
    demo = tmp_path / "demo"
    result = run_ihost("demo", "--once", "--dir", str(demo), env={"PYTHONPATH": str(site)})
    assert result.code == 2, result.output
    assert result.out == ""
    assert result.err == "no sandbox for 'afas'; install it with: pip install ihost-afas\n"
    assert not demo.exists()


def test_demo_lists_its_pairs_and_refuses_an_unknown_one(tmp_path: Path) -> None:
    listed = run_ihost("demo", "--list")
    assert listed.code == 0 and "\nshopify-afas: " in f"\n{listed.out}"
    unknown = run_ihost("demo", "shopify-nowhere", "--once", "--dir", str(tmp_path / "d"))
    assert unknown.code == 2 and unknown.err.count("\n") == 1
    assert "no demo pair 'shopify-nowhere'" in unknown.err and "shopify-afas" in unknown.err
    assert not (tmp_path / "d").exists()


def test_a_flow_the_demo_could_not_run_says_why(capsys: pytest.CaptureFixture[str]) -> None:
    """The demo prints each flow's report: one that stopped names its error, as `ihost run`
    does (it printed only the counts, all zero, and no reason)."""
    from host.cli import _print_report
    from host.report import Report

    report = Report("orders", "orders", dry_run=False)
    report.status, report.error = "aborted", "feeddex: products_path is not set"
    _print_report(report)
    out, err = capsys.readouterr()
    assert out.startswith("orders (orders): read 0")
    assert err == "ihost: orders aborted: feeddex: products_path is not set\n"
