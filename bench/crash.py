"""Exactly once under crashes and faults: Shopify orders into AFAS, counted in AFAS itself.

Each trial starts fresh: the Shopify and AFAS sandboxes, N paid orders (a third as many
customer e-mail addresses, so orders share debtors; a quarter of the customers are
companies), the articles they order, and an ihost.toml with one orders flow of the order
type under test. Three modes:

- crash: `ihost run orders` is started and SIGKILLed after a delay drawn uniformly over the
  time a full run takes (measured once per order type, unkilled; longer by a fifth with
  each kill after a trial's second), again and again, until a run ends by itself (exit 0
  or 1); then one more run, not killed.
- commit: the same, but the AFAS sandbox itself kills ihost the moment it has applied a
  create (an order, entry or debtor), before the answer goes out: the moment between a
  remote write and ihost's commit that DESIGN §7 says the existence checks cover. A random
  kill rarely lands there, since that window is a few milliseconds a record; these do,
  COMMIT_KILLS times a trial.
- fault: a FaultProxy (bench.faults) before each sandbox answers 20 % of the requests with
  503, 429, a stall, a dropped connection, or applies the write and loses its answer. ihost
  runs, and retries its dead letters, until a run ends clean or 40 rounds; then the faults
  go off and a last run and retry give every order a fair chance.

The figures come from the AFAS sandbox's own records, never from ihost's store: sales
orders by CustomerReference, journal entries by the InId of their debtor line (each body
AFAS accepted), debtors by e-mail address. duplicates = copies beyond the first; lost =
paid orders with no copy.

Trials run in worker processes, each with its own sandboxes, proxies and ihost runs. The
fault trials mostly wait (Retry-After, timeouts) and take longest: they start first, all
side by side, once all are set up, their first runs a moment apart so that their clients'
answers stay well within the 1 s timeout. The crash and commit trials keep a core busy:
they run three at a time beside them, their kill span measured under that same load.

    python -m bench.crash [--quick] [--orders 300] [--trials 10]
                          [--mode crash|commit|fault|both|all]
                          [--order-type sales_order|financial_entry|both]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import multiprocessing
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from bench.faults import KINDS

MODES = ("crash", "commit", "fault")
ORDER_TYPES = ("sales_order", "financial_entry")
FAULT_RATE = 0.2
CLIENT_TIMEOUT = 1.0  # the connections' timeout in fault mode: a stall costs this much
STALL = 2.0  # beyond the client's timeout
CRASH_TIMEOUT = 30.0  # no faults: a timeout would be a lost answer the harness did not make
#: At the demo's 1,000 points/s, a page of 4 orders costs ~890, so reading 300 orders would
#: take ~65 s of every run and most kills would land before the first write. The shop is
#: made fast so that the runs spend their time writing to AFAS.
SHOP_RESTORE_RATE = 100_000.0
MAX_ROUNDS = 40
MAX_KILLS = 60
SPAN_GROWTH = 1.2
COMMIT_KILLS = 3
STAGGER = 0.3  # s between the first runs of the fault trials
SETTLE = 10.0  # s after the last fault trial started before the crash trials start
BARRIER_TIMEOUT = 600
RUN_TIMEOUT = 1_200  # seconds: a hung ihost is a finding, not a reason to hang the bench
ARTICLES = tuple(f"ART-{i:02d}" for i in range(1, 13))
ORDER_CONNECTORS = ("fbsales", "fbdirectinvoice", "fientries")
DEBTOR_NAMES = ("KnSalesRelationPer", "KnSalesRelationOrg")
DEBTOR_CONNECTORS = tuple(name.lower() for name in DEBTOR_NAMES)
WINDOW = 0.1  # s after an order write's answer in which ihost has committed it, or not yet
FIRST_NUMBER = 10001
BASE_TIME = datetime(2026, 5, 1, 8, 0, tzinfo=timezone.utc)


@dataclass(frozen=True)
class Trial:
    """One fresh setup to run."""

    mode: str
    order_type: str
    orders: int
    seed: int
    index: int = 0
    rate: float = FAULT_RATE
    kill_span: float = 0.0  # crash mode: kills fall uniformly in [0, kill_span) s
    restore_rate: float = SHOP_RESTORE_RATE


# --- the shop -------------------------------------------------------------------------------


def shop_orders(count: int, seed: int) -> list[dict[str, Any]]:
    """`count` paid Shopify orders, numbers FIRST_NUMBER.., one minute apart, every customer
    e-mail on about three orders (a quarter of them companies); half the orders are the
    shop's known customer, half guest checkouts with a customer of their own."""
    from ihost_shopify import samples

    rng = random.Random(seed)
    emails = max(1, count // 3)
    orders = []
    for i in range(count):
        customer = i % emails
        node = samples.order(
            FIRST_NUMBER + i,
            email=f"klant{customer}@example.com",
            company=f"Firma {customer} BV" if customer % 4 == 0 else None,
            skus=tuple(rng.sample(ARTICLES, rng.randint(1, 3))),
            updated_at=(BASE_TIME + timedelta(minutes=i)).strftime("%Y-%m-%dT%H:%M:%SZ"),
            customer_id=700_000 + customer if i % 2 == 0 else 800_000 + i,
        )
        node["customer"].update(firstName="Klant", lastName=f"Nummer {customer}")
        orders.append(node)
    return orders


def seed_articles(erp: Any) -> None:
    """The articles the orders name, as host/demo.py seeds them."""
    from ihost_afas import sandbox as afas

    erp.seed(
        afas.ARTICLES,
        [
            {
                "ItemCode": code,
                "Description": f"Article {code}",
                "BasicSalesPrice": 12.10,
                "UnitId": "stk",
                "Blocked": False,
                "DateModified": "2026-01-01T00:00:00Z",
            }
            for code in ARTICLES
        ],
    )


def write_config(
    directory: Path,
    shop: dict[str, Any],
    erp: dict[str, Any],
    order_type: str,
    timeout: float,
) -> Path:
    """ihost.toml: the store in `directory`, the two connections and the orders flow."""
    lines = [f'[store]\nurl = "sqlite:///{directory / "ihost.db"}"\n']
    for name, plugin, settings in (("shop", "shopify", shop), ("erp", "afas", erp)):
        lines.append(f'[connections.{name}]\nplugin = "{plugin}"')
        values = {**settings, "timeout": timeout}
        lines += [f"{key} = {json.dumps(value)}" for key, value in values.items()]
        lines.append("")
    lines.append(
        '[flows.orders]\nkind = "orders"\nsource = "shop"\ntarget = "erp"\n'
        f'[flows.orders.settings]\norder_type = "{order_type}"\nretry_backoff = 0.05\n'
    )
    path = directory / "ihost.toml"
    path.write_text("\n".join(lines))
    return path


def _watched_afas() -> Any:
    """The AFAS sandbox, watching its creates: it tells whether a kill now falls in an order
    write's window (the write in flight, or answered less than WINDOW s ago with no AFAS
    request since: ihost binds and commits it in that time, then asks AFAS for the next
    order), and, armed, kills ihost itself when its n-th create is applied, just before
    the answer goes out: ihost cannot have committed it then."""
    from ihost_afas.sandbox import AfasSandbox

    class WatchedAfas(AfasSandbox):
        def __init__(self, **kwargs: Any) -> None:
            super().__init__(**kwargs)
            self._writing = 0
            self._answered: float | None = None  # when the last order write was answered
            self._victim: int | None = None
            self._countdown = 0
            self.killed_after: Counter[str] = Counter()  # connector -> kills after its create

        def in_write_window(self) -> bool:
            with self.lock:
                answered = self._answered
                return self._writing > 0 or (
                    answered is not None and time.monotonic() - answered < WINDOW
                )

        def arm(self, pid: int, creates: int) -> None:
            """Kill process `pid` when its `creates`-th create has been applied."""
            with self.lock:
                self._victim, self._countdown = pid, creates

        def disarm(self) -> None:
            with self.lock:
                self._victim = None

        def _created(self, connector: str) -> None:
            with self.lock:
                if self._victim is None:
                    return
                self._countdown -= 1
                if self._countdown > 0:
                    return
                victim, self._victim = self._victim, None
                self.killed_after[connector] += 1
            os.kill(victim, signal.SIGKILL)

        def app(self) -> Any:
            inner = super().app()

            async def watched(scope: Any, receive: Any, send: Any) -> None:
                if scope["type"] != "http":
                    await inner(scope, receive, send)
                    return
                name = scope["path"].rstrip("/").rsplit("/", 1)[-1].lower()
                write = scope["method"] in ("POST", "PUT") and name in ORDER_CONNECTORS
                create = scope["method"] == "POST" and name in ORDER_CONNECTORS + DEBTOR_CONNECTORS
                with self.lock:
                    self._answered = None
                    self._writing += write
                done = not write

                async def capture(message: Any) -> None:
                    nonlocal done
                    if message["type"] == "http.response.start":
                        if create and message["status"] < 300:
                            self._created(name)  # applied: a kill now beats ihost's commit
                        if not done:
                            done = True
                            with self.lock:
                                self._writing -= 1
                                if message["status"] < 300:
                                    self._answered = time.monotonic()
                    await send(message)

                try:
                    await inner(scope, receive, capture)
                finally:
                    if not done:
                        with self.lock:
                            self._writing -= 1

            return watched

    return WatchedAfas()


def _warm_up() -> None:
    """Build the AFAS sandbox's request validators now. It builds each on its first write
    (0.2 s, more under load): in fault mode that first write would outlast the client's
    1 s timeout now and then, an answer lost that nobody injected."""
    from ihost_afas import spec

    with contextlib.suppress(Exception):  # a warm-up only: the sandbox works without it
        for connector in ("FbSales", "FbDirectInvoice", "FiEntries", *DEBTOR_NAMES):
            for method in ("POST", "PUT"):
                spec.problems(connector, method, {})


def _graphql_mutation(method: str, path: str, body: bytes) -> bool:
    """Shopify reads are POSTs too: only a mutation writes."""
    try:
        return str(json.loads(body).get("query", "")).lstrip().startswith("mutation")
    except (ValueError, AttributeError):
        return False


@dataclass
class Setup:
    shop: Any
    erp: Any
    config: Path
    proxies: dict[str, Any]
    numbers: list[str]
    emails: set[str]


@contextmanager
def setup(trial: Trial) -> Iterator[Setup]:
    """Fresh sandboxes (behind fault proxies in fault mode), seeded, and an ihost.toml."""
    from ihost_shopify.sandbox import ShopifySandbox

    from bench.faults import FaultProxy

    with ExitStack() as stack:
        directory = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="ihost-crash-")))
        shop = stack.enter_context(ShopifySandbox(restore_rate=trial.restore_rate))
        erp = stack.enter_context(_watched_afas())
        # a killed client leaves the AFAS sandbox a request it cannot read: not worth a
        # traceback (uvicorn sets its loggers up as a server starts, so after that)
        logging.getLogger("uvicorn.error").disabled = True
        orders = shop_orders(trial.orders, trial.seed)
        shop.seed("orders", orders)
        seed_articles(erp)
        _warm_up()
        shop_settings, erp_settings = shop.connection_settings(), erp.connection_settings()
        proxies: dict[str, Any] = {}
        timeout = CRASH_TIMEOUT
        if trial.mode == "fault":
            timeout = CLIENT_TIMEOUT
            for name, settings, key, seed, is_write in (
                ("shop", shop_settings, "shop", trial.seed * 2, _graphql_mutation),
                ("erp", erp_settings, "base_url", trial.seed * 2 + 1, None),
            ):
                proxy = FaultProxy(
                    settings[key],
                    rate=trial.rate,
                    seed=seed,
                    stall=STALL,
                    is_write=is_write,
                    slow_after=CLIENT_TIMEOUT,
                )
                settings[key] = stack.enter_context(proxy).base_url
                proxies[name] = proxy
        config = write_config(directory, shop_settings, erp_settings, trial.order_type, timeout)
        numbers = [o["name"].lstrip("#") for o in orders]
        emails = {o["email"].lower() for o in orders}
        yield Setup(shop, erp, config, proxies, numbers, emails)


