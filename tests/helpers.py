"""Helpers for the host's tests: run the real `ihost` command in a subprocess."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

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
