"""The audit database's tables: one row per stream message (events, rejections, commands,
outcomes, QuickBooks changes, Web Connector sessions, ServiceTitan feed reports, write-backs to
ServiceTitan), and one record
per (tenant, entity, ServiceTitan id, connection) with its current status.

The schema is made by the Alembic migrations in `mlconnector/audit/migrations` (schema.py runs
them); these classes describe the head revision and are what the code reads and writes.
ServiceTitan ids are int64 in ServiceTitan's documents: every column holding one is 64-bit.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Date,
    DateTime,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

NO_CONNECTION = ""  # a record seen only as a ServiceTitan event so far
REJECTED = "rejected"  # a ServiceTitan record st-ingest could not read (StRejection)

# 64-bit everywhere; SQLite's INTEGER already is, and only "INTEGER PRIMARY KEY" is its rowid.
Int64 = BigInteger().with_variant(Integer(), "sqlite")


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


# Every list the API offers is ordered by (updated_at DESC, id DESC); each filter has an index
# that starts with it and ends with that order, so a page is an index range walk, not a sort.
RECORD_LIST_INDEXES = (
    Index("ix_records_updated", "updated_at", "id"),
    Index("ix_records_status_updated", "status", "updated_at", "id"),
    Index("ix_records_connection_updated", "connection", "updated_at", "id"),
    Index("ix_records_connection_status_updated", "connection", "status", "updated_at", "id"),
    Index("ix_records_entity_updated", "entity", "updated_at", "id"),
    # Counts by type and status (the page's total and its counts by status) read only this.
    Index("ix_records_entity_status", "entity", "status"),
    Index("ix_records_tenant_updated", "tenant", "updated_at", "id"),
    Index("ix_records_st_id", "st_id"),
    Index("ix_records_doc_date", "doc_date", "updated_at", "id"),
    # Reconciliation: a connection's records of one entity over a range of document dates.
    Index("ix_records_reconcile", "connection", "entity", "doc_date"),
)


class RecordRow(Base):
    __tablename__ = "records"
    __table_args__ = (
        # Leads with the ServiceTitan key, so that an event (which knows no connection) finds
        # every connection's record of it through the index.
        UniqueConstraint("tenant", "entity", "st_id", "connection", name="uq_records_key"),
        *RECORD_LIST_INDEXES,
    )

    id: Mapped[int] = mapped_column(Int64, primary_key=True, autoincrement=True)
    tenant: Mapped[str] = mapped_column(String(64))
    connection: Mapped[str] = mapped_column(String(64), default=NO_CONNECTION)
    entity: Mapped[str] = mapped_column(String(16))
    st_id: Mapped[int] = mapped_column(Int64)
    status: Mapped[str] = mapped_column(String(16))
    status_at: Mapped[dt.datetime] = mapped_column(UtcDateTime())
    qb_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    message: Mapped[str | None] = mapped_column(Text, nullable=True)
    hint: Mapped[str | None] = mapped_column(Text, nullable=True)
    summary: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    updated_at: Mapped[dt.datetime] = mapped_column(UtcDateTime())
    # What people recognise a record by (from its newest ServiceTitan version):
    reference: Mapped[str | None] = mapped_column(String(100), nullable=True)  # number, ref
    party: Mapped[str | None] = mapped_column(String(200), nullable=True)  # customer / vendor
    doc_date: Mapped[dt.date | None] = mapped_column(Date, nullable=True)  # invoice date...
    amount_cents: Mapped[int | None] = mapped_column(Int64, nullable=True)  # ServiceTitan total
    st_active: Mapped[bool] = mapped_column(Boolean, default=True)  # not voided in ServiceTitan
    version_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime(), nullable=True)
    # Lower-cased "reference party" for the search box.
    search: Mapped[str] = mapped_column(String(320), default="")
    # What QuickBooks holds: "posted" (also "differs") or "voided"; None: nothing yet.
    qb_state: Mapped[str | None] = mapped_column(String(16), nullable=True)
    # The total QuickBooks holds, in cents: read back from its answer, or as sent when the
    # gateway did not read it back (qb_amount_read false).
    qb_amount_cents: Mapped[int | None] = mapped_column(Int64, nullable=True)
    qb_amount_read: Mapped[bool] = mapped_column(Boolean, default=False)
    # ServiceTitan's total as the posted version had it (Outcome.expected), in cents.
    qb_expected_cents: Mapped[int | None] = mapped_column(Int64, nullable=True)
    # When QuickBooks' side last changed (the outcome's time): older news never overwrites it.
    qb_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime(), nullable=True)


# Search words sort by code point on PostgreSQL too, so that a prefix is a range.
WordText = String(100).with_variant(String(100, collation="C"), "postgresql")


class RecordWordRow(Base):
    """A word people may search a ServiceTitan record by (its reference, customer or vendor
    name, ServiceTitan id), lower-case: every connection's record of it matches."""

    __tablename__ = "record_words"
    __table_args__ = (
        Index("ix_record_words_key", "tenant", "entity", "st_id"),
        {"sqlite_with_rowid": False},
    )

    word: Mapped[str] = mapped_column(WordText, primary_key=True)
    tenant: Mapped[str] = mapped_column(String(64), primary_key=True)
    entity: Mapped[str] = mapped_column(String(16), primary_key=True)
    st_id: Mapped[int] = mapped_column(Int64, primary_key=True)


