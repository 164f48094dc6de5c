"""Against OpenSSH, the server most SAP landscapes put their SFTP folders on: the connector
writes, claims, reads and archives through sshd's internal-sftp on a port of 127.0.0.1, and
OpenSSH's own sftp client works the sandbox. Skipped where OpenSSH is not installed, except
where IHOST_REQUIRE_SSHD is set (CI installs it)."""

from __future__ import annotations

import getpass
import io
import os
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest
from ihost_sap_sftp.demo import sap_orders
from ihost_sap_sftp.idoc import IdocWriter, idoc_from_json, read_idocs
from ihost_sap_sftp.plugin import SapSftpPlugin
from ihost_sap_sftp.sandbox import SapSftpSandbox, new_ed25519_key

from host.auth import ConnectorContext
from host.errors import AuthError
from host.models import Product

SSHD = shutil.which("sshd") or "/usr/sbin/sshd"


def _need(program: str | None, what: str) -> str:
    if program and os.path.exists(program):
        return program
    if os.environ.get("IHOST_REQUIRE_SSHD"):
        pytest.fail(f"{what} is not installed, and IHOST_REQUIRE_SSHD says it must be")
    pytest.skip(f"{what} is not installed (Debian: openssh-server)")


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _private(path: Path, text: str) -> Path:
    path.write_text(text)
    path.chmod(0o600)
    return path


@pytest.fixture
def sshd(tmp_path: Path) -> Iterator[dict[str, Any]]:
    """OpenSSH's sshd, key authentication only, SFTP only, serving `exchange/` folders."""
    program = _need(SSHD, "OpenSSH's sshd")
    host_key, host_pem = new_ed25519_key()
    user_key, user_pem = new_ed25519_key()
    keys = tmp_path / "keys"
    keys.mkdir()
    host_file = _private(keys / "host_ed25519", host_pem)
    user_file = _private(keys / "user_ed25519", user_pem)
    authorized = _private(keys / "authorized_keys", f"ssh-ed25519 {user_key.get_base64()}\n")
    exchange = tmp_path / "exchange"
    for folder in ("in", "out", "archive", "error"):
        (exchange / folder).mkdir(parents=True)
    port = _free_port()
    user = getpass.getuser()
    config = tmp_path / "sshd_config"
    config.write_text(
        f"ListenAddress 127.0.0.1:{port}\nHostKey {host_file}\nPidFile {tmp_path / 'sshd.pid'}\n"
        f"AuthorizedKeysFile {authorized}\nPasswordAuthentication no\n"
        "KbdInteractiveAuthentication no\nUsePAM no\nStrictModes no\n"
        f"PermitRootLogin prohibit-password\nAllowUsers {user}\n"
        "Subsystem sftp internal-sftp\nForceCommand internal-sftp\n"
    )
    if os.geteuid() == 0:
        os.makedirs("/run/sshd", exist_ok=True)  # sshd's privilege separation directory
    server = subprocess.Popen(
        [program, "-D", "-e", "-f", str(config)], stderr=subprocess.PIPE, text=True
    )
    deadline = time.monotonic() + 15
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            break
        except OSError:
            if server.poll() is not None or time.monotonic() > deadline:
                server.kill()
                raise RuntimeError(f"sshd did not start: {server.communicate()[1]}") from None
            time.sleep(0.05)
    try:
        yield {
            "host": "127.0.0.1",
            "port": port,
            "username": user,
            "key_file": str(user_file),
            "host_key": f"[127.0.0.1]:{port} ssh-ed25519 {host_key.get_base64()}",
            "inbound_dir": str(exchange / "in"),
            "outbound_dir": str(exchange / "out"),
            "archive_dir": str(exchange / "archive"),
            "error_dir": str(exchange / "error"),
            "exchange": exchange,
        }
    finally:
        server.terminate()
        server.wait(timeout=10)


