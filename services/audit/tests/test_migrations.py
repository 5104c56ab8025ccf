"""The schema by Alembic migrations, on SQLite and PostgreSQL: a new database, and one made and
filled by the release before migrations (its create_all + ALTER TABLE and its writer)."""

from __future__ import annotations

import datetime as dt

import legacy_schema
import legacy_writes
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from audit_factories import (
    CONN,
    TENANT,
    at,
    command_for,
    customer_event,
    invoice_event,
    outcome_for,
)

from mlconnector.audit.db import AuditDb
from mlconnector.audit.queries import RecordQueries
from mlconnector.audit.reconcile import reconcile
from mlconnector.audit.schema import current_revision, head_revision
from mlconnector.audit.tables import Base
from mlconnector.audit.writes import Incoming
from mlconnector.common.envelopes import StRejection

BIG_ST_ID = 3_000_000_001  # above PostgreSQL's 32-bit INTEGER (2,147,483,647)


def _differences(conn: sa.Connection) -> list[object]:
    context = MigrationContext.configure(conn, opts={"compare_type": True})
    return list(compare_metadata(context, Base.metadata))


async def test_a_new_database_gets_exactly_the_schema_the_code_describes(db: AuditDb) -> None:
    async with db.engine.connect() as conn:
        assert await conn.run_sync(_differences) == []
        assert await conn.run_sync(current_revision) == head_revision() == "0003"
    await db.migrate()  # again: nothing to do
    async with db.engine.connect() as conn:
        assert await conn.run_sync(current_revision) == "0003"


async def _legacy_write(db: AuditDb, items: list[legacy_writes.Incoming]) -> None:
    async with db.sessions.begin() as session:
        writer = legacy_writes.RowWriter(session, db.dialect)
        for item in items:
            await writer.write(item)


def _legacy_items() -> list[legacy_writes.Incoming]:
    """A posted invoice, a failed one, one changed after posting, a customer seen only as an
    event, and an unreadable record without an id, as the old consumers wrote them."""
    posted_event = invoice_event(st_id=5001)
    posted_command = command_for(posted_event)
    posted = outcome_for(posted_command)
    failed_event = invoice_event(st_id=5002, received=3)
    failed_command = command_for(failed_event, created=4)
    failed = outcome_for(
        failed_command,
        status="failed",
        when=5,
        status_code=3140,
        status_severity="Error",
        status_message='There is an invalid reference to QuickBooks Account "Sales".',
    )
    first = invoice_event(st_id=5003, received=6)
    first_command = command_for(first, created=7)
    first_posted = outcome_for(first_command, when=8, qb_id="1A2C-1714651200")
    edited = invoice_event(st_id=5003, version="v2", received=9)
    edited_command = command_for(edited, created=10)
    changed = outcome_for(
        edited_command,
        status="changed",
        when=11,
        qb_id="1A2C-1714651200",
        difference={"total": ("230.59", "250.00")},
    )
    customer = customer_event(st_id=1001, received=12)
    unreadable = StRejection(
        tenant=TENANT, entity="invoice", st_id=None, error="no id", raw={"x": 1}, received_at=at(13)
    )
    return [
        legacy_writes.Incoming(posted_event.event_id, 1, event=posted_event),
        legacy_writes.Incoming(posted_command.command_id, 1, command=posted_command),
        legacy_writes.Incoming(posted.outcome_id, 1, outcome=posted),
        legacy_writes.Incoming(failed_event.event_id, 2, event=failed_event),
        legacy_writes.Incoming(failed_command.command_id, 2, command=failed_command),
        legacy_writes.Incoming(failed.outcome_id, 2, outcome=failed),
        legacy_writes.Incoming(first.event_id, 3, event=first),
        legacy_writes.Incoming(first_command.command_id, 3, command=first_command),
        legacy_writes.Incoming(first_posted.outcome_id, 3, outcome=first_posted),
        legacy_writes.Incoming(edited.event_id, 4, event=edited),
        legacy_writes.Incoming(edited_command.command_id, 4, command=edited_command),
        legacy_writes.Incoming(changed.outcome_id, 4, outcome=changed),
        legacy_writes.Incoming(customer.event_id, 5, event=customer),
        legacy_writes.Incoming(unreadable.rejection_id, 6, rejection=unreadable),
    ]


async def _build_legacy(db: AuditDb, *, without_difference: bool = False) -> None:
    async with db.engine.begin() as conn:
        await conn.run_sync(legacy_schema.create_tables)
        if without_difference:  # as the first release made it
            await conn.execute(sa.text("ALTER TABLE outcomes DROP COLUMN difference"))
    if without_difference:
        return
    for item in _legacy_items():
        await _legacy_write(db, [item])


