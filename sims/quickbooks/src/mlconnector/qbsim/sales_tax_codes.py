"""Sales tax codes ("Tax", "Non"): whether what they are put on is taxable."""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass

from mlconnector.qbsim.ids import ListCore, new_record_stamps
from mlconnector.qbsim.mods import current_row
from mlconnector.qbsim.queries import ListFilter, list_query
from mlconnector.qbsim.refs import RefSpec
from mlconnector.qbsim.statuses import name_in_use
from mlconnector.qbsim.store import Store, list_core


@dataclass(frozen=True)
class SalesTaxCode:
    core: ListCore
    name: str
    is_active: bool
    is_taxable: bool
    description: str | None


def add_sales_tax_code(
    store: Store, name: str, *, is_taxable: bool, description: str | None = None
) -> SalesTaxCode:
    now = store.now()
    with store.transaction():
        if store.resolve("sales_tax_codes", RefSpec(full_name=name)) is not None:
            raise name_in_use(name)
        list_id = store.new_list_id(now)
        store.db.execute(
            "INSERT INTO sales_tax_codes VALUES (?,?,?,?,?,?,?,?,?)",
            (list_id, *new_record_stamps(now), name, 1, int(is_taxable), description),
        )
    return sales_tax_code(store, list_id)


def mod_sales_tax_code(
    store: Store,
    list_id: str,
    edit_sequence: str,
    *,
    name: str | None = None,
    is_active: bool | None = None,
    is_taxable: bool | None = None,
    description: str | None = None,
) -> SalesTaxCode:
    with store.transaction():
        row = current_row(store, "sales_tax_codes", list_id, edit_sequence)
        renamed = name is not None and name.lower() != row["name"].lower()
        if renamed and store.resolve("sales_tax_codes", RefSpec(full_name=name)) is not None:
            raise name_in_use(name or "")
        store.db.execute(
            "UPDATE sales_tax_codes SET name = ?, is_active = ?, is_taxable = ?, "
            "description = ? WHERE list_id = ?",
            (
                row["name"] if name is None else name,
                row["is_active"] if is_active is None else int(is_active),
                row["is_taxable"] if is_taxable is None else int(is_taxable),
                row["description"] if description is None else description,
                list_id,
            ),
        )
        store.touch("sales_tax_codes", "list_id", list_id)
    return sales_tax_code(store, list_id)


def query_sales_tax_codes(store: Store, flt: ListFilter) -> tuple[list[SalesTaxCode], list[str]]:
    rows, missing = list_query(store, "sales_tax_codes", flt)
    return [_code_from(r) for r in rows], missing


def sales_tax_code(store: Store, list_id: str) -> SalesTaxCode:
    row = store.db.execute("SELECT * FROM sales_tax_codes WHERE list_id = ?", (list_id,)).fetchone()
    return _code_from(row)


def _code_from(row: sqlite3.Row) -> SalesTaxCode:
    return SalesTaxCode(
        core=list_core(row),
        name=row["name"],
        is_active=bool(row["is_active"]),
        is_taxable=bool(row["is_taxable"]),
        description=row["description"],
    )


def is_taxable_code(store: Store, list_id: str | None) -> bool:
    if list_id is None:
        return False
    row = store.db.execute(
        "SELECT is_taxable FROM sales_tax_codes WHERE list_id = ?", (list_id,)
    ).fetchone()
    return bool(row and row[0])


def default_code(store: Store, taxable: bool) -> str | None:
    """The company's default taxable or non-taxable code (Preferences > Sales Tax)."""
    key = "default_taxable_code" if taxable else "default_non_taxable_code"
    return store.get_meta(key)
