"""The audit writer exactly as the release before migrations had it (its writes.py, copied
unchanged but for the import of its tables), to fill "existing databases" with rows."""

# ruff: noqa
# mypy: ignore-errors
from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import and_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from legacy_schema import (
    NO_CONNECTION,
    REJECTED,
    ChangeRow,
    CommandRow,
    EventRow,
    OutcomeRow,
    RecordRow,
    RejectionRow,
)
from mlconnector.common.envelopes import Command, Outcome, QbChange, StEvent, StRejection
from mlconnector.common.models import Bill, Invoice, Party, Payment
from mlconnector.common.money import qb_amount


@dataclass
class Incoming:
    """One decoded stream message, ready to be written."""

    msg_id: str
    stream_seq: int | None
    event: StEvent | None = None
    rejection: StRejection | None = None
    command: Command | None = None
    outcome: Outcome | None = None
    change: QbChange | None = None
    extra: dict[str, Any] = field(default_factory=dict)


def rejection_record_st_id(rejection: StRejection) -> int:
    """The records.st_id a rejection is filed under.

    Its ServiceTitan id when it has one, so it joins that record's history. Without one (the
    id itself was unreadable), a negative number derived from the rejection id: records.st_id
    stays NOT NULL (existing databases keep their schema), each unreadable record still gets a
    row of its own, and redelivery lands on the same row. ServiceTitan ids are positive, and
    the API shows a negative st_id as null.
    """
    if rejection.st_id is not None:
        return rejection.st_id
    digest = hashlib.sha256(rejection.rejection_id.encode()).hexdigest()
    return -(int(digest[:7], 16) + 1)  # 28 bits: fits a 32-bit INTEGER


def record_summary(event: StEvent) -> dict[str, Any]:
    """What an operator recognises a record by in a list."""
    record = event.record
    if isinstance(record, Party):
        return {"name": record.name}
    if isinstance(record, Invoice):
        return {
            "number": record.number,
            "customer": record.customer_name,
            "date": record.invoice_date.isoformat(),
            "total": qb_amount(record.total),
        }
    if isinstance(record, Payment):
        return {
            "reference": record.reference,
            "customer": record.customer_name,
            "date": record.payment_date.isoformat(),
            "total": qb_amount(record.total),
        }
    if isinstance(record, Bill):
        return {
            "reference": record.reference,
            "vendor": record.vendor_name,
            "date": record.bill_date.isoformat(),
            "total": qb_amount(record.total),
        }
    return {}


