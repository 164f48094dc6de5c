"""A hostile world against the SAP over SFTP connector, through the CLI: configurations that
cannot work, keys SAP's server refuses, a server whose host key is not the pinned one, a
port nobody listens on and a server that never speaks; files in SAP's outbound folder that
are broken, oversized, entity bombs, of the wrong message type, missing the sold-to party,
delivered again or still being written; a SKU SAP cannot hold; and the private key and its
passphrase, which must never show.

What must hold for a test to be about what it shows is checked with `require` (pytest.fail),
what it shows with `assert`."""

from __future__ import annotations

import base64
import io
import os
import re
import socket
import threading
import time
import xml.parsers.expat
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import paramiko
import pytest
from cryptography.fernet import Fernet
from cryptography.hazmat.primitives import serialization
from helpers import (
    Result,
    authorize,
    dead_letters,
    one_line,
    run_flow,
    run_ihost,
    secret_forms,
    write_config,
)
from ihost_asperion import samples
from ihost_asperion.sandbox import AsperionSandbox
from ihost_sap_sftp.demo import ERP_SETTINGS, UPDATED
from ihost_sap_sftp.idoc import read_idocs
from ihost_sap_sftp.sandbox import SapSftpSandbox, fingerprint, new_ed25519_key

from host.demo import ARTICLES
from host.tokens import KEY_VARIABLE

IDOC = b'<IDOC BEGIN="1">'
ORDERS_FLOW = """
[flows.orders]
kind = "orders"
source = "sap"
target = "erp"
[flows.orders.settings]
order_type = "sales_order"
retry_backoff = 0
unavailable_after = 1
[flows.orders.mapping]
payment_terms = { "0001" = "1", "0002" = "2" }
"""
pytestmark = pytest.mark.usefixtures("secret_key")  # the Asperion tokens are sealed with it
PRODUCTS_FLOW = """
[flows.products]
kind = "products"
source = "erp"
target = "sap"
"""


@pytest.fixture
def erp() -> Iterator[AsperionSandbox]:
    """An Asperion administration with the demo's articles."""
    with AsperionSandbox() as running:
        running.seed("articles", [article(code, name) for code, name, _ in ARTICLES])
        yield running


def article(code: str, name: str) -> dict[str, Any]:
    """An Asperion article sold at 10.33 excluding VAT, changed at UPDATED."""
    return samples.article(code, 10.33, description=name, unit="stuk", dateLastChange=UPDATED)


class Changed:
    """A sandbox's connection settings with some changed: a setting given as None is left
    out, a path is its text."""

    def __init__(self, sandbox: SapSftpSandbox, settings: dict[str, Any]) -> None:
        self.sandbox, self.settings = sandbox, settings

    def connection_settings(self) -> dict[str, Any]:
        merged = {**self.sandbox.connection_settings(), **self.settings}
        return {k: str(v) if isinstance(v, Path) else v for k, v in merged.items() if v is not None}


def setup(
    tmp_path: Path,
    erp: AsperionSandbox,
    sap: SapSftpSandbox,
    flows: str = ORDERS_FLOW,
    *,
    authorized: bool = True,
    **settings: Any,
) -> Path:
    """The config: Asperion (authorized) and SAP with `settings` over the sandbox's own."""
    connections = {
        "erp": ("asperion", erp, ERP_SETTINGS),
        "sap": ("sap_sftp", Changed(sap, settings)),
    }
    path = write_config(tmp_path, connections, flows)
    if authorized:
        authorize(path, "erp")
    return path


def require(condition: bool, what: str) -> None:
    """What must hold for a test to be about what it shows (not an AssertionError)."""
    if not condition:
        pytest.fail(what)


