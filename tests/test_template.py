"""`ihost new-plugin`: generated connectors pass the repository's lint, install, appear, pass
their own tests, are authorized by `ihost auth` and run in a flow.

The combinations are generated, linted, installed and tested together, once (a module
fixture): one pip install, one ruff run, one pytest run over all of them; each test then
reads its part of the results."""

from __future__ import annotations

import importlib
import json
import os
import subprocess
import sys
import xml.etree.ElementTree as ElementTree
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from click.testing import CliRunner
from cryptography.fernet import Fernet
from helpers import IHOST, run_ihost

from host.cli import cli
from host.tokens import KEY_VARIABLE
from host.vocabulary import ENTITIES, ORDER_TYPES

REPO = Path(__file__).resolve().parents[1]
EVERYTHING = ",".join(ENTITIES)

#: name: (system, reads, writes, auth, other answers)
COMBINATIONS: dict[str, tuple[str, str, str, str, dict[str, str]]] = {
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
    # everything, with names as long as the template takes: its longest lines at their longest
    "authorization_code": (
        "Etaretailwholesalers Benelux Shops NL BV",
        EVERYTHING,
        EVERYTHING,
        "oauth2_authorization_code",
        {"name": "etaretailwholesalers_bnl", "order_types": ",".join(ORDER_TYPES)},
    ),
}

#: appended to read_only's generated test after the lint: its remote holds nothing, so each
#: fetch yields nothing, which the generated `expect_records` must make fail
EMPTY_REMOTE = '''

class TestEmptyRemote(TestContract):
    def prepare(self, sandbox: Any, connection: Connection) -> None:
        """Nothing in the remote."""
'''


@dataclass
class Generated:
    """The combinations, generated, linted, installed into `site` and tested."""

    site: Path
    plugins: dict[str, dict[str, Any]]  # `ihost plugins --json`, by name
    pairs: list[dict[str, Any]]  # `ihost matrix --format json`
    lint: list[str]  # ruff's findings, check and format
    cases: dict[str, dict[str, str]]  # package directory -> {test id: outcome or message}


def names(combination: str) -> tuple[str, str]:
    """The plugin name and the class prefix the template makes of a combination's answers."""
    system, *_, extra = COMBINATIONS[combination]
    return extra.get("name", system.lower().replace(" ", "_")), system.split()[0]


def new_plugin(root: Path, combination: str) -> Path:
    """`ihost new-plugin --no-input` of a combination, in this process; the package made."""
    system, reads, writes, auth, extra = COMBINATIONS[combination]
    answers = {"system": system, "reads": reads, "writes": writes, "auth": auth, **extra}
    args = ["new-plugin", "--output-dir", str(root), "--no-input"]
    for key, value in answers.items():
        args += ["--set", f"{key}={value}"]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    package = root / names(combination)[0]
    assert result.output.startswith(f"created {package}\n")
    return package


def _environ(**extra: str) -> dict[str, str]:
    environ = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST")}
    return {**environ, **extra}


def _lint(root: Path) -> list[str]:
    """ruff check and ruff format --check with the repository's settings, run where `make
    lint` runs them (relative settings such as `src` are read from there)."""
    config = ["--config", str(REPO / "pyproject.toml")]
    findings = []
    for command in (["check", "--output-format", "concise"], ["format", "--check"]):
        ran = subprocess.run(
            [sys.executable, "-m", "ruff", *command, *config, str(root)],
            capture_output=True,
            text=True,
            cwd=REPO,
        )
        if ran.returncode != 0:
            findings += (ran.stdout + ran.stderr).strip().splitlines()
    return findings


