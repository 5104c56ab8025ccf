"""Audit test fixtures: a database per test (SQLite always, PostgreSQL in its own schema)."""

from __future__ import annotations

import os
import sys
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from mlconnector.audit.db import AuditDb

sys.path.insert(0, str(Path(__file__).resolve().parent))

PG_URL = os.environ.get(
    "AUDIT_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)


def _pg_reachable() -> str | None:
    import psycopg

    plain = PG_URL.replace("postgresql+psycopg://", "postgresql://")
    try:
        with psycopg.connect(plain, connect_timeout=3):
            return None
    except psycopg.Error as exc:
        return str(exc)


async def _make_db(kind: str, tmp_path: Path, migrate: bool = True) -> AsyncIterator[AuditDb]:
    if kind == "sqlite":
        db = AuditDb(f"sqlite+aiosqlite:///{tmp_path / 'audit.db'}")
        if migrate:
            await db.migrate()
        yield db
        await db.close()
        return
    problem = _pg_reachable()
    if problem is not None:
        pytest.skip(f"PostgreSQL not reachable at {PG_URL}: {problem}")
    import sqlalchemy as sa

    schema = f"audit_test_{uuid.uuid4().hex[:10]}"
    admin = AuditDb(PG_URL)
    async with admin.engine.begin() as conn:
        await conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    db = AuditDb(PG_URL, schema=schema)
    if migrate:
        await db.migrate()
    try:
        yield db
    finally:
        await db.close()
        async with admin.engine.begin() as conn:
            await conn.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
        await admin.close()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
async def db(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[AuditDb]:
    async for made in _make_db(request.param, tmp_path):
        yield made


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
async def blank_db(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[AuditDb]:
    """An empty database, not migrated (to build an older one in it first)."""
    async for made in _make_db(request.param, tmp_path, migrate=False):
        yield made


@pytest.fixture
async def sqlite_db(tmp_path: Path) -> AsyncIterator[AuditDb]:
    async for made in _make_db("sqlite", tmp_path):
        yield made
