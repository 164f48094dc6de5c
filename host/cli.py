"""The `ihost` command (DESIGN §6).

Exit codes: 0 ok, 1 records failed, 2 usage or configuration error, 3 remote
unreachable or unauthorised. Errors are one line on stderr, never a traceback
(set IHOST_DEBUG=1 to see one for an internal error).
"""

from __future__ import annotations

import inspect
import json
import logging
import os
import re
import sys
import threading
import time
from pathlib import Path
from typing import Any

import click
from pydantic import BaseModel, SecretStr
from rich.console import Console
from rich.table import Table

from host import __version__
from host.config import Config, load_config
from host.errors import ConfigError, IntegrationError
from host.matrix import build_matrix, render_html, render_markdown
from host.plugins import PluginInfo, Registry, discover, package_for, sandbox_class
from host.secrets import RedactingFormatter, redact

FORMATS_ABOUT = ("text", "json", "markdown")
PROGRESS_EVERY = 5.0  # seconds between progress lines when stderr is not a terminal
FORMATS_MATRIX = ("text", "markdown", "json", "html")


class Context:
    """What every command shares: the config path and the plugin registry (loaded once)."""

    def __init__(self, config: str | None) -> None:
        self.config_option = config
        self._registry: Registry | None = None

    @property
    def registry(self) -> Registry:
        if self._registry is None:
            self._registry = discover()
        return self._registry

    def config(self) -> Config:
        return load_config(self.config_option, self.registry)

    def plugin(self, name: str) -> PluginInfo:
        info = self.registry.get(name)
        if info is None:
            installed = ", ".join(p.name for p in self.registry) or "none"
            raise ConfigError(
                f"no plugin {name!r} is installed; install it with: pip install "
                f"{package_for(name)} (installed: {installed})"
            )
        return info


def _log_thread_crash(args: threading.ExceptHookArgs) -> None:
    """An exception that ends a thread goes through the (redacting) log, not raw stderr."""
    logging.getLogger("ihost").error(
        "thread %s stopped",
        args.thread.name if args.thread else "?",
        exc_info=(args.exc_type, args.exc_value, args.exc_traceback),  # type: ignore[arg-type]
    )


def _setup_logging(verbose: int) -> None:
    threading.excepthook = _log_thread_crash
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(RedactingFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.WARNING - 10 * min(verbose, 2))
    # their lines drown ours; httpx's would show query values that host.http hides
    for chatty in ("httpcore", "httpx", "stevedore", "uvicorn"):
        logging.getLogger(chatty).setLevel(logging.INFO if verbose > 2 else logging.WARNING)


def _echo_json(data: Any) -> None:
    click.echo(redact(json.dumps(data, indent=2, default=str)))


def _show(table: Table) -> None:
    """A table on a terminal; elsewhere plain aligned lines at full width, never wrapped."""
    if sys.stdout.isatty():
        Console().print(table)
        return
    table.box = None
    table.show_edge = False
    Console(width=100_000, soft_wrap=True).print(table)


def _show_markdown(text: str) -> None:
    """Markdown rendered on a terminal; the Markdown itself elsewhere."""
    if sys.stdout.isatty():
        from rich.markdown import Markdown

        Console().print(Markdown(text))
    else:
        click.echo(text)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "-c",
    "--config",
    "config",
    metavar="FILE",
    help="Config file (default: $IHOST_CONFIG, else ./ihost.toml).",
)
@click.option(
    "-v", "--verbose", count=True, help="More log output (-vv debug, -vvv with libraries)."
)
@click.version_option(__version__, prog_name="ihost")
@click.pass_context
def cli(ctx: click.Context, config: str | None, verbose: int) -> None:
    """ihost: keep orders, customers, products, stock, shipments and refunds in sync."""
    _setup_logging(verbose)
    ctx.obj = Context(config)


