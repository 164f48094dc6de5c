"""The SAP SFTP sandbox over real sockets: the SFTP server (keys, host key pinning, the root
guard, rename semantics) driven by paramiko's client, and the emulated SAP side reading in/
and writing out/ (IDoc checks, all-or-nothing files, ORDRSP, stock, seeding, the poller)."""

from __future__ import annotations

import base64
import io
import json
import os
import re
import socket
import threading
import time
from collections.abc import Callable, Iterator
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import httpx
import paramiko
import pytest
from ihost_sap_sftp.idoc import Idoc, IdocWriter, idoc_from_json, read_idocs
from ihost_sap_sftp.sandbox import SapSftpSandbox, fingerprint, new_ed25519_key

NOW = datetime(2026, 12, 2, 10, 30, 0, 123000, tzinfo=timezone.utc)
GOOD_EAN = "4006381333931"
BAD_EAN = "8712345678901"


# --- helpers --------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def server() -> Iterator[SapSftpSandbox]:
    """One sandbox for the tests of the SFTP server alone (each works in its own folder)."""
    with SapSftpSandbox(sap_poll=None) as running:
        yield running


@pytest.fixture
def folder(server: SapSftpSandbox, request: pytest.FixtureRequest) -> Iterator[str]:
    """A fresh folder of the shared server for one test."""
    name = f"/archive/{request.node.name}"
    (server.root / name.lstrip("/")).mkdir()
    yield name


@pytest.fixture
def remote(server: SapSftpSandbox) -> Iterator[paramiko.SFTPClient]:
    client = connect(server)
    channel = client.open_sftp()
    yield channel
    channel.close()
    client.close()


@pytest.fixture
def sandbox() -> Iterator[SapSftpSandbox]:
    running = SapSftpSandbox(sap_poll=None)
    running.clock = lambda: NOW
    running.start()
    yield running
    running.stop()


def connect(
    sandbox: SapSftpSandbox,
    *,
    pkey: paramiko.PKey | None = None,
    known: str | None = None,
    username: str = "ihost",
) -> paramiko.SSHClient:
    """An SSH client that pins the host key line `known` (the sandbox's own by default)."""
    client = paramiko.SSHClient()
    client.set_missing_host_key_policy(paramiko.RejectPolicy())
    line = sandbox.host_key_line if known is None else known
    if line:
        entry = paramiko.hostkeys.HostKeyEntry.from_line(line)
        assert entry is not None
        for name in entry.hostnames:
            client.get_host_keys().add(name, entry.key.get_name(), entry.key)
    try:
        client.connect(
            "127.0.0.1",
            sandbox.sftp_port,
            username=username,
            pkey=pkey or paramiko.Ed25519Key.from_private_key_file(str(sandbox.key_file)),
            allow_agent=False,
            look_for_keys=False,
            timeout=5,
        )
    except BaseException:
        client.close()
        raise
    return client


@pytest.fixture
def sftp(sandbox: SapSftpSandbox) -> Iterator[paramiko.SFTPClient]:
    client = connect(sandbox)
    channel = client.open_sftp()
    yield channel
    channel.close()
    client.close()


def control(mestyp: str, idoctyp: str, **overrides: str) -> dict[str, str]:
    """An inbound EDI_DC40 as the connector sends it (the sandbox's partners)."""
    record = {
        "TABNAM": "EDI_DC40",
        "DIRECT": "2",
        "IDOCTYP": idoctyp,
        "MESTYP": mestyp,
        "SNDPOR": "IHOST",
        "SNDPRT": "LS",
        "SNDPRN": "IHOST",
        "RCVPOR": "SAPS4H",
        "RCVPRT": "LS",
        "RCVPRN": "S4HCLNT100",
    }
    record.update(overrides)
    return record


def matmas(matnr: str, *, ean: str | None = None, text: str | None = "Widget", **ctl: str) -> Idoc:
    segment: dict[str, Any] = {"MSGFN": "005", "MATNR": matnr, "MEINS": "ST"}
    if ean:
        segment["EAN11"] = ean
    if text is not None:
        segment["E1MAKTM"] = [{"SPRAS_ISO": "EN", "MAKTX": text}]
    return idoc_from_json({"EDI_DC40": control("MATMAS", "MATMAS05", **ctl), "E1MARAM": segment})


def debmas(kunnr: str, **ctl: str) -> Idoc:
    customer = {
        "MSGFN": "005",
        "KUNNR": kunnr,
        "NAME1": "Jansen BV",
        "LAND1": "NL",
        "ORT01": "Utrecht",
        "E1KNVKM": [{"NAMEV": "Piet", "NAME1": "Jansen", "PARVW": "AP"}],
    }
    return idoc_from_json({"EDI_DC40": control("DEBMAS", "DEBMAS07", **ctl), "E1KNA1M": customer})


