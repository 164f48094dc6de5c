"""SIGKILL at random moments of a real `ihost run` between the SAP SFTP sandbox and the
Asperion sandbox: nothing lost, nothing processed twice, no partial file visible.

Reads (SAP's ORDERS05 files -> Asperion sales orders): each file is unclaimed in out/,
claimed (``<name>.processing``) or archived under archive/YYYY/MM/DD/, byte for byte as SAP
wrote it, and never in two places; once a last run completes, every order is in Asperion
exactly once and every file archived. Writes (Asperion articles -> MATMAS05 files in in/):
every visible file is a whole IDoc, no material is in two files, and once a last run
completes in/ holds exactly one file per article, which SAP's file port takes.

READ_TRIALS + WRITE_TRIALS random kills: each trial has its own SAP sandbox and store (the
Asperion sandbox is shared: each read trial has its own order numbers and customers); the
kill falls at a moment drawn with a fixed seed: how far the run's work has come (a file
claimed, so many orders booked, so many files archived; so many files begun in in/), and a
few milliseconds more, so it lands whatever the machine's load; an unkilled run must come
out right first. A drawn moment the run passes by finishing is drawn again. The run that
follows the kill runs in this process and must finish cleanly. Then kills aimed at moments
a random one rarely hits: mid-acknowledge, and right after a file is written for a product
(update_info = false), a customer (DEBMAS07) or an order (ORDERS05, from a webshop).
"""

from __future__ import annotations

import hashlib
import os
import random
import re
import signal
import subprocess
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import pytest
from cryptography.fernet import Fernet
from flow_data import customer, order
from helpers import IHOST, authorize, run_flow, write_config
from ihost_asperion import samples
from ihost_asperion.sandbox import AsperionSandbox
from ihost_sap_sftp.client import is_temp
from ihost_sap_sftp.demo import ERP_SETTINGS, UPDATED
from ihost_sap_sftp.idoc import read_idocs
from ihost_sap_sftp.sandbox import SapSftpSandbox
from ihost_testconnectors.sandbox import RecordSandbox

from host.tokens import KEY_VARIABLE

SEED = 20261202
READ_TRIALS = 10
WRITE_TRIALS = 10
FILES, PER_FILE = 6, 10  # SAP's orders: 60 a trial, in 6 files
CUSTOMERS = 12  # sold-to parties a trial (every third a company)
ARTICLES = 150  # articles written to SAP a write trial
DEBTORS = 60  # debtors written to SAP by the customers kill
SHOP_ORDERS, SHOP_CUSTOMERS = 60, 10  # a webshop's orders written to SAP
CLAIMED = ".processing"
ORDER_SKUS = ("MUG-01", "TEA-GRN", "SHIRT-M")
ORDERS_FLOW = """
[flows.orders]
kind = "orders"
source = "sap"
target = "erp"
[flows.orders.settings]
order_type = "sales_order"
[flows.orders.mapping]
payment_terms = { "0001" = "1", "0002" = "2" }
"""
CUSTOMERS_FLOW = """
[flows.customers]
kind = "customers"
source = "erp"
target = "sap"
"""
SHOP_FLOWS = """
[flows.orders]
kind = "orders"
source = "shop"
target = "sap"
[flows.orders.settings]
order_type = "sales_order"
"""
PRODUCTS_FLOW = """
[flows.products]
kind = "products"
source = "erp"
target = "sap"
[flows.products.settings]
update_info = {update_info}
"""
ARCHIVED = re.compile(r"^archive/\d{4}/\d{2}/\d{2}/(?P<name>[^/]+)$")
WRITTEN_NAME = re.compile(
    r"^(?P<mestyp>[A-Z]+)_(?:\d{17}_)?(?P<slug>[A-Za-z0-9-]+)_(?P<hash>[0-9a-f]{8})\.xml$"
)


