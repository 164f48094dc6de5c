"""The daemon's web side: dashboard (Jinja2, no JavaScript), JSON API under /api with its
OpenAPI document (/openapi.json, /docs), /metrics for Prometheus, /healthz and webhooks.

Every route reads the daemon's one store (`Daemon.store`, open while it serves); none opens
its own.

With an access token configured, everything but /healthz, /login and the webhooks (which
carry their own signatures) needs it: `Authorization: Bearer <token>`, `X-Ihost-Token`, or
the cookie the login form sets. No setting, and so no secret, is ever rendered.

The dashboard answers only the host names it is served on (loopback, the address it
listens on, `--allowed-host`), so a page elsewhere cannot reach it by rebinding its own
name to 127.0.0.1; and it refuses a state-changing request whose Origin or Referer is
another site's (cross-site request forgery). Webhooks are exempt: they are signed.
"""

from __future__ import annotations

import hmac
import json
import logging
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlencode, urlsplit

from fastapi import FastAPI, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, PlainTextResponse, RedirectResponse
from fastapi.templating import Jinja2Templates
from fastapi_offline import FastAPIOffline
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, SummaryMetricFamily
from starlette.concurrency import run_in_threadpool

from host import __version__
from host.deadletters import next_retry, retry
from host.errors import ERROR_KINDS, AuthError, FlowBusy
from host.matrix import build_matrix
from host.schedule import Schedule
from host.secrets import redact
from host.store import DeadLetter
from host.vocabulary import ENTITIES

if TYPE_CHECKING:
    from host.daemon.service import Daemon

log = logging.getLogger(__name__)
OPEN = ("/healthz", "/login")
COOKIE = "ihost_token"
SIGNED = "/webhooks/"  # checked by their signatures, reached through proxies by any name
UNSAFE_METHODS = {"POST", "PUT", "PATCH", "DELETE"}
WILDCARDS = ("0.0.0.0", "::", "")


def _shown(value: Any) -> str:
    """A payload as indented JSON, its strings' line breaks as line breaks (a GraphQL
    query reads as a query), any secret in it blanked."""
    text = json.dumps(value, indent=2, ensure_ascii=False, default=str)
    return redact(text).replace("\\n", "\n")


def _inline(value: Any) -> str:
    """A value as compact JSON on one line, any secret in it blanked."""
    return redact(json.dumps(value, ensure_ascii=False, default=str))


def _without_secrets(value: Any) -> Any:
    """`value` (JSON-able) with any secret in it blanked."""
    return json.loads(redact(json.dumps(value, default=str)))


TEMPLATES = Jinja2Templates(directory=str(Path(__file__).parent / "templates"))
TEMPLATES.env.filters["shown"] = _shown
TEMPLATES.env.filters["inline"] = _inline
TEMPLATES.env.globals["cookie"] = COOKIE


LETTER_STATUSES = ("open", "resolved", "all")
#: runs on a page of /runs; the most /api/runs answers at once
PAGE, MAX_PAGE = 50, 500
RUN_STATUSES = ("running", "ok", "failed", "aborted", "stopped")


def _explained(pair: dict[str, Any], pairs: dict[tuple[str, str], Any]) -> bool:
    """Whether an unsupported pair is worth its line: one side can do the flow with another
    connector, or a connector says why it cannot (not every pair of strangers)."""
    reads = any(p["status"] != "unsupported" for (s, _), p in pairs.items() if s == pair["source"])
    writes = any(p["status"] != "unsupported" for (_, t), p in pairs.items() if t == pair["target"])
    return (reads or writes) and any(": " in note for note in pair["notes"])


def _paging(found: list[Any], filters: dict[str, str], offset: int) -> dict[str, Any]:
    """What a paged page's links need: its filters as a query, where it starts, whether
    there is more (`found` holds one row past the page)."""
    query = urlencode({k: v for k, v in filters.items() if v})
    return {"query": query, "offset": offset, "page": PAGE, "more": len(found) > PAGE}