# --- plugins and capabilities -------------------------------------------------------------


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@click.pass_obj
def plugins(obj: Context, as_json: bool) -> None:
    """List the installed connector plugins, their capabilities and hooks."""
    infos = list(obj.registry)
    if as_json:
        _echo_json({"plugins": [p.as_dict() for p in infos]})
        return
    if not infos:
        click.echo("No plugins installed. Install a connector, e.g. pip install ihost-shopify")
        return
    table = Table("name", "title", "version", "reads", "writes", "status")
    for info in infos:
        caps = info.capabilities
        if info.error:
            status = f"[red]error: {info.error}[/red]"
        elif info.problems:
            status = "[yellow]" + "; ".join(info.problems) + "[/yellow]"
        else:
            status = "ok"
        table.add_row(
            info.name,
            info.title,
            info.version or "",
            ", ".join(sorted(caps.reads)) if caps else "",
            ", ".join(sorted(caps.writes)) if caps else "",
            status,
        )
    _show(table)


_QUALIFIER = re.compile(r"\b[a-z_][\w]*\.(?=[A-Za-z_])")


def _settings_fields(model: type[BaseModel] | None) -> list[dict[str, Any]]:
    if model is None:
        return []
    fields = []
    for name, field in model.model_fields.items():
        secret = "SecretStr" in str(field.annotation)
        default = None if field.is_required() else field.get_default(call_default_factory=True)
        if isinstance(default, SecretStr) or (secret and default):
            default = "***"
        annotation = field.annotation
        type_name = getattr(annotation, "__name__", None) or _QUALIFIER.sub("", str(annotation))
        fields.append(
            {
                "name": field.alias or name,
                "type": type_name,
                "required": field.is_required(),
                "default": default,
                "secret": secret,
                "description": field.description or "",
            }
        )
    return fields


def _about(info: PluginInfo) -> dict[str, Any]:
    about = info.as_dict()
    about["description"] = inspect.cleandoc(info.cls.__doc__ or "") if info.cls else ""
    about["settings"] = _settings_fields(info.settings_model)
    return about


@cli.command()
@click.argument("plugin")
@click.option("--format", "fmt", type=click.Choice(FORMATS_ABOUT), default="text")
@click.pass_obj
def about(obj: Context, plugin: str, fmt: str) -> None:
    """Describe one plugin: capabilities, hooks and settings."""
    info = _about(obj.plugin(plugin))
    if fmt == "json":
        _echo_json(info)
        return
    text = _about_markdown(info)
    if fmt == "markdown":
        click.echo(text)
    else:
        _show_markdown(text)


def _about_markdown(info: dict[str, Any]) -> str:
    lines = [f"# {info['title']} (`{info['name']}`)", ""]
    if info["description"]:
        lines += [info["description"], ""]
    lines.append(f"Distribution: {info['distribution']} {info['version'] or ''}".rstrip())
    lines.append("")
    if info["error"]:
        return "\n".join([*lines, f"**Failed to load:** {info['error']}", ""])
    lines += ["## Capabilities", "", "| capability | value |", "|---|---|"]
    for key, value in info["capabilities"].items():
        shown = ", ".join(value) if isinstance(value, list) else value
        lines.append(f"| {key} | {'' if shown is None else shown} |")
    lines += ["", "## Hooks", "", ", ".join(info["hooks"]) or "none", ""]
    if info["problems"]:
        lines += ["## Contract problems", "", *[f"- {p}" for p in info["problems"]], ""]
    lines += ["## Settings", "", "| key | type | required | default | description |"]
    lines.append("|---|---|---|---|---|")
    for s in info["settings"]:
        default = "" if s["default"] is None else f"`{s['default']}`"
        secret = " (secret: use `${VAR}`)" if s["secret"] else ""
        type_cell = s["type"].replace("|", "\\|")  # a bare | would end the cell
        lines.append(
            f"| {s['name']} | {type_cell} | {'yes' if s['required'] else 'no'} | {default} "
            f"| {s['description']}{secret} |"
        )
    return "\n".join(lines) + "\n"


@cli.command()
@click.option("--format", "fmt", type=click.Choice(FORMATS_MATRIX), default="text")
@click.pass_obj
def matrix(obj: Context, fmt: str) -> None:
    """Show which flows can run between the installed plugins, and what is lost."""
    data = build_matrix(list(obj.registry))
    if fmt == "json":
        _echo_json(data)
    elif fmt == "html":
        click.echo(render_html(data))
    elif fmt == "markdown":
        click.echo(render_markdown(data))
    else:
        _show_markdown(render_markdown(data))


