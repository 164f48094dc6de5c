"""The contract test kit for connector plugins (a pytest plugin; see contract.py)."""

from host.testing.contract import ContractTests

__all__ = ["ContractTests"]
