"""The audit database: its engine and sessions, and writing stream messages in one transaction.

The tables are in tables.py, the rows each message writes in writes.py.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine

from mlconnector.audit.tables import Base
from mlconnector.audit.writes import Incoming, RowWriter


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

    async def close(self) -> None:
        await self.engine.dispose()

    async def write(self, items: Sequence[Incoming]) -> None:
        """All items in one transaction: either every row is written or none is."""
        async with self.sessions.begin() as session:
            writer = RowWriter(session, self.dialect)
            for item in items:
                await writer.write(item)
