"""List queries (AccountQuery, CustomerQuery, ItemQuery): their filters, and running them."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from mlconnector.qbsim.store import Store, name_column

ActiveStatus = Literal["ActiveOnly", "InactiveOnly", "All"]
MatchCriterion = Literal["StartsWith", "Contains", "EndsWith"]


@dataclass(frozen=True)
class ListFilter:
    """The list-query filters CustomerQuery/ItemQuery/AccountQuery share."""

    list_ids: Sequence[str] = ()
    full_names: Sequence[str] = ()
    max_returned: int | None = None
    active_status: ActiveStatus = "ActiveOnly"
    from_modified: datetime | None = None
    to_modified: datetime | None = None
    name_match: tuple[MatchCriterion, str] | None = None
    name_range: tuple[str | None, str | None] | None = None
    account_types: Sequence[str] = ()
    payment_method_types: Sequence[str] = ()


def escape_like(text: str) -> str:
    """`text` as a literal inside a LIKE pattern with ESCAPE '\\'."""
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def match_pattern(criterion: MatchCriterion, text: str) -> str:
    """The LIKE pattern for a NameFilter/RefNumberFilter MatchCriterion."""
    pattern = {"StartsWith": "{}%", "Contains": "%{}%", "EndsWith": "%{}"}[criterion]
    return pattern.format(escape_like(text))


def list_query(
    store: Store,
    table: str,
    flt: ListFilter,
    kind: str | None = None,
    kind_column: str = "kind",
) -> tuple[list[sqlite3.Row], list[str]]:
    """Rows matching a list query, and the ListIDs/FullNames asked for but not found.

    As in QuickBooks, a query by ListID or FullName ignores ActiveStatus (it names the
    records) and reports each one it cannot find; the other filters combine with AND.
    `kind` keeps one kind of a shared table (customers or vendors; one item type).
    """
    kind_sql, kind_args = (f"AND {kind_column} = ?", [kind]) if kind else ("", [])
    if flt.list_ids or flt.full_names:
        rows: list[sqlite3.Row] = []
        missing: list[str] = []
        column, wanted = (
            ("list_id", flt.list_ids) if flt.list_ids else (name_column(table), flt.full_names)
        )
        collate = " COLLATE NOCASE" if column != "list_id" else ""
        for value in wanted:
            row = store.db.execute(
                f"SELECT * FROM {table} WHERE {column} = ?{collate} {kind_sql}",
                [value, *kind_args],
            ).fetchone()
            if row is None:
                missing.append(value)
            elif row["list_id"] not in {r["list_id"] for r in rows}:
                rows.append(row)
        return rows, missing
    clauses = ["1 = 1"]
    args: list[object] = []
    if kind:
        clauses.append(f"{kind_column} = ?")
        args.append(kind)
    if flt.payment_method_types:
        clauses.append(
            "payment_method_type IN (" + ",".join("?" for _ in flt.payment_method_types) + ")"
        )
        args.extend(flt.payment_method_types)
    if flt.active_status == "ActiveOnly":
        clauses.append("is_active = 1")
    elif flt.active_status == "InactiveOnly":
        clauses.append("is_active = 0")
    if flt.from_modified is not None:
        clauses.append("modified_epoch >= ?")
        args.append(int(flt.from_modified.timestamp()))
    if flt.to_modified is not None:
        clauses.append("modified_epoch <= ?")
        args.append(int(flt.to_modified.timestamp()))
    # NameFilter and NameRangeFilter apply to the FullName in QuickBooks list queries.
    column = name_column(table)
    if flt.name_match is not None:
        clauses.append(f"{column} LIKE ? ESCAPE '\\'")
        args.append(match_pattern(*flt.name_match))
    if flt.name_range is not None:
        low, high = flt.name_range
        if low is not None:
            clauses.append(f"{column} >= ? COLLATE NOCASE")
            args.append(low)
        if high is not None:
            clauses.append(f"{column} <= ? COLLATE NOCASE")
            args.append(high)
    sql = f"SELECT * FROM {table} WHERE {' AND '.join(clauses)} ORDER BY {column} COLLATE NOCASE"
    if flt.max_returned is not None:
        sql += f" LIMIT {int(flt.max_returned)}"
    return list(store.db.execute(sql, args).fetchall()), []
