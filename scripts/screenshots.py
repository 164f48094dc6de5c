"""Take the README's screenshots of the dashboard: `make screenshots`.

Starts `ihost demo` in a temporary directory, lets its flows run once (order 1005 waits as
a dead letter for its article), and photographs the main pages with Debian's Chromium
into docs/img/. Needs the `chromium` package.
"""

from __future__ import annotations

import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
from playwright.sync_api import Page, sync_playwright

OUT = Path(__file__).resolve().parent.parent / "docs" / "img"
FLAGS = ["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking"]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _settled(base: str) -> bool:
    """Every demo flow has run once and none runs now."""
    try:
        flows = httpx.get(f"{base}/api/flows", timeout=2).json()
    except httpx.HTTPError:
        return False
    return all(f["last"] is not None and f["status"] != "running" for f in flows)


def _shoot(page: Page, path: str, name: str, open_details: int = 0) -> None:
    page.goto(path)
    for details in page.locator("details").all()[:open_details]:
        details.evaluate("d => d.open = true")
    page.screenshot(path=str(OUT / name))
    print(f"docs/img/{name}")


def main() -> int:
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        print("needs Chromium: apt-get install chromium", file=sys.stderr)
        return 2
    OUT.mkdir(parents=True, exist_ok=True)
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    with tempfile.TemporaryDirectory() as directory:
        ihost = str(Path(sys.executable).parent / "ihost")
        demo = subprocess.Popen(
            [ihost, "demo", "--dir", f"{directory}/demo", "--port", str(port)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            deadline = time.monotonic() + 120
            while not _settled(base):
                if demo.poll() is not None or time.monotonic() > deadline:
                    print("the demo did not start", file=sys.stderr)
                    return 1
                time.sleep(0.5)
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(
                    executable_path=chromium, headless=True, args=FLAGS
                )
                page = browser.new_page(viewport={"width": 1280, "height": 820})
                page.goto(base)
                _shoot(page, f"{base}/", "flows.png")
                _shoot(page, f"{base}/records?q=1001", "records.png", open_details=1)
                _shoot(page, f"{base}/deadletters", "deadletters.png")
                _shoot(page, f"{base}/runs", "runs.png")
                browser.close()
        finally:
            demo.send_signal(signal.SIGTERM)
            demo.wait(timeout=60)
    return 0


if __name__ == "__main__":
    sys.exit(main())