def sap_order(number: str, *, sold_to: bool = True) -> dict[str, Any]:
    """An ORDERS05 IDoc in SAP's JSON: one line, a person as the sold-to party (or only a
    ship-to party)."""
    party = {
        "PARTN": f"00000{number[-5:]}",
        "NAME1": f"Klant {number}",
        "STRAS": "Keizersgracht 123 A",
        "PSTLZ": "1015 CJ",
        "ORT01": "Amsterdam",
        "LAND1": "NL",
        "SMTP_ADDR": f"klant{number}@example.com",
    }
    return {
        "E1EDK01": {"CURCY": "EUR", "BELNR": number, "ZTERM": "0001"},
        "E1EDK03": {"IDDAT": "012", "DATUM": "20261120", "UZEIT": "101500"},
        "E1EDKA1": [{"PARVW": "AG" if sold_to else "WE", **party}],
        "E1EDK02": {"QUALF": "001", "BELNR": f"PO-{number}"},
        "E1EDP01": [
            {
                "POSEX": "000010",
                "MENGE": "2",
                "VPREI": "10.33",
                "E1EDP19": {"QUALF": "002", "IDTNR": "MUG-01"},
                "E1EDP04": {"MSATZ": "21"},
            }
        ],
    }


def seed_file(sap: SapSftpSandbox, *orders: dict[str, Any]) -> Path:
    """One file of SAP's in out/ holding `orders`; returns its path."""
    out = sap.root / "out"
    before = set(out.iterdir())
    sap.seed("orders", list(orders))
    (path,) = set(out.iterdir()) - before
    return path


def put_file(sap: SapSftpSandbox, name: str, data: bytes) -> Path:
    """Put `data` into out/ as `name`, as SAP does: written whole, then renamed."""
    target = sap.root / "out" / name
    temp = target.with_name(f".{name}.tmp")
    temp.write_bytes(data)
    os.replace(temp, target)
    return target


def replace_file(sap: SapSftpSandbox, path: Path, name: str, data: bytes) -> Path:
    """`data` in out/ as `name`, in place of the file at `path`."""
    target = put_file(sap, name, data)
    if target != path:
        path.unlink()
    return target


def in_the_third_idoc(data: bytes, offset: int) -> int:
    """The position `offset` bytes into the file's third IDoc."""
    first = data.index(IDOC)
    third = data.index(IDOC, data.index(IDOC, first + 1) + 1)
    return third + offset


def orders_in(erp: AsperionSandbox) -> Counter[str]:
    return Counter(s["orderNumber"] for s in erp.dump("salesorders"))


def folder(sap: SapSftpSandbox, name: str) -> list[str]:
    """The files under a folder of SAP's root (archive: with their day folders)."""
    base = sap.root / name
    return sorted(p.relative_to(base).as_posix() for p in base.rglob("*") if p.is_file())


def archived(sap: SapSftpSandbox) -> list[str]:
    """The names of the files in the archive, each checked to be in a YYYY/MM/DD folder."""
    found = folder(sap, "archive")
    assert all(re.fullmatch(r"\d{4}/\d{2}/\d{2}/[^/]+", name) for name in found), found
    return [name.rsplit("/", 1)[-1] for name in found]


def expat_words(data: bytes) -> str:
    """What expat itself says of `data` (the parser's words a dead letter must carry)."""
    parser = xml.parsers.expat.ParserCreate()
    try:
        parser.Parse(data, True)
    except xml.parsers.expat.ExpatError as exc:
        return xml.parsers.expat.ErrorString(exc.code)
    raise AssertionError("the data is well-formed")


# --- configuration that cannot work: one line, exit 2 -----------------------------------------


@pytest.mark.parametrize(
    ("change", "named"),
    [
        pytest.param({"host_key": None}, "host_key", id="none"),
        pytest.param({"host_key": "ssh-ed25519"}, "host_key", id="no key in the line"),
        pytest.param(
            {"host_key": "sftp.example.com ssh-ed25519 not-base64!"},
            "host_key",
            id="not base64",
        ),
        pytest.param({"host_key": 10}, "host_key", id="cut by 10"),
        pytest.param({"host_key": 12}, "host_key", id="cut by 12"),
        pytest.param(
            {"host_key": None, "host_key_fingerprint": "SHA256:abc"},
            "host_key_fingerprint",
            id="fingerprint",
        ),
        pytest.param({"timeout": 0}, "timeout", id="timeout"),
    ],
)
def test_a_configuration_that_cannot_work_is_one_line_and_exit_2(
    tmp_path: Path,
    erp: AsperionSandbox,
    sap: SapSftpSandbox,
    change: dict[str, Any],
    named: str,
) -> None:
    """Without a pinned host key, or with a line or fingerprint that is none (a key line
    pasted cut short, say), or a timeout of 0, ihost refuses to start: one line naming the
    setting, exit 2, nothing read. The server's key is never taken unseen."""
    if isinstance(change.get("host_key"), int):  # the sandbox's own line, pasted cut short
        change = {"host_key": sap.host_key_line[: -change["host_key"]]}
    path = seed_file(sap, sap_order("0000012001"))
    config = setup(tmp_path, erp, sap, authorized=False, **change)
    for command in (("run", "orders"), ("check", "sap")):
        result = run_ihost("-c", str(config), *command)
        assert result.code == 2, result.output
        line = one_line(result)
        assert named in line and "sap" in line, line
    assert folder(sap, "out") == [path.name]


