"""`mlconnector status`, `reconcile`, `retry` and `connection settings`, run as the operator runs
them, against the audit service running as its own process over a real nats-server."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import os
import subprocess
import sys
from decimal import Decimal
from pathlib import Path
from typing import Any

import nats
import pytest

from mlconnector.common.envelopes import Command, Outcome, SessionReport, StEvent
from mlconnector.common.models import Invoice, InvoiceLine
from mlconnector.common.streams import (
    command_subject,
    declare_all,
    outcome_subject,
    session_subject,
    st_event_subject,
)

from .conftest import StartService, free_port

pytestmark = pytest.mark.nats

MLCONNECTOR = str(Path(sys.executable).parent / "mlconnector")
TENANT = "1234567"
DAY = dt.date(2026, 11, 2)
AT = dt.datetime(2026, 11, 2, 15, 0, tzinfo=dt.UTC)


def run(args: list[str], env: dict[str, str], stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [MLCONNECTOR, *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, **env},
    )


def invoice(st_id: int, total: str) -> StEvent:
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


def messages(event: StEvent, status: str, **outcome: Any) -> list[tuple[str, Any, str]]:
    command = Command(
        command_id=Command.make_id("acme", event.message_id, "InvoiceAddRq"),
        connection="acme",
        tenant=TENANT,
        entity="invoice",
        st_id=event.st_id,
        event_id=event.event_id,
        request_type="InvoiceAddRq",
        qbxml="<InvoiceAddRq><InvoiceAdd/></InvoiceAddRq>",
        created_at=AT + dt.timedelta(seconds=1),
    )
    result = Outcome(
        command_id=command.command_id,
        attempt=1,
        connection="acme",
        tenant=TENANT,
        entity="invoice",
        st_id=event.st_id,
        event_id=event.event_id,
        status=status,  # type: ignore[arg-type]
        at=AT + dt.timedelta(seconds=60),
        **outcome,
    )
    return [
        (st_event_subject(TENANT, "invoice"), event, event.message_id),
        (command_subject("acme"), command, command.command_id),
        (outcome_subject("acme"), result, result.outcome_id),
    ]


async def _publish(url: str, items: list[tuple[str, Any, str]]) -> None:
    nc = await nats.connect(url)
    js = nc.jetstream()
    await declare_all(js)
    for subject, model, msg_id in items:
        await js.publish(subject, model.model_dump_json().encode(), headers={"Nats-Msg-Id": msg_id})
    await nc.close()


async def _last_event(url: str) -> tuple[StEvent, str]:
    nc = await nats.connect(url)
    js = nc.jetstream()
    msg = await js.get_last_msg("ST_EVENTS", st_event_subject(TENANT, "invoice"))
    await nc.close()
    assert msg.headers is not None
    return StEvent.model_validate_json(msg.data), msg.headers["Nats-Msg-Id"]


def _wait_for(check: Any, within: float = 20) -> None:
    import time

    deadline = time.monotonic() + within
    while not check():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.1)


def test_status_reconcile_retry_and_settings_from_the_command_line(
    nats_url: str, tmp_path: Path, start_service: StartService
) -> None:
    port = free_port()
    audit = f"http://127.0.0.1:{port}"
    env = {"NATS_URL": nats_url, "MLCONNECTOR_HOME": str(tmp_path), "AUDIT_URL": audit}
    added = run(
        [
            "connection",
            "add",
            "acme",
            "--tenant",
            TENANT,
            "--qbwc-user",
            "acme-qb",
            "--password-stdin",
        ],
        env,
        stdin="correct horse battery\n",
    )
    assert added.returncode == 0, added.stderr
    settings = run(
        [
            "connection",
            "settings",
            "acme",
            "--time-zone",
            "America/Chicago",
            "--every-minutes",
            "15",
        ],
        env,
    )
    assert settings.returncode == 0, settings.stderr
    assert settings.stdout == (
        "Stored connection 'acme': time zone America/Chicago, Web Connector every 15 minutes.\n"
    )
    bad_zone = run(["connection", "settings", "acme", "--time-zone", "Mars/Base"], env)
    assert bad_zone.returncode == 2
    assert bad_zone.stderr == (
        "Error: 'Mars/Base' is not a time zone name; use one like 'America/Chicago' or "
        "'America/New_York'.\n"
    )
    qwc = run(["qwc", "acme", "--url", "https://sync.example.com/qbwc"], env)
    assert "<RunEveryNMinutes>15</RunEveryNMinutes>" in qwc.stdout

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
    now = dt.datetime.now(dt.UTC)
    contact = SessionReport(
        connection="acme",
        started_at=now - dt.timedelta(minutes=3, seconds=20),
        ended_at=now - dt.timedelta(minutes=3),
        result="ok",
        posted=2,
        failed=1,
    )
    items = [
        *messages(invoice(5001, "408.05"), "posted", amounts={"total": "408.05"}),
        *messages(
            invoice(5002, "230.59"),
            "differs",
            amounts={"total": "230.58"},
            expected={"total": "230.59"},
        ),
        *messages(
            invoice(5003, "120.00"),
            "failed",
            status_code=3140,
            status_message='There is an invalid reference to QuickBooks Account "Sales Old".',
            hint="Map the account to one QuickBooks has, then retry.",
        ),
        (session_subject("acme"), contact, contact.report_id),
    ]
    asyncio.run(_publish(nats_url, items))

    def settled() -> bool:
        out = run(["reconcile", "acme", "--date", DAY.isoformat(), "--json"], env)
        return out.returncode == 0 and json.loads(out.stdout)["entities"][0]["st_count"] == 3

    _wait_for(settled)

    status = run(["status"], env)
    assert status.returncode == 0, status.stderr
    lines = status.stdout.splitlines()
    start = lines.index("connection acme (tenant 1234567, times in America/Chicago)")
    assert lines[start + 1].startswith("  Web Connector: last called 3 minutes ago (")
    assert lines[start + 1].endswith("): synced")
    assert lines[start + 2] == "  records: 0 pending, 0 waiting, 1 failed, 1 amount differs"
    assert lines[start + 3].endswith(
        ": invoice 5003: QuickBooks status 3140: There is an invalid reference to QuickBooks "
        'Account "Sales Old". Map the account to one QuickBooks has, then retry.'
    )
    assert len(lines) == start + 4  # no warning: it called 3 minutes ago, every 15 minutes

    reconciled = run(["reconcile", "acme", "--date", DAY.isoformat()], env)
    assert reconciled.returncode == 0, reconciled.stderr
    assert reconciled.stdout.splitlines()[:5] == [
        "Reconciliation of acme, 2026-11-02",
        "                   ServiceTitan        in QuickBooks   difference",
        "  invoices       3       758.64       2       638.63      1       120.01",
        "  payments       0         0.00       0         0.00   matches",
        "  bills          0         0.00       0         0.00   matches",
    ]
    assert reconciled.stdout.splitlines()[5] == "Records that make up the difference:"
    difference_lines = sorted(reconciled.stdout.splitlines()[6:])
    assert [line.split(" [record")[0] for line in difference_lines] == [
        "  invoice 5002 (Hernandez, Maria, 2026-11-02): ServiceTitan 230.59, QuickBooks 230.58 "
        "- amount differs",
        "  invoice 5003 (Hernandez, Maria, 2026-11-02): ServiceTitan 120.00, QuickBooks - "
        "- not in QuickBooks yet",
    ]
    bad_day = run(["reconcile", "acme", "--date", "2026-13-45"], env)
    assert bad_day.returncode == 2
    assert bad_day.stderr == (
        "Error: '2026-13-45' is not a day; use YYYY-MM-DD, today or yesterday.\n"
    )

    failed_id = int(difference_lines[1].split("[record ")[1].rstrip("]"))
    retried = run(["retry", str(failed_id)], env)
    assert retried.returncode == 0, retried.stderr
    assert retried.stdout.splitlines() == [
        f"Record {failed_id} (invoice 5003): sent again.",
        "1 record sent again; they go to QuickBooks at the Web Connector's next call.",
    ]
    copy, msg_id = asyncio.run(_last_event(nats_url))
    assert (copy.st_id, copy.source, copy.generation > 0) == (5003, "retry", True)
    assert msg_id == f"{TENANT}:invoice:5003:v1:g{copy.generation}"

    def retried_is_pending() -> bool:
        out = run(["retry", "--connection", "acme", "--json"], env)
        return out.returncode == 0 and json.loads(out.stdout)["count"] == 0

    _wait_for(retried_is_pending)
    nothing = run(["retry", "--connection", "acme"], env)
    assert nothing.stdout == "No failed records to retry.\n"
    again = run(["retry", str(failed_id)], env)
    assert again.stdout == (
        f"Record {failed_id}: Record {failed_id} is pending; only failed records can be retried.\n"
    )
    confused = run(["retry"], env)
    assert (confused.returncode, confused.stderr) == (
        2,
        "Error: Say what to retry: record numbers, or --connection NAME (with --since/--until).\n",
    )


def test_status_says_so_and_fails_when_it_cannot_find_the_system(tmp_path: Path) -> None:
    port = free_port()  # nothing listens there
    env = {"MLCONNECTOR_HOME": str(tmp_path), "AUDIT_URL": f"http://127.0.0.1:{port}"}
    status = subprocess.run(
        [MLCONNECTOR, "status"],
        capture_output=True,
        text=True,
        timeout=60,
        env={**{k: v for k, v in os.environ.items() if k != "NATS_URL"}, **env},
    )
    # The system named by AUDIT_URL does not answer: each part says so, exit 1 (a part is
    # down); with nothing configured and nothing running it is exit 2 (test_cli_status.py).
    assert status.returncode == 1
    assert status.stdout.splitlines() == [
        "ml-connector, found through AUDIT_URL / NATS_URL:",
        f"  audit          {f'http://127.0.0.1:{port}':32} DOWN (does not answer)",
        "records: unknown (audit does not answer)",
    ]
