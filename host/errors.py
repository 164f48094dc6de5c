"""The error taxonomy every connector and the host raise (DESIGN §8).

The runner decides what to do with a record by the class of the error: retry it
(TransientError, RateLimited), dead-letter it (RemoteRejected, RecordInvalid,
CapabilityError) or stop the run (AuthError, RemoteUnavailable, ConfigError).
"""

from __future__ import annotations

from pydantic import ValidationError


class IntegrationError(Exception):
    """Base of every error the host knows how to handle.

    `summary` is what the activity log, the logs and alerts show: keys, the field and
    what went wrong, never a record's values or the remote's own words (which may quote
    them); those stay in the message, kept in the dead letter. By default it is the
    message with quoted values and e-mail addresses blanked (host.secrets.scrub).
    """

    exit_code = 1

    def __init__(self, message: str = "", *, summary: str | None = None) -> None:
        super().__init__(message)
        self._summary = summary

    @property
    def summary(self) -> str:
        from host.secrets import scrub

        return scrub(self._summary if self._summary is not None else str(self))


class ConfigError(IntegrationError):
    """The configuration is wrong; `problems` holds one line per problem."""

    exit_code = 2

    def __init__(self, message: str, problems: list[str] | None = None) -> None:
        super().__init__(message)
        self.problems = problems or [message]


class AuthError(IntegrationError):
    """The remote refused the credentials (or a webhook signature did not match)."""

    exit_code = 3


class RemoteUnavailable(IntegrationError):
    """The remote cannot be reached or is down for longer than retries cover."""

    exit_code = 3


class TransientError(IntegrationError):
    """A failure worth retrying: 5xx, timeouts, dropped connections.

    `applied` says whether the remote may have acted on the request (an answer lost
    after it was sent): False when it certainly did not (the connection could not be
    made, 429), so even a write that is not idempotent may be sent again as it is.
    """

    def __init__(
        self,
        message: str,
        retry_after: float | None = None,
        *,
        applied: bool = True,
        summary: str | None = None,
    ) -> None:
        super().__init__(message, summary=summary)
        self.retry_after = retry_after
        self.applied = applied


class RateLimited(TransientError):
    """The remote asked us to slow down; retry after `retry_after` seconds. The request
    was not acted on."""

    def __init__(
        self, message: str, retry_after: float | None = None, *, summary: str | None = None
    ) -> None:
        super().__init__(message, retry_after, applied=False, summary=summary)


class RemoteRejected(IntegrationError):
    """The remote refused this record (4xx); `message` is the remote's own words."""

    def __init__(
        self,
        message: str,
        status: int | None = None,
        details: object = None,
        *,
        summary: str | None = None,
    ) -> None:
        super().__init__(message, summary=summary)
        self.status = status
        self.details = details


class RecordInvalid(IntegrationError):
    """A record cannot be written as it is; names the record and the field.

    A source that cannot convert one record yields (not raises) a RecordInvalid with the
    record's key and its native `payload`: the runner dead-letters it and reads on.
    """

    def __init__(
        self,
        message: str,
        key: str | None = None,
        field: str | None = None,
        payload: object = None,
        *,
        summary: str | None = None,
    ) -> None:
        super().__init__(message, summary=summary)
        self.key = key
        self.field = field
        self.payload = payload


class CapabilityError(IntegrationError):
    """The target cannot take this record or flow (no such hook or capability)."""


#: Errors after which a run cannot go on: the cursor stays where it was.
FATAL = (AuthError, RemoteUnavailable, ConfigError)


class FlowBusy(IntegrationError):
    """The flow is running already, in this process or another: this run did nothing."""

    exit_code = 2


#: what went wrong with a dead-lettered record, for filtering (error_kind)
ERROR_KINDS = {
    "invalid": "the record cannot be written as it is (a field, a missing reference)",
    "refused": "the remote refused it (4xx), in its own words",
    "unavailable": "the remote kept failing (timeouts, 5xx, rate limits) past the retries",
    "unsupported": "the target cannot take this record",
    "error": "anything else: a fault in a connector or the host",
}


def error_kind(exc: BaseException) -> str:
    """Which of ERROR_KINDS `exc` is."""
    if isinstance(exc, (RecordInvalid, ValidationError)):
        return "invalid"
    if isinstance(exc, RemoteRejected):
        return "refused"
    if isinstance(exc, TransientError):
        return "unavailable"
    if isinstance(exc, CapabilityError):
        return "unsupported"
    return "error"