# --- connections and config ---------------------------------------------------------------


@cli.command()
@click.argument("connection")
@click.pass_obj
def check(obj: Context, connection: str) -> None:
    """Check that CONNECTION's remote answers and accepts the credentials."""
    config = obj.config()
    with config.connect(connection, obj.registry) as conn:
        label = f"{connection} ({conn.info.name})"
        started = time.perf_counter()
        try:
            conn.hook.check_connection()
        except ConfigError:
            raise
        except IntegrationError as exc:
            raise _CheckFailed(f"{label}: {exc}") from None
        elapsed = time.perf_counter() - started
    click.echo(f"{label}: ok ({elapsed:.2f}s)")


def _no_flow(config: Config, flow: str) -> ConfigError:
    known = ", ".join(config.flows) or "none"
    return ConfigError(f"{config.path.name}: no flow {flow!r} (configured: {known})")


class _CheckFailed(IntegrationError):
    """Any failure of a connection check means: unreachable or unauthorised (exit 3)."""

    exit_code = 3


@cli.command(name="auth")
@click.argument("connection", required=False)
@click.option("--open", "open_browser", is_flag=True, help="Also open the URL in a browser.")
@click.option(
    "--timeout",
    type=click.FloatRange(min=1),
    default=300,
    show_default=True,
    help="Seconds to wait for the redirect.",
)
@click.option(
    "--paste",
    is_flag=True,
    help="Paste the address the browser was sent to (an HTTPS redirect URI ihost cannot "
    "listen on).",
)
@click.option("--new-key", is_flag=True, help="Print a new key for IHOST_SECRET_KEY and stop.")
@click.pass_obj
def auth_command(
    obj: Context,
    connection: str | None,
    open_browser: bool,
    timeout: float,
    paste: bool,
    new_key: bool,
) -> None:
    """Authorize CONNECTION with its remote (OAuth2 authorization code) and store its tokens.

    Prints the URL to open in a browser; the remote sends the browser back to 127.0.0.1,
    where ihost takes the code and exchanges it for tokens (with --paste, you paste the
    address the browser was sent to). They are stored in the store, encrypted with the
    key in $IHOST_SECRET_KEY (`ihost auth --new-key` makes one)."""
    from host.authorize import authorize
    from host.tokens import new_key as make_key

    if new_key:
        click.echo(make_key())
        return
    if connection is None:
        raise click.UsageError("give the CONNECTION to authorize (or --new-key)")
    config = obj.config()
    with config.connect(connection, obj.registry) as conn:
        flow = conn.hook.oauth2_flow()
        if flow is None:
            raise ConfigError(
                f"{connection} ({conn.info.name}) does not sign in with OAuth2 authorization "
                "code: it needs no `ihost auth`"
            )
        authorize(
            flow,
            connection,
            say=click.echo,
            timeout=timeout,
            open_browser=open_browser,
            paste=sys.stdin.readline if paste else None,
        )
    click.echo(f"{connection}: authorized; its tokens are stored, encrypted, in the store")


@cli.group(name="config")
def config_group() -> None:
    """Work with the configuration file."""


@config_group.command()
@click.pass_obj
def validate(obj: Context) -> None:
    """Validate the config: every problem on its own line; exit 2 when there is one."""
    config = obj.config()
    click.echo(
        f"{config.path}: ok ({len(config.connections)} connections, {len(config.flows)} flows)"
    )


# --- running flows ------------------------------------------------------------------------


