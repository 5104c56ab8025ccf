"""Standard terms ("Net 30", "Due on receipt"): how many days after the transaction date a
bill or invoice falls due, and the early-payment discount."""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

from mlconnector.qbsim.ids import ListCore, new_record_stamps
from mlconnector.qbsim.queries import ListFilter, list_query
from mlconnector.qbsim.refs import RefSpec
from mlconnector.qbsim.statuses import name_in_use
from mlconnector.qbsim.store import Store, decimal_or_none, list_core, to_qb_stored


@dataclass(frozen=True)
class StandardTerms:
    core: ListCore
    name: str
    is_active: bool
    std_due_days: int | None
    std_discount_days: int | None
    discount_pct: Decimal | None


def add_standard_terms(
    store: Store,
    name: str,
    *,
    std_due_days: int | None = None,
    std_discount_days: int | None = None,
    discount_pct: Decimal | None = None,
    is_active: bool = True,
) -> StandardTerms:
    now = store.now()
    with store.transaction():
        name = to_qb_stored(name) or ""
        if store.resolve("terms", RefSpec(full_name=name)) is not None:
            raise name_in_use(name)
        list_id = store.new_list_id(now)
        store.db.execute(
            "INSERT INTO terms VALUES (?,?,?,?,?,?,?,?,?,?)",
            (
                list_id,
                *new_record_stamps(now),
                name,
                int(is_active),
                std_due_days,
                std_discount_days,
                None if discount_pct is None else str(discount_pct),
            ),
        )
    return standard_terms(store, list_id)


def _terms_from(row: sqlite3.Row) -> StandardTerms:
    return StandardTerms(
        core=list_core(row),
        name=row["name"],
        is_active=bool(row["is_active"]),
        std_due_days=row["std_due_days"],
        std_discount_days=row["std_discount_days"],
        discount_pct=decimal_or_none(row["discount_pct"]),
    )


def standard_terms(store: Store, list_id: str) -> StandardTerms:
    return _terms_from(
        store.db.execute("SELECT * FROM terms WHERE list_id = ?", (list_id,)).fetchone()
    )


def query_terms(store: Store, flt: ListFilter) -> tuple[list[StandardTerms], list[str]]:
    rows, missing = list_query(store, "terms", flt)
    return [_terms_from(r) for r in rows], missing


def due_date(store: Store, terms_id: str | None, txn_date: date) -> date:
    """The due date terms give a transaction dated `txn_date` (no terms: due that day)."""
    if terms_id is None:
        return txn_date
    days = standard_terms(store, terms_id).std_due_days or 0
    return txn_date + timedelta(days=days)
