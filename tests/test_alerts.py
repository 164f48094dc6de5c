"""Alerts from the daemon: a failed record notifies by log, webhook POST and SMTP e-mail."""

from __future__ import annotations

import json
import socketserver
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from flow_data import order, product
from helpers import run_ihost
from ihost_testconnectors.sandbox import RecordSandbox
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route
from test_daemon import config, free_port, start, stop, wait_for

from host.sandbox import Sandbox


class Receiver(Sandbox):
    def __init__(self) -> None:
        super().__init__()
        self.posts: list[dict] = []

    def routes(self) -> list[BaseRoute]:
        return [Route("/alerts", self._post, methods=["POST"])]

    async def _post(self, request: Request) -> Response:
        self.posts.append(json.loads(await request.body()))
        return Response(status_code=204)


class _Smtp(socketserver.StreamRequestHandler):
    def handle(self) -> None:
        self.wfile.write(b"220 test smtp\r\n")
        lines: list[bytes] = []
        receiving = False
        while line := self.rfile.readline():
            if receiving:
                if line.rstrip(b"\r\n") == b".":
                    receiving = False
                    self.server.messages.append(b"".join(lines).decode())  # type: ignore[attr-defined]
                    lines = []
                    self.wfile.write(b"250 queued\r\n")
                else:
                    lines.append(line)
                continue
            command = line[:4].upper()
            if command == b"DATA":
                receiving = True
                self.wfile.write(b"354 go ahead\r\n")
            elif command == b"QUIT":
                self.wfile.write(b"221 bye\r\n")
                return
            else:
                self.wfile.write(b"250 ok\r\n")


@pytest.fixture
def smtp() -> Iterator[socketserver.ThreadingTCPServer]:
    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), _Smtp)
    server.messages = []  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def test_failed_records_alert_by_webhook_and_email(
    tmp_path: Path, smtp: socketserver.ThreadingTCPServer
) -> None:
    with RecordSandbox() as shop, RecordSandbox() as erp, Receiver() as receiver:
        erp.seed("products", [product("SKU-1")])
        shop.seed("orders", [order("1", "1001"), order("2", "1002", skus=("SKU-9",))])
        path = config(tmp_path, shop, erp, "every 1h")
        path.write_text(
            path.read_text()
            + (
                '[alerts]\nnotify = ["log", "webhook", "email"]\n'
                f'webhook_url = "{receiver.base_url}/alerts"\nemail_to = ["ops@example.com"]\n'
                f'smtp_host = "127.0.0.1"\nsmtp_port = {smtp.server_address[1]}\n'
            )
        )
        process = start(path, free_port())
        try:
            assert wait_for(lambda: bool(receiver.posts) and bool(smtp.messages))  # type: ignore[attr-defined]
        finally:
            err = stop(process)
    (alert,) = receiver.posts
    assert alert["flow"] == "orders" and alert["status"] == "failed"
    assert alert["failed_records"] == 1 and alert["counts"]["created"] == 1
    assert alert["text"] == f"ihost: orders: 1 records failed (run {alert['run_id']})"
    (mail,) = smtp.messages  # type: ignore[attr-defined]
    assert "Subject: ihost: orders: 1 records failed" in mail and "To: ops@example.com" in mail
    assert "WARNING host.alerts: ihost: orders: 1 records failed" in err
    for text in (json.dumps(alert), mail):
        assert "@example.com" not in text.replace("ops@example.com", "")  # no customer e-mail


@pytest.mark.parametrize(
    ("table", "expected"),
    [
        (
            'notify = ["pager"]',
            "ihost.toml: [alerts] notify: no notifier 'pager' (installed: email, log, webhook)",
        ),
        (
            'notify = ["webhook"]',
            "ihost.toml: [alerts] notify: the webhook notifier needs webhook_url",
        ),
        (
            'notify = ["log"]\nsmtp_prot = 25',
            "ihost.toml: [alerts] smtp_prot: unknown key (did "
            "you mean 'smtp_port'?); allowed: email_from, "
            "email_to, notify, smtp_host, smtp_password, "
            "smtp_port, smtp_starttls, smtp_user, webhook_url",
        ),
    ],
)
def test_alerts_table_is_checked_at_load(tmp_path: Path, table: str, expected: str) -> None:
    with RecordSandbox() as shop, RecordSandbox() as erp:
        path = config(tmp_path, shop, erp, "every 1h")
        path.write_text(path.read_text() + f"[alerts]\n{table}\n")
        result = run_ihost("-c", str(path), "config", "validate")
    assert result.code == 2 and result.err.splitlines() == [expected]