class _Progress:
    """While a run goes on: a progress line on a terminal, else a plain line every
    PROGRESS_EVERY seconds on stderr, even when a remote keeps the run waiting."""

    def __init__(self, runner: Any) -> None:
        self.runner = runner
        self.flow = runner.flow_config.name
        self.tty = sys.stderr.isatty()
        self._started = time.monotonic()
        self._done = threading.Event()
        self._bar: Any = None
        if self.tty:
            from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

            self._bar = Progress(
                SpinnerColumn(),
                TextColumn("{task.description}"),
                TimeElapsedColumn(),
                console=Console(stderr=True),
                transient=True,
            )
            self._task = self._bar.add_task(self.flow, total=None)
            self._bar.start()
        self._thread = threading.Thread(target=self._tick, name="progress", daemon=True)
        self._thread.start()

    def line(self) -> str:
        counts = ", ".join(f"{k} {v}" for k, v in self.runner.report.counts.items())
        elapsed = time.monotonic() - self._started
        current = self.runner.current
        doing = f"; writing {current}" if current else ""
        return f"{self.flow}: {counts} ({elapsed:.0f} s{doing})"

    def _tick(self) -> None:
        every = 0.5 if self.tty else PROGRESS_EVERY
        while not self._done.wait(every):
            if self._bar is not None:
                self._bar.update(self._task, description=self.line())
            else:
                click.echo(self.line(), err=True)

    def close(self) -> None:
        self._done.set()
        self._thread.join()
        if self._bar is not None:
            self._bar.stop()


def _print_report(report: Any, limit: int = 50) -> None:
    data = report.as_dict()
    counts = " · ".join(f"{k} {v}" for k, v in data["counts"].items())
    mode = ", dry run: nothing written" if data["dry_run"] else ""
    click.echo(f"{data['flow']} ({data['kind']}{mode}): {counts}")
    shown = [a for a in data["actions"] if a["action"] != "unchanged"]
    if shown:
        table = Table("record", "action", "target id", "reason / changes")
        for action in shown[:limit]:
            detail = action["reason"] or ""
            if action.get("changes"):
                detail = "; ".join(
                    f"{name}: {old!r} -> {new!r}" for name, (old, new) in action["changes"].items()
                )
            steps = [
                f"{step['step']} {step['key']}: {step['action']}"
                + (f" {step['target_id']}" if step.get("target_id") else "")
                for step in action.get("steps") or ()
            ]
            detail = "; ".join(filter(None, [*steps, detail]))
            table.add_row(action["key"], action["action"], action["target_id"] or "", detail)
        _show(table)
        more = len(shown) - limit + data["actions_omitted"]
        if more > 0:
            click.echo(f"... and {more} more: ihost logs {data['flow']}")
    if report.error:
        click.echo(f"ihost: {data['flow']} {report.status}: {report.error}", err=True)


@cli.command(name="run")
@click.argument("flow")
@click.option("--dry-run", is_flag=True, help="Show what would be written; write nothing.")
@click.option("--full", is_flag=True, help="Read everything, ignoring the flow's cursor.")
@click.option("--json", "as_json", is_flag=True, help="Print the report as one JSON object.")
@click.pass_obj
def run_command(obj: Context, flow: str, dry_run: bool, full: bool, as_json: bool) -> None:
    """Run FLOW once. Exit 1 when a record failed, 3 when the remote is unreachable."""
    from host.runner import Runner

    config = obj.config()
    if flow not in config.flows:
        raise _no_flow(config, flow)
    runner = Runner(config, flow, obj.registry, dry_run=dry_run, full=full)
    progress = _Progress(runner)
    try:
        report = runner.run()
    finally:
        progress.close()
    if as_json:
        _echo_json(report.as_dict())
        if report.error:
            click.echo(f"ihost: {flow} {report.status}: {report.error}", err=True)
    else:
        _print_report(report)
    click.get_current_context().exit(report.exit_code)


@cli.group(invoke_without_command=True)
@click.option("--flow", help="Only this flow's (as `deadletters list --flow`).")
@click.option("--all", "everything", is_flag=True, help="Resolved ones too.")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def deadletters(ctx: click.Context, flow: str | None, everything: bool, as_json: bool) -> None:
    """Records that failed: list, show, retry, resolve (default: list the open ones)."""
    if ctx.invoked_subcommand is None:
        ctx.invoke(list_letters, flow=flow, everything=everything, as_json=as_json)
    elif flow or everything or as_json:
        raise click.UsageError(
            f"give --flow, --all and --json after the subcommand: "
            f"ihost deadletters {ctx.invoked_subcommand} ..."
        )


def _store(obj: Context) -> Any:
    from host.store import Store

    config = obj.config()
    return config, Store(config.store_url, config.retention_days)


