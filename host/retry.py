"""One retry budget per record, shared by the runner and the HTTP toolkit.

A record (or one read from the source) may fail transiently `attempts - 1` times and
be tried again; the next failure fails it. Every layer spends from the same budget:
the HTTP client repeats a request that is safe to repeat (a read, a PUT, a request
carrying the remote's idempotency key, one the remote never received), and the runner
repeats the whole write of a record, its existence check first, when a request that
is not safe to repeat lost its answer. So a layer never multiplies the other's retries.

Rate limits (429, answered before the remote acts) wait as the remote asks without
spending the budget, up to RATE_LIMIT_WAITS a record.

The breaker belongs to the run: it stops the run (RemoteUnavailable: cursor untouched,
exit 3) when the remote has given no good answer for `unavailable_after` seconds, when
`records` records in a row failed on transient errors, or, at the end, when records failed
on transient errors and none went through.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from contextvars import ContextVar

from host.errors import RateLimited, RemoteUnavailable, TransientError

RATE_LIMIT_WAITS = 10
BREAKER_RECORDS = 5


class Breaker:
    """Stops a run whose remote keeps failing: in time, and in records in a row."""

    def __init__(
        self,
        unavailable_after: float,
        records: int = BREAKER_RECORDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.unavailable_after = unavailable_after
        self.records = records
        self._clock = clock
        self.last_ok = clock()
        self.failing = 0  # records in a row that failed on transient errors
        self.written = 0  # records that went through in this run
        self.last_failure: TransientError | None = None

    def succeeded(self) -> None:
        """The remote gave a good answer."""
        self.last_ok = self._clock()

    def check(self, exc: TransientError) -> None:
        """Raise RemoteUnavailable when the remote has failed for too long."""
        silent = self._clock() - self.last_ok
        if silent >= self.unavailable_after:
            raise RemoteUnavailable(
                f"no good answer for {silent:.0f} s (unavailable_after = "
                f"{self.unavailable_after:g}); last: {exc}",
                summary=f"no good answer for {silent:.0f} s; last: {exc.summary}",
            )

    def record_done(self, exc: TransientError | None) -> None:
        """Count a record that went through (None) or failed on `exc`; raise RemoteUnavailable
        after `records` failures in a row."""
        if exc is None:
            self.failing = 0
            self.written += 1
            return
        self.failing += 1
        self.last_failure = exc
        if self.failing >= self.records:
            raise RemoteUnavailable(
                f"{self.failing} records in a row failed on transient errors; last: {exc}",
                summary=f"{self.failing} records in a row failed on transient errors; "
                f"last: {exc.summary}",
            )

    def finish(self) -> None:
        """At the end of a run: raise RemoteUnavailable when records failed on transient
        errors and not one went through (a remote that hangs or refuses on every write
        stops the run, however few records it had)."""
        if self.written == 0 and self.last_failure is not None:
            exc = self.last_failure
            raise RemoteUnavailable(
                f"no record went through and {self.failing} failed on transient errors; "
                f"last: {exc}",
                summary=f"no record went through and {self.failing} failed on transient "
                f"errors; last: {exc.summary}",
            )


class RetryBudget:
    """What one record may still spend on transient failures."""

    def __init__(
        self,
        attempts: int,
        backoff: float,
        *,
        max_backoff: float = 60.0,
        breaker: Breaker | None = None,
    ) -> None:
        self.attempts = max(1, attempts)
        self.backoff = backoff
        self.max_backoff = max_backoff
        self.breaker = breaker or Breaker(float("inf"))
        self.failures = 0
        self.rate_waits = 0
        self.waited = 0.0  # seconds waited on rate limits
        self._delay = 0.0
        self._refused: BaseException | None = None

    def allows(self, exc: BaseException) -> bool:
        """Whether to try again after `exc` (spending from the budget); the wait is then
        `delay`. Raises RemoteUnavailable when the breaker trips."""
        if not isinstance(exc, TransientError) or exc is self._refused:
            return False
        if isinstance(exc, RateLimited):
            self.rate_waits += 1
            allowed = self.rate_waits <= RATE_LIMIT_WAITS
            self._delay = min(
                exc.retry_after if exc.retry_after is not None else self.backoff, self.max_backoff
            )
            self.waited += self._delay if allowed else 0.0
        else:
            self.breaker.check(exc)
            self.failures += 1
            allowed = self.failures < self.attempts
            ceiling = self.backoff * 2 ** (self.failures - 1)
            hinted = exc.retry_after
            self._delay = min(
                hinted if hinted is not None else random.uniform(ceiling / 2, ceiling),
                self.max_backoff,
            )
        if not allowed:
            self._refused = exc
        return allowed

    @property
    def delay(self) -> float:
        """Seconds to wait before the retry that `allows` granted."""
        return self._delay

    def succeeded(self) -> None:
        self.breaker.succeeded()

    def renew(self) -> None:
        """Start afresh, for the next record (cheaper than a new budget on a hot path)."""
        self.failures = self.rate_waits = 0
        self._refused = None


_current: ContextVar[RetryBudget | None] = ContextVar("ihost_retry_budget", default=None)


def current_budget() -> RetryBudget | None:
    """The budget of the record being written in this thread, if a run set one."""
    return _current.get()


class spending:  # lower case: used as a function, `with spending(budget):`
    """Make `budget` the current one for the calls inside."""

    __slots__ = ("budget", "token")

    def __init__(self, budget: RetryBudget) -> None:
        self.budget = budget

    def __enter__(self) -> RetryBudget:
        self.token = _current.set(self.budget)
        return self.budget

    def __exit__(self, *exc: object) -> None:
        _current.reset(self.token)