def orders(kunnr: str, po: str, *lines: tuple[str, str]) -> Idoc:
    return idoc_from_json(
        {
            "EDI_DC40": control("ORDERS", "ORDERS05"),
            "E1EDK01": {"CURCY": "EUR"},
            "E1EDKA1": [{"PARVW": "AG", "PARTN": kunnr}],
            "E1EDK02": [{"QUALF": "001", "BELNR": po}],
            "E1EDP01": [
                {
                    "POSEX": f"{10 * n:06d}",
                    "MENGE": quantity,
                    "MENEE": "PCE",
                    "E1EDP20": [{"WMENG": quantity, "EDATU": "20261210"}],
                    "E1EDP19": [{"QUALF": "002", "IDTNR": matnr}],
                }
                for n, (matnr, quantity) in enumerate(lines, start=1)
            ],
        }
    )


def xml(basic_type: str, *idocs: Idoc) -> bytes:
    buffer = io.BytesIO()
    with IdocWriter(buffer, basic_type) as writer:
        for idoc in idocs:
            writer.write(idoc)
    return buffer.getvalue()


def upload(sftp: paramiko.SFTPClient, name: str, content: bytes) -> None:
    """Put a file into /in as a careful writer does: a temp name, then posix-rename."""
    sftp.putfo(io.BytesIO(content), f"/in/.{name}.tmp")
    sftp.posix_rename(f"/in/.{name}.tmp", f"/in/{name}")


def process(sandbox: SapSftpSandbox) -> dict[str, Any]:
    """Run SAP's inbound processing once; the summary of the one file it read."""
    summaries = sandbox.process_inbound()
    assert len(summaries) == 1, summaries
    return summaries[0]


def read_back(sftp: paramiko.SFTPClient, path: str) -> list[Idoc]:
    with sftp.open(path, "rb") as remote:
        return list(read_idocs(io.BytesIO(remote.read())))


def wait_for(condition: Callable[[], bool], seconds: float = 5.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.02)


# --- the SFTP server ----------------------------------------------------------------------------


def test_the_key_logs_in_and_sees_the_four_folders(server: SapSftpSandbox) -> None:
    assert server.connection_settings() == {
        "host": "127.0.0.1",
        "port": server.sftp_port,
        "username": "ihost",
        "key_file": str(server.key_file),
        "host_key": server.host_key_line,
        "inbound_dir": "/in",
        "outbound_dir": "/out",
        "archive_dir": "/archive",
        "error_dir": "/error",
        "control": {
            "SNDPOR": "IHOST",
            "SNDPRT": "LS",
            "SNDPRN": "IHOST",
            "RCVPOR": "SAPS4H",
            "RCVPRT": "LS",
            "RCVPRN": "S4HCLNT100",
        },
    }
    assert server.key_file.stat().st_mode & 0o777 == 0o600
    assert re.fullmatch(
        rf"\[127\.0\.0\.1\]:{server.sftp_port} ssh-ed25519 [A-Za-z0-9+/=]+", server.host_key_line
    )
    blob = base64.b64decode(server.host_key_line.split()[2])
    assert server.host_key_fingerprint == fingerprint(paramiko.Ed25519Key(data=blob))
    assert re.fullmatch(r"SHA256:[A-Za-z0-9+/]{43}", server.host_key_fingerprint)
    client = connect(server)
    try:
        sftp = client.open_sftp()
        assert {"archive", "error", "in", "out"} <= set(sftp.listdir("/"))
        assert sftp.normalize(".") == "/"
        assert sftp.normalize("/in/../out") == "/out"
    finally:
        client.close()


def test_another_key_a_password_or_another_user_are_refused(server: SapSftpSandbox) -> None:
    with pytest.raises(paramiko.AuthenticationException):
        connect(server, pkey=new_ed25519_key()[0])
    with pytest.raises(paramiko.AuthenticationException):
        connect(server, username="root")
    client = paramiko.SSHClient()
    client.get_host_keys().add(f"[127.0.0.1]:{server.sftp_port}", "ssh-ed25519", server.host_key)
    try:
        with pytest.raises(paramiko.BadAuthenticationType) as refused:
            client.connect(
                "127.0.0.1",
                server.sftp_port,
                username="ihost",
                password="secret",
                allow_agent=False,
                look_for_keys=False,
            )
        assert refused.value.allowed_types == ["publickey"]
    finally:
        client.close()


