"""`ihost new-plugin`: generated connectors install, appear, pass their own tests, and run."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from helpers import run_ihost

COMBINATIONS = {
    "read_only": ("Alpha Shop", "products,stock", "", "api_key", {}),
    "write_only": (
        "Beta Store",
        "",
        "orders,customers,products,stock",
        "bearer",
        {"variants": "yes", "images": "5", "categories": "yes"},
    ),
    "both_basic": ("Gamma POS", "orders,refunds", "shipments,products", "basic", {}),
    "both_oauth": (
        "Delta ERP",
        "products,stock,customers",
        "orders,customers",
        "oauth2_client_credentials",
        {"order_types": "sales_order,invoice"},
    ),
    "no_auth": ("Epsilon Feed", "customers,shipments", "refunds", "none", {}),
}


def generate(
    tmp_path: Path, system: str, reads: str, writes: str, auth: str, extra: dict[str, str]
) -> tuple[Path, Path, str]:
    """Generate and install a connector into its own site directory."""
    settings = [
        f"system={system}",
        f"reads={reads}",
        f"writes={writes}",
        f"auth={auth}",
        *(f"{k}={v}" for k, v in extra.items()),
    ]
    args = ["new-plugin", "--output-dir", str(tmp_path), "--no-input"]
    for setting in settings:
        args += ["--set", setting]
    result = run_ihost(*args)
    assert result.code == 0, result.output
    name = system.lower().replace(" ", "_")
    package = tmp_path / name
    assert result.out.startswith(f"created {package}")
    site = tmp_path / "site"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "-q",
            "--no-deps",
            "--no-build-isolation",
            "--disable-pip-version-check",
            "--target",
            str(site),
            str(package),
        ],
        check=True,
        capture_output=True,
    )
    return package, site, name


@pytest.mark.parametrize("combination", sorted(COMBINATIONS))
def test_generated_connector_appears_and_passes_its_tests(tmp_path: Path, combination: str) -> None:
    system, reads, writes, auth, extra = COMBINATIONS[combination]
    package, site, name = generate(tmp_path, system, reads, writes, auth, extra)
    env = {"PYTHONPATH": str(site)}

    listed = run_ihost("plugins", "--json", env=env)
    plugin = {p["name"]: p for p in json.loads(listed.out)["plugins"]}[name]
    assert plugin["error"] is None and plugin["problems"] == []
    assert plugin["capabilities"]["reads"] == sorted(filter(None, reads.split(",")))
    assert plugin["capabilities"]["writes"] == sorted(filter(None, writes.split(",")))
    assert plugin["distribution"] == "ihost-" + name.replace("_", "-")

    matrix = json.loads(run_ihost("matrix", "--format", "json", env=env).out)
    assert any(
        p["source"] == name or p["target"] == name
        for p in matrix["pairs"]
        if p["status"] != "unsupported"
    )

    tests = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(package / "tests")],
        capture_output=True,
        text=True,
        env={**_environ(), "PYTHONPATH": str(site)},
        cwd=tmp_path,
        timeout=300,
    )
    assert tests.returncode == 0, tests.stdout[-3000:]
    assert " passed" in tests.stdout.splitlines()[-1]


def _environ() -> dict[str, str]:
    import os

    return {k: v for k, v in os.environ.items() if not k.startswith("PYTEST")}


def test_a_generated_connector_runs_in_a_flow_against_its_sandbox(tmp_path: Path) -> None:
    from ihost_testconnectors.sandbox import RecordSandbox

    _, site, name = generate(tmp_path, "Zeta PIM", "products", "", "api_key", {})
    sys.path.insert(0, str(site))
    try:
        from ihost_zeta_pim.sandbox import SystemSandbox
    finally:
        sys.path.remove(str(site))
    with SystemSandbox() as pim, RecordSandbox() as erp:
        pim.seed("products", [{"key": "P1", "sku": "P1", "name": "Lamp", "price": "19.95"}])
        settings = pim.connection_settings()
        path = tmp_path / "ihost.toml"
        path.write_text(
            f'[store]\nurl = "sqlite:///{tmp_path / "ihost.db"}"\n'
            f'[connections.pim]\nplugin = "{name}"\nbase_url = "{settings["base_url"]}"\n'
            'api_key = "${PIM_KEY}"\n'
            f'[connections.erp]\nplugin = "testerp"\nbase_url = "{erp.base_url}"\n'
            f'token = "{erp.token}"\n'
            '[flows.products]\nkind = "products"\nsource = "pim"\ntarget = "erp"\n'
        )
        env = {"PYTHONPATH": str(site), "PIM_KEY": settings["api_key"]}
        result = run_ihost("-c", str(path), "run", "products", "--json", env=env)
        assert result.code == 0, result.output
        assert json.loads(result.out)["counts"]["created"] == 1
        assert [p["sku"] for p in erp.dump("products")] == ["P1"]


def test_unknown_entity_is_refused(tmp_path: Path) -> None:
    result = run_ihost(
        "new-plugin", "--output-dir", str(tmp_path), "--no-input", "--set", "reads=orders,invoices"
    )
    assert result.code == 2
    assert result.err.strip() == (
        "--set reads: unknown entities invoices; use orders, products, stock, customers, "
        "shipments, refunds"
    )
    assert list(tmp_path.iterdir()) == []


def test_answers_that_cannot_load_are_refused(tmp_path: Path) -> None:
    result = run_ihost(
        "new-plugin",
        "--output-dir",
        str(tmp_path),
        "--no-input",
        "--set",
        "system=9 Lives",
        "--set",
        "images=many",
    )
    assert result.code == 2
    assert "name: lower-case letters" in result.err and "images: a whole number" in result.err
    assert list(tmp_path.iterdir()) == []
