"""The vertical slice, every hop real and every service started as it runs in production.

ServiceTitan sandbox -> st-ingest -> ST_EVENTS -> mapper -> QB_COMMANDS -> qbwc-gateway
<- SOAP <- simulated Web Connector + QuickBooks company; QB_OUTCOMES -> audit -> /api/records.
"""

from __future__ import annotations

import asyncio
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
    await store.put(Connection.create("demo", TENANT, "demo-qb", PASSWORD))
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


def test_demo_invoice_posts_once_with_exact_amounts_and_its_txn_id_in_audit(
    system: dict[str, str], tmp_path: Path
) -> None:
    company_path = tmp_path / "quickbooks.sqlite"
    deadline = time.monotonic() + 90
    posted: list[dict[str, Any]] = []
    while time.monotonic() < deadline:
        _web_connector_cycle(system["gateway"], company_path)
        posted = _records(system["audit"], entity="invoice", status="posted")
        if len(posted) == 4:
            break
        time.sleep(0.5)
    assert sorted(r["st_id"] for r in posted) == [5001, 5002, 5003, 5004]

    company = Company(company_path)
    invoices = {inv.ref_number: inv for inv in company.invoices()}
    # 5005 is Pending in ServiceTitan: not posted in a batch yet, so it must not reach the books.
    assert sorted(invoices) == ["5001", "5002", "5003", "5004"]
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
    assert demo.balance_remaining == Decimal("408.05")

    [record] = _records(system["audit"], entity="invoice", st_id="5001")
    assert record["status"] == "posted"
    assert record["qb_id"] == demo.txn_id
    trail = _get_json(f"{system['audit']}/api/records/{record['id']}")
    assert [o["status"] for o in trail["outcomes"]] == ["posted"]
    assert "<RefNumber>5001</RefNumber>" in trail["commands"][0]["qbxml"]

    customers = sorted(c.full_name for c in company.customers())
    assert customers == [
        "Brightside Property Management",
        "Chen, Wei",
        "Hernandez, Maria",
        "Okafor, James",
    ]

    # More cycles, a redelivery-prone restartless steady state: nothing is posted twice.
    for _ in range(2):
        output = _web_connector_cycle(system["gateway"], company_path)
        assert "InvoiceAddRs" not in output
    again = Company(company_path)
    assert len(again.invoices()) == 4
    assert len(again.customers()) == 4
