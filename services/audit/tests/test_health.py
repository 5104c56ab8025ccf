"""Connection health from the Web Connector's session reports, st-ingest's feed reports and the
records (SQLite and PostgreSQL)."""

from __future__ import annotations

import datetime as dt

from audit_factories import CONN, TENANT, at, command_for, invoice_event, outcome_for

from mlconnector.audit.db import AuditDb
from mlconnector.audit.directory import ConnectionInfo
from mlconnector.audit.health import connection_health
from mlconnector.audit.writes import Incoming
from mlconnector.common.envelopes import FeedReport, SessionReport

CHICAGO = ConnectionInfo(CONN, TENANT, "America/Chicago", 5, known=True)


def session(minutes: int, result: str = "ok", **extra: object) -> SessionReport:
    fields: dict[str, object] = {
        "connection": CONN,
        "started_at": at(minutes * 60 - 20),
        "ended_at": at(minutes * 60),
        "result": result,
    }
    fields.update(extra)
    return SessionReport.model_validate(fields)


async def test_last_contact_counts_and_last_error_in_plain_words(db: AuditDb) -> None:
    failed_event = invoice_event(st_id=5002)
    failed_command = command_for(failed_event)
    failed = outcome_for(
        failed_command,
        status="failed",
        when=30,
        status_code=3140,
        status_message='There is an invalid reference to QuickBooks Account "Sales".',
        hint="Add the account in QuickBooks or map it, then press Retry.",
    )
    waiting_event = invoice_event(st_id=5003)
    waiting_command = command_for(waiting_event)
    waiting = outcome_for(waiting_command, status="waiting", when=31)
    unclaimed = invoice_event(st_id=5004)
    for item in (
        Incoming(failed_event.event_id, 1, event=failed_event),
        Incoming(failed_command.command_id, 1, command=failed_command),
        Incoming(failed.outcome_id, 1, outcome=failed),
        Incoming(waiting_event.event_id, 2, event=waiting_event),
        Incoming(waiting_command.command_id, 2, command=waiting_command),
        Incoming(waiting.outcome_id, 2, outcome=waiting),
        Incoming(unclaimed.event_id, 3, event=unclaimed),
    ):
        await db.write([item])
    refused = session(1, "error", hresult="0x80040408", last_error=None)
    ok = session(3, "ok", posted=4, failed=1)
    await db.write(
        [Incoming(r.report_id, None, session=r) for r in (refused, ok, ok)]  # ok redelivered
    )

    now = at(3 * 60 + 120)  # two minutes after the last contact
    health = await connection_health(db, CHICAGO, TENANT, now=now)
    assert health["last_contact"] == {
        "at": "2024-05-02T12:03:00+00:00",
        "at_local": "2024-05-02 07:03:00 CDT",
        "ago": "2 minutes ago",
        "result": "ok",
        "result_text": "synced",
        "posted": 4,
        "failed": 1,
        "error": None,
    }
    assert health["overdue"] is False
    assert health["warnings"] == []
    assert health["counts"] == {
        "pending": 1,  # 5004: seen in ServiceTitan, no connection has taken it yet
        "waiting": 1,
        "failed": 1,
        "differs": 0,
        "rejected": 0,
    }
    # The Web Connector's error (12:01) is newer than the failed record (12:00:30): it is
    # the last error.
    assert health["last_error"] == {
        "at": "2024-05-02T12:01:00+00:00",
        "at_local": "2024-05-02 07:01:00 CDT",
        "source": "web connector",
        "text": "the Web Connector reported 0x80040408",
        "record_id": None,
    }

    # Eleven minutes without a call, on a 5-minute schedule: the office is warned.
    late = await connection_health(db, CHICAGO, TENANT, now=at(3 * 60 + 11 * 60))
    assert late["overdue"] is True
    assert late["warnings"] == [
        "The Web Connector has not called since 2024-05-02 07:03:00 CDT (11 minutes ago; it "
        "should every 5 minutes): check that the office PC is on, QuickBooks and the Web "
        "Connector are open, and Auto-Run is ticked."
    ]