@pytest.fixture(scope="module", autouse=True)
def secret_key() -> Iterator[None]:
    """IHOST_SECRET_KEY for the module (the Asperion tokens are sealed with it); the
    killed processes inherit it."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(KEY_VARIABLE, Fernet.generate_key().decode())
        yield


# --- the systems ------------------------------------------------------------------------------


def article(code: str, name: str) -> dict[str, Any]:
    """An Asperion article sold at 10.33 excluding VAT, changed at UPDATED."""
    return samples.article(code, 10.33, description=name, unit="stuk", dateLastChange=UPDATED)


@pytest.fixture(scope="module")
def shop_erp() -> Iterator[AsperionSandbox]:
    """The Asperion administration SAP's orders go to (each trial its own order numbers and
    customers)."""
    with AsperionSandbox() as running:
        running.seed("articles", [article(sku, f"Article {sku}") for sku in ORDER_SKUS])
        yield running


def debtor(n: int) -> dict[str, Any]:
    return {
        "customerNumber": str(20000 + n),
        "name": f"Firma {n} BV" if n % 3 == 0 else f"Klant {n}",
        "emailAddress": f"debiteur{n}@example.com",
        "address": "Dorpsstraat 7",
        "postCode": "3512 AB",
        "city": "Utrecht",
        "countryCode": "NL",
        "debtorKindId": "BI",
        "dateLastChange": UPDATED,
    }


@pytest.fixture(scope="module")
def catalog() -> Iterator[AsperionSandbox]:
    """The Asperion administration whose articles and debtors go to SAP (read only)."""
    with AsperionSandbox() as running:
        running.seed("articles", [article(f"ART-{n:04d}", f"Article {n}") for n in range(ARTICLES)])
        running.seed("debtors", [debtor(n) for n in range(DEBTORS)])
        yield running


@contextmanager
def sap_system() -> Iterator[SapSftpSandbox]:
    """A fresh SAP: its file port does not poll, so in/ keeps what ihost wrote."""
    with SapSftpSandbox(sap_poll=None) as running:
        yield running


def sap_order(trial: int, n: int) -> dict[str, Any]:
    """Order `n` of a trial in SAP's IDoc JSON: its own number, one of the trial's customers
    (a company with its contact person, or a person), one or two lines."""
    c = n % CUSTOMERS
    party: dict[str, Any] = {
        "PARTN": f"{trial:03d}{c:07d}",
        "NAME1": f"Klant {trial}-{c}",
        "STRAS": "Dorpsstraat 7",
        "PSTLZ": "3512 AB",
        "ORT01": "Utrecht",
        "LAND1": "NL",
        "SMTP_ADDR": email(trial, c),
    }
    if c % 3 == 0:
        party.update(ANRED="Firma", NAME1=f"Firma {trial}-{c} BV", NAME2="Piet Jansen")
    lines = [
        {
            "POSEX": f"{10 * (i + 1):06d}",
            "MENGE": str(1 + (n + i) % 4),
            "VPREI": "10.33",
            "E1EDP19": {"QUALF": "002", "IDTNR": ORDER_SKUS[(n + i) % len(ORDER_SKUS)]},
            "E1EDP04": {"MSATZ": "21"},
        }
        for i in range(1 + n % 2)
    ]
    return {
        "E1EDK01": {"CURCY": "EUR", "BELNR": number(trial, n), "ZTERM": "0001"},
        "E1EDK03": {"IDDAT": "012", "DATUM": "20261120", "UZEIT": "101500"},
        "E1EDKA1": [{"PARVW": "AG", **party}],
        "E1EDK02": {"QUALF": "001", "BELNR": f"PO-{number(trial, n)}"},
        "E1EDP01": lines,
    }


def number(trial: int, n: int) -> str:
    return f"4{trial:03d}{n:06d}"


def email(trial: int, c: int) -> str:
    return f"t{trial}-klant{c}@example.com"


# --- a trial ----------------------------------------------------------------------------------


@dataclass
class ReadTrial:
    """SAP's files of one read trial and the orders they hold."""

    trial: int
    sap: SapSftpSandbox
    config: Path
    files: dict[str, bytes] = field(default_factory=dict)
    orders: int = FILES * PER_FILE

    @property
    def numbers(self) -> list[str]:
        return [number(self.trial, n) for n in range(self.orders)]

    @property
    def emails(self) -> set[str]:
        return {email(self.trial, n % CUSTOMERS) for n in range(self.orders)}


