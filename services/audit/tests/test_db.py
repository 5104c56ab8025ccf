"""The audit database on SQLite and PostgreSQL: idempotent rows, forward-only status."""

from __future__ import annotations

from audit_factories import (
    CONN,
    TENANT,
    at,
    command_for,
    customer_event,
    invoice_event,
    outcome_for,
)
from sqlalchemy import func, select

from mlconnector.audit.db import AuditDb
from mlconnector.audit.queries import RecordQueries
from mlconnector.audit.settings import AuditSettings, normalize_database_url
from mlconnector.audit.tables import CommandRow, EventRow, OutcomeRow, RecordRow
from mlconnector.audit.writes import Incoming


async def count(db: AuditDb, table: type) -> int:
    async with db.sessions() as session:
        return int((await session.execute(select(func.count()).select_from(table))).scalar_one())


async def test_event_command_outcome_make_one_posted_record(db: AuditDb) -> None:
    event = invoice_event()
    command = command_for(event)
    outcome = outcome_for(command)
    await db.write([Incoming(event.event_id, 1, event=event)])
    await db.write([Incoming(command.command_id, 1, command=command)])
    await db.write([Incoming(outcome.outcome_id, 1, outcome=outcome)])
    # The same three again (redelivery), in one batch.
    await db.write(
        [
            Incoming(event.event_id, 1, event=event),
            Incoming(command.command_id, 1, command=command),
            Incoming(outcome.outcome_id, 1, outcome=outcome),
        ]
    )
    assert [await count(db, t) for t in (EventRow, CommandRow, OutcomeRow, RecordRow)] == [
        1,
        1,
        1,
        1,
    ]
    [record] = await RecordQueries(db).list()
    assert record == {
        "id": record["id"],
        "tenant": TENANT,
        "connection": CONN,
        "entity": "invoice",
        "st_id": 5001,
        "status": "posted",
        "qb_id": "1A2B-1714651200",
        "message": "Status OK",
        "hint": None,
        "summary": {
            "number": "INV-5001",
            "customer": "Jane Doe",
            "date": "2024-05-01",
            "total": "230.59",
        },
        "updated_at": "2024-05-02T12:00:02+00:00",
        "status_at": "2024-05-02T12:00:02+00:00",
        "reference": "INV-5001",
        "party": "Jane Doe",
        "date": "2024-05-01",
        "amount": "230.59",
        "qb_state": "posted",
        # The gateway did not read amounts back: QuickBooks holds what was sent.
        "qb_amount": "230.59",
        "qb_amount_read": False,
        "qb_expected": "230.59",
    }


async def test_outcome_before_command_keeps_the_newest_status(db: AuditDb) -> None:
    event = invoice_event()
    command = command_for(event)
    outcome = outcome_for(command)
    await db.write([Incoming(outcome.outcome_id, 1, outcome=outcome)])
    await db.write([Incoming(command.command_id, 1, command=command)])
    await db.write([Incoming(event.event_id, 1, event=event)])
    [record] = await RecordQueries(db).list()
    assert (record["status"], record["qb_id"], record["connection"]) == (
        "posted",
        "1A2B-1714651200",
        CONN,
    )
    assert record["summary"]["number"] == "INV-5001"
    assert await count(db, RecordRow) == 1


async def test_failed_outcome_carries_code_message_and_hint(db: AuditDb) -> None:
    event = invoice_event()
    command = command_for(event)
    failed = outcome_for(
        command,
        status="failed",
        status_code=3140,
        status_severity="Error",
        status_message="There is an invalid reference to QuickBooks Item "
        '"PVC-075" in the Invoice line.',
        hint="Create it or fix the mapping, then replay.",
    )
    await db.write(
        [
            Incoming(event.event_id, 1, event=event),
            Incoming(command.command_id, 1, command=command),
            Incoming(failed.outcome_id, 1, outcome=failed),
        ]
    )
    [record] = await RecordQueries(db).list(status="failed")
    assert record["message"] == (
        "QuickBooks status 3140: There is an invalid reference to "
        'QuickBooks Item "PVC-075" in the Invoice line.'
    )
    assert record["hint"] == "Create it or fix the mapping, then replay."
    assert record["qb_id"] is None
    trail = await RecordQueries(db).trail(record["id"])
    assert trail is not None
    [o] = trail["outcomes"]
    assert (o["status_code"], o["status_severity"], o["hint"]) == (
        3140,
        "Error",
        "Create it or fix the mapping, then replay.",
    )
    assert [i["kind"] for i in trail["trail"]] == ["event", "command", "outcome"]