async def test_a_failed_record_newer_than_any_session_error_is_the_last_error(db: AuditDb) -> None:
    event = invoice_event(st_id=5002)
    made = command_for(event)
    failed = outcome_for(
        made,
        status="failed",
        when=600,
        status_code=3140,
        status_message="There is an invalid reference to QuickBooks Account.",
        hint="Map the account, then press Retry.",
    )
    for item in (
        Incoming(event.event_id, 1, event=event),
        Incoming(made.command_id, 1, command=made),
        Incoming(failed.outcome_id, 1, outcome=failed),
    ):
        await db.write([item])
    report = session(1, "refused", last_error="The Web Connector's password was refused.")
    await db.write([Incoming(report.report_id, None, session=report)])
    health = await connection_health(db, CHICAGO, TENANT, now=at(660))
    error = health["last_error"]
    assert error is not None
    assert (error["source"], error["at_local"], error["text"]) == (
        "record",
        "2024-05-02 07:10:00 CDT",
        "invoice INV-5002: QuickBooks status 3140: There is an invalid reference to QuickBooks "
        "Account. Map the account, then press Retry.",
    )
    assert isinstance(error["record_id"], int)


async def test_never_called_and_a_failing_feed_are_warnings(db: AuditDb) -> None:
    feeds = [
        FeedReport(tenant=TENANT, entity="invoices", state="ok", at=at(0)),
        FeedReport(
            tenant=TENANT,
            entity="invoices",
            state="failing",
            error="ServiceTitan answered 503 three polls in a row.",
            failures=3,
            at=at(60),
        ),
        FeedReport(tenant=TENANT, entity="payments", state="ok", at=at(30)),
        FeedReport(tenant="other", entity="payments", state="unauthorized", at=at(30)),
    ]
    await db.write([Incoming(f.report_id, None, feed=f) for f in feeds])
    health = await connection_health(db, CHICAGO, TENANT, now=at(120))
    assert health["last_contact"] is None
    assert health["overdue"] is True
    assert [(f["entity"], f["state"]) for f in health["feeds"]] == [
        ("invoices", "failing"),
        ("payments", "ok"),
    ]
    assert health["warnings"] == [
        "The Web Connector has never called for this connection: add its .qwc file "
        f"(mlconnector qwc {CONN}) to the Web Connector on the office PC.",
        "ServiceTitan invoices feed is failing: ServiceTitan answered 503 three polls in a row.",
    ]
    assert health["last_error"] is None
    assert dt.datetime.fromisoformat(health["feeds"][0]["at"]) == at(60)


async def test_without_session_reports_the_last_answer_of_quickbooks_shows_the_contact(
    db: AuditDb,
) -> None:
    event = invoice_event(st_id=5001)
    made = command_for(event)
    posted = outcome_for(made, when=120)
    for item in (
        Incoming(event.event_id, 1, event=event),
        Incoming(made.command_id, 1, command=made),
        Incoming(posted.outcome_id, 1, outcome=posted),
    ):
        await db.write([item])
    health = await connection_health(db, CHICAGO, TENANT, now=at(180))
    assert health["last_contact"] == {
        "at": "2024-05-02T12:02:00+00:00",
        "at_local": "2024-05-02 07:02:00 CDT",
        "ago": "1 minute ago",
        "result": "answered",
        "result_text": "QuickBooks answered",
        "posted": None,
        "failed": None,
        "error": None,
    }
    assert (health["overdue"], health["warnings"]) == (False, [])
    late = await connection_health(db, CHICAGO, TENANT, now=at(120 + 11 * 60))
    assert late["overdue"] is True
    assert late["warnings"] == [
        "QuickBooks has not answered since 2024-05-02 07:02:00 CDT (11 minutes ago; the Web "
        "Connector should call every 5 minutes): check that the office PC is on, QuickBooks and "
        "the Web Connector are open, and Auto-Run is ticked."
    ]
