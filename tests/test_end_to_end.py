"""The vertical slice, every hop real and every service started as it runs in production.

ServiceTitan sandbox -> st-ingest -> ST_EVENTS -> mapper -> QB_COMMANDS -> qbwc-gateway
<- SOAP <- simulated Web Connector + QuickBooks company; QB_OUTCOMES -> audit -> /api/records.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import os
import subprocess
import sys
import time
import urllib.request
from decimal import Decimal
from pathlib import Path
from typing import Any

import nats
import pytest

from mlconnector.common.connections import Connection, ConnectionStore
from mlconnector.common.streams import declare_all
from mlconnector.qbsim.company import Company
from mlconnector.stsandbox.seed import DAY

from .conftest import StartService, free_port

pytestmark = [pytest.mark.e2e, pytest.mark.nats]

TENANT = "1234567"
PASSWORD = "demo-password-for-tests"
MLCONNECTOR = str(Path(sys.executable).parent / "mlconnector")


async def _add_connection(nats_url: str) -> None:
    nc = await nats.connect(nats_url)
    js = nc.jetstream()
    await declare_all(js)
    store = await ConnectionStore.open(js)
    connection = Connection.create("demo", TENANT, "demo-qb", PASSWORD)
    # The sandbox's demo day is in the past (its bills a week earlier); records before a
    # connection's start are skipped.
    await store.put(connection.model_copy(update={"sync_from": DAY - dt.timedelta(days=31)}))
    await nc.close()


def _get_json(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=5) as response:
        return json.loads(response.read())


def _web_connector_cycle(gateway_url: str, company: Path) -> str:
    result = subprocess.run(
        [
            MLCONNECTOR,
            "sim",
            "quickbooks",
            "--gateway",
            gateway_url,
            "--user",
            "demo-qb",
            "--company",
            str(company),
            "--cycles",
            "1",
        ],
        env={**os.environ, "QBSIM_PASSWORD": PASSWORD},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


@pytest.fixture
def system(nats_url: str, tmp_path: Path, start_service: StartService) -> dict[str, str]:
    asyncio.run(_add_connection(nats_url))
    ports = {name: free_port() for name in ("sandbox", "audit", "gateway", "ingest")}
    base = {"NATS_URL": nats_url, "MLCONNECTOR_HOME": str(tmp_path / "home")}
    urls = {name: f"http://127.0.0.1:{port}" for name, port in ports.items()}
    start_service(
        "st-sandbox",
        "mlconnector-st-sandbox",
        {
            **base,
            "STSANDBOX_PORT": str(ports["sandbox"]),
            "STSANDBOX_TENANT": TENANT,
            "STSANDBOX_PAGE_SIZE": "2",
        },
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
            "ST_TENANT": TENANT,
            "ST_POLL_SECONDS": "1",
        },
        f"{urls['ingest']}/healthz",
    )
    return {"audit": urls["audit"], "gateway": gateway_url}


def _records(audit: str, **filters: str) -> list[dict[str, Any]]:
    query = "&".join(f"{k}={v}" for k, v in filters.items())
    return list(_get_json(f"{audit}/api/records?{query}"))


# The demo day (sims/servicetitan seed): what reaches QuickBooks, and what must not.
POSTED_INVOICES = [5001, 5002, 5003, 5004, 5006]  # 5005 is Pending
POSTED_PAYMENTS = [9001, 9002, 9003]  # 9004 Pending, 9005 deleted
POSTED_BILLS = [6001, 6002]  # 6003 was already exported (PostedAndExported)
VENDORS = [7101, 7102, 7103]  # 7103 inactive: added, marked inactive


def _posted(audit: str) -> dict[str, list[int]]:
    return {
        entity: sorted(r["st_id"] for r in _records(audit, entity=entity, status="posted"))
        for entity in ("customer", "vendor", "invoice", "payment", "bill")
    }


def test_demo_day_posts_once_with_exact_amounts_and_txn_ids_in_audit(
    system: dict[str, str], tmp_path: Path
) -> None:
    company_path = tmp_path / "quickbooks.sqlite"
    expected = {
        "customer": [1001, 1002, 1003, 1004],
        "vendor": VENDORS,
        "invoice": POSTED_INVOICES,
        "payment": POSTED_PAYMENTS,
        "bill": POSTED_BILLS,
    }
    deadline = time.monotonic() + 120
    posted: dict[str, list[int]] = {}
    while time.monotonic() < deadline:
        _web_connector_cycle(system["gateway"], company_path)
        posted = _posted(system["audit"])
        if posted == expected:
            break
        time.sleep(0.5)
    assert posted == expected

    company = Company(company_path)
    invoices = {inv.ref_number: inv for inv in company.invoices()}
    # 5005 is Pending in ServiceTitan: not posted in a batch yet, so it must not reach the books.
    assert sorted(invoices) == ["5001", "5002", "5003", "5004", "5006"]
    demo = invoices["5001"]
    assert demo.customer.full_name == "Hernandez, Maria"
    assert [
        (line.item.full_name if line.item else None, line.quantity, line.rate, line.amount)
        for line in demo.lines
    ] == [
        ("Labor", Decimal("2"), Decimal("125.00"), Decimal("250.00")),
        ("PVC-075", Decimal("4"), Decimal("36.50"), Decimal("146.00")),
    ]
    assert demo.subtotal == Decimal("396.00")
    assert demo.sales_tax_total == Decimal("12.05")
    assert demo.total == Decimal("408.05")
    # Payments received: 9001 paid 5001 in full, 9002 part of 5002, 9003 both of Brightside's;
    # Chen's card payment (9004) is still Pending in ServiceTitan, so 5004 stays open.
    assert {ref: inv.balance_remaining for ref, inv in invoices.items()} == {
        "5001": Decimal("0.00"),
        "5002": Decimal("141.99"),
        "5003": Decimal("0.00"),
        "5004": Decimal("216.05"),
        "5006": Decimal("0.00"),
    }

    [record] = _records(system["audit"], entity="invoice", st_id="5001")
    assert record["status"] == "posted"
    assert record["qb_id"] == demo.txn_id
    trail = _get_json(f"{system['audit']}/api/records/{record['id']}")
    assert [o["status"] for o in trail["outcomes"]] == ["posted"]
    assert "<RefNumber>5001</RefNumber>" in trail["commands"][0]["qbxml"]

    payments = {p.ref_number: p for p in company.payments()}
    assert sorted(payments) == ["1042", "20417", "A7Q2K9"]
    check = payments["1042"]
    assert (check.customer.full_name, check.total_amount, check.unused_payment) == (
        "Hernandez, Maria",
        Decimal("408.05"),
        Decimal("0.00"),
    )
    assert [(a.ref_number, a.amount) for a in check.applied_to] == [("5001", Decimal("408.05"))]
    assert [(a.ref_number, a.amount) for a in payments["A7Q2K9"].applied_to] == [
        ("5002", Decimal("200.00"))
    ]
    across = payments["20417"]
    assert (across.customer.full_name, across.total_amount) == (
        "Brightside Property Management",
        Decimal("927.18"),
    )
    assert sorted((a.ref_number, a.amount) for a in across.applied_to) == [
        ("5003", Decimal("640.40")),
        ("5006", Decimal("286.78")),
    ]
    [payment_record] = _records(system["audit"], entity="payment", st_id="9003")
    assert payment_record["qb_id"] == across.txn_id

    bills = {b.ref_number: b for b in company.bills()}
    assert sorted(bills) == ["FER-88231", "LSH-240517"]
    ferguson, lone_star = bills["FER-88231"], bills["LSH-240517"]
    assert (ferguson.vendor.full_name, ferguson.amount_due) == (
        "Ferguson Plumbing Supply",
        Decimal("215.08"),
    )
    assert (lone_star.vendor.full_name, lone_star.amount_due) == (
        "Lone Star HVAC Supply",
        Decimal("226.67"),
    )
    # Items to the accounts ServiceTitan named; tax and shipping on their own lines.
    assert [line.amount for line in ferguson.lines] == [
        Decimal("142.00"),
        Decimal("45.60"),
        Decimal("15.48"),
        Decimal("12.00"),
    ]
    assert [line.account.full_name for line in ferguson.lines[:2] if line.account] == [
        "Inventory Asset",
        "Inventory Asset",
    ]
    assert [line.account.full_name for line in lone_star.lines[:2] if line.account] == [
        "Job Materials",
        "Job Materials",
    ]
    assert sum((line.amount for line in lone_star.lines), Decimal("0")) == Decimal("226.67")
    [bill_record] = _records(system["audit"], entity="bill", st_id="6002")
    assert bill_record["qb_id"] == lone_star.txn_id

    vendors = {v.full_name: v.is_active for v in company.vendors()}
    assert vendors["Ferguson Plumbing Supply"] is True
    assert vendors["Lone Star HVAC Supply"] is True
    assert vendors["Hill Country Water Heaters"] is False

    customers = sorted(c.full_name for c in company.customers())
    assert customers == [
        "Brightside Property Management",
        "Chen, Wei",
        "Hernandez, Maria",
        "Okafor, James",
    ]

    # More cycles, a redelivery-prone restartless steady state: nothing is posted twice.
    vendor_count = len(company.vendors())
    for _ in range(2):
        output = _web_connector_cycle(system["gateway"], company_path)
        for request in ("InvoiceAddRs", "ReceivePaymentAddRs", "BillAddRs", "VendorAddRs"):
            assert request not in output
    again = Company(company_path)
    assert len(again.invoices()) == 5
    assert len(again.payments()) == 3
    assert len(again.bills()) == 2
    assert len(again.vendors()) == vendor_count
    assert len(again.customers()) == 4