def _letter_dict(letter: Any, payload: bool = False) -> dict[str, Any]:
    data = {
        "id": letter.id,
        "flow": letter.flow,
        "entity": letter.entity,
        "record_key": letter.record_key,
        "status": letter.status,
        "attempts": letter.attempts,
        "error": letter.error,
        "created_at": letter.created_at.isoformat(),
        "updated_at": letter.updated_at.isoformat(),
        "resolved_at": letter.resolved_at.isoformat() if letter.resolved_at else None,
        "resolved_by": letter.resolved_by,
        "kind": letter.kind,
    }
    if payload:
        data["detail"] = letter.detail  # the remote's own words, purged with the payload
        data["payload"] = letter.payload
    return data


@deadletters.command(name="list")
@click.option("--flow", help="Only this flow's.")
@click.option("--all", "everything", is_flag=True, help="Resolved ones too.")
@click.option("--json", "as_json", is_flag=True)
@click.pass_obj
def list_letters(
    obj: Context, flow: str | None = None, everything: bool = False, as_json: bool = False
) -> None:
    """List dead letters (open ones by default)."""
    _, store = _store(obj)
    letters = store.list_dead_letters(status=None if everything else "open", flow=flow)
    if as_json:
        _echo_json({"dead_letters": [_letter_dict(d) for d in letters]})
        return
    if not letters:
        click.echo("No dead letters." if everything else "No open dead letters.")
        return
    table = Table("id", "flow", "record", "attempts", "status", "error")
    for d in letters:
        table.add_row(str(d.id), d.flow, d.record_key, str(d.attempts), d.status, d.error)
    _show(table)


@deadletters.command(name="show")
@click.argument("letter_id", type=int)
@click.option("--json", "as_json", is_flag=True)
@click.pass_obj
def show_letter(obj: Context, letter_id: int, as_json: bool) -> None:
    """Show one dead letter with the record it holds."""
    _, store = _store(obj)
    letter = store.get_dead_letter(letter_id)
    if letter is None:
        raise ConfigError(f"no dead letter {letter_id}")
    data = _letter_dict(letter, payload=True)
    if as_json:
        _echo_json(data)
        return
    for key, value in data.items():
        if key not in ("payload", "detail"):
            click.echo(f"{key}: {value}")
    if letter.detail:
        click.echo(f"detail: {redact(letter.detail)}")
    if letter.payload is None:
        click.echo("payload: purged (older than retention_days)")
    else:
        click.echo("payload:")
        click.echo(redact(json.dumps(letter.payload, indent=2, default=str)))


@deadletters.command(name="retry")
@click.argument("letter_ids", type=int, nargs=-1)
@click.option("--flow", help="Retry every open dead letter of this flow.")
@click.pass_obj
def retry_letters(obj: Context, letter_ids: tuple[int, ...], flow: str | None) -> None:
    """Write the records of dead letters again; those that go through are resolved."""
    from host.deadletters import retry

    config, store = _store(obj)
    if letter_ids:
        letters = [store.get_dead_letter(i) for i in letter_ids]
        missing = [str(i) for i, d in zip(letter_ids, letters, strict=True) if d is None]
        if missing:
            raise ConfigError(f"no dead letter {', '.join(missing)}")
    elif flow:
        letters = store.list_dead_letters(flow=flow)
    else:
        raise click.UsageError("give dead letter ids, or --flow FLOW")
    try:
        outcomes = retry(config, obj.registry, store, letters)
    except RuntimeError as exc:
        raise _CheckFailed(str(exc)) from None
    exit_code = 0
    for outcome in outcomes:
        letter = outcome.letter
        if outcome.message in ("resolved", "already resolved"):
            label = "resolved" if outcome.message == "resolved" else "already resolved"
            click.echo(f"dead letter {letter.id} ({letter.record_key}): {label}")
        else:
            click.echo(f"dead letter {letter.id} ({letter.record_key}): {outcome.message}")
            exit_code = 1
    click.get_current_context().exit(exit_code)


