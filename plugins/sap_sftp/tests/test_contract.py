"""The contract kit against the SAP SFTP sandbox: orders and deliveries read, materials,
customers, stock and orders written as files SAP's emulated file port takes."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from ihost_sap_sftp.demo import sap_orders
from ihost_sap_sftp.plugin import SapSftpPlugin
from ihost_sap_sftp.sandbox import SapSftpSandbox, new_ed25519_key

from host.errors import AuthError
from host.plugins import Connection
from host.testing import ContractTests


class TestSapSftpContract(ContractTests):
    plugin_class = SapSftpPlugin
    sandbox_class = SapSftpSandbox
    sandbox_kwargs = {"sap_poll": None}
    expect_records = {"orders", "shipments"}

    def prepare(self, sandbox: Any, connection: Connection) -> None:
        super().prepare(sandbox, connection)
        sandbox.seed("orders", sap_orders())
        sandbox.seed(
            "deliveries",
            [
                {
                    "E1EDL20": {
                        "VBELN": "0080000001",
                        "BOLNR": "3SKIT0001",
                        "E1EDL24": {
                            "POSNR": "000010",
                            "MATNR": "MUG-01",
                            "LFIMG": "6",
                            "E1EDL41": {"QUALI": "001", "BSTNR": "PO-7781"},
                        },
                    }
                }
            ],
        )

    def stock_of(self, sandbox: Any, connection: Connection, sku: str) -> Decimal | None:
        """What SAP holds once its file port has taken the snapshot."""
        sandbox.process_inbound()
        for row in sandbox.dump("stock"):
            if row["MATNR"] == sku:
                return Decimal(row["LABST"])
        return None

    def test_bad_credentials_raise_auth_error(self, sandbox: Any, tmp_path: Any) -> None:
        """A key the server does not know is refused (the settings hold no password)."""
        _, pem = new_ed25519_key()
        stranger = tmp_path / "stranger"
        stranger.write_text(pem)
        settings = {**self.settings(sandbox), "key_file": str(stranger)}
        with self._connect(settings) as conn, pytest.raises(AuthError, match="refused the key"):
            conn.hook.check_connection()