@contextmanager
def read_trial(
    trial: int, directory: Path, erp: AsperionSandbox, files: int = FILES, per_file: int = PER_FILE
) -> Iterator[ReadTrial]:
    """A fresh SAP with `files` files of `per_file` orders in out/, and a fresh store."""
    directory.mkdir(parents=True, exist_ok=True)
    with sap_system() as sap:
        for f in range(files):
            sap.seed("orders", [sap_order(trial, f * per_file + i) for i in range(per_file)])
        out = sap.root / "out"
        written = {path.name: path.read_bytes() for path in out.iterdir()}
        assert len(written) == files, sorted(written)
        connections = {"erp": ("asperion", erp, ERP_SETTINGS), "sap": ("sap_sftp", sap)}
        config = write_config(directory, connections, ORDERS_FLOW)
        authorize(config, "erp")
        yield ReadTrial(trial, sap, config, written, files * per_file)


@dataclass
class WriteTrial:
    sap: SapSftpSandbox
    config: Path


@contextmanager
def write_trial(
    directory: Path, erp: AsperionSandbox, update_info: bool = True
) -> Iterator[WriteTrial]:
    """A fresh SAP with an empty in/ and a fresh store."""
    directory.mkdir(parents=True, exist_ok=True)
    with sap_system() as sap:
        flows = PRODUCTS_FLOW.replace("{update_info}", "true" if update_info else "false")
        flows += CUSTOMERS_FLOW
        connections = {"erp": ("asperion", erp, ERP_SETTINGS), "sap": ("sap_sftp", sap)}
        config = write_config(directory, connections, flows)
        authorize(config, "erp")
        yield WriteTrial(sap, config)


def start(config: Path, flow: str, log: Path) -> subprocess.Popen[bytes]:
    """`ihost -c CONFIG run FLOW` as a process of its own (the console script)."""
    env = {k: v for k, v in os.environ.items() if k != "IHOST_CONFIG"}
    with log.open("wb") as err:
        return subprocess.Popen(
            [IHOST, "-c", str(config), "run", flow],
            stdout=subprocess.DEVNULL,
            stderr=err,
            env=env,
        )


def kill_when(
    config: Path, flow: str, log: Path, ready: Callable[[], bool], after: float = 0.0
) -> bool:
    """Run FLOW and SIGKILL it `after` seconds once `ready()` holds; False when it ended by
    itself first."""
    process = start(config, flow, log)
    deadline = time.monotonic() + 60
    while process.poll() is None:
        if ready():
            try:
                process.wait(timeout=after)
            except subprocess.TimeoutExpired:
                process.send_signal(signal.SIGKILL)
                process.wait()
                return True
            return False
        assert time.monotonic() < deadline, "the run neither ended nor got there in 60 s"
        time.sleep(0.001)
    return False


def moments(rng: random.Random, steps: int) -> Iterator[tuple[int, float]]:
    """Random moments in a run's work, drawn with a fixed seed: (how far the work has come,
    0 to `steps` - 1, and a few milliseconds more, to fall between two remote calls too).
    Measured by progress, not by the clock, so a moment lands whatever the machine's load."""
    while True:
        yield rng.randrange(steps), rng.random() * 0.02


# --- what must hold after every kill ----------------------------------------------------------


def places(trial: ReadTrial) -> dict[str, list[str]]:
    """Where each of SAP's files of the trial is (out, claimed, archive), each copy checked
    byte for byte against what SAP wrote; anything else under the root fails."""
    found: dict[str, list[str]] = {name: [] for name in trial.files}
    root = trial.sap.root
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        where = path.relative_to(root).as_posix()
        archived = ARCHIVED.match(where)
        if where.startswith("out/") and path.name in trial.files:
            name, place = path.name, "out"
        elif where.startswith("out/") and path.name.removesuffix(CLAIMED) in trial.files:
            name, place = path.name.removesuffix(CLAIMED), "claimed"
        elif archived is not None and archived["name"] in trial.files:
            name, place = archived["name"], "archive"
        else:
            raise AssertionError(f"{where}: a file that is none of SAP's, claimed or archived")
        assert path.read_bytes() == trial.files[name], f"{where} is not the file SAP wrote"
        found[name].append(place)
    return found