@deadletters.command(name="resolve")
@click.argument("letter_ids", type=int, nargs=-1, required=True)
@click.pass_obj
def resolve_letters(obj: Context, letter_ids: tuple[int, ...]) -> None:
    """Mark dead letters resolved without writing them (you fixed it by hand)."""
    _, store = _store(obj)
    user = os.environ.get("USER") or os.environ.get("USERNAME")
    by = "resolved by hand: ihost deadletters resolve" + (f" (user {user})" if user else "")
    for letter_id in letter_ids:
        if store.resolve_dead_letters(letter_id=letter_id, by=by):
            click.echo(f"dead letter {letter_id}: resolved")
        else:
            raise ConfigError(f"no open dead letter {letter_id}")


@cli.command()
@click.argument("flow", required=False)
@click.option("--run", "run_id", type=int, help="The events of this run.")
@click.option("--limit", default=10, show_default=True, help="How many runs to list.")
@click.option("--json", "as_json", is_flag=True)
@click.pass_obj
def logs(obj: Context, flow: str | None, run_id: int | None, limit: int, as_json: bool) -> None:
    """The activity log: recent runs and what each read and wrote (keys and actions)."""
    config, store = _store(obj)
    runs = store.list_runs(flow, limit=limit)
    if flow and not runs and flow not in config.flows:
        raise _no_flow(config, flow)
    if run_id is not None and store.get_run(run_id) is None:
        newest = store.list_runs(limit=1)
        hint = f"the newest is run {newest[0]['id']}" if newest else "no run has been made yet"
        raise ConfigError(f"no run {run_id} ({hint}; `ihost logs` lists them)")
    shown = run_id if run_id is not None else (runs[0]["id"] if runs else None)
    events = list(reversed(store.list_events(run_id=shown, limit=100_000))) if shown else []
    for event in events:
        event.pop("payload", None)
    if as_json:
        _echo_json({"runs": runs, "run": shown, "events": events})
        return
    if not runs:
        click.echo(f"No runs of {flow} yet." if flow else "No runs yet.")
        return
    table = Table("run", "flow", "status", "started", "counts")
    for r in runs:
        counts = ", ".join(f"{k} {v}" for k, v in (r["counts"] or {}).items() if v)
        dry = " (dry run)" if r["dry_run"] else ""
        table.add_row(
            str(r["id"]),
            r["flow"],
            r["status"] + dry,
            r["started_at"].strftime("%Y-%m-%d %H:%M:%S"),
            counts,
        )
    _show(table)
    if shown is not None:
        click.echo(f"run {shown}:")
        for e in events:
            parts = [
                e["at"].strftime("%H:%M:%S"),
                e["level"],
                e["record_key"] or "-",
                e["action"] or "",
                e["target_id"] or "",
                e["message"] or "",
            ]
            click.echo("  " + " ".join(p for p in parts if p))


@cli.command()
@click.argument("query")
@click.option("--limit", default=50, show_default=True, help="How many entries at most.")
@click.option("--json", "as_json", is_flag=True, help="With what was read, sent and answered.")
@click.pass_obj
def records(obj: Context, query: str, limit: int, as_json: bool) -> None:
    """What happened to one record, by its key, order number or target id, across runs:
    each entry of the record log, oldest first (--json: with its payloads; they may hold
    personal data)."""
    _, store = _store(obj)
    found = store.list_record_entries(search=query, limit=limit, oldest_first=True)
    if as_json:
        _echo_json({"entries": found})
        return
    if not found:
        click.echo(f"Nothing is kept of {query} (purged, never read, or never changed).")
        return
    table = Table("when (UTC)", "run", "flow", "record", "order", "action", "target id", "reason")
    for e in found:
        table.add_row(
            e["at"].strftime("%Y-%m-%d %H:%M:%S"),
            str(e["run_id"] or ""),
            e["flow"],
            e["record_key"],
            e["order_ref"] or "",
            e["action"],
            e["target_id"] or "",
            e["reason"] or "",
        )
    _show(table)


