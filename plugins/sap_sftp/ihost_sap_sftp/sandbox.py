"""An SAP (ECC / S/4HANA) file-exchange emulator on 127.0.0.1.

The sandbox is two things: a real SFTP server, and the SAP side that reads and writes the
folders it serves, as SAP's file port or a PI/CPI SFTP adapter does.

SFTP, on an ephemeral port of 127.0.0.1, one paramiko Transport per connection:

- A fresh Ed25519 host key per sandbox (or the `host_key` given) and a fresh Ed25519 user key
  whose private half is written, OpenSSH PEM, mode 0600, to `key_file`. Only public-key
  auth, only for user ``ihost`` with that key; everything else is refused.
- The root is a temporary directory made at `start()` with ``in/`` (files to SAP), ``out/``
  (files from SAP), ``archive/`` and ``error/``; removed at `stop()`. A path that leaves the
  root (``..``, a symlink pointing out) is refused with "permission denied".
- list, stat, lstat, open (read, write, append, create, truncate, exclusive), remove, mkdir,
  rmdir, setstat, realpath; ``rename`` refuses an existing target (SFTP v3), the
  ``posix-rename@openssh.com`` extension replaces it (``posix_rename=False``: "Operation
  unsupported", as servers without the extension answer). Symlinks and readlink: not
  emulated ("Operation unsupported").

The SAP side (PROPOSED where the notes leave it open):

- `process_inbound()` reads every file of ``in/`` in ascending name order, skipping names
  that start with ``.`` or end with ``.tmp`` (a writer's temp names). ``.xml`` is IDoc XML
  (any number of IDocs), ``.csv`` a stock snapshot; anything else is refused ("unknown file
  type"). With `sap_poll` (seconds) a background thread calls it.
- Every IDoc gets SAP's own 16-digit DOCNUM and passes the control-record checks of inbound
  processing (status 56): TABNAM EDI_DC40, DIRECT 2, IDOCTYP, MESTYP, SNDPOR, SNDPRT, SNDPRN
  and RCVPRN present; (SNDPRT, SNDPRN) in `partners`; RCVPRN ``S4HCLNT100``; MANDT, when
  sent, ``100``; the basic type one of the message type's. Then the application checks
  (status 51) of MATMAS (MATMAS05/03), DEBMAS (DEBMAS07/06), ORDERS (ORDERS05) and LOISTD
  (LOISTD01); any other message type is refused as not emulated.
- A file is all or nothing: its IDocs are checked in order against what the file's earlier
  IDocs did; one refusal and nothing of the file is applied. An applied file is deleted (the
  file port removes what it read); a refused one moves to ``error/`` with ``<name>.err.txt``
  beside it, one line per refusal: ``IDoc <n> (<MESTYP>): status 51: <message>`` (n counts
  the file's IDocs from 1), ``file: <message>`` for the file as a whole, ``line <n>, column
  <c>: <message>`` for CSV rows. A refused file of the same name in ``error/`` is replaced.
- MATMAS: E1MARAM with MATNR (18 characters, 40 with ``s4=True``, where MATNR_LONG wins),
  MEINS, MSGFN 003/004/005/009/018 (003 sets the deletion flag LVORM), E1MAKTM (SPRAS_ISO or
  SPRAS, MAKTX), EAN11 (digits; the GS1 check digit at 8, 12, 13 and 14 digits), E1MTXHM /
  E1MTXLM TDLINE. A later IDoc replaces the fields it carries and the child segment types it
  carries; the others stay. DEBMAS: E1KNA1M with KUNNR, NAME1, LAND1 (lengths as KNA1),
  E1KNVKM contacts, E1KNVVM sales areas; a customer is replaced whole (003 sets LOEVM).
- ORDERS: E1EDK01 with CURCY; E1EDKA1 AG whose PARTN is a known customer; E1EDK02 QUALF 001
  BELNR (the customer PO number), unique per sold-to party; E1EDP01 items with MENGE > 0 and
  a known material from E1EDP19 QUALF 002 (IDTNR_LONG first with s4), else QUALF 003 (the
  EAN), else E1EDP01 MATNR; the customer material number (QUALF 001 alone) is refused as not
  emulated. It creates a sales order (VBELN counting from 0000012000) and writes ORDRSP.
  LOISTD: E1MDSTL MATNR, WERKS, LABST sets the stock of a known material in a plant.
- Stock CSV: a header row with MATNR and LABST (WERKS, LGORT, MEINS optional, other columns
  ignored), `csv_delimiter`, `csv_decimal`, `csv_encoding` (a UTF-8 BOM is dropped); rows of
  one (MATNR, WERKS) are summed over LGORT; the file's sums replace the stock held.
- Files from SAP go to ``out/`` atomically (``.<name>.tmp`` then a rename), named
  ``<MESTYP>_<yyyyMMddHHmmssSSS>_<DOCNUM>.xml``, control record DIRECT 1, MANDT 100, from
  LS S4HCLNT100 (port SAPS4H) to LS IHOST (port IHOST), CREDAT/CRETIM from `clock`.

Seeding and dumps (test-only; the native shape is the IDoc JSON of idoc.idoc_to_json):

- ``seed("orders")``: ORDERS05 IDocs (EDI_DC40 optional: SAP's control record is completed,
  MESTYP ORDERS, DIRECT 1); each needs E1EDK01 CURCY and BELNR, an E1EDKA1 and an E1EDP01.
  ``seed("deliveries")``: DELVRY03 IDocs, MESTYP DESADV, E1EDL20 VBELN required. All the
  records of one call go into one file in ``out/``.
- ``seed("materials")`` (E1MARAM fields; ``MAKTX`` is short for an English E1MAKTM; MEINS
  defaults to ST) and ``seed("customers")`` (E1KNA1M fields, KUNNR required): master data SAP
  holds, checked as MATMAS / DEBMAS would be.
- ``seed("files")``: ``{"folder", "name", "content" | "content_base64", "encoding"}`` drops
  a raw file (written atomically) anywhere under the root.
- `dump` kinds: materials, customers (the stored segments), orders (``{VBELN, PO, KUNNR,
  CURCY, lines, file, response}``), stock (``{MATNR, WERKS, LABST}``), inbound (the
  processing log), files (``{folder, name, size}`` of every file under the root).

HTTP (test-only; SAP has no HTTP side here): ``POST /_sandbox/seed/{kind}`` (the base
class), ``POST /_sandbox/sap/process`` (runs `process_inbound`, answers its list),
``GET /_sandbox/files`` (``dump("files")``); any other path: 404 "not emulated by the ihost
sandbox". ``slow_renames`` (test-only, ``{"archive/": 0.2}``) makes renames into a folder
wait, as a slow server would, so a test can kill a run between two of them.

In Python, once started: `root` (the served directory), `sftp_port`, `key_file`,
`host_key_line` (``[127.0.0.1]:<port> ssh-ed25519 <base64>``), `host_key_fingerprint`
(``SHA256:...`` as OpenSSH prints it), `partners` (the inbound partner profile, a set of
(SNDPRT, SNDPRN)), `clock` (an aware datetime: SAP's "now"), `process_inbound()`.
"""