def test_an_unknown_host_key_is_refused(server: SapSftpSandbox) -> None:
    with pytest.raises(paramiko.SSHException, match="not found in known_hosts"):
        connect(server, known="")


def test_a_changed_host_key_is_refused() -> None:
    pinned, forced = new_ed25519_key()[0], new_ed25519_key()[0]
    with SapSftpSandbox(sap_poll=None, host_key=forced) as sandbox:
        assert sandbox.host_key_line.endswith(forced.get_base64())
        assert sandbox.host_key_fingerprint == fingerprint(forced)
        line = f"[127.0.0.1]:{sandbox.sftp_port} ssh-ed25519 {pinned.get_base64()}"
        with pytest.raises(paramiko.BadHostKeyException):
            connect(sandbox, known=line)
        connect(sandbox).close()


def test_paths_cannot_leave_the_root(
    server: SapSftpSandbox, remote: paramiko.SFTPClient, folder: str, tmp_path: Path
) -> None:
    (tmp_path / "secret.txt").write_text("outside")
    local = server.root / folder.lstrip("/")
    os.symlink(tmp_path, local / "absolute")
    os.symlink("../../../..", local / "relative")
    escapes = ("/..", "../secret.txt", "/in/../../x", f"{folder}/absolute", f"{folder}/relative")
    for path in escapes:
        with pytest.raises(PermissionError):
            remote.listdir(path)
    with pytest.raises(PermissionError):
        remote.open(f"{folder}/absolute/secret.txt")
    with pytest.raises(PermissionError):
        remote.putfo(io.BytesIO(b"x"), "/../planted.txt")
    with pytest.raises(PermissionError):
        remote.rename(f"{folder}/absolute/secret.txt", f"{folder}/stolen.txt")
    assert (tmp_path / "secret.txt").read_text() == "outside"
    assert not (server.root.parent / "planted.txt").exists()


def test_file_operations_honour_their_flags(remote: paramiko.SFTPClient, folder: str) -> None:
    with remote.open(f"{folder}/a.txt", "w") as out:
        out.write(b"one")
    with remote.open(f"{folder}/a.txt", "a") as out:
        out.write(b"two")
    with remote.open(f"{folder}/a.txt", "r") as back:
        assert back.read() == b"onetwo"
        assert back.stat().st_size == 6
    with pytest.raises(OSError):
        remote.open(f"{folder}/a.txt", "x")
    with pytest.raises(FileNotFoundError):
        remote.open(f"{folder}/none.txt", "r")
    remote.mkdir(f"{folder}/2026")
    assert remote.stat(f"{folder}/2026").st_mode is not None
    remote.chmod(f"{folder}/a.txt", 0o640)
    assert remote.lstat(f"{folder}/a.txt").st_mode & 0o777 == 0o640
    assert {a.filename: a.st_size for a in remote.listdir_attr(folder)}["a.txt"] == 6
    remote.remove(f"{folder}/a.txt")
    remote.rmdir(f"{folder}/2026")
    assert remote.listdir(folder) == []


def test_rename_refuses_an_existing_target_and_posix_rename_replaces_it(
    remote: paramiko.SFTPClient, folder: str
) -> None:
    remote.putfo(io.BytesIO(b"old"), f"{folder}/target.xml")
    remote.putfo(io.BytesIO(b"new"), f"{folder}/source.xml")
    with pytest.raises(OSError):
        remote.rename(f"{folder}/source.xml", f"{folder}/target.xml")
    remote.posix_rename(f"{folder}/source.xml", f"{folder}/target.xml")
    with remote.open(f"{folder}/target.xml") as back:
        assert back.read() == b"new"
    remote.rename(f"{folder}/target.xml", f"{folder}/moved.xml")
    assert remote.listdir(folder) == ["moved.xml"]


def test_posix_rename_switched_off_answers_unsupported() -> None:
    with SapSftpSandbox(sap_poll=None, posix_rename=False) as sandbox:
        client = connect(sandbox)
        try:
            sftp = client.open_sftp()
            sftp.putfo(io.BytesIO(b"x"), "/in/.a.tmp")
            with pytest.raises(OSError, match="Operation unsupported"):
                sftp.posix_rename("/in/.a.tmp", "/in/a.xml")
            sftp.rename("/in/.a.tmp", "/in/a.xml")
            assert sftp.listdir("/in") == ["a.xml"]
        finally:
            client.close()


