"""Throughput of the runner between the in-memory generator and the counting target.

Each run starts from a fresh SQLite store (bindings, events, cursor and the record log are
written as in a real run; the record log keeps every record, as by default, unless a row
says record_log = failed). Peak memory is measured in a child process over 1,000,000 stock levels.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.connectors import CounterPlugin, GeneratorPlugin
from host.config import load_config
from host.plugins import PluginInfo, Registry
from host.runner import Runner

CONFIG = """
[store]
url = "sqlite:///{db}"

[connections.source]
plugin = "generator"
levels = {levels}
products = {products}
generation = {generation}

[connections.target]
plugin = "counter"

[flows.stock]
kind = "stock"
source = "source"
target = "target"

[flows.products]
kind = "products"
source = "source"
target = "target"
"""


def registry() -> Registry:
    return Registry(
        {
            cls.name: PluginInfo(cls.name, cls=cls, distribution="bench", version="0")
            for cls in (GeneratorPlugin, CounterPlugin)
        }
    )


def run(
    directory: Path,
    flow: str,
    *,
    levels: int = 0,
    products: int = 0,
    generation: int = 0,
    record_log: str = "all",
) -> tuple[float, dict[str, Any]]:
    """Run one flow; returns (seconds, counts). `record_log`: the flow's setting (what
    the record log keeps of each record)."""
    path = directory / "ihost.toml"
    path.write_text(
        CONFIG.format(
            db=directory / "ihost.db", levels=levels, products=products, generation=generation
        )
        + f'\n[flows.{flow}.settings]\nrecord_log = "{record_log}"\n'
    )
    plugins = registry()
    config = load_config(path, plugins)
    started = time.perf_counter()
    report = Runner(config, flow, plugins, full=True).run()
    elapsed = time.perf_counter() - started
    if report.error or report.counts["failed"]:
        raise RuntimeError(f"benchmark run failed: {report.error or report.counts}")
    return elapsed, report.counts


def peak_memory_mb(levels: int) -> float:
    """Peak resident memory of a child process that runs a stock flow over `levels`."""
    code = (
        "import json, resource, tempfile, pathlib\n"
        "from bench.flows import run\n"
        "with tempfile.TemporaryDirectory() as tmp:\n"
        f"    run(pathlib.Path(tmp), 'stock', levels={levels})\n"
        "print(json.dumps(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    return json.loads(out.strip().splitlines()[-1]) / 1024  # Linux reports KiB


def main() -> list[tuple[str, float, str]]:
    rows: list[tuple[str, float, str]] = []
    with tempfile.TemporaryDirectory() as tmp:
        seconds, counts = run(Path(tmp), "stock", levels=100_000)
        rows.append(
            ("stock flow, 100,000 levels, fresh store", counts["read"] / seconds, "levels/s")
        )
        seconds, counts = run(Path(tmp), "stock", levels=100_000)
        assert counts["unchanged"] == 100_000
        rows.append(("stock flow again, nothing changed", counts["read"] / seconds, "levels/s"))
    with tempfile.TemporaryDirectory() as tmp:  # the record log keeping failed levels only
        seconds, counts = run(Path(tmp), "stock", levels=100_000, record_log="failed")
        rows.append(
            ("  the same, fresh, record_log = failed", counts["read"] / seconds, "levels/s")
        )
    with tempfile.TemporaryDirectory() as tmp:
        seconds, counts = run(Path(tmp), "products", products=20_000)
        rows.append(
            (
                "products flow, 20,000 configurable x 3 variants",
                counts["read"] / seconds,
                "products/s",
            )
        )
        seconds, counts = run(Path(tmp), "products", products=20_000, generation=1)
        assert counts["updated"] == 20_000
        rows.append(
            ("products flow again, every product changed", counts["read"] / seconds, "products/s")
        )
    with tempfile.TemporaryDirectory() as tmp:
        seconds, counts = run(Path(tmp), "products", products=20_000, record_log="failed")
        rows.append(
            ("  the same, fresh, record_log = failed", counts["read"] / seconds, "products/s")
        )
    rows.append(("peak memory, stock flow over 1,000,000 levels", peak_memory_mb(1_000_000), "MB"))
    return rows
