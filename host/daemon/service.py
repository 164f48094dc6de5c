"""`ihost daemon`: every flow on its schedule, webhooks that start flows at once.

Each flow runs in a worker thread; a flow never runs twice at once (nor beside a run of
it in another process: the store's flow lock), and at most `PER_CONNECTION` runs use one
connection together. Open dead letters are retried on their flow's schedule of
`dead_letter_retries` with backoff. A failing run, or a plugin raising anything, is
logged and the daemon goes on. `stop()` asks running flows to finish the record they are
writing and waits for them; `reload()` reads the config again.

`stop()` and `reload()` are called from signal handlers (SIGTERM, SIGINT, SIGHUP), which
Python runs in the main thread between two of its steps, wherever it is: in `_tick`
holding `_lock`, in a `threading.Event`'s wait holding the event's own lock, or in another
handler. A handler taking a lock the main thread holds waits for itself forever, so they
take none (nor call anything that does, like `Event.set`): they raise a flag, and the
serving loop, in the main thread between ticks and holding nothing, does the work.

A serving daemon holds one Store, opened when it starts and closed when it stops: its web
routes (host.daemon.web: dashboard, API, /healthz, webhooks) and its dead-letter retries
share it. Each run opens its own.
"""

from __future__ import annotations

import logging
import socket
import threading
import time
from datetime import datetime, timedelta, timezone
from typing import Any

import uvicorn

from host.config import Config, load_config
from host.deadletters import due_letters, retryable
from host.errors import ConfigError, FlowBusy
from host.plugins import Connection, Registry
from host.report import Report
from host.runner import Runner
from host.schedule import Schedule
from host.secrets import redact
from host.store import Store

log = logging.getLogger(__name__)

LOOPBACK = ("127.0.0.1", "localhost", "::1")
PER_CONNECTION = 2
TICK = 0.2  # seconds between looks at the schedule
BUSY_RETRY = timedelta(seconds=5)  # a flow running in another process: look again after
LETTER_CHECK = timedelta(seconds=30)  # how often the dead letters are looked at, at most
GRACE = 3  # seconds the HTTP server waits for requests in flight when stopping


def listen(host: str, port: int) -> socket.socket:
    """A listening socket on host:port, or one clear ConfigError (port in use, bad host)."""
    try:
        family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
        sock = socket.socket(family, kind, proto)
    except (OSError, UnicodeError) as exc:
        raise ConfigError(f"cannot listen on {host}:{port}: {exc}") from None
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.bind(address)
        sock.listen(128)
    except OSError as exc:
        sock.close()
        why = (exc.strerror or str(exc)).lower()
        raise ConfigError(
            f"cannot listen on {host}:{port}: {why} (another ihost, or choose --port)"
        ) from None
    return sock


