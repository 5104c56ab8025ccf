"""Many-row INSERT ... ON CONFLICT DO NOTHING handed straight to the database driver.

SQLAlchemy's executemany builds and processes a parameter dictionary per row; for the
thousands of message rows of a batch that is a large share of audit's work. Here each column's
own bind processor (the same SQLAlchemy uses: UTC datetimes, JSON, booleans) is looked up once
and applied in a tight loop, and the driver gets plain tuples.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import JSON, Column, Dialect, Table


@dataclass(frozen=True)
class DriverInsert:
    """A statement in the driver's parameter style, and for each parameter (by column name)
    the column's bind processor, None where the driver takes the value as it is."""

    sql: str
    names: tuple[str, ...]
    processors: tuple[Callable[[Any], Any] | None, ...]

    def params(self, rows: Sequence[dict[str, Any]]) -> list[tuple[Any, ...]]:
        """Each row (column name -> Python value) as the driver's tuple; KeyError for a
        missing column."""
        pairs = tuple(zip(self.names, self.processors, strict=True))
        return [tuple(row[n] if p is None else p(row[n]) for n, p in pairs) for row in rows]


_CACHE: dict[tuple[str, str, tuple[str, ...], int], DriverInsert] = {}


def _mark(column: Column[Any], dialect: Dialect) -> str:
    mark = "?" if dialect.paramstyle == "qmark" else "%s"
    # psycopg sends text; PostgreSQL takes it into a JSON column only with a cast.
    is_json = isinstance(column.type.dialect_impl(dialect), JSON)
    return f"{mark}::json" if is_json and dialect.name == "postgresql" else mark


def _processor(column: Column[Any], dialect: Dialect) -> Callable[[Any], Any] | None:
    return column.type.dialect_impl(dialect).bind_processor(dialect)


def driver_insert(table: Table, key: str | None, dialect: Dialect) -> DriverInsert:
    """INSERT of every column of `table` (ON CONFLICT (key) DO NOTHING when `key` is given),
    with its per-column processors, for `dialect` (cached)."""
    cache_key = ("insert", f"{table.name}:{key}", (), id(dialect))
    found = _CACHE.get(cache_key)
    if found is not None:
        return found
    quote = dialect.identifier_preparer.quote
    columns = list(table.columns)
    if key is None and "id" in table.c:
        columns = [c for c in columns if c.name != "id"]  # the database numbers the rows
    sql = (
        f"INSERT INTO {quote(table.name)} ({', '.join(quote(c.name) for c in columns)}) "
        f"VALUES ({', '.join(_mark(c, dialect) for c in columns)})"
    )
    if key is not None:
        sql += f" ON CONFLICT ({quote(key)}) DO NOTHING"
    made = DriverInsert(
        sql, tuple(c.name for c in columns), tuple(_processor(c, dialect) for c in columns)
    )
    _CACHE[cache_key] = made
    return made


def driver_update(table: Table, names: tuple[str, ...], dialect: Dialect) -> DriverInsert:
    """UPDATE `table` SET <names> WHERE id = ..., its parameters `names` then "id" (cached)."""
    cache_key = ("update", table.name, names, id(dialect))
    found = _CACHE.get(cache_key)
    if found is not None:
        return found
    quote = dialect.identifier_preparer.quote
    columns = [table.c[name] for name in names]
    sets = ", ".join(f"{quote(c.name)} = {_mark(c, dialect)}" for c in columns)
    sql = f"UPDATE {quote(table.name)} SET {sets} WHERE id = {_mark(table.c.id, dialect)}"
    made = DriverInsert(
        sql,
        (*names, "id"),
        (*(_processor(c, dialect) for c in columns), _processor(table.c.id, dialect)),
    )
    _CACHE[cache_key] = made
    return made
