"""ihost: a self-hosted integration host for webshops, POS and ERP/accounting systems."""

from host.connector import Connector
from host.hookspecs import hookimpl, hookspec

__all__ = ["Connector", "__version__", "hookimpl", "hookspec"]


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("ihost")
    except PackageNotFoundError:
        return "0+unknown"


__version__ = _version()