def check_read(trial: ReadTrial, erp: AsperionSandbox, done: bool) -> tuple[int, Counter[str]]:
    """The invariants of a read trial; `done`: after the completing run. Returns the number
    of the trial's orders in Asperion and where the files are."""
    where = places(trial)
    for name, seen in where.items():
        assert len(seen) == 1, f"{name}: {seen or 'lost'}"
    copies = Counter(
        s["orderNumber"] for s in erp.dump("salesorders") if s["orderNumber"] in trial.numbers
    )
    twice = {k: v for k, v in copies.items() if v > 1}
    assert not twice, f"orders in Asperion more than once: {twice}"
    debtors = Counter(
        (d.get("emailAddress") or "").lower()
        for d in erp.dump("debtors")
        if (d.get("emailAddress") or "").lower() in trial.emails
    )
    assert not {k: v for k, v in debtors.items() if v > 1}, f"debtors made twice: {debtors}"
    stages = Counter(seen[0] for seen in where.values())
    if done:
        missing = [n for n in trial.numbers if copies[n] != 1]
        assert not missing, f"orders not in Asperion: {missing}"
        assert stages == Counter({"archive": len(trial.files)}), stages
        assert set(debtors) == trial.emails, f"debtors missing: {trial.emails - set(debtors)}"
    return sum(copies.values()), stages


KEYS = {
    "MATMAS": ("E1MARAM", "MATNR"),
    "DEBMAS": ("E1KNA1M", "KUNNR"),
    "ORDERS": ("E1EDK01", "BELNR"),
}


def visible(sap: SapSftpSandbox, mestyp: str = "MATMAS") -> dict[str, str]:
    """{key: file} of every file of `mestyp` in in/ under a name SAP reads (not a temp
    name): each must be one whole IDoc of `mestyp` whose name carries its key and its own
    content's hash; no material (MATNR), customer (KUNNR) or order (BELNR) may be in two
    files."""
    segment_name, key_field = KEYS[mestyp]
    found: dict[str, str] = {}
    for path in sorted((sap.root / "in").iterdir()):
        if is_temp(path.name) or not path.name.startswith(f"{mestyp}_"):
            continue
        data = path.read_bytes()
        named = WRITTEN_NAME.match(path.name)
        assert named is not None and named["mestyp"] == mestyp, f"in/{path.name}: not {mestyp}"
        assert named["hash"] == hashlib.sha256(data).hexdigest()[:8], f"in/{path.name} partial"
        with path.open("rb") as stream:
            idocs = list(read_idocs(stream))
        assert [d.mestyp for d in idocs] == [mestyp], f"in/{path.name}: {idocs}"
        segment = idocs[0].first(segment_name)
        key = segment.get(key_field) if segment is not None else None
        assert key is not None and named["slug"] == key, f"in/{path.name}: {key_field} {key}"
        assert key not in found, f"{key_field} {key} in two files: {found.get(key)}, {path.name}"
        found[key] = path.name
    return found


def check_written(trial: WriteTrial) -> None:
    """After the completing run: one file per article in in/, no temp file left, and SAP's
    file port takes every one of them."""
    materials = visible(trial.sap)
    assert sorted(materials) == [f"ART-{n:04d}" for n in range(ARTICLES)]
    assert len(list((trial.sap.root / "in").iterdir())) == ARTICLES, "temp files left in in/"
    processed = trial.sap.process_inbound()
    refused = [p for p in processed if p["status"] != "accepted"]
    assert len(processed) == ARTICLES and not refused, refused[:3]
    assert len(trial.sap.dump("materials")) == ARTICLES


def claimed_any(sap: SapSftpSandbox) -> bool:
    return any(p.name.endswith(CLAIMED) for p in (sap.root / "out").iterdir())


def archived_any(sap: SapSftpSandbox) -> bool:
    return any(p.is_file() for p in (sap.root / "archive").rglob("*"))


