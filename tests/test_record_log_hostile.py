"""The record log under a hostile user and a hostile remote: secrets echoed back in odd
forms, bodies that are not JSON or nest without end, records too big to keep, search
input that is not a key. The first tests are defects found this way, fixed with them."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest
from flow_data import customer
from helpers import fail, run_flow, run_ihost, write_config
from ihost_testconnectors.sandbox import RecordSandbox
from test_daemon import free_port, start, stop

from host.http import KEPT_CALLS, HttpClient, _kept_body, keeping_calls
from host.secrets import redactor
from host.store import Store

CUSTOMERS = """
[flows.customers]
kind = "customers"
source = "erp"
target = "shop"
"""
SECRET = "s3cr3t/Token+value=0123456789"


@pytest.fixture
def secret() -> Iterator[str]:
    """SECRET registered for redaction, as the config loader registers a token; forgotten
    after the test."""
    kept = {k: set(v) if isinstance(v, set) else v for k, v in vars(redactor).items()}
    redactor.add(SECRET)
    try:
        yield SECRET
    finally:
        vars(redactor).update(kept)


@pytest.fixture
def pair() -> Iterator[tuple[RecordSandbox, RecordSandbox]]:
    with RecordSandbox() as shop, RecordSandbox() as erp:
        yield shop, erp


def entries(tmp_path: Path, **query: object) -> list[dict]:
    with Store(f"sqlite:///{tmp_path / 'ihost.db'}") as store:
        return store.list_record_entries(oldest_first=True, **query)  # type: ignore[arg-type]


class _Answer(BaseHTTPRequestHandler):
    """Answers every request with the class's `body` and `content_type`, status 201."""

    body = b"{}"
    content_type = "application/json"

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.send_response(201)
        self.send_header("Content-Type", self.content_type)
        self.send_header("Content-Length", str(len(self.body)))
        self.end_headers()
        self.wfile.write(self.body)

    do_GET = do_POST

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def remote() -> Iterator[tuple[str, type[_Answer]]]:
    """A remote whose answer a test sets: (base URL, handler class)."""
    handler = type("Answer", (_Answer,), {})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", handler
    finally:
        server.shutdown()
        server.server_close()


# --- defects ------------------------------------------------------------------------------


@pytest.mark.parametrize("how", ["slash", "unicode"])
def test_a_secret_echoed_in_an_escaped_json_form_is_blanked(secret: str, how: str) -> None:
    # valid JSON for the same string: "/" as "\/", or its first letter "s" as "\u0073"
    text = secret.replace("/", "\\/") if how == "slash" else "\\u0073" + secret[1:]
    body = b'{"error": "invalid token ' + text.encode() + b'"}'
    kept = _kept_body(body, "application/json")
    assert secret not in json.dumps(kept)


def test_a_deeply_nested_answer_does_not_turn_a_successful_write_into_an_error(
    remote: tuple[str, type[_Answer]],
) -> None:
    base, handler = remote
    handler.body = b"[" * 5000 + b"]" * 5000
    with HttpClient(base, retries=1) as client, keeping_calls() as calls:
        response = client.post("/orders", json={"number": "1001"})
    assert response.status_code == 201
    assert calls and calls[0]["status"] == 201


def test_a_huge_record_that_fails_is_kept_cut_short(
    tmp_path: Path, pair: tuple[RecordSandbox, RecordSandbox]
) -> None:
    shop, erp = pair
    huge = "x" * 300_000
    erp.seed("customers", [{**customer("K1", "k1@example.com", company=huge), "id": "K1"}])
    fail(shop, "customers", "K1", 422, message="too long")
    path = write_config(tmp_path, {"shop": ("testshop", shop), "erp": ("testerp", erp)}, CUSTOMERS)
    result, report = run_flow(path, "customers")
    assert report["counts"]["failed"] == 1, result.output
    (entry,) = entries(tmp_path, search="K1")
    assert entry["action"] == "failed"
    assert len(json.dumps(entry["source"])) < 100_100


