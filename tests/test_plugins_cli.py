"""`ihost plugins`, `ihost about` and `ihost matrix` as a user runs them."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest
from helpers import run_ihost

from host.plugins import discover


def install_fake_distribution(site: Path, name: str, module_source: str, entry: str) -> None:
    """Install a one-module distribution into `site` the way pip lays it out."""
    (site / f"{name}.py").write_text(textwrap.dedent(module_source))
    dist_info = site / f"ihost_{name}-1.2.3.dist-info"
    dist_info.mkdir()
    (dist_info / "METADATA").write_text(
        f"Metadata-Version: 2.1\nName: ihost-{name}\nVersion: 1.2.3\n"
    )
    (dist_info / "entry_points.txt").write_text(f"[ihost.plugins]\n{entry}\n")
    (dist_info / "RECORD").write_text("")


@pytest.fixture
def site_with_bad_plugins(tmp_path: Path) -> Path:
    site = tmp_path / "site"
    site.mkdir()
    install_fake_distribution(
        site, "broken", "raise ImportError('needs libfoo 2.0')\n", "broken = broken:Plugin"
    )
    install_fake_distribution(
        site,
        "misnamed",
        """
        from pydantic import BaseModel
        from host.capabilities import Capabilities

        class Plugin:
            name = "othername"
            Settings = BaseModel
            capabilities = Capabilities()
        """,
        "misnamed = misnamed:Plugin",
    )
    return site


def test_plugins_json_lists_capabilities_and_hooks() -> None:
    result = run_ihost("plugins", "--json")
    assert result.code == 0, result.err
    plugins = {p["name"]: p for p in json.loads(result.out)["plugins"]}
    shop = plugins["testshop"]
    assert shop["title"] == "Test shop (ihost's own tests)"
    assert shop["distribution"] == "ihost-testconnectors"
    assert shop["version"] == "0.1.0"
    assert shop["error"] is None and shop["problems"] == []
    assert shop["capabilities"]["reads"] == [
        "customers",
        "feedback",
        "orders",
        "products",
        "refunds",
    ]
    assert shop["capabilities"]["variants"] is True
    assert shop["capabilities"]["stock_batch"] == 250
    assert "parse_webhook" in shop["hooks"] and "fetch_orders" in shop["hooks"]
    assert "create_order" not in shop["hooks"]
    assert plugins["testerp"]["capabilities"]["order_types"] == ["invoice", "sales_order"]


def test_plugin_that_fails_to_import_is_listed_and_others_work(
    site_with_bad_plugins: Path,
) -> None:
    env = {"PYTHONPATH": str(site_with_bad_plugins)}
    result = run_ihost("plugins", "--json", env=env)
    assert result.code == 0, result.err
    plugins = {p["name"]: p for p in json.loads(result.out)["plugins"]}
    assert plugins["broken"]["error"] == "ImportError: needs libfoo 2.0"
    assert plugins["broken"]["distribution"] == "ihost-broken"
    assert plugins["broken"]["version"] == "1.2.3"
    assert "not the entry point name 'misnamed'" in plugins["misnamed"]["error"]
    assert plugins["testshop"]["error"] is None

    table = run_ihost("plugins", env=env)
    assert table.code == 0
    assert "needs libfoo" in table.out and "testerp" in table.out

    matrix = run_ihost("matrix", "--format", "json", env=env)
    assert matrix.code == 0
    pairs = json.loads(matrix.out)["pairs"]
    assert {p["source"] for p in pairs} >= {"testshop", "testerp"}
    assert not {"broken", "misnamed"} & {p["source"] for p in pairs}


def test_matrix_json_names_the_reasons() -> None:
    result = run_ihost("matrix", "--format", "json")
    assert result.code == 0, result.err
    data = json.loads(result.out)
    assert {p["name"] for p in data["plugins"]} >= {"testshop", "testerp"}
    pairs = {(p["flow"], p["source"], p["target"]): p for p in data["pairs"]}

    products = pairs[("products", "testshop", "testerp")]
    assert products["status"] == "partial"
    assert products["notes"] == [
        "variants flattened: target has no variants",
        "images dropped: target has no images",
        "categories dropped: target has no categories",
        "attributes dropped: target has no option attributes",
    ]
    assert pairs[("orders", "testshop", "testerp")] == {
        "flow": "orders",
        "source": "testshop",
        "target": "testerp",
        "status": "supported",
        "notes": [],
    }
    assert pairs[("orders", "testerp", "testshop")]["notes"] == [
        "source does not read orders",
        "target does not write orders",
    ]
    assert pairs[("stock", "testshop", "testerp")]["notes"] == ["source does not read stock"]
    for pair in data["pairs"]:
        assert pair["status"] in ("supported", "partial", "unsupported")
        assert (pair["status"] == "supported") == (pair["notes"] == []), pair


@pytest.mark.parametrize("fmt", ["text", "markdown", "html"])
def test_matrix_formats(fmt: str) -> None:
    result = run_ihost("matrix", "--format", fmt)
    assert result.code == 0, result.err
    assert "testshop" in result.out
    if fmt == "markdown":
        products = result.out.split("### products")[1].split("###")[0].strip().splitlines()
        header = [c.strip() for c in products[0].strip("|").split("|")]
        row = next(r for r in products if r.startswith("| testshop |"))
        cells = [c.strip() for c in row.strip("|").split("|")]
        assert cells[header.index("testerp")] == "partial"
        assert "- testshop -> testerp: variants flattened: target has no variants" in result.out
    if fmt == "html":
        assert result.out.startswith("<!doctype html>")
        assert "title='variants flattened: target has no variants" in result.out


def test_about_formats() -> None:
    as_json = run_ihost("about", "testerp", "--format", "json")
    assert as_json.code == 0, as_json.err
    about = json.loads(as_json.out)
    settings = {s["name"]: s for s in about["settings"]}
    assert settings["token"]["secret"] is True and settings["token"]["required"] is True
    assert settings["page_size"]["default"] == 100
    assert about["capabilities"]["order_types"] == ["invoice", "sales_order"]
    assert about["capabilities"]["debtor_match"] == ["email", "phone", "vat_number"]

    markdown = run_ihost("about", "testerp", "--format", "markdown")
    assert markdown.code == 0
    assert markdown.out.startswith("# Test ERP (ihost's own tests) (`testerp`)")
    assert "| debtor_match | email, phone, vat_number |" in markdown.out
    assert "| webhook_secret | SecretStr \\| None | no |" in markdown.out

    text = run_ihost("about", "testshop")
    assert text.code == 0 and "parse_webhook" in text.out


def test_about_unknown_plugin_says_what_to_install() -> None:
    result = run_ihost("about", "acme_erp")
    assert result.code == 2
    assert result.err.strip().splitlines() == [
        "no plugin 'acme_erp' is installed; install it with: pip install ihost-acme-erp "
        f"(installed: {', '.join(sorted(p.name for p in discover()))})"
    ]


def test_a_sandbox_missing_or_broken_is_one_line(tmp_path: Path) -> None:
    (tmp_path / "boxes.py").write_text("import libfoo_not_installed\n")
    dist_info = tmp_path / "ihost_boxes-1.0.dist-info"
    dist_info.mkdir()
    (dist_info / "METADATA").write_text("Metadata-Version: 2.1\nName: ihost-boxes\nVersion: 1.0\n")
    (dist_info / "entry_points.txt").write_text(
        "[ihost.sandboxes]\nbroken = boxes:BrokenSandbox\nnotabox = json:dumps\n"
    )
    env = {"PYTHONPATH": str(tmp_path)}
    expected = {
        "acme_erp": "no sandbox for 'acme_erp'; install it with: pip install ihost-acme-erp",
        "broken": "the broken sandbox failed to load: "
        "ModuleNotFoundError: No module named 'libfoo_not_installed'",
        "notabox": "ihost.sandboxes entry point 'notabox' does not name a Sandbox class",
    }
    for system, line in expected.items():
        result = run_ihost("sandbox", system, env=env)
        assert (result.code, result.out, result.err) == (2, "", line + "\n")