def test_several_clients_work_at_once(server: SapSftpSandbox, folder: str) -> None:
    clients = [connect(server) for _ in range(3)]
    failures: list[BaseException] = []

    def write(number: int, client: paramiko.SSHClient) -> None:
        try:
            with client.open_sftp() as sftp:
                for part in range(5):
                    sftp.putfo(io.BytesIO(b"x" * 1000), f"{folder}/{number}-{part}.txt")
        except BaseException as exc:
            failures.append(exc)

    threads = [threading.Thread(target=write, args=(n, c)) for n, c in enumerate(clients)]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(10)
    finally:
        for client in clients:
            client.close()
    assert not failures
    assert len(os.listdir(server.root / folder.lstrip("/"))) == 15


# --- the SAP side: IDocs into SAP ---------------------------------------------------------------


def test_matmas_is_applied_and_the_file_removed(
    sandbox: SapSftpSandbox, sftp: paramiko.SFTPClient
) -> None:
    upload(sftp, "MATMAS_1.xml", xml("MATMAS05", matmas("M-100", ean=GOOD_EAN)))
    summary = process(sandbox)
    assert summary == {"file": "MATMAS_1.xml", "status": "accepted", "idocs": 1, "errors": []}
    assert sftp.listdir("/in") == []
    [material] = sandbox.dump("materials")
    assert material["MATNR"] == "M-100"
    assert material["EAN11"] == GOOD_EAN
    assert material["E1MAKTM"] == [{"SPRAS_ISO": "EN", "MAKTX": "Widget"}]
    # a later IDoc replaces what it carries; without E1MAKTM the descriptions stay
    change = matmas("M-100", text=None)
    change.first("E1MARAM").fields["MEINS"] = "KAR"  # type: ignore[union-attr]
    upload(sftp, "MATMAS_2.xml", xml("MATMAS05", change))
    assert process(sandbox)["status"] == "accepted"
    [material] = sandbox.dump("materials")
    assert material["MEINS"] == "KAR"
    assert material["EAN11"] == GOOD_EAN
    assert material["E1MAKTM"] == [{"SPRAS_ISO": "EN", "MAKTX": "Widget"}]
    [entry, _] = sandbox.dump("inbound")
    assert entry["file"] == "MATMAS_1.xml"
    assert re.fullmatch(r"\d{16}", entry["docnums"][0])


def test_a_bad_ean_rejects_the_whole_file(
    sandbox: SapSftpSandbox, sftp: paramiko.SFTPClient
) -> None:
    content = xml("MATMAS05", matmas("M-1"), matmas("M-2", ean=BAD_EAN))
    upload(sftp, "MATMAS_3.xml", content)
    summary = process(sandbox)
    assert summary["status"] == "rejected"
    assert summary["idocs"] == 2
    assert summary["errors"] == [
        f"IDoc 2 (MATMAS): status 51: E1MARAM-EAN11: EAN {BAD_EAN} has an invalid check digit"
    ]
    assert sandbox.dump("materials") == []  # the good IDoc before it is not applied either
    assert sorted(sftp.listdir("/error")) == ["MATMAS_3.xml", "MATMAS_3.xml.err.txt"]
    with sftp.open("/error/MATMAS_3.xml.err.txt") as report:
        assert report.read().decode() == summary["errors"][0] + "\n"
    with sftp.open("/error/MATMAS_3.xml") as kept:
        assert kept.read() == content
    assert sftp.listdir("/in") == []


def test_material_checks(sandbox: SapSftpSandbox, sftp: paramiko.SFTPClient) -> None:
    long_number = matmas("M" * 19)
    no_unit = matmas("M-3")
    del no_unit.first("E1MARAM").fields["MEINS"]  # type: ignore[union-attr]
    long_text = matmas("M-4", text="x" * 41)
    upload(sftp, "MATMAS_4.xml", xml("MATMAS05", long_number, no_unit, long_text))
    errors = process(sandbox)["errors"]
    assert errors == [
        f"IDoc 1 (MATMAS): status 51: E1MARAM-MATNR: {'M' * 19!r} is longer than 18 characters",
        "IDoc 2 (MATMAS): status 51: E1MARAM-MEINS is missing",
        f"IDoc 3 (MATMAS): status 51: E1MAKTM-MAKTX: {'x' * 41!r} is longer than 40 characters",
    ]


def test_s4_takes_forty_character_material_numbers() -> None:
    with SapSftpSandbox(sap_poll=None, s4=True) as sandbox:
        (sandbox.root / "in" / "m.xml").write_bytes(xml("MATMAS05", matmas("M" * 40)))
        assert process(sandbox)["status"] == "accepted"
        assert sandbox.dump("materials")[0]["MATNR"] == "M" * 40


