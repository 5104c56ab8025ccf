"""The audit dashboard in a real browser (Debian's Chromium driven by Playwright).

- The office manager finds a posted invoice and reads its trail.
- A bill fails in QuickBooks (its GL account is mapped to an account QuickBooks does not have:
  3140 from the simulated QuickBooks); she filters to failures, opens it, the mapping is fixed
  through the CLI, she presses Retry, the Web Connector calls, the record is posted.
- The reconciliation page shows the difference of an invoice whose QuickBooks amount differs
  (published as the gateway publishes it: an Outcome "differs" with QuickBooks' read-back
  amounts), and one click opens the records behind it.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import os
import shutil
import subprocess
import sys
import time
import urllib.request
from decimal import Decimal
from pathlib import Path
from typing import Any

import nats
import pytest
import yaml

from mlconnector.common.connections import Connection, ConnectionStore
from mlconnector.common.envelopes import Command, Outcome, StEvent
from mlconnector.common.models import Invoice, InvoiceLine
from mlconnector.common.streams import (
    command_subject,
    declare_all,
    outcome_subject,
    st_event_subject,
)
from mlconnector.qbsim.company import Company

from .conftest import StartService, free_port
from .test_end_to_end import TENANT as DEMO_TENANT
from .test_end_to_end import _add_connection, _web_connector_cycle, system  # noqa: F401

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
MLCONNECTOR = str(Path(sys.executable).parent / "mlconnector")
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


def _records(audit: str, **filters: str) -> list[dict[str, Any]]:
    query = "&".join(f"{k}={v}" for k, v in filters.items())
    with urllib.request.urlopen(f"{audit}/api/records?{query}", timeout=10) as resp:
        return list(json.loads(resp.read()))


def _posted_invoices(audit: str) -> int:
    return len(_records(audit, entity="invoice", status="posted"))


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
        page.select_option("select[name=entity]", "invoice")
        page.click("form.filters button[type=submit]")
        page.wait_for_url("**entity=invoice**")
        rows = page.locator("table.records tbody tr")
        assert rows.count() == 5
        demo = rows.filter(has_text="Hernandez, Maria").filter(has_text="5001")
        cells = demo.locator("td")
        # Date, type, reference, customer, amount as columns.
        assert [cells.nth(i).inner_text() for i in range(5)] == [
            "2025-03-14",
            "invoice",
            "5001",
            "Hernandez, Maria",
            "408.05",
        ]
        assert demo.locator(".st").inner_text() == "posted"
        txn_id = cells.nth(6).inner_text()
        assert txn_id
        # Local time, to the second, no microseconds.
        updated = cells.nth(9).inner_text()
        assert updated.endswith(" UTC")
        assert len(updated) == len("2025-03-14 22:20:01 UTC")
        assert page.locator(".range").first.inner_text() == "1–5 of 5"

        # Filter to failures: there are none, and the page says so in words.
        page.select_option("select[name=status]", "failed")
        page.click("form.filters button[type=submit]")
        page.wait_for_url("**status=failed**")
        assert page.locator("p.empty").inner_text() == "No failed invoices match these filters."
        assert page.locator("table.records").count() == 0

        page.goto(f"{system['audit']}/?q=5001&entity=invoice")
        page.locator("table.records tbody tr td a").first.click()
        page.wait_for_url("**/records/**")
        assert page.locator("h1").inner_text() == "Invoice 5001 posted"
        trail = page.locator("body").inner_text()
        assert f"QuickBooks id {txn_id}" in trail
        assert "QuickBooks posted it" in trail
        # The qbXML is folded: shown, indented, once its fold is opened.
        sent = page.locator("details", has_text="qbXML sent").first
        assert not sent.locator("pre").is_visible()
        sent.locator("summary").click()
        shown = sent.locator("pre").inner_text()
        assert "\n  <InvoiceAdd>\n" in shown
        assert "\n    <RefNumber>5001</RefNumber>\n" in shown
        answer = page.locator("details", has_text="QuickBooks' answer (qbXML)").first
        answer.locator("summary").click()
        assert f"<TxnID>{txn_id}</TxnID>" in answer.locator("pre").inner_text()
        page.screenshot(path=str(tmp_path / "trail.png"), full_page=True)
        browser.close()


def _mapping(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [MLCONNECTOR, "connection", "mapping", "demo", *args],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, **env},
    )


@pytest.fixture
def system_with_wrong_mapping(
    nats_url: str, tmp_path: Path, start_service: StartService
) -> dict[str, str]:
    """The demo system (as test_end_to_end's `system`), its connection's mapping set through
    the CLI before ServiceTitan's records arrive: "Job Materials" to an account QuickBooks
    does not have."""
    asyncio.run(_add_connection(nats_url))
    env = {"NATS_URL": nats_url, "MLCONNECTOR_HOME": str(tmp_path / "cli")}
    wrong = yaml.safe_dump({"gl_account_map": {"Job Materials": "Supplies Old"}})
    (tmp_path / "wrong.yaml").write_text(wrong)
    stored = _mapping(env, str(tmp_path / "wrong.yaml"))
    assert stored.returncode == 0, stored.stderr
    ports = {name: free_port() for name in ("sandbox", "audit", "gateway", "ingest")}
    base = {"NATS_URL": nats_url, "MLCONNECTOR_HOME": str(tmp_path / "home")}
    urls = {name: f"http://127.0.0.1:{port}" for name, port in ports.items()}
    start_service(
        "st-sandbox",
        "mlconnector-st-sandbox",
        {**base, "STSANDBOX_PORT": str(ports["sandbox"]), "STSANDBOX_TENANT": DEMO_TENANT},
        f"{urls['sandbox']}/healthz",
    )
    start_service(
        "audit",
        "mlconnector-audit",
        {
            **base,
            "AUDIT_PORT": str(ports["audit"]),
            "AUDIT_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'audit.db'}",
        },
        f"{urls['audit']}/healthz",
    )
    start_service("mapper", "mlconnector-mapper", base, None)
    gateway_url = f"{urls['gateway']}/qbwc"
    start_service(
        "qbwc-gateway",
        "mlconnector-qbwc-gateway",
        {**base, "QBWC_PORT": str(ports["gateway"]), "QBWC_PUBLIC_URL": gateway_url},
        f"{urls['gateway']}/healthz",
    )
    start_service(
        "st-ingest",
        "mlconnector-st-ingest",
        {
            **base,
            "INGEST_PORT": str(ports["ingest"]),
            "ST_API_BASE_URL": urls["sandbox"],
            "ST_AUTH_URL": urls["sandbox"],
            "ST_CLIENT_ID": "sandbox-client",
            "ST_CLIENT_SECRET": "sandbox-secret",
            "ST_APP_KEY": "sandbox-app-key",
            "ST_TENANT": DEMO_TENANT,
            "ST_POLL_SECONDS": "1",
        },
        f"{urls['ingest']}/healthz",
    )
    return {"audit": urls["audit"], "gateway": gateway_url, **env}


def test_a_failed_bill_is_fixed_through_the_cli_and_retried_from_the_dashboard(
    system_with_wrong_mapping: dict[str, str], tmp_path: Path
) -> None:
    from playwright.sync_api import sync_playwright

    running = system_with_wrong_mapping
    audit = running["audit"]
    env = {"NATS_URL": running["NATS_URL"], "MLCONNECTOR_HOME": running["MLCONNECTOR_HOME"]}
    company = tmp_path / "quickbooks.sqlite"

    def bills() -> dict[int, str]:
        return {r["st_id"]: r["status"] for r in _records(audit, entity="bill")}

    deadline = time.monotonic() + 120
    while bills() != {6001: "posted", 6002: "failed"} and time.monotonic() < deadline:
        _web_connector_cycle(running["gateway"], company)
        time.sleep(0.5)
    assert bills() == {6001: "posted", 6002: "failed"}
    [failed] = _records(audit, status="failed")
    assert failed["reference"] == "LSH-240517"
    assert failed["message"].startswith("QuickBooks status 3140: ")
    assert "Supplies Old" in failed["message"]

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page()
        page.goto(f"{audit}/")
        page.select_option("select[name=status]", "failed")
        page.click("form.filters button[type=submit]")
        page.wait_for_url("**status=failed**")
        rows = page.locator("table.records tbody tr")
        assert rows.count() == 1
        assert "Lone Star HVAC Supply" in rows.first.inner_text()
        assert "226.67" in rows.first.inner_text()
        assert page.locator("button.retry-all").inner_text() == "Retry all 1 failed in this filter"
        rows.first.locator("td a").first.click()
        page.wait_for_url("**/records/**")
        assert page.locator("h1").inner_text() == "Bill LSH-240517 failed"
        todo = page.locator(".todo").inner_text()
        assert "QuickBooks status 3140" in todo
        assert "Supplies Old" in todo

        # The accountant fixes the mapping through the CLI (back to the defaults).
        default = _mapping(env, "--print-default")
        (tmp_path / "fixed.yaml").write_text(default.stdout)
        fixed = _mapping(env, str(tmp_path / "fixed.yaml"))
        assert fixed.returncode == 0, fixed.stderr
        time.sleep(2.5)  # the mapper's connection cache (above)

        page.click("button.retry")
        page.wait_for_url("**retried=1**")
        assert "Retry sent" in page.locator("p.notice").inner_text()
        deadline = time.monotonic() + 90
        while bills()[6002] != "posted" and time.monotonic() < deadline:
            _web_connector_cycle(running["gateway"], company)
            time.sleep(0.5)
        page.reload()
        assert page.locator("h1").inner_text() == "Bill LSH-240517 posted"
        timeline = page.locator("ol.timeline").inner_text()
        assert "Retry requested sent again by a retry" in timeline
        assert timeline.index("QuickBooks refused it") < timeline.index("QuickBooks posted it")
        page.screenshot(path=str(tmp_path / "retried.png"), full_page=True)
        page.goto(f"{audit}/?status=failed")
        assert page.locator("p.empty").inner_text() == "No failed records."
        browser.close()

    # In QuickBooks once, to the account ServiceTitan named.
    books = Company(company)
    lone_star = [b for b in books.bills() if b.ref_number == "LSH-240517"]
    assert len(lone_star) == 1
    assert lone_star[0].amount_due == Decimal("226.67")
    assert [line.account.full_name for line in lone_star[0].lines[:2] if line.account] == [
        "Job Materials",
        "Job Materials",
    ]


# --- reconciliation, from the messages the other services publish --------------------------

TENANT = "1234567"
DAY = dt.date(2026, 11, 2)
AT = dt.datetime(2026, 11, 2, 15, 0, tzinfo=dt.UTC)


def _invoice(st_id: int, total: str) -> StEvent:
    amount = Decimal(total)
    return StEvent(
        tenant=TENANT,
        entity="invoice",
        st_id=st_id,
        version="v1",
        received_at=AT,
        record=Invoice(
            st_id=st_id,
            number=str(st_id),
            customer_st_id=1001,
            customer_name="Hernandez, Maria",
            invoice_date=DAY,
            subtotal=amount,
            sales_tax=Decimal("0"),
            total=amount,
            lines=(
                InvoiceLine(
                    st_id=1, sku_name="Labor", quantity=Decimal(1), price=amount, total=amount
                ),
            ),
        ),
    )


async def _publish_day(url: str) -> None:
    nc = await nats.connect(url)
    js = nc.jetstream()
    await declare_all(js)
    await (await ConnectionStore.open(js)).put(
        Connection.create("acme", TENANT, "acme-qb", "correct horse battery").model_copy(
            update={"time_zone": "America/Chicago"}
        )
    )
    for st_id, total, status, amounts in (
        (5001, "408.05", "posted", {"total": "408.05"}),
        (5002, "230.59", "differs", {"subtotal": "227.50", "sales_tax": "3.08", "total": "230.58"}),
    ):
        event = _invoice(st_id, total)
        command = Command(
            command_id=Command.make_id("acme", event.message_id, "InvoiceAddRq"),
            connection="acme",
            tenant=TENANT,
            entity="invoice",
            st_id=st_id,
            event_id=event.event_id,
            request_type="InvoiceAddRq",
            qbxml="<InvoiceAddRq><InvoiceAdd/></InvoiceAddRq>",
            created_at=AT + dt.timedelta(seconds=1),
        )
        outcome = Outcome(
            command_id=command.command_id,
            attempt=1,
            connection="acme",
            tenant=TENANT,
            entity="invoice",
            st_id=st_id,
            event_id=event.event_id,
            status=status,  # type: ignore[arg-type]
            qb_id=f"{st_id:X}-1793718000",
            amounts=amounts,
            expected={"subtotal": "227.50", "sales_tax": "3.09", "total": total},
            at=AT + dt.timedelta(seconds=60),
        )
        for subject, model, msg_id in (
            (st_event_subject(TENANT, "invoice"), event, event.message_id),
            (command_subject("acme"), command, command.command_id),
            (outcome_subject("acme"), outcome, outcome.outcome_id),
        ):
            await js.publish(
                subject, model.model_dump_json().encode(), headers={"Nats-Msg-Id": msg_id}
            )
    await nc.close()


def test_reconciliation_page_shows_an_amount_quickbooks_computed_differently(
    nats_url: str, tmp_path: Path, start_service: StartService
) -> None:
    from playwright.sync_api import sync_playwright

    port = free_port()
    audit = f"http://127.0.0.1:{port}"
    start_service(
        "audit",
        "mlconnector-audit",
        {
            "NATS_URL": nats_url,
            "MLCONNECTOR_HOME": str(tmp_path),
            "AUDIT_PORT": str(port),
            "AUDIT_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'audit.db'}",
            "AUDIT_FETCH_TIMEOUT_SECONDS": "0.2",
        },
        f"{audit}/healthz",
    )
    asyncio.run(_publish_day(nats_url))
    deadline = time.monotonic() + 30
    while len(_records(audit, connection="acme", status="differs")) < 1:
        assert time.monotonic() < deadline, "audit did not record the outcomes"
        time.sleep(0.2)

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page()
        page.goto(f"{audit}/reconcile?connection=acme&date_from={DAY}&date_to={DAY}")
        invoices = page.locator("table.reconcile tr", has_text="Invoices")
        assert [invoices.locator("td").nth(i).inner_text() for i in range(8)] == [
            "Invoices",
            "2",
            "638.64",
            "2",
            "638.63",
            "0",
            "0.01",
            "difference",
        ]
        assert "ServiceTitan and QuickBooks differ" in page.locator("body").inner_text()
        invoices.locator("a", has_text="see records").click()
        page.wait_for_url("**entity=invoice**")
        behind = page.locator("table.reconcile-records tr[data-id]")
        assert behind.count() == 1
        assert [behind.locator("td").nth(i).inner_text() for i in range(8)] == [
            "2026-11-02",
            "5002",
            "Hernandez, Maria",
            "230.59",
            "230.58",
            "0.01",
            "amount differs",
            "amount differs",
        ]
        behind.locator("a").click()
        page.wait_for_url("**/records/**")
        assert page.locator("h1").inner_text() == "Invoice 5002 amount differs"
        todo = page.locator(".todo").inner_text()
        assert "ServiceTitan says 230.59, QuickBooks computed 230.58" in todo
        amounts = page.locator("table.amounts tr.bad")
        assert [amounts.nth(i).inner_text().split("\t") for i in range(amounts.count())] == [
            ["sales tax", "3.09", "3.08"],
            ["total", "230.59", "230.58"],
        ]
        # Times in the connection's time zone (America/Chicago), to the second.
        assert "2026-11-02 09:01:00 CST" in page.locator("ol.timeline").inner_text()
        page.screenshot(path=str(tmp_path / "reconcile.png"), full_page=True)
        csv_text = page.request.get(
            f"{audit}/reconcile.csv?connection=acme&date_from={DAY}&date_to={DAY}"
        ).text()
        assert "all,invoice,2,638.64,2,638.63,0,0.01,0" in csv_text.splitlines()
        browser.close()
