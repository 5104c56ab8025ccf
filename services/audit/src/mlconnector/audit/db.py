"""The audit database: events, rejections, commands, outcomes, QuickBooks changes, and one
record per (tenant, connection, entity, ServiceTitan id) with its current status.

Every message row is keyed by its message id and inserted only if absent, so redelivery and
replays never duplicate rows. A record's status moves only forward in time (`status_at`):
the four streams are consumed independently, so an outcome can arrive before its command.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import (
    JSON,
    DateTime,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    and_,
    select,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

from mlconnector.common.envelopes import Command, Outcome, QbChange, StEvent, StRejection
from mlconnector.common.models import Bill, Invoice, Party, Payment
from mlconnector.common.money import qb_amount

NO_CONNECTION = ""  # a record seen only as a ServiceTitan event so far
REJECTED = "rejected"  # a ServiceTitan record st-ingest could not read (StRejection)


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


class UtcDateTime(TypeDecorator[dt.datetime]):
    """Always timezone-aware UTC out, whatever the backend keeps (SQLite keeps no zone)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Any) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            value = value.replace(tzinfo=dt.UTC)
        return value.astimezone(dt.UTC)

    def process_result_value(self, value: dt.datetime | None, dialect: Any) -> dt.datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)


class Base(DeclarativeBase):
    pass


class RecordRow(Base):
    __tablename__ = "records"
    __table_args__ = (
        UniqueConstraint("tenant", "connection", "entity", "st_id", name="uq_records_key"),
        Index("ix_records_updated_at", "updated_at"),
        Index("ix_records_status", "status"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    tenant: Mapped[str] = mapped_column(String(64))
    connection: Mapped[str] = mapped_column(String(64), default=NO_CONNECTION)
    entity: Mapped[str] = mapped_column(String(16))
    st_id: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(16))
    status_at: Mapped[dt.datetime] = mapped_column(UtcDateTime())
    qb_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    message: Mapped[str | None] = mapped_column(Text, nullable=True)
    hint: Mapped[str | None] = mapped_column(Text, nullable=True)
    summary: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    updated_at: Mapped[dt.datetime] = mapped_column(UtcDateTime())


class EventRow(Base):
    __tablename__ = "events"
    __table_args__ = (Index("ix_events_key", "tenant", "entity", "st_id"),)

    msg_id: Mapped[str] = mapped_column(String(300), primary_key=True)
    event_id: Mapped[str] = mapped_column(String(300))
    tenant: Mapped[str] = mapped_column(String(64))
    entity: Mapped[str] = mapped_column(String(16))
    st_id: Mapped[int] = mapped_column(Integer)
    version: Mapped[str] = mapped_column(String(100))
    source: Mapped[str] = mapped_column(String(16))
    stream_seq: Mapped[int | None] = mapped_column(Integer, nullable=True)
    received_at: Mapped[dt.datetime] = mapped_column(UtcDateTime())
    event: Mapped[dict[str, Any]] = mapped_column(JSON)


class RejectionRow(Base):
    __tablename__ = "rejections"
    __table_args__ = (Index("ix_rejections_key", "tenant", "entity", "record_st_id"),)

    rejection_id: Mapped[str] = mapped_column(String(300), primary_key=True)
    tenant: Mapped[str] = mapped_column(String(64))
    entity: Mapped[str] = mapped_column(String(16))
    st_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    # records.st_id of the record it belongs to (see rejection_record_st_id).
    record_st_id: Mapped[int] = mapped_column(Integer)
    error: Mapped[str] = mapped_column(Text)
    raw: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    stream_seq: Mapped[int | None] = mapped_column(Integer, nullable=True)
    received_at: Mapped[dt.datetime] = mapped_column(UtcDateTime())


class CommandRow(Base):
    __tablename__ = "commands"
    __table_args__ = (Index("ix_commands_key", "connection", "entity", "st_id"),)

    command_id: Mapped[str] = mapped_column(String(100), primary_key=True)
    connection: Mapped[str] = mapped_column(String(64))
    tenant: Mapped[str] = mapped_column(String(64))
    entity: Mapped[str] = mapped_column(String(16))
    st_id: Mapped[int] = mapped_column(Integer)
    event_id: Mapped[str] = mapped_column(String(300))
    request_type: Mapped[str] = mapped_column(String(64))
    qbxml: Mapped[str] = mapped_column(Text)
    lookup_qbxml: Mapped[str | None] = mapped_column(Text, nullable=True)
    refs: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    summary: Mapped[str] = mapped_column(Text, default="")
    stream_seq: Mapped[int | None] = mapped_column(Integer, nullable=True)
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime())