def test_debmas_is_applied_and_an_unknown_partner_refused(
    sandbox: SapSftpSandbox, sftp: paramiko.SFTPClient
) -> None:
    upload(sftp, "DEBMAS_1.xml", xml("DEBMAS07", debmas("0000012345")))
    assert process(sandbox)["status"] == "accepted"
    [customer] = sandbox.dump("customers")
    assert customer["KUNNR"] == "0000012345"
    assert customer["E1KNVKM"] == [{"NAMEV": "Piet", "NAME1": "Jansen", "PARVW": "AP"}]
    upload(sftp, "DEBMAS_2.xml", xml("DEBMAS07", debmas("0000012346", SNDPRN="IHOST2")))
    summary = process(sandbox)
    assert summary["errors"] == [
        "IDoc 1 (DEBMAS): status 56: No partner profile for LS IHOST2 message type DEBMAS"
    ]
    assert len(sandbox.dump("customers")) == 1


def test_control_record_checks(sandbox: SapSftpSandbox, sftp: paramiko.SFTPClient) -> None:
    idocs = [
        debmas("1", DIRECT="1"),
        debmas("2", MANDT="200"),
        debmas("3", RCVPRN="S4HCLNT200"),
        debmas("4", IDOCTYP="MATMAS05"),
        debmas("5", SNDPOR=""),
        debmas("6", MESTYP="INVOIC"),
    ]
    upload(sftp, "DEBMAS_3.xml", xml("DEBMAS07", *idocs))
    errors = process(sandbox)["errors"]
    assert len(errors) == 6
    assert all(": status 56: " in e for e in errors)
    assert "DIRECT must be 2" in errors[0]
    assert "Client 200" in errors[1]
    assert "S4HCLNT200" in errors[2]
    assert "Basic type MATMAS05 is not assigned to message type DEBMAS" in errors[3]
    assert "SNDPOR is missing" in errors[4]
    assert errors[5].endswith("message type INVOIC is not emulated by the ihost sandbox")


def test_orders_create_a_sales_order_and_an_ordrsp(
    sandbox: SapSftpSandbox, sftp: paramiko.SFTPClient
) -> None:
    sandbox.seed("materials", [{"MATNR": "M-100", "MEINS": "ST", "MAKTX": "Widget"}])
    sandbox.seed("customers", [{"KUNNR": "0000012345", "NAME1": "Jansen BV", "LAND1": "NL"}])
    order = orders("0000012345", "WEB-1001", ("M-100", "2"), ("M-100", "1.5"))
    upload(sftp, "ORDERS_1.xml", xml("ORDERS05", order))
    assert process(sandbox)["status"] == "accepted"
    [created] = sandbox.dump("orders")
    assert created["VBELN"] == "0000012000"
    assert created["PO"] == "WEB-1001"
    assert created["KUNNR"] == "0000012345"
    assert created["file"] == "ORDERS_1.xml"
    assert [line["MENGE"] for line in created["lines"]] == ["2", "1.5"]
    [name] = sftp.listdir("/out")
    assert name == created["response"]
    assert re.fullmatch(r"ORDRSP_20261202103000123_\d{16}\.xml", name)
    [response] = read_back(sftp, f"/out/{name}")
    assert response.control["DIRECT"] == "1"
    assert response.control["MESTYP"] == "ORDRSP"
    assert response.control["IDOCTYP"] == "ORDERS05"
    assert response.control["MANDT"] == "100"
    assert response.control["SNDPRN"] == "S4HCLNT100"
    assert response.control["RCVPRN"] == "IHOST"
    assert response.control["CREDAT"] == "20261202"
    assert response.control["CRETIM"] == "103000"
    assert name.endswith(f"_{response.docnum}.xml")
    assert response.first("E1EDK01").get("BELNR") == "0000012000"  # type: ignore[union-attr]
    assert response.first("E1EDK02", QUALF="001").get("BELNR") == "WEB-1001"  # type: ignore[union-attr]
    assert response.first("E1EDKA1", PARVW="AG").get("PARTN") == "0000012345"  # type: ignore[union-attr]
    lines = response.all("E1EDP01")
    assert [line.first("E1EDP20").get("WMENG") for line in lines] == ["2", "1.5"]  # type: ignore[union-attr]
    assert lines[0].first("E1EDP20").get("EDATU") == "20261210"  # type: ignore[union-attr]


