"""Bringing an audit database to the schema this code needs, with its Alembic migrations.

Works on a new database, on one made by an earlier release (create_all, no alembic_version:
revision 0001 adopts it as it is) and on one already migrated. The same revisions run on SQLite
and PostgreSQL.
"""

from __future__ import annotations

from importlib import resources

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection
from sqlalchemy.ext.asyncio import AsyncEngine


def alembic_config() -> Config:
    """The migrations packaged with audit (no alembic.ini needed)."""
    config = Config()
    config.set_main_option(
        "script_location", str(resources.files("mlconnector.audit").joinpath("migrations"))
    )
    return config


def head_revision() -> str:
    """The newest migration's revision id ("0002")."""
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    if head is None:  # pragma: no cover - the package always ships revisions
        raise RuntimeError("audit ships no migrations")
    return head


def current_revision(conn: Connection) -> str | None:
    """The revision the database is at (None: not migrated, or made before migrations)."""
    return MigrationContext.configure(conn).get_current_revision()


# pg_advisory_xact_lock key: several audit processes starting at once migrate one at a time.
MIGRATION_LOCK = 0x4D4C4155  # "MLAU"


def _upgrade(conn: Connection, revision: str) -> None:
    if conn.dialect.name == "postgresql":
        conn.exec_driver_sql(f"SELECT pg_advisory_xact_lock({MIGRATION_LOCK})")
    config = alembic_config()
    config.attributes["connection"] = conn
    command.upgrade(config, revision)


async def upgrade(engine: AsyncEngine, revision: str = "head") -> None:
    """Migrate to `revision` (default: the newest) in one transaction where the database allows
    (PostgreSQL's DDL is transactional; SQLite's mostly is)."""
    async with engine.begin() as conn:
        await conn.run_sync(_upgrade, revision)
