"""The audit dashboard in a real browser (Debian's Chromium driven by Playwright)."""

from __future__ import annotations

import json
import shutil
import time
import urllib.request
from pathlib import Path

import pytest

from .test_end_to_end import _web_connector_cycle, system  # noqa: F401  (fixture)

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
pytestmark = [
    pytest.mark.e2e,
    pytest.mark.nats,
    pytest.mark.skipif(
        not Path(CHROMIUM).exists(),
        reason="needs Debian's chromium (apt-get install chromium); .ci/run installs it",
    ),
]

# As the machine's notes advise: no background networking on a closed network, no sandbox as root.
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def _posted_invoices(audit: str) -> int:
    with urllib.request.urlopen(f"{audit}/api/records?entity=invoice&status=posted") as resp:
        return len(json.loads(resp.read()))


def test_office_manager_finds_the_posted_invoice_and_its_quickbooks_trail(
    system: dict[str, str],  # noqa: F811
    tmp_path: Path,
) -> None:
    from playwright.sync_api import sync_playwright

    company = tmp_path / "quickbooks.sqlite"
    deadline = time.monotonic() + 90
    while _posted_invoices(system["audit"]) < 5 and time.monotonic() < deadline:
        _web_connector_cycle(system["gateway"], company)
        time.sleep(0.5)
    assert _posted_invoices(system["audit"]) == 5

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page()
        page.goto(f"{system['audit']}/")
        assert page.title() == "ml-connector audit"
        rows = page.locator("table tr").filter(has_text="invoice")
        assert rows.count() == 5
        demo = rows.filter(has_text="5001")
        assert demo.locator(".st").inner_text() == "posted"
        assert "total: 408.05" in demo.inner_text()
        assert "customer: Hernandez, Maria" in demo.inner_text()
        txn_id = demo.locator("td").nth(7).inner_text()
        assert txn_id

        # Filter to failures: there are none, so the table has only its header row.
        page.select_option("select[name=status]", "failed")
        page.click("button[type=submit]")
        page.wait_for_url("**status=failed**")
        assert page.locator("table tr").count() == 1

        page.goto(f"{system['audit']}/?entity=invoice&st_id=5001")
        page.locator("table tr td a").first.click()
        page.wait_for_url("**/records/**")
        heading = page.locator("h1").inner_text()
        assert heading == "invoice 5001 posted"
        trail = page.locator("body").inner_text()
        assert f"QuickBooks id {txn_id}" in trail
        assert "<RefNumber>5001</RefNumber>" in trail  # the qbXML sent, shown as text
        assert f"<TxnID>{txn_id}</TxnID>" in trail  # and QuickBooks' answer
        page.screenshot(path=str(tmp_path / "trail.png"), full_page=True)
        browser.close()
