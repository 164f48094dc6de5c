"""OAuth2 tokens kept in the store, encrypted, one set per connection.

A remote whose refresh tokens rotate (Lightspeed, Asperion) hands out a new refresh token
with every refresh and, soon after, refuses the old one: the newest must never be lost.
`TokenVault` keeps a connection's tokens in the store's `oauth_tokens` table, sealed with
Fernet (from `cryptography`) under the key in the environment variable IHOST_SECRET_KEY,
so the table never holds a token in clear text. Every write bumps a version number and
may require the version it replaces (compare and swap); `locked` is a lock across
processes under which one process at a time refreshes a connection's tokens.

Make a key with ``ihost auth --new-key`` and give it to every ihost process that runs the
connection (the daemon too). Without it, reading or writing tokens raises ConfigError.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from typing import TYPE_CHECKING

import sqlalchemy as sa

from host.auth import Tokens
from host.errors import ConfigError, FlowBusy, TransientError
from host.secrets import redactor
from host.store import FlowLock, Store
from host.store.schema import oauth_tokens

if TYPE_CHECKING:
    from cryptography.fernet import Fernet

KEY_VARIABLE = "IHOST_SECRET_KEY"
MAKE_KEY = "make one with `ihost auth --new-key` and set it for every ihost process"
#: how long a process waits for another one to finish refreshing the same connection
LOCK_WAIT = 120.0
_LOCK_POLL = 0.05


@dataclass(frozen=True)
class StoredTokens:
    """Tokens as the store holds them, with the version a later write may require."""

    tokens: Tokens
    version: int


class TokensChanged(TransientError):
    """The stored tokens were written by someone else since they were read."""

    def __init__(self, message: str) -> None:
        super().__init__(message, applied=False)


def new_key() -> str:
    """A fresh key for IHOST_SECRET_KEY (Fernet: 32 random bytes, url-safe base64)."""
    from cryptography.fernet import Fernet

    return Fernet.generate_key().decode("ascii")


def load_key(environ: Mapping[str, str] | None = None) -> Fernet:
    """The Fernet of IHOST_SECRET_KEY; ConfigError (one line, how to make one) when the
    variable is missing or does not hold a key."""
    from cryptography.fernet import Fernet

    value = (os.environ if environ is None else environ).get(KEY_VARIABLE, "").strip()
    if not value:
        raise ConfigError(
            f"{KEY_VARIABLE} is not set: OAuth2 tokens are stored encrypted with it; {MAKE_KEY}"
        )
    redactor.add(value)
    try:
        return Fernet(value)
    except ValueError:
        raise ConfigError(
            f"{KEY_VARIABLE} is not a key (32 bytes in url-safe base64, as Fernet makes "
            f"them); {MAKE_KEY}"
        ) from None


class TokenVault:
    """The OAuth2 tokens of connection `connection`, kept in the store at `store_url`.

    Nothing is opened until the tokens are first read or written; the key is needed only
    then (`check_key` asks for it at once). Safe to use from several processes: `write`
    with `expected_version` is a compare and swap, and `locked` serialises refreshes.
    """

    def __init__(
        self, store_url: str, connection: str, *, environ: Mapping[str, str] | None = None
    ) -> None:
        self.store_url = store_url
        self.connection = connection
        self._environ = environ
        self._fernet: Fernet | None = None

    def __repr__(self) -> str:
        return f"TokenVault({self.connection!r})"

    def check_key(self) -> None:
        """Raise ConfigError now when IHOST_SECRET_KEY is missing or malformed."""
        self._key()

    def read(self) -> StoredTokens | None:
        """The stored tokens and their version, or None when the connection has none yet."""
        with self._store() as store, store.transaction(write=False) as db:
            row = db.execute(
                sa.select(oauth_tokens.c.version, oauth_tokens.c.sealed).where(
                    oauth_tokens.c.connection == self.connection
                )
            ).first()
        if row is None:
            return None
        return StoredTokens(self._open(row.sealed), int(row.version))

    def write(self, tokens: Tokens, expected_version: int | None = None) -> int:
        """Store `tokens` in one transaction; returns their version. With `expected_version`
        the write happens only if the stored tokens still have that version (else
        TokensChanged); without it, whatever is stored is replaced."""
        sealed = self._key().encrypt(json.dumps(asdict(tokens)).encode()).decode("ascii")
        now = datetime.now(timezone.utc)
        where = oauth_tokens.c.connection == self.connection
        with self._store() as store, store.transaction() as db:
            current = db.execute(sa.select(oauth_tokens.c.version).where(where)).scalar()
            if expected_version is not None and current != expected_version:
                raise TokensChanged(
                    f"{self.connection}: the stored OAuth2 tokens changed while they were "
                    f"refreshed (version {current}, expected {expected_version})"
                )
            if current is None:
                db.execute(
                    oauth_tokens.insert().values(
                        connection=self.connection, version=1, sealed=sealed, updated_at=now
                    )
                )
                return 1
            changed = db.execute(
                oauth_tokens.update()
                .where(where, oauth_tokens.c.version == current)
                .values(version=current + 1, sealed=sealed, updated_at=now)
                .execution_options(preserve_rowcount=True)  # psycopg reports -1 otherwise
            ).rowcount
            if changed != 1:
                raise TokensChanged(f"{self.connection}: the stored OAuth2 tokens changed")
            return int(current) + 1

    @contextmanager
    def locked(self, wait: float = LOCK_WAIT) -> Iterator[None]:
        """Hold this connection's token lock (across processes; released when the holder
        dies) for the statements inside. Waits up to `wait` seconds for another holder,
        then raises TransientError."""
        with self._store() as store:
            lock = FlowLock(store, f"oauth:{self.connection}")
            deadline = time.monotonic() + wait
            while True:
                try:
                    lock.acquire()
                    break
                except FlowBusy:
                    if time.monotonic() >= deadline:
                        raise TransientError(
                            f"{self.connection}: another process has been refreshing the "
                            f"OAuth2 tokens for {wait:.0f} s",
                            applied=False,
                        ) from None
                    time.sleep(_LOCK_POLL)
            try:
                yield
            finally:
                lock.release()

    # --- inside -----------------------------------------------------------------------

    def _key(self) -> Fernet:
        if self._fernet is None:
            self._fernet = load_key(self._environ)
        return self._fernet

    def _open(self, sealed: str) -> Tokens:
        from cryptography.fernet import InvalidToken

        damaged = ConfigError(
            f"the OAuth2 tokens stored for connection {self.connection!r} are damaged: "
            f"authorize again with `ihost auth {self.connection}`"
        )
        if not isinstance(sealed, str) or not sealed.isascii():
            raise damaged
        try:
            content = self._key().decrypt(sealed.encode("ascii"))
        except InvalidToken:
            raise ConfigError(
                f"{KEY_VARIABLE} does not open the OAuth2 tokens stored for connection "
                f"{self.connection!r} (they were stored under another key): set that key, or "
                f"authorize again with `ihost auth {self.connection}`"
            ) from None
        try:
            tokens = Tokens(**json.loads(content))
        except (ValueError, TypeError):  # not JSON, not an object, other fields
            raise damaged from None
        if not isinstance(tokens.access_token, str):
            raise damaged
        tokens.register()
        return tokens

    @contextmanager
    def _store(self) -> Iterator[Store]:
        store = Store(self.store_url)
        try:
            yield store
        finally:
            store.close()
