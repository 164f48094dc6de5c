"""Fixtures of the SAP SFTP tests: the SFTP sandbox (SAP's side consuming only when a test
says so), an Asperion administration as the demo seeds it, and IHOST_SECRET_KEY."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from cryptography.fernet import Fernet
from ihost_asperion.sandbox import AsperionSandbox
from ihost_sap_sftp import demo
from ihost_sap_sftp.sandbox import SapSftpSandbox

from host.tokens import KEY_VARIABLE


@pytest.fixture
def sap() -> Iterator[SapSftpSandbox]:
    with SapSftpSandbox(sap_poll=None) as running:
        yield running


@pytest.fixture
def asperion(sap: SapSftpSandbox) -> Iterator[AsperionSandbox]:
    """The demo's administration: five articles with stock, Anna de Vries (10500)."""
    with AsperionSandbox() as running:
        demo.seed({"erp": running, "sap": _NoOrders()})
        yield running


class _NoOrders:
    """Where demo.seed puts SAP's orders: each test seeds its own."""

    def seed(self, kind: str, records: list) -> None:
        pass


@pytest.fixture
def secret_key(monkeypatch: pytest.MonkeyPatch) -> str:
    key = Fernet.generate_key().decode()
    monkeypatch.setenv(KEY_VARIABLE, key)
    return key
