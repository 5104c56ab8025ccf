"""Reading the audit database: records by filter (a page, its total, counts by status), and the
full trail of one record, as JSON-ready dicts (times ISO 8601 UTC, amounts decimal dollars)."""

from __future__ import annotations

import builtins
import datetime as dt
import time
from collections.abc import AsyncIterator, Sequence
from decimal import Decimal
from typing import Any

from sqlalchemy import Row, and_, func, select

from mlconnector.audit.db import AuditDb
from mlconnector.audit.filters import RecordFilter
from mlconnector.audit.tables import (
    NO_CONNECTION,
    CommandRow,
    EventRow,
    OutcomeRow,
    RecordRow,
    RejectionRow,
    SessionRow,
    WriteBackRow,
)
from mlconnector.common.envelopes import StEvent, version_order

LIST_ORDER = (RecordRow.updated_at.desc(), RecordRow.id.desc())


def dollars(cents: int | None) -> str | None:
    """Integer cents -> '408.05' (None stays None)."""
    if cents is None:
        return None
    return f"{Decimal(cents) / 100:.2f}"


def record_json(row: RecordRow | Row[Any]) -> dict[str, Any]:
    """A record for the API: times ISO 8601 UTC, amounts decimal dollars ("408.05")."""
    return {
        "id": row.id,
        "tenant": row.tenant,
        "connection": row.connection or None,
        "entity": row.entity,
        # Negative: a rejected record whose ServiceTitan id was unreadable (see writes.py).
        "st_id": row.st_id if row.st_id >= 0 else None,
        "status": row.status,
        "qb_id": row.qb_id,
        "message": row.message,
        "hint": row.hint,
        "summary": row.summary or {},
        "updated_at": row.updated_at.isoformat(),
        "status_at": row.status_at.isoformat(),
        "reference": row.reference,
        "party": row.party,
        "date": row.doc_date.isoformat() if row.doc_date else None,
        # ServiceTitan's total of the newest version, and what QuickBooks holds ("read back"
        # from its answer, else as sent); decimal dollars.
        "amount": dollars(row.amount_cents),
        "qb_state": row.qb_state,
        "qb_amount": dollars(row.qb_amount_cents),
        "qb_amount_read": bool(row.qb_amount_read),
        "qb_expected": dollars(row.qb_expected_cents),
    }


def event_json(row: EventRow) -> dict[str, Any]:
    """A trail item: one ServiceTitan version as published (`raw`, the StEvent JSON)."""
    return {
        "kind": "event",
        "msg_id": row.msg_id,
        "event_id": row.event_id,
        "version": row.version,
        "source": row.source,
        "generation": int((row.event or {}).get("generation") or 0),
        "stream_seq": row.stream_seq,
        "at": row.received_at.isoformat(),
        "raw": row.event,
    }


def rejection_json(row: RejectionRow) -> dict[str, Any]:
    """A trail item: a ServiceTitan record st-ingest could not read, with its JSON."""
    return {
        "kind": "rejection",
        "rejection_id": row.rejection_id,
        "st_id": row.st_id,
        "error": row.error,
        "stream_seq": row.stream_seq,
        "at": row.received_at.isoformat(),
        "raw": row.raw,  # ServiceTitan's JSON as it arrived
    }


def command_json(row: CommandRow) -> dict[str, Any]:
    """A trail item: one command (its qbXML as the mapper made it)."""
    return {
        "kind": "command",
        "command_id": row.command_id,
        "event_id": row.event_id,
        "request_type": row.request_type,
        "action": row.action,
        "generation": row.generation,
        "qbxml": row.qbxml,
        "lookup_qbxml": row.lookup_qbxml,
        "refs": row.refs,
        "summary": row.summary,
        "stream_seq": row.stream_seq,
        "at": row.created_at.isoformat(),
    }