class OutcomeRow(Base):
    __tablename__ = "outcomes"
    __table_args__ = (Index("ix_outcomes_key", "connection", "entity", "st_id"),)

    outcome_id: Mapped[str] = mapped_column(String(120), primary_key=True)
    command_id: Mapped[str] = mapped_column(String(100), index=True)
    attempt: Mapped[int] = mapped_column(Integer)
    connection: Mapped[str] = mapped_column(String(64))
    tenant: Mapped[str] = mapped_column(String(64))
    entity: Mapped[str] = mapped_column(String(16))
    st_id: Mapped[int] = mapped_column(Integer)
    event_id: Mapped[str] = mapped_column(String(300))
    status: Mapped[str] = mapped_column(String(16))
    qb_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    status_code: Mapped[int | None] = mapped_column(Integer, nullable=True)
    status_severity: Mapped[str | None] = mapped_column(String(16), nullable=True)
    status_message: Mapped[str | None] = mapped_column(Text, nullable=True)
    hint: Mapped[str | None] = mapped_column(Text, nullable=True)
    request_qbxml: Mapped[str | None] = mapped_column(Text, nullable=True)
    response_qbxml: Mapped[str | None] = mapped_column(Text, nullable=True)
    at: Mapped[dt.datetime] = mapped_column(UtcDateTime())


class ChangeRow(Base):
    __tablename__ = "qb_changes"

    change_id: Mapped[str] = mapped_column(String(200), primary_key=True)
    connection: Mapped[str] = mapped_column(String(64))
    entity: Mapped[str] = mapped_column(String(16))
    list_id: Mapped[str] = mapped_column(String(64))
    edit_sequence: Mapped[str] = mapped_column(String(32))
    name: Mapped[str] = mapped_column(Text)
    active: Mapped[bool]
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    at: Mapped[dt.datetime] = mapped_column(UtcDateTime())


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