from __future__ import annotations

import base64
import codecs
import contextlib
import copy
import csv
import hashlib
import io
import logging
import os
import re
import select
import shutil
import socket
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any

import paramiko
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from paramiko.sftp import SFTP_FAILURE, SFTP_OK, SFTP_OP_UNSUPPORTED, SFTP_PERMISSION_DENIED
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from host.sandbox import NOT_EMULATED, Sandbox
from ihost_sap_sftp.idoc import (
    CONTROL,
    Idoc,
    IdocError,
    IdocWriter,
    Segment,
    idoc_from_json,
    idoc_to_json,
    read_idocs,
)

log = logging.getLogger(__name__)

USERNAME = "ihost"
FOLDERS = ("in", "out", "archive", "error")
CLIENT = "100"
SAP_PORT, SAP_PARTNER = "SAPS4H", "S4HCLNT100"
OUR_PORT, OUR_PARTNER = "IHOST", "IHOST"
FIRST_VBELN = 12000
#: the basic types each emulated inbound message type is processed with
BASIC_TYPES = {
    "MATMAS": ("MATMAS05", "MATMAS03"),
    "DEBMAS": ("DEBMAS07", "DEBMAS06"),
    "ORDERS": ("ORDERS05",),
    "LOISTD": ("LOISTD01",),
}
MSGFN = ("003", "004", "005", "009", "018")
SEED_KINDS = ("orders", "deliveries", "materials", "customers", "files")
DUMP_KINDS = ("materials", "customers", "orders", "stock", "inbound", "files")
_NUMBER = re.compile(r"^\d+(\.\d+)?$")
_HTTP_METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"]


def new_ed25519_key() -> tuple[paramiko.Ed25519Key, str]:
    """A fresh Ed25519 key and its private half as OpenSSH PEM (paramiko cannot generate one)."""
    pem = (
        Ed25519PrivateKey.generate()
        .private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.OpenSSH,
            serialization.NoEncryption(),
        )
        .decode("ascii")
    )
    return paramiko.Ed25519Key.from_private_key(io.StringIO(pem)), pem


def fingerprint(key: paramiko.PKey) -> str:
    """The key's fingerprint as OpenSSH prints it: SHA256: and unpadded base64."""
    digest = hashlib.sha256(key.asbytes()).digest()
    return "SHA256:" + base64.b64encode(digest).decode("ascii").rstrip("=")


# --- the SFTP server ----------------------------------------------------------------------------


class _SshServer(paramiko.ServerInterface):
    """Public-key auth for one user and one key; session channels only."""

    def __init__(self, user_key: paramiko.PKey) -> None:
        self.user_key = user_key

    def get_allowed_auths(self, username: str) -> str:
        return "publickey"

    def check_auth_publickey(self, username: str, key: paramiko.PKey) -> int:
        if username == USERNAME and key.asbytes() == self.user_key.asbytes():
            return paramiko.AUTH_SUCCESSFUL
        return paramiko.AUTH_FAILED

    def check_channel_request(self, kind: str, chanid: int) -> int:
        if kind == "session":
            return paramiko.OPEN_SUCCEEDED
        return paramiko.OPEN_FAILED_ADMINISTRATIVELY_PROHIBITED


class _Escape(Exception):
    """A path that would leave the root."""


class _Handle(paramiko.SFTPHandle):
    """An open file under the root."""

    def __init__(self, flags: int, path: str, stream: Any) -> None:
        super().__init__(flags)
        self.path = path
        self.readfile = stream
        self.writefile = stream

    def stat(self) -> paramiko.SFTPAttributes | int:
        try:
            return paramiko.SFTPAttributes.from_stat(os.fstat(self.readfile.fileno()))
        except OSError as exc:
            return paramiko.SFTPServer.convert_errno(exc.errno)

    def chattr(self, attr: paramiko.SFTPAttributes) -> int:
        try:
            paramiko.SFTPServer.set_file_attr(self.path, attr)
        except OSError as exc:
            return paramiko.SFTPServer.convert_errno(exc.errno)
        return SFTP_OK


def _errors(method: Callable[..., Any]) -> Callable[..., Any]:
    """Answer an OSError with its SFTP code and a path leaving the root with permission denied."""

    def wrapped(self: _SftpFolders, *args: Any) -> Any:
        try:
            return method(self, *args)
        except _Escape:
            return SFTP_PERMISSION_DENIED
        except OSError as exc:
            return paramiko.SFTPServer.convert_errno(exc.errno)

    wrapped.__name__ = method.__name__
    wrapped.__doc__ = method.__doc__
    return wrapped