def test_orders_refusals(sandbox: SapSftpSandbox, sftp: paramiko.SFTPClient) -> None:
    sandbox.seed("materials", [{"MATNR": "M-100"}])
    upload(sftp, "DEBMAS_1.xml", xml("DEBMAS07", debmas("12345")))
    assert process(sandbox)["status"] == "accepted"
    upload(sftp, "ORDERS_1.xml", xml("ORDERS05", orders("0000012345", "1001", ("M-100", "1"))))
    assert process(sandbox)["status"] == "accepted"  # the customer matched by its number
    refused = [
        orders("0000012345", "1001", ("M-100", "1")),
        orders("0000012345", "1002", ("XYZ", "1")),
        orders("0000099999", "1003", ("M-100", "1")),
        orders("0000012345", "1004", ("M-100", "0")),
    ]
    upload(sftp, "ORDERS_2.xml", xml("ORDERS05", *refused))
    assert process(sandbox)["errors"] == [
        "IDoc 1 (ORDERS): status 51: Purchase order number 1001 already exists for sold-to "
        "party 0000012345",
        "IDoc 2 (ORDERS): status 51: Material XYZ does not exist",
        "IDoc 3 (ORDERS): status 51: Sold-to party 0000099999 does not exist",
        "IDoc 4 (ORDERS): status 51: E1EDP01-MENGE: item 1 has no quantity",
    ]
    assert len(sandbox.dump("orders")) == 1
    assert len(sftp.listdir("/out")) == 1


def test_a_file_sees_what_its_earlier_idocs_did(
    sandbox: SapSftpSandbox, sftp: paramiko.SFTPClient
) -> None:
    twice = xml(
        "ORDERS05",
        orders("0000000042", "7", ("M-1", "1")),
        orders("0000000042", "7", ("M-1", "1")),
    )
    sandbox.seed("materials", [{"MATNR": "M-1"}])
    sandbox.seed("customers", [{"KUNNR": "0000000042"}])
    upload(sftp, "ORDERS_3.xml", twice)
    assert process(sandbox)["errors"] == [
        "IDoc 2 (ORDERS): status 51: Purchase order number 7 already exists for sold-to party "
        "0000000042"
    ]
    assert sandbox.dump("orders") == []
    assert sftp.listdir("/out") == []


def test_stock_csv_with_a_decimal_comma(sandbox: SapSftpSandbox, sftp: paramiko.SFTPClient) -> None:
    sandbox.seed("materials", [{"MATNR": "M-1"}, {"MATNR": "000000000000000042"}])
    snapshot = (
        "MATNR;WERKS;LGORT;LABST;MEINS\nM-1;1000;0001;12,5;ST\nM-1;1000;0002;2;ST\n42;;;7;ST\n"
    )
    upload(sftp, "STOCK_1.csv", snapshot.encode())
    assert process(sandbox)["status"] == "accepted"
    assert sandbox.dump("stock") == [
        {"MATNR": "000000000000000042", "WERKS": "", "LABST": "7"},
        {"MATNR": "M-1", "WERKS": "1000", "LABST": "14.5"},
    ]
    upload(sftp, "STOCK_2.csv", b"MATNR;LABST\nM-1;3\nM-1;12.5\nNOPE;1\n")
    summary = process(sandbox)
    assert summary["errors"] == [
        "line 3, column LABST: '12.5' is not a number (decimal separator ',')",
        "line 4, column MATNR: Material NOPE does not exist",
    ]
    assert sandbox.dump("stock")[1]["LABST"] == "14.5"  # nothing of the refused file
    upload(sftp, "STOCK_3.csv", b"MATNR;QTY\nM-1;3\n")
    assert process(sandbox)["errors"] == ["line 1: column LABST is missing"]


def test_stock_csv_options() -> None:
    with SapSftpSandbox(
        sap_poll=None, csv_delimiter=",", csv_decimal=".", csv_encoding="latin-1"
    ) as sandbox:
        sandbox.seed("materials", [{"MATNR": "MÜ-1"}])
        (sandbox.root / "in" / "s.csv").write_bytes("MATNR,LABST\nMÜ-1,1.25\n".encode("latin-1"))
        assert process(sandbox)["status"] == "accepted"
        assert sandbox.dump("stock") == [{"MATNR": "MÜ-1", "WERKS": "", "LABST": "1.25"}]


