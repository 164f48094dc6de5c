"""Shopify's search syntax (api/shopify.md §3).

`field:value` terms joined by whitespace (AND) or OR, NOT / `-` to negate, parentheses
to group, comparators `:<`, `:>`, `:<=`, `:>=`, values quoted with ' or ", a trailing
`*` for a prefix match, and free text (a bare word) matched against the resource's
default fields (the `""` entry of the field map). Dates may be given as a day
(`updated_at:>=2026-05-01`, read as midnight UTC) or a full ISO 8601 timestamp.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from datetime import datetime, timezone
from typing import Any

_TOKEN = re.compile(
    r"""\s*(?:(?P<open>\()|(?P<close>\))|(?P<term>-?[A-Za-z_][\w.]*:(?:<=|>=|<|>)?(?:'[^']*'|"[^"]*"|[^\s()]+))|(?P<word>[^\s()]+))"""
)

Predicate = Callable[[Mapping[str, Any]], bool]
_WORD = re.compile(r"[A-Za-z0-9]+")


class Tokenized(str):
    """A value searched as Shopify searches text: every word of the query must be a word
    of the value, so `sku:A-1` also finds "A-1-B" (a near match)."""


class SearchError(ValueError):
    """The query cannot be parsed, or names a field that cannot be searched."""


def _compare(actual: Any, op: str, wanted: str) -> bool:
    if actual is None:
        return False
    if isinstance(actual, list):
        return any(_compare(item, op, wanted) for item in actual)
    text = str(actual)
    if op == ":" and isinstance(actual, Tokenized) and not wanted.endswith("*"):
        words = {w.lower() for w in _WORD.findall(text)}
        return {w.lower() for w in _WORD.findall(wanted)} <= words
    if op == ":" and wanted.endswith("*"):
        return text.lower().startswith(wanted[:-1].lower())
    if op == ":":
        return text.lower() == wanted.lower()
    left, right = _orderable(text), _orderable(wanted)
    if type(left) is not type(right):  # a date against a word: compare the text
        left, right = text, wanted
    return {"<": left < right, ">": left > right, "<=": left <= right, ">=": left >= right}[
        op.lstrip(":")
    ]


def _orderable(text: str) -> Any:
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        pass
    else:
        return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)
    try:
        return float(text)
    except ValueError:
        return text


def compile_search(query: str | None, fields: Mapping[str, Callable[[Any], Any]]) -> Predicate:
    """A predicate over nodes for `query`; `fields` maps a search field to its value."""
    if not query or not query.strip():
        return lambda node: True
    tokens = []
    for match in _TOKEN.finditer(query):
        kind = match.lastgroup
        tokens.append((kind, match.group(kind)))
    position = 0

    def peek() -> tuple[str, str] | None:
        return tokens[position] if position < len(tokens) else None

    def take() -> tuple[str, str]:
        nonlocal position
        position += 1
        return tokens[position - 1]

    def parse_or() -> Predicate:
        parts = [parse_and()]
        while peek() == ("word", "OR"):
            take()
            parts.append(parse_and())
        return parts[0] if len(parts) == 1 else (lambda n: any(p(n) for p in parts))

    def parse_and() -> Predicate:
        parts = []
        while (token := peek()) is not None and token[0] != "close" and token != ("word", "OR"):
            if token == ("word", "AND"):
                take()
                continue
            parts.append(parse_unary())
        if not parts:
            raise SearchError(f"empty expression in {query!r}")
        return parts[0] if len(parts) == 1 else (lambda n: all(p(n) for p in parts))

    def parse_unary() -> Predicate:
        kind, text = take()
        if (kind, text) == ("word", "NOT"):
            inner = parse_unary()
            return lambda n: not inner(n)
        if kind == "open":
            inner = parse_or()
            if peek() is None or take()[0] != "close":
                raise SearchError(f"unbalanced parentheses in {query!r}")
            return inner
        if kind == "term":
            return term(text)
        if kind == "word" and "" in fields:
            return term("-:" + text[1:] if text.startswith("-") else ":" + text)
        raise SearchError(f"cannot search for {text!r}: use field:value")

    def term(text: str) -> Predicate:
        negate = text.startswith("-")
        text = text.lstrip("-")
        field, _, rest = text.partition(":")
        op = ":"
        for candidate in ("<=", ">=", "<", ">"):
            if rest.startswith(candidate):
                op, rest = ":" + candidate, rest[len(candidate) :]
                break
        value = rest.strip("'\"")
        getter = fields.get(field)
        if getter is None:
            known = ", ".join(sorted(f for f in fields if f))
            raise SearchError(
                f"unknown search field {field!r}: not emulated by the ihost sandbox "
                f"(searchable: {known})"
            )
        check: Predicate = lambda n: _compare(getter(n), op, value)  # noqa: E731
        return (lambda n: not check(n)) if negate else check

    predicate = parse_or()
    if position != len(tokens):
        raise SearchError(f"unexpected {tokens[position][1]!r} in {query!r}")
    return predicate