class _SftpFolders(paramiko.SFTPServerInterface):
    """The sandbox's root served over SFTP; every path is taken relative to the root."""

    def __init__(
        self,
        server: paramiko.ServerInterface,
        root: str,
        posix_rename: bool,
        slow_renames: dict[str, float],
    ) -> None:
        super().__init__(server)
        self.root = os.path.realpath(root)
        self.posix_rename_enabled = posix_rename
        self.slow_renames = slow_renames  # the sandbox's own dict: a test may change it

    def _slow(self, newpath: str) -> None:
        """A slow server (test-only): a rename into a folder of `slow_renames` waits."""
        target = newpath.lstrip("/")
        for folder, seconds in list(self.slow_renames.items()):
            if target.startswith(folder):
                time.sleep(seconds)

    def _local(self, path: str) -> str:
        """The local path of an SFTP path; _Escape when it (or a symlink on it) leaves the root."""
        local = os.path.normpath(os.path.join(self.root, path.lstrip("/")))
        for candidate in (local, os.path.realpath(local)):
            if candidate != self.root and not candidate.startswith(self.root + os.sep):
                raise _Escape(path)
        return local

    @_errors
    def list_folder(self, path: str) -> list[paramiko.SFTPAttributes] | int:
        local = self._local(path)
        return [
            paramiko.SFTPAttributes.from_stat(os.lstat(os.path.join(local, name)), name)
            for name in sorted(os.listdir(local))
        ]

    @_errors
    def stat(self, path: str) -> paramiko.SFTPAttributes | int:
        return paramiko.SFTPAttributes.from_stat(os.stat(self._local(path)))

    @_errors
    def lstat(self, path: str) -> paramiko.SFTPAttributes | int:
        return paramiko.SFTPAttributes.from_stat(os.lstat(self._local(path)))

    @_errors
    def open(self, path: str, flags: int, attr: paramiko.SFTPAttributes) -> _Handle | int:
        local = self._local(path)
        mode = attr.st_mode & 0o777 if attr.st_mode is not None else 0o644
        descriptor = os.open(local, flags, mode)
        append = bool(flags & os.O_APPEND)
        if flags & os.O_WRONLY:
            file_mode = "ab" if append else "wb"
        elif flags & os.O_RDWR:
            file_mode = "a+b" if append else "r+b"
        else:
            file_mode = "rb"
        return _Handle(flags, local, os.fdopen(descriptor, file_mode))

    @_errors
    def remove(self, path: str) -> int:
        os.remove(self._local(path))
        return SFTP_OK

    @_errors
    def rename(self, oldpath: str, newpath: str) -> int:
        source, target = self._local(oldpath), self._local(newpath)
        self._slow(newpath)
        if os.path.lexists(target):  # SFTP v3 RENAME never overwrites
            return SFTP_FAILURE
        os.rename(source, target)
        return SFTP_OK

    @_errors
    def posix_rename(self, oldpath: str, newpath: str) -> int:
        if not self.posix_rename_enabled:
            return SFTP_OP_UNSUPPORTED
        self._slow(newpath)
        os.replace(self._local(oldpath), self._local(newpath))
        return SFTP_OK

    @_errors
    def mkdir(self, path: str, attr: paramiko.SFTPAttributes) -> int:
        mode = attr.st_mode & 0o777 if attr.st_mode is not None else 0o755
        os.mkdir(self._local(path), mode)
        return SFTP_OK

    @_errors
    def rmdir(self, path: str) -> int:
        os.rmdir(self._local(path))
        return SFTP_OK

    @_errors
    def chattr(self, path: str, attr: paramiko.SFTPAttributes) -> int:
        paramiko.SFTPServer.set_file_attr(self._local(path), attr)
        return SFTP_OK

    def canonicalize(self, path: str) -> str:
        normal = os.path.normpath("/" + path)  # a leading // stays in POSIX; SFTP wants one
        return "/" + normal.lstrip("/")


# --- the SAP side ---------------------------------------------------------------------------


