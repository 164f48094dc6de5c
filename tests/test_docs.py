"""The documentation keeps to the code, and no link in the repository leads out of it.

- docs/hooks.md is what `python -m host.hookdoc` generates from host/hookspecs.py;
- every relative Markdown link resolves to a file (and heading) inside the repository, and
  no text file names the design notes kept beside the clone (the vendor specs, which the
  sandboxes read in place, are the one exception);
- every `ihost.toml` example in the README and docs/ passes `ihost config validate`;
- every capability, config key and command the code has is documented.
"""

from __future__ import annotations

import difflib
import json
import re
import subprocess
import sys
import types
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import unquote

import pytest
from click.testing import CliRunner

from host import config as config_module
from host import hookdoc, hookspecs
from host.alerts import AlertSettings
from host.capabilities import ENTITIES, Capabilities
from host.cli import cli
from host.errors import ConfigError
from host.flows import flow_classes
from host.hookspecs import HOOKS
from host.mapping import allowed_keys

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
#: names of what lies beside the clone, not in it; the specs dir is read in place by design
OUTSIDE_MARKDOWN = re.compile(r"\.\./shared|DESIGN\.md|CONNECTOR-STANDARD\.md")
OUTSIDE_CODE = re.compile(r"\.\./shared(?!/specs\b)")
WEB = ("http", "https", "mailto")


# --- the hook reference -------------------------------------------------------------------


def test_hook_reference_is_generated_from_the_specs() -> None:
    written = (DOCS / "hooks.md").read_text(encoding="utf-8")
    generated = hookdoc.render()
    if written != generated:
        diff = difflib.unified_diff(
            written.splitlines(keepends=True),
            generated.splitlines(keepends=True),
            "docs/hooks.md",
            "generated",
        )
        pytest.fail(
            f"docs/hooks.md is out of date: run `{hookdoc.COMMAND}` (in .venv)\n"
            + "".join(list(diff)[:60]),
            pytrace=False,
        )


def test_the_reference_lists_every_hook_of_the_contract() -> None:
    assert [name for name, _, _ in hookdoc.specs()] == list(HOOKS)


def test_a_new_hook_spec_appears_in_the_reference() -> None:
    module = types.ModuleType("host.hookspecs_more", "The contract.\n\nThe rules.")
    module.PROJECT = hookspecs.PROJECT

    @hookspecs.hookspec(firstresult=True)
    def exchange_code(code: str, redirect_uri: str | None) -> dict[str, str]:
        """Exchange an authorization code for tokens.

        Raise AuthError when the remote refuses the code.
        """

    module.exchange_code = exchange_code
    text = hookdoc.render(module)
    assert "## `exchange_code`" in text
    assert "exchange_code(code: str, redirect_uri: str | None) -> dict[str, str]" in text
    assert "| [`exchange_code`](#exchange_code) | optional | Exchange an authorization" in text
    assert "Raise AuthError when the remote refuses the code." in text
    assert "The rules." in text and "The contract." not in text


# --- links --------------------------------------------------------------------------------


def repository_files() -> list[Path]:
    """The files git tracks, or would (not ignored), that exist."""
    try:
        listed = subprocess.run(
            ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
            cwd=ROOT,
            capture_output=True,
            check=True,
        ).stdout.decode()
    except (OSError, subprocess.CalledProcessError):
        pytest.skip("not a git checkout: which files belong to the repository is unknown")
    return sorted(ROOT / name for name in listed.split("\0") if name and (ROOT / name).is_file())


def markdown_files() -> list[Path]:
    return [path for path in repository_files() if path.suffix == ".md"]


def fenced_blocks(text: str) -> Iterator[tuple[int, str, str]]:
    """(line number, language, dedented content) of each fenced code block."""
    lines = text.splitlines()
    index = 0
    while index < len(lines):
        opening = re.match(r"^(\s*)(```+|~~~+)\s*(\S*)", lines[index])
        index += 1
        if not opening:
            continue
        indent, fence, language = opening.groups()
        start, body = index, []
        while index < len(lines) and not lines[index].strip().startswith(fence):
            body.append(lines[index][len(indent) :] if lines[index].startswith(indent) else "")
            index += 1
        index += 1
        yield start, language, "\n".join(body) + "\n"