async def test_a_database_made_by_the_release_before_migrations_is_upgraded_with_its_rows(
    blank_db: AuditDb,
) -> None:
    db = blank_db
    await _build_legacy(db)
    queries = RecordQueries(db)
    keep = ("tenant", "connection", "entity", "st_id", "status", "qb_id", "message", "summary")
    old_rows = sa.select(*(sa.column(name) for name in ("id", *keep))).select_from(
        sa.table("records")
    )
    async with db.engine.connect() as conn:
        before = {row.id: row._asdict() for row in (await conn.execute(old_rows)).all()}
    assert len(before) == 5

    await db.migrate()

    async with db.engine.connect() as conn:
        assert await conn.run_sync(_differences) == []
        assert await conn.run_sync(current_revision) == "0003"
    async with db.engine.connect() as conn:
        unchanged = {row.id: row._asdict() for row in (await conn.execute(old_rows)).all()}
    assert unchanged == before
    after = {r["id"]: r for r in await queries.list(limit=100)}
    by_st_id = {r["st_id"]: r for r in after.values()}
    # The new columns, backfilled from what the old rows carried.
    assert {
        st_id: (r["reference"], r["party"], r["date"], r["amount"], r["qb_state"], r["qb_amount"])
        for st_id, r in by_st_id.items()
    } == {
        5001: ("INV-5001", "Jane Doe", "2024-05-01", "230.59", "posted", "230.59"),
        5002: ("INV-5002", "Jane Doe", "2024-05-01", "230.59", None, None),
        5003: ("INV-5003", "Jane Doe", "2024-05-01", "230.59", "posted", "230.59"),
        1001: (None, "Jane Doe", None, None, None, None),
        None: (None, None, None, None, None, None),
    }
    # Search works on the backfilled columns.
    from mlconnector.audit.filters import RecordFilter

    assert [r["st_id"] for r in await queries.list(RecordFilter(q="inv-5002"))] == [5002]

    # The upgraded database takes new messages: a retried 5002 posts, and a ServiceTitan id
    # above 32 bits is stored (PostgreSQL refused it before).
    retried = invoice_event(st_id=5002, received=20).model_copy(update={"generation": 7})
    command = command_for(retried, created=21)
    posted = outcome_for(command, when=22, qb_id="1A2D-1714651200")
    big = invoice_event(st_id=BIG_ST_ID, received=23)
    big_command = command_for(big, created=24)
    await db.write(
        [
            Incoming(retried.message_id, 10, event=retried),
            Incoming(command.command_id, 10, command=command),
            Incoming(posted.outcome_id, 10, outcome=posted),
            Incoming(big.event_id, 11, event=big),
            Incoming(big_command.command_id, 11, command=big_command),
        ]
    )
    [again] = await queries.list(RecordFilter(st_id=5002))
    assert (again["id"], again["status"], again["qb_id"]) == (
        by_st_id[5002]["id"],
        "posted",
        "1A2D-1714651200",
    )
    [large] = await queries.list(RecordFilter(st_id=BIG_ST_ID))
    assert (large["st_id"], large["connection"], large["status"]) == (BIG_ST_ID, CONN, "pending")
    trail = await queries.trail(large["id"])
    assert trail is not None
    assert [i["kind"] for i in trail["trail"]] == ["event", "command"]

    figures = await reconcile(db, CONN, TENANT, dt.date(2024, 5, 1), dt.date(2024, 5, 1))
    invoices = figures.entities["invoice"]
    # 5001, 5002, 5003 (now 230.59 in ServiceTitan) and the big one in ServiceTitan; QuickBooks
    # holds 5001, 5002 and 5003 as posted (5003's posted total, 230.59).
    assert (invoices.st_count, invoices.st_total, invoices.qb_count, invoices.qb_total) == (
        4,
        4 * 23059,
        3,
        3 * 23059,
    )


async def test_the_first_releases_database_without_the_difference_column_is_upgraded(
    blank_db: AuditDb,
) -> None:
    db = blank_db
    await _build_legacy(db, without_difference=True)
    await db.migrate()
    async with db.engine.connect() as conn:
        assert await conn.run_sync(_differences) == []
    command = command_for(invoice_event())
    changed = outcome_for(command, status="changed", difference={"total": ("1.00", "2.00")})
    await db.write([Incoming(changed.outcome_id, 1, outcome=changed)])
    [record] = await RecordQueries(db).list()
    trail = await RecordQueries(db).trail(record["id"])
    assert trail is not None
    assert trail["outcomes"][0]["difference"] == {"total": ["1.00", "2.00"]}