class AuditDb:
    def __init__(self, url: str, schema: str | None = None) -> None:
        options: dict[str, Any] = {}
        if url.startswith("sqlite"):
            # Several consumers write concurrently; wait for the lock rather than fail.
            options["connect_args"] = {"timeout": 30}
        else:
            options["pool_pre_ping"] = True
        engine = create_async_engine(url, **options)
        if schema:
            engine = engine.execution_options(schema_translate_map={None: schema})
        self.engine: AsyncEngine = engine
        self.schema = schema
        self.sessions = async_sessionmaker(engine, expire_on_commit=False)

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    async def create_tables(self) -> None:
        async with self.engine.begin() as conn:
            await conn.run_sync(Base.metadata.create_all)

    async def close(self) -> None:
        await self.engine.dispose()

    def _insert(self, table: Any) -> Any:
        return postgresql.insert(table) if self.dialect == "postgresql" else sqlite.insert(table)

    async def _insert_if_absent(
        self, session: AsyncSession, table: Any, key: str, values: dict[str, Any]
    ) -> bool:
        result = await session.execute(
            self._insert(table).values(**values).on_conflict_do_nothing(index_elements=[key])
        )
        return bool(getattr(result, "rowcount", 0))

    async def write(self, items: Sequence[Incoming]) -> None:
        """All items in one transaction: either every row is written or none is."""
        async with self.sessions.begin() as session:
            for item in items:
                if item.event is not None:
                    await self._write_event(session, item, item.event)
                elif item.rejection is not None:
                    await self._write_rejection(session, item, item.rejection)
                elif item.command is not None:
                    await self._write_command(session, item, item.command)
                elif item.outcome is not None:
                    await self._write_outcome(session, item.outcome)
                elif item.change is not None:
                    await self._write_change(session, item.change)

    async def _write_event(self, session: AsyncSession, item: Incoming, event: StEvent) -> None:
        await self._insert_if_absent(
            session,
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
            (
                await session.execute(
                    select(RecordRow.id).where(
                        RecordRow.tenant == event.tenant,
                        RecordRow.entity == event.entity,
                        RecordRow.st_id == event.st_id,
                    )
                )
            )
            .scalars()
            .all()
        )
        if not existing:
            await self._ensure_record(
                session,
                event.tenant,
                NO_CONNECTION,
                event.entity,
                event.st_id,
                event.received_at,
                summary,
            )
        else:
            # Every connection's record of this ServiceTitan record shows its latest version.
            await session.execute(
                update(RecordRow).where(RecordRow.id.in_(existing)).values(summary=summary)
            )
        await self._advance(
            session,
            and_(
                RecordRow.tenant == event.tenant,
                RecordRow.entity == event.entity,
                RecordRow.st_id == event.st_id,
            ),
            "pending",
            event.received_at,
        )

    async def _write_rejection(
        self, session: AsyncSession, item: Incoming, rejection: StRejection
    ) -> None:
        record_st_id = rejection_record_st_id(rejection)
        await self._insert_if_absent(
            session,
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
        exists = (await session.execute(select(RecordRow.id).where(key).limit(1))).first()
        if exists is None:
            await self._ensure_record(
                session,
                rejection.tenant,
                NO_CONNECTION,
                rejection.entity,
                record_st_id,
                rejection.received_at,
            )
        # Every connection's record of it: its newest version could not be read. A later,
        # readable version moves it on (status_at), as any newer news does.
        await self._advance(session, key, REJECTED, rejection.received_at, message=rejection.error)

    async def _write_command(self, session: AsyncSession, item: Incoming, command: Command) -> None:
        await self._insert_if_absent(
            session,
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
            session,
            command.tenant,
            command.connection,
            command.entity,
            command.st_id,
            command.created_at,
        )
        await self._advance(session, RecordRow.id == record_id, "pending", command.created_at)

    async def _write_outcome(self, session: AsyncSession, outcome: Outcome) -> None:
        await self._insert_if_absent(
            session,
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
                "at": outcome.at,
            },
        )
        record_id = await self._record_for(
            session, outcome.tenant, outcome.connection, outcome.entity, outcome.st_id, outcome.at
        )
        message = outcome.status_message
        if outcome.status_code is not None and outcome.status_code != 0:
            message = f"QuickBooks status {outcome.status_code}: {message or ''}".rstrip(": ")
        await self._advance(
            session,
            RecordRow.id == record_id,
            outcome.status,
            outcome.at,
            message=message,
            hint=outcome.hint,
            qb_id=outcome.qb_id,
        )

    async def _write_change(self, session: AsyncSession, change: QbChange) -> None:
        await self._insert_if_absent(
            session,
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
        session: AsyncSession,
        tenant: str,
        connection: str,
        entity: str,
        st_id: int,
        at: dt.datetime,
        summary: dict[str, Any] | None = None,
    ) -> None:
        await session.execute(
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
        session: AsyncSession,
        tenant: str,
        connection: str,
        entity: str,
        st_id: int,
        at: dt.datetime,
    ) -> int:
        """The record of this connection, adopting the event-only record if there is one."""
        key = (RecordRow.tenant == tenant, RecordRow.entity == entity, RecordRow.st_id == st_id)
        found = (
            await session.execute(
                select(RecordRow.id).where(*key, RecordRow.connection == connection)
            )
        ).scalar_one_or_none()
        if found is not None:
            return int(found)
        adopted = await session.execute(
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
            await session.execute(select(RecordRow.summary).where(*key).limit(1))
        ).scalar_one_or_none()
        await self._ensure_record(session, tenant, connection, entity, st_id, at, summary)
        return int(
            (
                await session.execute(
                    select(RecordRow.id).where(*key, RecordRow.connection == connection)
                )
            ).scalar_one()
        )

    async def _advance(
        self,
        session: AsyncSession,
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
        await session.execute(
            update(RecordRow).where(where, RecordRow.status_at <= at).values(**values)
        )
