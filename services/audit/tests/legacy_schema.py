"""The audit schema exactly as the release before migrations made it (its tables.py and the
create_all + ALTER TABLE of its db.py, copied unchanged), to build "existing databases" that
the migrations must upgrade."""

# ruff: noqa
# mypy: ignore-errors
from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, DateTime, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

NO_CONNECTION = ""  # a record seen only as a ServiceTitan event so far
REJECTED = "rejected"  # a ServiceTitan record st-ingest could not read (StRejection)


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
    # records.st_id of the record it belongs to (see writes.rejection_record_st_id).
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
    # Status "changed": label -> [posted value, new value] (Outcome.difference). Added after
    # the first release: AuditDb.create_tables adds it to databases made before.
    difference: Mapped[dict[str, list[str | None]] | None] = mapped_column(JSON, nullable=True)
    at: Mapped[dt.datetime] = mapped_column(UtcDateTime())


# Columns added to existing tables after they were first created: (table, column).
ADDED_COLUMNS: tuple[tuple[str, str], ...] = (("outcomes", "difference"),)


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


def _add_missing_columns(conn) -> None:
    from sqlalchemy import inspect

    inspector = inspect(conn)
    quote = conn.dialect.identifier_preparer
    for table_name, column_name in ADDED_COLUMNS:
        present = {c["name"] for c in inspector.get_columns(table_name)}
        if column_name in present:
            continue
        column = Base.metadata.tables[table_name].c[column_name]
        kind = column.type.compile(dialect=conn.dialect)
        conn.exec_driver_sql(
            f"ALTER TABLE {quote.quote(table_name)} ADD COLUMN {quote.quote(column_name)} {kind}"
        )


def create_tables(conn) -> None:
    """What `AuditDb.create_tables` of that release ran."""
    Base.metadata.create_all(conn)
    _add_missing_columns(conn)
