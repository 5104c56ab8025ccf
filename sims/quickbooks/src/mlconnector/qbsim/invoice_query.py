"""InvoiceQuery: its filters, and running them."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Literal

from mlconnector.qbsim.entities import entity_from, entity_row
from mlconnector.qbsim.invoices import Invoice, invoice, invoice_from
from mlconnector.qbsim.queries import MatchCriterion, escape_like, match_pattern
from mlconnector.qbsim.store import Store


@dataclass(frozen=True)
class InvoiceFilter:
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


def query_invoices(
    store: Store, flt: InvoiceFilter, *, with_lines: bool = False
) -> tuple[list[Invoice], list[str]]:
    """Invoices matching a query, and the TxnIDs asked for but not found."""
    if flt.txn_ids:
        found: list[Invoice] = []
        missing: list[str] = []
        for txn_id in flt.txn_ids:
            try:
                found.append(invoice(store, txn_id, with_lines=with_lines))
            except KeyError:
                missing.append(txn_id)
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
                "customer_id IN (SELECT list_id FROM entities WHERE full_name = ? "
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
    sql = f"SELECT * FROM invoices WHERE {' AND '.join(clauses)} ORDER BY txn_number"
    if flt.max_returned is not None:
        sql += f" LIMIT {int(flt.max_returned)}"
    rows = store.db.execute(sql, args).fetchall()
    return [invoice_from(store, r, with_lines) for r in rows], []