def prose(text: str) -> str:
    """The text without fenced code blocks and code spans (line count kept)."""
    kept, fence = [], None
    for line in text.splitlines():
        marker = re.match(r"^\s*(```+|~~~+)", line)
        if fence is None and marker:
            fence = marker.group(1)
            kept.append("")
        elif fence is not None:
            fence = None if line.strip().startswith(fence) else fence
            kept.append("")
        else:
            kept.append(line)
    return re.sub(
        r"(`+)(.+?)\1", lambda m: "\n" * m.group(0).count("\n"), "\n".join(kept), flags=re.S
    )


def slug(heading: str) -> str:
    """The anchor GitHub gives a heading."""
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", heading)
    text = re.sub(r"<[^>]+>", "", text).strip().lower()
    return re.sub(r"[^\w\- ]", "", text).replace(" ", "-")


def anchors(path: Path) -> set[str]:
    """The anchors of a Markdown file: its headings' (outside code blocks), and HTML ids."""
    text = path.read_text(encoding="utf-8")
    found: set[str] = set(re.findall(r"""<a\s+(?:id|name)=["']([^"']+)["']""", text))
    seen: dict[str, int] = {}
    fence = None
    for line in text.splitlines():
        marker = re.match(r"^\s*(```+|~~~+)", line)
        if marker and (fence is None or line.strip().startswith(fence)):
            fence = marker.group(1) if fence is None else None
            continue
        heading = None if fence else re.match(r"^#{1,6}\s+(.*?)\s*#*\s*$", line)
        if heading is not None:
            base = slug(heading.group(1))
            count = seen.get(base, 0)
            seen[base] = count + 1
            found.add(base if count == 0 else f"{base}-{count}")
    return found


LINK = re.compile(r"\]\(\s*<?([^)\s>]*)>?(?:\s+[\"'][^\"']*[\"'])?\s*\)")
REFERENCE = re.compile(r"^\s{0,3}\[[^\]]+\]:\s*<?(\S+?)>?(?:\s|$)", re.M)
HTML = re.compile(r"""(?:href|src)=["']([^"']+)["']""")


def link_problem(source: Path, target: str) -> str | None:
    """Why `target`, linked from `source`, does not lead to a file inside the repository."""
    scheme = re.match(r"^([a-zA-Z][a-zA-Z0-9+.-]*):", target)
    if scheme:
        return None if scheme.group(1).lower() in WEB else "not a web link"
    path_part, _, fragment = target.partition("#")
    if path_part.startswith("/"):
        return "an absolute path: link relative to the file"
    resolved = (source.parent / unquote(path_part)).resolve() if path_part else source
    if not resolved.is_relative_to(ROOT.resolve()):
        return "leads outside the repository"
    if not resolved.exists():
        return "no such file"
    if fragment and resolved.suffix == ".md" and unquote(fragment) not in anchors(resolved):
        return f"no heading #{fragment} in {resolved.relative_to(ROOT.resolve())}"
    return None


def test_markdown_links_stay_inside_the_repository() -> None:
    problems = []
    for path in markdown_files():
        text = prose(path.read_text(encoding="utf-8"))
        for pattern in (LINK, REFERENCE, HTML):
            for match in pattern.finditer(text):
                target = match.group(1)
                if target and (why := link_problem(path, target)) is not None:
                    line = text.count("\n", 0, match.start()) + 1
                    problems.append(f"{path.relative_to(ROOT)}:{line}: ({target}): {why}")
    assert problems == [], "\n".join(problems)


def test_no_file_names_what_lies_beside_the_clone() -> None:
    problems = []
    for path in repository_files():
        try:
            text = path.read_text(encoding="utf-8")
        except (UnicodeDecodeError, OSError):
            continue  # not a text file
        pattern = OUTSIDE_MARKDOWN if path.suffix == ".md" else OUTSIDE_CODE
        for number, line in enumerate(text.splitlines(), 1):
            if pattern.search(line):
                problems.append(f"{path.relative_to(ROOT)}:{number}: {line.strip()}")
    assert problems == [], (
        "these point outside the repository, where a clone has nothing (only the vendor "
        "specs may be named, where code reads them):\n" + "\n".join(problems)
    )


def test_the_link_check_catches_what_leaves_or_is_missing() -> None:
    page = DOCS / "index.md"
    assert link_problem(page, "../../elsewhere/notes.md") == "leads outside the repository"
    assert link_problem(page, "nothing-here.md") == "no such file"
    assert link_problem(page, "configuration.md#no-such-heading") is not None
    assert link_problem(page, "configuration.md#connectionsname") is None
    assert link_problem(page, "operations.md#exit-codes") is None
    assert link_problem(page, "/README.md") is not None
    assert link_problem(page, "https://example.com/x") is None