async def test_filters(db: AuditDb) -> None:
    inv = invoice_event()
    cust = customer_event(received=5)
    await db.write(
        [
            Incoming(inv.event_id, 1, event=inv),
            Incoming(cust.event_id, 2, event=cust),
            Incoming("x", 3, command=command_for(inv)),
        ]
    )
    queries = RecordQueries(db)
    assert [r["entity"] for r in await queries.list()] == ["customer", "invoice"]
    assert [r["st_id"] for r in await queries.list(entity="customer")] == [1001]
    assert [r["st_id"] for r in await queries.list(connection=CONN)] == [5001]
    assert [r["st_id"] for r in await queries.list(st_id=5001)] == [5001]
    assert [r["connection"] for r in await queries.list(entity="customer")] == [None]
    assert await queries.list(status="posted") == []
    from audit_factories import at

    assert [r["st_id"] for r in await queries.list(since=at(3))] == [1001]
    assert [r["st_id"] for r in await queries.list(until=at(3))] == [5001]
    assert [r["st_id"] for r in await queries.list(limit=1, offset=1)] == [5001]


def test_database_url_defaults_and_rewrites(tmp_path: object) -> None:
    from pathlib import Path

    home = Path(str(tmp_path)) / "home"
    settings = AuditSettings(MLCONNECTOR_HOME=home)
    assert settings.resolved_database_url() == f"sqlite+aiosqlite:///{home}/audit.db"
    assert home.is_dir()
    assert normalize_database_url("postgresql://u:p@db:5432/audit") == (
        "postgresql+psycopg://u:p@db:5432/audit"
    )
    assert normalize_database_url("postgres://u@db/audit") == "postgresql+psycopg://u@db/audit"
    assert normalize_database_url("sqlite+aiosqlite:///x.db") == "sqlite+aiosqlite:///x.db"
    assert (settings.host, settings.port) == ("127.0.0.1", 8082)


async def test_rejections_file_under_their_record_and_stay_idempotent(db: AuditDb) -> None:
    import datetime as dt

    from mlconnector.audit.tables import RejectionRow
    from mlconnector.audit.writes import rejection_record_st_id
    from mlconnector.common.envelopes import StRejection

    at = dt.datetime(2024, 5, 2, 9, 30, tzinfo=dt.UTC)
    known = StRejection(
        tenant=TENANT,
        entity="invoice",
        st_id=5009,
        error="bad total",
        raw={"id": 5009},
        received_at=at,
    )
    unknown = StRejection(
        tenant=TENANT, entity="invoice", st_id=None, error="no id", raw={"x": 1}, received_at=at
    )
    for _ in range(2):  # redelivered: same rows
        await db.write(
            [
                Incoming(known.rejection_id, 1, rejection=known),
                Incoming(unknown.rejection_id, 2, rejection=unknown),
            ]
        )
    assert [await count(db, t) for t in (RejectionRow, RecordRow)] == [2, 2]
    assert rejection_record_st_id(known) == 5009
    synthetic = rejection_record_st_id(unknown)
    assert synthetic < 0
    assert synthetic == rejection_record_st_id(unknown.model_copy())
    records = await RecordQueries(db).list(status="rejected")
    assert sorted((r["st_id"] is None, r["message"], r["connection"]) for r in records) == [
        (False, "bad total", None),
        (True, "no id", None),
    ]


