"""Helpers for the host's tests: run the real `ihost` command in a subprocess."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from dataclasses import dataclass
from pathlib import Path
from typing import Any

IHOST = str(Path(sys.executable).with_name("ihost"))


@dataclass
class Result:
    code: int
    out: str
    err: str

    @property
    def output(self) -> str:
        return self.out + self.err


def run_ihost(*args: str, cwd: Path | None = None, env: dict[str, str] | None = None) -> Result:
    """Run `ihost ARGS` as a user would; return its exit code and output."""
    full_env = {k: v for k, v in os.environ.items() if k != "IHOST_CONFIG"}
    full_env.update(env or {})
    proc = subprocess.run(
        [IHOST, *args],
        cwd=cwd,
        env=full_env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    return Result(proc.returncode, proc.stdout, proc.stderr)


def write_config(
    directory: Path, connections: dict[str, tuple[str, Any]], flows: str, store: str = "ihost.db"
) -> Path:
    """An ihost.toml with one connection per (plugin, running sandbox) and the given flows."""
    parts = [f'[store]\nurl = "sqlite:///{directory / store}"\n']
    for name, (plugin, sandbox) in connections.items():
        lines = [f"[connections.{name}]", f'plugin = "{plugin}"']
        lines += [
            f"{key} = {json.dumps(value)}" for key, value in sandbox.connection_settings().items()
        ]
        parts.append("\n".join(lines) + "\n")
    parts.append(textwrap.dedent(flows))
    path = directory / "ihost.toml"
    path.write_text("\n".join(parts))
    return path


def run_flow(config: Path, flow: str, *args: str) -> tuple[Result, dict[str, Any]]:
    """`ihost run FLOW --json`; returns the result and the parsed report."""
    result = run_ihost("-c", str(config), "run", flow, "--json", *args)
    try:
        report = json.loads(result.out)
    except json.JSONDecodeError:
        raise AssertionError(f"no JSON report (exit {result.code}): {result.output}") from None
    return result, report


def actions(report: dict[str, Any]) -> dict[str, tuple[str, Any]]:
    """{record key: (action, target id)} of a report."""
    return {a["key"]: (a["action"], a["target_id"]) for a in report["actions"]}


def healthy(base: str) -> bool:
    """Whether the daemon at `base` answers /healthz."""
    import httpx

    try:
        return httpx.get(f"{base}/healthz", timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


def start_demo(directory: Path, port: int) -> tuple[subprocess.Popen[str], str]:
    """`ihost demo` in a subprocess; returns it and its dashboard's base URL once it answers."""
    import time

    process = subprocess.Popen(
        [IHOST, "demo", "--dir", str(directory), "--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while not healthy(base):
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            raise AssertionError(f"the demo did not start: {process.communicate()[1][-2000:]}")
        time.sleep(0.05)
    return process, base


def fail(sandbox: Any, entity: str, key: str, status: int, times: int = 1, **spec: Any) -> None:
    """Make the next `times` writes of a record to a RecordSandbox answer `status`; `spec`
    adds `message`, `delay` (seconds first; status 0 then lets the write through) or
    `applied` (the write is made and its answer is the error)."""
    import httpx

    httpx.post(
        sandbox.base_url + "/api/fail",
        json={"entity": entity, "key": key, "status": status, "times": times, **spec},
        headers={"Authorization": f"Bearer {sandbox.token}"},
    ).raise_for_status()