def outcome_json(row: OutcomeRow) -> dict[str, Any]:
    """A trail item: one attempt's outcome (QuickBooks' status, its qbXML, its amounts)."""
    return {
        "kind": "outcome",
        "outcome_id": row.outcome_id,
        "command_id": row.command_id,
        "attempt": row.attempt,
        "status": row.status,
        "qb_id": row.qb_id,
        "status_code": row.status_code,
        "status_severity": row.status_severity,
        "status_message": row.status_message,
        "hint": row.hint,
        "request_qbxml": row.request_qbxml,
        "response_qbxml": row.response_qbxml,
        # Status "changed": label -> [posted value, new value]; null otherwise, and when the
        # posted version is not known.
        "difference": row.difference,
        # QuickBooks' read-back amounts and ServiceTitan's, decimal dollars by name.
        "amounts": row.amounts,
        "expected": row.expected,
        "prerequisite": bool(row.prerequisite),
        "at": row.at.isoformat(),
    }


def writeback_json(row: WriteBackRow) -> dict[str, Any]:
    """A trail item: what st-ingest wrote back to ServiceTitan (marked exported, a payment's
    status, a QuickBooks change), or why it could not."""
    return {
        "kind": "writeback",
        "write_id": row.write_id,
        "action": row.action,
        "status": row.status,
        "qb_id": row.qb_id,
        "attempt": row.attempt,
        "max_attempts": row.max_attempts,
        "error": row.error,
        "at": row.at.isoformat(),
    }


