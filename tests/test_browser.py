"""The demo dashboard in a real browser (Debian's Chromium, driven by Playwright)."""

from __future__ import annotations

import re
import shutil
import signal
from pathlib import Path
from typing import Any

import pytest
import tomllib
from helpers import start_demo
from test_daemon import free_port

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = pytest.mark.skipif(
    CHROMIUM is None, reason="needs Debian's chromium (.ci/run installs it)"
)
FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def test_demo_dashboard_flows_run_and_dead_letter_retry(tmp_path: Path) -> None:
    from ihost_afas.client import AfasClient
    from playwright.sync_api import expect, sync_playwright

    demo, base = start_demo(tmp_path / "demo", free_port())
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(
                executable_path=CHROMIUM, headless=True, args=FLAGS
            )
            page = browser.new_page()
            page.goto(base)
            rows = page.locator("#flows tr[data-flow]")
            assert sorted(rows.evaluate_all("rs => rs.map(r => r.dataset.flow)")) == [
                "customers",
                "orders",
                "products",
                "shipments",
                "stock",
            ]

            page.locator('tr[data-flow="orders"] a').first.click()
            expect(page.locator("h1")).to_contain_text("Run ")  # the new page, loaded
            records = page.locator("#records").inner_text()
            assert "1001" in records and "created" in records and "CANDLE-01" in records

            page.get_by_role("link", name="Dead letters").click()
            letter = page.locator("#deadletters tr[data-letter]")
            # a navigating click returns before the page has loaded (it failed in CI once,
            # counting the rows at once): expect() waits for them
            expect(letter).to_have_count(1)
            assert "SKU CANDLE-01 not found" in letter.inner_text()
            page.screenshot(path=str(tmp_path / "deadletters.png"))

            # the article is created in AFAS, then the dead letter is retried from the page
            settings = tomllib.loads((tmp_path / "demo" / "ihost.toml").read_text())["connections"][
                "erp"
            ]
            afas = AfasClient("12345", settings["token"], "test", base_url=settings["base_url"])
            afas.insert(
                "FbItemArticle",
                {
                    "FbItemArticle": {
                        "Element": {
                            "Fields": {
                                "ItCd": "CANDLE-01",
                                "Ds": "Soy candle",
                                "Grp": "100",
                                "BiUn": "stk",
                                "VaRc": "2",
                            }
                        }
                    }
                },
            )
            afas.close()
            letter.get_by_role("button", name="retry").click()
            assert "resolved" in page.locator("#message").inner_text()
            assert page.locator("#deadletters tr[data-letter]").count() == 0
            assert "No open dead letters." in page.locator("#deadletters").inner_text()
            browser.close()
    finally:
        demo.send_signal(signal.SIGTERM)
        demo.communicate(timeout=30)
    assert demo.returncode == 0


