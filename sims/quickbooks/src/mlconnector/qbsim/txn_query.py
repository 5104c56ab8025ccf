"""Transaction queries (InvoiceQuery, ReceivePaymentQuery, BillQuery): filters, running them."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Literal

from mlconnector.qbsim.entities import entity_from, entity_row
from mlconnector.qbsim.queries import MatchCriterion, escape_like, match_pattern
from mlconnector.qbsim.store import Store


@dataclass(frozen=True)
class TxnFilter:
    """The filters of a transaction query (InvoiceQuery, ReceivePaymentQuery, BillQuery)."""

    txn_ids: Sequence[str] = ()
    ref_numbers: Sequence[str] = ()
    ref_numbers_case_sensitive: Sequence[str] = ()
    max_returned: int | None = None
    from_modified: datetime | None = None
    to_modified: datetime | None = None
    from_txn_date: date | None = None
    to_txn_date: date | None = None
    entity_list_ids: Sequence[str] = ()
    entity_full_names: Sequence[str] = ()
    entity_with_children: bool = False
    ref_number_match: tuple[MatchCriterion, str] | None = None
    ref_number_range: tuple[str | None, str | None] | None = None
    paid_status: Literal["All", "PaidOnly", "NotPaidOnly"] = "All"


def txn_rows(
    store: Store, table: str, entity_column: str, flt: TxnFilter
) -> tuple[list[sqlite3.Row], list[str]]:
    """Rows matching a transaction query, and the TxnIDs asked for but not found.

    EntityFilter applies to `entity_column` (the customer of an invoice or payment, the
    vendor of a bill). PaidStatus applies to tables with an is_paid column.
    """
    if flt.txn_ids:
        found: list[sqlite3.Row] = []
        missing: list[str] = []
        for txn_id in flt.txn_ids:
            row = store.db.execute(f"SELECT * FROM {table} WHERE txn_id = ?", (txn_id,)).fetchone()
            if row is None:
                missing.append(txn_id)
            else:
                found.append(row)
        return found, missing
    clauses = ["1 = 1"]
    args: list[object] = []
    if flt.ref_numbers:
        # RefNumber matches case-insensitively; RefNumberCaseSensitive exactly.
        clauses.append(
            "(" + " OR ".join("ref_number = ? COLLATE NOCASE" for _ in flt.ref_numbers) + ")"
        )
        args.extend(flt.ref_numbers)
    if flt.ref_numbers_case_sensitive:
        clauses.append(
            "ref_number IN (" + ",".join("?" for _ in flt.ref_numbers_case_sensitive) + ")"
        )
        args.extend(flt.ref_numbers_case_sensitive)
    if flt.from_modified is not None:
        clauses.append("modified_epoch >= ?")
        args.append(int(flt.from_modified.timestamp()))
    if flt.to_modified is not None:
        clauses.append("modified_epoch <= ?")
        args.append(int(flt.to_modified.timestamp()))
    if flt.from_txn_date is not None:
        clauses.append("txn_date >= ?")
        args.append(flt.from_txn_date.isoformat())
    if flt.to_txn_date is not None:
        clauses.append("txn_date <= ?")
        args.append(flt.to_txn_date.isoformat())
    if flt.entity_list_ids or flt.entity_full_names:
        names = [
            e.full_name
            for e in (
                entity_from(store, row)
                for row in (entity_row(store, i) for i in flt.entity_list_ids)
                if row is not None
            )
        ] + list(flt.entity_full_names)
        parts = []
        for name in names:
            parts.append(
                f"{entity_column} IN (SELECT list_id FROM entities WHERE full_name = ? "
                "COLLATE NOCASE"
                + (" OR full_name LIKE ? ESCAPE '\\'" if flt.entity_with_children else "")
                + ")"
            )
            args.append(name)
            if flt.entity_with_children:
                args.append(escape_like(name) + ":%")
        clauses.append("(" + (" OR ".join(parts) or "0") + ")")
    if flt.ref_number_match is not None:
        clauses.append("ref_number LIKE ? ESCAPE '\\'")
        args.append(match_pattern(*flt.ref_number_match))
    if flt.ref_number_range is not None:
        low, high = flt.ref_number_range
        if low is not None:
            clauses.append("ref_number >= ?")
            args.append(low)
        if high is not None:
            clauses.append("ref_number <= ?")
            args.append(high)
    if flt.paid_status == "PaidOnly":
        clauses.append("is_paid = 1")
    elif flt.paid_status == "NotPaidOnly":
        clauses.append("is_paid = 0")
    sql = f"SELECT * FROM {table} WHERE {' AND '.join(clauses)} ORDER BY txn_number"
    if flt.max_returned is not None:
        sql += f" LIMIT {int(flt.max_returned)}"
    return list(store.db.execute(sql, args).fetchall()), []