def test_loistd_sets_stock_per_plant(sandbox: SapSftpSandbox, sftp: paramiko.SFTPClient) -> None:
    sandbox.seed("materials", [{"MATNR": "M-1"}])
    stock = idoc_from_json(
        {
            "EDI_DC40": control("LOISTD", "LOISTD01"),
            "E1MDSTL": [
                {"MATNR": "M-1", "WERKS": "1000", "LABST": "5.000"},
                {"MATNR": "M-1", "WERKS": "2000", "LABST": "0"},
            ],
        }
    )
    upload(sftp, "LOISTD_1.xml", xml("LOISTD01", stock))
    assert process(sandbox)["status"] == "accepted"
    assert sandbox.dump("stock") == [
        {"MATNR": "M-1", "WERKS": "1000", "LABST": "5"},
        {"MATNR": "M-1", "WERKS": "2000", "LABST": "0"},
    ]
    unknown = idoc_from_json(
        {
            "EDI_DC40": control("LOISTD", "LOISTD01"),
            "E1MDSTL": {"MATNR": "M-2", "WERKS": "1000", "LABST": "1"},
        }
    )
    upload(sftp, "LOISTD_2.xml", xml("LOISTD01", unknown))
    assert process(sandbox)["errors"] == ["IDoc 1 (LOISTD): status 51: Material M-2 does not exist"]


def test_temp_names_are_left_alone_and_foreign_files_refused(
    sandbox: SapSftpSandbox, sftp: paramiko.SFTPClient
) -> None:
    sftp.putfo(io.BytesIO(b"<half"), "/in/.ORDERS_9.xml.tmp")
    sftp.putfo(io.BytesIO(b"<half"), "/in/ORDERS_9.xml.tmp")
    assert sandbox.process_inbound() == []
    sandbox.seed(
        "files",
        [
            {"folder": "in", "name": "b.pdf", "content": "%PDF"},
            {"folder": "in", "name": "a.xml", "content": "<ORDERS05><IDOC>"},
        ],
    )
    first, second = sandbox.process_inbound()
    assert first["file"] == "a.xml"
    assert first["errors"][0].startswith("file: not well-formed XML")
    assert second["file"] == "b.pdf"
    assert "unknown file type" in second["errors"][0]
    assert sorted(sftp.listdir("/in")) == [".ORDERS_9.xml.tmp", "ORDERS_9.xml.tmp"]


# --- seed and dump ------------------------------------------------------------------------------


def order_record(belnr: str, **header: str) -> dict[str, Any]:
    return {
        "E1EDK01": {"CURCY": "EUR", "BELNR": belnr, **header},
        "E1EDKA1": [{"PARVW": "AG", "PARTN": "0000012345"}],
        "E1EDK02": [{"QUALF": "001", "BELNR": f"PO-{belnr}"}],
        "E1EDP01": [{"POSEX": "000010", "MENGE": "1", "MATNR": "M-1"}],
    }


def test_seeded_orders_go_into_one_file(sandbox: SapSftpSandbox, sftp: paramiko.SFTPClient) -> None:
    sandbox.seed("orders", [order_record("4500000001"), order_record("4500000002")])
    [name] = sftp.listdir("/out")
    assert name.startswith("ORDERS_20261202103000123_")
    idocs = read_back(sftp, f"/out/{name}")
    assert [i.first("E1EDK01").get("BELNR") for i in idocs] == ["4500000001", "4500000002"]  # type: ignore[union-attr]
    first = idocs[0].control
    assert first["TABNAM"] == "EDI_DC40"
    assert first["DIRECT"] == "1"
    assert (first["IDOCTYP"], first["MESTYP"]) == ("ORDERS05", "ORDERS")
    assert (first["SNDPRN"], first["RCVPRN"], first["MANDT"]) == ("S4HCLNT100", "IHOST", "100")
    assert name.endswith(f"_{first['DOCNUM']}.xml")
    assert idocs[0].docnum != idocs[1].docnum
    sandbox.seed(
        "deliveries",
        [{"E1EDL20": {"VBELN": "80000001", "BOLNR": "3SABC", "E1EDL37": [{"EXIDV": "JVGL1"}]}}],
    )
    [delivery] = [n for n in sftp.listdir("/out") if n.startswith("DESADV_")]
    [desadv] = read_back(sftp, f"/out/{delivery}")
    assert (desadv.idoctyp, desadv.mestyp) == ("DELVRY03", "DESADV")


