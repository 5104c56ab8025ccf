"""Payment methods (Cash, Check, Visa...) a received payment records."""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass

from mlconnector.qbsim.ids import ListCore, new_record_stamps
from mlconnector.qbsim.queries import ListFilter, list_query
from mlconnector.qbsim.refs import RefSpec
from mlconnector.qbsim.statuses import name_in_use
from mlconnector.qbsim.store import Store, list_core, to_qb_stored


@dataclass(frozen=True)
class PaymentMethod:
    core: ListCore
    name: str
    is_active: bool
    payment_method_type: str | None


def add_payment_method(
    store: Store, name: str, *, payment_method_type: str | None = None, is_active: bool = True
) -> PaymentMethod:
    now = store.now()
    with store.transaction():
        name = to_qb_stored(name) or ""
        if store.resolve("payment_methods", RefSpec(full_name=name)) is not None:
            raise name_in_use(name)
        list_id = store.new_list_id(now)
        store.db.execute(
            "INSERT INTO payment_methods VALUES (?,?,?,?,?,?,?,?)",
            (list_id, *new_record_stamps(now), name, int(is_active), payment_method_type),
        )
    return payment_method(store, list_id)


def _method_from(row: sqlite3.Row) -> PaymentMethod:
    return PaymentMethod(
        core=list_core(row),
        name=row["name"],
        is_active=bool(row["is_active"]),
        payment_method_type=row["payment_method_type"],
    )


def payment_method(store: Store, list_id: str) -> PaymentMethod:
    return _method_from(
        store.db.execute("SELECT * FROM payment_methods WHERE list_id = ?", (list_id,)).fetchone()
    )


def query_payment_methods(store: Store, flt: ListFilter) -> tuple[list[PaymentMethod], list[str]]:
    rows, missing = list_query(store, "payment_methods", flt)
    return [_method_from(r) for r in rows], missing