@cli.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8765, show_default=True, help="Port for webhooks and /healthz.")
@click.option(
    "--token",
    envvar="IHOST_DAEMON_TOKEN",
    help="Access token ($IHOST_DAEMON_TOKEN); required to listen on anything but 127.0.0.1.",
)
@click.option(
    "--allowed-host",
    "allowed_hosts",
    multiple=True,
    envvar="IHOST_ALLOWED_HOSTS",
    metavar="NAME",
    help="Another host name the dashboard is reached by (behind a proxy); repeatable.",
)
@click.pass_obj
def daemon(
    obj: Context, host: str, port: int, token: str | None, allowed_hosts: tuple[str, ...]
) -> None:
    """Run every flow on its schedule, and start flows when webhooks arrive, until stopped."""
    import signal

    from host.daemon.service import Daemon

    service = Daemon(
        obj.config_option,
        obj.registry,
        host=host,
        port=port,
        token=token,
        allowed_hosts=allowed_hosts,
    )
    service.bind()
    signal.signal(signal.SIGTERM, lambda *_: service.stop())
    signal.signal(signal.SIGINT, lambda *_: service.stop())
    signal.signal(signal.SIGHUP, lambda *_: service.reload())
    flows = [name for name, flow in service.config.flows.items() if flow.schedule]
    click.echo(
        f"ihost daemon: {len(flows)} scheduled flows; webhooks at "
        f"http://{host}:{port}/webhooks/CONNECTION; health at /healthz",
        err=True,
    )
    service.serve()
    click.echo("ihost daemon: stopped", err=True)


@cli.command()
@click.argument("pair", required=False)
@click.option("--list", "listing", is_flag=True, help="List the demo pairs installed.")
@click.option("--once", is_flag=True, help="Run every flow once, print the reports, and stop.")
@click.option(
    "--dir",
    "directory",
    default="ihost-demo",
    show_default=True,
    help="Where the demo's config and store go.",
)
@click.option("--port", default=8765, show_default=True, help="The dashboard's port.")
@click.pass_obj
def demo(
    obj: Context, pair: str | None, listing: bool, once: bool, directory: str, port: int
) -> None:
    """Two sandboxes with a small shop, a seed page's flows between them, and the daemon.

    PAIR names the pair of systems (default shopify-afas; `ihost demo --list` shows them)."""
    import signal

    from host import demo as demos
    from host.daemon.service import Daemon, listen

    if listing:
        for name, found in demos.pairs().items():
            click.echo(f"{name}: {found.title}")
        return
    chosen = demos.pair_named(pair or demos.DEFAULT_PAIR)
    place = Path(directory).resolve()
    demos.check_directory(place)
    dashboard = None if once else listen("127.0.0.1", port)  # before anything runs
    with demos.running_demo(place, obj.registry, chosen) as (config, sandboxes):
        for role, box in sandboxes.items():
            title = obj.registry.plugins[chosen.systems[role][0]].title
            click.echo(f"{title} sandbox ({role}): {box.base_url}")
        click.echo(f"config: {config.path}")
        code = demos.run_once(config, chosen, sandboxes, obj.registry, _print_report)
        for line in demos.unsupported(chosen, obj.registry):
            click.echo(line)
        for line in chosen.epilogue(sandboxes) if chosen.epilogue else ():
            click.echo(line)
        if dashboard is None:
            click.get_current_context().exit(code)
        service = Daemon(str(config.path), obj.registry, port=port, run_at_start=False)
        service.use_socket(dashboard)
        signal.signal(signal.SIGTERM, lambda *_: service.stop())
        signal.signal(signal.SIGINT, lambda *_: service.stop())
        click.echo(f"\ndashboard: http://127.0.0.1:{port}/   (Ctrl-C stops the demo)")
        hooks = " ".join(f"http://127.0.0.1:{port}/webhooks/{role}" for role in sandboxes)
        click.echo(f"webhooks: {hooks}   CLI: ihost -c {config.path} logs")
        service.serve()


# --- writing connectors -------------------------------------------------------------------


def template_dir() -> Path:
    """The connector template: inside the installed package, else beside it in a checkout."""
    packaged = Path(__file__).parent / "templates" / "plugin"
    return (
        packaged
        if packaged.is_dir()
        else Path(__file__).resolve().parents[1] / "templates" / "plugin"
    )