class RecordQueries:
    """Read-only queries over an AuditDb."""

    def __init__(self, db: AuditDb) -> None:
        self.db = db
        self._connections: tuple[float, list[str]] | None = None

    async def list(
        self,
        filters: RecordFilter | None = None,
        *,
        limit: int = 100,
        offset: int = 0,
        **legacy: Any,
    ) -> list[dict[str, Any]]:
        """One page of records, newest change first. Filters may also be given by name
        (tenant=, connection=, entity=, st_id=, status=, since=, until=)."""
        where = (filters or RecordFilter(**legacy)).conditions()
        query = select(RecordRow).where(*where).order_by(*LIST_ORDER).limit(limit).offset(offset)
        async with self.db.sessions() as session:
            rows = (await session.scalars(query)).all()
        return [record_json(row) for row in rows]

    async def count(self, filters: RecordFilter) -> int:
        query = select(func.count()).select_from(RecordRow).where(*filters.conditions())
        async with self.db.sessions() as session:
            return int((await session.execute(query)).scalar_one())

    async def tally(self, filters: RecordFilter) -> dict[str, int]:
        """Records per status under every filter but the status one."""
        query = (
            select(RecordRow.status, func.count())
            .where(*filters.with_status(None).conditions())
            .group_by(RecordRow.status)
        )
        async with self.db.sessions() as session:
            return {status: int(n) for status, n in (await session.execute(query)).all()}

    async def ids(self, filters: RecordFilter, limit: int) -> builtins.list[int]:
        query = select(RecordRow.id).where(*filters.conditions()).order_by(*LIST_ORDER)
        async with self.db.sessions() as session:
            return [int(i) for i in (await session.scalars(query.limit(limit))).all()]

    async def stream(self, filters: RecordFilter, chunk: int = 2000) -> AsyncIterator[RecordRow]:
        """Every matching record, newest change first, read a chunk at a time (keyset on the
        list order, so a long export never re-reads or skips a row that did not move)."""
        after: tuple[dt.datetime, int] | None = None
        while True:
            query = select(RecordRow).where(*filters.conditions())
            if after is not None:
                query = query.where(
                    (RecordRow.updated_at < after[0])
                    | and_(RecordRow.updated_at == after[0], RecordRow.id < after[1])
                )
            async with self.db.sessions() as session:
                rows = (await session.scalars(query.order_by(*LIST_ORDER).limit(chunk))).all()
            for row in rows:
                yield row
            if len(rows) < chunk:
                return
            after = (rows[-1].updated_at, rows[-1].id)

    async def connections(self) -> builtins.list[str]:
        """Connection names records and Web Connector sessions mention (cached a minute)."""
        now = time.monotonic()
        if self._connections is not None and now - self._connections[0] < 60:
            return self._connections[1]
        async with self.db.sessions() as session:
            names = set(
                (await session.scalars(select(RecordRow.connection).distinct())).all()
            ) | set((await session.scalars(select(SessionRow.connection).distinct())).all())
        found = sorted(n for n in names if n != NO_CONNECTION)
        self._connections = (now, found)
        return found

    async def record(self, record_id: int) -> RecordRow | None:
        async with self.db.sessions() as session:
            return await session.get(RecordRow, record_id)

    async def latest_event(self, record: RecordRow) -> StEvent | None:
        """The record's newest ServiceTitan version (by modifiedOn, then retry generation),
        as published; None when only rejections of it exist."""
        async with self.db.sessions() as session:
            stored: Sequence[dict[str, Any]] = (
                await session.scalars(
                    select(EventRow.event).where(
                        EventRow.tenant == record.tenant,
                        EventRow.entity == record.entity,
                        EventRow.st_id == record.st_id,
                    )
                )
            ).all()
        events = [StEvent.model_validate(item) for item in stored]
        if not events:
            return None
        return max(events, key=lambda e: version_order(e.version_at, e.generation, e.event_id))

    async def trail(self, record_id: int) -> dict[str, Any] | None:
        async with self.db.sessions() as session:
            record = await session.get(RecordRow, record_id)
            if record is None:
                return None
            events = (
                await session.scalars(
                    select(EventRow).where(
                        EventRow.tenant == record.tenant,
                        EventRow.entity == record.entity,
                        EventRow.st_id == record.st_id,
                    )
                )
            ).all()
            rejections = (
                await session.scalars(
                    select(RejectionRow).where(
                        RejectionRow.tenant == record.tenant,
                        RejectionRow.entity == record.entity,
                        RejectionRow.record_st_id == record.st_id,
                    )
                )
            ).all()
            commands: Sequence[CommandRow] = []
            outcomes: Sequence[OutcomeRow] = []
            writebacks: Sequence[WriteBackRow] = []
            if record.connection != NO_CONNECTION:
                writebacks = (
                    await session.scalars(
                        select(WriteBackRow).where(
                            WriteBackRow.tenant == record.tenant,
                            WriteBackRow.entity == record.entity,
                            WriteBackRow.st_id == record.st_id,
                            WriteBackRow.connection == record.connection,
                        )
                    )
                ).all()
                commands = (
                    await session.scalars(
                        select(CommandRow).where(
                            CommandRow.connection == record.connection,
                            CommandRow.entity == record.entity,
                            CommandRow.st_id == record.st_id,
                            CommandRow.tenant == record.tenant,
                        )
                    )
                ).all()
                outcomes = (
                    await session.scalars(
                        select(OutcomeRow).where(
                            OutcomeRow.connection == record.connection,
                            OutcomeRow.entity == record.entity,
                            OutcomeRow.st_id == record.st_id,
                            OutcomeRow.tenant == record.tenant,
                        )
                    )
                ).all()
        items = (
            [event_json(e) for e in events]
            + [rejection_json(r) for r in rejections]
            + [command_json(c) for c in commands]
            + [outcome_json(o) for o in outcomes]
            + [writeback_json(w) for w in writebacks]
        )
        order = {"event": 0, "rejection": 0, "command": 1, "outcome": 2, "writeback": 3}
        items.sort(key=lambda item: (item["at"], order[item["kind"]]))
        return {
            "record": record_json(record),
            "events": [i for i in items if i["kind"] == "event"],
            "rejections": [i for i in items if i["kind"] == "rejection"],
            "commands": [i for i in items if i["kind"] == "command"],
            "outcomes": [i for i in items if i["kind"] == "outcome"],
            "writebacks": [i for i in items if i["kind"] == "writeback"],
            "trail": items,
        }
