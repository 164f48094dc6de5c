"""`ihost.toml` -> a validated configuration (DESIGN §5).

Every problem is reported at once, one line each, naming the file, the table and
the key: ``ihost.toml: [connections.webshop] acces_token: unknown key ...``.
Values written as ``${VAR}`` are read from the environment and registered as
secrets, so they never appear in any output.
"""

from __future__ import annotations

import difflib
import os
import re
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, SecretStr, ValidationError

from host.auth import ConnectorContext
from host.errors import ConfigError
from host.flows import Flow, FlowSettings, flow_classes
from host.ledger import Ledger
from host.mapping import Mapper, compile_mapping
from host.models import RECORD_TYPES
from host.plugins import Connection, Registry, package_for, transforms
from host.schedule import Schedule
from host.secrets import redactor, secret_problem
from host.store import check_url, normalise_url
from host.tokens import TokenVault
from host.vocabulary import ENTITIES

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on Python 3.10 only
    import tomli as tomllib

DEFAULT_FILE = "ihost.toml"
DEFAULT_STORE = "sqlite:///ihost.db"
DEFAULT_RETENTION_DAYS = 14

_VAR = re.compile(r"\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)\}")

_TOP_KEYS = {"store", "connections", "flows", "alerts"}
_STORE_KEYS = {"url", "retention_days"}
_FLOW_KEYS = {"kind", "source", "target", "schedule", "settings", "mapping", "enabled"}


@dataclass
class ConnectionConfig:
    """One `[connections.NAME]` table, its settings validated by its plugin."""

    name: str
    plugin: str
    settings: BaseModel


@dataclass
class FlowConfig:
    """One `[flows.NAME]` table, its settings validated by its flow kind."""

    name: str
    kind: str
    source: str
    target: str
    flow_class: type[Flow]
    flow_settings: FlowSettings
    mapper: Mapper
    schedule: str | None = None
    enabled: bool = True
    settings: dict[str, Any] = field(default_factory=dict)
    mapping: dict[str, Any] = field(default_factory=dict)


@dataclass
class Config:
    """A whole, valid `ihost.toml`."""

    path: Path
    store_url: str
    retention_days: int
    connections: dict[str, ConnectionConfig]
    flows: dict[str, FlowConfig]
    alerts: Any = None  # host.alerts.AlertSettings, when [alerts] is set

    def connect(self, name: str, registry: Registry) -> Connection:
        """Build the Connection (plugin instance + PluginManager) for connection `name`."""
        if name not in self.connections:
            known = ", ".join(self.connections) or "none"
            raise ConfigError(f"{self.path.name}: no connection {name!r} (configured: {known})")
        conn = self.connections[name]
        info = registry.get(conn.plugin)
        assert info is not None  # load_config has checked it
        context = ConnectorContext(
            connection=name,
            tokens=TokenVault(self.store_url, name),
            ledger=Ledger(self.store_url, name),
        )
        return Connection(name, info, conn.settings, context)


def config_path(option: str | os.PathLike[str] | None = None) -> Path:
    """The config file: `-c FILE`, else `$IHOST_CONFIG`, else `./ihost.toml`."""
    chosen = option or os.environ.get("IHOST_CONFIG") or DEFAULT_FILE
    return Path(chosen)


class _Problems:
    """Collects problem lines that all start with the file name."""

    def __init__(self, path: Path) -> None:
        self.file = path.name
        self.lines: list[str] = []

    def add(self, table: str | None, key: str | None, message: str) -> None:
        self.lines.append(self._prefix(table, key) + message)

    def has(self, table: str | None, key: str | None) -> bool:
        """Whether a problem with this table and key is known already."""
        prefix = self._prefix(table, key)
        return any(line.startswith(prefix) for line in self.lines)

    def _prefix(self, table: str | None, key: str | None) -> str:
        where = f"[{table}] " if table else ""
        what = f"{key}: " if key else ""
        return f"{self.file}: {where}{what}"

    def unknown(self, table: str | None, key: str, allowed: set[str] | list[str]) -> None:
        hint = difflib.get_close_matches(key, list(allowed), n=1)
        suggestion = f" (did you mean {hint[0]!r}?)" if hint else ""
        listing = ", ".join(sorted(allowed)) or "none"
        self.add(table, key, f"unknown key{suggestion}; allowed: {listing}")


