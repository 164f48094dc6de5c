"""The demo dashboard in a real browser (Debian's Chromium, driven by Playwright)."""

from __future__ import annotations

import shutil
import signal
from pathlib import Path

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
    from playwright.sync_api import sync_playwright

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
            assert page.locator("h1").inner_text().startswith("Run ")
            records = page.locator("#records").inner_text()
            assert "1001" in records and "created" in records and "CANDLE-01" in records

            page.get_by_role("link", name="Dead letters").click()
            letter = page.locator("#deadletters tr[data-letter]")
            assert letter.count() == 1 and "SKU CANDLE-01 not found" in letter.inner_text()
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
