"""SAP over SFTP: IDoc XML (or CSV) files in folders shared with SAP or its PI/CPI.

Reads orders (ORDERS05) and deliveries (DESADV) from SAP's outbound folder; writes
materials (MATMAS05), customers (DEBMAS07), orders (ORDERS05) and stock (a CSV snapshot or
LOISTD01) into SAP's inbound folder. `client.py` moves the files, `idoc.py` reads and
writes IDoc XML, `convert.py` maps IDocs to records and back; this module orchestrates.

Reading claims each file by renaming it to ``<name>.processing``; the host acknowledges
the run (acknowledge_read) once every record is committed, and only then is the file
moved to ``archive/YYYY/MM/DD/`` (or to ``error/`` with a ``.err.txt`` reason). A file
is never deleted. The ledger remembers every DOCNUM read, so a file SAP delivers again is
a no-op; a file claimed by a run that died is read again by the next one.
"""

from __future__ import annotations

import csv
import fnmatch
import hashlib
import io
import logging
import posixpath
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import IO, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator

from host import Connector, hookimpl
from host.auth import ConnectorContext
from host.capabilities import Capabilities
from host.errors import RecordInvalid, RemoteRejected
from host.models import Customer, Order, Product, Record, StockLevel
from host.vocabulary import DebtorField, Entity, OrderType
from ihost_sap_sftp import convert
from ihost_sap_sftp.client import SftpClient, is_temp
from ihost_sap_sftp.idoc import Idoc, IdocError, IdocWriter, idoc_to_json, read_idocs

log = logging.getLogger(__name__)

CLAIMED = ".processing"
LOOKUP_BATCH = 200  # IDocs whose DOCNUMs are looked up in the ledger at once
_SLUG = re.compile(r"[^A-Za-z0-9-]+")

DEFAULT_CONTROL = {
    "SNDPOR": "IHOST",
    "SNDPRT": "LS",
    "SNDPRN": "IHOST",
    "RCVPOR": "SAP",
    "RCVPRT": "LS",
    "RCVPRN": "",
}
DEFAULT_COLUMNS = {
    "stock": {"MATNR": "sku", "WERKS": "location", "LABST": "quantity", "MEINS": "unit"},
    "orders": {
        "BELNR": "number",
        "BSTKD": "reference",
        "AUDAT": "created_at",
        "WAERK": "currency",
        "KUNNR": "customer.key",
        "SMTP_ADDR": "customer.email",
        "NAME1": "customer.company",
        "MATNR": "sku",
        "KWMENG": "quantity",
        "NETPR": "unit_price",
        "ZTERM": "payment_terms",
    },
}