class EventRow(Base):
    __tablename__ = "events"
    __table_args__ = (Index("ix_events_key", "tenant", "entity", "st_id"),)

    msg_id: Mapped[str] = mapped_column(String(300), primary_key=True)
    event_id: Mapped[str] = mapped_column(String(300))
    tenant: Mapped[str] = mapped_column(String(64))
    entity: Mapped[str] = mapped_column(String(16))
    st_id: Mapped[int] = mapped_column(Int64)
    version: Mapped[str] = mapped_column(String(100))
    source: Mapped[str] = mapped_column(String(16))
    stream_seq: Mapped[int | None] = mapped_column(Int64, nullable=True)
    received_at: Mapped[dt.datetime] = mapped_column(UtcDateTime())
    event: Mapped[dict[str, Any]] = mapped_column(JSON)


class RejectionRow(Base):
    __tablename__ = "rejections"
    __table_args__ = (Index("ix_rejections_key", "tenant", "entity", "record_st_id"),)

    rejection_id: Mapped[str] = mapped_column(String(300), primary_key=True)
    tenant: Mapped[str] = mapped_column(String(64))
    entity: Mapped[str] = mapped_column(String(16))
    st_id: Mapped[int | None] = mapped_column(Int64, nullable=True)
    # records.st_id of the record it belongs to (see writes.rejection_record_st_id).
    record_st_id: Mapped[int] = mapped_column(Int64)
    error: Mapped[str] = mapped_column(Text)
    raw: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    stream_seq: Mapped[int | None] = mapped_column(Int64, nullable=True)
    received_at: Mapped[dt.datetime] = mapped_column(UtcDateTime())


class CommandRow(Base):
    __tablename__ = "commands"
    __table_args__ = (Index("ix_commands_key", "connection", "entity", "st_id"),)

    command_id: Mapped[str] = mapped_column(String(100), primary_key=True)
    connection: Mapped[str] = mapped_column(String(64))
    tenant: Mapped[str] = mapped_column(String(64))
    entity: Mapped[str] = mapped_column(String(16))
    st_id: Mapped[int] = mapped_column(Int64)
    event_id: Mapped[str] = mapped_column(String(300))
    request_type: Mapped[str] = mapped_column(String(64))
    qbxml: Mapped[str] = mapped_column(Text)
    lookup_qbxml: Mapped[str | None] = mapped_column(Text, nullable=True)
    refs: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    summary: Mapped[str] = mapped_column(Text, default="")
    stream_seq: Mapped[int | None] = mapped_column(Int64, nullable=True)
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime())
    generation: Mapped[int] = mapped_column(Int64, default=0)  # StEvent.generation (a retry)
    action: Mapped[str] = mapped_column(String(16), default="post")


