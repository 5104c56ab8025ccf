"""The chart of accounts."""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from decimal import Decimal

from mlconnector.qbsim.ids import ListCore, new_record_stamps
from mlconnector.qbsim.queries import ListFilter, list_query
from mlconnector.qbsim.refs import Ref, RefSpec
from mlconnector.qbsim.statuses import name_in_use
from mlconnector.qbsim.store import Store, list_core


@dataclass(frozen=True)
class Account:
    core: ListCore
    name: str
    full_name: str
    is_active: bool
    parent: Ref | None
    sublevel: int
    account_type: str
    special_account_type: str | None
    account_number: str | None
    description: str | None
    balance: Decimal


def add_account(
    store: Store,
    name: str,
    account_type: str,
    *,
    special_account_type: str | None = None,
    account_number: str | None = None,
    description: str | None = None,
    parent: RefSpec | None = None,
    is_active: bool = True,
) -> Account:
    now = store.now()
    with store.transaction():
        parent_id = store.require("accounts", parent, "Account", "Account") if parent else None
        parent_row = _account_row(store, parent_id) if parent_id else None
        full_name = f"{parent_row['full_name']}:{name}" if parent_row else name
        if store.resolve("accounts", RefSpec(full_name=full_name)) is not None:
            raise name_in_use(full_name)
        list_id = store.new_list_id(now)
        store.db.execute(
            "INSERT INTO accounts VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
            (
                list_id,
                *new_record_stamps(now),
                name,
                full_name,
                int(is_active),
                parent_id,
                parent_row["sublevel"] + 1 if parent_row else 0,
                account_type,
                special_account_type,
                account_number,
                description,
                "0.00",
            ),
        )
    return account(store, list_id)


def _account_row(store: Store, list_id: str) -> sqlite3.Row:
    row: sqlite3.Row = store.db.execute(
        "SELECT * FROM accounts WHERE list_id = ?", (list_id,)
    ).fetchone()
    return row


def _account_from(store: Store, row: sqlite3.Row) -> Account:
    return Account(
        core=list_core(row),
        name=row["name"],
        full_name=row["full_name"],
        is_active=bool(row["is_active"]),
        parent=store.ref("accounts", row["parent_id"]),
        sublevel=row["sublevel"],
        account_type=row["account_type"],
        special_account_type=row["special_account_type"],
        account_number=row["account_number"],
        description=row["description"],
        balance=Decimal(row["balance"]),
    )


def account(store: Store, list_id: str) -> Account:
    return _account_from(store, _account_row(store, list_id))


def account_by_special(store: Store, special: str) -> Account | None:
    row = store.db.execute(
        "SELECT * FROM accounts WHERE special_account_type = ? ORDER BY list_id", (special,)
    ).fetchone()
    return _account_from(store, row) if row else None


def special_account_ref(store: Store, special: str) -> Ref | None:
    found = account_by_special(store, special)
    return Ref(found.core.list_id, found.full_name) if found else None


def query_accounts(store: Store, flt: ListFilter) -> tuple[list[Account], list[str]]:
    rows, missing = list_query(store, "accounts", flt)
    accounts = [_account_from(store, r) for r in rows]
    if flt.account_types:
        accounts = [a for a in accounts if a.account_type in flt.account_types]
    return accounts, missing