class _Refused(Exception):
    """An IDoc SAP's inbound processing refuses, with the status it would get."""

    def __init__(self, status: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass
class _State:
    """What SAP holds; copied per file so a refused file leaves nothing behind."""

    materials: dict[str, Segment] = field(default_factory=dict)
    customers: dict[str, Segment] = field(default_factory=dict)
    orders: list[dict[str, Any]] = field(default_factory=list)
    stock: dict[tuple[str, str], Decimal] = field(default_factory=dict)
    next_vbeln: int = FIRST_VBELN

    def fork(self) -> _State:
        """A copy to apply one file to: the tables are copied, the records shared (a record
        changed in place is copied first: see `own_material`, `own_customer`), so a file
        costs what it touches, not all SAP holds."""
        return _State(
            dict(self.materials),
            dict(self.customers),
            list(self.orders),
            dict(self.stock),
            self.next_vbeln,
        )

    def own_material(self, key: str) -> Segment:
        self.materials[key] = copy.deepcopy(self.materials[key])
        return self.materials[key]

    def own_customer(self, key: str) -> Segment:
        self.customers[key] = copy.deepcopy(self.customers[key])
        return self.customers[key]


def _key(number: str) -> str:
    """SAP's internal form of a material or customer number: numeric ones without the zeros
    the ALPHA conversion pads them with."""
    number = number.strip()
    return (number.lstrip("0") or "0") if number.isdigit() else number.upper()


def _gs1_valid(code: str) -> bool:
    """Whether the last digit of a GTIN is its GS1 check digit."""
    digits = [int(c) for c in code]
    total = sum(d * (3 if i % 2 == 0 else 1) for i, d in enumerate(reversed(digits[:-1])))
    return (10 - total % 10) % 10 == digits[-1]


def _field(segment: Segment, name: str, limit: int, *, required: bool = False) -> str | None:
    """A field's value, refused (status 51) when required and missing or longer than `limit`."""
    value = segment.get(name)
    if value is None:
        if required:
            raise _Refused("51", f"{segment.name}-{name} is missing")
        return None
    if len(value) > limit:
        raise _Refused("51", f"{segment.name}-{name}: {value!r} is longer than {limit} characters")
    return value


def _quantity(segment: Segment, name: str) -> Decimal:
    """An IDoc number field (``.`` as the decimal point), refused when not a number."""
    value = segment.get(name)
    if value is None or not _NUMBER.match(value):
        raise _Refused("51", f"{segment.name}-{name}: {value!r} is not a quantity")
    return Decimal(value)


def _number_text(value: Decimal) -> str:
    return format(value.normalize(), "f")


def _segment_json(segment: Segment) -> dict[str, Any]:
    """A segment in the JSON form of idoc_to_json (child segments as lists)."""
    data = idoc_to_json(Idoc({}, Segment("IDOC", children=[segment])))
    segment_data: dict[str, Any] = data[segment.name][0]
    return segment_data


def _replace_children(stored: Segment, given: Segment) -> None:
    """Take the fields `given` carries and its child segment types; keep the rest."""
    stored.fields.update(given.fields)
    carried = {child.name for child in given.children}
    stored.children = [c for c in stored.children if c.name not in carried]
    stored.children += copy.deepcopy(given.children)


class SapSftpSandbox(Sandbox):
    """SAP's file exchange over SFTP: the server and the emulated SAP side (see the module)."""

    name = "sap_sftp"

    def __init__(
        self,
        *,
        posix_rename: bool = True,
        sap_poll: float | None = 0.5,
        host_key: paramiko.PKey | None = None,
        s4: bool = False,
        csv_delimiter: str = ";",
        csv_decimal: str = ",",
        csv_encoding: str = "utf-8",
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.posix_rename = posix_rename
        #: test-only: seconds a rename into a folder ("archive/") waits, as on a slow server
        self.slow_renames: dict[str, float] = {}
        self.sap_poll = sap_poll
        self.s4 = s4
        codecs.lookup(csv_encoding)  # LookupError names an encoding Python lacks
        if len(csv_delimiter) != 1 or len(csv_decimal) != 1 or csv_delimiter == csv_decimal:
            raise ValueError("csv_delimiter and csv_decimal: two different single characters")
        self.csv_delimiter, self.csv_decimal, self.csv_encoding = (
            csv_delimiter,
            csv_decimal,
            csv_encoding,
        )
        self.host_key: paramiko.PKey = host_key if host_key is not None else new_ed25519_key()[0]
        self.host_key_fingerprint = fingerprint(self.host_key)
        self.user_key, self._user_pem = new_ed25519_key()
        #: the sandbox's "now" (an aware datetime) for CREDAT/CRETIM and file names
        self.clock: Callable[[], datetime] = lambda: datetime.now(timezone.utc)
        #: the inbound partner profile: (SNDPRT, SNDPRN) SAP accepts IDocs from
        self.partners: set[tuple[str, str]] = {("LS", OUR_PARTNER)}
        self.state = _State()
        #: the processing log of in/ (dump("inbound"))
        self.inbound_log: list[dict[str, Any]] = []
        self._docnum = 0
        self._workdir: Path | None = None
        self._root: Path | None = None
        self._listener: socket.socket | None = None
        self._acceptor: threading.Thread | None = None
        self._poller: threading.Thread | None = None
        self._stopping = threading.Event()
        self._transports: list[paramiko.Transport] = []

    # --- what tests read --------------------------------------------------------------------

    @property
    def root(self) -> Path:
        """The directory served over SFTP."""
        if self._root is None:
            raise RuntimeError("the sap_sftp sandbox is not started")
        return self._root

    @property
    def key_file(self) -> Path:
        """The user's private key (OpenSSH PEM, mode 0600)."""
        if self._workdir is None:
            raise RuntimeError("the sap_sftp sandbox is not started")
        return self._workdir / "id_ed25519"

    @property
    def sftp_port(self) -> int:
        if self._listener is None:
            raise RuntimeError("the sap_sftp sandbox is not started")
        port: int = self._listener.getsockname()[1]
        return port

    @property
    def host_key_line(self) -> str:
        """The known_hosts line of the server: ``[127.0.0.1]:<port> <type> <base64>``."""
        key = self.host_key
        return f"[{self.host}]:{self.sftp_port} {key.get_name()} {key.get_base64()}"

    # --- Sandbox API --------------------------------------------------------------------------

    def connection_settings(self) -> dict[str, Any]:
        return {
            "host": self.host,
            "port": self.sftp_port,
            "username": USERNAME,
            "key_file": str(self.key_file),
            "host_key": self.host_key_line,
            "inbound_dir": "/in",
            "outbound_dir": "/out",
            "archive_dir": "/archive",
            "error_dir": "/error",
            "control": {
                "SNDPOR": OUR_PORT,
                "SNDPRT": "LS",
                "SNDPRN": OUR_PARTNER,
                "RCVPOR": SAP_PORT,
                "RCVPRT": "LS",
                "RCVPRN": SAP_PARTNER,
            },
        }

    def routes(self) -> list[BaseRoute]:
        return [
            Route("/_sandbox/sap/process", self._process_route, methods=["POST"]),
            Route("/_sandbox/files", self._files_route, methods=["GET"]),
            Route("/{path:path}", self._not_emulated, methods=_HTTP_METHODS),
        ]

    def start(self) -> str:
        """Start the HTTP side, the SFTP server and the SAP poller; returns the base URL."""
        url = super().start()
        if self._listener is not None:
            return url
        self._workdir = Path(tempfile.mkdtemp(prefix="ihost-sap-sftp-"))
        self._root = self._workdir / "root"
        for folder in FOLDERS:
            (self._root / folder).mkdir(parents=True)
        descriptor = os.open(self.key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w", encoding="ascii") as out:
            out.write(self._user_pem)
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind((self.host, 0))
        listener.listen(16)
        self._listener = listener
        self._stopping.clear()
        self._acceptor = threading.Thread(
            target=self._accept, name=f"sandbox-{self.name}-sftp", daemon=True
        )
        self._acceptor.start()
        if self.sap_poll is not None:
            self._poller = threading.Thread(
                target=self._poll, name=f"sandbox-{self.name}-sap", daemon=True
            )
            self._poller.start()
        return url

    def stop(self) -> None:
        """Stop the poller, every SFTP connection, the listener and the HTTP side; remove the
        temporary directory. Safe to call twice."""
        self._stopping.set()
        if self._listener is not None:
            with contextlib.suppress(OSError):  # wakes the acceptor's select at once
                self._listener.shutdown(socket.SHUT_RDWR)
        for thread in (self._acceptor, self._poller):
            if thread is not None:
                thread.join(timeout=10)
        self._acceptor = self._poller = None
        if self._listener is not None:
            self._listener.close()
            self._listener = None
        with self.lock:
            transports, self._transports = self._transports, []
        for transport in transports:
            transport.close()
        super().stop()
        if self._workdir is not None:
            shutil.rmtree(self._workdir, ignore_errors=True)
        self._workdir = self._root = None

    def _accept(self) -> None:
        listener = self._listener
        assert listener is not None
        while not self._stopping.is_set():
            ready, _, _ = select.select([listener], [], [], 0.5)
            if not ready:
                continue
            try:
                connection, _ = listener.accept()
            except OSError:
                continue
            transport = paramiko.Transport(connection)
            transport.add_server_key(self.host_key)
            transport.set_subsystem_handler(
                "sftp",
                paramiko.SFTPServer,
                _SftpFolders,
                str(self.root),
                self.posix_rename,
                self.slow_renames,
            )
            with self.lock:
                self._transports = [t for t in self._transports if t.is_active()]
                self._transports.append(transport)
            try:
                # with an event, start_server returns at once: the handshake runs in the
                # transport's own thread, so a slow client never holds up the next one
                transport.start_server(threading.Event(), _SshServer(self.user_key))
            except paramiko.SSHException:
                transport.close()

    def _poll(self) -> None:
        assert self.sap_poll is not None
        while not self._stopping.wait(self.sap_poll):
            try:
                self.process_inbound()
            except Exception:  # the poller outlives one bad pass, as SAP's job does
                log.exception("the sap_sftp sandbox could not process in/")

    # --- HTTP (test-only) ----------------------------------------------------------------------

    async def _process_route(self, request: Request) -> Response:
        return JSONResponse(await run_in_threadpool(self.process_inbound))

    async def _files_route(self, request: Request) -> Response:
        return JSONResponse(self.dump("files"))

    async def _not_emulated(self, request: Request) -> Response:
        return JSONResponse({"error": NOT_EMULATED}, status_code=404)

    # --- files from SAP -------------------------------------------------------------------------

    def _next_docnum(self) -> str:
        with self.lock:
            self._docnum += 1
            return f"{self._docnum:016d}"

    def _outbound_control(self, idoctyp: str, mestyp: str, docnum: str) -> dict[str, str]:
        now = self.clock()
        return {
            "TABNAM": CONTROL,
            "MANDT": CLIENT,
            "DOCNUM": docnum,
            "DOCREL": "757",
            "STATUS": "30",
            "DIRECT": "1",
            "IDOCTYP": idoctyp,
            "MESTYP": mestyp,
            "SNDPOR": SAP_PORT,
            "SNDPRT": "LS",
            "SNDPRN": SAP_PARTNER,
            "RCVPOR": OUR_PORT,
            "RCVPRT": "LS",
            "RCVPRN": OUR_PARTNER,
            "CREDAT": now.strftime("%Y%m%d"),
            "CRETIM": now.strftime("%H%M%S"),
        }

    def _file_name(self, mestyp: str, docnum: str) -> str:
        now = self.clock()
        return f"{mestyp}_{now.strftime('%Y%m%d%H%M%S')}{now.microsecond // 1000:03d}_{docnum}.xml"

    def _write_atomically(self, folder: Path, name: str, content: bytes) -> None:
        temp = folder / f".{name}.tmp"
        temp.write_bytes(content)
        os.replace(temp, folder / name)

    def _write_outbound(self, basic_type: str, idocs: list[Idoc]) -> str:
        """Write `idocs` as one IDoc-XML file to out/; returns its name."""
        buffer = io.BytesIO()
        with IdocWriter(buffer, basic_type) as writer:
            for idoc in idocs:
                writer.write(idoc)
        name = self._file_name(idocs[0].mestyp, idocs[0].docnum or "")
        self._write_atomically(self.root / "out", name, buffer.getvalue())
        return name

    # --- seed / dump ---------------------------------------------------------------------------

    def seed(self, kind: str, records: list[dict[str, Any]]) -> None:
        """Load records of `kind` (see the module); all or none. ValueError/TypeError name the
        kind, the record and the field refused; an unknown kind lists the known ones."""
        if kind not in SEED_KINDS:
            raise ValueError(f"unknown kind {kind!r}: the sandbox knows {', '.join(SEED_KINDS)}")
        for index, record in enumerate(records):
            if not isinstance(record, dict):
                raise TypeError(f"{kind}[{index}]: a record is a JSON object")
        with self.lock:
            if kind in ("orders", "deliveries"):
                self._seed_idocs(kind, records)
            elif kind == "files":
                self._seed_files(records)
            else:
                self._seed_master(kind, records)

    def _seed_idocs(self, kind: str, records: list[dict[str, Any]]) -> None:
        if not records:
            return
        basic_type, mestyp = ("ORDERS05", "ORDERS") if kind == "orders" else ("DELVRY03", "DESADV")
        idocs = []
        for index, record in enumerate(records):
            where = f"{kind}[{index}]"
            data = dict(record)
            data.setdefault(CONTROL, {})
            idoc = idoc_from_json(data, where)
            for name, wanted in (("IDOCTYP", basic_type), ("MESTYP", mestyp), ("DIRECT", "1")):
                given = idoc.control.get(name)
                if given not in (None, "", wanted):
                    raise ValueError(f"{where}: {CONTROL}.{name} is {given!r}, not {wanted}")
            if kind == "orders":
                self._check_seeded_order(idoc, where)
            else:
                self._check_seeded_delivery(idoc, where)
            sent = {k: v for k, v in idoc.control.items() if v}
            docnum = sent.get("DOCNUM") or self._next_docnum()
            idoc.control = {**self._outbound_control(basic_type, mestyp, docnum), **sent}
            idocs.append(idoc)
        try:
            self._write_outbound(basic_type, idocs)
        except IdocError as exc:
            raise ValueError(f"{kind}: {exc}") from None

    @staticmethod
    def _check_seeded_order(idoc: Idoc, where: str) -> None:
        header = idoc.first("E1EDK01")
        if header is None:
            raise ValueError(f"{where}: E1EDK01 is missing")
        for name in ("CURCY", "BELNR"):
            if header.get(name) is None:
                raise ValueError(f"{where}: E1EDK01.{name} is missing")
        if not idoc.all("E1EDKA1"):
            raise ValueError(f"{where}: E1EDKA1 is missing (at least one partner)")
        if not idoc.all("E1EDP01"):
            raise ValueError(f"{where}: E1EDP01 is missing (at least one item)")

    @staticmethod
    def _check_seeded_delivery(idoc: Idoc, where: str) -> None:
        header = idoc.first("E1EDL20")
        if header is None:
            raise ValueError(f"{where}: E1EDL20 is missing")
        limits = {"VBELN": 10, "BOLNR": 35, "TRAID": 20, "LIFEX": 35}
        if header.get("VBELN") is None:
            raise ValueError(f"{where}: E1EDL20.VBELN is missing")
        for name, limit in limits.items():
            value = header.get(name) or ""
            if len(value) > limit:
                raise ValueError(f"{where}: E1EDL20.{name} is longer than {limit} characters")
        for unit_index, unit in enumerate(header.all("E1EDL37")):
            exidv = unit.get("EXIDV")
            if exidv is None or len(exidv) > 20:
                raise ValueError(
                    f"{where}: E1EDL20.E1EDL37[{unit_index}].EXIDV is missing or longer than 20"
                )

    def _seed_master(self, kind: str, records: list[dict[str, Any]]) -> None:
        segment_type = "E1MARAM" if kind == "materials" else "E1KNA1M"
        state = self.state.fork()
        for index, record in enumerate(records):
            where = f"{kind}[{index}]"
            data = dict(record)
            if kind == "materials":
                text = data.pop("MAKTX", None)
                if text is not None and "E1MAKTM" not in data:
                    data["E1MAKTM"] = [{"SPRAS_ISO": "EN", "MAKTX": text}]
                data.setdefault("MEINS", "ST")
            idoc = idoc_from_json({CONTROL: {}, segment_type: data}, where)
            try:
                if kind == "materials":
                    self._apply_material(idoc, state)
                else:
                    self._apply_customer(idoc, state, seeded=True)
            except _Refused as refused:
                raise ValueError(f"{where}: {refused.message}") from None
        self.state = state

    def _seed_files(self, records: list[dict[str, Any]]) -> None:
        planned = []
        for index, record in enumerate(records):
            where = f"files[{index}]"
            folder, name = record.get("folder", ""), record.get("name")
            if not isinstance(folder, str):
                raise ValueError(f"{where}: folder must be text")
            if not isinstance(name, str) or not name or "/" in name or name in (".", ".."):
                raise ValueError(f"{where}: name must be a file name (no /)")
            target = (self.root / folder.strip("/")).resolve()
            if target != self.root.resolve() and self.root.resolve() not in target.parents:
                raise ValueError(f"{where}: folder {folder!r} leaves the sandbox's root")
            if "content_base64" in record:
                try:
                    content = base64.b64decode(record["content_base64"], validate=True)
                except (ValueError, TypeError):
                    raise ValueError(f"{where}: content_base64 is not base64") from None
            elif isinstance(record.get("content"), str):
                try:
                    content = record["content"].encode(record.get("encoding", "utf-8"))
                except (LookupError, UnicodeEncodeError) as exc:
                    raise ValueError(f"{where}: encoding: {exc}") from None
            else:
                raise ValueError(f"{where}: content (text) or content_base64 is missing")
            planned.append((target, name, content))
        for target, name, content in planned:
            target.mkdir(parents=True, exist_ok=True)
            self._write_atomically(target, name, content)

    def dump(self, kind: str) -> list[dict[str, Any]]:
        """The records of `kind` (see the module); an unknown kind lists the known ones."""
        if kind not in DUMP_KINDS:
            raise ValueError(f"unknown kind {kind!r}: the sandbox dumps {', '.join(DUMP_KINDS)}")
        with self.lock:
            state = self.state
            if kind == "materials":
                return [_segment_json(state.materials[k]) for k in sorted(state.materials)]
            if kind == "customers":
                return [_segment_json(state.customers[k]) for k in sorted(state.customers)]
            if kind == "orders":
                return copy.deepcopy(state.orders)
            if kind == "stock":
                return [
                    {
                        "MATNR": self._matnr_of(state, matnr),
                        "WERKS": werks,
                        "LABST": _number_text(q),
                    }
                    for (matnr, werks), q in sorted(state.stock.items())
                ]
            if kind == "inbound":
                return copy.deepcopy(self.inbound_log)
            return self._files()

    def _matnr_of(self, state: _State, key: str) -> str:
        """The material number as SAP holds it (MATNR_LONG first on S/4)."""
        material = state.materials.get(key)
        if material is None:
            return key
        return (self.s4 and material.get("MATNR_LONG")) or material.get("MATNR") or key

    def _files(self) -> list[dict[str, Any]]:
        if self._root is None:
            return []
        found = []
        for directory, _, names in os.walk(self._root):
            folder = Path(directory).relative_to(self._root).as_posix()
            for name in names:
                path = Path(directory) / name
                found.append(
                    {
                        "folder": "" if folder == "." else folder,
                        "name": name,
                        "size": path.lstat().st_size,
                    }
                )
        return sorted(found, key=lambda f: (f["folder"], f["name"]))

    # --- files to SAP --------------------------------------------------------------------------

    def process_inbound(self) -> list[dict[str, Any]]:
        """Process every file waiting in in/ (oldest name first), as SAP's file port does;
        returns one summary per file: ``{file, status, idocs, errors}``."""
        summaries = []
        with self.lock:
            inbound = self.root / "in"
            for name in sorted(os.listdir(inbound)):
                path = inbound / name
                if name.startswith(".") or name.endswith(".tmp") or not path.is_file():
                    continue
                try:
                    summaries.append(self._process_file(path))
                except FileNotFoundError:  # taken away by a client while SAP looked at it
                    continue
        return summaries

    def _process_file(self, path: Path) -> dict[str, Any]:
        state = self.state.fork()
        outbound: list[tuple[dict[str, Any], Idoc]] = []
        docnums: list[str] = []
        errors: list[str] = []
        count = 0
        suffix = path.suffix.lower()
        if suffix == ".xml":
            try:
                with path.open("rb") as stream:
                    for idoc in read_idocs(stream):
                        count += 1
                        docnum = self._next_docnum()
                        docnums.append(docnum)
                        try:
                            self._inbound_idoc(idoc, state, outbound)
                        except _Refused as refused:
                            errors.append(
                                f"IDoc {count} ({idoc.mestyp or '?'}): status "
                                f"{refused.status}: {refused.message}"
                            )
            except IdocError as exc:
                errors.append(f"file: {exc}")
        elif suffix == ".csv":
            errors += self._stock_csv(path, state)
        else:
            errors.append(
                f"file: unknown file type {suffix or '(none)'!r}: the emulated SAP reads IDoc "
                "XML (.xml) and stock snapshots (.csv)"
            )
        summary: dict[str, Any] = {
            "file": path.name,
            "status": "rejected" if errors else "accepted",
            "idocs": count,
            "errors": errors,
        }
        if errors:
            target = self.root / "error"
            os.replace(path, target / path.name)
            report = "".join(f"{line}\n" for line in errors).encode("utf-8")
            self._write_atomically(target, f"{path.name}.err.txt", report)
        else:
            self.state = state
            for order, response in outbound:
                order["file"] = path.name
                order["response"] = self._write_outbound(response.idoctyp, [response])
            path.unlink()
        self.inbound_log.append(
            {**summary, "docnums": docnums, "processed_at": self.clock().isoformat()}
        )
        return summary

    def _inbound_idoc(
        self, idoc: Idoc, state: _State, outbound: list[tuple[dict[str, Any], Idoc]]
    ) -> None:
        """Check one IDoc as SAP's inbound processing does and apply it to `state`."""
        control = idoc.control
        if control.get("TABNAM") != CONTROL:
            raise _Refused("56", f"{CONTROL}-TABNAM must be {CONTROL}")
        if control.get("DIRECT") != "2":
            raise _Refused(
                "56", f"{CONTROL}-DIRECT must be 2 (inbound), not {control.get('DIRECT')!r}"
            )
        for name in ("IDOCTYP", "MESTYP", "SNDPOR", "SNDPRT", "SNDPRN", "RCVPRN"):
            if not control.get(name):
                raise _Refused("56", f"{CONTROL}-{name} is missing")
        mandt = control.get("MANDT")
        if mandt and mandt != CLIENT:
            raise _Refused("56", f"Client {mandt} in the control record is not client {CLIENT}")
        mestyp, idoctyp = idoc.mestyp, idoc.idoctyp
        if mestyp not in BASIC_TYPES:
            raise _Refused("56", f"message type {mestyp} is {NOT_EMULATED}")
        partner = (control["SNDPRT"], control["SNDPRN"])
        if partner not in self.partners:
            raise _Refused(
                "56", f"No partner profile for {partner[0]} {partner[1]} message type {mestyp}"
            )
        if control["RCVPRN"] != SAP_PARTNER:
            raise _Refused(
                "56",
                f"Receiver partner {control['RCVPRN']} is not this system's logical system "
                f"{SAP_PARTNER}",
            )
        if idoctyp not in BASIC_TYPES[mestyp]:
            raise _Refused("56", f"Basic type {idoctyp} is not assigned to message type {mestyp}")
        if mestyp == "MATMAS":
            self._apply_material(idoc, state)
        elif mestyp == "DEBMAS":
            self._apply_customer(idoc, state)
        elif mestyp == "ORDERS":
            response = self._apply_order(idoc, state)
            outbound.append((state.orders[-1], response))
        else:
            self._apply_stock_list(idoc, state)

    # --- MATMAS ----------------------------------------------------------------------------------

    def _apply_material(self, idoc: Idoc, state: _State) -> None:
        segment = idoc.first("E1MARAM")
        if segment is None:
            raise _Refused("51", "Segment E1MARAM is missing")
        matnr = self._material_number(segment)
        msgfn = _field(segment, "MSGFN", 3)
        if msgfn is not None and msgfn not in MSGFN:
            raise _Refused(
                "51", f"E1MARAM-MSGFN: function {msgfn} is not one of {', '.join(MSGFN)}"
            )
        _field(segment, "MEINS", 3, required=msgfn != "003")
        ean = _field(segment, "EAN11", 18)
        if ean is not None:
            if not ean.isdigit():
                raise _Refused("51", f"E1MARAM-EAN11: EAN {ean} is not numeric")
            if len(ean) in (8, 12, 13, 14) and not _gs1_valid(ean):
                raise _Refused("51", f"E1MARAM-EAN11: EAN {ean} has an invalid check digit")
        for text in segment.all("E1MAKTM"):
            if text.get("SPRAS_ISO") is None and text.get("SPRAS") is None:
                raise _Refused("51", "E1MAKTM-SPRAS_ISO: the language is missing")
            _field(text, "SPRAS_ISO", 2)
            _field(text, "SPRAS", 1)
            _field(text, "MAKTX", 40, required=True)
        for header in segment.all("E1MTXHM"):
            for line in header.all("E1MTXLM"):
                _field(line, "TDLINE", 132)
        key = _key(matnr)
        stored = state.materials.get(key)
        if msgfn == "003":
            if stored is None:
                raise _Refused("51", f"Material {matnr} does not exist")
            state.own_material(key).fields["LVORM"] = "X"
            return
        given = copy.deepcopy(segment)
        if stored is None:
            state.materials[key] = given
        else:
            _replace_children(state.own_material(key), given)

    def _material_number(self, segment: Segment) -> str:
        if self.s4:
            long = _field(segment, "MATNR_LONG", 40)
            short = _field(segment, "MATNR", 40, required=long is None)
            return long or short or ""
        matnr = _field(segment, "MATNR", 18, required=True)
        return matnr or ""

    def _find_material(self, state: _State, item: Segment) -> str:
        """The material an order item names (E1EDP19 002, then 003 EAN, then E1EDP01 MATNR)."""
        by_number = item.first("E1EDP19", QUALF="002")
        if by_number is not None:
            number = (self.s4 and by_number.get("IDTNR_LONG")) or by_number.get("IDTNR")
            if number:
                return self._known_material(state, number)
        by_ean = item.first("E1EDP19", QUALF="003")
        if by_ean is not None and by_ean.get("IDTNR"):
            ean = by_ean.get("IDTNR")
            for key, material in state.materials.items():
                if material.get("EAN11") == ean:
                    return key
            raise _Refused("51", f"No material with EAN {ean} exists")
        number = (self.s4 and item.get("MATNR_LONG")) or item.get("MATNR")
        if number:
            return self._known_material(state, number)
        if item.first("E1EDP19", QUALF="001") is not None:
            raise _Refused(
                "51",
                "material determination from the customer material number (E1EDP19 QUALF 001) "
                f"is {NOT_EMULATED}",
            )
        raise _Refused("51", f"Item {item.get('POSEX') or '?'}: no material given")

    @staticmethod
    def _known_material(state: _State, number: str) -> str:
        key = _key(number)
        if key not in state.materials:
            raise _Refused("51", f"Material {number} does not exist")
        return key

    # --- DEBMAS -----------------------------------------------------------------------------------

    def _apply_customer(self, idoc: Idoc, state: _State, seeded: bool = False) -> None:
        segment = idoc.first("E1KNA1M")
        if segment is None:
            raise _Refused("51", "Segment E1KNA1M is missing")
        kunnr = _field(segment, "KUNNR", 10, required=True) or ""
        msgfn = _field(segment, "MSGFN", 3)
        if msgfn is not None and msgfn not in MSGFN:
            raise _Refused(
                "51", f"E1KNA1M-MSGFN: function {msgfn} is not one of {', '.join(MSGFN)}"
            )
        key = _key(kunnr)
        if msgfn == "003":
            if key not in state.customers:
                raise _Refused("51", f"Customer {kunnr} does not exist")
            state.own_customer(key).fields["LOEVM"] = "X"
            return
        _field(segment, "NAME1", 35, required=not seeded)  # a seeded one needs only KUNNR
        _field(segment, "LAND1", 3, required=not seeded)
        for name in ("NAME2", "NAME3", "NAME4", "STRAS", "ORT01"):
            _field(segment, name, 35)
        for name, limit in (("PSTLZ", 10), ("TELF1", 16), ("STCEG", 20), ("KTOKD", 4)):
            _field(segment, name, limit)
        _field(segment, "SPRAS_ISO", 2)
        for contact in segment.all("E1KNVKM"):
            for name in ("NAMEV", "NAME1"):
                _field(contact, name, 35)
            _field(contact, "PARVW", 2)
        for area in segment.all("E1KNVVM"):
            for name, limit in (("VKORG", 4), ("VTWEG", 2), ("SPART", 2)):
                _field(area, name, limit)
        state.customers[key] = copy.deepcopy(segment)

    # --- ORDERS -----------------------------------------------------------------------------------

    def _apply_order(self, idoc: Idoc, state: _State) -> Idoc:
        """Create the sales order; returns its ORDRSP."""
        header = idoc.first("E1EDK01")
        if header is None:
            raise _Refused("51", "Segment E1EDK01 is missing")
        currency = _field(header, "CURCY", 3, required=True) or ""
        sold_to = idoc.first("E1EDKA1", PARVW="AG")
        if sold_to is None:
            raise _Refused("51", "The sold-to party (E1EDKA1 PARVW AG) is missing")
        partn = _field(sold_to, "PARTN", 17)
        if partn is None:
            raise _Refused(
                "51",
                "E1EDKA1-PARTN of the sold-to party is missing (partner conversion from LIFNR "
                f"via EDPAR is {NOT_EMULATED})",
            )
        customer = _key(partn)
        if customer not in state.customers:
            raise _Refused("51", f"Sold-to party {partn} does not exist")
        reference = idoc.first("E1EDK02", QUALF="001")
        po = _field(reference, "BELNR", 35) if reference is not None else None
        if po is None:
            raise _Refused("51", "The purchase order number (E1EDK02 QUALF 001 BELNR) is missing")
        if any(o["PO"] == po and _key(o["KUNNR"]) == customer for o in state.orders):
            raise _Refused(
                "51", f"Purchase order number {po} already exists for sold-to party {partn}"
            )
        items = idoc.all("E1EDP01")
        if not items:
            raise _Refused("51", "The order has no items (E1EDP01)")
        requested = next(
            (d.get("DATUM") for d in idoc.all("E1EDK03", IDDAT="002") if d.get("DATUM")), None
        )
        lines = []
        for position, item in enumerate(items, start=1):
            quantity = _quantity(item, "MENGE")
            if quantity <= 0:
                raise _Refused("51", f"E1EDP01-MENGE: item {position} has no quantity")
            material = self._find_material(state, item)
            schedule = item.first("E1EDP20")
            lines.append(
                {
                    "POSNR": f"{position * 10:06d}",
                    "POSEX": item.get("POSEX") or f"{position * 10:06d}",
                    "MATNR": self._matnr_of(state, material),
                    "MENGE": _number_text(quantity),
                    "MENEE": item.get("MENEE"),
                    "WERKS": item.get("WERKS"),
                    "EDATU": (schedule.get("EDATU") if schedule is not None else None)
                    or requested
                    or self.clock().strftime("%Y%m%d"),
                }
            )
        vbeln = f"{state.next_vbeln:010d}"
        state.next_vbeln += 1
        state.orders.append(
            {
                "VBELN": vbeln,
                "PO": po,
                "KUNNR": state.customers[customer].get("KUNNR") or partn,
                "CURCY": currency,
                "lines": lines,
                "file": "",
                "response": None,
            }
        )
        return self._ordrsp(state.orders[-1])

    def _ordrsp(self, order: dict[str, Any]) -> Idoc:
        """The order response (ORDRSP) of a sales order just created."""
        response = Idoc(self._outbound_control("ORDERS05", "ORDRSP", self._next_docnum()))
        response.add("E1EDK01", {"CURCY": order["CURCY"], "BELNR": order["VBELN"]})
        response.add("E1EDKA1", {"PARVW": "AG", "PARTN": order["KUNNR"]})
        response.add("E1EDK02", {"QUALF": "001", "BELNR": order["PO"]})
        for line in order["lines"]:
            item = response.add(
                "E1EDP01",
                {
                    "POSEX": line["POSEX"],
                    "MENGE": line["MENGE"],
                    "MENEE": line["MENEE"],
                    "WERKS": line["WERKS"],
                },
            )
            item.add("E1EDP20", {"WMENG": line["MENGE"], "EDATU": line["EDATU"]})
            item.add("E1EDP19", {"QUALF": "002", "IDTNR": line["MATNR"]})
        return response

    # --- stock ------------------------------------------------------------------------------------

    def _apply_stock_list(self, idoc: Idoc, state: _State) -> None:
        rows = idoc.all("E1MDSTL")
        if not rows:
            raise _Refused("51", "Segment E1MDSTL is missing")
        updates: dict[tuple[str, str], Decimal] = {}
        for row in rows:
            matnr = _field(row, "MATNR", 40 if self.s4 else 18, required=True) or ""
            werks = _field(row, "WERKS", 4, required=True) or ""
            quantity = _quantity(row, "LABST")
            updates[(self._known_material(state, matnr), werks)] = quantity
        state.stock.update(updates)

    def _stock_csv(self, path: Path, state: _State) -> list[str]:
        """Apply a stock snapshot to `state`; returns what was refused (nothing applied then)."""
        encoding = (
            "utf-8-sig"
            if self.csv_encoding.lower().replace("_", "-") in ("utf-8", "utf8")
            else self.csv_encoding
        )
        try:
            text = path.read_bytes().decode(encoding)
        except UnicodeDecodeError as exc:
            return [f"file: not {self.csv_encoding} text ({exc.reason} at byte {exc.start})"]
        reader = csv.reader(io.StringIO(text, newline=""), delimiter=self.csv_delimiter)
        header = next(reader, None)
        if header is None:
            return ["file: the file is empty (a header row is required)"]
        columns = {name.strip().upper(): index for index, name in enumerate(header)}
        missing = [name for name in ("MATNR", "LABST") if name not in columns]
        if missing:
            return [f"line 1: column {name} is missing" for name in missing]
        number = re.compile(rf"^\d+(?:{re.escape(self.csv_decimal)}\d+)?$")
        errors: list[str] = []
        totals: dict[tuple[str, str], Decimal] = {}
        rows = iter(reader)
        while True:
            try:
                row = next(rows, None)
            except csv.Error as exc:
                errors.append(f"line {reader.line_num}: {exc}")
                break
            if row is None:
                break
            line = reader.line_num
            if not any(cell.strip() for cell in row):
                continue
            if len(row) != len(header):
                errors.append(f"line {line}: {len(row)} fields where the header has {len(header)}")
                continue
            cells = {name: row[index].strip() for name, index in columns.items()}
            matnr, quantity = cells["MATNR"], cells["LABST"]
            if not matnr:
                errors.append(f"line {line}, column MATNR: the material number is empty")
                continue
            if not number.match(quantity):
                errors.append(
                    f"line {line}, column LABST: {quantity!r} is not a number "
                    f"(decimal separator {self.csv_decimal!r})"
                )
                continue
            try:
                key = self._known_material(state, matnr)
            except _Refused as refused:
                errors.append(f"line {line}, column MATNR: {refused.message}")
                continue
            amount = Decimal(quantity.replace(self.csv_decimal, "."))
            place = (key, cells.get("WERKS", ""))
            totals[place] = totals.get(place, Decimal(0)) + amount
        if not errors:
            state.stock.update(totals)
        return errors