class OutcomeRow(Base):
    __tablename__ = "outcomes"
    __table_args__ = (Index("ix_outcomes_key", "connection", "entity", "st_id"),)

    outcome_id: Mapped[str] = mapped_column(String(120), primary_key=True)
    command_id: Mapped[str] = mapped_column(String(100))
    attempt: Mapped[int] = mapped_column(Integer)
    connection: Mapped[str] = mapped_column(String(64))
    tenant: Mapped[str] = mapped_column(String(64))
    entity: Mapped[str] = mapped_column(String(16))
    st_id: Mapped[int] = mapped_column(Int64)
    event_id: Mapped[str] = mapped_column(String(300))
    status: Mapped[str] = mapped_column(String(16))
    qb_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    status_code: Mapped[int | None] = mapped_column(Integer, nullable=True)
    status_severity: Mapped[str | None] = mapped_column(String(16), nullable=True)
    status_message: Mapped[str | None] = mapped_column(Text, nullable=True)
    hint: Mapped[str | None] = mapped_column(Text, nullable=True)
    request_qbxml: Mapped[str | None] = mapped_column(Text, nullable=True)
    response_qbxml: Mapped[str | None] = mapped_column(Text, nullable=True)
    # Status "changed": label -> [posted value, new value] (Outcome.difference).
    difference: Mapped[dict[str, list[str | None]] | None] = mapped_column(JSON, nullable=True)
    # QuickBooks' read-back amounts and ServiceTitan's, decimal dollars by name (Outcome).
    amounts: Mapped[dict[str, str] | None] = mapped_column(JSON, nullable=True)
    expected: Mapped[dict[str, str] | None] = mapped_column(JSON, nullable=True)
    prerequisite: Mapped[bool] = mapped_column(Boolean, default=False)
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


class SessionRow(Base):
    """One Web Connector contact (SessionReport)."""

    __tablename__ = "wc_sessions"
    __table_args__ = (Index("ix_wc_sessions_connection_ended", "connection", "ended_at"),)

    report_id: Mapped[str] = mapped_column(String(200), primary_key=True)
    connection: Mapped[str] = mapped_column(String(64))
    started_at: Mapped[dt.datetime] = mapped_column(UtcDateTime())
    ended_at: Mapped[dt.datetime] = mapped_column(UtcDateTime())
    result: Mapped[str] = mapped_column(String(16))
    posted: Mapped[int] = mapped_column(Integer, default=0)
    failed: Mapped[int] = mapped_column(Integer, default=0)
    waiting: Mapped[int] = mapped_column(Integer, default=0)
    retrying: Mapped[int] = mapped_column(Integer, default=0)
    changed: Mapped[int] = mapped_column(Integer, default=0)
    hresult: Mapped[str | None] = mapped_column(String(32), nullable=True)
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)
    client_version: Mapped[str | None] = mapped_column(String(64), nullable=True)
    qbxml_version: Mapped[str | None] = mapped_column(String(32), nullable=True)


class FeedRow(Base):
    """The state of one ServiceTitan feed after a poll (FeedReport)."""

    __tablename__ = "st_feeds"
    __table_args__ = (Index("ix_st_feeds_tenant_at", "tenant", "entity", "at"),)

    report_id: Mapped[str] = mapped_column(String(200), primary_key=True)
    tenant: Mapped[str] = mapped_column(String(64))
    entity: Mapped[str] = mapped_column(String(32))
    state: Mapped[str] = mapped_column(String(16))
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    failures: Mapped[int] = mapped_column(Integer, default=0)
    published: Mapped[int] = mapped_column(Integer, default=0)
    at: Mapped[dt.datetime] = mapped_column(UtcDateTime())


class WriteBackRow(Base):
    """What st-ingest wrote (or could not write) to ServiceTitan for one record (WriteBack):
    an invoice or bill marked exported, a payment's status, a QuickBooks change written."""

    __tablename__ = "st_writebacks"
    __table_args__ = (Index("ix_st_writebacks_key", "tenant", "entity", "st_id"),)

    write_id: Mapped[str] = mapped_column(String(400), primary_key=True)
    connection: Mapped[str] = mapped_column(String(64))
    tenant: Mapped[str] = mapped_column(String(64))
    entity: Mapped[str] = mapped_column(String(16))
    st_id: Mapped[int | None] = mapped_column(Int64, nullable=True)
    action: Mapped[str] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(16))
    qb_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    source_id: Mapped[str] = mapped_column(String(200))
    attempt: Mapped[int] = mapped_column(Integer)
    max_attempts: Mapped[int] = mapped_column(Integer)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    at: Mapped[dt.datetime] = mapped_column(UtcDateTime())
