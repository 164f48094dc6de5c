"""Keeps secrets and personal data out of every output: logs, events, errors and the CLI.

The configuration loader registers each value it reads from the environment
(`${VAR}`) and each SecretStr setting; `redact` replaces them wherever they appear,
in every form a secret takes in a message: as given, escaped (repr, JSON), URL-encoded
and base64-encoded (as inside an `Authorization: Basic` or `AfasToken` header).
`scrub` goes further for the activity log and what the host logs about records: it
also blanks e-mail addresses (URL-encoded ones too) and quoted values, which may come
from a record. RedactingFormatter blanks secrets and e-mail addresses in every log line.
"""

from __future__ import annotations

import base64
import json
import logging
import re
import threading
import unicodedata
from urllib.parse import quote, quote_plus

MASK = "***"
_MIN_LENGTH = 4  # shorter values would mask ordinary words and numbers
_MIN_FRAGMENT = 8  # the shortest base64 fragment worth masking on its own

_EMAIL = re.compile(r"[\w.+%-]+(?:@|%40|%2540)[\w-]+(?:\.[\w-]+)+", re.IGNORECASE)
#: a value in quotes, straight or typographic (an apostrophe inside a word is not a quote)
_OPEN_CLOSE = (("\u2018", "\u2019"), ("\u201c", "\u201d"), ("\u00ab", "\u00bb"))
_QUOTED = re.compile(
    r"""(?<!\w)'[^'\n]{1,300}'(?!\w)|(?<!\w)"[^"\n]{1,300}"(?!\w)|"""
    + "|".join(f"{a}[^{b}\\n]{{1,300}}{b}" for a, b in _OPEN_CLOSE)
)


def _base64_forms(value: bytes) -> set[str]:
    """The parts of base64 text that encode `value` wherever it sits in a longer string:
    for each of the three alignments, the characters that depend on `value` alone."""
    forms: set[str] = set()
    for encode in (base64.b64encode, base64.urlsafe_b64encode):
        for offset in range(3):
            text = encode(b"\0" * offset + value).decode().rstrip("=")
            start = (offset * 8 + 5) // 6  # first character free of the padding bytes
            end = (len(b"\0" * offset + value) * 8) // 6  # last one holding only value bits
            fragment = text[start:end]
            if len(fragment) >= _MIN_FRAGMENT:
                forms.add(fragment)
    return forms


def forms_of(value: str) -> set[str]:
    """Every form of `value` worth masking: as given, stripped, escaped, URL-encoded and
    base64-encoded; forms shorter than the minimum are left out."""
    forms = {value, value.strip()}
    forms.add(value.encode("unicode_escape").decode("ascii"))
    forms.add(repr(value)[1:-1])
    forms.add(json.dumps(value)[1:-1])
    forms.add(json.dumps(value, ensure_ascii=False)[1:-1])
    for form in list(forms):
        forms.update({quote(form, safe=""), quote(form), quote_plus(form)})
    forms |= _base64_forms(value.encode())
    forms |= _base64_forms(value.strip().encode())
    return {f for f in forms if len(f) >= _MIN_LENGTH}


class Redactor:
    """A set of secret strings and the means to blank them out of text."""

    def __init__(self) -> None:
        self._forms: set[str] = set()
        self._pattern: re.Pattern[str] | None = None
        self._lock = threading.Lock()

    def add(self, value: str | None) -> None:
        """Remember `value` as a secret, in every form (values under 4 characters are
        ignored). A credential header value such as ``Bearer x`` counts with its token."""
        if not value or len(value.strip()) < _MIN_LENGTH:
            return
        forms = forms_of(value)
        scheme, _, token = value.strip().partition(" ")
        if token and re.fullmatch(r"[A-Za-z][\w-]*", scheme):
            forms |= forms_of(token)
        with self._lock:
            if forms <= self._forms:
                return
            self._forms |= forms
            ordered = sorted(self._forms, key=len, reverse=True)
            self._pattern = re.compile("|".join(re.escape(f) for f in ordered))

    def redact(self, text: str) -> str:
        """Return `text` with every registered secret, in any of its forms, replaced by ***."""
        pattern = self._pattern
        return text if pattern is None else pattern.sub(MASK, text)


#: The process-wide redactor.
redactor = Redactor()


def redact(text: str) -> str:
    """Blank out every registered secret in `text`."""
    return redactor.redact(text)


def scrub(text: str) -> str:
    """`text` fit for the activity log and the logs: secrets, e-mail addresses (plain or
    URL-encoded) and quoted values blanked out. Keys, actions and field names stay."""
    return _QUOTED.sub("'…'", _EMAIL.sub("<e-mail>", redact(text)))


def secret_problem(value: str) -> str | None:
    """Why `value` cannot be a secret (empty, or holding a control character such as a
    trailing CR or LF), or None when it can."""
    if not value:
        return "is empty"
    for char in value:
        if unicodedata.category(char) == "Cc":
            name = {"\r": "CR", "\n": "LF", "\t": "TAB"}.get(char, f"U+{ord(char):04X}")
            return f"contains a control character ({name})"
    return None


class RedactingFormatter(logging.Formatter):
    """A log formatter whose lines, tracebacks included, have secrets and e-mail addresses
    (URL-encoded ones too) blanked out. What the host logs about records is already
    scrubbed where it is written (IntegrationError.summary)."""

    def format(self, record: logging.LogRecord) -> str:
        return _EMAIL.sub("<e-mail>", redact(super().format(record)))
