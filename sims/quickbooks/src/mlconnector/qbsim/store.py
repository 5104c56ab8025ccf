"""The company file's storage: SQLite connection, transactions, meta values and counters,
new ids and stamps, and resolving references between records.

Every list and transaction module works on a `Store`; `Company` is one with their operations.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Self

from lxml import etree

from mlconnector.qbsim.ids import (
    FIRST_LIST_SEQUENCE,
    FIRST_TXN_SEQUENCE,
    Clock,
    ListCore,
    edit_sequence,
    format_list_id,
    format_txn_id,
    local_now,
)
from mlconnector.qbsim.refs import Ref, RefSpec
from mlconnector.qbsim.schema import MIGRATIONS, SCHEMA, SCHEMA_VERSION
from mlconnector.qbsim.statuses import invalid_reference


class Store:
    """One company file. `path` is a SQLite file (created if missing) or ":memory:"."""

    def __init__(self, path: str | Path = ":memory:", *, clock: Clock = local_now) -> None:
        self.path = str(path)
        self._clock = clock
        self.db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        self.db.row_factory = sqlite3.Row
        self.db.execute("PRAGMA foreign_keys = ON")
        self._depth = 0
        # Open query iterators (iteratorID -> what is left to return). Like QuickBooks', they
        # live as long as the open company (the session), not in the file.
        self.iterators: dict[str, list[etree._Element]] = {}
        version = self.db.execute("PRAGMA user_version").fetchone()[0]
        if version == 0:
            # executescript commits first, so the script carries its own transaction.
            self.db.executescript(f"BEGIN; {SCHEMA} PRAGMA user_version = 1; COMMIT;")
            version = 1
        if version > SCHEMA_VERSION:
            raise ValueError(f"{self.path}: company schema version {version} is not supported")
        while version < SCHEMA_VERSION:
            self.db.executescript(
                f"BEGIN; {MIGRATIONS[version]} PRAGMA user_version = {version + 1}; COMMIT;"
            )
            version += 1

    def close(self) -> None:
        self.db.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """All-or-nothing: one request's changes are saved together or not at all."""
        name = f"sp{self._depth}"
        self.db.execute(f"SAVEPOINT {name}")
        self._depth += 1
        try:
            yield
        except BaseException:
            self.db.execute(f"ROLLBACK TO {name}")
            self.db.execute(f"RELEASE {name}")
            raise
        else:
            self.db.execute(f"RELEASE {name}")
        finally:
            self._depth -= 1

    @property
    def is_empty(self) -> bool:
        count: int = self.db.execute("SELECT COUNT(*) FROM accounts").fetchone()[0]
        return count == 0

    def now(self) -> datetime:
        return self._clock().replace(microsecond=0)

    # -- meta values and counters -----------------------------------------------------------

    def get_meta(self, key: str) -> str | None:
        row = self.db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return str(row[0]) if row else None

    def set_meta(self, key: str, value: str) -> None:
        self.db.execute(
            "INSERT INTO meta (key, value) VALUES (?, ?) "
            "ON CONFLICT(key) DO UPDATE SET value = excluded.value",
            (key, value),
        )

    @property
    def company_name(self) -> str:
        return self.get_meta("company_name") or "Simulated Company"

    def next_counter(self, key: str, start: int) -> int:
        current = self.get_meta(key)
        value = int(current) if current is not None else start
        self.set_meta(key, str(value + 1))
        return value

    def new_list_id(self, now: datetime) -> str:
        return format_list_id(self.next_counter("next_list_seq", FIRST_LIST_SEQUENCE), now)

    def new_txn_id(self, now: datetime) -> str:
        return format_txn_id(self.next_counter("next_txn_seq", FIRST_TXN_SEQUENCE), now)

    def touch(self, table: str, key_column: str, key: str) -> None:
        """Record a modification: new TimeModified, and an EditSequence that always changes."""
        now = self.now()
        previous = self.db.execute(
            f"SELECT edit_sequence FROM {table} WHERE {key_column} = ?", (key,)
        ).fetchone()[0]
        self.db.execute(
            f"UPDATE {table} SET time_modified = ?, modified_epoch = ?, edit_sequence = ? "
            f"WHERE {key_column} = ?",
            (now.isoformat(), int(now.timestamp()), edit_sequence(now, previous), key),
        )

    # -- references -------------------------------------------------------------------------

    def ref(self, table: str, list_id: str | None) -> Ref | None:
        if list_id is None:
            return None
        column = name_column(table)
        row = self.db.execute(
            f"SELECT list_id, {column} AS full_name FROM {table} WHERE list_id = ?", (list_id,)
        ).fetchone()
        return Ref(row["list_id"], row["full_name"]) if row else None

    def resolve(self, table: str, spec: RefSpec) -> str | None:
        """The ListID a reference names, or None. ListID wins when both are given."""
        column = name_column(table)
        if spec.list_id is not None:
            row = self.db.execute(
                f"SELECT list_id FROM {table} WHERE list_id = ?", (spec.list_id,)
            ).fetchone()
        elif spec.full_name is not None:
            row = self.db.execute(
                f"SELECT list_id FROM {table} WHERE {column} = ? COLLATE NOCASE",
                (spec.full_name,),
            ).fetchone()
        else:
            return None
        return str(row[0]) if row else None

    def require(self, table: str, spec: RefSpec, kind: str, where: str) -> str:
        """The ListID a reference names; 3140 when it names nothing."""
        found = self.resolve(table, spec)
        if found is None:
            raise invalid_reference(kind, spec.shown, where)
        return found


# Lists without a hierarchy have no FullName: they are referred to by their Name.
_FLAT_LISTS = frozenset({"sales_tax_codes", "terms", "payment_methods"})


def name_column(table: str) -> str:
    """The column a list is named (and referred to) by."""
    return "name" if table in _FLAT_LISTS else "full_name"


# -- reading columns back -------------------------------------------------------------------


def list_core(row: sqlite3.Row) -> ListCore:
    return ListCore(
        list_id=row["list_id"],
        time_created=datetime.fromisoformat(row["time_created"]),
        time_modified=datetime.fromisoformat(row["time_modified"]),
        edit_sequence=row["edit_sequence"],
    )


def decimal_or_none(raw: str | None) -> Decimal | None:
    return Decimal(raw) if raw is not None else None


def date_or_none(raw: str | None) -> date | None:
    return date.fromisoformat(raw) if raw is not None else None


def to_qb_stored(text: str | None) -> str | None:
    # QuickBooks Desktop stores ISO-8859-1 only; anything else comes back as "?".
    if text is None:
        return None
    return text.encode("iso-8859-1", "replace").decode("iso-8859-1")
