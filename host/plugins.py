"""Plugin discovery (stevedore) and one pluggy PluginManager per connection (DESIGN §2).

Connectors are found through the `ihost.plugins` entry point group. A plugin
that fails to import, or whose class breaks the contract, is listed with its
error; the others keep working.
"""

from __future__ import annotations

import importlib.metadata
import inspect
import logging
import time
from collections import Counter, defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import pluggy
from pydantic import BaseModel
from stevedore import ExtensionManager

from host import hookspecs
from host.auth import ConnectorContext
from host.capabilities import Capabilities, hook_mismatches
from host.errors import ConfigError
from host.hookspecs import HOOKS, PROJECT, hookimpl
from host.secrets import redact

if TYPE_CHECKING:
    from host.sandbox import Sandbox

log = logging.getLogger(__name__)

PLUGIN_GROUP = "ihost.plugins"
SANDBOX_GROUP = "ihost.sandboxes"
TRANSFORM_GROUP = "ihost.transforms"
NOTIFIER_GROUP = "ihost.notifiers"


def package_for(plugin: str) -> str:
    """The distribution that, by convention, provides plugin `plugin`."""
    return "ihost-" + plugin.replace("_", "-")


@dataclass
class PluginInfo:
    """What discovery learnt about one entry point in `ihost.plugins`."""

    name: str
    cls: type | None = None
    distribution: str | None = None
    version: str | None = None
    error: str | None = None
    problems: list[str] = field(default_factory=list)

    @property
    def title(self) -> str:
        return getattr(self.cls, "title", None) or self.name

    @property
    def capabilities(self) -> Capabilities | None:
        return getattr(self.cls, "capabilities", None) if self.error is None else None

    @property
    def settings_model(self) -> type[BaseModel] | None:
        return getattr(self.cls, "Settings", None) if self.error is None else None

    @property
    def hooks(self) -> list[str]:
        return implemented_hooks(self.cls) if self.cls is not None else []

    def as_dict(self) -> dict[str, Any]:
        """The shape of one entry of `ihost plugins --json`."""
        caps = self.capabilities
        return {
            "name": self.name,
            "title": self.title,
            "version": self.version,
            "distribution": self.distribution,
            "capabilities": caps.model_dump(mode="json") if caps else None,
            "hooks": self.hooks,
            "error": self.error,
            "problems": self.problems,
        }


def implemented_hooks(cls: type) -> list[str]:
    """Names of the contract hooks that `cls` marks with @hookimpl, in contract order."""
    marker = f"{PROJECT}_impl"
    return [name for name in HOOKS if hasattr(getattr(cls, name, None), marker)]


def _contract_error(name: str, cls: Any) -> str | None:
    """Why `cls` cannot serve as plugin `name`, or None when it can."""
    if not isinstance(cls, type):
        return f"entry point {name!r} does not name a class"
    if getattr(cls, "name", None) != name:
        declared = getattr(cls, "name", None)
        return f"{cls.__name__}.name is {declared!r}, not the entry point name {name!r}"
    settings = getattr(cls, "Settings", None)
    if not (isinstance(settings, type) and issubclass(settings, BaseModel)):
        return f"{cls.__name__}.Settings is not a pydantic model"
    if not isinstance(getattr(cls, "capabilities", None), Capabilities):
        return f"{cls.__name__}.capabilities is not a host.capabilities.Capabilities"
    marker = f"{PROJECT}_impl"
    unknown = sorted(
        attr
        for attr in dir(cls)
        if not attr.startswith("_") and attr not in HOOKS and hasattr(getattr(cls, attr), marker)
    )
    if unknown:
        return f"{cls.__name__} marks unknown hooks: {', '.join(unknown)}"
    return None


class Registry:
    """The installed plugins, by name, including those that failed to load."""

    def __init__(self, plugins: dict[str, PluginInfo]) -> None:
        self.plugins = dict(sorted(plugins.items()))

    def __iter__(self) -> Iterator[PluginInfo]:
        return iter(self.plugins.values())

    def __contains__(self, name: object) -> bool:
        return name in self.plugins

    def get(self, name: str) -> PluginInfo | None:
        return self.plugins.get(name)

    def loaded(self) -> list[PluginInfo]:
        """Plugins that imported and keep the contract."""
        return [info for info in self if info.error is None]


def discover() -> Registry:
    """Load every plugin of the `ihost.plugins` entry point group."""
    plugins: dict[str, PluginInfo] = {}

    def failed(_manager: Any, entry_point: Any, exc: BaseException) -> None:
        info = describe(entry_point)
        info.error = redact(f"{type(exc).__name__}: {exc}")
        plugins[info.name] = info
        log.warning("plugin %s failed to load: %s", info.name, info.error)

    dists = {ep.name: ep.dist for ep in importlib.metadata.entry_points(group=PLUGIN_GROUP)}

    def describe(entry_point: Any) -> PluginInfo:
        dist = getattr(entry_point, "dist", None) or dists.get(entry_point.name)
        return PluginInfo(
            name=entry_point.name,
            distribution=dist.metadata["Name"] if dist is not None else None,
            version=dist.version if dist is not None else None,
        )

    manager = ExtensionManager(
        namespace=PLUGIN_GROUP,
        invoke_on_load=False,
        on_load_failure_callback=failed,
    )
    for extension in manager:
        info = describe(extension.entry_point)
        info.cls = extension.plugin
        info.error = _contract_error(info.name, extension.plugin)
        if info.error is None:
            info.problems = hook_mismatches(
                extension.plugin.capabilities, set(implemented_hooks(extension.plugin))
            )
        plugins[info.name] = info
    return Registry(plugins)