class RowWriter:
    """The rows of one transaction: `write` each incoming message in turn."""

    def __init__(self, session: AsyncSession, dialect: str) -> None:
        self._session = session
        self._dialect = dialect

    async def write(self, item: Incoming) -> None:
        if item.event is not None:
            await self._event(item, item.event)
        elif item.rejection is not None:
            await self._rejection(item, item.rejection)
        elif item.command is not None:
            await self._command(item, item.command)
        elif item.outcome is not None:
            await self._outcome(item.outcome)
        elif item.change is not None:
            await self._change(item.change)

    def _insert(self, table: Any) -> Any:
        return postgresql.insert(table) if self._dialect == "postgresql" else sqlite.insert(table)

    async def _insert_if_absent(self, table: Any, key: str, values: dict[str, Any]) -> None:
        await self._session.execute(
            self._insert(table).values(**values).on_conflict_do_nothing(index_elements=[key])
        )

    async def _event(self, item: Incoming, event: StEvent) -> None:
        await self._insert_if_absent(
            EventRow.__table__,
            "msg_id",
            {
                "msg_id": item.msg_id,
                "event_id": event.event_id,
                "tenant": event.tenant,
                "entity": event.entity,
                "st_id": event.st_id,
                "version": event.version,
                "source": event.source,
                "stream_seq": item.stream_seq,
                "received_at": event.received_at,
                "event": event.model_dump(mode="json"),
            },
        )
        summary = record_summary(event)
        existing = (
            await self._session.scalars(
                select(RecordRow.id).where(
                    RecordRow.tenant == event.tenant,
                    RecordRow.entity == event.entity,
                    RecordRow.st_id == event.st_id,
                )
            )
        ).all()
        if not existing:
            await self._ensure_record(
                event.tenant,
                NO_CONNECTION,
                event.entity,
                event.st_id,
                event.received_at,
                summary,
            )
        else:
            # Every connection's record of this ServiceTitan record shows its latest version.
            await self._session.execute(
                update(RecordRow).where(RecordRow.id.in_(existing)).values(summary=summary)
            )
        await self._advance(
            and_(
                RecordRow.tenant == event.tenant,
                RecordRow.entity == event.entity,
                RecordRow.st_id == event.st_id,
            ),
            "pending",
            event.received_at,
        )

    async def _rejection(self, item: Incoming, rejection: StRejection) -> None:
        record_st_id = rejection_record_st_id(rejection)
        await self._insert_if_absent(
            RejectionRow.__table__,
            "rejection_id",
            {
                "rejection_id": item.msg_id,
                "tenant": rejection.tenant,
                "entity": rejection.entity,
                "st_id": rejection.st_id,
                "record_st_id": record_st_id,
                "error": rejection.error,
                "raw": rejection.raw,
                "stream_seq": item.stream_seq,
                "received_at": rejection.received_at,
            },
        )
        key = and_(
            RecordRow.tenant == rejection.tenant,
            RecordRow.entity == rejection.entity,
            RecordRow.st_id == record_st_id,
        )
        exists = (await self._session.execute(select(RecordRow.id).where(key).limit(1))).first()
        if exists is None:
            await self._ensure_record(
                rejection.tenant,
                NO_CONNECTION,
                rejection.entity,
                record_st_id,
                rejection.received_at,
            )
        # Every connection's record of it: its newest version could not be read. A later,
        # readable version moves it on (status_at), as any newer news does.
        await self._advance(key, REJECTED, rejection.received_at, message=rejection.error)

    async def _command(self, item: Incoming, command: Command) -> None:
        await self._insert_if_absent(
            CommandRow.__table__,
            "command_id",
            {
                "command_id": command.command_id,
                "connection": command.connection,
                "tenant": command.tenant,
                "entity": command.entity,
                "st_id": command.st_id,
                "event_id": command.event_id,
                "request_type": command.request_type,
                "qbxml": command.qbxml,
                "lookup_qbxml": command.lookup_qbxml,
                "refs": [ref.model_dump(mode="json") for ref in command.refs],
                "summary": command.summary,
                "stream_seq": item.stream_seq,
                "created_at": command.created_at,
            },
        )
        record_id = await self._record_for(
            command.tenant,
            command.connection,
            command.entity,
            command.st_id,
            command.created_at,
        )
        await self._advance(RecordRow.id == record_id, "pending", command.created_at)

    async def _outcome(self, outcome: Outcome) -> None:
        await self._insert_if_absent(
            OutcomeRow.__table__,
            "outcome_id",
            {
                "outcome_id": outcome.outcome_id,
                "command_id": outcome.command_id,
                "attempt": outcome.attempt,
                "connection": outcome.connection,
                "tenant": outcome.tenant,
                "entity": outcome.entity,
                "st_id": outcome.st_id,
                "event_id": outcome.event_id,
                "status": outcome.status,
                "qb_id": outcome.qb_id,
                "status_code": outcome.status_code,
                "status_severity": outcome.status_severity,
                "status_message": outcome.status_message,
                "hint": outcome.hint,
                "request_qbxml": outcome.request_qbxml,
                "response_qbxml": outcome.response_qbxml,
                "difference": (
                    None
                    if outcome.difference is None
                    else {label: list(pair) for label, pair in outcome.difference.items()}
                ),
                "at": outcome.at,
            },
        )
        record_id = await self._record_for(
            outcome.tenant, outcome.connection, outcome.entity, outcome.st_id, outcome.at
        )
        if outcome.prerequisite and outcome.status == "posted":
            # An item or job made ready for the record: the record itself has not posted yet,
            # and the id QuickBooks gave is not the record's. The trail still shows it.
            return
        message = outcome.status_message
        if outcome.status_code is not None and outcome.status_code != 0:
            message = f"QuickBooks status {outcome.status_code}: {message or ''}".rstrip(": ")
        await self._advance(
            RecordRow.id == record_id,
            outcome.status,
            outcome.at,
            message=message,
            hint=outcome.hint,
            qb_id=outcome.qb_id,
        )

    async def _change(self, change: QbChange) -> None:
        await self._insert_if_absent(
            ChangeRow.__table__,
            "change_id",
            {
                "change_id": change.change_id,
                "connection": change.connection,
                "entity": change.entity,
                "list_id": change.list_id,
                "edit_sequence": change.edit_sequence,
                "name": change.name,
                "active": change.active,
                "data": change.data,
                "at": change.at,
            },
        )

    async def _ensure_record(
        self,
        tenant: str,
        connection: str,
        entity: str,
        st_id: int,
        at: dt.datetime,
        summary: dict[str, Any] | None = None,
    ) -> None:
        await self._session.execute(
            self._insert(RecordRow.__table__)
            .values(
                tenant=tenant,
                connection=connection,
                entity=entity,
                st_id=st_id,
                status="pending",
                status_at=at,
                summary=summary or {},
                updated_at=at,
            )
            .on_conflict_do_nothing(index_elements=["tenant", "connection", "entity", "st_id"])
        )

    async def _record_for(
        self,
        tenant: str,
        connection: str,
        entity: str,
        st_id: int,
        at: dt.datetime,
    ) -> int:
        """The record of this connection, adopting the event-only record if there is one."""
        key = (RecordRow.tenant == tenant, RecordRow.entity == entity, RecordRow.st_id == st_id)
        found = (
            await self._session.execute(
                select(RecordRow.id).where(*key, RecordRow.connection == connection)
            )
        ).scalar_one_or_none()
        if found is not None:
            return int(found)
        adopted = await self._session.execute(
            update(RecordRow)
            .where(*key, RecordRow.connection == NO_CONNECTION)
            .values(connection=connection)
            .returning(RecordRow.id)
        )
        adopted_id = adopted.scalar_one_or_none()
        if adopted_id is not None:
            return int(adopted_id)
        # A second connection of the same tenant: it shares the event's summary.
        summary = (
            await self._session.execute(select(RecordRow.summary).where(*key).limit(1))
        ).scalar_one_or_none()
        await self._ensure_record(tenant, connection, entity, st_id, at, summary)
        return int(
            (
                await self._session.execute(
                    select(RecordRow.id).where(*key, RecordRow.connection == connection)
                )
            ).scalar_one()
        )

    async def _advance(
        self,
        where: Any,
        status: str,
        at: dt.datetime,
        *,
        message: str | None = None,
        hint: str | None = None,
        qb_id: str | None = None,
    ) -> None:
        values: dict[str, Any] = {
            "status": status,
            "status_at": at,
            "updated_at": at,
            "message": message,
            "hint": hint,
        }
        if qb_id is not None:
            values["qb_id"] = qb_id
        # Only newer news changes the status: streams are consumed independently.
        await self._session.execute(
            update(RecordRow).where(where, RecordRow.status_at <= at).values(**values)
        )
