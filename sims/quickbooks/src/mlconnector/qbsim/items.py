"""The item list: services, non-inventory parts, other charges, sales tax items."""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from decimal import Decimal
from typing import Literal

from mlconnector.qbsim.ids import ListCore, new_record_stamps
from mlconnector.qbsim.mods import current_row, move
from mlconnector.qbsim.queries import ListFilter, list_query
from mlconnector.qbsim.refs import Ref, RefSpec
from mlconnector.qbsim.sales_tax_codes import default_code
from mlconnector.qbsim.statuses import account_required, name_in_use
from mlconnector.qbsim.store import Store, decimal_or_none, list_core, to_qb_stored

ItemType = Literal["Service", "NonInventory", "OtherCharge", "SalesTax"]


@dataclass(frozen=True)
class Item:
    core: ListCore
    item_type: ItemType
    name: str
    full_name: str
    is_active: bool
    parent: Ref | None
    sublevel: int
    description: str | None
    price: Decimal | None
    price_percent: Decimal | None
    account: Ref | None
    sales_tax_code: Ref | None
    tax_rate: Decimal | None
    tax_vendor: Ref | None
    class_ref: Ref | None = None


def add_item(
    store: Store,
    item_type: ItemType,
    name: str,
    *,
    description: str | None = None,
    price: Decimal | None = None,
    price_percent: Decimal | None = None,
    account: RefSpec | None = None,
    sales_tax_code: RefSpec | None = None,
    tax_rate: Decimal | None = None,
    tax_vendor: RefSpec | None = None,
    parent: RefSpec | None = None,
    is_active: bool = True,
    class_ref: RefSpec | None = None,
) -> Item:
    now = store.now()
    where = f"Item{item_type}"
    with store.transaction():
        parent_id = store.require("items", parent, "Item", where) if parent else None
        parent_row = (
            store.db.execute("SELECT * FROM items WHERE list_id = ?", (parent_id,)).fetchone()
            if parent_id
            else None
        )
        full_name = f"{parent_row['full_name']}:{name}" if parent_row else name
        if store.resolve("items", RefSpec(full_name=full_name)) is not None:
            raise name_in_use(full_name)
        account_id = store.require("accounts", account, "Account", where) if account else None
        if item_type != "SalesTax" and account_id is None:
            # QuickBooks refuses a sales item without an income account.
            raise account_required(where)
        if item_type == "SalesTax":
            code_id = None
        elif sales_tax_code is not None:
            code_id = store.require("sales_tax_codes", sales_tax_code, "SalesTaxCode", where)
        else:
            code_id = default_code(store, taxable=item_type == "NonInventory")
        vendor_id = store.require("entities", tax_vendor, "Vendor", where) if tax_vendor else None
        class_id = store.require("classes", class_ref, "Class", where) if class_ref else None
        list_id = store.new_list_id(now)
        store.db.execute(
            "INSERT INTO items VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
            (
                list_id,
                *new_record_stamps(now),
                item_type,
                to_qb_stored(name),
                full_name,
                int(is_active),
                parent_id,
                parent_row["sublevel"] + 1 if parent_row else 0,
                to_qb_stored(description),
                None if price is None else str(price),
                None if price_percent is None else str(price_percent),
                account_id,
                code_id,
                None if tax_rate is None else str(tax_rate),
                vendor_id,
                class_id,
            ),
        )
    return item(store, list_id)


def _item_from(store: Store, row: sqlite3.Row) -> Item:
    return Item(
        core=list_core(row),
        item_type=row["item_type"],
        name=row["name"],
        full_name=row["full_name"],
        is_active=bool(row["is_active"]),
        parent=store.ref("items", row["parent_id"]),
        sublevel=row["sublevel"],
        description=row["description"],
        price=decimal_or_none(row["price"]),
        price_percent=decimal_or_none(row["price_percent"]),
        account=store.ref("accounts", row["account_id"]),
        sales_tax_code=store.ref("sales_tax_codes", row["sales_tax_code_id"]),
        tax_rate=decimal_or_none(row["tax_rate"]),
        tax_vendor=store.ref("entities", row["tax_vendor_id"]),
        class_ref=store.ref("classes", row["class_id"]),
    )


def item(store: Store, list_id: str) -> Item:
    return _item_from(
        store, store.db.execute("SELECT * FROM items WHERE list_id = ?", (list_id,)).fetchone()
    )


def query_items(
    store: Store, flt: ListFilter, item_type: ItemType | None = None
) -> tuple[list[Item], list[str]]:
    """ItemQuery (every type), or ItemServiceQuery etc. (`item_type`)."""
    rows, missing = list_query(store, "items", flt, kind=item_type, kind_column="item_type")
    return [_item_from(store, r) for r in rows], missing


def mod_item(
    store: Store,
    list_id: str,
    edit_sequence: str,
    *,
    name: str | None = None,
    is_active: bool | None = None,
    parent: RefSpec | None = None,
    sales_tax_code: RefSpec | None = None,
    description: str | None = None,
    price: Decimal | None = None,
    price_percent: Decimal | None = None,
    account: RefSpec | None = None,
    class_ref: RefSpec | None = None,
) -> Item:
    """ItemServiceMod and its kin: only the fields given change."""
    with store.transaction():
        row = current_row(store, "items", list_id, edit_sequence)
        where = f"Item{row['item_type']}"
        if name is not None or parent is not None:
            parent_row = (
                _row(store, store.require("items", parent, "Item", where))
                if parent is not None
                else _row(store, row["parent_id"])
                if row["parent_id"]
                else None
            )
            move(store, "items", row, to_qb_stored(name) or row["name"], parent_row)
        updates: dict[str, object] = {}
        if is_active is not None:
            updates["is_active"] = int(is_active)
        if sales_tax_code is not None:
            updates["sales_tax_code_id"] = store.require(
                "sales_tax_codes", sales_tax_code, "SalesTaxCode", where
            )
        if description is not None:
            updates["description"] = to_qb_stored(description)
        if price is not None:
            # Price and PricePercent are a choice: setting one clears the other.
            updates["price"], updates["price_percent"] = str(price), None
        if price_percent is not None:
            updates["price"], updates["price_percent"] = None, str(price_percent)
        if account is not None:
            updates["account_id"] = store.require("accounts", account, "Account", where)
        if class_ref is not None:
            updates["class_id"] = store.require("classes", class_ref, "Class", where)
        if updates:
            store.db.execute(
                "UPDATE items SET "
                + ", ".join(f"{column} = ?" for column in updates)
                + " WHERE list_id = ?",
                (*updates.values(), list_id),
            )
        store.touch("items", "list_id", list_id)
    return item(store, list_id)


def _row(store: Store, list_id: str) -> sqlite3.Row:
    row: sqlite3.Row = store.db.execute(
        "SELECT * FROM items WHERE list_id = ?", (list_id,)
    ).fetchone()
    return row