def test_a_support_persons_day_records_dead_letters_flows_and_docs_offline(
    tmp_path: Path,
) -> None:
    """Find an order by its number across runs with its payloads and changes; filter dead
    letters and retry two in bulk; the flows page red while one is open, green after;
    Swagger UI with no network (any request off this machine is refused)."""
    import httpx
    from flow_data import address, order, product
    from ihost_testconnectors.sandbox import RecordSandbox
    from playwright.sync_api import expect, sync_playwright
    from test_daemon import config, start, stop, wait_for

    # a click that navigates returns once the new page is asked for, not loaded: each
    # check after one is an expect(), which waits for what it expects

    with RecordSandbox() as shop, RecordSandbox() as erp:
        erp.seed("products", [product("SKU-1")])
        shop.seed(
            "orders",
            [
                order("1", "1001"),
                order("2", "1002", skus=("SKU-9",)),
                order("3", "1003", skus=("SKU-8",)),
            ],
        )
        port = free_port()
        process = start(config(tmp_path, shop, erp, "every 1h"), port)
        base = f"http://127.0.0.1:{port}"
        off_machine: list[str] = []
        try:
            assert wait_for(lambda: httpx.get(f"{base}/api/flows").json()[0]["status"] == "failed")
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(
                    executable_path=CHROMIUM, headless=True, args=FLAGS
                )
                page = browser.new_page()

                def local_only(route: Any) -> None:
                    if route.request.url.startswith(base):
                        route.continue_()
                    else:
                        off_machine.append(route.request.url)
                        route.abort()

                page.route("**/*", local_only)
                page.goto(base)
                flow = page.locator('tr[data-flow="orders"]')
                assert flow.locator("td.attention").get_attribute("class") == "attention failed"
                assert "2 open dead letters" in flow.locator("td.attention").inner_text()

                # order 1001 changes in the shop after it was written; the next run says so
                changed = order(
                    "1",
                    "1001",
                    updated_at="2026-05-02T10:00:00+00:00",
                    shipping_address=address(street="Kerkstraat"),
                )
                shop.seed("orders", [changed])
                flow.get_by_role("button", name="run now").click()
                assert wait_for(lambda: len(httpx.get(f"{base}/api/runs").json()) == 2)
                assert wait_for(
                    lambda: httpx.get(f"{base}/api/runs").json()[0]["status"] != "running"
                )

                # "what happened to order 1001?", from the search box in the navigation
                page.get_by_label("find a record").fill("1001")
                page.get_by_label("find a record").press("Enter")
                expect(page.locator("h2").first).to_have_text("What happened to 1001")
                rows = page.locator("#entries tr[data-entry]")
                expect(rows).to_have_count(2)
                created, skipped = rows.nth(0), rows.nth(1)
                assert "created" in created.inner_text() and "skipped" in skipped.inner_text()
                entry = created.get_attribute("data-entry")
                payloads = page.locator(f'tr[data-payloads="{entry}"] details.payloads')
                assert not payloads.locator("text=read from the source").is_visible()
                payloads.locator("summary").click()
                assert payloads.locator("text=read from the source").is_visible()
                assert "buyer1@example.com" in payloads.inner_text()  # the order as read
                call = payloads.locator("h4.call").last
                assert call.is_visible() and "POST" in call.inner_text()
                assert payloads.locator("text=the target answered").last.is_visible()
                changes = skipped.locator("table.changes").inner_text()
                assert "shipping_address.street" in changes
                assert "Kerkstraat" in changes and "Dorpsstraat" in changes

                # the dead letters of one kind; the articles arrive; both retried at once
                page.get_by_role("link", name="Dead letters").click()
                page.get_by_label("error").select_option("invalid")
                page.get_by_role("button", name="show").click()
                expect(page).to_have_url(re.compile(r"kind=invalid"))
                letters = page.locator("#deadletters tr[data-letter]")
                expect(letters).to_have_count(2)
                assert "SKU SKU-9 not found" in letters.nth(0).inner_text()
                page.get_by_label("error").select_option("refused")
                page.get_by_role("button", name="show").click()
                expect(page).to_have_url(re.compile(r"kind=refused"))
                expect(letters).to_have_count(0)
                page.get_by_label("error").select_option("invalid")
                page.get_by_role("button", name="show").click()
                expect(page).to_have_url(re.compile(r"kind=invalid"))
                expect(letters).to_have_count(2)
                erp.seed("products", [product("SKU-9"), product("SKU-8")])
                for box in page.locator("#deadletters input[type=checkbox]").all():
                    box.check()
                page.get_by_role("button", name="retry selected").click()
                message = page.locator("#message").inner_text()  # waits for the new page
                assert message.count(": resolved") == 2, message
                expect(letters).to_have_count(0)

                # nothing needs a person now
                page.get_by_role("link", name="Flows").click()
                flow = page.locator('tr[data-flow="orders"]')
                expect(flow.locator("td.attention")).to_have_class("attention ok")

                # the API's Swagger UI, with every request off this machine refused
                page.get_by_role("link", name="API").click()
                page.locator(".swagger-ui .opblock").first.wait_for()
                assert page.get_by_text("/api/records", exact=True).first.is_visible()
                browser.close()
        finally:
            stop(process)
    assert off_machine == []