def _outcomes(report: Path) -> dict[str, dict[str, str]]:
    """JUnit XML -> {package directory: {"Class::test[param]": "passed", "skipped" or the
    failure's message}}."""
    cases: dict[str, dict[str, str]] = {}
    for case in ElementTree.parse(report).iter("testcase"):
        directory, *_, cls = case.get("classname", "").split(".")
        problem = case.find("failure")
        if problem is None:
            problem = case.find("error")
        skipped = case.find("skipped") is not None
        outcome = "skipped" if skipped else "passed"
        if problem is not None:
            outcome = problem.get("message") or "failed"
        cases.setdefault(directory, {})[f"{cls}::{case.get('name')}"] = outcome
    return cases


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> Generated:
    root = tmp_path_factory.mktemp("generated")
    packages = [new_plugin(root, combination) for combination in COMBINATIONS]
    site = root.parent / f"{root.name}-site"
    subprocess.run(
        [
            *(sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--no-build-isolation"),
            *("--disable-pip-version-check", "--target", str(site), *map(str, packages)),
        ],
        check=True,
        capture_output=True,
    )
    env = {"PYTHONPATH": str(site)}
    listed = json.loads(run_ihost("plugins", "--json", env=env).out)["plugins"]
    pairs = json.loads(run_ihost("matrix", "--format", "json", env=env).out)["pairs"]
    lint = _lint(root)

    read_only = root / names("read_only")[0] / "tests" / "test_contract.py"
    read_only.write_text(read_only.read_text() + EMPTY_REMOTE)
    report = root.parent / f"{root.name}-report.xml"
    ran = subprocess.run(
        [
            *(sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"),
            *("--import-mode=importlib", "--rootdir", str(root), f"--junitxml={report}"),
            *("-k", "not TestEmptyRemote or test_fetch_streams"),
            *(str(package / "tests") for package in packages),
        ],
        capture_output=True,
        env=_environ(PYTHONPATH=str(site)),
        cwd=root,
        timeout=600,
        text=True,
    )
    assert report.exists(), ran.stdout[-3000:] + ran.stderr[-3000:]
    return Generated(site, {p["name"]: p for p in listed}, pairs, lint, _outcomes(report))


def test_generated_code_passes_the_repository_lint(generated: Generated) -> None:
    assert generated.lint == []


@pytest.mark.parametrize("combination", sorted(COMBINATIONS))
def test_generated_connector_appears_and_passes_its_tests(
    generated: Generated, combination: str
) -> None:
    _, reads, writes, auth, _ = COMBINATIONS[combination]
    name, prefix = names(combination)
    plugin = generated.plugins[name]
    assert plugin["error"] is None and plugin["problems"] == []
    assert plugin["capabilities"]["reads"] == sorted(filter(None, reads.split(",")))
    assert plugin["capabilities"]["writes"] == sorted(filter(None, writes.split(",")))
    assert plugin["distribution"] == "ihost-" + name.replace("_", "-")
    assert ("oauth2_flow" in plugin["hooks"]) == (auth == "oauth2_authorization_code")
    points = (generated.site / f"ihost_{name}-0.1.0.dist-info" / "entry_points.txt").read_text()
    assert f"{name} = ihost_{name}.plugin:{prefix}Plugin" in points
    assert f"{name} = ihost_{name}.sandbox:{prefix}Sandbox" in points
    assert any(
        name in (p["source"], p["target"]) for p in generated.pairs if p["status"] != "unsupported"
    )

    cases = {
        case: outcome
        for case, outcome in generated.cases[name].items()
        if case.startswith("TestContract::")
    }
    failed = {c: outcome for c, outcome in cases.items() if outcome not in ("passed", "skipped")}
    assert failed == {}
    for entity in filter(None, reads.split(",")):  # each fetch read the record seeded
        assert cases[f"TestContract::test_fetch_streams[{entity}]"] == "passed"
    for entity in {"shipments", "refunds", "feedback"} & set(writes.split(",")):
        case = f"TestContract::test_order_found_by_number_without_order_id[{entity}]"
        assert cases[case] == "passed"
    for field in ("email", "phone", "vat_number") if "customers" in writes else ():
        assert cases[f"TestContract::test_debtor_found_by_each_declared_field[{field}]"] == "passed"


def test_an_empty_fetch_fails_the_generated_contract_test(generated: Generated) -> None:
    cases = generated.cases[names("read_only")[0]]
    empty = {case: outcome for case, outcome in cases.items() if "TestEmptyRemote" in case}
    assert {case.split("::")[1]: outcome.splitlines()[0] for case, outcome in empty.items()} == {
        f"test_fetch_streams[{entity}]": (
            f"AssertionError: fetch_{entity} yielded nothing"
            if entity in ("products", "stock")
            else "skipped"
        )
        for entity in ENTITIES
    }


@pytest.fixture
def eta(generated: Generated) -> Iterator[Any]:
    """The generated oauth2_authorization_code connector's sandbox, running in this process."""
    name, prefix = names("authorization_code")
    sys.path.insert(0, str(generated.site))
    try:
        module = importlib.import_module(f"ihost_{name}.sandbox")
    finally:
        sys.path.remove(str(generated.site))
    with getattr(module, f"{prefix}Sandbox")() as running:
        yield running


def test_ihost_auth_authorizes_a_generated_connector_that_then_runs_in_a_flow(
    generated: Generated, eta: Any, tmp_path: Path
) -> None:
    from ihost_testconnectors.sandbox import RecordSandbox

    eta.seed("products", [{"key": "P1", "sku": "P1", "name": "Lamp", "price": "19.95"}])
    settings = eta.connection_settings()
    with RecordSandbox() as erp:
        config = tmp_path / "ihost.toml"
        config.write_text(
            f'[store]\nurl = "sqlite:///{tmp_path / "ihost.db"}"\n'
            f'[connections.pim]\nplugin = "{names("authorization_code")[0]}"\n'
            + "".join(f'{k} = "{v}"\n' for k, v in settings.items() if k != "client_secret")
            + 'client_secret = "${PIM_SECRET}"\n'
            f'[connections.erp]\nplugin = "testerp"\nbase_url = "{erp.base_url}"\n'
            f'token = "{erp.token}"\n'
            '[flows.products]\nkind = "products"\nsource = "pim"\ntarget = "erp"\n'
        )
        env = _environ(
            PYTHONPATH=str(generated.site),
            PIM_SECRET=settings["client_secret"],
            **{KEY_VARIABLE: Fernet.generate_key().decode()},
        )
        unauthorized = run_ihost("-c", str(config), "check", "pim", env=env)
        assert unauthorized.code == 3 and "ihost auth pim" in unauthorized.err

        auth = subprocess.Popen(
            [IHOST, "-c", str(config), "auth", "pim", "--timeout", "60"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        assert auth.stdout is not None
        url = next(line.strip() for line in auth.stdout if line.startswith("  http"))
        assert url.startswith(settings["authorize_url"] + "?")
        allowed = httpx.get(url)  # what a browser does: allowed at once, sent back to ihost
        assert allowed.status_code == 302
        assert urlsplit(allowed.headers["location"]).hostname == "127.0.0.1"
        assert httpx.get(allowed.headers["location"]).status_code == 200
        out, err = auth.communicate(timeout=60)
        assert auth.returncode == 0, out + err
        assert (
            out.splitlines()[-1]
            == "pim: authorized; its tokens are stored, encrypted, in the store"
        )

        ran = run_ihost("-c", str(config), "run", "products", "--json", env=env)
        assert ran.code == 0, ran.output
        assert json.loads(ran.out)["counts"]["created"] == 1
        assert [p["sku"] for p in erp.dump("products")] == ["P1"]


def test_the_questions_name_the_vocabulary() -> None:
    questions = json.loads((REPO / "templates/plugin/cookiecutter.json").read_text())
    prompts = questions["__prompts__"]
    assert f"({', '.join(ENTITIES)}; empty for none)" in prompts["reads"]
    assert f"({', '.join(ORDER_TYPES)})" in prompts["order_types"]


def test_unknown_entity_is_refused(tmp_path: Path) -> None:
    result = run_ihost(
        "new-plugin", "--output-dir", str(tmp_path), "--no-input", "--set", "reads=orders,invoices"
    )
    assert result.code == 2
    assert result.err.strip() == (
        "--set reads: unknown entities invoices; use orders, products, stock, customers, "
        "shipments, refunds, feedback"
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
    )
    assert result.code == 2
    assert "name: '9_lives' will not do: lower-case letters" in result.err
    assert "prefix: '9' will not do: a capital letter" in result.err
    assert "Traceback" not in result.err
    assert result.err.strip().splitlines()[-1] == (
        "new-plugin: the answers above cannot make a connector"
    )
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("package", "why"),
    [
        ("import", "Python reserves it"),
        ("httpx", "an installed module has that name, and one of the two would not import"),
    ],
)
def test_a_package_name_that_cannot_be_imported_is_refused(
    tmp_path: Path, package: str, why: str
) -> None:
    result = run_ihost(
        "new-plugin", "--output-dir", str(tmp_path), "--no-input", "--set", f"package={package}"
    )
    assert result.code == 2
    assert result.err.strip() == (
        f"--set package: {package!r} will not do: {why} (give another with --set package=...)"
    )
    assert list(tmp_path.iterdir()) == []


def test_an_output_dir_that_is_a_file_is_refused(tmp_path: Path) -> None:
    file = tmp_path / "notes.txt"
    file.write_text("")
    for output_dir in (file, file / "plugins"):
        result = run_ihost("new-plugin", "--output-dir", str(output_dir), "--no-input")
        assert result.code == 2
        assert result.err.strip() == f"new-plugin: --output-dir {output_dir}: {file} is a file"


def test_a_system_name_with_accents_makes_plain_names(tmp_path: Path) -> None:
    """Café Kassa: the package, plugin and classes take its letters without the accents
    (not "café_kassa", which no plugin name may be, nor "CafPlugin"), and pass the lint."""
    result = run_ihost(
        "new-plugin", "--output-dir", str(tmp_path), "--no-input", "--set", "system=Café Kassa"
    )
    assert result.code == 0, result.err
    package = tmp_path / "cafe_kassa"
    assert "class CafePlugin:" in (package / "ihost_cafe_kassa" / "plugin.py").read_text()
    assert _lint(tmp_path) == []