@cli.command(name="new-plugin")
@click.option("--output-dir", default="plugins", show_default=True, help="Where to create it.")
@click.option("--no-input", is_flag=True, help="Ask nothing; take defaults and --set values.")
@click.option(
    "--set",
    "values",
    multiple=True,
    metavar="KEY=VALUE",
    help="A template answer, e.g. --set system='Acme ERP' --set auth=bearer.",
)
def new_plugin(output_dir: str, no_input: bool, values: tuple[str, ...]) -> None:
    """Create a connector package (plugin, client, convert, sandbox, tests) from the template."""
    from cookiecutter.exceptions import CookiecutterException, FailedHookException
    from cookiecutter.main import cookiecutter

    from host.newplugin import answer_problems

    answers: dict[str, str] = {}
    for value in values:
        key, sep, text = value.partition("=")
        if not sep or not key:
            raise click.UsageError(f"--set takes KEY=VALUE, not {value!r}")
        answers[key.strip()] = text
    template = template_dir()
    questions = json.loads((template / "cookiecutter.json").read_text(encoding="utf-8"))
    if problems := answer_problems(answers, questions):
        raise ConfigError(problems[0], [f"--set {problem}" for problem in problems])
    out = Path(output_dir)
    if file := next((p for p in (out, *out.parents) if p.exists() and not p.is_dir()), None):
        raise ConfigError(f"new-plugin: --output-dir {output_dir}: {file} is a file")
    interactive = not no_input and sys.stdin.isatty()
    logging.getLogger("cookiecutter").setLevel(logging.CRITICAL)  # its failures are ours to say
    try:
        created = cookiecutter(
            str(template),
            no_input=not interactive,
            extra_context=answers,
            output_dir=output_dir,
        )
    except FailedHookException:  # the hook has said what is wrong, one line each
        raise ConfigError("new-plugin: the answers above cannot make a connector") from None
    except CookiecutterException as exc:
        raise ConfigError(f"new-plugin: {exc}") from None
    except OSError as exc:  # a directory that cannot be written, say
        raise ConfigError(f"new-plugin: --output-dir {output_dir}: {exc}") from None
    click.echo(f"created {created}")
    click.echo(f"next: pip install -e {created} && pytest {created}/tests && ihost plugins")


# --- sandboxes ----------------------------------------------------------------------------


@cli.command()
@click.argument("system")
@click.option("--port", default=0, show_default="ephemeral", help="Port on 127.0.0.1.")
@click.option(
    "--seed",
    "seed_file",
    type=click.Path(dir_okay=False, path_type=Path),
    help='A JSON file {"kind": [records in the remote\'s own shape], ...} to load first.',
)
def sandbox(system: str, port: int, seed_file: Path | None) -> None:
    """Run the emulator of SYSTEM on 127.0.0.1 until interrupted.

    A running sandbox also takes records over HTTP: POST a JSON list to
    /_sandbox/seed/KIND (a test-only path no real remote has)."""
    box = sandbox_class(system)(port=port)
    if seed_file is not None:
        try:
            seeded = box.seed_file(seed_file)
        except ValueError as exc:
            raise ConfigError(str(exc)) from None
        click.echo("seeded " + ", ".join(f"{n} {kind}" for kind, n in seeded.items()))
    try:
        url = box.start()
    except OSError as exc:
        why = (exc.strerror or str(exc)).lower()
        raise ConfigError(f"cannot start the {system} sandbox on 127.0.0.1:{port}: {why}") from None
    click.echo(f"{system} sandbox at {url}")
    click.echo("connection settings: " + json.dumps(box.connection_settings()))
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        box.stop()


def main(argv: list[str] | None = None) -> None:
    """Entry point of the `ihost` command: maps errors to one line and an exit code."""
    try:
        result = cli.main(args=argv, prog_name="ihost", standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        sys.exit(130)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except ConfigError as exc:
        for line in exc.problems:
            click.echo(redact(line), err=True)
        sys.exit(exc.exit_code)
    except IntegrationError as exc:
        click.echo(f"ihost: {redact(str(exc))}", err=True)
        sys.exit(exc.exit_code)
    except Exception as exc:
        if os.environ.get("IHOST_DEBUG"):
            raise
        click.echo(
            f"ihost: internal error: {type(exc).__name__}: {redact(str(exc))} "
            "(set IHOST_DEBUG=1 for the traceback)",
            err=True,
        )
        sys.exit(1)
    sys.exit(result if isinstance(result, int) else 0)