def _expand(
    value: Any, table: str, key: str, environ: Mapping[str, str], problems: _Problems
) -> Any:
    """Replace ${VAR} in strings (recursively), registering each value as a secret."""
    if isinstance(value, dict):
        return {k: _expand(v, table, f"{key}.{k}", environ, problems) for k, v in value.items()}
    if isinstance(value, list):
        return [_expand(v, table, key, environ, problems) for v in value]
    if not isinstance(value, str):
        return value

    def substitute(match: re.Match[str]) -> str:
        if match.group(0) == "$$":
            return "$"
        variable = match.group(1)
        if variable not in environ:
            problems.add(table, key, f"environment variable {variable} is not set")
            return ""
        value = environ[variable]
        redactor.add(value)
        if problem := secret_problem(value):
            problems.add(table, key, f"environment variable {variable} {problem}")
        return value

    return _VAR.sub(substitute, value)


def _schedule_problem(schedule: Any) -> str | None:
    if not isinstance(schedule, str):
        return 'must be a string such as "every 5m" or a cron expression'
    try:
        Schedule.parse(schedule).next_after(datetime.now(timezone.utc))
    except ValueError as exc:
        return str(exc)
    return None


def load_config(
    path: str | os.PathLike[str] | None,
    registry: Registry,
    environ: Mapping[str, str] | None = None,
) -> Config:
    """Read and validate the config file; raise ConfigError listing every problem."""
    file = config_path(path)
    environ = os.environ if environ is None else environ
    problems = _Problems(file)
    try:
        raw = tomllib.loads(file.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(
            f"{file}: no such config file (use -c FILE, $IHOST_CONFIG or ./{DEFAULT_FILE})"
        ) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{file}: cannot read: {exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{file.name}: not valid TOML: {exc}") from None

    for key in raw:
        if key not in _TOP_KEYS:
            problems.unknown(None, key, _TOP_KEYS)

    store_url, retention_days = _load_store(raw.get("store", {}), file, environ, problems)
    raw_connections = raw.get("connections", {})
    connections = _load_connections(raw_connections, registry, environ, problems)
    configured = set(raw_connections) if isinstance(raw_connections, dict) else set()
    flows = _load_flows(raw.get("flows", {}), connections, configured, registry, problems)

    alerts = _load_alerts(raw.get("alerts"), environ, problems)

    if problems.lines:
        count = len(problems.lines)
        raise ConfigError(f"{file.name}: {count} problem{'s' if count > 1 else ''}", problems.lines)
    return Config(file, store_url, retention_days, connections, flows, alerts)


def _load_alerts(raw: Any, environ: Mapping[str, str], problems: _Problems) -> Any:
    from host.alerts import AlertSettings, notifier_classes

    if raw is None:
        return None
    table = _table(raw, "alerts", problems)
    values = {k: _expand(v, "alerts", k, environ, problems) for k, v in table.items()}
    settings = _validate_settings(AlertSettings, values, "alerts", problems)
    if settings is None:
        return None
    known = notifier_classes()
    for name in settings.notify:
        if name not in known:
            problems.add(
                "alerts",
                "notify",
                f"no notifier {name!r} (installed: {', '.join(sorted(known)) or 'none'})",
            )
            continue
        try:
            known[name](settings)
        except ValueError as exc:
            problems.add("alerts", "notify", str(exc))
    return settings


def _table(value: Any, name: str, problems: _Problems) -> dict[str, Any]:
    if isinstance(value, dict):
        return value
    problems.add(None, name, "must be a table")
    return {}


def _load_store(
    raw: Any, file: Path, environ: Mapping[str, str], problems: _Problems
) -> tuple[str, int]:
    table = _table(raw, "store", problems)
    for key in table:
        if key not in _STORE_KEYS:
            problems.unknown("store", key, _STORE_KEYS)
    url = _expand(table.get("url", DEFAULT_STORE), "store", "url", environ, problems)
    if not isinstance(url, str) or "://" not in url:
        problems.add("store", "url", "must be a database URL such as sqlite:///ihost.db")
        url = DEFAULT_STORE
    url = normalise_url(url)
    prefix = "sqlite:///"
    if url.startswith(prefix) and url != "sqlite:///:memory:":
        db = Path(url[len(prefix) :])
        if not db.is_absolute():  # relative to the config file, not to where ihost runs
            url = prefix + str((file.parent / db).resolve())
    if problem := check_url(url):
        problems.add("store", "url", problem)
    retention = table.get("retention_days", DEFAULT_RETENTION_DAYS)
    if not isinstance(retention, int) or isinstance(retention, bool) or retention < 1:
        problems.add("store", "retention_days", "must be a whole number of days, at least 1")
        retention = DEFAULT_RETENTION_DAYS
    return url, retention


def _load_connections(
    raw: Any, registry: Registry, environ: Mapping[str, str], problems: _Problems
) -> dict[str, ConnectionConfig]:
    connections: dict[str, ConnectionConfig] = {}
    for name, value in _table(raw, "connections", problems).items():
        table = f"connections.{name}"
        if why := _name_problem(name):
            problems.add(None, table, why)
            continue
        if not isinstance(value, dict):
            problems.add(None, table, "must be a table")
            continue
        plugin = value.get("plugin")
        if not isinstance(plugin, str):
            problems.add(table, "plugin", "required: the name of an installed plugin")
            continue
        info = registry.get(plugin)
        if info is None:
            installed = ", ".join(i.name for i in registry) or "none"
            problems.add(
                table,
                "plugin",
                f"no plugin {plugin!r} is installed; install it with: pip install "
                f"{package_for(plugin)} (installed: {installed})",
            )
            continue
        if info.error or info.settings_model is None:
            problems.add(table, "plugin", f"plugin {plugin!r} failed to load: {info.error}")
            continue
        values = {k: _expand(v, table, k, environ, problems) for k, v in value.items()}
        values.pop("plugin")
        settings = _validate_settings(info.settings_model, values, table, problems)
        if settings is not None:
            connections[name] = ConnectionConfig(name, plugin, settings)
    return connections


NAME_LENGTH = 100


def _name_problem(name: str) -> str | None:
    """Why `name` cannot name a connection or flow (the store keys runs and bindings by it)."""
    if len(name) > NAME_LENGTH:
        return f"the name is {len(name)} characters; at most {NAME_LENGTH}"
    if not name.isprintable():
        return "the name holds a control character"
    return None


SettingsModel = TypeVar("SettingsModel", bound=BaseModel)


def _validate_settings(
    model: type[SettingsModel], values: dict[str, Any], table: str, problems: _Problems
) -> SettingsModel | None:
    allowed = {name: name for name in model.model_fields}
    for name, info in model.model_fields.items():
        if isinstance(info.alias, str):
            allowed[info.alias] = name
    for key in values:
        if key not in allowed:
            problems.unknown(table, key, set(model.model_fields))
    known = {k: v for k, v in values.items() if k in allowed}
    try:
        settings = model.model_validate(known)
    except ValidationError as exc:
        for error in exc.errors(include_input=False, include_url=False):
            where = ".".join(str(part) for part in error["loc"]) or None
            message = "required key is missing" if error["type"] == "missing" else error["msg"]
            problems.add(table, where, message)
        return None
    for name, info in model.model_fields.items():
        secret = getattr(settings, name, None)
        if isinstance(secret, SecretStr):
            value = secret.get_secret_value()
            redactor.add(value)
            shown = info.alias or name
            if (problem := secret_problem(value)) and not problems.has(table, shown):
                problems.add(table, shown, f"the secret {problem}")
                return None
    if len(known) != len(values):
        return None
    return settings


def _load_flows(
    raw: Any,
    connections: dict[str, ConnectionConfig],
    configured: set[str],
    registry: Registry,
    problems: _Problems,
) -> dict[str, FlowConfig]:
    flows: dict[str, FlowConfig] = {}
    for name, value in _table(raw, "flows", problems).items():
        table = f"flows.{name}"
        if why := _name_problem(name):
            problems.add(None, table, why)
            continue
        if not isinstance(value, dict):
            problems.add(None, table, "must be a table")
            continue
        for key in value:
            if key not in _FLOW_KEYS:
                problems.unknown(table, key, _FLOW_KEYS)
        kind = value.get("kind")
        if kind not in ENTITIES:
            problems.add(table, "kind", f"must be one of {', '.join(ENTITIES)}")
            continue
        ends: dict[str, str] = {}
        for end, verb, attr in (("source", "read", "reads"), ("target", "write", "writes")):
            conn_name = value.get(end)
            if not isinstance(conn_name, str):
                problems.add(table, end, "required: the name of a connection")
                continue
            ends[end] = conn_name
            conn = connections.get(conn_name)
            if conn is None:
                # a connection that failed validation has its own problem line already
                if conn_name not in configured:
                    problems.add(table, end, f"no connection {conn_name!r} is configured")
                continue
            caps = registry.get(conn.plugin).capabilities  # type: ignore[union-attr]
            if kind not in getattr(caps, attr):
                why = caps.reason(attr, kind)  # type: ignore[union-attr]
                problems.add(
                    table,
                    end,
                    f"connection {conn_name!r} ({conn.plugin}) does not {verb} {kind}{why}",
                )
            elif end == "target" and caps.switched_off(kind, conn.settings):  # type: ignore[union-attr]
                switch = caps.writes_when_set[kind]  # type: ignore[union-attr]
                problems.add(
                    table,
                    end,
                    f"connection {conn_name!r} ({conn.plugin}) writes {kind} only when its "
                    f"{switch} is set{caps.reason(attr, kind)}",  # type: ignore[union-attr]
                )
        schedule = value.get("schedule")
        if schedule is not None and (why := _schedule_problem(schedule)):
            problems.add(table, "schedule", why)
        settings = value.get("settings", {})
        mapping = value.get("mapping", {})
        for key, sub in (("settings", settings), ("mapping", mapping)):
            if not isinstance(sub, dict):
                problems.add(table, key, "must be a table")
        settings = settings if isinstance(settings, dict) else {}
        mapping = mapping if isinstance(mapping, dict) else {}
        flow_class = flow_classes()[kind]
        flow_settings = _validate_flow_settings(flow_class, settings, f"{table}.settings", problems)
        mapper, mapping_problems = compile_mapping(kind, mapping, RECORD_TYPES[kind], transforms)
        for key, message in mapping_problems:
            problems.add(f"{table}.mapping", key, message)
        target = connections.get(ends.get("target", ""))
        if kind == "orders" and target is not None:
            _check_order_type(settings, target, registry, f"{table}.settings", problems)
        if target is not None:
            _check_debtor_match(kind, settings, target, registry, f"{table}.settings", problems)
        enabled = value.get("enabled", True)
        if not isinstance(enabled, bool):
            problems.add(table, "enabled", "must be true or false")
        if flow_settings is None or len(ends) < 2:
            continue
        flows[name] = FlowConfig(
            name=name,
            kind=kind,
            source=ends["source"],
            target=ends["target"],
            flow_class=flow_class,
            flow_settings=flow_settings,
            mapper=mapper,
            schedule=schedule,
            enabled=bool(enabled),
            settings=settings,
            mapping=mapping,
        )
    return flows


def _validate_flow_settings(
    flow_class: type[Flow], values: dict[str, Any], table: str, problems: _Problems
) -> FlowSettings | None:
    model = flow_class.Settings
    try:
        return model.model_validate(values)
    except ValidationError as exc:
        for error in exc.errors(include_input=False, include_url=False):
            key = ".".join(str(part) for part in error["loc"]) or None
            if error["type"] == "extra_forbidden" and key:
                problems.unknown(table, key, set(model.model_fields))
            else:
                problems.add(table, key, error["msg"].removeprefix("Value error, "))
    return None


def _check_order_type(
    settings: dict[str, Any],
    target: ConnectionConfig,
    registry: Registry,
    table: str,
    problems: _Problems,
) -> None:
    offered = registry.get(target.plugin).capabilities.order_types  # type: ignore[union-attr]
    order_type = settings.get("order_type", "sales_order")
    if order_type not in offered:
        listing = ", ".join(sorted(offered)) or "none"
        problems.add(
            table,
            "order_type",
            f"{order_type!r} is not an order type of {target.plugin} (it offers: {listing})",
        )


def _check_debtor_match(
    kind: str,
    settings: dict[str, Any],
    target: ConnectionConfig,
    registry: Registry,
    table: str,
    problems: _Problems,
) -> None:
    """`match_debtor_on` must be a field the target finds debtors by (its debtor_match):
    else every record of the flow would fail."""
    if kind not in ("orders", "customers") or problems.has(table, "match_debtor_on"):
        return
    info = registry.get(target.plugin)
    assert info is not None and info.capabilities is not None  # load_config has checked it
    if kind == "orders" and (settings.get("default_debtor") or "upsert_debtor" not in info.hooks):
        return  # the orders flow finds no debtor: it books on the default one, or on none
    match_on = settings.get("match_debtor_on", "email")
    offered = info.capabilities.debtor_match
    if match_on not in offered:
        listing = ", ".join(sorted(offered)) or "none"
        problems.add(
            table,
            "match_debtor_on",
            f"target {target.name!r} ({target.plugin}) cannot find debtors by {match_on!r}; "
            f"it finds them by: {listing}",
        )