def _utc(moment: datetime | None) -> datetime | None:
    """A moment in UTC; one without a zone is taken as UTC."""
    if moment is None or moment.tzinfo is not None:
        return moment
    return moment.replace(tzinfo=timezone.utc)


def _day(value: str | None) -> datetime | None:
    """The start (UTC) of day `value` (YYYY-MM-DD); None for none."""
    return datetime.fromisoformat(value).replace(tzinfo=timezone.utc) if value else None


#: how late a scheduled run may be before the flows page says it has not run
LATE = timedelta(minutes=2)


def _age(seconds: float) -> str:
    """ "40 s", "12 min", "5 h", "3 days"."""
    for size, unit in ((86_400, "days"), (3_600, "h"), (60, "min")):
        if seconds >= size:
            return f"{int(seconds // size)} {unit}"
    return f"{int(seconds)} s"


def _needs_a_person(
    flow: Any, last: dict[str, Any] | None, letters: list[DeadLetter], running: bool, now: datetime
) -> list[str]:
    """Why a flow needs a person, one line each; none when it does not: open dead letters
    (with the oldest's age), a last run that failed or stopped, a scheduled run that did
    not happen."""
    found = []
    if letters:
        oldest = min(d.created_at for d in letters)
        count = f"{len(letters)} open dead letter" + ("s" if len(letters) > 1 else "")
        found.append(f"{count}, the oldest {_age((now - oldest).total_seconds())} old")
    if last is not None and last["status"] in ("failed", "aborted", "stopped"):
        found.append(f"its last run {last['status']}")
    if flow.enabled and flow.schedule and last is not None and not running:
        due = Schedule.parse(flow.schedule).next_after(last["started_at"])
        if due + LATE < now:
            late = _age((now - due).total_seconds())
            found.append(f"has not run when it should have: due {late} ago")
    return found


def _without_payload(letter: DeadLetter) -> dict[str, Any]:
    """A dead letter for the API: everything but the record it holds."""
    return {k: v for k, v in vars(letter).items() if k != "payload"}


def _who(request: Request) -> str:
    """Who acts, as far as the dashboard knows: one token, so the way and the address."""
    way = "the API" if request.url.path.startswith("/api/") else "the dashboard"
    address = request.client.host if request.client else "?"
    return f"{way}, from {address}"


def host_names(daemon: Daemon) -> set[str] | None:
    """The host names the dashboard answers (None: any, when it listens on every address
    with no --allowed-host; its token guards it then)."""
    if daemon.host in WILDCARDS and not daemon.allowed_hosts:
        return None
    names = {"127.0.0.1", "localhost", "::1", daemon.host, *daemon.allowed_hosts}
    return {name.lower().strip("[]") for name in names}


def _name(authority: str) -> str:
    """The host name of `host[:port]` or `[v6]:port`, lower case."""
    authority = authority.strip().lower()
    if authority.startswith("["):
        return authority[1 : authority.find("]")]
    return authority.rsplit(":", 1)[0] if authority.count(":") == 1 else authority


