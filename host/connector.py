"""What a connector class must have, as a `typing.Protocol` it can be checked against.

The host reads four class attributes without making an instance (discovery, `ihost plugins`,
the compatibility matrix) and makes one instance per configured connection from its
validated settings. Hooks are not part of the protocol: a connector implements the ones its
capabilities promise (host.hookspecs), and `ihost plugins` reports a mismatch. A `close()`
method, called when the host is done with a connection, is optional too.

Check a connector with mypy by naming its class where a `type[Connector]` is expected, for
example at the end of its plugin module:

    from host import Connector

    _checked: type[Connector] = AcmePlugin

mypy then reports an attribute that is missing or of the wrong type, and a constructor that
does not take the settings alone.
"""

from __future__ import annotations

from typing import Any, ClassVar, Protocol

from pydantic import BaseModel

from host.capabilities import Capabilities

__all__ = ["Connector"]


class Connector(Protocol):
    """A connector class: what an `ihost.plugins` entry point names."""

    #: The plugin name; equals the entry point's name.
    name: ClassVar[str]
    #: The system's name as users read it (`ihost plugins`, the dashboard).
    title: ClassVar[str]
    #: The settings of one connection: a pydantic model, secrets as `SecretStr`.
    Settings: ClassVar[type[BaseModel]]
    #: What the connector reads and writes; static, so the matrix needs no credentials.
    capabilities: ClassVar[Capabilities]

    def __init__(self, settings: Any) -> None:
        """Take one connection's validated `Settings`; make no remote call yet."""
