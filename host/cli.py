"""The `ihost` command (DESIGN §6).

Exit codes: 0 ok, 1 records failed, 2 usage or configuration error, 3 remote
unreachable or unauthorised. Errors are one line on stderr, never a traceback
(set IHOST_DEBUG=1 to see one for an internal error).
"""

from __future__ import annotations

import json
import logging
import os
import re
import sys
import time
from typing import Any

import click
from pydantic import BaseModel, SecretStr
from rich.console import Console
from rich.table import Table

from host import __version__
from host.config import Config, load_config
from host.errors import ConfigError, IntegrationError
from host.matrix import build_matrix, render_html, render_markdown
from host.plugins import SANDBOX_GROUP, PluginInfo, Registry, discover, package_for
from host.secrets import RedactingFormatter, redact

FORMATS_ABOUT = ("text", "json", "markdown")
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


def _setup_logging(verbose: int) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(RedactingFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.WARNING - 10 * min(verbose, 2))
    for chatty in ("httpcore", "stevedore", "uvicorn"):  # their debug lines drown ours
        logging.getLogger(chatty).setLevel(logging.INFO if verbose > 2 else logging.WARNING)


def _echo_json(data: Any) -> None:
    click.echo(redact(json.dumps(data, indent=2, default=str)))


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
    console = Console()
    if not infos:
        console.print("No plugins installed. Install a connector, e.g. pip install ihost-shopify")
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
    console.print(table)


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
    about["description"] = (info.cls.__doc__ or "").strip() if info.cls else ""
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
        from rich.markdown import Markdown

        Console().print(Markdown(text))


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
        from rich.markdown import Markdown

        Console().print(Markdown(render_markdown(data)))


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


class _CheckFailed(IntegrationError):
    """Any failure of a connection check means: unreachable or unauthorised (exit 3)."""

    exit_code = 3


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


# --- sandboxes ----------------------------------------------------------------------------


@cli.command()
@click.argument("system")
@click.option("--port", default=0, show_default="ephemeral", help="Port on 127.0.0.1.")
def sandbox(system: str, port: int) -> None:
    """Run the emulator of SYSTEM on 127.0.0.1 until interrupted."""
    from stevedore import DriverManager
    from stevedore.exception import NoMatches

    try:
        driver = DriverManager(SANDBOX_GROUP, system, invoke_on_load=False)
    except NoMatches:
        raise ConfigError(
            f"no sandbox for {system!r}; install it with: pip install {package_for(system)}"
        ) from None
    box = driver.driver(port=port)
    url = box.start()
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
