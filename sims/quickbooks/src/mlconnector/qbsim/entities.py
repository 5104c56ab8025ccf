"""The name list customers (and their jobs) and vendors share: one namespace, one table.

A job is a customer record under its customer ("Smith, John:Water Heater Replacement").
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Literal

from mlconnector.qbsim.address import Address
from mlconnector.qbsim.ids import ListCore, new_record_stamps
from mlconnector.qbsim.queries import escape_like
from mlconnector.qbsim.refs import Ref
from mlconnector.qbsim.store import Store, list_core, to_qb_stored

EntityKind = Literal["Customer", "Vendor"]


@dataclass(frozen=True)
class Entity:
    """A customer (or job) or a vendor: they share one name list in QuickBooks."""

    core: ListCore
    kind: EntityKind
    name: str
    full_name: str
    is_active: bool
    parent: Ref | None
    sublevel: int
    company_name: str | None
    first_name: str | None
    last_name: str | None
    bill_address: Address | None
    ship_address: Address | None
    phone: str | None
    email: str | None
    balance: Decimal
    total_balance: Decimal
    sales_tax_code: Ref | None
    item_sales_tax: Ref | None
    account_number: str | None
    notes: str | None
    external_guid: str | None
    class_ref: Ref | None = None
    terms: Ref | None = None
    preferred_payment_method: Ref | None = None
    credit_limit: Decimal | None = None


def insert_entity(
    store: Store,
    list_id: str,
    now: datetime,
    kind: EntityKind,
    name: str,
    full_name: str,
    is_active: bool,
    parent_id: str | None,
    sublevel: int,
    company_name: str | None,
    first_name: str | None,
    last_name: str | None,
    bill: Address | None,
    ship: Address | None,
    phone: str | None,
    email: str | None,
    code_id: str | None,
    tax_item_id: str | None,
    account_number: str | None,
    notes: str | None,
    external_guid: str | None,
    class_id: str | None = None,
    terms_id: str | None = None,
    payment_method_id: str | None = None,
    credit_limit: Decimal | None = None,
) -> None:
    store.db.execute(
        "INSERT INTO entities VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
        (
            list_id,
            *new_record_stamps(now),
            kind,
            name,
            full_name,
            int(is_active),
            parent_id,
            sublevel,
            to_qb_stored(company_name),
            to_qb_stored(first_name),
            to_qb_stored(last_name),
            bill.to_json() if bill else None,
            ship.to_json() if ship else None,
            phone,
            email,
            "0.00",
            code_id,
            tax_item_id,
            account_number,
            to_qb_stored(notes),
            external_guid,
            class_id,
            terms_id,
            payment_method_id,
            None if credit_limit is None else str(credit_limit),
        ),
    )


def entity_row(store: Store, list_id: str) -> sqlite3.Row | None:
    row: sqlite3.Row | None = store.db.execute(
        "SELECT * FROM entities WHERE list_id = ?", (list_id,)
    ).fetchone()
    return row


def entity_from(store: Store, row: sqlite3.Row) -> Entity:
    balance = Decimal(row["balance"])
    children = store.db.execute(
        "SELECT balance FROM entities WHERE full_name LIKE ? ESCAPE '\\'",
        (escape_like(row["full_name"]) + ":%",),
    ).fetchall()
    return Entity(
        core=list_core(row),
        kind=row["kind"],
        name=row["name"],
        full_name=row["full_name"],
        is_active=bool(row["is_active"]),
        parent=store.ref("entities", row["parent_id"]),
        sublevel=row["sublevel"],
        company_name=row["company_name"],
        first_name=row["first_name"],
        last_name=row["last_name"],
        bill_address=Address.from_json(row["bill_address"]),
        ship_address=Address.from_json(row["ship_address"]),
        phone=row["phone"],
        email=row["email"],
        balance=balance,
        total_balance=balance + sum((Decimal(c[0]) for c in children), Decimal("0.00")),
        sales_tax_code=store.ref("sales_tax_codes", row["sales_tax_code_id"]),
        item_sales_tax=store.ref("items", row["item_sales_tax_id"]),
        account_number=row["account_number"],
        notes=row["notes"],
        external_guid=row["external_guid"],
        class_ref=store.ref("classes", row["class_id"]),
        terms=store.ref("terms", row["terms_id"]),
        preferred_payment_method=store.ref("payment_methods", row["preferred_payment_method_id"]),
        credit_limit=Decimal(row["credit_limit"]) if row["credit_limit"] is not None else None,
    )


def entity(store: Store, list_id: str) -> Entity:
    row = entity_row(store, list_id)
    if row is None:
        raise KeyError(list_id)
    return entity_from(store, row)
