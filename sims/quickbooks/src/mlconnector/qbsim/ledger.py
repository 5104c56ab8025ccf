"""Balances a transaction moves: income and liability accounts, A/R, the customer's balance."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal

from mlconnector.qbsim.accounts import special_account_ref
from mlconnector.qbsim.invoice_lines import InvoiceLine
from mlconnector.qbsim.items import item
from mlconnector.qbsim.store import Store


def adjust_balance(store: Store, table: str, list_id: str, delta: Decimal) -> None:
    row = store.db.execute(f"SELECT balance FROM {table} WHERE list_id = ?", (list_id,)).fetchone()
    store.db.execute(
        f"UPDATE {table} SET balance = ? WHERE list_id = ?",
        (str(Decimal(row[0]) + delta), list_id),
    )


def post_invoice(
    store: Store,
    lines: Sequence[InvoiceLine],
    tax: Decimal,
    tax_item_id: str | None,
    ar_account_id: str,
    customer_id: str,
    total: Decimal,
) -> None:
    """Each line's amount to its item's account, the tax to the tax item's (or Sales Tax
    Payable), the total to A/R and to the customer's balance."""
    for line in lines:
        if line.item is not None:
            account = item(store, line.item.list_id).account
            if account is not None:
                adjust_balance(store, "accounts", account.list_id, line.amount)
    if tax and tax_item_id is not None:
        payable = item(store, tax_item_id).account or special_account_ref(store, "SalesTaxPayable")
        if payable is not None:
            adjust_balance(store, "accounts", payable.list_id, tax)
    adjust_balance(store, "accounts", ar_account_id, total)
    adjust_balance(store, "entities", customer_id, total)