def build_app(daemon: Daemon) -> FastAPI:
    """The FastAPI application of one daemon."""
    app = FastAPIOffline(  # /docs with Swagger UI's files served here: no CDN, works offline
        title="ihost",
        version=__version__,
        description="Flows, runs, dead letters and the compatibility matrix.",
    )

    names = host_names(daemon)

    @app.middleware("http")
    async def require_token(request: Request, call_next: Any) -> Any:
        path = request.url.path
        if daemon.token and path not in OPEN and not path.startswith("/webhooks/"):
            given = (
                request.headers.get("x-ihost-token")
                or request.headers.get("authorization", "").removeprefix("Bearer ")
                or request.cookies.get(COOKIE, "")
            )
            if not hmac.compare_digest(given.encode(), daemon.token.encode()):
                if path.startswith(("/api", "/metrics", "/openapi.json", "/docs")):
                    return JSONResponse({"detail": "an access token is required"}, status_code=401)
                return RedirectResponse("/login", status_code=303)
        return await call_next(request)

    @app.middleware("http")
    async def same_site_only(request: Request, call_next: Any) -> Any:
        path = request.url.path
        if path.startswith(SIGNED) or path == "/healthz":
            return await call_next(request)
        host = request.headers.get("host", "")
        if names is not None and _name(host) not in names:
            return PlainTextResponse(f"unknown host {host!r}", status_code=400)
        if request.method in UNSAFE_METHODS:
            origin = request.headers.get("origin")
            source = origin or request.headers.get("referer")
            if source is not None and (
                origin == "null" or urlsplit(source).netloc.lower() != host.lower()
            ):
                return PlainTextResponse(
                    "refused: the request comes from another site", status_code=403
                )
        return await call_next(request)

    # --- health and webhooks (open: no token, any host name) ------------------------------

    @app.get("/healthz", include_in_schema=False)
    def health() -> dict[str, Any]:
        return {
            "status": "stopping" if daemon.stopping else "ok",
            "flows": len(daemon.config.flows),
            "running": sorted(daemon.running()),
        }

    def accept_webhook(name: str, headers: dict[str, str], body: bytes) -> JSONResponse:
        """Check a webhook's signature with its connector, drop a duplicate delivery, and
        start the flows reading what it says changed."""
        if name not in daemon.config.connections:
            return JSONResponse({"error": f"no connection {name}"}, status_code=404)
        connection = daemon.webhook_connection(name)
        try:
            event = connection.hook.parse_webhook(headers=headers, body=body)
        except AuthError:
            return JSONResponse({"error": "signature does not match"}, status_code=401)
        except Exception as exc:  # signed, but not a body the connector can read
            log.warning("webhook to %s refused: %s (%d bytes)", name, type(exc).__name__, len(body))
            return JSONResponse(
                {"error": f"the body is not a webhook {connection.info.name} sends"},
                status_code=400,
            )
        if event is None:
            return JSONResponse({"status": "ignored"}, status_code=202)
        if event.event_id and not daemon.store.first_delivery(name, event.event_id):
            return JSONResponse({"status": "duplicate"}, status_code=200)
        flows = daemon.start_flows_from(name, event.entity)
        return JSONResponse({"status": "accepted", "flows": flows}, status_code=202)

    @app.post("/webhooks/{connection}", include_in_schema=False)
    async def webhook(connection: str, request: Request) -> JSONResponse:
        body = await request.body()
        # the connector's check and the store's write block: off the event loop
        return await run_in_threadpool(accept_webhook, connection, dict(request.headers), body)

    # --- what the pages and the API share -------------------------------------------------

    def flows() -> list[dict[str, Any]]:
        db = daemon.store
        rows: list[dict[str, Any]] = []
        now = datetime.now(timezone.utc)
        letters: dict[str, list[DeadLetter]] = {}
        for letter in db.list_dead_letters():
            letters.setdefault(letter.flow, []).append(letter)
        running = daemon.running()
        for name, flow in daemon.config.flows.items():
            runs = db.list_runs(name, limit=1)
            last = runs[0] if runs else None
            status = "running" if name in running else (last["status"] if last else "never run")
            open_letters = letters.get(name, [])
            attention = _needs_a_person(flow, last, open_letters, name in running, now)
            rows.append(
                {
                    "name": name,
                    "kind": flow.kind,
                    "source": flow.source,
                    "target": flow.target,
                    "schedule": flow.schedule,
                    "enabled": flow.enabled,
                    "status": status,
                    "last": last,
                    "open_letters": len(open_letters),
                    "oldest_letter": min((d.created_at for d in open_letters), default=None),
                    "next_run": daemon.next_run(name),
                    "attention": attention,
                    "letter_retries": flow.flow_settings.dead_letter_retries,
                    "letter_wait": flow.flow_settings.dead_letter_wait_minutes,
                }
            )
        return rows

    def run_detail(run_id: int) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        db = daemon.store
        run = db.get_run(run_id)
        if run is None:
            raise HTTPException(404, f"no run {run_id}")
        events = list(reversed(db.list_events(run_id=run_id, limit=100_000)))
        for event in events:
            event.pop("payload", None)
        return run, events

    def story(
        q: str | None, flow: str | None, limit: int, offset: int
    ) -> tuple[list[dict[str, Any]], list[DeadLetter], list[dict[str, Any]]]:
        """What runs did with the record whose key, order number or target id is `q`, in
        the order it happened: record-log entries, its dead letters, its activity-log lines.
        Without `q`, the latest records, newest first."""
        db = daemon.store
        search = (q or "").strip() or None
        found = db.list_record_entries(
            search=search,
            flow=flow or None,
            limit=limit,
            offset=offset,
            oldest_first=search is not None,
        )
        if search is None:
            return found, [], []
        # the record as searched, in any flow; the records found by it, in their own flow
        pairs = {(None, search)} | {(e["flow"], e["record_key"]) for e in found}
        letters: dict[int, DeadLetter] = {}
        events: dict[int, dict[str, Any]] = {}
        for flow_name, key in pairs:
            for letter in db.list_dead_letters(None, flow_name, record_key=key):
                letters[letter.id] = letter
            for event in db.list_events(flow_name, limit=200, record_key=key):
                event.pop("payload", None)
                events[event["id"]] = event
        return (
            found,
            sorted(letters.values(), key=lambda d: d.id),
            sorted(events.values(), key=lambda e: e["id"]),
        )

    def next_retry_of(letter: DeadLetter) -> Any:
        """When the daemon retries `letter` by itself (None: it will not)."""
        flow = daemon.config.flows.get(letter.flow)
        return next_retry(letter, flow) if flow is not None else None

    def letter_action(letter_id: int, action: str, who: str) -> str:
        db = daemon.store
        letter = db.get_dead_letter(letter_id)
        if letter is None:
            raise HTTPException(404, f"no dead letter {letter_id}")
        if action == "resolve":
            db.resolve_dead_letters(letter_id=letter_id, by=f"resolved by hand: {who}")
            return f"dead letter {letter_id}: resolved"
        try:
            (outcome,) = retry(daemon.config, daemon.registry, db, [letter])
        except (FlowBusy, RuntimeError) as exc:  # running elsewhere; remote unreachable
            return f"dead letter {letter_id}: not retried: {redact(str(exc))}"
        return f"dead letter {letter_id}: {outcome.message}"

    # --- pages ----------------------------------------------------------------------------

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    def page_flows(request: Request) -> Any:
        return TEMPLATES.TemplateResponse(
            request, "flows.html", {"title": "Flows", "flows": flows()}
        )

    @app.post("/flows/{name}/run", include_in_schema=False)
    def page_run_now(name: str) -> Any:
        if name not in daemon.config.flows:
            raise HTTPException(404, f"no flow {name}")
        daemon.trigger(name)
        return RedirectResponse("/", status_code=303)

    def runs_page(
        flow: str | None,
        status: str | None,
        since: datetime | None,
        until: datetime | None,
        limit: int,
        offset: int,
    ) -> list[dict[str, Any]]:
        return daemon.store.list_runs(
            flow or None,
            limit,
            offset=offset,
            status=status or None,
            since=_utc(since),
            until=_utc(until),
        )

    @app.get("/runs", response_class=HTMLResponse, include_in_schema=False)
    def page_runs(
        request: Request,
        flow: str | None = None,
        status: str | None = None,
        since: str | None = None,
        until: str | None = None,
        offset: int = Query(0, ge=0),
    ) -> Any:
        try:
            start, end = (_day(value) for value in (since, until))
        except ValueError:
            raise HTTPException(400, "since and until are days: YYYY-MM-DD") from None
        found = runs_page(flow, status, start, end, PAGE + 1, offset)
        filters = {"flow": flow or "", "status": status or "", "since": since or ""}
        filters["until"] = until or ""
        return TEMPLATES.TemplateResponse(
            request,
            "runs.html",
            {
                "title": "Runs",
                "runs": found[:PAGE],
                "flows": sorted(daemon.config.flows),
                "statuses": RUN_STATUSES,
                "filters": filters,
                **_paging(found, filters, offset),
            },
        )

    @app.get("/runs/{run_id}", response_class=HTMLResponse, include_in_schema=False)
    def page_run(request: Request, run_id: int) -> Any:
        run, events = run_detail(run_id)
        found = daemon.store.list_record_entries(run_id=run_id, limit=MAX_PAGE)
        return TEMPLATES.TemplateResponse(
            request,
            "run.html",
            {
                "title": f"Run {run_id} of {run['flow']}",
                "run": run,
                "events": events,
                "entries": found,
                "max_entries": MAX_PAGE,
            },
        )

    @app.get("/records", response_class=HTMLResponse, include_in_schema=False)
    def page_records(
        request: Request,
        q: str | None = None,
        flow: str | None = None,
        offset: int = Query(0, ge=0),
    ) -> Any:
        found, letters, events = story(q, flow, PAGE + 1, offset)
        filters = {"q": (q or "").strip(), "flow": flow or ""}
        return TEMPLATES.TemplateResponse(
            request,
            "records.html",
            {
                "title": "Records",
                "q": filters["q"],
                "flow": filters["flow"],
                "flows": sorted(daemon.config.flows),
                "found": found[:PAGE],
                "letters": letters,
                "events": events,
                **_paging(found, filters, offset),
            },
        )

    @app.get("/deadletters", response_class=HTMLResponse, include_in_schema=False)
    def page_letters(
        request: Request,
        message: str | None = None,
        flow: str | None = None,
        status: str = "open",
        older_than: str | None = None,  # the form sends "" when the field is left empty
        kind: str | None = None,
    ) -> Any:
        try:
            hours = float(older_than) if older_than else None
        except ValueError:
            hours = -1.0
        if hours is not None and not hours >= 0:
            raise HTTPException(400, "older_than is a number of hours, 0 or more")
        letters = filtered_letters(flow, status, hours, kind)
        upcoming = {d.id: next_retry_of(d) for d in letters}
        return TEMPLATES.TemplateResponse(
            request,
            "deadletters.html",
            {
                "title": "Dead letters",
                "letters": letters,
                "message": message,
                "next_retry": upcoming,
                "flows": sorted(daemon.config.flows),
                "kinds": ERROR_KINDS,
                "filters": {
                    "flow": flow or "",
                    "status": status,
                    "older_than": hours,
                    "kind": kind or "",
                },
            },
        )

    def filtered_letters(
        flow: str | None, status: str, older_than: float | None, kind: str | None = None
    ) -> list[DeadLetter]:
        if status not in LETTER_STATUSES:
            raise HTTPException(400, f"status is one of {', '.join(LETTER_STATUSES)}")
        if kind and kind not in ERROR_KINDS:
            raise HTTPException(400, f"kind is one of {', '.join(ERROR_KINDS)}")
        letters = daemon.store.list_dead_letters(
            status=None if status == "all" else status, flow=flow or None, kind=kind or None
        )
        if older_than:
            oldest = datetime.now(timezone.utc) - timedelta(hours=older_than)
            letters = [d for d in letters if d.created_at <= oldest]
        return letters

    @app.post("/deadletters/bulk", include_in_schema=False)
    async def page_letters_bulk(request: Request) -> Any:
        form = parse_qs((await request.body()).decode())
        action = (form.get("action") or [""])[0]
        if action not in ("retry", "resolve"):
            raise HTTPException(400, "action is retry or resolve")
        ids = [int(value) for value in form.get("id", []) if value.isdigit()]
        if not ids:
            message = "no dead letter was chosen"
        else:
            who = _who(request)
            done = [await run_in_threadpool(letter_action, i, action, who) for i in ids]
            message = "; ".join(done)
        return RedirectResponse(f"/deadletters?{urlencode({'message': message})}", 303)

    @app.post("/deadletters/{letter_id}/{action}", include_in_schema=False)
    def page_letter_action(request: Request, letter_id: int, action: str) -> Any:
        if action not in ("retry", "resolve"):
            raise HTTPException(404)
        message = letter_action(letter_id, action, _who(request))
        return RedirectResponse(f"/deadletters?message={message}", status_code=303)

    def feedback() -> list[dict[str, Any]]:
        pairs = [(f.source, f.target) for f in daemon.config.flows.values() if f.kind == "feedback"]
        return daemon.store.list_feedback(pairs)

    @app.get("/feedback", response_class=HTMLResponse, include_in_schema=False)
    def page_feedback(request: Request) -> Any:
        return TEMPLATES.TemplateResponse(
            request, "feedback.html", {"title": "Feedback", "feedback": feedback()}
        )

    @app.get("/matrix", response_class=HTMLResponse, include_in_schema=False)
    def page_matrix(request: Request) -> Any:
        data = build_matrix(list(daemon.registry))
        names = [p["name"] for p in data["plugins"] if p["error"] is None]
        tables = []
        for kind in ENTITIES:
            pairs = {(p["source"], p["target"]): p for p in data["pairs"] if p["flow"] == kind}
            notes = [p for p in pairs.values() if p["status"] == "partial"]
            notes += [
                p for p in pairs.values() if p["status"] == "unsupported" and _explained(p, pairs)
            ]
            tables.append({"flow": kind, "pairs": pairs, "notes": notes})
        return TEMPLATES.TemplateResponse(
            request, "matrix.html", {"title": "Matrix", "names": names, "tables": tables}
        )

    @app.get("/login", response_class=HTMLResponse, include_in_schema=False)
    def page_login(request: Request) -> Any:
        return TEMPLATES.TemplateResponse(
            request, "login.html", {"title": "Sign in", "failed": False}
        )

    @app.post("/logout", include_in_schema=False)
    def page_sign_out() -> Any:
        response = RedirectResponse("/login", status_code=303)
        response.delete_cookie(COOKIE, httponly=True, samesite="strict")
        return response

    @app.post("/login", include_in_schema=False)
    async def page_sign_in(request: Request) -> Any:
        form = parse_qs((await request.body()).decode())
        given = (form.get("token") or [""])[0]
        if daemon.token and hmac.compare_digest(given.encode(), daemon.token.encode()):
            response = RedirectResponse("/", status_code=303)
            response.set_cookie(COOKIE, given, httponly=True, samesite="strict")
            return response
        return TEMPLATES.TemplateResponse(
            request, "login.html", {"title": "Sign in", "failed": True}, status_code=401
        )

    # --- JSON API -------------------------------------------------------------------------

    @app.get("/api/flows", tags=["flows"])
    def api_flows() -> list[dict[str, Any]]:
        """Every flow with its schedule, status and last run."""
        return flows()

    @app.post("/api/flows/{name}/run", tags=["flows"])
    def api_run_now(name: str) -> dict[str, Any]:
        """Start a flow now (unless it is running)."""
        if name not in daemon.config.flows:
            raise HTTPException(404, f"no flow {name}")
        return {"flow": name, "started": daemon.trigger(name)}

    @app.get("/api/runs", tags=["runs"])
    def api_runs(
        flow: str | None = None,
        status: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        limit: int = Query(20, ge=1, le=MAX_PAGE),
        offset: int = Query(0, ge=0),
    ) -> list[dict[str, Any]]:
        """Runs, newest first, a page at a time (`limit` after `offset`): of one flow, with
        one status (ok, failed, aborted, stopped, running), started from `since` and before
        `until` (ISO 8601; a time without a zone is UTC)."""
        return runs_page(flow, status, since, until, limit, offset)

    @app.get("/api/runs/{run_id}", tags=["runs"])
    def api_run(run_id: int) -> dict[str, Any]:
        """One run and what it did to each record."""
        run, events = run_detail(run_id)
        return {**run, "events": events}

    @app.get("/api/records", tags=["records"])
    def api_records(
        q: str | None = None,
        flow: str | None = None,
        run_id: int | None = None,
        limit: int = Query(20, ge=1, le=MAX_PAGE),
        offset: int = Query(0, ge=0),
    ) -> dict[str, Any]:
        """What runs did with records, newest first: with `q`, the record whose key, order
        number or target id it is (its record-log entries, dead letters and activity-log
        lines); else the latest, of one flow or run. Each entry holds what was read, what
        it was mapped to, the calls sent with the target's answers (secrets blanked) and
        the fields an update changed, until retention_days purges them."""
        if run_id is not None:
            found = daemon.store.list_record_entries(run_id=run_id, limit=limit, offset=offset)
            return {"entries": _without_secrets(found), "dead_letters": [], "events": []}
        found, letters, events = story(q, flow, limit, offset)
        public = [_without_payload(d) for d in letters]
        return _without_secrets({"entries": found, "dead_letters": public, "events": events})

    @app.get("/api/deadletters", tags=["dead letters"])
    def api_letters(
        all: bool = False,
        flow: str | None = None,
        status: str | None = None,
        older_than: float | None = Query(None, ge=0),
        kind: str | None = None,
    ) -> list[dict[str, Any]]:
        """Dead letters without their payloads: open ones, unless all=true or status
        (open, resolved, all); of one flow; first failed at least `older_than` hours ago;
        of one error kind (invalid, refused, unavailable, unsupported, error)."""
        letters = filtered_letters(flow, status or ("all" if all else "open"), older_than, kind)
        return [
            {
                **_without_payload(d),
                "next_retry": next_retry_of(d),
            }
            for d in letters
        ]

    @app.post("/api/deadletters/{letter_id}/retry", tags=["dead letters"])
    def api_retry(request: Request, letter_id: int) -> dict[str, str]:
        """Write the record again; resolved when it goes through."""
        return {"result": letter_action(letter_id, "retry", _who(request))}

    @app.post("/api/deadletters/{letter_id}/resolve", tags=["dead letters"])
    def api_resolve(request: Request, letter_id: int) -> dict[str, str]:
        """Close a dead letter without writing it."""
        return {"result": letter_action(letter_id, "resolve", _who(request))}

    @app.get("/api/feedback", tags=["feedback"])
    def api_feedback() -> list[dict[str, Any]]:
        """Each order's latest feedback (status, F100 score, grade), newest first."""
        return feedback()

    @app.get("/api/matrix", tags=["plugins"])
    def api_matrix() -> dict[str, Any]:
        """The compatibility matrix of the installed plugins."""
        return build_matrix(list(daemon.registry))

    @app.get("/metrics", response_class=PlainTextResponse, include_in_schema=False)
    def metrics() -> Any:
        registry = CollectorRegistry()
        db = daemon.store
        registry.register(
            _Collector(
                db.list_runs(limit=100_000),
                len(db.list_dead_letters()),
                daemon.rate_limit_waited(),
            )
        )
        text = generate_latest(registry)
        return PlainTextResponse(text, media_type="text/plain; version=0.0.4")

    return app


