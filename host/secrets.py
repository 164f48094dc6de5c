"""Keeps secret values out of every output: logs, events, errors and the CLI.

The configuration loader registers each value it reads from the environment
(`${VAR}`) and each SecretStr setting; `redact` replaces them wherever they
appear. RedactingFormatter applies it to every log line.
"""

from __future__ import annotations

import logging
import threading

MASK = "***"
_MIN_LENGTH = 4  # shorter values would mask ordinary words and numbers


class Redactor:
    """A set of secret strings and the means to blank them out of text."""

    def __init__(self) -> None:
        self._secrets: set[str] = set()
        self._lock = threading.Lock()

    def add(self, value: str | None) -> None:
        """Remember `value` as a secret (values under 4 characters are ignored)."""
        if value and len(value) >= _MIN_LENGTH:
            with self._lock:
                self._secrets.add(value)

    def redact(self, text: str) -> str:
        """Return `text` with every registered secret replaced by ***."""
        if not self._secrets:
            return text
        for secret in sorted(self._secrets, key=len, reverse=True):
            if secret in text:
                text = text.replace(secret, MASK)
        return text


#: The process-wide redactor.
redactor = Redactor()


def redact(text: str) -> str:
    """Blank out every registered secret in `text`."""
    return redactor.redact(text)


class RedactingFormatter(logging.Formatter):
    """A log formatter whose output, tracebacks included, has every secret redacted."""

    def format(self, record: logging.LogRecord) -> str:
        return redact(super().format(record))
