"""Helpers for the host's tests: run the real `ihost` command, in this process or in a
subprocess."""

from __future__ import annotations

import contextlib
import json
import logging
import os
import subprocess
import sys
import textwrap
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

IHOST = str(Path(sys.executable).with_name("ihost"))
#: Commands run in a real process: those serving until signalled (and installing signal
#: handlers), and new-plugin, whose template hooks are child processes writing to stderr.
IN_A_PROCESS = ("daemon", "sandbox", "demo", "new-plugin")
#: IHOST_TEST_CLI_PROCESS=1 runs every `ihost` of the tests in a subprocess (slower): to see
#: whether a failure comes from running in-process.
PROCESS_VARIABLE = "IHOST_TEST_CLI_PROCESS"


@dataclass
class Result:
    code: int
    out: str
    err: str

    @property
    def output(self) -> str:
        return self.out + self.err


def run_ihost(
    *args: str, cwd: Path | None = None, env: dict[str, str] | None = None, process: bool = False
) -> Result:
    """Run `ihost ARGS` as a user would; return its exit code and output.

    It runs in this process (`host.cli.main` under click's test runner, which is what the
    console script calls) unless `process` is set, `env` sets PYTHONPATH (what a process
    can import is fixed when it starts), the command is one of IN_A_PROCESS (demo --once
    excepted) or $IHOST_TEST_CLI_PROCESS is 1: those run the installed console script in a
    subprocess. In this process, only what Python writes to sys.stdout and sys.stderr is
    seen (not what a child process writes), and the process state a run changes is put
    back afterwards."""
    command = _command(args)
    own = command in IN_A_PROCESS and not (command == "demo" and "--once" in args)
    if process or own or "PYTHONPATH" in (env or {}) or os.environ.get(PROCESS_VARIABLE) == "1":
        return _run_process(args, cwd, env)
    return _run_in_process(args, cwd, env)


def _command(args: tuple[str, ...]) -> str:
    """The subcommand among `ihost`'s arguments (after -c FILE and -v)."""
    rest = list(args)
    while rest and rest[0].startswith("-"):
        option = rest.pop(0)
        if option in ("-c", "--config") and rest:
            rest.pop(0)
    return rest[0] if rest else ""


def _run_process(args: tuple[str, ...], cwd: Path | None, env: dict[str, str] | None) -> Result:
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


def _run_in_process(args: tuple[str, ...], cwd: Path | None, env: dict[str, str] | None) -> Result:
    from click.testing import CliRunner

    from host.cli import main

    code = 0
    with (
        _process_state_kept(),
        CliRunner().isolation(env={"IHOST_CONFIG": None, **(env or {})}) as (out, err, _),
    ):
        try:
            if cwd is not None:
                os.chdir(cwd)
            main(list(args))  # ends in sys.exit(code), always
        except SystemExit as exit_:
            code = int(exit_.code or 0)
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
        return Result(code, out.getvalue().decode(), err.getvalue().decode())


@contextlib.contextmanager
def _process_state_kept() -> Iterator[None]:
    """Undo what one `ihost` invocation changes in its process: the working directory,
    the logging setup (root handlers, logger levels, thread exception hook) and the
    secrets it registered for redaction (a later run must register its own)."""
    from host.secrets import redactor

    cwd = os.getcwd()
    manager = logging.root.manager
    levels = {
        name: logger.level
        for name, logger in manager.loggerDict.items()
        if isinstance(logger, logging.Logger)
    }
    root_state = (logging.root.handlers[:], logging.root.level)
    hook = threading.excepthook
    secrets = {k: set(v) if isinstance(v, set) else v for k, v in vars(redactor).items()}
    try:
        yield
    finally:
        os.chdir(cwd)
        logging.root.handlers[:], level = root_state
        logging.root.setLevel(level)
        for name, logger in list(manager.loggerDict.items()):
            if isinstance(logger, logging.Logger) and logger.level != levels.get(name, 0):
                logger.setLevel(levels.get(name, logging.NOTSET))
        threading.excepthook = hook
        vars(redactor).update(secrets)


def write_config(
    directory: Path, connections: dict[str, tuple[Any, ...]], flows: str, store: str = "ihost.db"
) -> Path:
    """An ihost.toml with one connection per (plugin, running sandbox[, more settings]) and
    the given flows."""
    from host.demo import toml_value

    parts = [f'[store]\nurl = "sqlite:///{directory / store}"\n']
    for name, (plugin, sandbox, *more) in connections.items():
        lines = [f"[connections.{name}]", f'plugin = "{plugin}"']
        settings = {**sandbox.connection_settings(), **(more[0] if more else {})}
        lines += [f"{key} = {toml_value(value)}" for key, value in settings.items()]
        parts.append("\n".join(lines) + "\n")
    parts.append(textwrap.dedent(flows))
    path = directory / "ihost.toml"
    path.write_text("\n".join(parts))
    return path


def authorize(config: Path, connection: str) -> None:
    """Authorize `connection` at its sandbox (host.sandbox_oauth), as `ihost auth` does with
    a merchant at the browser; the tokens go into the config's store (IHOST_SECRET_KEY set)."""
    from host.authorize import authorize_at_sandbox
    from host.config import load_config
    from host.plugins import discover

    registry = discover()
    with load_config(config, registry).connect(connection, registry) as conn:
        authorize_at_sandbox(conn.hook.oauth2_flow())


def run_flow(
    config: Path, flow: str, *args: str, process: bool = False
) -> tuple[Result, dict[str, Any]]:
    """`ihost run FLOW --json` (see run_ihost); returns the result and the parsed report."""
    result = run_ihost("-c", str(config), "run", flow, "--json", *args, process=process)
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


def one_line(result: Result) -> str:
    """The one line a refused command wrote to stderr (and nothing like a traceback)."""
    assert "Traceback" not in result.output, result.output
    lines = result.err.strip().splitlines()
    assert len(lines) == 1, result.output
    return lines[0]


def dead_letters(config: Path) -> list[dict[str, Any]]:
    """`ihost deadletters --json`: the open dead letters of the config's store."""
    result = run_ihost("-c", str(config), "deadletters", "--json")
    assert result.code == 0, result.output
    return list(json.loads(result.out)["dead_letters"])


def secret_forms(secret: str, user: str) -> set[str]:
    """A secret as it might leak: plain, URL-encoded, base64 (alone, or as `user:secret`,
    as HTTP Basic sends it)."""
    import base64
    import urllib.parse

    raw = secret.encode()
    found = {secret, urllib.parse.quote(secret, safe=""), urllib.parse.quote_plus(secret)}
    for data in (raw, user.encode() + b":" + raw):
        found |= {base64.b64encode(data).decode(), base64.urlsafe_b64encode(data).decode()}
        found.add(base64.b64encode(data).decode().rstrip("="))
    return found
