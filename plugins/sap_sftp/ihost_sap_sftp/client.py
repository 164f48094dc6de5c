"""The SFTP side of SAP's file exchange, on paramiko: one pinned, key-only connection.

- The server's host key is pinned by a known_hosts line or an OpenSSH fingerprint
  (``SHA256:...``); an unknown or changed key is refused with the key it offered, never
  added. Key authentication only: no agent, no key search, no password.
- Writes are atomic: the file is written under a hidden temporary name in its folder and
  renamed into place (posix-rename where the server has it, which replaces an older copy of
  the same name; else a plain rename, after removing that copy).
- Every remote failure becomes the host's error classes: a refused key or host key is an
  AuthError, a server that cannot be reached or stops answering RemoteUnavailable.
"""

from __future__ import annotations

import base64
import errno
import hashlib
import logging
import posixpath
import stat
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import IO, Any

import paramiko

from host.errors import AuthError, ConfigError, RemoteUnavailable

log = logging.getLogger(__name__)
# paramiko's transport thread logs what it raises with a traceback; the client turns every
# failure into one of the host's errors, said in one line. Unless configured otherwise.
if logging.getLogger("paramiko").level == logging.NOTSET:
    logging.getLogger("paramiko").setLevel(logging.CRITICAL)

TEMP_PREFIX = "."
TEMP_SUFFIX = ".tmp"
_KEY_TYPES: tuple[type[paramiko.PKey], ...] = (
    paramiko.Ed25519Key,
    paramiko.ECDSAKey,
    paramiko.RSAKey,
)


def fingerprint(key: paramiko.PKey) -> str:
    """The key's fingerprint as OpenSSH prints it: ``SHA256:`` and unpadded base64."""
    digest = hashlib.sha256(key.asbytes()).digest()
    return "SHA256:" + base64.b64encode(digest).decode().rstrip("=")


def temp_name(name: str) -> str:
    """The hidden name a file is written under before it is renamed into place."""
    return f"{TEMP_PREFIX}{name}{TEMP_SUFFIX}"


def is_temp(name: str) -> bool:
    """Whether `name` is a writer's temporary or hidden file, which no reader takes."""
    return name.startswith(TEMP_PREFIX) or name.endswith(TEMP_SUFFIX)


def pinned_key(line: str) -> paramiko.PKey:
    """The key of a known_hosts line (``[host]:port ssh-ed25519 AAAA...``, or without the
    host names); ValueError when it is none."""
    fields = line.split()
    if len(fields) == 2:  # "ssh-ed25519 AAAA...": no host names
        fields = ["*", *fields]
    problem = "host_key is not a known_hosts line ([host]:port key-type base64)"
    if len(fields) < 3:
        raise ValueError(problem)
    try:
        entry = paramiko.hostkeys.HostKeyEntry.from_line(" ".join(fields[:3]))
    except Exception:  # paramiko's InvalidHostKey, binascii's errors, ...
        raise ValueError(problem) from None
    # a key cut short can still decode as some other key: it must give back what was written
    if entry is None or entry.key is None or entry.key.get_base64() != fields[2]:
        raise ValueError(problem)
    if entry.key.get_name() != fields[1]:
        raise ValueError(f"host_key says {fields[1]} but holds a {entry.key.get_name()} key")
    return entry.key


class _Pinned(paramiko.MissingHostKeyPolicy):
    """Accept the server's key only when it is the pinned one."""

    def __init__(self, key: paramiko.PKey | None, fingerprint_: str | None) -> None:
        self.key, self.fingerprint = key, fingerprint_

    def missing_host_key(self, client: paramiko.SSHClient, hostname: str, key: Any) -> None:
        offered = fingerprint(key)
        if self.key is not None and key.get_name() == self.key.get_name() and key == self.key:
            return
        if self.fingerprint is not None and offered == self.fingerprint:
            return
        pinned = fingerprint(self.key) if self.key is not None else self.fingerprint
        raise AuthError(
            f"the SFTP server {hostname} offered host key {key.get_name()} {offered}, which is "
            f"not the pinned {pinned}: refused (if the server's key really changed, set "
            "host_key to its new known_hosts line)"
        )