class SapSftpSettings(BaseModel):
    """One SAP file exchange: the SFTP server, its folders and the IDoc conventions."""

    model_config = ConfigDict(extra="forbid")

    host: str = Field(min_length=1)
    port: int = Field(22, ge=1, le=65535)
    username: str = Field(min_length=1)
    key_file: Path = Field(description="the private key (Ed25519, ECDSA or RSA) to log in with")
    key_passphrase: SecretStr | None = None
    host_key: str | None = Field(None, description="the server's known_hosts line (pinned)")
    host_key_fingerprint: str | None = Field(
        None, pattern=r"^SHA256:[A-Za-z0-9+/]{43}$", description="or its SHA256 fingerprint"
    )
    timeout: float = Field(30, gt=0, le=600)
    keepalive: int = Field(30, ge=0)
    inbound_dir: str = Field("/in", description="SAP reads here: what ihost writes")
    outbound_dir: str = Field("/out", description="SAP writes here: what ihost reads")
    archive_dir: str = "/archive"
    error_dir: str = "/error"
    format: Literal["idoc", "csv"] = "idoc"
    stock_format: Literal["csv", "idoc"] = "csv"
    encoding: str = "UTF-8"
    csv_delimiter: str = Field(";", min_length=1, max_length=1)
    decimal_separator: Literal[".", ","] = ","
    csv_encoding: str = "utf-8"
    csv_columns: dict[str, dict[str, str]] = Field(default_factory=lambda: dict(DEFAULT_COLUMNS))
    patterns: dict[str, str] = Field(
        default_factory=lambda: {
            "orders": "ORDERS_*",
            "shipments": "DESADV_*",
            "confirmations": "ORDRSP_*",
        },
        description="which files of the outbound folder each entity reads (shell patterns)",
    )
    control: dict[str, str] = Field(default_factory=lambda: dict(DEFAULT_CONTROL))
    timezone: str = "UTC"
    order_status: Literal["pending", "authorized", "paid"] = "paid"
    email_field: str = "SMTP_ADDR"
    company_titles: list[str] = Field(default_factory=lambda: ["Firma", "Company", "Bedrijf"])
    contact_field: str = "NAME2"
    strip_material_zeros: bool = True
    material_length: Literal[18, 40] = 18
    check_materials: bool = True
    unit: str = Field("ST", min_length=1, max_length=3)
    order_unit: str = Field("PCE", min_length=1, max_length=3)
    language: str = Field("EN", min_length=2, max_length=2)
    account_group: str = "0001"
    customer_prefix: str = Field("IH", max_length=4, description="before the number of a long key")
    material_type: str = "HAWA"
    industry_sector: str = "M"
    sales_area: dict[str, str] = Field(default_factory=dict)
    tracking_field: Literal["BOLNR", "TRAID", "LIFEX", "EXIDV"] = "BOLNR"

    @field_validator("inbound_dir", "outbound_dir", "archive_dir", "error_dir")
    @classmethod
    def _folder(cls, value: str) -> str:
        return value.rstrip("/") or "/"

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        from zoneinfo import ZoneInfo

        try:
            ZoneInfo(value)
        except Exception:
            raise ValueError(f"{value!r} is not a time zone name (e.g. Europe/Berlin)") from None
        return value

    @model_validator(mode="after")
    def _pinned(self) -> SapSftpSettings:
        if not self.host_key and not self.host_key_fingerprint:
            raise ValueError(
                "set host_key (the server's known_hosts line) or host_key_fingerprint "
                "(SHA256:...): ihost never accepts an SFTP server's key unseen"
            )
        if self.host_key:
            from ihost_sap_sftp.client import pinned_key

            pinned_key(self.host_key)
        return self


@dataclass
class _File:
    """A file claimed in this run: what it held, and how reading it ended."""

    name: str
    claimed: str
    keys: list[str] = field(default_factory=list)
    digest: str = ""
    error: str | None = None


class _Hashing(io.RawIOBase):
    """A read-through stream that hashes what passes."""

    def __init__(self, raw: IO[bytes]) -> None:
        self.raw, self.sha = raw, hashlib.sha256()

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        data = self.raw.read(len(buffer))
        self.sha.update(data)
        buffer[: len(data)] = data
        return len(data)


def _slug(value: str) -> str:
    return _SLUG.sub("-", value).strip("-")[:40] or "x"


def _stamp(moment: datetime | None) -> str:
    return (
        (moment or datetime.now(timezone.utc))
        .astimezone(timezone.utc)
        .strftime("%Y%m%d%H%M%S%f")[:17]
    )


def _email_key(email: str) -> str:
    return "email:" + hashlib.sha256(email.strip().lower().encode()).hexdigest()


