"""`ihost check` against a running sandbox, and secrets kept out of every output."""

from __future__ import annotations

import socket
from pathlib import Path

from helpers import run_ihost
from ihost_testconnectors.sandbox import RecordSandbox

SECRET = "s3cr3t-t0ken-Do-Not-Print"
URL_SECRET = "/tenant-8f3a9"


def config(tmp_path: Path, base_url: str, extra: str = "") -> Path:
    path = tmp_path / "ihost.toml"
    path.write_text(
        f"""
[connections.shop]
plugin = "testshop"
base_url = "{base_url}"
token = "${{SHOP_TOKEN}}"
{extra}
"""
    )
    return path


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_check_ok(tmp_path: Path, sandbox: RecordSandbox) -> None:
    path = config(tmp_path, sandbox.base_url)
    result = run_ihost("-c", str(path), "check", "shop", env={"SHOP_TOKEN": sandbox.token})
    assert result.code == 0, result.err
    assert result.out.startswith("shop (testshop): ok (")
    assert sandbox.calls_to("/api/ping") and sandbox.calls_to("/api/ping")[0].status == 200


def test_bad_credentials_exit_3_without_the_secret(tmp_path: Path, sandbox: RecordSandbox) -> None:
    path = config(tmp_path, sandbox.base_url)
    result = run_ihost(  # a real process: its exit code, and nothing it writes shows the secret
        "-vv", "-c", str(path), "check", "shop", env={"SHOP_TOKEN": SECRET}, process=True
    )
    assert result.code == 3
    last = result.err.strip().splitlines()[-1]
    assert last.startswith("ihost: shop (testshop): testshop refused the credentials (401): ")
    assert last.endswith("invalid token in '***'")  # the remote echoed the header
    assert "Traceback" not in result.output
    assert SECRET not in result.output
    assert "Authorization': '***'" in result.err or "authorization': '***'" in result.err


def test_unreachable_exit_3(tmp_path: Path) -> None:
    base_url = f"http://127.0.0.1:{closed_port()}"
    path = config(tmp_path, base_url)
    result = run_ihost("-c", str(path), "check", "shop", env={"SHOP_TOKEN": SECRET})
    assert result.code == 3
    (line,) = result.err.strip().splitlines()
    assert line.startswith("ihost: shop (testshop): testshop: cannot connect for GET ")
    assert SECRET not in result.output


def test_unknown_connection_exit_2(tmp_path: Path, sandbox: RecordSandbox) -> None:
    path = config(tmp_path, sandbox.base_url)
    result = run_ihost("-c", str(path), "check", "erp", env={"SHOP_TOKEN": SECRET})
    assert result.code == 2
    assert result.err.strip() == "ihost.toml: no connection 'erp' (configured: shop)"


def test_secrets_from_env_never_appear(tmp_path: Path, sandbox: RecordSandbox) -> None:
    """Every secret given as ${VAR} stays out of output, logs and errors, whatever fails."""
    env = {
        "SHOP_TOKEN": SECRET,
        "SHOP_URL": sandbox.base_url + URL_SECRET,
        "PAGES": "hunter2-not-a-number",
        "HOOK_SECRET": "whsec-abcdef-123456",
    }
    path = tmp_path / "ihost.toml"
    path.write_text(
        """
[connections.shop]
plugin = "testshop"
base_url = "${SHOP_URL}"
token = "${SHOP_TOKEN}"
webhook_secret = "${HOOK_SECRET}"

[connections.bad]
plugin = "testerp"
base_url = "${SHOP_URL}"
token = "${SHOP_TOKEN}"
page_size = "${PAGES}"
"""
    )
    outputs = [
        run_ihost("-vv", "-c", str(path), "config", "validate", env=env),
        run_ihost("-vv", "-c", str(path), "check", "shop", env=env),
        run_ihost("-vv", "-c", str(path), "check", "bad", env=env),
        run_ihost("-vv", "-c", str(path), "plugins", "--json", env=env),
    ]
    assert outputs[0].code == 2
    assert "[connections.bad] page_size: Input should be a valid integer" in outputs[0].err
    assert outputs[1].code == 2  # the config is invalid, so check refuses too
    for result in outputs:
        for value in env.values():
            assert value not in result.output, (value, result.output)

    path.write_text(path.read_text().split("[connections.bad]")[0])
    checked = run_ihost("-vv", "-c", str(path), "check", "shop", env=env)
    assert checked.code == 3  # the sandbox has no /tenant-8f3a9/api/ping: 404 refused
    assert "testshop rejected GET ***/api/ping (404): Not Found" in checked.err
    for value in env.values():
        assert value not in checked.output
