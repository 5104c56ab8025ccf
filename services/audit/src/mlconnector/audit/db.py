"""The audit database: its engine, its schema (migrations), and writing a batch of stream
messages in one transaction.

The tables are in tables.py, the rows each message writes in writes.py, the migrations in
migrations/ (run by schema.py).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from typing import Any

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine

from mlconnector.audit import jsontext, schema
from mlconnector.audit.writes import BatchWriter, Incoming, MessageRows

log = logging.getLogger("mlconnector.audit.db")


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    # WAL: the dashboard reads while the consumers write. synchronous stays FULL: a batch is
    # acked only after its commit, which must survive a power cut.
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=FULL")
    # The default page cache is 2 MiB: with 100,000 records and their messages, every batch
    # would read its index pages from the OS again.
    cursor.execute("PRAGMA cache_size=-65536")
    cursor.execute("PRAGMA mmap_size=268435456")
    # Checkpoint the WAL every ~40 MB rather than every 4 MB: a page changed by several
    # batches is copied back once.
    cursor.execute("PRAGMA wal_autocheckpoint=10000")
    cursor.close()


class AuditDb:
    """The audit database at `url` (SQLite or PostgreSQL).

    `schema`: a PostgreSQL schema to keep the tables in (tests use a throwaway one); it becomes
    the connection's search_path, so migrations and queries need no schema names.
    """

    def __init__(self, url: str, schema: str | None = None) -> None:
        options: dict[str, Any] = {"json_serializer": jsontext.serialize}
        if url.startswith("sqlite"):
            # Several consumers write concurrently; wait for the lock rather than fail.
            options["connect_args"] = {"timeout": 30}
        else:
            options["pool_pre_ping"] = True
            if schema:
                options["connect_args"] = {"options": f"-csearch_path={schema}"}
        engine = create_async_engine(url, **options)
        if engine.dialect.name == "sqlite":
            event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        self.engine: AsyncEngine = engine
        self.sessions = async_sessionmaker(engine, expire_on_commit=False)
        # One batch at a time per process: SQLite has one writer anyway, and the records a
        # batch reads are then not changed by another batch before it writes them.
        self._write_lock = asyncio.Lock()
        self._group: GroupCommit | None = None
        self._written = 0  # messages since the statistics were refreshed

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    async def migrate(self) -> None:
        """Bring the schema to the newest revision (see schema.py), then refresh the planner's
        statistics."""
        await schema.upgrade(self.engine)
        await self.analyze()

    async def analyze(self) -> None:
        """Refresh the query planner's statistics. Without them SQLite picks an index by its
        width alone (e.g. the tenant's for "this connection's pending records", scanning
        every record of the tenant). SQLite samples at most ANALYSIS_LIMIT rows per index,
        so this costs milliseconds whatever the size."""
        async with self.engine.begin() as conn:
            if self.dialect == "sqlite":
                await conn.exec_driver_sql(f"PRAGMA analysis_limit={ANALYSIS_LIMIT}")
            await conn.exec_driver_sql("ANALYZE")

    async def close(self) -> None:
        await self.engine.dispose()

    async def write(self, items: Sequence[Incoming], rows: MessageRows | None = None) -> None:
        """All items in one transaction: either every row is written or none is. `rows`: their
        message rows, if already prepared (MessageRows.of)."""
        async with self._write_lock:
            async with self.engine.begin() as conn:
                await BatchWriter(conn).write(items, rows)
            self._written += len(items)
            if self.dialect == "sqlite" and self._written >= ANALYZE_EVERY_MESSAGES:
                self._written = 0
                try:
                    await self.analyze()
                except Exception:  # statistics are an optimisation; the writes went through
                    log.warning("refreshing the database statistics failed", exc_info=True)

    async def write_grouped(self, items: Sequence[Incoming]) -> None:
        """`items` written in one transaction with whatever other batches are waiting (see
        GroupCommit); raises what that transaction raised, and then nothing of it is written."""
        if self._group is None:
            self._group = GroupCommit(self, MAX_GROUP)
        await self._group.write(items)


# Messages one grouped transaction takes at most (several pulled batches).
MAX_GROUP = 8192
ANALYSIS_LIMIT = 2000
# SQLite's statistics are refreshed after this many messages written (the tables grow; stale
# statistics of a young database make the planner scan). PostgreSQL's autovacuum does it.
ANALYZE_EVERY_MESSAGES = 20_000


class GroupCommit:
    """Batches from the stream consumers, written together: while one transaction runs, the
    batches that arrive wait and then go in the next one, as one.

    Each stream has its own consumer, so a record's event, command and outcome arrive in
    different batches; in one transaction the record is written once instead of three times,
    and one commit serves them all.
    """

    def __init__(self, db: AuditDb, limit: int) -> None:
        self._db = db
        self._limit = limit
        self._waiting: list[tuple[Sequence[Incoming], MessageRows, asyncio.Future[None]]] = []
        self._writer: asyncio.Task[None] | None = None

    async def write(self, items: Sequence[Incoming]) -> None:
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        # Prepared here, while another batch's transaction may be running.
        rows = MessageRows.of(items, self._db.engine.dialect)
        self._waiting.append((items, rows, future))
        if self._writer is None or self._writer.done():
            self._writer = asyncio.create_task(self._drain())
        await asyncio.shield(future)

    async def _drain(self) -> None:
        while self._waiting:
            group: list[tuple[Sequence[Incoming], MessageRows, asyncio.Future[None]]] = []
            size = 0
            while self._waiting and (not group or size + len(self._waiting[0][0]) <= self._limit):
                waiting = self._waiting.pop(0)
                group.append(waiting)
                size += len(waiting[0])
            try:
                await self._db.write(
                    [item for items, _, _ in group for item in items],
                    MessageRows.merge([rows for _, rows, _ in group]),
                )
            except Exception as exc:
                for _, _, future in group:
                    if not future.done():
                        future.set_exception(exc)
            else:
                for _, _, future in group:
                    if not future.done():
                        future.set_result(None)
