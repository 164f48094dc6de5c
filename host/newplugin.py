"""What `ihost new-plugin` brings to the connector template (templates/plugin).

The template renders from the project's own vocabulary: `TemplateVocabulary` is the Jinja
extension its cookiecutter.json names, giving the template the entities, order types and
record classes of host.vocabulary and host.models, and the `class_prefix` and `unaccented`
filters. The answers are checked here, by `answer_problems`: the command checks the `--set`
answers before anything is rendered, the template's pre-generation hook (run by cookiecutter with
the interpreter of `ihost`) checks them all, prompted and derived ones included.
"""

from __future__ import annotations

import importlib.util
import keyword
import re
import unicodedata
from collections.abc import Iterable, Mapping
from typing import Any

from jinja2 import Environment
from jinja2.ext import Extension

from host.models import RECORD_TYPES
from host.vocabulary import ENTITIES, ORDER_TYPES

__all__ = ["TemplateVocabulary", "answer_problems", "class_prefix", "listed", "unaccented"]

#: answer -> (pattern, most characters, the rule in words); the lengths keep the generated
#: code within the line length of the repository's lint
_NAMES = {
    "system": (r'[^\s"\\][^"\\\n]*', 40, "a name without quotes or backslashes"),
    "name": (r"[a-z][a-z0-9_]*", 24, "lower-case letters, digits and _, a letter first"),
    "package": (r"[a-z_][a-z0-9_]*", 30, "a Python package name"),
    "prefix": (r"[A-Z][A-Za-z0-9]*", 20, "a capital letter, then letters and digits"),
}


def unaccented(text: str) -> str:
    """`text` with the accents taken off its letters ("Café Zürich" -> "Cafe Zurich")."""
    return "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))


def class_prefix(system: str) -> str:
    """The prefix of a connector's class names: the first word of the system's name, its
    first letter upper case, letters and digits only ("Acme ERP" -> "Acme", "eBay" -> "EBay",
    "acme-erp" -> "Acme", "Café Kassa" -> "Cafe"). Empty when the name has no such word."""
    words = re.split(r"[\s_-]+", unaccented(system).strip())
    word = re.sub(r"[^A-Za-z0-9]", "", words[0]) if words else ""
    return word[:1].upper() + word[1:]


def listed(answer: str, vocabulary: Iterable[str]) -> list[str]:
    """The terms of a comma-separated answer that `vocabulary` knows, in its order."""
    given = {term.strip() for term in answer.split(",")}
    return [term for term in vocabulary if term in given]


class TemplateVocabulary(Extension):
    """The template's globals: `entities`, `order_types` (host.vocabulary), `record_types`
    (entity -> the name of its record class, host.models.RECORD_TYPES); its filters:
    `class_prefix`, `unaccented`, `entities_in` and `order_types_in` (the terms of an answer,
    in the vocabulary's order)."""

    def __init__(self, environment: Environment) -> None:
        super().__init__(environment)
        environment.globals.update(
            entities=ENTITIES,
            order_types=ORDER_TYPES,
            record_types={entity: model.__name__ for entity, model in RECORD_TYPES.items()},
        )
        environment.filters.update(
            class_prefix=class_prefix,
            unaccented=unaccented,
            entities_in=lambda answer: listed(answer, ENTITIES),
            order_types_in=lambda answer: listed(answer, ORDER_TYPES),
        )


def answer_problems(
    answers: Mapping[str, Any], questions: Mapping[str, Any] | None = None
) -> list[str]:
    """One line per answer that would make a connector that cannot load ("KEY: what is
    wrong; what to give"); answers not given are not checked. With `questions` (the
    template's cookiecutter.json) a key it does not ask and a choice it does not offer are
    problems too."""
    problems: list[str] = []
    if questions is not None:
        for key, value in answers.items():
            asked = questions.get(key)
            if key.startswith("_") or asked is None:
                known = ", ".join(k for k in questions if not k.startswith("_"))
                problems.append(f"{key}: the template asks no such thing; it asks {known}")
            elif isinstance(asked, list) and value not in asked:
                problems.append(f"{key}: {value!r} is not a choice; choose {', '.join(asked)}")
    for key, vocabulary, what in (
        ("reads", ENTITIES, "entities"),
        ("writes", ENTITIES, "entities"),
        ("order_types", ORDER_TYPES, "order types"),
    ):
        if key not in answers:
            continue
        given = [term.strip() for term in str(answers[key]).split(",") if term.strip()]
        if unknown := [term for term in given if term not in vocabulary]:
            problems.append(
                f"{key}: unknown {what} {', '.join(unknown)}; use {', '.join(vocabulary)}"
            )
    reads = listed(str(answers.get("reads", "")), ENTITIES)
    writes = listed(str(answers.get("writes", "")), ENTITIES)
    if "reads" in answers and "writes" in answers and not reads + writes:
        problems.append("reads, writes: name an entity it reads or writes")
    types = listed(str(answers.get("order_types", "")), ORDER_TYPES)
    if "orders" in writes and "order_types" in answers and not types:
        use = ", ".join(ORDER_TYPES)
        problems.append(f"order_types: an orders target takes one or more of {use}")
    for key, (pattern, most, rule) in _NAMES.items():
        value = str(answers.get(key, ""))
        if key in answers and not (re.fullmatch(pattern, value) and len(value) <= most):
            problems.append(
                f"{key}: {value!r} will not do: {rule}, at most {most} characters "
                f"(give another with --set {key}=...)"
            )
    package = str(answers.get("package", ""))
    if re.fullmatch(_NAMES["package"][0], package) and (
        keyword.iskeyword(package) or importlib.util.find_spec(package) is not None
    ):
        why = (
            "Python reserves it"
            if keyword.iskeyword(package)
            else "an installed module has that name, and one of the two would not import"
        )
        problems.append(
            f"package: {package!r} will not do: {why} (give another with --set package=...)"
        )
    for key, least in (("images", 0), ("stock_batch", 1)):
        if key in answers and not (str(answers[key]).isdigit() and int(answers[key]) >= least):
            problems.append(f"{key}: a whole number of at least {least}, not {answers[key]!r}")
    return problems