CHANGED_DIFFERENCE: dict[str, tuple[str | None, str | None]] = {
    "total": ("408.05", "420.10"),
    "line 2": ("PVC-075: 4 x 36.50 = 146.00", "PVC-075: 5 x 36.50 = 182.50"),
    "line 3": ("Sales tax: 12.05", None),
}
CHANGED_MESSAGE = (
    "Invoice 5001 changed in ServiceTitan after it was posted to QuickBooks "
    "(TxnID 1A2B-1714651200): total 408.05 -> 420.10; "
    "line 2 PVC-075: 4 x 36.50 = 146.00 -> 5 x 36.50 = 182.50; line 3 removed: Sales tax: 12.05"
)
CHANGED_HINT = (
    "Resolve it by hand in QuickBooks: edit the invoice to match ServiceTitan, or void it "
    "there and re-post the new version by hand. ml-connector will not post it a second time."
)


async def test_changed_after_posting_is_the_records_status_with_its_difference(
    db: AuditDb,
) -> None:
    first = invoice_event()
    posted_command = command_for(first)
    posted = outcome_for(posted_command)
    second = invoice_event(version="v2", received=10)
    edited_command = command_for(second, created=11)
    changed = outcome_for(
        edited_command,
        status="changed",
        when=12,
        qb_id="1A2B-1714651200",
        status_message=CHANGED_MESSAGE,
        hint=CHANGED_HINT,
        difference=CHANGED_DIFFERENCE,
    )
    for incoming in (
        Incoming(first.event_id, 1, event=first),
        Incoming(posted_command.command_id, 1, command=posted_command),
        Incoming(posted.outcome_id, 1, outcome=posted),
        Incoming(second.event_id, 2, event=second),
        Incoming(edited_command.command_id, 2, command=edited_command),
        Incoming(changed.outcome_id, 2, outcome=changed),
    ):
        await db.write([incoming])
    queries = RecordQueries(db)
    [record] = await queries.list(status="changed")
    assert (record["status"], record["qb_id"], record["message"], record["hint"]) == (
        "changed",
        "1A2B-1714651200",
        CHANGED_MESSAGE,
        CHANGED_HINT,
    )
    assert await queries.list(status="posted") == []
    trail = await queries.trail(record["id"])
    assert trail is not None
    assert [(o["status"], o["difference"]) for o in trail["outcomes"]] == [
        ("posted", None),
        (
            "changed",
            {
                "total": ["408.05", "420.10"],
                "line 2": ["PVC-075: 4 x 36.50 = 146.00", "PVC-075: 5 x 36.50 = 182.50"],
                "line 3": ["Sales tax: 12.05", None],
            },
        ),
    ]


async def test_an_item_made_for_the_record_does_not_post_the_record(db: AuditDb) -> None:
    event = invoice_event()
    invoice = command_for(event)
    item = invoice.model_copy(
        update={
            "command_id": "cmd-item-for-invoice",
            "request_type": "ItemServiceAddRq",
            "qbxml": "<ItemServiceAddRq><x/></ItemServiceAddRq>",
        }
    )
    assert item.is_prerequisite
    item_posted = outcome_for(item, when=2, qb_id="80000099-1714651200", prerequisite=True)
    invoice_waiting = outcome_for(invoice, status="waiting", when=3)
    for incoming in (
        Incoming(event.event_id, 1, event=event),
        Incoming(item.command_id, 1, command=item),
        Incoming(invoice.command_id, 2, command=invoice),
        Incoming(item_posted.outcome_id, 1, outcome=item_posted),
    ):
        await db.write([incoming])
    queries = RecordQueries(db)
    [record] = await queries.list()
    assert (record["status"], record["qb_id"]) == ("pending", None)

    await db.write([Incoming(invoice_waiting.outcome_id, 2, outcome=invoice_waiting)])
    [record] = await queries.list()
    assert (record["status"], record["qb_id"]) == ("waiting", None)
    trail = await queries.trail(record["id"])
    assert trail is not None
    assert [(o["status"], o["qb_id"]) for o in trail["outcomes"]] == [
        ("posted", "80000099-1714651200"),
        ("waiting", None),
    ]