def touched_in(sap: SapSftpSandbox, files: int) -> bool:
    """Whether the run has begun its `files`+1-th file in in/ (a temp name counts)."""
    return len(list((sap.root / "in").iterdir())) > files


def progress(trial: ReadTrial, erp: AsperionSandbox, step: int) -> Callable[[], bool]:
    """When a read run has come `step` steps far: a file claimed (step 0), that many of the
    trial's orders in Asperion, or, past the orders, that many files archived (the
    acknowledgement)."""
    wanted = set(trial.numbers)

    def ready() -> bool:
        if step == 0:
            return claimed_any(trial.sap)
        if step < trial.orders:
            booked = erp.dump("salesorders")
            return sum(s["orderNumber"] in wanted for s in booked) >= step
        archive = trial.sap.root / "archive"
        return sum(p.is_file() for p in archive.rglob("*")) >= step - trial.orders + 1

    return ready


def wrote_any(sap: SapSftpSandbox, count: int = 1) -> bool:
    return sum(not is_temp(p.name) for p in (sap.root / "in").iterdir()) >= count


# --- the trials -------------------------------------------------------------------------------


def test_sigkill_while_reading_loses_no_order_and_books_none_twice(
    tmp_path: Path, shop_erp: AsperionSandbox
) -> None:
    """READ_TRIALS kills of `ihost run orders` at random moments; after each kill, and after
    the run that completes, every file is in exactly one place, intact, and no order or
    debtor is in Asperion twice; at the end every order is there once, every file archived."""
    with read_trial(0, tmp_path / "reference", shop_erp) as reference:
        result, _ = run_flow(reference.config, "orders", process=True)  # unkilled, it is right
        assert result.code == 0, result.output
        check_read(reference, shop_erp, done=True)
    left: list[tuple[int, Counter[str]]] = []  # orders written and files' places, each kill
    draws = moments(random.Random(SEED), FILES * PER_FILE + FILES)
    for trial, (step, more) in enumerate(draws, start=1):
        if len(left) == READ_TRIALS or trial > 2 * READ_TRIALS:
            break
        with read_trial(trial, tmp_path / f"trial-{trial}", shop_erp) as setup:
            log = tmp_path / f"trial-{trial}.log"
            ready = progress(setup, shop_erp, step)
            killed = kill_when(setup.config, "orders", log, ready, after=more)
            where = f"trial {trial}, killed at step {step} + {more * 1000:.0f} ms"
            try:
                written, stages = check_read(setup, shop_erp, done=not killed)
            except AssertionError as exc:
                raise AssertionError(f"{where}: {exc}") from None
            if killed:
                left.append((written, stages))
            result, report = run_flow(setup.config, "orders")
            assert result.code == 0, f"{where}: {result.output}"
            assert report["counts"]["failed"] == 0, f"{where}: {report['counts']}"
            try:
                check_read(setup, shop_erp, done=True)
            except AssertionError as exc:
                raise AssertionError(f"{where}, then run to the end: {exc}") from None
    # the kills fell where there was work to lose: most left files unarchived, some orders
    # written and others not
    unfinished = [s for _, s in left if s["archive"] < FILES]
    midway = [n for n, _ in left if 0 < n < FILES * PER_FILE]
    assert len(left) == READ_TRIALS, f"only {len(left)} kills landed: {left}"
    assert len(unfinished) >= READ_TRIALS // 2 and midway, f"what the kills left: {left}"


def test_sigkill_while_acknowledging_leaves_claimed_files_to_the_next_run(
    tmp_path: Path, shop_erp: AsperionSandbox
) -> None:
    """The kill lands the moment the first file reaches the archive (acknowledge_read
    under way, rarely hit at random): the rest stay claimed, the next run reads them as a
    no-op (their DOCNUMs are in the ledger: nothing is read again) and archives them."""
    with read_trial(READ_TRIALS + 1, tmp_path / "trial", shop_erp, files=15, per_file=2) as setup:
        setup.sap.slow_renames["archive/"] = 0.2  # the kill must beat the other 14 moves
        log = tmp_path / "run.log"
        killed = kill_when(setup.config, "orders", log, lambda: archived_any(setup.sap))
        assert killed, log.read_text()
        written, stages = check_read(setup, shop_erp, done=False)
        assert written == setup.orders and stages["claimed"] > 0, (written, stages)
        result, report = run_flow(setup.config, "orders")
        assert result.code == 0, result.output
        assert report["counts"]["read"] == 0, report["counts"]
        check_read(setup, shop_erp, done=True)