def _plugin(settings: dict[str, Any]) -> SapSftpPlugin:
    given = {k: v for k, v in settings.items() if k != "exchange"}
    return SapSftpPlugin(SapSftpPlugin.Settings(**given), ConnectorContext(connection="sap"))


def test_writes_replace_by_posix_rename_on_openssh(sshd: dict[str, Any]) -> None:
    plugin = _plugin(sshd)
    product = Product(
        key="p-1",
        sku="MUG-01",
        name="Stoneware mug",
        updated_at=datetime(2026, 11, 20, 9, 30, tzinfo=timezone.utc),
    )
    try:
        plugin.check_connection()
        plugin.upsert_product(product, None, True)
        plugin.upsert_product(product, None, True)  # again, as after a crash: the same file
        assert plugin.client.posix_rename  # OpenSSH has posix-rename
    finally:
        plugin.close()
    (written,) = (sshd["exchange"] / "in").iterdir()
    assert written.name.startswith("MATMAS_20261120093000000_MUG-01_")
    with written.open("rb") as stream:
        (idoc,) = list(read_idocs(stream))
    assert idoc.first("E1MARAM").get("MATNR") == "MUG-01"


def test_orders_are_claimed_read_and_archived_on_openssh(sshd: dict[str, Any]) -> None:
    out = sshd["exchange"] / "out"
    body = io.BytesIO()
    with IdocWriter(body, "ORDERS05") as writer:
        for n, data in enumerate(sap_orders(), start=1):
            control = {"TABNAM": "EDI_DC40", "DOCNUM": f"{n:016d}", "MESTYP": "ORDERS"}
            writer.write(idoc_from_json({"EDI_DC40": control, **data}))
    (out / "ORDERS_20261120101500000_1.xml").write_bytes(body.getvalue())
    plugin = _plugin(sshd)
    try:
        orders = list(plugin.fetch_orders(since=None, statuses=None))
        assert [o.number for o in orders] == ["0000012001", "0000012002"]
        assert [p.name for p in out.iterdir()] == ["ORDERS_20261120101500000_1.xml.processing"]
        plugin.acknowledge_read()
    finally:
        plugin.close()
    assert list(out.iterdir()) == []
    (archived,) = (sshd["exchange"] / "archive").rglob("*.xml")
    assert archived.read_bytes() == body.getvalue()


def test_an_unknown_host_key_is_refused_by_openssh_too(sshd: dict[str, Any]) -> None:
    stranger, _ = new_ed25519_key()
    settings = {**sshd, "host_key": f"ssh-ed25519 {stranger.get_base64()}"}
    plugin = _plugin(settings)
    try:
        with pytest.raises(AuthError, match="offered host key ssh-ed25519 SHA256:"):
            plugin.check_connection()
    finally:
        plugin.close()
    assert list((sshd["exchange"] / "in").iterdir()) == []


def test_openssh_sftp_client_works_the_sandbox(tmp_path: Path) -> None:
    program = _need(shutil.which("sftp"), "OpenSSH's sftp client")
    with SapSftpSandbox(sap_poll=None) as sandbox:
        settings = sandbox.connection_settings()
        known = tmp_path / "known_hosts"
        known.write_text(settings["host_key"] + "\n")
        source = tmp_path / "STOCK_1.csv"
        source.write_text("MATNR;LABST\nMUG-01;3\n")
        batch = tmp_path / "batch"
        batch.write_text(
            f"put {source} /in/.STOCK_1.csv.tmp\nrename /in/.STOCK_1.csv.tmp /in/STOCK_1.csv\n"
        )
        options = [f"UserKnownHostsFile={known}", "StrictHostKeyChecking=yes", "BatchMode=yes"]
        result = subprocess.run(
            [program, "-b", str(batch), "-i", settings["key_file"], "-P", str(settings["port"])]
            + [part for option in options for part in ("-o", option)]
            + ["-o", "IdentitiesOnly=yes", "ihost@127.0.0.1"],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert result.returncode == 0, result.stderr
        assert (sandbox.root / "in" / "STOCK_1.csv").read_text() == source.read_text()