class SapSftpPlugin:
    name = "sap_sftp"
    title = "SAP (IDoc files over SFTP)"
    Settings = SapSftpSettings
    capabilities = Capabilities(
        reads={"orders", "shipments"},
        writes={"products", "customers", "stock", "orders"},
        product_types={"simple"},
        order_types={"sales_order"},
        debtor_match={"email", "key"},
        stock_batch=1000,
        rate_limit="none documented: files; throughput is bound by file size and count",
        why_not={
            "reads products": "reading MATMAS from SAP is not built yet",
            "reads stock": "reading SAP's stock (LOISTD or a CSV export) is not built yet",
            "reads customers": "reading DEBMAS from SAP is not built yet",
            "writes shipments": "SAP makes deliveries itself: it takes no shipments by file",
            "writes refunds": "credit memo requests into SAP are not built yet",
            "reads refunds": "reading credit memos from SAP is not built yet",
        },
    )

    def __init__(self, settings: SapSftpSettings, context: ConnectorContext) -> None:
        self.settings = settings
        self.ledger = context.ledger
        self.client = SftpClient(
            host=settings.host,
            port=settings.port,
            username=settings.username,
            key_file=settings.key_file,
            key_passphrase=settings.key_passphrase.get_secret_value()
            if settings.key_passphrase
            else None,
            host_key=settings.host_key,
            host_key_fingerprint=settings.host_key_fingerprint,
            timeout=settings.timeout,
            keepalive=settings.keepalive,
            name=context.connection,
        )
        self._read: list[_File] = []  # claimed in this run, waiting for acknowledge_read
        self._folders: set[str] = set()  # archive folders known to exist in this run
        self._confirmed = False  # ORDRSP files read in this run

    def close(self) -> None:
        self.client.close()

    # --- both sides -----------------------------------------------------------------------

    @hookimpl
    def check_connection(self) -> None:
        for folder in (self.settings.inbound_dir, self.settings.outbound_dir):
            self.client.listdir(folder)

    # --- reading --------------------------------------------------------------------------

    def _claim(self, pattern: str) -> Iterator[_File]:
        """The files of the outbound folder matching `pattern`, each claimed by renaming
        it to its processing name: first those a run that died had claimed, then new ones
        in name order. A file another reader took first is left to it."""
        folder = self.settings.outbound_dir
        entries = self.client.listdir(folder)
        left = [e.filename for e in entries if e.filename.endswith(CLAIMED)]
        for name in left:
            original = name[: -len(CLAIMED)]
            if fnmatch.fnmatchcase(original, pattern):
                yield _File(original, posixpath.join(folder, name))
        for entry in entries:
            name = entry.filename
            if is_temp(name) or name.endswith(CLAIMED) or not fnmatch.fnmatchcase(name, pattern):
                continue
            claimed = posixpath.join(folder, name + CLAIMED)
            try:
                self.client.rename(posixpath.join(folder, name), claimed)
            except OSError:  # taken meanwhile (or a claimed twin exists: read that one)
                continue
            yield _File(name, claimed)

    def _files(self, pattern: str) -> Iterator[tuple[_File, io.BufferedReader]]:
        """Each file claimed for `pattern`, open for reading while the caller reads it, and
        kept for acknowledge_read with its SHA-256 (and `file.error`, when the caller found
        it is not what it should be)."""
        for file in self._claim(pattern):
            self._read.append(file)
            with self.client.open_read(file.claimed) as raw:
                hashing = _Hashing(raw)
                yield file, io.BufferedReader(hashing, 64 * 1024)
                file.digest = hashing.sha.hexdigest()

    def _idocs(
        self, kind: str, mestyp: str, build: Callable[[Idoc], Record | RecordInvalid]
    ) -> Iterator[Record | RecordInvalid]:
        """The records of every IDoc of message type `mestyp` in the files for `kind`."""
        for file, stream in self._files(self.settings.patterns.get(kind, f"{mestyp}_*")):
            batch: list[Idoc] = []
            try:
                for idoc in read_idocs(stream):
                    batch.append(idoc)
                    if len(batch) == LOOKUP_BATCH:
                        yield from self._unread(file, batch, mestyp, build)
                        batch = []
            except IdocError as exc:
                file.error = str(exc)
            yield from self._unread(file, batch, mestyp, build)
            if file.error is not None:
                yield RecordInvalid(f"file {file.name}: {file.error}", key=file.name, field="file")

    def _unread(
        self,
        file: _File,
        idocs: list[Idoc],
        mestyp: str,
        build: Callable[[Idoc], Record | RecordInvalid],
    ) -> Iterator[Record | RecordInvalid]:
        """The records of those `idocs` the ledger has not seen (one look-up for all): an
        IDoc read and committed before is one SAP sent again."""
        keys = [f"docnum:{idoc.docnum}" if idoc.docnum else None for idoc in idocs]
        file.keys += [key for key in keys if key is not None]
        seen = self.ledger.get(key for key in keys if key is not None)
        for idoc, key in zip(idocs, keys, strict=True):
            if key in seen:
                continue
            if idoc.mestyp != mestyp:
                yield RecordInvalid(
                    f"file {file.name}: IDoc {idoc.docnum or '?'} (line {idoc.line}) is "
                    f"{idoc.mestyp or 'no message type'}, not {mestyp}: not read",
                    key=f"{file.name}#{idoc.docnum or idoc.line}",
                    field="EDI_DC40-MESTYP",
                    payload=idoc_to_json(idoc),
                )
                continue
            record = build(idoc)
            if isinstance(record, RecordInvalid) and record.payload is None:
                record.payload = idoc_to_json(idoc)
            yield record

    def _csv_orders(self) -> Iterator[Record | RecordInvalid]:
        columns = self.settings.csv_columns.get("orders", DEFAULT_COLUMNS["orders"])
        number = next((c for c, f in columns.items() if f == "number"), "BELNR")
        for file, stream in self._files(self.settings.patterns.get("orders", "ORDERS_*")):
            text = io.TextIOWrapper(stream, encoding=self.settings.csv_encoding, newline="")
            rows: list[dict[str, str]] = []
            try:
                for row in csv.DictReader(text, delimiter=self.settings.csv_delimiter):
                    if rows and row.get(number) != rows[0].get(number):
                        yield from self._csv_order(file, rows, columns)
                        rows = []
                    rows.append(row)
                if rows:
                    yield from self._csv_order(file, rows, columns)
            except (csv.Error, UnicodeDecodeError) as exc:
                file.error = f"not CSV in {self.settings.csv_encoding}: {exc}"
                yield RecordInvalid(f"file {file.name}: {file.error}", key=file.name, field="file")

    def _csv_order(
        self, file: _File, rows: list[dict[str, str]], columns: dict[str, str]
    ) -> Iterator[Record | RecordInvalid]:
        digest = hashlib.sha256(repr(rows).encode()).hexdigest()
        key = f"rows:{digest}"
        file.keys.append(key)
        if not self.ledger.get([key]):
            yield convert.order_from_csv(rows, columns, self.settings)

    @hookimpl
    def fetch_orders(self, since: datetime | None, statuses: list[str] | None) -> Iterator[Any]:
        if self.settings.format == "csv":
            yield from self._csv_orders()
        else:
            yield from self._idocs("orders", "ORDERS", lambda d: convert.order(d, self.settings))

    @hookimpl
    def fetch_shipments(self, since: datetime | None) -> Iterator[Any]:
        yield from self._idocs("shipments", "DESADV", lambda d: convert.shipment(d, self.settings))

    @hookimpl
    def acknowledge_read(self) -> None:
        """Every record of the files claimed in this run is committed: remember their
        DOCNUMs and hashes, then archive each file (or file it under error/ with why)."""
        done, self._read = self._read, []
        self.ledger.put(
            {
                key: file.name
                for file in done
                for key in [*file.keys, *([f"file:{file.digest}"] if file.digest else [])]
            }
        )
        stuck = []
        for file in done:  # each on its own: one that cannot move keeps no other back
            try:
                self._file_away(file)
            except OSError as exc:
                stuck.append(f"{file.name} ({exc})")
        if stuck:
            raise RemoteRejected(
                f"could not move {len(stuck)} read file(s) out of {self.settings.outbound_dir}: "
                f"{'; '.join(stuck[:5])}; they stay claimed and are read again (a no-op) and "
                "moved by the next run"
            )

    def _file_away(self, file: _File) -> None:
        if file.error is None:
            day = datetime.now(timezone.utc).strftime("%Y/%m/%d")
            folder = posixpath.join(self.settings.archive_dir, day)
        else:
            folder = self.settings.error_dir
        if folder not in self._folders:
            self.client.makedirs(folder)
            self._folders.add(folder)
        if file.error is not None:
            reason = f"{file.name}: {file.error}\n".encode()
            self.client.write_atomic(folder, f"{file.name}.err.txt", lambda out: out.write(reason))
        target = base = posixpath.join(folder, file.name)
        count = 0
        while self.client.exists(target):  # SAP used the name again: keep every copy
            count += 1
            target = f"{base}.{file.digest[:8] or 'x'}" + (f".{count}" if count > 1 else "")
        self.client.rename(file.claimed, target)

    # --- writing --------------------------------------------------------------------------

    def _write_idoc(self, idoc: Idoc, basic: str, name_key: str, moment: datetime | None) -> str:
        """Write one IDoc to the inbound folder under a name derived from the record (its
        time, its key, its content), so a write repeated after a crash replaces the file
        instead of adding a second one. Returns the file name."""
        body = io.BytesIO()
        with IdocWriter(body, basic, self.settings.encoding) as writer:
            writer.write(idoc)
        data = body.getvalue()
        digest = hashlib.sha256(data).hexdigest()[:8]
        when = f"{_stamp(moment)}_" if moment is not None else ""
        name = f"{idoc.mestyp}_{when}{_slug(name_key)}_{digest}.xml"
        self.client.write_atomic(self.settings.inbound_dir, name, lambda out: out.write(data))
        return name

    def _keyed(self, record: Record, build: Callable[[], Any]) -> Any:
        """`build()`, with a RecordInvalid it raises named by the record's key."""
        try:
            return build()
        except RecordInvalid as exc:
            if exc.key is None:
                raise RecordInvalid(
                    f"{type(record).__name__.lower()} {record.key}: {exc}",
                    key=record.key,
                    field=exc.field,
                ) from None
            raise

    @hookimpl
    def validate_record(self, entity: Entity, record: Any, order_type: OrderType | None) -> None:
        options = self.settings
        if entity == "products":
            self._keyed(record, lambda: convert.matmas(record, options, True, True))
        elif entity == "customers":
            number = convert.kunnr(record.key, options.customer_prefix)
            self._keyed(record, lambda: convert.debmas(record, number, options))
        elif entity == "orders":
            self._keyed(record, lambda: convert.orders05(record, None, options))
        elif entity == "stock":
            self._keyed(record, lambda: convert.matnr(record.sku, options))

    @hookimpl
    def find_products(self, skus: list[str]) -> dict[str, str]:
        if not self.settings.check_materials:
            return {sku: sku for sku in skus}
        found = self.ledger.get(f"material:{sku}" for sku in skus if len(sku) < 240)
        return {key.removeprefix("material:"): value for key, value in found.items()}

    @hookimpl
    def upsert_product(self, product: Product, existing_id: str | None, update_info: bool) -> str:
        new = existing_id is None or self._created_unseen(product.sku)
        idoc = self._keyed(
            product, lambda: convert.matmas(product, self.settings, update_info, new)
        )
        name = self._write_idoc(idoc, "MATMAS05", product.sku, product.updated_at)
        form = "create" if new else "update"
        self.ledger.put(
            {f"material:{product.sku}": product.sku, f"matfile:{product.sku}": f"{form} {name}"}
        )
        return product.sku

    def _created_unseen(self, sku: str) -> bool:
        """Whether the material's last file created it and SAP has not taken it yet (a run
        that wrote it died before it was bound): it is written as a creation again, under
        the same name when nothing changed, not as an update in a second file."""
        last = self.ledger.get([f"matfile:{sku}"]).get(f"matfile:{sku}", "")
        form, _, name = last.partition(" ")
        if form != "create":
            return False
        return self.client.exists(posixpath.join(self.settings.inbound_dir, name))

    @hookimpl
    def find_debtor(self, customer: Customer, match_on: DebtorField) -> str | None:
        if match_on == "email":
            if not customer.email:
                raise RecordInvalid(
                    f"customer {customer.key}: no e-mail address to find the SAP customer by",
                    key=customer.key,
                    field="email",
                )
            key = _email_key(customer.email)
        else:
            key = f"customer:{convert.kunnr(customer.key, self.settings.customer_prefix)}"
        return self.ledger.get([key]).get(key)

    @hookimpl
    def upsert_debtor(self, customer: Customer, existing_id: str | None) -> str:
        number = existing_id or convert.kunnr(customer.key, self.settings.customer_prefix)
        idoc = self._keyed(customer, lambda: convert.debmas(customer, number, self.settings))
        self._write_idoc(idoc, "DEBMAS07", number, customer.updated_at)
        known = {f"customer:{number}": number}
        if customer.email:
            known[_email_key(customer.email)] = number
        self.ledger.put(known)
        return number

    def _confirmations(self) -> None:
        """Read SAP's order confirmations (ORDRSP) once a run: each PO number SAP confirmed
        goes into the ledger with SAP's sales order number; the files are archived."""
        if self._confirmed:
            return
        self._confirmed = True
        pattern = self.settings.patterns.get("confirmations", "ORDRSP_*")
        for file in self._claim(pattern):
            found = {}
            with self.client.open_read(file.claimed) as raw:
                try:
                    for idoc in read_idocs(raw):
                        pair = convert.confirmation(idoc) if idoc.mestyp == "ORDRSP" else None
                        if pair is not None:
                            found[f"confirmed:{pair[0]}"] = pair[1]
                except IdocError as exc:
                    file.error = str(exc)
            self.ledger.put(found)
            self._file_away(file)

    @hookimpl
    def find_order(self, order: Order, order_type: OrderType) -> str | None:
        self._confirmations()
        keys = [f"confirmed:{order.number}", f"order:{order.number}"]
        found = self.ledger.get(keys)
        return found.get(keys[0]) or found.get(keys[1])

    @hookimpl
    def create_order(self, order: Order, order_type: OrderType, debtor_id: str | None) -> str:
        idoc = self._keyed(order, lambda: convert.orders05(order, debtor_id, self.settings))
        name = self._write_idoc(idoc, "ORDERS05", order.number, order.created_at)
        self.ledger.put({f"order:{order.number}": name})
        return name

    @hookimpl
    def push_stock(self, levels: list[StockLevel]) -> None:
        options = self.settings
        body = io.BytesIO()
        if options.stock_format == "idoc":
            with IdocWriter(body, "LOISTD01", options.encoding) as writer:
                writer.write(convert.loistd(levels, options))
            suffix, mestyp = "xml", "LOISTD"
        else:
            columns = options.csv_columns.get("stock", DEFAULT_COLUMNS["stock"])
            text = io.TextIOWrapper(body, encoding=options.csv_encoding, newline="")
            out = csv.DictWriter(text, list(columns), delimiter=options.csv_delimiter)
            out.writeheader()
            for level in levels:
                try:
                    out.writerow(convert.stock_row(level, columns, options))
                except RecordInvalid as exc:
                    raise RemoteRejected(f"stock of {level.sku}: {exc}") from None
            text.flush()
            text.detach()
            suffix, mestyp = "csv", "STOCK"
        data = body.getvalue()
        digest = hashlib.sha256(data).hexdigest()[:8]
        name = f"{mestyp}_{_stamp(None)}_{digest}.{suffix}"
        self.client.write_atomic(options.inbound_dir, name, lambda out: out.write(data))


_checked: type[Connector] = SapSftpPlugin
__all__ = ["SapSftpPlugin", "SapSftpSettings"]