def test_a_secret_in_a_changed_field_stays_off_the_records_page(
    tmp_path: Path, pair: tuple[RecordSandbox, RecordSandbox]
) -> None:
    shop, erp = pair
    path = write_config(tmp_path, {"shop": ("testshop", shop), "erp": ("testerp", erp)}, CUSTOMERS)
    erp.seed("customers", [{**customer("K1", "k1@example.com", company="ACME"), "id": "K1"}])
    assert run_flow(path, "customers")[0].code == 0
    erp.seed("customers", [{**customer("K1", "k1@example.com", company=erp.token), "id": "K1"}])
    assert run_flow(path, "customers")[0].code == 0
    (_, updated) = entries(tmp_path, search="K1")
    assert updated["changes"]["company"][1] == erp.token  # kept in the store as is
    port = free_port()
    process = start(path, port)
    try:
        base = f"http://127.0.0.1:{port}"
        api = httpx.get(f"{base}/api/records", params={"q": "K1"}).text
        assert erp.token not in api  # the API blanks it
        page = httpx.get(f"{base}/records", params={"q": "K1"}).text
        assert "ACME" in page
        assert erp.token not in page
    finally:
        stop(process)


# --- what holds ---------------------------------------------------------------------------


def test_kept_bodies_blank_secrets_in_forms_and_survive_binary_and_bad_utf8(
    secret: str,
) -> None:
    form = str(httpx.QueryParams({"grant_type": "refresh_token", "client_secret": secret}))
    assert secret not in str(_kept_body(form.encode(), "application/x-www-form-urlencoded"))
    import base64

    basic = base64.b64encode(f"user:{secret}".encode()).decode()
    assert basic[6:] not in str(_kept_body(f"Basic {basic}".encode(), "text/plain"))
    deep = {"a": [{"b": {"client_secret": "x" * 10, "Authorization": "y"}}]}
    assert _kept_body(json.dumps(deep).encode(), "application/json") == {
        "a": [{"b": {"client_secret": "***", "Authorization": "***"}}]
    }
    for raw, kind in ((b"\x89PNG\r\n\x1a\n\x00\xff", "image/png"), (b'{"a": "\xff"}', "json")):
        kept = _kept_body(raw, kind)
        json.dumps(kept)  # storable
    assert isinstance(_kept_body(b"\x1f\x8b\x08\x00gz", "application/json"), str)


def test_more_than_twenty_calls_keep_the_first_the_latest_and_count_the_rest(
    remote: tuple[str, type[_Answer]],
) -> None:
    base, _ = remote
    with HttpClient(base, retries=1) as client, keeping_calls() as calls:
        for i in range(KEPT_CALLS + 5):
            client.get(f"/ping/{i}", params={"api_key": SECRET, "email": "a@example.com"})
    assert len(calls) == KEPT_CALLS + 1 and calls[-2] == {"more": 5}
    assert "/ping/0?" in calls[0]["url"] and "/ping/18?" in calls[-3]["url"]
    assert f"/ping/{KEPT_CALLS + 4}?" in calls[-1]["url"]  # the latest: the one that failed
    assert SECRET not in calls[0]["url"] and "a@example.com" not in calls[0]["url"]


@pytest.mark.parametrize("query", ["%", "_", "' OR 1=1 --", "a\x00b", "x" * 5000, "1001%"])
def test_odd_searches_find_nothing_and_break_nothing(tmp_path: Path, query: str) -> None:
    with Store(f"sqlite:///{tmp_path / 'ihost.db'}") as store:
        store.add_record_entries(
            [{"flow": "orders", "entity": "orders", "record_key": "1", "action": "created"}]
        )
        assert store.list_record_entries(search=query) == []
    if "\x00" not in query:  # no NUL in a command line
        path = tmp_path / "ihost.toml"
        path.write_text(f'[store]\nurl = "sqlite:///{tmp_path / "ihost.db"}"\n')
        found = run_ihost("-c", str(path), "records", query)
        assert found.code == 0 and "Nothing is kept" in found.out, found.output