class _Collector:
    """The daemon's figures, from the store's runs."""

    def __init__(self, runs: list[dict[str, Any]], open_letters: int, waited: float) -> None:
        self.runs, self.open_letters, self.waited = runs, open_letters, waited

    def collect(self) -> Iterator[Any]:
        records = CounterMetricFamily(
            "ihost_records", "Records by flow and action", labels=["flow", "action"]
        )
        totals: dict[tuple[str, str], int] = {}
        durations = SummaryMetricFamily(
            "ihost_run_duration_seconds", "Run durations", labels=["flow"]
        )
        spent: dict[str, list[float]] = {}
        for run in self.runs:
            if run["dry_run"]:
                continue
            for action, count in (run["counts"] or {}).items():
                totals[(run["flow"], action)] = totals.get((run["flow"], action), 0) + count
            if run["finished_at"] is not None:
                seconds = (run["finished_at"] - run["started_at"]).total_seconds()
                spent.setdefault(run["flow"], []).append(seconds)
        for (flow, action), count in sorted(totals.items()):
            records.add_metric([flow, action], count)
        for flow, values in sorted(spent.items()):
            durations.add_metric([flow], count_value=len(values), sum_value=sum(values))
        yield records
        yield durations
        yield GaugeMetricFamily(
            "ihost_dead_letters_open", "Open dead letters", value=self.open_letters
        )
        yield CounterMetricFamily(
            "ihost_rate_limit_wait_seconds",
            "Time spent waiting on remote rate limits",
            value=self.waited,
        )
