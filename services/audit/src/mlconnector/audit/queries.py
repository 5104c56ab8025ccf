"""Reading the audit database: records by filter, and the full trail of one record, as JSON."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from sqlalchemy import and_, select

from mlconnector.audit.db import AuditDb
from mlconnector.audit.tables import (
    NO_CONNECTION,
    CommandRow,
    EventRow,
    OutcomeRow,
    RecordRow,
    RejectionRow,
)


def record_json(row: RecordRow) -> dict[str, Any]:
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
    }


def event_json(row: EventRow) -> dict[str, Any]:
    return {
        "kind": "event",
        "msg_id": row.msg_id,
        "event_id": row.event_id,
        "version": row.version,
        "source": row.source,
        "stream_seq": row.stream_seq,
        "at": row.received_at.isoformat(),
        "raw": row.event,
    }


def rejection_json(row: RejectionRow) -> dict[str, Any]:
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
    return {
        "kind": "command",
        "command_id": row.command_id,
        "event_id": row.event_id,
        "request_type": row.request_type,
        "qbxml": row.qbxml,
        "lookup_qbxml": row.lookup_qbxml,
        "refs": row.refs,
        "summary": row.summary,
        "stream_seq": row.stream_seq,
        "at": row.created_at.isoformat(),
    }


def outcome_json(row: OutcomeRow) -> dict[str, Any]:
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
        "at": row.at.isoformat(),
    }


class RecordQueries:
    def __init__(self, db: AuditDb) -> None:
        self.db = db

    async def list(
        self,
        *,
        tenant: str | None = None,
        connection: str | None = None,
        entity: str | None = None,
        st_id: int | None = None,
        status: str | None = None,
        since: dt.datetime | None = None,
        until: dt.datetime | None = None,
        limit: int = 100,
        offset: int = 0,
    ) -> list[dict[str, Any]]:
        query = select(RecordRow)
        if tenant:
            query = query.where(RecordRow.tenant == tenant)
        if connection:
            query = query.where(RecordRow.connection == connection)
        if entity:
            query = query.where(RecordRow.entity == entity)
        if st_id is not None:
            query = query.where(RecordRow.st_id == st_id)
        if status:
            query = query.where(RecordRow.status == status)
        if since:
            query = query.where(RecordRow.updated_at >= since)
        if until:
            query = query.where(RecordRow.updated_at < until)
        query = query.order_by(RecordRow.updated_at.desc(), RecordRow.id.desc())
        async with self.db.sessions() as session:
            rows = (await session.scalars(query.limit(limit).offset(offset))).all()
        return [record_json(row) for row in rows]

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
            key_match = and_(CommandRow.entity == record.entity, CommandRow.st_id == record.st_id)
            if record.connection != NO_CONNECTION:
                commands = (
                    await session.scalars(
                        select(CommandRow).where(
                            key_match, CommandRow.connection == record.connection
                        )
                    )
                ).all()
            outcomes = (
                await session.scalars(
                    select(OutcomeRow).where(
                        OutcomeRow.tenant == record.tenant,
                        OutcomeRow.entity == record.entity,
                        OutcomeRow.st_id == record.st_id,
                        OutcomeRow.connection == record.connection,
                    )
                )
            ).all()
        items = (
            [event_json(e) for e in events]
            + [rejection_json(r) for r in rejections]
            + [command_json(c) for c in commands]
            + [outcome_json(o) for o in outcomes]
        )
        order = {"event": 0, "rejection": 0, "command": 1, "outcome": 2}
        items.sort(key=lambda item: (item["at"], order[item["kind"]]))
        return {
            "record": record_json(record),
            "events": [i for i in items if i["kind"] == "event"],
            "rejections": [i for i in items if i["kind"] == "rejection"],
            "commands": [i for i in items if i["kind"] == "command"],
            "outcomes": [i for i in items if i["kind"] == "outcome"],
            "trail": items,
        }
