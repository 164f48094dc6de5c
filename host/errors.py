"""The error taxonomy every connector and the host raise (DESIGN §8).

The runner decides what to do with a record by the class of the error: retry it
(TransientError, RateLimited), dead-letter it (RemoteRejected, RecordInvalid,
CapabilityError) or stop the run (AuthError, RemoteUnavailable, ConfigError).
"""

from __future__ import annotations


class IntegrationError(Exception):
    """Base of every error the host knows how to handle."""

    exit_code = 1


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
    """A failure worth retrying: 5xx, timeouts, dropped connections."""

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class RateLimited(TransientError):
    """The remote asked us to slow down; retry after `retry_after` seconds."""


class RemoteRejected(IntegrationError):
    """The remote refused this record (4xx); `message` is the remote's own words."""

    def __init__(self, message: str, status: int | None = None, details: object = None) -> None:
        super().__init__(message)
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
    ) -> None:
        super().__init__(message)
        self.key = key
        self.field = field
        self.payload = payload


class CapabilityError(IntegrationError):
    """The target cannot take this record or flow (no such hook or capability)."""


#: Errors after which a run cannot go on: the cursor stays where it was.
FATAL = (AuthError, RemoteUnavailable, ConfigError)