def test_sigkill_while_writing_leaves_one_whole_file_per_product(
    tmp_path: Path, catalog: AsperionSandbox
) -> None:
    """WRITE_TRIALS kills of `ihost run products` (ARTICLES articles to SAP) at random
    moments: after each kill every visible file in in/ is whole and no material is in two;
    after the run that completes in/ holds exactly one file per article, SAP takes all."""
    with write_trial(tmp_path / "reference", catalog) as reference:
        result, _ = run_flow(reference.config, "products", process=True)  # unkilled, it is right
        assert result.code == 0, result.output
        check_written(reference)
    left: list[int] = []
    draws = moments(random.Random(SEED + 1), ARTICLES)
    for trial, (step, more) in enumerate(draws, start=1):
        if len(left) == WRITE_TRIALS or trial > 2 * WRITE_TRIALS:
            break
        with write_trial(tmp_path / f"trial-{trial}", catalog) as setup:
            log = tmp_path / f"trial-{trial}.log"
            ready = partial(touched_in, setup.sap, step)
            killed = kill_when(setup.config, "products", log, ready, after=more)
            where = f"trial {trial}, killed at file {step} + {more * 1000:.0f} ms"
            try:
                if killed:
                    left.append(len(visible(setup.sap)))
                result, report = run_flow(setup.config, "products")
                assert result.code == 0, result.output
                assert report["counts"]["failed"] == 0, report["counts"]
                check_written(setup)
            except AssertionError as exc:
                raise AssertionError(f"{where}: {exc}") from None
    assert len(left) == WRITE_TRIALS, f"only {len(left)} kills landed: {left}"
    assert len([n for n in left if 0 < n < ARTICLES]) >= 2, f"files in in/ after the kills: {left}"


def test_sigkill_while_writing_without_update_info_leaves_one_file_per_product(
    tmp_path: Path, catalog: AsperionSandbox
) -> None:
    """The same kill with `update_info = false`, once 40 files are in in/: the run after it
    finds the products the killed run wrote (the ledger) and must not add a second file for
    any of them."""
    with write_trial(tmp_path / "trial", catalog, update_info=False) as setup:
        log = tmp_path / "run.log"
        killed = kill_when(setup.config, "products", log, lambda: wrote_any(setup.sap, 40))
        if not killed or not 40 <= len(visible(setup.sap)) < ARTICLES:
            pytest.fail(f"the kill did not land among the writes: {log.read_text()}")
        result, _ = run_flow(setup.config, "products")
        if result.code != 0:
            pytest.fail(result.output)
        check_written(setup)


def test_sigkill_while_writing_customers_leaves_one_file_per_customer(
    tmp_path: Path, catalog: AsperionSandbox
) -> None:
    """`ihost run customers` (DEBTORS debtors to SAP, each committed as it is written)
    killed once a third of the DEBMAS files are in in/: every visible file is whole; the run
    after it writes a customer the kill left written but unbound again under the same name,
    so in/ holds one file per customer, and SAP takes them all."""
    with write_trial(tmp_path / "trial", catalog) as setup:
        log = tmp_path / "run.log"
        third = DEBTORS // 3
        killed = kill_when(setup.config, "customers", log, lambda: wrote_any(setup.sap, third))
        assert killed, log.read_text()
        assert third <= len(visible(setup.sap, "DEBMAS")) < DEBTORS
        result, report = run_flow(setup.config, "customers")
        assert result.code == 0, result.output
        assert report["counts"]["failed"] == 0, report["counts"]
        customers = visible(setup.sap, "DEBMAS")
        assert sorted(customers) == [f"{20000 + n:010d}" for n in range(DEBTORS)]
        assert len(list((setup.sap.root / "in").iterdir())) == DEBTORS, "temp files left in in/"
        processed = setup.sap.process_inbound()
        assert len(processed) == DEBTORS and all(p["status"] == "accepted" for p in processed)