def load_group(group: str) -> dict[str, Any]:
    """What an entry point group names, by name; one that fails to load is logged and left out."""
    found: dict[str, Any] = {}
    for entry_point in importlib.metadata.entry_points(group=group):
        try:
            found[entry_point.name] = entry_point.load()
        except Exception as exc:
            log.warning("%s %s failed to load: %s", group, entry_point.name, exc)
    return found


def sandbox_class(name: str) -> type[Sandbox]:
    """The sandbox registered as `name` in the `ihost.sandboxes` entry point group.

    Raises ConfigError, one line, when no installed package provides it, when it fails to
    import, or when it is not a `host.sandbox.Sandbox`."""
    from host.sandbox import Sandbox

    found = importlib.metadata.entry_points(group=SANDBOX_GROUP, name=name)
    if not found:
        raise ConfigError(
            f"no sandbox for {name!r}; install it with: pip install {package_for(name)}"
        )
    try:
        cls = next(iter(found)).load()
    except Exception as exc:
        raise ConfigError(
            f"the {name} sandbox failed to load: {redact(f'{type(exc).__name__}: {exc}')}"
        ) from None
    if not (isinstance(cls, type) and issubclass(cls, Sandbox)):
        raise ConfigError(f"{SANDBOX_GROUP} entry point {name!r} does not name a Sandbox class")
    return cls


def transforms() -> dict[str, Any]:
    """The named transforms of the `ihost.transforms` entry point group."""
    return load_group(TRANSFORM_GROUP)


def _stats_wrapper(hook_name: str) -> Any:
    def wrapper(self: CallStats) -> Any:
        started = time.perf_counter()
        try:
            return (yield)
        except Exception:
            self.errors[hook_name] += 1
            raise
        finally:
            self.calls[hook_name] += 1
            self.seconds[hook_name] += time.perf_counter() - started

    wrapper.__name__ = hook_name
    return hookimpl(wrapper=True)(wrapper)


class CallStats:
    """Host middleware: counts calls, errors and time per hook of one connection."""

    def __init__(self) -> None:
        self.calls: Counter[str] = Counter()
        self.errors: Counter[str] = Counter()
        self.seconds: defaultdict[str, float] = defaultdict(float)


for _hook in HOOKS:
    setattr(CallStats, _hook, _stats_wrapper(_hook))


def _takes_context(cls: type) -> bool:
    try:
        return "context" in inspect.signature(cls).parameters
    except (TypeError, ValueError):  # a signature Python cannot read
        return False


class Connection:
    """One configured connection: its plugin instance behind its own PluginManager.

    Call hooks through `hook` with keyword arguments, e.g.
    ``connection.hook.fetch_orders(since=None, statuses=["paid"])``. The plugin is built
    as ``cls(settings, context=context)`` when its constructor takes a `context`
    (host.auth.ConnectorContext; by default one without a token vault), else ``cls(settings)``.
    """

    def __init__(
        self,
        name: str,
        info: PluginInfo,
        settings: BaseModel,
        context: ConnectorContext | None = None,
    ) -> None:
        if info.cls is None or info.error:
            raise ValueError(f"plugin {info.name} is not usable: {info.error}")
        self.name = name
        self.info = info
        self.settings = settings
        self.context = context or ConnectorContext(connection=name)
        if _takes_context(info.cls):
            self.plugin = info.cls(settings, context=self.context)
        else:
            self.plugin = info.cls(settings)
        self.stats = CallStats()
        self.manager = pluggy.PluginManager(PROJECT)
        self.manager.add_hookspecs(hookspecs)
        self.manager.register(self.plugin, name=f"{name}:{info.name}")
        self.manager.register(self.stats, name=f"{name}:stats")
        self.manager.check_pending()

    @property
    def hook(self) -> Any:
        return self.manager.hook

    @property
    def capabilities(self) -> Capabilities:
        return self.info.cls.capabilities  # type: ignore[union-attr]

    def register(self, middleware: object, name: str) -> None:
        """Add host middleware (wrappers or tryfirst implementations) to this connection."""
        self.manager.register(middleware, name=f"{self.name}:{name}")

    def implements(self, hook_name: str) -> bool:
        """Whether the connector itself (not middleware) implements `hook_name`."""
        caller = getattr(self.manager.hook, hook_name)
        return any(impl.plugin is self.plugin for impl in caller.get_hookimpls())

    def close(self) -> None:
        """Let the plugin release its clients; safe to call twice."""
        close = getattr(self.plugin, "close", None)
        if callable(close):
            close()
        self.context.ledger.close()

    def __enter__(self) -> Connection:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
