"""TxnVoidRq and TxnDelRq: voiding keeps a transaction with zero amounts, deleting removes it.

Intuit's TxnVoid reference: "Voiding a transaction sets its amount to zero but keeps a record
of it in QuickBooks. (Using TxnDel to delete a transaction, on the other hand, removes the
transaction completely.)" In QuickBooks Desktop a voided invoice keeps its number, customer and
lines, its dollar amounts become 0.00 and its memo starts with "VOID:" (O'Reilly, QuickBooks
2005: The Missing Manual, "Voiding and Deleting Invoices and Sales Receipts": "QuickBooks
resets the dollar values to zero ... but it also marks the transaction as void"; ExpressBooks,
"Deleting vs Voiding Invoices"). What a void does here:

- Invoice: its posting is reversed (income, sales tax payable, A/R, the customer's balance);
  lines keep item, description, quantity and rate with Amount 0.00; Subtotal, SalesTaxTotal,
  AppliedAmount and BalanceRemaining 0.00 (IsPaid true: nothing is owed). A payment applied
  to it keeps its money as UnusedPayment and a credit set against it goes back to its credit
  memo (the simulator's reading of QuickBooks unlinking them; not quoted from a capture).
- CreditMemo: its posting is reversed, the credit it set against invoices is owed again,
  TotalAmount and CreditRemaining 0.00.
- Bill: its posting is reversed (expense/item accounts, A/P, the vendor's balance), AmountDue
  and OpenAmount 0.00.
- ReceivePayment is not a TxnVoidType in qbXML 13.0 (qbxml130.xsd), so QuickBooks refuses a
  TxnVoidRq naming it as it refuses any message that breaks the schema; TxnDelRq deletes one
  (its invoices owe the money again, its credits are unset).

A TxnID of no transaction of that type answers 3120; voiding an already voided transaction
answers 0 and changes nothing (modelled: voiding twice leaves it voided). A transaction dated
on or before the closing date is refused with 3171.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from mlconnector.qbsim.closing import check_open
from mlconnector.qbsim.credits import unlink_credits, unlink_payment, unlink_payments_from_invoice
from mlconnector.qbsim.invoice_lines import read_lines
from mlconnector.qbsim.invoice_mods import post_sales_form
from mlconnector.qbsim.ledger import adjust_balance
from mlconnector.qbsim.statuses import object_not_found
from mlconnector.qbsim.store import Store

# The TxnVoidType/TxnDelType values the simulated company holds transactions of, and where.
_TABLES = {
    "Invoice": "invoices",
    "CreditMemo": "credit_memos",
    "Bill": "bills",
    "ReceivePayment": "receive_payments",
}
ZERO = "0.00"


@dataclass(frozen=True)
class VoidedTxn:
    """TxnVoidRet: what was voided."""

    txn_type: str
    txn_id: str
    time_created: datetime
    time_modified: datetime
    ref_number: str | None


@dataclass(frozen=True)
class DeletedTxn:
    """TxnDelRet: what was deleted, and when."""

    txn_type: str
    txn_id: str
    time_deleted: datetime
    ref_number: str | None


_VOIDABLE = frozenset({"Invoice", "CreditMemo", "Bill"})


def _row(store: Store, txn_type: str, txn_id: str) -> sqlite3.Row:
    """The transaction; 3120 when the company holds no `txn_type` with that TxnID (a type the
    simulator does not model holds none)."""
    table = _TABLES.get(txn_type)
    row: sqlite3.Row | None = None
    if table is not None:
        row = store.db.execute(f"SELECT * FROM {table} WHERE txn_id = ?", (txn_id,)).fetchone()
    if row is None:
        raise object_not_found(txn_id)
    return row


def void_txn(store: Store, txn_type: str, txn_id: str) -> VoidedTxn:
    """Void `txn_id` of `txn_type` (a TxnVoidType). QbError 3120, 3171."""
    with store.transaction():
        if txn_type not in _VOIDABLE:
            raise object_not_found(txn_id)
        row = _row(store, txn_type, txn_id)
        table = _TABLES[txn_type]
        if not row["is_voided"]:
            check_open(store, date.fromisoformat(row["txn_date"]), "void", txn_type)
            if txn_type == "Bill":
                _void_bill(store, row)
            else:
                _void_sales_form(store, txn_type, row)
            memo = row["memo"]
            store.db.execute(
                f"UPDATE {table} SET is_voided = 1, memo = ? WHERE txn_id = ?",
                (f"VOID: {memo}" if memo else "VOID:", txn_id),
            )
            store.touch(table, "txn_id", txn_id)
        done = store.db.execute(f"SELECT * FROM {table} WHERE txn_id = ?", (txn_id,)).fetchone()
    return VoidedTxn(
        txn_type,
        txn_id,
        datetime.fromisoformat(done["time_created"]),
        datetime.fromisoformat(done["time_modified"]),
        done["ref_number"],
    )


def _void_sales_form(store: Store, txn_type: str, row: sqlite3.Row) -> None:
    txn_id = row["txn_id"]
    lines_table = "invoice_lines" if txn_type == "Invoice" else "credit_memo_lines"
    lines = read_lines(store, txn_id, lines_table)
    sign = 1 if txn_type == "Invoice" else -1
    post_sales_form(store, lines, Decimal(row["sales_tax_total"]), row, -sign)
    if txn_type == "Invoice":
        unlink_payments_from_invoice(store, txn_id)
        unlink_credits(store, "invoice_txn_id", txn_id)
        store.db.execute(
            "UPDATE invoices SET subtotal = ?, sales_tax_total = ?, applied_amount = ?, "
            "balance_remaining = ?, is_paid = 1 WHERE txn_id = ?",
            (ZERO, ZERO, ZERO, ZERO, txn_id),
        )
    else:
        unlink_credits(store, "credit_txn_id", txn_id)
        store.db.execute(
            "UPDATE credit_memos SET subtotal = ?, sales_tax_total = ?, total_amount = ?, "
            "credit_remaining = ? WHERE txn_id = ?",
            (ZERO, ZERO, ZERO, ZERO, txn_id),
        )
    store.db.execute(f"UPDATE {lines_table} SET amount = ? WHERE txn_id = ?", (ZERO, txn_id))


def _void_bill(store: Store, row: sqlite3.Row) -> None:
    _reverse_bill(store, row)
    store.db.execute(
        "UPDATE bills SET amount_due = ?, open_amount = ?, is_paid = 1 WHERE txn_id = ?",
        (ZERO, ZERO, row["txn_id"]),
    )
    store.db.execute("UPDATE bill_lines SET amount = ? WHERE txn_id = ?", (ZERO, row["txn_id"]))


def _reverse_bill(store: Store, row: sqlite3.Row) -> None:
    """Take a bill's amounts back off its accounts, A/P and the vendor's balance."""
    for line in store.db.execute(
        "SELECT l.amount, COALESCE(l.account_id, i.account_id) AS account_id "
        "FROM bill_lines l LEFT JOIN items i ON i.list_id = l.item_id WHERE l.txn_id = ?",
        (row["txn_id"],),
    ).fetchall():
        if line["account_id"] is not None:
            adjust_balance(store, "accounts", line["account_id"], -Decimal(line["amount"]))
    total = Decimal(row["amount_due"])
    adjust_balance(store, "accounts", row["ap_account_id"], -total)
    adjust_balance(store, "entities", row["vendor_id"], -total)


def delete_txn(store: Store, txn_type: str, txn_id: str) -> DeletedTxn:
    """Delete `txn_id` of `txn_type` (a TxnDelType). QbError 3120, 3171."""
    with store.transaction():
        row = _row(store, txn_type, txn_id)
        check_open(store, date.fromisoformat(row["txn_date"]), "delete", txn_type)
        if txn_type == "ReceivePayment":
            unlink_payment(store, txn_id)
            total = Decimal(row["total_amount"])
            adjust_balance(store, "accounts", row["ar_account_id"], total)
            adjust_balance(store, "accounts", row["deposit_to_account_id"], -total)
            adjust_balance(store, "entities", row["customer_id"], total)
            store.db.execute("DELETE FROM receive_payments WHERE txn_id = ?", (txn_id,))
        elif txn_type == "Bill":
            if not row["is_voided"]:
                _reverse_bill(store, row)
            store.db.execute("DELETE FROM bill_lines WHERE txn_id = ?", (txn_id,))
            store.db.execute("DELETE FROM bills WHERE txn_id = ?", (txn_id,))
        else:
            if not row["is_voided"]:
                _void_sales_form(store, txn_type, row)
            table = _TABLES[txn_type]
            lines_table = "invoice_lines" if txn_type == "Invoice" else "credit_memo_lines"
            store.db.execute(f"DELETE FROM {lines_table} WHERE txn_id = ?", (txn_id,))
            store.db.execute(f"DELETE FROM {table} WHERE txn_id = ?", (txn_id,))
    return DeletedTxn(txn_type, txn_id, store.now(), row["ref_number"])