def unusable_key(tmp_path: Path, sap: SapSftpSandbox, kind: str) -> dict[str, Any]:
    """Settings with a key file ihost cannot log in with, of the `kind` given."""
    if kind == "missing":
        return {"key_file": tmp_path / "no-such-key"}
    path = tmp_path / "id_key"
    if kind == "not a key":
        path.write_text("-----BEGIN NONSENSE-----\nbm90IGEga2V5\n-----END NONSENSE-----\n")
        return {"key_file": path}
    key = serialization.load_ssh_private_key(sap.key_file.read_bytes(), None)
    sealed = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.OpenSSH,
        serialization.BestAvailableEncryption(b"Sesam-open-7"),
    )
    path.write_bytes(sealed)
    path.chmod(0o600)
    if kind == "sealed, no passphrase":
        return {"key_file": path}
    return {"key_file": path, "key_passphrase": "Wrong-guess-42"}


@pytest.mark.parametrize(
    "command",
    [
        pytest.param(("run", "orders"), id="run"),
        pytest.param(("check", "sap"), id="check"),
    ],
)
@pytest.mark.parametrize(
    "kind", ["missing", "not a key", "sealed, no passphrase", "wrong passphrase"]
)
def test_a_key_file_ihost_cannot_use_is_one_line_and_exit_2(
    tmp_path: Path,
    erp: AsperionSandbox,
    sap: SapSftpSandbox,
    kind: str,
    command: tuple[str, str],
) -> None:
    """A key file that is not there, not a private key, sealed without a passphrase or with
    the wrong one: one line naming key_file and its path, exit 2, nothing read."""
    settings = unusable_key(tmp_path, sap, kind)
    seed_file(sap, sap_order("0000012001"))
    config = setup(tmp_path, erp, sap, **settings)
    result = run_ihost("-c", str(config), *command)
    lines = result.err.strip().splitlines()
    require("Traceback" not in result.output and len(lines) == 1, result.output)
    require(f"key_file {settings['key_file']}" in lines[0], lines[0])
    require([p.suffix for p in (sap.root / "out").iterdir()] == [".xml"], "a file was claimed")
    assert result.code == 2, result.output


# --- the server refuses, or is not the one pinned, or is not there: one line, exit 3 ----------


def test_a_refused_key_is_one_line_and_exit_3(
    tmp_path: Path, erp: AsperionSandbox, sap: SapSftpSandbox
) -> None:
    """A valid private key the server does not know: refused, nothing read."""
    _, pem = new_ed25519_key()
    other = tmp_path / "id_other"
    other.write_text(pem)
    other.chmod(0o600)
    seed_file(sap, sap_order("0000012001"))
    config = setup(tmp_path, erp, sap, key_file=other)
    for command in (("run", "orders"), ("check", "sap")):
        result = run_ihost("-c", str(config), *command, process=True)
        assert result.code == 3, result.output
        line = one_line(result)
        assert "refused the key" in line and f"127.0.0.1:{sap.sftp_port}" in line, line
    assert orders_in(erp) == Counter()
    assert [p.suffix for p in (sap.root / "out").iterdir()] == [".xml"]