def test_seed_refusals_name_kind_record_and_field(sandbox: SapSftpSandbox) -> None:
    missing_currency = order_record("2")
    del missing_currency["E1EDK01"]["CURCY"]
    with pytest.raises(ValueError, match=r"^orders\[1\]: E1EDK01\.CURCY is missing$"):
        sandbox.seed("orders", [order_record("1"), missing_currency])
    no_items = order_record("3")
    del no_items["E1EDP01"]
    with pytest.raises(ValueError, match=r"^orders\[0\]: E1EDP01 is missing"):
        sandbox.seed("orders", [no_items])
    with pytest.raises(ValueError, match=r"^deliveries\[0\]: E1EDL20\.VBELN is missing$"):
        sandbox.seed("deliveries", [{"E1EDL20": {"BOLNR": "x"}}])
    with pytest.raises(ValueError, match=r"^materials\[0\]: E1MARAM-EAN11: EAN 8712345678901"):
        sandbox.seed("materials", [{"MATNR": "M", "EAN11": BAD_EAN}])
    with pytest.raises(ValueError, match=r"^customers\[0\]: E1KNA1M-KUNNR is missing$"):
        sandbox.seed("customers", [{"NAME1": "x"}])
    with pytest.raises(ValueError, match=r"files\[0\]: folder '\.\./x' leaves"):
        sandbox.seed("files", [{"folder": "../x", "name": "a", "content": ""}])
    assert sandbox.dump("files") == []  # nothing of the refused orders was written
    with pytest.raises(ValueError, match="orders, deliveries, materials, customers, files"):
        sandbox.seed("stock", [])
    with pytest.raises(ValueError, match="materials, customers, orders, stock, inbound, files"):
        sandbox.dump("deliveries")


def test_seed_files_and_dump_files(sandbox: SapSftpSandbox, sftp: paramiko.SFTPClient) -> None:
    raw = "Grüße".encode("latin-1")
    sandbox.seed(
        "files",
        [
            {"folder": "out", "name": "X.xml", "content": "<x/>", "encoding": "utf-8"},
            {"folder": "archive/2026/12/02", "name": "Y.bin", "content_base64": "AAEC"},
            {"folder": "out", "name": "Z.csv", "content_base64": base64.b64encode(raw).decode()},
        ],
    )
    assert sandbox.dump("files") == [
        {"folder": "archive/2026/12/02", "name": "Y.bin", "size": 3},
        {"folder": "out", "name": "X.xml", "size": 4},
        {"folder": "out", "name": "Z.csv", "size": len(raw)},
    ]
    with sftp.open("/out/Z.csv") as back:
        assert back.read() == raw


def test_seed_file_and_the_seed_route(sandbox: SapSftpSandbox, tmp_path: Path) -> None:
    seed = tmp_path / "seed.json"
    seed.write_text(json.dumps({"materials": [{"MATNR": "M-1"}], "customers": [{"KUNNR": "1"}]}))
    assert sandbox.seed_file(seed) == {"materials": 1, "customers": 1}
    answer = httpx.post(sandbox.base_url + "/_sandbox/seed/materials", json=[{"MATNR": "M" * 19}])
    assert answer.status_code == 400
    assert "materials[0]: E1MARAM-MATNR" in answer.json()["error"]
    assert [m["MATNR"] for m in sandbox.dump("materials")] == ["M-1"]


# --- the poller, HTTP, lifecycle ----------------------------------------------------------------


def test_the_poller_consumes_in() -> None:
    with SapSftpSandbox(sap_poll=0.05) as sandbox:
        client = connect(sandbox)
        try:
            sftp = client.open_sftp()
            upload(sftp, "MATMAS_1.xml", xml("MATMAS05", matmas("M-1")))
            wait_for(lambda: bool(sandbox.dump("materials")))
            assert sftp.listdir("/in") == []
            assert sandbox.process_inbound() == []
            assert [e["file"] for e in sandbox.dump("inbound")] == ["MATMAS_1.xml"]
        finally:
            client.close()


def test_http_controls_and_not_emulated(sandbox: SapSftpSandbox) -> None:
    sandbox.seed("files", [{"folder": "in", "name": "x.txt", "content": "?"}])
    answer = httpx.get(sandbox.base_url + "/_sandbox/files")
    assert answer.json() == [{"folder": "in", "name": "x.txt", "size": 1}]
    processed = httpx.post(sandbox.base_url + "/_sandbox/sap/process")
    assert processed.status_code == 200
    assert processed.json()[0]["status"] == "rejected"
    for method, path in (("GET", "/sap/bc/idoc"), ("GET", "/_sandbox/sap/process")):
        missing = httpx.request(method, sandbox.base_url + path)
        assert missing.status_code == 404
        assert missing.json() == {"error": "not emulated by the ihost sandbox"}


def test_stop_removes_everything_and_twice_is_safe() -> None:
    sandbox = SapSftpSandbox()
    sandbox.start()
    client = connect(sandbox)
    root, key_file, port = sandbox.root, sandbox.key_file, sandbox.sftp_port
    sandbox.stop()
    sandbox.stop()
    client.close()
    assert not root.exists()
    assert not key_file.exists()
    with pytest.raises(OSError), socket.create_connection(("127.0.0.1", port), timeout=1):
        pass
    with pytest.raises(RuntimeError):
        sandbox.connection_settings()
