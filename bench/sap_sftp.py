"""SAP over SFTP: 10,000 products written as MATMAS files and 10,000 orders read from
ORDERS05 files, against the sandbox's real SFTP server on 127.0.0.1.

SAP publishes no rate limit for a file port: what bounds a run is the size and the number
of the files. So the figures are files and records a second, and the bytes that went over
SFTP, of the connector's own calls:

- products written: the products flow's calls (`find_products` for each chunk of 500 SKUs,
  then `upsert_product` for each product), one MATMAS05 file each in ``in/``. Afterwards
  ``in/`` must hold exactly those 10,000 files, each one MATMAS IDoc of one of the SKUs.
- orders read: 100 files of 100 ORDERS05 IDocs (two or three items each, shaped as the
  demo's) in ``out/``, read with `fetch_orders` and filed away with `acknowledge_read` (the
  claimed files to ``archive/``, their DOCNUMs to the ledger). All 10,000 must come back as
  orders, none as RecordInvalid, and ``archive/`` must hold the 100 files.
- peak memory of reading (tracemalloc: Python's allocations in this process, which also runs
  the sandbox's server; not expat's or SQLite's own buffers), for 5 and for 50 files of 100
  orders, and of the acknowledgement that follows each: records stream, so the peak should
  grow with the count only by what a run keeps until it is acknowledged (a ledger key an
  IDoc). Traced apart from the timed read: tracemalloc slows allocations several times over.

The ledger is a real SQLite store in a temporary directory, as `ihost run` has it (the
connector asks it once for each 200 IDocs read and remembers each chunk's materials); the SSH
handshake and the store's creation happen before the clocks start. SAP's side of the
sandbox (`sap_poll=None`) takes nothing meanwhile; it takes the 10,000 MATMAS files after the
clock has stopped, timed apart (the emulator's speed, not the connector's).
"""

from __future__ import annotations

import copy
import gc
import tempfile
import time
import tracemalloc
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ihost_sap_sftp.plugin import SapSftpPlugin
    from ihost_sap_sftp.sandbox import SapSftpSandbox

    from host.ledger import Ledger
    from host.models import Product

PRODUCTS, CHUNK = 10_000, 500  # CHUNK: the SKUs the products flow looks up at once
FILES, PER_FILE = 100, 100
ORDERS = FILES * PER_FILE
TRACED = (5, 50)  # the file counts whose reading is traced for its peak memory
Row = tuple[str, float, str]


# --- the connection ---------------------------------------------------------------------------


def _connect(sap: SapSftpSandbox, store: Path) -> tuple[SapSftpPlugin, Ledger]:
    """The plugin on its own SQLite ledger, logged in and with the store open."""
    from ihost_sap_sftp.plugin import SapSftpPlugin, SapSftpSettings

    from host.auth import ConnectorContext
    from host.ledger import Ledger

    ledger = Ledger(f"sqlite:///{store}", "bench")
    ledger.get(["bench:warm"])  # creates the store's tables
    settings = SapSftpSettings(**sap.connection_settings())
    plugin = SapSftpPlugin(settings, context=ConnectorContext(connection="bench", ledger=ledger))
    plugin.check_connection()  # the SSH handshake
    return plugin, ledger


# --- products written ------------------------------------------------------------------------


def _gtin(n: int) -> str:
    """A 13-digit EAN with its GS1 check digit."""
    body = f"871234{n:06d}"
    total = sum(int(d) * (3 if i % 2 else 1) for i, d in enumerate(body))
    return body + str(-total % 10)


def _products() -> list[Product]:
    from host.models import Product

    start = datetime(2026, 11, 20, 8, 0, tzinfo=timezone.utc)
    return [
        Product(
            key=f"p{n}",
            updated_at=start + timedelta(seconds=n),
            sku=f"SKU-{n:05d}",
            name=f"Stoneware mug {n}, 350 ml",
            description="Hand-glazed stoneware, dishwasher safe. Each mug differs a little "
            "in colour: the glaze runs as it likes in the kiln.",
            price=Decimal("12.50") + n % 40,
            ean=_gtin(n),
            weight=Decimal("0.35"),
        )
        for n in range(PRODUCTS)
    ]


def _write_products(sap: SapSftpSandbox, tmp: Path) -> list[Row]:
    from ihost_sap_sftp.idoc import read_idocs

    products = _products()
    plugin, ledger = _connect(sap, tmp / "products.db")
    try:
        started = time.perf_counter()
        for first in range(0, PRODUCTS, CHUNK):
            chunk = products[first : first + CHUNK]
            found = plugin.find_products([p.sku for p in chunk])
            for product in chunk:
                plugin.upsert_product(product, found.get(product.sku), True)
        elapsed = time.perf_counter() - started
    finally:
        plugin.close()
        ledger.close()
    files = sorted((sap.root / "in").iterdir())
    if len(files) != PRODUCTS:
        raise RuntimeError(f"in/ holds {len(files)} files for {PRODUCTS:,} products")
    materials = []
    for path in files:
        with path.open("rb") as stream:
            idocs = list(read_idocs(stream))  # IdocError where a file is not IDoc XML
        if len(idocs) != 1 or idocs[0].mestyp != "MATMAS":
            raise RuntimeError(f"{path.name} holds {len(idocs)} IDocs, not one MATMAS")
        head = idocs[0].first("E1MARAM")
        materials.append(head.get("MATNR") if head else None)
    if sorted(m or "" for m in materials) != [p.sku for p in products]:
        raise RuntimeError("the materials in in/ are not the 10,000 SKUs written")
    size = sum(path.stat().st_size for path in files)
    started = time.perf_counter()
    taken = sap.process_inbound()
    consumed = time.perf_counter() - started
    if [t["status"] for t in taken] != ["accepted"] * PRODUCTS:
        raise RuntimeError("SAP's emulated file port refused some of the MATMAS files")
    return [
        (f"sap_sftp products written, {PRODUCTS:,} as MATMAS05 files over SFTP", elapsed, "s"),
        ("  files per second", PRODUCTS / elapsed, "files/s"),
        ("  records per second", PRODUCTS / elapsed, "products/s"),
        ("  bytes written", size, "bytes"),
        ("  the sandbox's SAP file port taking them all (not ihost's time)", consumed, "s"),
    ]