class SftpClient:
    """A connection to one SFTP server, opened on first use and kept until `close()`."""

    def __init__(
        self,
        *,
        host: str,
        port: int,
        username: str,
        key_file: Path,
        key_passphrase: str | None,
        host_key: str | None,
        host_key_fingerprint: str | None,
        timeout: float,
        keepalive: int,
        name: str,
    ) -> None:
        self.host, self.port, self.username = host, port, username
        self.key_file, self.key_passphrase = key_file, key_passphrase
        self.timeout, self.keepalive, self.name = timeout, keepalive, name
        self.policy = _Pinned(pinned_key(host_key) if host_key else None, host_key_fingerprint)
        self.key = self._key()  # a key ihost cannot use is a configuration error, found now
        self._ssh: paramiko.SSHClient | None = None
        self._sftp: paramiko.SFTPClient | None = None
        self.posix_rename = True  # until the server says it has no posix-rename

    @property
    def where(self) -> str:
        return f"{self.username}@{self.host}:{self.port}"

    def _key(self) -> paramiko.PKey:
        for kind in _KEY_TYPES:
            try:
                return kind.from_private_key_file(str(self.key_file), self.key_passphrase)
            except FileNotFoundError:
                raise ConfigError(f"{self.name}: key_file {self.key_file} does not exist") from None
            except PermissionError:
                raise ConfigError(f"{self.name}: key_file {self.key_file} cannot be read") from None
            except paramiko.PasswordRequiredException:
                raise ConfigError(
                    f"{self.name}: key_file {self.key_file} is encrypted: set key_passphrase"
                ) from None
            except (paramiko.SSHException, ValueError):
                continue  # another kind of key, or the wrong passphrase
        raise ConfigError(
            f"{self.name}: key_file {self.key_file} is not an Ed25519, ECDSA or RSA private key "
            "paramiko can read (or key_passphrase is wrong)"
        )

    @property
    def sftp(self) -> paramiko.SFTPClient:
        """The open SFTP session (connecting first)."""
        if self._sftp is None:
            self._connect()
        assert self._sftp is not None
        return self._sftp

    def _connect(self) -> None:
        key = self.key
        ssh = paramiko.SSHClient()
        ssh.set_missing_host_key_policy(self.policy)
        try:
            ssh.connect(
                self.host,
                self.port,
                username=self.username,
                pkey=key,
                allow_agent=False,
                look_for_keys=False,
                timeout=self.timeout,
                banner_timeout=self.timeout,
                auth_timeout=self.timeout,
                channel_timeout=self.timeout,
            )
            transport = ssh.get_transport()
            assert transport is not None
            if self.keepalive:
                transport.set_keepalive(self.keepalive)
            sftp = ssh.open_sftp()
            sftp.get_channel().settimeout(self.timeout)  # type: ignore[union-attr]
        except AuthError:
            ssh.close()
            raise
        except paramiko.AuthenticationException:
            ssh.close()
            raise AuthError(
                f"the SFTP server {self.host}:{self.port} refused the key for user {self.username}"
            ) from None
        except (OSError, EOFError, paramiko.SSHException) as exc:
            ssh.close()
            raise RemoteUnavailable(
                f"cannot reach the SFTP server {self.host}:{self.port}: {_words(exc)}"
            ) from None
        self._ssh, self._sftp = ssh, sftp

    def close(self) -> None:
        """Close the session; safe to call twice."""
        if self._ssh is not None:
            self._ssh.close()
        self._ssh = self._sftp = None

    @contextmanager
    def _remote(self, doing: str) -> Iterator[None]:
        """Turn a lost or hanging connection into RemoteUnavailable (and forget it)."""
        try:
            yield
        except (TimeoutError, EOFError, paramiko.SSHException, ConnectionError) as exc:
            self.close()
            raise RemoteUnavailable(
                f"the SFTP server {self.host}:{self.port} stopped answering while {doing}: "
                f"{_words(exc)}"
            ) from None

    # --- folders --------------------------------------------------------------------------

    def listdir(self, folder: str) -> list[paramiko.SFTPAttributes]:
        """The regular files of `folder`, sorted by name (the server's order is arbitrary)."""
        with self._remote(f"listing {folder}"):
            try:
                entries = self.sftp.listdir_attr(folder)
            except FileNotFoundError:
                raise ConfigError(
                    f"{self.name}: the folder {folder} does not exist on {self.where}"
                ) from None
            except PermissionError:
                raise AuthError(f"{self.where} does not let user list {folder}") from None
        files = [e for e in entries if e.st_mode is None or stat.S_ISREG(e.st_mode)]
        return sorted(files, key=lambda e: e.filename)

    def makedirs(self, folder: str) -> None:
        """Make `folder` and its parents where missing."""
        with self._remote(f"making {folder}"):
            missing = []
            current = folder.rstrip("/")
            while current and current != "/":
                try:
                    self.sftp.stat(current)
                    break
                except FileNotFoundError:
                    missing.append(current)
                    current = posixpath.dirname(current)
            for path in reversed(missing):
                try:
                    self.sftp.mkdir(path)
                except OSError:  # made meanwhile by another writer
                    self.sftp.stat(path)

    def exists(self, path: str) -> bool:
        with self._remote(f"looking for {path}"):
            try:
                self.sftp.stat(path)
            except FileNotFoundError:
                return False
        return True

    # --- files ----------------------------------------------------------------------------

    @contextmanager
    def open_read(self, path: str) -> Iterator[IO[bytes]]:
        """`path` opened for reading, prefetched (read ahead in the background)."""
        with self._remote(f"reading {path}"):
            handle = self.sftp.open(path, "rb")
            try:
                handle.prefetch()
                yield handle  # type: ignore[misc]
            finally:
                handle.close()

    def rename(self, source: str, target: str) -> None:
        """Rename `source` to `target`, which must not exist (SFTP's own rename); a missing
        source raises FileNotFoundError."""
        with self._remote(f"renaming {source}"):
            self.sftp.rename(source, target)

    def replace(self, source: str, target: str) -> None:
        """Rename `source` to `target`, replacing it: posix-rename where the server has
        it; else remove `target` and rename (the one moment `target` is absent)."""
        with self._remote(f"renaming {source}"):
            if self.posix_rename:
                try:
                    self.sftp.posix_rename(source, target)
                    return
                except OSError as exc:
                    if not _unsupported(exc):
                        raise
                    log.info("%s has no posix-rename: renaming by remove and rename", self.where)
                    self.posix_rename = False
            with suppress(FileNotFoundError):
                self.sftp.remove(target)
            self.sftp.rename(source, target)

    def remove(self, path: str) -> None:
        with self._remote(f"removing {path}"):
            self.sftp.remove(path)

    def write_atomic(self, folder: str, name: str, produce: Callable[[IO[bytes]], None]) -> None:
        """Write `folder/name` so that no reader ever sees it partial: `produce` writes the
        bytes under the hidden temporary name (closing it waits for the server to have them
        all), which is then renamed into place."""
        temp = posixpath.join(folder, temp_name(name))
        with self._remote(f"writing {name}"), self.sftp.open(temp, "wb") as handle:
            handle.set_pipelined(True)
            produce(handle)  # type: ignore[arg-type]
        self.replace(temp, posixpath.join(folder, name))


def _unsupported(exc: OSError) -> bool:
    return exc.errno in (errno.ENOTSUP, errno.EOPNOTSUPP) or "unsupported" in str(exc).lower()


def _words(exc: BaseException) -> str:
    return str(exc) or type(exc).__name__


__all__ = [
    "SftpClient",
    "fingerprint",
    "is_temp",
    "pinned_key",
    "temp_name",
]
