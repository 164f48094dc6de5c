"""The hook reference, docs/hooks.md, generated from host/hookspecs.py.

    python -m host.hookdoc > docs/hooks.md

Every function of the spec module marked ``@hookspec`` is listed in source order with
its signature, its pluggy options and its docstring, so the reference cannot drift from
the contract: tests/test_docs.py fails when docs/hooks.md differs from this output.
"""

from __future__ import annotations

import inspect
import sys
from collections.abc import Callable
from types import ModuleType
from typing import Any

from host import hookspecs
from host.capabilities import READ_HOOKS, WRITE_HOOKS, Capabilities

COMMAND = "python -m host.hookdoc > docs/hooks.md"

Spec = tuple[str, Callable[..., Any], dict[str, Any]]


def specs(module: ModuleType = hookspecs) -> list[Spec]:
    """Every hook spec of `module`: (name, function, pluggy options), in source order."""
    marker = f"{module.PROJECT}_spec"
    found = [
        (name, value, getattr(value, marker))
        for name, value in vars(module).items()
        if inspect.isfunction(value) and hasattr(value, marker)
    ]
    return sorted(found, key=lambda spec: spec[1].__code__.co_firstlineno)


def signature(name: str, function: Callable[..., Any]) -> str:
    """`name(arg: type, ...) -> type`, with the annotations as written in the spec."""
    sig = inspect.signature(function)  # annotations stay text (postponed evaluation)
    params = []
    for param in sig.parameters.values():
        text = param.name
        if param.annotation is not param.empty:
            text += f": {param.annotation}"
        if param.default is not param.empty:
            text += f" = {param.default!r}"
        params.append(text)
    returns = "" if sig.return_annotation is sig.empty else f" -> {sig.return_annotation}"
    return f"{name}({', '.join(params)}){returns}"


def needed_for(name: str) -> str:
    """Which declarations in `capabilities` call for the hook ("optional": none does)."""
    uses = [f"reads {entity}" for entity, hooks in READ_HOOKS.items() if name in hooks]
    uses += [f"writes {entity}" for entity, hooks in WRITE_HOOKS.items() if name in hooks]
    if name in Capabilities.model_validate({}).required_hooks():
        uses.append("every connector")
    elif name in Capabilities.model_validate({"webhooks": ["orders"]}).required_hooks():
        uses.append("webhooks")
    return ", ".join(uses) or "optional"


def _options(options: dict[str, Any]) -> str:
    """The pluggy options of a spec that change how its implementations are called."""
    shown = [name for name in ("firstresult", "historic") if options.get(name)]
    return " · ".join(f"`{name}`" for name in shown) or "every implementation answers (a list)"


def render(module: ModuleType = hookspecs) -> str:
    """The whole reference, as Markdown."""
    docstring = inspect.cleandoc(module.__doc__ or "")
    rules = docstring.split("\n\n", 1)[1] if "\n\n" in docstring else ""
    found = specs(module)
    lines = [
        "# Hook reference",
        "",
        f"<!-- Generated from {module.__name__.replace('.', '/')}.py by `{COMMAND}`: "
        "do not edit by hand. -->",
        "",
        "Every hook a connector may implement, as `host/hookspecs.py` declares it. The "
        "[connector guide](connectors.md) explains how they fit together.",
        "",
        rules,
        "",
        "| hook | needed for | what it does |",
        "|---|---|---|",
    ]
    for name, function, _ in found:
        summary = " ".join(inspect.cleandoc(function.__doc__ or "").split("\n\n")[0].split())
        summary = summary.replace("|", "\\|")  # a table cell
        lines.append(f"| [`{name}`](#{name}) | {needed_for(name)} | {summary} |")
    lines += [
        "",
        "*Needed for*: the declarations in the plugin's `capabilities` that call for the "
        "hook (the contract kit checks that they match); *optional*: no declaration does.",
    ]
    for name, function, options in found:
        needed = needed_for(name)
        when = "Optional" if needed == "optional" else f"Needed for {needed}"
        lines += [
            "",
            f"## `{name}`",
            "",
            "```python",
            signature(name, function),
            "```",
            "",
            f"{when} · {_options(options)}",
            "",
            inspect.cleandoc(function.__doc__ or "(no docstring)"),
        ]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.stdout.write(render())