# --- orders read -----------------------------------------------------------------------------


def _order_idoc(n: int, template: dict[str, Any]) -> dict[str, Any]:
    """An ORDERS05 IDoc in the sandbox's JSON, like the demo's, with its own numbers and two
    or three items."""
    idoc = copy.deepcopy(template)
    idoc["E1EDK01"]["BELNR"] = f"{n:010d}"
    idoc["E1EDK02"]["BELNR"] = f"PO-{n:06d}"
    item = idoc["E1EDP01"][0]
    idoc["E1EDP01"] = []
    for line in range(2 + n % 2):
        added = copy.deepcopy(item)
        added["POSEX"] = f"{(line + 1) * 10:06d}"
        added["MENGE"] = str(1 + (n + line) % 9)
        added["E1EDP19"] = {"QUALF": "002", "IDTNR": f"SKU-{(n * 3 + line) % 10_000:05d}"}
        idoc["E1EDP01"].append(added)
    return idoc


def _seed_orders(sap: SapSftpSandbox, files: int, first: int) -> int:
    """`files` files of PER_FILE orders in out/, numbered from `first`; returns the next."""
    from ihost_sap_sftp.demo import sap_orders

    templates = sap_orders()  # a company's order and a person's
    for _ in range(files):
        numbers = range(first, first + PER_FILE)
        sap.seed("orders", [_order_idoc(n, templates[n % 2]) for n in numbers])
        first += PER_FILE
    return first


def _read(plugin: SapSftpPlugin) -> Iterator[Any]:
    yield from plugin.fetch_orders(since=None, statuses=None)


def _read_orders(sap: SapSftpSandbox, tmp: Path) -> list[Row]:
    from host.errors import RecordInvalid
    from host.models import Order

    following = _seed_orders(sap, FILES, 0)
    size = sum(path.stat().st_size for path in (sap.root / "out").iterdir())
    plugin, ledger = _connect(sap, tmp / "orders.db")
    try:
        numbers: set[str] = set()
        refused: list[RecordInvalid] = []  # what is not an Order
        started = time.perf_counter()
        for record in _read(plugin):
            if isinstance(record, Order):
                numbers.add(record.number)
            else:
                refused.append(record)
        read = time.perf_counter()
        plugin.acknowledge_read()
        done = time.perf_counter()
        elapsed, acknowledged = done - started, done - read
        if refused or len(numbers) != ORDERS:
            why = f" (the first: {refused[0]})" if refused else ""
            raise RuntimeError(
                f"read {len(numbers)} orders of {ORDERS:,}, {len(refused)} RecordInvalid{why}"
            )
        archived = [path for path in (sap.root / "archive").rglob("*") if path.is_file()]
        left = list((sap.root / "out").iterdir())
        if len(archived) != FILES or left:
            raise RuntimeError(f"{len(archived)} files archived of {FILES}, {len(left)} left")
        rows = [
            (f"sap_sftp orders read, {ORDERS:,} from {FILES} ORDERS05 files", elapsed, "s"),
            ("  files per second", FILES / elapsed, "files/s"),
            ("  records per second", ORDERS / elapsed, "orders/s"),
            ("  bytes read", size, "bytes"),
            ("  of the time, acknowledge_read (ledger, archive)", acknowledged * 1000, "ms"),
        ]
        for files in TRACED:
            following = _seed_orders(sap, files, following)
            rows += _traced(plugin, files)
    finally:
        plugin.close()
        ledger.close()
    return rows


def _traced(plugin: SapSftpPlugin, files: int) -> list[Row]:
    """The peak of Python's allocations while `files` files are read, and while they are
    acknowledged."""
    gc.collect()
    tracemalloc.start()
    try:
        count = sum(1 for _ in _read(plugin))
        reading = tracemalloc.get_traced_memory()[1]
        tracemalloc.reset_peak()
        plugin.acknowledge_read()
        acknowledging = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    if count != files * PER_FILE:
        raise RuntimeError(f"the traced read gave {count} records of {files * PER_FILE}")
    return [
        (f"  peak memory reading {files} files ({count:,} orders)", reading / 1024, "KiB"),
        ("    and acknowledging them", acknowledging / 1024, "KiB"),
    ]


def main() -> list[Row]:
    from ihost_sap_sftp.sandbox import SapSftpSandbox

    with tempfile.TemporaryDirectory() as tmp, SapSftpSandbox(sap_poll=None) as sap:
        return _write_products(sap, Path(tmp)) + _read_orders(sap, Path(tmp))


if __name__ == "__main__":
    from bench.__main__ import show

    show(main())