# --- configuration examples ---------------------------------------------------------------


def toml_examples() -> list[tuple[str, str]]:
    """Every `ihost.toml` example (a package's pyproject.toml excepted), by where it is."""
    found = []
    for path in [ROOT / "README.md", *sorted(DOCS.glob("*.md"))]:
        for line, language, block in fenced_blocks(path.read_text(encoding="utf-8")):
            if language == "toml" and not block.startswith("# pyproject.toml"):
                found.append((f"{path.relative_to(ROOT)}:{line}", block))
    return found


def python_modules() -> dict[str, str]:
    """The Python modules the docs show whole (a first line `# name.py`), by file name."""
    found = {}
    for path in sorted(DOCS.glob("*.md")):
        for _, language, block in fenced_blocks(path.read_text(encoding="utf-8")):
            name = re.match(r"# (\w+\.py)\n", block)
            if language == "python" and name:
                found[name.group(1)] = block
    return found


def shared_connections() -> str:
    """The connections of the configuration reference's whole file, which its snippets use."""
    text = (DOCS / "configuration.md").read_text(encoding="utf-8")
    first = next(
        block
        for _, language, block in fenced_blocks(text)
        if language == "toml" and "[connections." in block
    )
    tables = tomllib.loads(first)["connections"]
    return "".join(
        f"[connections.{name}]\n" + "".join(f"{k} = {json.dumps(v)}\n" for k, v in table.items())
        for name, table in tables.items()
    )


EXAMPLES = toml_examples()


def test_there_are_examples_to_validate() -> None:
    assert len(EXAMPLES) >= 6, EXAMPLES


@pytest.mark.parametrize(("where", "example"), EXAMPLES, ids=[where for where, _ in EXAMPLES])
def test_config_example_passes_validation(
    where: str, example: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, source in python_modules().items():
        (tmp_path / name).write_text(source)
    monkeypatch.syspath_prepend(str(tmp_path))
    text = example if "[connections." in example else shared_connections() + example
    path = tmp_path / "ihost.toml"
    path.write_text(text)
    env = {name: f"docs-example-{name.lower()}" for name in re.findall(r"\$\{(\w+)\}", text)}
    result = CliRunner().invoke(cli, ["-c", str(path), "config", "validate"], env=env)
    problems = (
        result.exception.problems
        if isinstance(result.exception, ConfigError)
        else [repr(result.exception)]
    )
    assert result.exit_code == 0 and "ok" in result.output, (
        f"{where}: `ihost config validate` refuses the example:\n" + "\n".join(problems)
    )


# --- what the code has, the docs name -----------------------------------------------------


def section(path: Path, heading: str) -> str:
    """The text of a `## heading` section."""
    text = path.read_text(encoding="utf-8")
    start = text.index(f"\n## {heading}\n")
    end = text.find("\n## ", start + 1)
    return text[start : end if end != -1 else len(text)]


def test_every_capability_is_documented_and_no_other() -> None:
    table = section(DOCS / "connectors.md", "Capabilities")
    documented = set(re.findall(r"^\| `(\w+)` \|", table, re.M))
    fields = set(Capabilities.model_fields)
    assert fields - documented == set(), "document these in docs/connectors.md#capabilities"
    assert documented - fields == set(), "docs/connectors.md documents capabilities there are not"


def test_every_config_key_is_documented() -> None:
    text = (DOCS / "configuration.md").read_text(encoding="utf-8")
    keys = {
        *config_module._TOP_KEYS,
        *config_module._STORE_KEYS,
        *config_module._FLOW_KEYS,
        *AlertSettings.model_fields,
        *(name for flow in flow_classes().values() for name in flow.Settings.model_fields),
        *(key for entity in ENTITIES for key in allowed_keys(entity)),
    }
    missing = sorted(key for key in keys if f"`{key}`" not in text and f"[{key}" not in text)
    assert missing == [], "document these keys in docs/configuration.md"


def test_every_command_is_in_the_readme() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    missing = [name for name in cli.commands if f"`ihost {name}" not in readme]
    assert missing == [], "add these commands to the README's command table"