async def test_a_credit_applied_keeps_the_credit_memos_own_id_and_amount(db: AuditDb) -> None:
    """An adjustment invoice is a credit memo plus its application to the invoice it adjusts
    (role "apply"): the application tells the record's status, never its QuickBooks id or
    amount (found by the chaos test: the application's empty id replaced the credit memo's)."""
    event = invoice_event(st_id=20501)
    memo = command_for(event).model_copy(update={"request_type": "CreditMemoAddRq"})
    apply = memo.model_copy(
        update={
            "command_id": "cmd-apply-20501",
            "request_type": "ReceivePaymentAddRq",
            "qbxml": "<ReceivePaymentAddRq><x/></ReceivePaymentAddRq>",
            "role": "apply",
        }
    )
    posted = outcome_for(
        memo,
        when=2,
        qb_id="AE-1796093987",
        amounts={"subtotal": "227.50", "sales_tax": "3.09", "total": "230.59"},
        expected={"subtotal": "227.50", "sales_tax": "3.09", "total": "230.59"},
    )
    applied = outcome_for(
        apply, when=3, qb_id="", role="apply", amounts={"total": "0.00"}, expected={}
    )
    for incoming in (
        Incoming(event.event_id, 1, event=event),
        Incoming(memo.command_id, 1, command=memo),
        Incoming(apply.command_id, 2, command=apply),
        Incoming(posted.outcome_id, 1, outcome=posted),
        Incoming(applied.outcome_id, 2, outcome=applied),
    ):
        await db.write([incoming])
    queries = RecordQueries(db)
    [record] = await queries.list()
    assert (record["status"], record["qb_id"], record["qb_state"], record["qb_amount"]) == (
        "posted",
        "AE-1796093987",
        "posted",
        "230.59",
    )
    failed = outcome_for(apply, status="failed", attempt=2, when=4, role="apply")
    await db.write([Incoming(failed.outcome_id, 3, outcome=failed)])
    [record] = await queries.list()
    assert (record["status"], record["qb_id"], record["qb_amount"]) == (
        "failed",
        "AE-1796093987",
        "230.59",
    )


async def test_search_by_the_start_of_any_word_of_reference_customer_or_id(db: AuditDb) -> None:
    from decimal import Decimal

    from mlconnector.audit.filters import RecordFilter
    from mlconnector.common.models import Invoice

    def named(st_id: int, number: str, customer: str) -> Incoming:
        event = invoice_event(st_id=st_id)
        assert isinstance(event.record, Invoice)
        record = event.record.model_copy(
            update={"number": number, "customer_name": customer, "total": Decimal("1")}
        )
        made = event.model_copy(update={"record": record})
        return Incoming(made.event_id, 1, event=made)

    await db.write(
        [
            named(5001, "INV-5001", "Hernandez, Maria"),
            named(5002, "INV-5002", "José Núñez"),
            named(5003, "A7Q2K9", "Brightside Property Management"),
        ]
    )
    queries = RecordQueries(db)

    async def found(q: str) -> list[int]:
        return sorted(r["st_id"] for r in await queries.list(RecordFilter(q=q)))

    assert await found("hern") == [5001]
    assert await found("MARIA") == [5001]
    assert await found("josé") == [5002]
    assert await found("núñ") == [5002]
    assert await found("inv") == [5001, 5002]
    assert await found("inv-5002") == [5002]
    assert await found("5003") == [5003]  # the ServiceTitan id
    assert await found("a7q2") == [5003]
    assert await found("brightside management") == [5003]
    assert await found("maria brightside") == []  # every word must match
    assert await found("nandez") == []  # the start of a word, not its middle
    assert await found("--") == []

    # A new version with another customer: found by the new name only.
    renamed = named(5001, "INV-5001", "Chen, Wei")
    assert renamed.event is not None
    await db.write([renamed])
    assert await found("hernandez") == []
    assert await found("chen") == [5001]