def other_host_key(sap: SapSftpSandbox, kind: str) -> dict[str, Any]:
    if kind == "rsa":
        key: paramiko.PKey = paramiko.RSAKey.generate(2048)
    else:
        key = new_ed25519_key()[0]
    line = f"[127.0.0.1]:{sap.sftp_port} {key.get_name()} {key.get_base64()}"
    if kind == "fingerprint":
        return {"host_key": None, "host_key_fingerprint": fingerprint(key)}
    return {"host_key": line}


@pytest.mark.parametrize("kind", ["changed", "rsa", "fingerprint"])
def test_an_unknown_or_changed_host_key_is_refused_naming_what_was_offered(
    tmp_path: Path, erp: AsperionSandbox, sap: SapSftpSandbox, kind: str
) -> None:
    """The server offers a host key other than the pinned one (a changed key, a key of
    another type, a fingerprint that does not match): refused before logging in, one line
    with the fingerprint offered, exit 3, no traceback, nothing read."""
    seed_file(sap, sap_order("0000012001"))
    config = setup(tmp_path, erp, sap, **other_host_key(sap, kind))
    for command in (("run", "orders"), ("check", "sap")):
        result = run_ihost("-c", str(config), *command, process=True)
        assert result.code == 3, result.output
        line = one_line(result)
        assert sap.host_key_fingerprint in line and "refused" in line, line
        assert "host_key" in line, line  # what to change if the key really changed
    assert orders_in(erp) == Counter()
    assert [p.suffix for p in (sap.root / "out").iterdir()] == [".xml"]


def test_a_refused_port_is_one_line_and_exit_3(
    tmp_path: Path, erp: AsperionSandbox, sap: SapSftpSandbox
) -> None:
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    config = setup(tmp_path, erp, sap, port=port, timeout=2)
    for command in (("run", "orders"), ("check", "sap")):
        result = run_ihost("-c", str(config), *command)
        assert result.code == 3, result.output
        line = one_line(result)
        assert f"cannot reach the SFTP server 127.0.0.1:{port}" in line, line