# --- running ihost ----------------------------------------------------------------------------


def ihost_command() -> list[str]:
    """The ihost beside this Python (the venv's), or the CLI through this Python."""
    script = Path(sys.executable).parent / "ihost"
    if script.exists():
        return [str(script)]
    found = shutil.which("ihost")
    return [found] if found else [sys.executable, "-c", "from host.cli import main; main()"]


def ihost(config: Path, *args: str) -> tuple[int, str]:
    """Run one ihost command to its end; returns (exit code, stdout)."""
    done = subprocess.run(
        [*ihost_command(), "-c", str(config), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        timeout=RUN_TIMEOUT,
    )
    return done.returncode, done.stdout


def start_run(config: Path) -> subprocess.Popen[bytes]:
    """`ihost run orders --json` in the background."""
    return subprocess.Popen(
        [*ihost_command(), "-c", str(config), "run", "orders", "--json"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def open_letters(config: Path) -> int:
    """Open dead letters, as `ihost deadletters list --json` shows them."""
    code, out = ihost(config, "deadletters", "list", "--json")
    if code != 0:
        raise RuntimeError(f"ihost deadletters list exited {code}")
    return len(json.loads(out)["dead_letters"])


@dataclass
class Runs:
    """The ihost runs of one trial and their exit codes."""

    config: Path
    codes: Counter[str] = field(default_factory=Counter)
    #: a run failed a record, ended early or was killed: dead letters may be open
    letters_possible: bool = False

    def run_and_retry(self) -> tuple[int, int]:
        """One `ihost run orders`, then `deadletters retry --flow orders` when letters are
        open. Returns (the run's exit code, open letters after). The letters are listed
        once a run could have left one: until then a clean run proves there are none, and
        a list costs an ihost start."""
        code, out = ihost(self.config, "run", "orders", "--json")
        self.codes[f"run {code}"] += 1
        try:
            failed = json.loads(out)["counts"]["failed"]
        except (ValueError, KeyError, TypeError):
            failed = None
        if code != 0 or failed != 0:
            self.letters_possible = True
        if not self.letters_possible:
            return code, 0
        letters = open_letters(self.config)
        if letters:
            retried, _ = ihost(self.config, "deadletters", "retry", "--flow", "orders")
            self.codes[f"retry {retried}"] += 1
            letters = open_letters(self.config)
        return code, letters


# --- measuring AFAS ---------------------------------------------------------------------------


def _entry_references(body: Any) -> Iterator[str]:
    """The InId of each debtor line (VaAs 2) in a FiEntries body."""
    if isinstance(body, dict):
        values = body.get("Fields")
        if isinstance(values, dict) and str(values.get("VaAs")) == "2" and values.get("InId"):
            yield str(values["InId"])
        for value in body.values():
            yield from _entry_references(value)
    elif isinstance(body, list):
        for value in body:
            yield from _entry_references(value)


def copies(erp: Any, order_type: str) -> Counter[str]:
    """Order number -> the copies AFAS holds: sales orders (or invoices) by their
    CustomerReference; journal entries by the InId of each entry body AFAS accepted."""
    if order_type == "financial_entry":
        return Counter(
            reference
            for received in erp.dump("FiEntries")
            if received.get("method") == "POST"
            for reference in _entry_references(received.get("body"))
        )
    return Counter(str(row.get("CustomerReference")) for row in erp.dump("Profit_Salesorders"))


def debtor_emails(erp: Any) -> Counter[str]:
    """E-mail address -> the AFAS debtors that have it."""
    return Counter(str(row.get("Email") or "").lower() for row in erp.dump("Profit_Debtor"))


def measure(erp: Any, order_type: str, numbers: list[str]) -> dict[str, int]:
    """Duplicates, lost orders and debtors created twice, from AFAS's own records."""
    found, wanted, emails = copies(erp, order_type), set(numbers), debtor_emails(erp)
    return {
        "written": sum(found[n] for n in wanted),
        "duplicates": sum(c - 1 for n, c in found.items() if n in wanted and c > 1),
        "lost": sum(1 for n in numbers if found[n] == 0),
        "strangers": sum(c for n, c in found.items() if n not in wanted),
        "debtors": len(emails),
        "debtors_twice": sum(c - 1 for c in emails.values() if c > 1),
    }


# --- trials (in worker processes) -------------------------------------------------------------


def calibrate(order_type: str, orders: int, seed: int, restore_rate: float) -> float:
    """Seconds one unkilled run takes on a fresh setup: the span kills are drawn from."""
    trial = Trial("crash", order_type, orders, seed, restore_rate=restore_rate)
    with setup(trial) as box:
        ihost(box.config, "config", "validate")  # imports (and byte-compiles) what runs need
        started = time.perf_counter()
        code, _ = ihost(box.config, "run", "orders", "--json")
        elapsed = time.perf_counter() - started
    if code not in (0, 1):
        raise RuntimeError(f"the calibration run of {order_type} exited {code}")
    return elapsed


def run_trial(trial: Trial, barrier: Any = None) -> dict[str, Any]:
    """One trial, start to finish; returns its figures. Fault trials wait at `barrier`
    until every one is set up, then start `STAGGER` s apart."""
    started, wall = time.time(), time.perf_counter()
    try:
        with setup(trial) as box:
            if barrier is not None:
                barrier.wait(timeout=BARRIER_TIMEOUT)
                time.sleep(trial.index * STAGGER)
            run = {"crash": _crash, "commit": _commit, "fault": _faults}[trial.mode]
            figures = run(trial, box)
            figures.update(measure(box.erp, trial.order_type, box.numbers))
    except BaseException:
        if barrier is not None:
            barrier.abort()  # nobody waits for a trial that is gone
        raise
    figures.update(started=started, ended=time.time(), elapsed=time.perf_counter() - wall)
    return figures


def _crash(trial: Trial, box: Setup) -> dict[str, Any]:
    rng = random.Random(trial.seed)
    kills = in_window = 0
    runs = Runs(box.config)
    while kills < MAX_KILLS:
        # a machine busier than at calibration makes runs longer than the span: it grows by
        # a fifth with each kill after the second, so no trial is held in endless kills
        span = trial.kill_span * SPAN_GROWTH ** max(0, kills - 2)
        process = start_run(box.config)
        try:
            code = process.wait(timeout=rng.uniform(0, span))
        except subprocess.TimeoutExpired:
            in_window += box.erp.in_write_window()
            process.kill()
            process.wait()
            kills += 1
            runs.letters_possible = True
            continue
        runs.codes[f"run {code}"] += 1
        if code in (0, 1):
            break
    _, letters = runs.run_and_retry()  # the final pass, not killed
    return {
        "kills": kills,
        "kills_in_window": in_window,
        "codes": dict(runs.codes),
        "open_letters": letters,
        "gave_up": kills >= MAX_KILLS,
    }


def _commit(trial: Trial, box: Setup) -> dict[str, Any]:
    rng = random.Random(trial.seed)
    runs = Runs(box.config, letters_possible=True)
    kills = 0
    while kills < COMMIT_KILLS:
        found, debtors = copies(box.erp, trial.order_type), debtor_emails(box.erp)
        creates = sum(1 for n in box.numbers if not found[n])
        creates += sum(1 for e in box.emails if not debtors[e])
        if creates == 0:
            break
        process = start_run(box.config)
        box.erp.arm(process.pid, rng.randint(1, creates))
        code = process.wait(timeout=RUN_TIMEOUT)
        box.erp.disarm()
        if code == -signal.SIGKILL:
            kills += 1
        else:  # fewer creates than counted (a debtor found by another order's e-mail)
            runs.codes[f"run {code}"] += 1
    _, letters = runs.run_and_retry()  # the final pass, not killed
    after = box.erp.killed_after
    return {
        "kills": kills,
        "kills_after_order": sum(after[c] for c in ORDER_CONNECTORS),
        "kills_after_debtor": sum(after[c] for c in DEBTOR_CONNECTORS),
        "codes": dict(runs.codes),
        "open_letters": letters,
    }


def _faults(trial: Trial, box: Setup) -> dict[str, Any]:
    runs = Runs(box.config)
    rounds = 0
    for rounds in range(1, MAX_ROUNDS + 1):  # noqa: B007 - the count is reported
        code, letters = runs.run_and_retry()
        if code == 0 and not letters:
            break
    faulted = {name: proxy.summary() for name, proxy in box.proxies.items()}
    lost_writes = Counter(path.rsplit("/", 1)[-1] for _, path in box.proxies["erp"].lost_writes)
    for proxy in box.proxies.values():
        proxy.enabled = False
    _, letters = runs.run_and_retry()  # the clean-up pass, faults off
    return {
        "rounds": rounds,
        "faults": faulted,
        "lost_writes": dict(lost_writes),
        "codes": dict(runs.codes),
        "open_letters": letters,
    }


# --- the benchmark ----------------------------------------------------------------------------


def _span(values: list[float]) -> str:
    if not values:
        return "-"
    low, high = min(values), max(values)
    return f"{low:,.0f}" if low == high else f"{low:,.0f}-{high:,.0f}"


class _Group:
    """The rows and printed lines of one mode and order type."""

    def __init__(self, mode: str, order_type: str, results: list[dict[str, Any]]) -> None:
        self.name = f"{mode}, {order_type}"
        self.results = results
        self.rows: list[tuple[str, float, str]] = [(f"{self.name}: trials", len(results), "")]
        self.lines: list[str] = []

    def add(self, label: str, key: str, unit: str) -> None:
        values = [r.get(key, 0) for r in self.results]
        self.rows.append((f"{self.name}: {label.strip()}", sum(values), unit))
        self.lines.append(f"  {label:<42} {sum(values):>7,} {unit:<8} per trial {_span(values)}")

    def note(self, text: str) -> None:
        self.lines.append(f"  {text}")


def _figures(mode: str, order_type: str, results: list[dict[str, Any]]) -> _Group:
    group = _Group(mode, order_type, results)
    if mode == "crash":
        group.add("kills", "kills", "kills")
        group.add("kills in an order write's window (*)", "kills_in_window", "kills")
        group.note(
            f"(*) the write in flight, or answered < {WINDOW * 1000:.0f} ms before the kill "
            "with no AFAS request since"
        )
        gave_up = sum(r["gave_up"] for r in results)
        if gave_up:
            group.note(f"trials that never finished a run within {MAX_KILLS} kills: {gave_up}")
    elif mode == "commit":
        group.add("kills as soon as AFAS applied a create", "kills", "kills")
        group.add("  of which after an order (entry)", "kills_after_order", "kills")
        group.add("  of which after a debtor", "kills_after_debtor", "kills")
    else:
        kinds: Counter[str] = Counter()
        for result in results:
            for summary in result["faults"].values():
                kinds.update(summary)
            writes = result["lost_writes"]
            result["afas_lost"] = result["faults"]["erp"]["applied_lost_writes"]
            result["order_lost"] = sum(
                n for c, n in writes.items() if c.lower() in ORDER_CONNECTORS
            )
            result["debtor_lost"] = sum(
                n for c, n in writes.items() if c.lower() in DEBTOR_CONNECTORS
            )
            result["shop_lost"] = result["faults"]["shop"]["applied_lost_writes"]
            for figure in ("slow", "client_gone", "upstream_error", *KINDS):
                result[figure] = sum(s.get(figure, 0) for s in result["faults"].values())
            result["injected"] = sum(result[kind] for kind in KINDS)
        group.add("faults injected", "injected", "requests")
        for kind in KINDS:
            group.add(f"  {kind}", kind, "requests")
        group.add("AFAS writes applied, answer lost", "afas_lost", "writes")
        group.add("  of which orders (FbSales, FiEntries)", "order_lost", "writes")
        group.add("  of which debtors (KnSalesRelation*)", "debtor_lost", "writes")
        if any(r["shop_lost"] for r in results):
            group.add("Shopify writes applied, answer lost", "shop_lost", "writes")
        group.add("rounds (run, retry dead letters)", "rounds", "rounds")
        if kinds["slow"] or kinds["client_gone"]:
            group.add("answers slower than the client's timeout", "slow", "requests")
            group.add("answers the client had gone away from", "client_gone", "requests")
        if kinds["upstream_error"]:
            group.add("requests the proxy could not forward", "upstream_error", "requests")
    group.add("duplicate orders", "duplicates", "orders")
    group.add("lost orders", "lost", "orders")
    group.add("debtors created twice", "debtors_twice", "debtors")
    if any(r["strangers"] for r in results):
        group.add("orders AFAS holds that the shop does not", "strangers", "orders")
    if any(r["open_letters"] for r in results):
        group.add("dead letters still open at the end", "open_letters", "letters")
    wall = max(r["ended"] for r in results) - min(r["started"] for r in results)
    group.rows.append((f"{group.name}: wall time", wall, "s"))
    times = [r["elapsed"] for r in results]
    group.note(f"{'wall time':<42} {wall:>7,.0f} s        per trial {_span(times)} s")
    codes: Counter[str] = Counter()
    for result in results:
        codes.update(result["codes"])
    group.note(
        f"{'ihost exit codes':<42} " + ", ".join(f"{k}: {v}" for k, v in sorted(codes.items()))
    )
    return group


def _print(group: _Group, mode: str, trials: int, orders: int, rate: float) -> None:
    what = {
        "crash": "killed at random moments",
        "commit": f"killed {COMMIT_KILLS} times as soon as AFAS applied a create",
        "fault": f"{rate:.0%} of requests faulted",
    }[mode]
    print(f"{group.name} ({trials} trials of {orders} orders, {what})")
    print("\n".join(group.lines), flush=True)


def main(
    orders: int = 300,
    trials: int = 10,
    seed: int = 1,
    *,
    modes: tuple[str, ...] = MODES,
    order_types: tuple[str, ...] = ORDER_TYPES,
    rate: float = FAULT_RATE,
    crash_workers: int = 3,
    fault_workers: int | None = None,
    restore_rate: float = SHOP_RESTORE_RATE,
) -> list[tuple[str, float, str]]:
    """Run the trials and print the figures per mode and order type; returns the rows."""
    started = time.perf_counter()
    context = multiprocessing.get_context("spawn")
    print(
        f"crash and fault benchmark: {orders} orders, {trials} trials, "
        f"modes {', '.join(modes)}, order types {', '.join(order_types)}",
        flush=True,
    )
    rows: list[tuple[str, float, str]] = []

    def report(mode: str, order_type: str, futures: list[Future[dict[str, Any]]]) -> None:
        group = _figures(mode, order_type, [f.result() for f in futures])
        rows.extend(group.rows)
        _print(group, mode, trials, orders, rate)

    with ExitStack() as stack:
        faults: dict[str, list[Future[dict[str, Any]]]] = {}
        if "fault" in modes:  # first: they take longest, and mostly wait
            count = trials * len(order_types)
            workers = fault_workers or count
            manager = stack.enter_context(multiprocessing.Manager())
            pool = stack.enter_context(ProcessPoolExecutor(workers, mp_context=context))
            barrier = manager.Barrier(count + 1) if workers >= count else None
            faults = {
                t: [
                    pool.submit(
                        run_trial,
                        Trial(
                            "fault",
                            t,
                            orders,
                            seed * 1000 + i,
                            k * trials + i,
                            rate,
                            restore_rate=restore_rate,
                        ),
                        barrier,
                    )
                    for i in range(trials)
                ]
                for k, t in enumerate(order_types)
            }
            if barrier is not None:
                with contextlib.suppress(threading.BrokenBarrierError):
                    barrier.wait(timeout=BARRIER_TIMEOUT)
                # the crash trials' kill span is measured under the fault trials' load
                time.sleep(count * STAGGER + SETTLE)
        busy = [m for m in ("crash", "commit") if m in modes]
        if busy:
            with ProcessPoolExecutor(crash_workers, mp_context=context) as crash_pool:
                spans: dict[str, float] = {}
                if "crash" in modes:
                    calibrations = {
                        t: crash_pool.submit(calibrate, t, orders, seed * 1000 + 999, restore_rate)
                        for t in order_types
                    }
                    spans = {t: f.result() for t, f in calibrations.items()}
                    for order_type, span in spans.items():
                        print(f"  a full unkilled run of {order_type}: {span:.1f} s", flush=True)
                crashes = {
                    (mode, t): [
                        crash_pool.submit(
                            run_trial,
                            Trial(
                                mode,
                                t,
                                orders,
                                seed * 1000 + i,
                                i,
                                kill_span=spans.get(t, 0.0),
                                restore_rate=restore_rate,
                            ),
                        )
                        for i in range(trials)
                    ]
                    for mode in busy
                    for t in order_types
                }
                for (mode, order_type), group in crashes.items():
                    report(mode, order_type, group)
        for order_type, group in faults.items():
            report("fault", order_type, group)
    total = time.perf_counter() - started
    rows.append(("crash and fault benchmark: wall time", total, "s"))
    print(f"wall time of the whole benchmark: {total:,.0f} s", flush=True)
    return rows


def _arguments(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.crash", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--orders", type=int, help="orders per trial (300; --quick 60)")
    parser.add_argument("--trials", type=int, help="trials per mode and order type (10; --quick 2)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--mode",
        choices=("crash", "commit", "fault", "both", "all"),
        default="all",
        help="both: crash and fault; all (the default): crash, commit and fault",
    )
    parser.add_argument(
        "--order-type", choices=("sales_order", "financial_entry", "both"), default="both"
    )
    parser.add_argument("--quick", action="store_true", help="60 orders, 2 trials")
    parser.add_argument("--rate", type=float, default=FAULT_RATE, help="share of faulted requests")
    parser.add_argument(
        "--crash-workers", type=int, default=3, help="crash and commit trials at once (3)"
    )
    parser.add_argument("--fault-workers", type=int, help="fault trials at once (all)")
    parser.add_argument(
        "--shop-restore-rate",
        type=float,
        default=SHOP_RESTORE_RATE,
        help="the Shopify sandbox's cost points per second (100,000; the demo's: 1,000)",
    )
    return parser.parse_args(argv)


if __name__ == "__main__":
    args = _arguments()
    main(
        args.orders or (60 if args.quick else 300),
        args.trials or (2 if args.quick else 10),
        args.seed,
        modes={"both": ("crash", "fault"), "all": MODES}.get(args.mode, (args.mode,)),
        order_types=ORDER_TYPES if args.order_type == "both" else (args.order_type,),
        rate=args.rate,
        crash_workers=args.crash_workers,
        fault_workers=args.fault_workers,
        restore_rate=args.shop_restore_rate,
    )