async def test_a_batch_is_one_transaction_of_a_few_statements_whatever_its_size(
    db: AuditDb,
) -> None:
    import sqlalchemy as sa

    statements: list[str] = []

    def count(conn: object, cursor: object, statement: str, *args: object) -> None:
        statements.append(statement.split()[0].upper())

    def batch(first: int, n: int) -> list[Incoming]:
        items: list[Incoming] = []
        for st_id in range(first, first + n):
            event = invoice_event(st_id=st_id)
            command = command_for(event)
            outcome = outcome_for(command)
            items += [
                Incoming(event.event_id, st_id, event=event),
                Incoming(command.command_id, st_id, command=command),
                Incoming(outcome.outcome_id, st_id, outcome=outcome),
            ]
        return items

    sa.event.listen(db.engine.sync_engine, "before_cursor_execute", count)
    try:
        await db.write(batch(10_000, 100))  # 300 messages, 100 new records
        first = list(statements)
        statements.clear()
        await db.write(batch(10_000, 100))  # the same again (redelivered): nothing changes
        again = list(statements)
        statements.clear()
        await db.write(batch(20_000, 400))  # 1,200 messages
        bigger = list(statements)
    finally:
        sa.event.remove(db.engine.sync_engine, "before_cursor_execute", count)
    # Events, commands, outcomes inserted if absent; the records of the batch read at once;
    # their search words replaced; the new records inserted. (Plus BEGIN/COMMIT.)
    writes = ["INSERT", "INSERT", "INSERT", "SELECT", "DELETE", "INSERT", "INSERT"]
    assert [s for s in first if s not in ("BEGIN", "COMMIT")] == writes
    assert [s for s in bigger if s not in ("BEGIN", "COMMIT")] == writes
    # Redelivered: rows inserted if absent, records read, nothing changed, nothing written.
    assert [s for s in again if s not in ("BEGIN", "COMMIT")] == [
        "INSERT",
        "INSERT",
        "INSERT",
        "SELECT",
    ]
    assert [await count_rows(db, t) for t in (EventRow, CommandRow, OutcomeRow, RecordRow)] == [
        500,
        500,
        500,
        500,
    ]
    assert len(await RecordQueries(db).list(status="posted", limit=1000)) == 500


async def count_rows(db: AuditDb, table: type) -> int:
    return await count(db, table)


async def test_a_superseded_attempt_never_hides_the_status_of_the_one_that_replaced_it(
    db: AuditDb,
) -> None:
    first = invoice_event()
    failed_command = command_for(first)
    failed = outcome_for(failed_command, status="failed", when=2, status_message="3140")
    retried = first.model_copy(update={"generation": 1_730_000_000_000, "received_at": at(10)})
    retry_command = command_for(retried, created=11).model_copy(
        update={"command_id": "cmd-retry", "generation": 1_730_000_000_000}
    )
    posted = outcome_for(retry_command, when=12)
    # The gateway tells, later, that the failed attempt was superseded by the retry.
    superseded = outcome_for(failed_command, status="superseded", attempt=2, when=13)
    for item in (
        Incoming(first.event_id, 1, event=first),
        Incoming(failed_command.command_id, 1, command=failed_command),
        Incoming(failed.outcome_id, 1, outcome=failed),
        Incoming(retried.message_id, 2, event=retried),
        Incoming(retry_command.command_id, 2, command=retry_command),
        Incoming(posted.outcome_id, 2, outcome=posted),
        Incoming(superseded.outcome_id, 2, outcome=superseded),
    ):
        await db.write([item])
    [record] = await RecordQueries(db).list()
    assert (record["status"], record["qb_id"], record["qb_state"]) == (
        "posted",
        "1A2B-1714651200",
        "posted",
    )
    trail = await RecordQueries(db).trail(record["id"])
    assert trail is not None
    assert [o["status"] for o in trail["outcomes"]] == ["failed", "posted", "superseded"]
    assert [(c["command_id"], c["generation"]) for c in trail["commands"]] == [
        (failed_command.command_id, 0),
        ("cmd-retry", 1_730_000_000_000),
    ]
