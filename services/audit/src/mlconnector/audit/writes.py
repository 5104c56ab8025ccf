"""Writing one pulled batch of stream messages into the audit database.

A batch is one transaction with a handful of statements whatever its size: one multi-row
insert per message table (each message row keyed by its message id and inserted only if
absent, so redelivery and replays never duplicate rows), one read of the records the batch
touches (by ServiceTitan id, through its index), then one insert of the new records and one
executemany update of the changed ones.

A record's status moves only forward in time (`status_at`): the streams are consumed
independently, so an outcome can arrive before its command. What QuickBooks holds (`qb_*`)
moves forward by the outcome's own time (`qb_at`).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, fields
from decimal import Decimal, InvalidOperation
from typing import Any, cast

from sqlalchemy import BigInteger, Dialect, Table, any_, bindparam, column, delete, func, select
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncConnection

from mlconnector.audit.driver_insert import driver_insert, driver_update
from mlconnector.audit.eventhead import EventHead
from mlconnector.audit.jsontext import JsonText
from mlconnector.audit.search import search_words
from mlconnector.audit.tables import (
    NO_CONNECTION,
    REJECTED,
    ChangeRow,
    CommandRow,
    EventRow,
    FeedRow,
    OutcomeRow,
    RecordRow,
    RecordWordRow,
    RejectionRow,
    SessionRow,
    WriteBackRow,
)
from mlconnector.common.envelopes import (
    Command,
    FeedReport,
    Outcome,
    QbChange,
    SessionReport,
    StEvent,
    StRejection,
    WriteBack,
)
from mlconnector.common.money import qb_amount

RECORDS = cast(Table, RecordRow.__table__)

# Outcome statuses after which QuickBooks holds the record ("differs": with other amounts).
IN_QUICKBOOKS = frozenset({"posted", "differs"})


@dataclass
class Incoming:
    """One decoded stream message, ready to be written.

    `data` is the message body as published (JSON text); the event row stores it as it is.
    """

    msg_id: str
    stream_seq: int | None
    event: EventHead | StEvent | None = None
    rejection: StRejection | None = None
    command: Command | None = None
    outcome: Outcome | None = None
    change: QbChange | None = None
    session: SessionReport | None = None
    feed: FeedReport | None = None
    writeback: WriteBack | None = None
    data: bytes | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if isinstance(self.event, StEvent):  # made in code (tests): as it would be published
            if self.data is None:
                self.data = self.event.model_dump_json().encode()
            self.event = EventHead.of(self.event)

    @property
    def head(self) -> EventHead | None:
        """The event, as audit reads it."""
        return self.event if isinstance(self.event, EventHead) else None


def rejection_record_st_id(rejection: StRejection) -> int:
    """The records.st_id a rejection is filed under.

    Its ServiceTitan id when it has one, so it joins that record's history. Without one (the
    id itself was unreadable), a negative number derived from the rejection id: each
    unreadable record gets a row of its own, and redelivery lands on the same row.
    ServiceTitan ids are positive, and the API shows a negative st_id as null.
    """
    if rejection.st_id is not None:
        return rejection.st_id
    digest = hashlib.sha256(rejection.rejection_id.encode()).hexdigest()
    return -(int(digest[:7], 16) + 1)  # 28 bits, as the first release filed them


def record_summary(event: EventHead) -> dict[str, Any]:
    """What an operator recognises a record by in a list (the API's `summary`)."""
    record = event.record
    if record.kind in ("customer", "vendor"):
        return {"name": record.name}
    total = None if record.total is None else qb_amount(record.total)
    day = None if record.date is None else record.date.isoformat()
    if record.kind == "invoice":
        return {
            "number": record.number,
            "customer": record.customer_name,
            "date": day,
            "total": total,
        }
    if record.kind == "payment":
        return {
            "reference": record.reference,
            "customer": record.customer_name,
            "date": day,
            "total": total,
        }
    return {
        "reference": record.reference,
        "vendor": record.vendor_name,
        "date": day,
        "total": total,
    }


def to_cents(value: Decimal | str | None) -> int | None:
    """Decimal dollars ("408.05", Decimal) -> integer cents; None or unreadable -> None."""
    if value is None:
        return None
    try:
        return int((Decimal(str(value)) * 100).to_integral_value())
    except (InvalidOperation, ValueError):
        return None


def event_columns(event: EventHead) -> dict[str, Any]:
    """The record columns an event version sets: summary, reference, party, date, amount."""
    record = event.record
    reference = record.ref
    party = record.party
    return {
        "summary": record_summary(event),
        "reference": reference[:100] if reference else None,
        "party": party[:200] if party else None,
        "doc_date": record.date,
        "amount_cents": to_cents(record.total),
        "st_active": record.active,
        "version_at": event.version_at,
        "search": " ".join(p for p in (reference, party) if p).lower()[:320],
    }


@dataclass
class RecordState:
    """One record as this batch leaves it (`id` None: not in the database yet)."""

    id: int | None
    tenant: str
    connection: str
    entity: str
    st_id: int
    status: str
    status_at: dt.datetime
    updated_at: dt.datetime
    qb_id: str | None = None
    message: str | None = None
    hint: str | None = None
    summary: dict[str, Any] = field(default_factory=dict)
    reference: str | None = None
    party: str | None = None
    doc_date: dt.date | None = None
    amount_cents: int | None = None
    st_active: bool = True
    version_at: dt.datetime | None = None
    search: str = ""
    qb_state: str | None = None
    qb_amount_cents: int | None = None
    qb_amount_read: bool = False
    qb_expected_cents: int | None = None
    qb_at: dt.datetime | None = None
    deleted: bool = False
    # Columns this batch changed: an update sets only those (fewer index entries rewritten).
    changed: set[str] = field(default_factory=set)

    def put(self, name: str, value: Any) -> None:
        if getattr(self, name) != value:
            setattr(self, name, value)
            self.changed.add(name)

    def advance(
        self,
        status: str,
        at: dt.datetime,
        *,
        message: str | None = None,
        hint: str | None = None,
        qb_id: str | None = None,
    ) -> None:
        """Newer news sets the status (streams are consumed independently)."""
        if at < self.status_at:
            return
        for name, value in (
            ("status", status),
            ("status_at", at),
            ("updated_at", at),
            ("message", message),
            ("hint", hint),
        ):
            self.put(name, value)
        if qb_id is not None:
            self.put("qb_id", qb_id)

    def take_version(self, columns: dict[str, Any]) -> None:
        """The columns of a ServiceTitan version, unless the record shows a newer one."""
        new_at: dt.datetime | None = columns["version_at"]
        if new_at is not None and self.version_at is not None and new_at < self.version_at:
            return
        for name, value in columns.items():
            self.put(name, value)

    def copy_version_from(self, other: RecordState) -> None:
        for name in _VERSION_COLUMNS:
            self.put(name, getattr(other, name))


_VERSION_COLUMNS = (
    "summary",
    "reference",
    "party",
    "doc_date",
    "amount_cents",
    "st_active",
    "version_at",
    "search",
)
_STATE_COLUMNS = tuple(
    f.name for f in fields(RecordState) if f.name not in ("id", "changed", "deleted")
)

Key = tuple[str, str, int]  # tenant, entity, ServiceTitan id


def _outcome_message(outcome: Outcome) -> str | None:
    message = outcome.status_message
    if outcome.status_code is not None and outcome.status_code != 0:
        message = f"QuickBooks status {outcome.status_code}: {message or ''}".rstrip(": ")
    return message


# Each message table and the key its rows are inserted by (if absent).
MESSAGE_TABLES: tuple[tuple[Table, str], ...] = (
    (cast(Table, EventRow.__table__), "msg_id"),
    (cast(Table, RejectionRow.__table__), "rejection_id"),
    (cast(Table, CommandRow.__table__), "command_id"),
    (cast(Table, OutcomeRow.__table__), "outcome_id"),
    (cast(Table, ChangeRow.__table__), "change_id"),
    (cast(Table, SessionRow.__table__), "report_id"),
    (cast(Table, FeedRow.__table__), "report_id"),
    (cast(Table, WriteBackRow.__table__), "write_id"),
)


@dataclass
class MessageRows:
    """The message rows of one or more batches, as the driver takes them, by table name.

    Made before the batch waits for the writer (GroupCommit), so that this work is not part
    of the one transaction at a time.
    """

    by_table: dict[str, list[tuple[Any, ...]]]

    @classmethod
    def of(cls, items: Sequence[Incoming], dialect: Dialect) -> MessageRows:
        rows: dict[str, dict[str, dict[str, Any]]] = {t.name: {} for t, _ in MESSAGE_TABLES}
        for item in items:
            if item.head is not None:
                row, table = _event_row(item, item.head), "events"
            elif item.rejection is not None:
                row, table = _rejection_row(item, item.rejection), "rejections"
            elif item.command is not None:
                row, table = _command_row(item, item.command), "commands"
            elif item.outcome is not None:
                row, table = _outcome_row(item.outcome), "outcomes"
            elif item.change is not None:
                row, table = _change_row(item.change), "qb_changes"
            elif item.session is not None:
                row, table = _session_row(item.session), "wc_sessions"
            elif item.feed is not None:
                row, table = _feed_row(item.feed), "st_feeds"
            elif item.writeback is not None:
                row, table = _writeback_row(item.writeback), "st_writebacks"
            else:
                continue
            rows[table][row[_KEYS[table]]] = row  # the same message twice is one row
        return cls(
            {
                table.name: driver_insert(table, key, dialect).params(
                    list(rows[table.name].values())
                )
                for table, key in MESSAGE_TABLES
                if rows[table.name]
            }
        )

    @classmethod
    def merge(cls, parts: Sequence[MessageRows]) -> MessageRows:
        merged: dict[str, list[tuple[Any, ...]]] = {}
        for part in parts:
            for table, params in part.by_table.items():
                merged.setdefault(table, []).extend(params)
        return cls(merged)


_KEYS = {table.name: key for table, key in MESSAGE_TABLES}


class BatchWriter:
    """Writes one batch in the transaction of `conn` (`write` once per batch)."""

    def __init__(self, conn: AsyncConnection) -> None:
        self._conn = conn
        self._dialect = conn.dialect.name
        self._records: dict[Key, list[RecordState]] = {}
        self._words: dict[Key, set[str]] = {}

    async def write(self, items: Sequence[Incoming], rows: MessageRows | None = None) -> None:
        """`rows`: the items' message rows, if prepared beforehand (MessageRows.of)."""
        await self._insert_messages(rows or MessageRows.of(items, self._conn.dialect))
        keys = self._keys(items)
        if not keys:
            return
        await self._load(keys)
        for item in items:
            self._apply(item)
        await self._store()

    # --- message rows ---------------------------------------------------------------------

    async def _insert_messages(self, rows: MessageRows) -> None:
        for table, key in MESSAGE_TABLES:
            params = rows.by_table.get(table.name)
            if params:
                statement = driver_insert(table, key, self._conn.dialect)
                await self._conn.exec_driver_sql(statement.sql, params)

    # --- records --------------------------------------------------------------------------

    @staticmethod
    def _keys(items: Iterable[Incoming]) -> set[Key]:
        keys: set[Key] = set()
        for item in items:
            if item.head is not None:
                keys.add((item.head.tenant, item.head.entity, item.head.st_id))
            elif item.rejection is not None:
                rejection = item.rejection
                keys.add((rejection.tenant, rejection.entity, rejection_record_st_id(rejection)))
            elif item.command is not None:
                keys.add((item.command.tenant, item.command.entity, item.command.st_id))
            elif item.outcome is not None:
                keys.add((item.outcome.tenant, item.outcome.entity, item.outcome.st_id))
        return keys

    async def _load(self, keys: set[Key]) -> None:
        """Every record of the batch's keys, in one read through the ServiceTitan id index
        (locked on PostgreSQL until the batch commits)."""
        table = RECORDS
        columns = [table.c.id, *(table.c[name] for name in _STATE_COLUMNS)]
        st_ids = sorted({key[2] for key in keys})
        # One parameter for all ids (no IN list of thousands of parameters to compile).
        if self._dialect == "postgresql":
            matching = table.c.st_id == any_(bindparam("ids", st_ids, type_=ARRAY(BigInteger)))
        else:
            matching = table.c.st_id.in_(
                select(column("value")).select_from(
                    func.json_each(bindparam("ids", json.dumps(st_ids)))
                )
            )
        query = select(*columns).where(matching).order_by(table.c.id).with_for_update()
        self._records = {key: [] for key in keys}
        for row in (await self._conn.execute(query)).mappings():
            key = (row["tenant"], row["entity"], row["st_id"])
            if key in self._records:
                self._records[key].append(RecordState(**row))

    def _new(
        self,
        key: Key,
        connection: str,
        at: dt.datetime,
        like: RecordState | None = None,
    ) -> RecordState:
        record = RecordState(
            id=None,
            tenant=key[0],
            connection=connection,
            entity=key[1],
            st_id=key[2],
            status="pending",
            status_at=at,
            updated_at=at,
        )
        if like is not None:
            record.copy_version_from(like)
        self._records[key].append(record)
        return record

    def _record_for(self, key: Key, connection: str, at: dt.datetime) -> RecordState:
        """This connection's record, adopting the event-only record if there is one."""
        live = [r for r in self._records[key] if not r.deleted]
        for record in live:
            if record.connection == connection:
                return record
        for record in live:
            if record.connection == NO_CONNECTION:
                record.put("connection", connection)
                return record
        # A second connection of the same tenant: it shares the event's columns.
        return self._new(key, connection, at, like=live[0] if live else None)

    def _apply(self, item: Incoming) -> None:
        if item.head is not None:
            self._apply_event(item.head)
        elif item.rejection is not None:
            self._apply_rejection(item.rejection)
        elif item.command is not None:
            command = item.command
            key = (command.tenant, command.entity, command.st_id)
            self._record_for(key, command.connection, command.created_at).advance(
                "pending", command.created_at
            )
        elif item.outcome is not None:
            self._apply_outcome(item.outcome)

    def _apply_event(self, event: EventHead) -> None:
        key = (event.tenant, event.entity, event.st_id)
        columns = event_columns(event)
        live = [r for r in self._records[key] if not r.deleted]
        if not live:
            live = [self._new(key, NO_CONNECTION, event.received_at)]
        for record in live:
            record.take_version(columns)
            record.advance("pending", event.received_at)
        if any(r.id is None or "search" in r.changed for r in live):
            newest = live[0]
            self._words[key] = search_words(newest.reference, newest.party, event.st_id)

    def _apply_rejection(self, rejection: StRejection) -> None:
        key = (rejection.tenant, rejection.entity, rejection_record_st_id(rejection))
        live = [r for r in self._records[key] if not r.deleted]
        if not live:
            live = [self._new(key, NO_CONNECTION, rejection.received_at)]
        # Every connection's record of it: its newest version could not be read. A later,
        # readable version moves it on (status_at), as any newer news does.
        for record in live:
            record.advance(REJECTED, rejection.received_at, message=rejection.error)

    def _apply_outcome(self, outcome: Outcome) -> None:
        key = (outcome.tenant, outcome.entity, outcome.st_id)
        record = self._record_for(key, outcome.connection, outcome.at)
        if outcome.status == "superseded":
            # About a command a newer version (or a retry) replaced, never sent: the record's
            # status is that of the newer one, whenever this arrives. The trail shows it.
            return
        if outcome.prerequisite:
            # An item or job made ready for the record: the record itself has not posted (a
            # posted prerequisite is not the record's posting, nor is its QuickBooks id).
            # The trail still shows it.
            if outcome.status == "posted":
                return
        elif not outcome.role:
            self._apply_quickbooks_side(record, outcome)
        record.advance(
            outcome.status,
            outcome.at,
            message=_outcome_message(outcome),
            hint=outcome.hint,
            # A second transaction the record owns (`role`, e.g. a credit memo's application
            # to the invoice it adjusts) tells the record's status, but the record's
            # QuickBooks id and amounts stay those of its own transaction.
            qb_id=None if outcome.role else outcome.qb_id,
        )

    @staticmethod
    def _apply_quickbooks_side(record: RecordState, outcome: Outcome) -> None:
        """What QuickBooks holds after this outcome, for reconciliation."""
        if record.qb_at is not None and outcome.at < record.qb_at:
            return
        if outcome.status in IN_QUICKBOOKS:
            expected = to_cents((outcome.expected or {}).get("total"))
            read = to_cents((outcome.amounts or {}).get("total"))
            if expected is None:
                expected = record.amount_cents
            record.put("qb_state", "posted")
            record.put("qb_expected_cents", expected)
            record.put("qb_amount_read", read is not None)
            record.put("qb_amount_cents", read if read is not None else expected)
        elif outcome.status == "voided":
            record.put("qb_state", "voided")
            record.put("qb_amount_cents", None)
            record.put("qb_amount_read", False)
        else:
            return
        record.put("qb_at", outcome.at)

    async def _store_words(self) -> None:
        """The search words of the ServiceTitan records whose newest version changed them."""
        await self._conn.execute(
            _DELETE_WORDS,
            [{"b_tenant": t, "b_entity": e, "b_st_id": i} for t, e, i in self._words],
        )
        rows = [(word, t, e, i) for (t, e, i), words in self._words.items() for word in words]
        if rows:
            # Plain strings and integers, several rows per record: straight to the driver,
            # without SQLAlchemy's per-row parameter processing.
            mark = "?" if self._conn.dialect.paramstyle == "qmark" else "%s"
            await self._conn.exec_driver_sql(
                "INSERT INTO record_words (word, tenant, entity, st_id) "
                f"VALUES ({mark}, {mark}, {mark}, {mark})",
                rows,
            )

    async def _store(self) -> None:
        table = RECORDS
        new: list[dict[str, Any]] = []
        changed: dict[tuple[str, ...], list[dict[str, Any]]] = {}
        gone: list[int] = []
        for records in self._records.values():
            connected = any(r.connection != NO_CONNECTION for r in records if not r.deleted)
            for record in records:
                # A record seen only as an event, beside one a connection has (two writers
                # raced on it): the connection's record carries everything.
                if connected and record.connection == NO_CONNECTION:
                    record.deleted = True
                if record.deleted:
                    if record.id is not None:
                        gone.append(record.id)
                    continue
                if record.id is None:
                    new.append({name: getattr(record, name) for name in _STATE_COLUMNS})
                elif record.changed:
                    columns = tuple(sorted(record.changed))
                    changed.setdefault(columns, []).append(
                        {"id": record.id, **{n: getattr(record, n) for n in columns}}
                    )
        if gone:
            await self._conn.execute(delete(table).where(table.c.id.in_(gone)))
        for columns, rows in changed.items():
            update = driver_update(table, columns, self._conn.dialect)
            await self._conn.exec_driver_sql(update.sql, update.params(rows))
        if self._words:
            await self._store_words()
        if new:
            # A plain insert: a record another writer made meanwhile (PostgreSQL, several
            # audit processes) fails the batch, which is then written again and finds it.
            insert = driver_insert(table, None, self._conn.dialect)
            await self._conn.exec_driver_sql(insert.sql, insert.params(new))


_WORDS = cast(Table, RecordWordRow.__table__)
_DELETE_WORDS = _WORDS.delete().where(
    _WORDS.c.tenant == bindparam("b_tenant"),
    _WORDS.c.entity == bindparam("b_entity"),
    _WORDS.c.st_id == bindparam("b_st_id"),
)


# --- message rows ---------------------------------------------------------------------------


def _event_row(item: Incoming, event: EventHead) -> dict[str, Any]:
    return {
        "msg_id": item.msg_id,
        "event_id": event.event_id,
        "tenant": event.tenant,
        "entity": event.entity,
        "st_id": event.st_id,
        "version": event.version,
        "source": event.source,
        "stream_seq": item.stream_seq,
        "received_at": event.received_at,
        # As published (StEvent JSON): not decoded and encoded again.
        "event": JsonText((item.data or b"{}").decode()),
    }


def _rejection_row(item: Incoming, rejection: StRejection) -> dict[str, Any]:
    return {
        "rejection_id": item.msg_id,
        "tenant": rejection.tenant,
        "entity": rejection.entity,
        "st_id": rejection.st_id,
        "record_st_id": rejection_record_st_id(rejection),
        "error": rejection.error,
        "raw": rejection.raw,
        "stream_seq": item.stream_seq,
        "received_at": rejection.received_at,
    }


def _command_row(item: Incoming, command: Command) -> dict[str, Any]:
    return {
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
        "generation": command.generation,
        "action": command.action,
    }


def _outcome_row(outcome: Outcome) -> dict[str, Any]:
    return {
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
        "amounts": outcome.amounts,
        "expected": outcome.expected,
        "prerequisite": outcome.prerequisite,
        "at": outcome.at,
    }


def _change_row(change: QbChange) -> dict[str, Any]:
    return {
        "change_id": change.change_id,
        "connection": change.connection,
        "entity": change.entity,
        "list_id": change.list_id,
        "edit_sequence": change.edit_sequence,
        "name": change.name,
        "active": change.active,
        "data": change.data,
        "at": change.at,
    }


def _session_row(report: SessionReport) -> dict[str, Any]:
    return {
        "report_id": report.report_id,
        "connection": report.connection,
        "started_at": report.started_at,
        "ended_at": report.ended_at,
        "result": report.result,
        "posted": report.posted,
        "failed": report.failed,
        "waiting": report.waiting,
        "retrying": report.retrying,
        "changed": report.changed,
        "hresult": report.hresult,
        "last_error": report.last_error,
        "client_version": report.client_version,
        "qbxml_version": report.qbxml_version,
    }


def _feed_row(report: FeedReport) -> dict[str, Any]:
    return {
        "report_id": report.report_id,
        "tenant": report.tenant,
        "entity": report.entity,
        "state": report.state,
        "error": report.error,
        "failures": report.failures,
        "published": report.published,
        "at": report.at,
    }


def _writeback_row(writeback: WriteBack) -> dict[str, Any]:
    return {
        "write_id": writeback.write_id[:400],
        "connection": writeback.connection,
        "tenant": writeback.tenant,
        "entity": writeback.entity,
        "st_id": writeback.st_id,
        "action": writeback.action,
        "status": writeback.status,
        "qb_id": writeback.qb_id,
        "source_id": writeback.source_id[:200],
        "attempt": writeback.attempt,
        "max_attempts": writeback.max_attempts,
        "error": writeback.error,
        "at": writeback.at,
    }