@pytest.fixture
def shop() -> Iterator[RecordSandbox]:
    """A webshop (the test connector) with SHOP_ORDERS paid orders from SHOP_CUSTOMERS
    customers (a customer inside an order carries no time of its own)."""
    customers = [customer(f"{7000 + c}", f"koper{c}@example.com") for c in range(SHOP_CUSTOMERS)]
    with RecordSandbox() as running:
        running.seed(
            "orders",
            [
                order(f"o{n}", f"{50000 + n}", customer_data=customers[n % SHOP_CUSTOMERS])
                for n in range(SHOP_ORDERS)
            ],
        )
        yield running


def shop_to_sap(directory: Path, shop: RecordSandbox, sap: SapSftpSandbox) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    connections = {"shop": ("testshop", shop), "sap": ("sap_sftp", sap, {"check_materials": False})}
    return write_config(directory, connections, SHOP_FLOWS)


def test_sigkill_while_writing_orders_leaves_one_file_per_order(
    tmp_path: Path, shop: RecordSandbox
) -> None:
    """`ihost run orders` from a webshop into SAP (ORDERS05, the customers as DEBMAS07
    first) killed once a third of the ORDERS files are in in/: the run after it leaves one
    whole file per order and per customer in in/, and SAP takes them all."""
    with sap_system() as sap:
        sap.seed("materials", [{"MATNR": "SKU-1"}])
        config = shop_to_sap(tmp_path / "trial", shop, sap)
        log = tmp_path / "run.log"
        third = SHOP_ORDERS // 3

        def ordered() -> bool:
            return sum(p.name.startswith("ORDERS_") for p in (sap.root / "in").iterdir()) >= third

        assert kill_when(config, "orders", log, ordered), log.read_text()
        result, report = run_flow(config, "orders")
        assert result.code == 0, result.output
        assert report["counts"]["failed"] == 0, report["counts"]
        orders = visible(sap, "ORDERS")
        assert sorted(orders) == [f"{50000 + n}" for n in range(SHOP_ORDERS)]
        customers = visible(sap, "DEBMAS")
        assert sorted(customers) == [f"{7000 + c:010d}" for c in range(SHOP_CUSTOMERS)]
        assert len(list((sap.root / "in").iterdir())) == SHOP_ORDERS + SHOP_CUSTOMERS
        processed = sap.process_inbound()
        assert len(processed) == SHOP_ORDERS + SHOP_CUSTOMERS
        assert all(p["status"] == "accepted" for p in processed), processed


def test_sigkill_after_an_order_s_customer_was_written_leaves_one_file_per_customer(
    tmp_path: Path, shop: RecordSandbox
) -> None:
    """`ihost run orders` from a webshop into SAP killed the moment the first customer's
    DEBMAS07 is in in/, before its order is written (so before the debtor is bound): the run
    after it finds the customer in the ledger and writes it again, which must replace the
    file, not add a second one for the same KUNNR."""
    with sap_system() as sap:
        config = shop_to_sap(tmp_path / "trial", shop, sap)
        log = tmp_path / "run.log"

        def customer_written() -> bool:
            return any(p.name.startswith("DEBMAS_") for p in (sap.root / "in").iterdir())

        killed = kill_when(config, "orders", log, customer_written)
        written = sorted(
            p.name.split("_")[0] for p in (sap.root / "in").iterdir() if not is_temp(p.name)
        )
        if not killed or written != ["DEBMAS"]:
            pytest.fail(f"the kill did not land between the customer and its order: {written}")
        result, _ = run_flow(config, "orders")
        if result.code != 0 or len(visible(sap, "ORDERS")) != SHOP_ORDERS:
            pytest.fail(f"the run after the kill: {result.output}")
        customers = visible(sap, "DEBMAS")
        assert sorted(customers) == [f"{7000 + c:010d}" for c in range(SHOP_CUSTOMERS)]