class Daemon:
    """Runs a config's flows until stopped."""

    def __init__(
        self,
        config_path: str | None,
        registry: Registry,
        *,
        host: str = "127.0.0.1",
        port: int = 8765,
        token: str | None = None,
        run_at_start: bool = True,
        allowed_hosts: tuple[str, ...] = (),
    ) -> None:
        if host not in LOOPBACK and not token:
            raise ConfigError(
                f"listening on {host} needs an access token: set IHOST_DAEMON_TOKEN or --token"
            )
        self.config_path = config_path
        self.registry = registry
        self.host, self.port, self.token = host, port, token
        self.allowed_hosts = allowed_hosts
        self._socket: socket.socket | None = None
        self.config: Config = load_config(config_path, registry)
        # set by stop() and reload(), maybe in a signal handler: plain flags, no lock (see above)
        self._stop_asked = False
        self._reload_asked = False
        self._lock = threading.Lock()
        self._running: dict[str, Runner] = {}
        self._threads: list[threading.Thread] = []
        self._due: dict[str, datetime] = {}
        self._limits: dict[str, threading.Semaphore] = {}
        self._webhook_connections: dict[str, Connection] = {}
        self.last: dict[str, Report] = {}
        self._again: set[str] = set()
        self._waited = 0.0
        self._store: Store | None = None
        self._server: uvicorn.Server | None = None
        self.run_at_start = run_at_start
        self._busy_until: dict[str, datetime] = {}  # flows another process runs
        self._letters_checked = datetime.min.replace(tzinfo=timezone.utc)
        self._schedule_all()

    # --- scheduling -----------------------------------------------------------------------

    def _schedule_all(self) -> None:
        now = datetime.now(timezone.utc)
        self._due = {
            # once at start (unless the flows just ran), then on the schedule
            name: now if self.run_at_start else Schedule.parse(flow.schedule).next_after(now)
            for name, flow in self.config.flows.items()
            if flow.enabled and flow.schedule
        }

    def reload(self) -> None:
        """Read the config again (SIGHUP), at the serving loop's next tick; a bad config
        keeps the old one. Safe in a signal handler: it only raises a flag."""
        self._reload_asked = True

    def _reload(self) -> None:
        try:
            config = load_config(self.config_path, self.registry)
        except ConfigError as exc:
            log.error("reload refused, keeping the running config: %s", "; ".join(exc.problems))
            return
        old_store, store = self._store, self._store
        if old_store is not None and (config.store_url, config.retention_days) != (
            old_store.url,
            old_store.retention_days,
        ):
            try:
                store = Store(config.store_url, config.retention_days)
            except Exception as exc:  # e.g. a PostgreSQL server that does not answer
                log.error("reload refused, keeping the running config: %s", redact(str(exc)))
                return
        with self._lock:
            self.config = config
            for connection in self._webhook_connections.values():
                connection.close()
            self._webhook_connections = {}
            self._store = store
            self._schedule_all()
        if store is not old_store and old_store is not None:
            old_store.close()  # a request on it still finishes: its connection closes after
        log.info("config reloaded: %d flows", len(config.flows))

    def trigger(self, flow: str, records: list[Any] | None = None) -> bool:
        """Start `flow` now (over `records` to retry dead letters) unless it is running;
        False when it already is."""
        with self._lock:
            if flow in self._running or self._stop_asked:
                return False
            runner = Runner(self.config, flow, self.registry)
            self._running[flow] = runner
            # started under the lock: the stopping loop, taking it, sees every run's thread
            self._threads = [t for t in self._threads if t.is_alive()]
            thread = threading.Thread(
                target=self._run, args=(flow, runner, records), name=f"flow-{flow}", daemon=True
            )
            self._threads.append(thread)
            thread.start()
        return True

    def _limit(self, connection: str) -> threading.Semaphore:
        with self._lock:
            return self._limits.setdefault(connection, threading.Semaphore(PER_CONNECTION))

    def _run(self, flow: str, runner: Runner, records: list[Any] | None = None) -> None:
        cfg = self.config.flows[flow]
        ends = sorted({cfg.source, cfg.target})  # always in one order: no deadlock
        try:
            for name in ends:
                self._limit(name).acquire()
            try:
                report = runner.run(records)
                self.last[flow] = report
                self._waited += report.rate_limit_wait
                self._alert(report)
                log.info("%s: %s %s", flow, report.status, report.counts)
            finally:
                for name in ends:
                    self._limit(name).release()
        except FlowBusy as exc:  # a run of it in another process: run it after, once
            log.warning("%s; it runs here again in %d s", exc, BUSY_RETRY.seconds)
            if records is None:  # (dead letters wait for their next turn)
                with self._lock:
                    self._busy_until[flow] = datetime.now(timezone.utc) + BUSY_RETRY
        except Exception:  # a plugin bug must not stop the daemon
            log.exception("flow %s failed", flow)
        finally:
            with self._lock:
                self._running.pop(flow, None)
                again = flow in self._again
                self._again.discard(flow)
            if again:
                self.trigger(flow)

    def _alert(self, report: Report) -> None:
        if self.config.alerts is None:
            return
        from host.alerts import Alerts, alert_for

        alert = alert_for(report)
        if alert is not None:
            Alerts(self.config.alerts).send(alert)

    def _tick(self) -> None:
        now = datetime.now(timezone.utc)
        with self._lock:
            due = [name for name, when in self._due.items() if when <= now]
            again = [name for name, when in self._busy_until.items() if when <= now]
            for name in again:
                del self._busy_until[name]
        for name in due:
            flow = self.config.flows.get(name)
            if flow is None or not flow.schedule:
                continue
            self.trigger(name)
            with self._lock:
                self._due[name] = Schedule.parse(flow.schedule).next_after(now)
        for name in again:
            if name in self.config.flows:
                self.trigger(name)
        if now - self._letters_checked >= self._letter_check():
            self._letters_checked = now
            try:
                self._retry_letters(now)
            except Exception:  # the store away for a moment must not stop the daemon
                log.exception("looking at the dead letters failed")

    def _letter_check(self) -> timedelta:
        """Look at the dead letters every 30 s, or twice per shortest first wait."""
        waits = [f.flow_settings.dead_letter_wait_minutes for f in self.config.flows.values()]
        shortest = timedelta(minutes=min(waits, default=1.0)) / 2
        return max(min(LETTER_CHECK, shortest), timedelta(seconds=TICK))

    def _retry_letters(self, now: datetime) -> None:
        """Retry the open dead letters whose turn has come (flow settings
        dead_letter_retries and dead_letter_wait_minutes), one run per flow."""
        config = self.config
        letters = self.store.list_dead_letters()
        by_flow: dict[str, list[Any]] = {}
        for letter in letters:
            by_flow.setdefault(letter.flow, []).append(letter)
        for name, open_letters in by_flow.items():
            flow = config.flows.get(name)
            if flow is None or not flow.enabled or name in self.running():
                continue
            records = [record for _, record in retryable(due_letters(open_letters, flow, now))]
            if records and self.trigger(name, records):
                log.info("%s: retrying %d dead letter(s)", name, len(records))

    def start_flows_from(self, connection: str, entity: str) -> list[str]:
        """Start now every enabled flow reading `entity` from `connection` (a webhook said it
        changed); a flow running already reads once more when it ends. Returns their names."""
        flows = [
            flow
            for flow, cfg in self.config.flows.items()
            if cfg.enabled and cfg.source == connection and cfg.kind == entity
        ]
        for flow in flows:
            if not self.trigger(flow):
                with self._lock:
                    self._again.add(flow)
        return flows

    # --- what the web side reads ----------------------------------------------------------

    def app(self) -> Any:
        """The daemon's ASGI application (see host.daemon.web)."""
        from host.daemon.web import build_app

        return build_app(self)

    @property
    def store(self) -> Store:
        """The store of the serving daemon (RuntimeError before `serve` opens it)."""
        store = self._store
        if store is None:
            raise RuntimeError("the daemon's store is open only while it serves")
        return store

    @property
    def stopping(self) -> bool:
        """Whether `stop()` was asked."""
        return self._stop_asked

    def next_run(self, name: str) -> datetime | None:
        """When flow `name` runs next on its schedule; None when it has none (or is off)."""
        with self._lock:
            return self._due.get(name)

    def running(self) -> set[str]:
        """The flows running now."""
        with self._lock:
            return set(self._running)

    def rate_limit_waited(self) -> float:
        """Seconds the runs since start spent waiting on remote rate limits."""
        return self._waited

    def webhook_connection(self, name: str) -> Connection:
        """Connection `name` for reading webhooks, made once (until a reload)."""
        with self._lock:
            if name not in self._webhook_connections:
                self._webhook_connections[name] = self.config.connect(name, self.registry)
            return self._webhook_connections[name]

    # --- lifecycle ------------------------------------------------------------------------

    def bind(self) -> None:
        """Take the HTTP port now (ConfigError when it is in use): before anything runs."""
        if self._socket is None:
            self.use_socket(listen(self.host, self.port))

    def use_socket(self, sock: socket.socket) -> None:
        """Serve on a socket already listening (see `listen`)."""
        self._socket = sock
        self.port = sock.getsockname()[1]

    def serve(self) -> None:
        """Run until stop(): the schedule here, the HTTP server in a thread."""
        self.bind()
        self._store = Store(self.config.store_url, self.config.retention_days)
        try:
            self._serve()
        finally:
            with self._lock:
                for connection in self._webhook_connections.values():
                    connection.close()
                self._webhook_connections = {}
                store, self._store = self._store, None
            store.close()

    def _serve(self) -> None:
        aborted = self.store.recover(self.config.flows)
        if aborted:
            log.warning("%d run(s) left running by a process that ended marked aborted", aborted)
        server_config = uvicorn.Config(
            self.app(),
            host=self.host,
            port=self.port,
            log_level="warning",
            access_log=False,
            lifespan="off",
            timeout_graceful_shutdown=GRACE,  # a client that never finishes its request
        )
        self._server = uvicorn.Server(server_config)
        http = threading.Thread(
            target=self._server.run,
            kwargs={"sockets": [self._socket]},
            name="daemon-http",
            daemon=True,
        )
        http.start()
        while not self._stop_asked:
            if self._reload_asked:
                self._reload_asked = False
                try:
                    self._reload()
                except Exception:  # a reload gone wrong must not stop the daemon
                    log.exception("reload failed, keeping the running config")
            self._tick()
            time.sleep(TICK)  # a signal's handler runs meanwhile; this sleep then goes on
        with self._lock:  # trigger() starts no run after this (it sees _stop_asked)
            runners = list(self._running.values())
            threads = list(self._threads)
        for runner in runners:
            runner.stop()
        for thread in threads:
            thread.join()
        self._server.should_exit = True
        http.join(timeout=GRACE + 5)

    def stop(self) -> None:
        """Finish the records being written, then stop (SIGTERM, SIGINT): the serving loop
        asks the running flows to stop within a tick, waits for them, then stops the HTTP
        server. Safe in a signal handler: it only raises a flag."""
        self._stop_asked = True
