"""The audit database: its engine and sessions, and writing stream messages in one transaction.

The tables are in tables.py, the rows each message writes in writes.py.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, inspect
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine

from mlconnector.audit.tables import ADDED_COLUMNS, Base
from mlconnector.audit.writes import Incoming, RowWriter


def _add_missing_columns(conn: Connection) -> None:
    """Columns added since a database was created (create_all only creates missing tables).
    Each is nullable, so older rows simply have none."""
    schema = (conn.get_execution_options().get("schema_translate_map") or {}).get(None)
    inspector = inspect(conn)
    quote = conn.dialect.identifier_preparer
    for table_name, column_name in ADDED_COLUMNS:
        present = {c["name"] for c in inspector.get_columns(table_name, schema=schema)}
        if column_name in present:
            continue
        column = Base.metadata.tables[table_name].c[column_name]
        table = quote.quote(table_name)
        if schema:
            table = f"{quote.quote_schema(schema)}.{table}"
        kind = column.type.compile(dialect=conn.dialect)
        conn.exec_driver_sql(f"ALTER TABLE {table} ADD COLUMN {quote.quote(column_name)} {kind}")


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
        self.sessions = async_sessionmaker(engine, expire_on_commit=False)

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    async def create_tables(self) -> None:
        async with self.engine.begin() as conn:
            await conn.run_sync(Base.metadata.create_all)
            await conn.run_sync(_add_missing_columns)

    async def close(self) -> None:
        await self.engine.dispose()

    async def write(self, items: Sequence[Incoming]) -> None:
        """All items in one transaction: either every row is written or none is."""
        async with self.sessions.begin() as session:
            writer = RowWriter(session, self.dialect)
            for item in items:
                await writer.write(item)