@contextmanager
def silent_server() -> Iterator[int]:
    """A TCP listener on 127.0.0.1 that accepts connections and never says a word; its port."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    held: list[socket.socket] = []

    def accept() -> None:
        while True:
            try:
                held.append(listener.accept()[0])
            except OSError:
                return

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield listener.getsockname()[1]
    finally:
        listener.shutdown(socket.SHUT_RDWR)  # wakes the accept
        listener.close()
        for connection in held:
            connection.close()
        thread.join(timeout=5)


@pytest.fixture(scope="module")
def hanging(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[int, list[Hung]]]:
    """`ihost run orders` and `ihost check sap` against a silent server (timeout = 2), each
    in a process of its own as a user runs it: the port, and each result with the seconds
    it took (both tests of the hanging server read them; each run costs seconds)."""
    with (
        pytest.MonkeyPatch.context() as patch,
        AsperionSandbox() as erp,
        SapSftpSandbox(sap_poll=None) as sap,
        silent_server() as port,
    ):
        patch.setenv(KEY_VARIABLE, Fernet.generate_key().decode())
        directory = tmp_path_factory.mktemp("hanging")
        config = setup(directory, erp, sap, authorized=False, port=port, timeout=2)
        results = []
        for command in (("run", "orders"), ("check", "sap")):
            began = time.monotonic()
            result = run_ihost("-c", str(config), *command, process=True)
            results.append((result, time.monotonic() - began))
        yield port, results


Hung = tuple[Result, float]


def hung(run: Hung) -> Result:
    """A result of `hanging`, checked to have ended with exit 3 well within 15 s."""
    result, took = run
    require(result.code == 3, f"exit {result.code}: {result.output}")
    require(took < 15, f"it took {took:.1f} s with timeout = 2")
    return result


def test_a_hanging_server_stops_the_run_in_time_with_exit_3(
    hanging: tuple[int, list[Hung]],
) -> None:
    """A server that accepts and never speaks: the run and the check stop after the timeout
    with exit 3 and a line saying the server cannot be reached."""
    port, results = hanging
    for result in map(hung, results):
        ours = [line for line in result.err.splitlines() if line.startswith("ihost: ")]
        assert len(ours) == 1, result.output
        assert f"cannot reach the SFTP server 127.0.0.1:{port}" in ours[0], ours


def test_a_hanging_server_is_one_line_without_a_traceback(
    hanging: tuple[int, list[Hung]],
) -> None:
    port, results = hanging
    for result in map(hung, results):
        line = one_line(result)
        assert f"cannot reach the SFTP server 127.0.0.1:{port}" in line, line


# --- hostile files in SAP's outbound folder ---------------------------------------------------


def test_a_truncated_file_keeps_the_orders_before_the_break_and_goes_to_error(
    tmp_path: Path, erp: AsperionSandbox, sap: SapSftpSandbox
) -> None:
    """A file cut off in its third IDoc: the two whole ones become orders, the file goes to
    error/ with a .err.txt, a dead letter names the file and the parser's words, and the
    next file is read as ever."""
    numbers = ["0000012001", "0000012002", "0000012003"]
    broken = seed_file(sap, *(sap_order(n) for n in numbers))
    data = broken.read_bytes()
    cut = data[: in_the_third_idoc(data, 200)]
    broken = replace_file(sap, broken, "ORDERS_1_broken.xml", cut)
    good = seed_file(sap, sap_order("0000012004"))
    config = setup(tmp_path, erp, sap)
    result, report = run_flow(config, "orders")
    assert result.code == 1, result.output
    assert orders_in(erp) == Counter({"0000012001": 1, "0000012002": 1, "0000012004": 1})
    assert folder(sap, "error") == [broken.name, f"{broken.name}.err.txt"]
    assert (sap.root / "error" / broken.name).read_bytes() == cut  # filed as SAP sent it
    words = expat_words(cut)
    reason = (sap.root / "error" / f"{broken.name}.err.txt").read_text()
    assert broken.name in reason and words in reason, reason
    (letter,) = dead_letters(config)
    assert letter["record_key"] == broken.name
    assert broken.name in letter["error"] and words in letter["error"], letter
    assert archived(sap) == [good.name] and folder(sap, "out") == []
    assert report["counts"]["created"] == 3


BREAKS = {
    "an unescaped ampersand": lambda data: data.replace(
        b"<NAME1>Klant 0000012003</NAME1>", b"<NAME1>Jansen & Zn</NAME1>"
    ),
    "a mismatched tag": lambda data: data.replace(
        b"<NAME1>Klant 0000012003</NAME1>", b"<NAME1>Klant 0000012003</NAME2>"
    ),
    "a segment over 1000 characters": lambda data: data.replace(
        b"<NAME1>Klant 0000012003</NAME1>", b"<NAME1>" + b"x" * 1200 + b"</NAME1>"
    ),
}


@pytest.mark.parametrize("kind", list(BREAKS))
def test_a_break_in_the_middle_of_a_file_keeps_the_orders_before_it(
    tmp_path: Path, erp: AsperionSandbox, sap: SapSftpSandbox, kind: str
) -> None:
    """A file whose third IDoc breaks (not at the file's end): the two IDocs before the
    break are read; the file goes to error/ and a dead letter names it."""
    numbers = ["0000012001", "0000012002", "0000012003"]
    path = seed_file(sap, *(sap_order(n) for n in numbers))
    broken = BREAKS[kind](path.read_bytes())
    require(broken != path.read_bytes(), "the break was not made")
    path = replace_file(sap, path, "ORDERS_1_broken.xml", broken)
    config = setup(tmp_path, erp, sap)
    result, _ = run_flow(config, "orders")
    require(result.code == 1, result.output)
    require(folder(sap, "error") == [path.name, f"{path.name}.err.txt"], str(folder(sap, "error")))
    require([d["record_key"] for d in dead_letters(config)] == [path.name], "no dead letter")
    assert orders_in(erp) == Counter({"0000012001": 1, "0000012002": 1})


@pytest.mark.parametrize("spread", [False, True], ids=["one field", "fields together"])
def test_a_segment_over_1000_characters_is_refused(
    tmp_path: Path, erp: AsperionSandbox, sap: SapSftpSandbox, spread: bool
) -> None:
    """A segment carrying more than an IDoc segment's 1000 characters (in one field, or in
    fields that fit alone): the file is refused to error/ naming the limit, nothing of it is
    written, the next file goes on."""
    path = seed_file(sap, sap_order("0000012001"))
    data = path.read_bytes()
    if spread:
        fields = b"".join(b"<NAME%d>%s</NAME%d>" % (i, b"y" * 300, i) for i in (2, 3, 4, 5))
        data = data.replace(b"<NAME1>Klant 0000012001</NAME1>", fields, 1)
    else:
        data = data.replace(b"Klant 0000012001", b"x" * 1001, 1)
    path = replace_file(sap, path, "ORDERS_1_big.xml", data)
    good = seed_file(sap, sap_order("0000012002"))
    config = setup(tmp_path, erp, sap)
    result, _ = run_flow(config, "orders")
    assert result.code == 1, result.output
    assert orders_in(erp) == Counter({"0000012002": 1})
    (letter,) = dead_letters(config)
    assert letter["record_key"] == path.name and "1000" in letter["error"], letter
    assert folder(sap, "error") == [path.name, f"{path.name}.err.txt"]
    assert "1000" in (sap.root / "error" / f"{path.name}.err.txt").read_text()
    assert archived(sap) == [good.name]


BOMBS = {
    "billion laughs": b'<!ENTITY lol "lol">\n'
    + b"".join(
        b'<!ENTITY lol%d "%s">\n' % (i, (b"&lol%d;" % (i - 1) if i > 1 else b"&lol;") * 10)
        for i in range(1, 10)
    ),
    "external entity": b'<!ENTITY lol9 SYSTEM "file:///etc/passwd">\n',
}


@pytest.mark.parametrize("kind", list(BOMBS))
def test_an_entity_declaration_is_refused_without_expansion(
    tmp_path: Path, erp: AsperionSandbox, sap: SapSftpSandbox, kind: str
) -> None:
    """An IDoc file declaring entities (a billion laughs, an external entity) used in a
    field: refused at the declaration, nothing expanded or fetched, the file to error/."""
    path = seed_file(sap, sap_order("0000012001"))
    data = path.read_bytes()
    prolog_end = data.index(b"?>") + 2
    bomb = (
        data[:prolog_end]
        + b"\n<!DOCTYPE ORDERS05 [\n"
        + BOMBS[kind]
        + b"]>"
        + data[prolog_end:].replace(b"Klant 0000012001", b"&lol9;", 1)
    )
    path = replace_file(sap, path, "ORDERS_1_bomb.xml", bomb)
    config = setup(tmp_path, erp, sap)
    began = time.monotonic()
    result, _ = run_flow(config, "orders")
    assert time.monotonic() - began < 10
    assert result.code == 1, result.output
    assert orders_in(erp) == Counter()
    (letter,) = dead_letters(config)
    assert letter["record_key"] == path.name, letter
    assert "entity" in letter["error"] and "refused" in letter["error"], letter
    assert "root:" not in str(letter) and "lollol" not in str(letter)
    assert folder(sap, "error") == [path.name, f"{path.name}.err.txt"]


def test_an_idoc_of_another_message_type_is_a_dead_letter_naming_mestyp(
    tmp_path: Path, erp: AsperionSandbox, sap: SapSftpSandbox
) -> None:
    """An ORDERS file holding an INVOIC IDoc between two orders: the orders are written, the
    stranger is a dead letter naming the file, its DOCNUM and EDI_DC40-MESTYP."""
    path = seed_file(sap, *(sap_order(n) for n in ("0000012001", "0000012002", "0000012003")))
    data = path.read_bytes()
    second = data.index(IDOC, data.index(IDOC) + 1)
    data = data[:second] + data[second:].replace(b"<MESTYP>ORDERS<", b"<MESTYP>INVOIC<", 1)
    path.write_bytes(data)
    docnum = [idoc.docnum for idoc in read_idocs(io.BytesIO(data))][1]
    config = setup(tmp_path, erp, sap)
    result, _ = run_flow(config, "orders")
    assert result.code == 1, result.output
    assert orders_in(erp) == Counter({"0000012001": 1, "0000012003": 1})
    (letter,) = dead_letters(config)
    assert letter["record_key"] == f"{path.name}#{docnum}", letter
    assert "EDI_DC40-MESTYP" in letter["error"] and "INVOIC" in letter["error"], letter
    assert f"IDoc {docnum}" in letter["error"], letter
    assert archived(sap) == [path.name]


def test_an_order_without_a_sold_to_party_is_a_dead_letter_naming_the_field(
    tmp_path: Path, erp: AsperionSandbox, sap: SapSftpSandbox
) -> None:
    seed_file(sap, sap_order("0000012001", sold_to=False), sap_order("0000012002"))
    config = setup(tmp_path, erp, sap)
    result, _ = run_flow(config, "orders")
    assert result.code == 1, result.output
    assert orders_in(erp) == Counter({"0000012002": 1})
    (letter,) = dead_letters(config)
    assert letter["record_key"] == "0000012001", letter
    assert "E1EDKA1" in letter["error"] and "AG" in letter["error"], letter


def test_a_file_sap_delivers_again_under_a_new_name_is_a_no_op(
    tmp_path: Path, erp: AsperionSandbox, sap: SapSftpSandbox
) -> None:
    """The same IDocs (same DOCNUMs) again in a file of another name: the ledger knows them,
    so nothing is read, no second order reaches Asperion, and the file is archived."""
    first = seed_file(sap, sap_order("0000012001"), sap_order("0000012002"))
    data = first.read_bytes()
    config = setup(tmp_path, erp, sap)
    result, report = run_flow(config, "orders")
    assert result.code == 0 and report["counts"]["created"] == 2, result.output
    again = put_file(sap, "ORDERS_20261202103000000_again.xml", data)
    result, report = run_flow(config, "orders")
    assert result.code == 0, result.output
    assert report["counts"]["read"] == 0, report["counts"]
    assert orders_in(erp) == Counter({"0000012001": 1, "0000012002": 1})
    assert sorted(archived(sap)) == sorted([first.name, again.name])
    assert folder(sap, "out") == []


def test_a_file_put_back_under_its_own_name_again_and_again_is_archived_each_time(
    tmp_path: Path, erp: AsperionSandbox, sap: SapSftpSandbox
) -> None:
    """An operator (or SAP's PI retrying) puts the same file back into out/ three times
    with a second file beside it: every run ends cleanly and leaves out/ empty."""
    path = seed_file(sap, sap_order("0000012001"))
    name, data = path.name, path.read_bytes()
    config = setup(tmp_path, erp, sap)
    results = []
    for round_ in range(3):
        put_file(sap, name, data)
        seed_file(sap, sap_order(f"00000130{round_:02d}"))
        result, _ = run_flow(config, "orders")
        results.append((result.code, folder(sap, "out")))
        if round_ < 2:
            require(results[-1] == (0, []), f"round {round_ + 1}: {results[-1]}")
    assert results[-1] == (0, []), results
    assert orders_in(erp)["0000012001"] == 1


def test_temp_files_in_the_outbound_folder_are_never_read(
    tmp_path: Path, erp: AsperionSandbox, sap: SapSftpSandbox
) -> None:
    """Files SAP is still writing (``.<name>.tmp``, ``<name>.tmp``), whole IDoc XML matching
    the orders pattern: left alone, byte for byte, and none of their orders written."""
    temps = {}
    for number, name in (("0000019001", ".ORDERS_1.xml.tmp"), ("0000019002", "ORDERS_2.xml.tmp")):
        path = seed_file(sap, sap_order(number))
        temps[name] = path.read_bytes()
        path.rename(path.with_name(name))
    good = seed_file(sap, sap_order("0000012001"))
    config = setup(tmp_path, erp, sap)
    for _ in range(2):
        result, _ = run_flow(config, "orders")
        assert result.code == 0, result.output
    assert orders_in(erp) == Counter({"0000012001": 1})
    assert {p.name: p.read_bytes() for p in (sap.root / "out").iterdir()} == temps
    assert archived(sap) == [good.name]


# --- writing to SAP ---------------------------------------------------------------------------


def test_a_sku_longer_than_a_material_number_fails_alone(
    tmp_path: Path, erp: AsperionSandbox, sap: SapSftpSandbox
) -> None:
    """An article code of 19 characters cannot be an 18-character MATNR: its dead letter
    names sku and MATNR, no file is written for it, every other article is."""
    long_sku = "ARTICLE-CODE-19CHAR"
    assert len(long_sku) == 19
    erp.seed("articles", [article(long_sku, "Too long for SAP")])
    config = setup(tmp_path, erp, sap, PRODUCTS_FLOW)
    result, report = run_flow(config, "products")
    assert result.code == 1, result.output
    assert report["counts"]["created"] == len(ARTICLES)
    (letter,) = dead_letters(config)
    assert letter["record_key"] == long_sku
    assert "sku" in letter["error"] and "MATNR" in letter["error"], letter
    written = sorted(name.split("_")[2] for name in folder(sap, "in"))
    assert written == sorted(code for code, _, _ in ARTICLES)


# --- the private key and its passphrase -------------------------------------------------------


def key_forms(plain: bytes, sealed: bytes) -> set[str]:
    """The private key as it might leak: the base64 lines of its PEM files (plain and
    sealed), the raw key in base64 and hex."""
    lines = {
        line
        for pem in (plain, sealed)
        for line in pem.decode().splitlines()
        if len(line) >= 16 and "--" not in line
    }
    key = serialization.load_ssh_private_key(plain, None)
    raw = key.private_bytes(
        serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption()
    )
    return lines | {base64.b64encode(raw).decode().rstrip("="), raw.hex()}


def test_the_private_key_and_its_passphrase_never_show(
    tmp_path: Path, erp: AsperionSandbox, sap: SapSftpSandbox
) -> None:
    """A key sealed with a passphrase, flows at -vvv with records that fail, the logs, the
    dead letters, a check with the wrong passphrase and the store's own files: neither the
    passphrase nor the key shows anywhere."""
    passphrase = "Kaas-en-Brood-2026!"
    key = serialization.load_ssh_private_key(sap.key_file.read_bytes(), None)
    sealed = tmp_path / "id_sealed"
    sealed.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.OpenSSH,
            serialization.BestAvailableEncryption(passphrase.encode()),
        )
    )
    sealed.chmod(0o600)
    erp.seed("articles", [article("ARTICLE-CODE-19CHAR", "Too long for SAP")])
    seed_file(sap, sap_order("0000012001"), sap_order("0000012002", sold_to=False))
    config = setup(
        tmp_path,
        erp,
        sap,
        ORDERS_FLOW + PRODUCTS_FLOW,
        key_file=sealed,
        key_passphrase=passphrase,
    )
    seen = []
    for flow in ("orders", "products"):
        result = run_ihost("-c", str(config), "-vvv", "run", flow, process=True)
        assert result.code == 1, result.output  # one record failed, the others written
        assert "Traceback" not in result.output
        assert " DEBUG " in result.err  # -vvv: everything ihost logs is shown
        seen.append(result.output)
    for command in (("logs",), ("logs", "orders"), ("logs", "products"), ("deadletters",)):
        seen.append(run_ihost("-c", str(config), "-vv", *command).output)
    assert len(dead_letters(config)) == 2
    wrong = "Verkeerd-Wachtwoord-9"
    other = tmp_path / "other"
    other.mkdir()
    config_wrong = setup(other, erp, sap, authorized=False, key_file=sealed, key_passphrase=wrong)
    result = run_ihost("-c", str(config_wrong), "check", "sap")
    assert result.code == 2 and "key_file" in one_line(result), result.output
    seen.append(result.output)
    store = b"".join(p.read_bytes() for p in tmp_path.rglob("*.db*") if p.is_file())
    assert store
    text = "\n".join(seen)
    forms = secret_forms(passphrase, "ihost") | secret_forms(wrong, "ihost")
    forms |= key_forms(sap.key_file.read_bytes(), sealed.read_bytes())
    assert len(forms) > 10
    for form in forms:
        assert form not in text, f"a secret shows as {form!r}"
        assert form.encode() not in store, f"the store holds a secret as {form!r}"
