"""Credits set against invoices, and the links QuickBooks keeps between transactions.

Setting a credit (ReceivePaymentAdd/AppliedToTxnAdd/SetCredit: CreditTxnID, AppliedAmount)
takes AppliedAmount off the invoice's BalanceRemaining (its AppliedAmount grows more negative)
and off the credit memo's CreditRemaining. It moves no account and no customer balance: the
credit memo already took its total off A/R and the customer when it was entered. Intuit's
CreditMemoAdd reference: the credit memo "doesn't actually get applied until is referenced in a
ReceivePayment transaction inside the SetCredit aggregate".

`linked_txns` lists what InvoiceQuery/CreditMemoQuery return as LinkedTxn with
IncludeLinkedTxns: payments and credit memos on an invoice (Amount negative, money off the
invoice, the sign InvoiceRet's AppliedAmount has), invoices on a credit memo (Amount positive,
the credit used). `unlink_*` undo the links when a transaction is voided or deleted.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from mlconnector.qbsim.amounts import round_cents
from mlconnector.qbsim.statuses import (
    amount_exceeds_balance,
    credit_exceeds_remaining,
    invalid_reference,
)
from mlconnector.qbsim.store import Store


@dataclass(frozen=True)
class CreditSet:
    """SetCredit: set `amount` (dollars) of credit memo `credit_txn_id` against an invoice."""

    credit_txn_id: str
    amount: Decimal


@dataclass(frozen=True)
class LinkedTxn:
    """A LinkedTxn element: the other transaction, and the amount the link moved."""

    txn_id: str
    txn_type: str
    txn_date: date
    ref_number: str | None
    amount: Decimal


def belongs_to(owner_full_name: str, customer_full_name: str) -> bool:
    """A transaction of `owner` is the customer's when owner is the customer or one of its
    jobs (the Receive Payments window lists the jobs' transactions under the customer)."""
    owner, name = owner_full_name.lower(), customer_full_name.lower()
    return owner == name or owner.startswith(name + ":")


def set_credits(
    store: Store,
    customer: sqlite3.Row,
    invoice_txn_id: str,
    credits: list[CreditSet],
    payment_txn_id: str | None,
    txn_date: date,
) -> Decimal:
    """Set `credits` against the invoice; the total set. 3140 for a credit memo that is not
    the customer's (or not there), 3210 for more than a credit memo has left or more than
    the invoice still owes."""
    total = Decimal("0.00")
    for credit in credits:
        memo = store.db.execute(
            "SELECT c.*, e.full_name AS customer_full_name FROM credit_memos c "
            "JOIN entities e ON e.list_id = c.customer_id WHERE c.txn_id = ?",
            (credit.credit_txn_id,),
        ).fetchone()
        if memo is None or not belongs_to(memo["customer_full_name"], customer["full_name"]):
            raise invalid_reference("CreditMemo", credit.credit_txn_id, "ReceivePayment")
        amount = round_cents(credit.amount)
        remaining = Decimal(memo["credit_remaining"])
        if amount > remaining:
            raise credit_exceeds_remaining(
                f"{amount:.2f}", credit.credit_txn_id, f"{remaining:.2f}"
            )
        invoice = store.db.execute(
            "SELECT balance_remaining, applied_amount FROM invoices WHERE txn_id = ?",
            (invoice_txn_id,),
        ).fetchone()
        balance = Decimal(invoice["balance_remaining"])
        if amount > balance:
            raise amount_exceeds_balance(f"{amount:.2f}", invoice_txn_id, f"{balance:.2f}")
        store.db.execute(
            "UPDATE credit_memos SET credit_remaining = ? WHERE txn_id = ?",
            (str(remaining - amount), credit.credit_txn_id),
        )
        store.touch("credit_memos", "txn_id", credit.credit_txn_id)
        _move_invoice(store, invoice_txn_id, -amount)
        store.db.execute(
            "INSERT INTO credit_applications VALUES (?,?,?,?,?,?)",
            (
                credit.credit_txn_id,
                invoice_txn_id,
                payment_txn_id,
                str(amount),
                txn_date.isoformat(),
                store.next_counter("next_credit_link", 1),
            ),
        )
        total += amount
    return total


def set_invoice_credits(store: Store, invoice_txn_id: str, credits: list[CreditSet]) -> None:
    """SetCredit inside an InvoiceAdd/InvoiceMod: the credits are set against that invoice,
    dated as the invoice, with no payment."""
    row = store.db.execute(
        "SELECT e.*, i.txn_date AS invoice_date FROM invoices i "
        "JOIN entities e ON e.list_id = i.customer_id WHERE i.txn_id = ?",
        (invoice_txn_id,),
    ).fetchone()
    set_credits(store, row, invoice_txn_id, credits, None, date.fromisoformat(row["invoice_date"]))


def _move_invoice(store: Store, txn_id: str, delta: Decimal) -> None:
    """Change what an invoice still owes by `delta` (negative: paid or credited)."""
    row = store.db.execute(
        "SELECT balance_remaining, applied_amount FROM invoices WHERE txn_id = ?", (txn_id,)
    ).fetchone()
    balance = Decimal(row["balance_remaining"]) + delta
    store.db.execute(
        "UPDATE invoices SET applied_amount = ?, balance_remaining = ?, is_paid = ? "
        "WHERE txn_id = ?",
        (str(Decimal(row["applied_amount"]) + delta), str(balance), int(balance <= 0), txn_id),
    )
    store.touch("invoices", "txn_id", txn_id)


def unlink_credits(store: Store, column: str, txn_id: str) -> None:
    """Remove the credits set through `column` (credit_txn_id, invoice_txn_id or
    payment_txn_id) = `txn_id`: each invoice owes its amount again, each credit memo has it
    back."""
    rows = store.db.execute(
        f"SELECT credit_txn_id, invoice_txn_id, amount FROM credit_applications WHERE {column} = ?",
        (txn_id,),
    ).fetchall()
    for row in rows:
        amount = Decimal(row["amount"])
        if column != "invoice_txn_id":
            _move_invoice(store, row["invoice_txn_id"], amount)
        if column != "credit_txn_id":
            memo = store.db.execute(
                "SELECT credit_remaining FROM credit_memos WHERE txn_id = ?",
                (row["credit_txn_id"],),
            ).fetchone()
            store.db.execute(
                "UPDATE credit_memos SET credit_remaining = ? WHERE txn_id = ?",
                (str(Decimal(memo[0]) + amount), row["credit_txn_id"]),
            )
            store.touch("credit_memos", "txn_id", row["credit_txn_id"])
    store.db.execute(f"DELETE FROM credit_applications WHERE {column} = ?", (txn_id,))


def unlink_payments_from_invoice(store: Store, invoice_txn_id: str) -> None:
    """The payments applied to a voided or deleted invoice keep their money as UnusedPayment
    (a credit the customer still has), as QuickBooks leaves a payment whose invoice is gone."""
    rows = store.db.execute(
        "SELECT payment_txn_id, amount FROM payment_applications WHERE invoice_txn_id = ?",
        (invoice_txn_id,),
    ).fetchall()
    for row in rows:
        payment = store.db.execute(
            "SELECT unused_payment FROM receive_payments WHERE txn_id = ?",
            (row["payment_txn_id"],),
        ).fetchone()
        store.db.execute(
            "UPDATE receive_payments SET unused_payment = ? WHERE txn_id = ?",
            (str(Decimal(payment[0]) + Decimal(row["amount"])), row["payment_txn_id"]),
        )
        store.touch("receive_payments", "txn_id", row["payment_txn_id"])
    store.db.execute("DELETE FROM payment_applications WHERE invoice_txn_id = ?", (invoice_txn_id,))


def release_excess(store: Store, invoice_txn_id: str, excess: Decimal) -> None:
    """An invoice changed to less than what was applied to it gives back the `excess`
    (dollars): the newest credits first (to their credit memos), then the newest payments
    (as UnusedPayment), so that it owes 0.00 and nothing is lost. The simulator's reading of
    QuickBooks Desktop letting a paid invoice be edited down (the overpayment becomes the
    customer's credit); not quoted from a captured response. The invoice's own columns are
    the caller's to set."""
    for row in store.db.execute(
        "SELECT rowid, credit_txn_id, amount FROM credit_applications "
        "WHERE invoice_txn_id = ? ORDER BY seq DESC",
        (invoice_txn_id,),
    ).fetchall():
        if excess <= 0:
            return
        take = min(excess, Decimal(row["amount"]))
        _shrink(
            "credit_applications",
            "rowid = ?",
            (row["rowid"],),
            Decimal(row["amount"]) - take,
            store,
        )
        memo = store.db.execute(
            "SELECT credit_remaining FROM credit_memos WHERE txn_id = ?", (row["credit_txn_id"],)
        ).fetchone()
        store.db.execute(
            "UPDATE credit_memos SET credit_remaining = ? WHERE txn_id = ?",
            (str(Decimal(memo[0]) + take), row["credit_txn_id"]),
        )
        store.touch("credit_memos", "txn_id", row["credit_txn_id"])
        excess -= take
    for row in store.db.execute(
        "SELECT a.payment_txn_id, a.position, a.amount, p.unused_payment "
        "FROM payment_applications a JOIN receive_payments p ON p.txn_id = a.payment_txn_id "
        "WHERE a.invoice_txn_id = ? ORDER BY p.txn_number DESC, a.position DESC",
        (invoice_txn_id,),
    ).fetchall():
        if excess <= 0:
            return
        take = min(excess, Decimal(row["amount"]))
        _shrink(
            "payment_applications",
            "payment_txn_id = ? AND position = ?",
            (row["payment_txn_id"], row["position"]),
            Decimal(row["amount"]) - take,
            store,
        )
        store.db.execute(
            "UPDATE receive_payments SET unused_payment = ? WHERE txn_id = ?",
            (str(Decimal(row["unused_payment"]) + take), row["payment_txn_id"]),
        )
        store.touch("receive_payments", "txn_id", row["payment_txn_id"])
        excess -= take


def _shrink(table: str, where: str, key: tuple[object, ...], left: Decimal, store: Store) -> None:
    """A link keeps `left` dollars, or goes when nothing is left."""
    if left > 0:
        store.db.execute(f"UPDATE {table} SET amount = ? WHERE {where}", (str(left), *key))
    else:
        store.db.execute(f"DELETE FROM {table} WHERE {where}", key)


def unlink_payment(store: Store, payment_txn_id: str) -> None:
    """A deleted payment no longer pays its invoices (each owes its amount again), and the
    credits set with it are unset."""
    rows = store.db.execute(
        "SELECT invoice_txn_id, amount FROM payment_applications WHERE payment_txn_id = ?",
        (payment_txn_id,),
    ).fetchall()
    for row in rows:
        _move_invoice(store, row["invoice_txn_id"], Decimal(row["amount"]))
    store.db.execute("DELETE FROM payment_applications WHERE payment_txn_id = ?", (payment_txn_id,))
    unlink_credits(store, "payment_txn_id", payment_txn_id)


def linked_txns(store: Store, txn_type: str, txn_id: str) -> list[LinkedTxn]:
    """The LinkedTxn elements of an Invoice or a CreditMemo, in the order they were made."""
    links: list[LinkedTxn] = []
    if txn_type == "Invoice":
        for row in store.db.execute(
            "SELECT p.txn_id, p.txn_date, p.ref_number, a.amount FROM payment_applications a "
            "JOIN receive_payments p ON p.txn_id = a.payment_txn_id "
            "WHERE a.invoice_txn_id = ? ORDER BY p.txn_number",
            (txn_id,),
        ):
            links.append(_link(row, "ReceivePayment", -1))
        for row in store.db.execute(
            "SELECT c.txn_id, c.txn_date, c.ref_number, a.amount FROM credit_applications a "
            "JOIN credit_memos c ON c.txn_id = a.credit_txn_id "
            "WHERE a.invoice_txn_id = ? ORDER BY a.seq",
            (txn_id,),
        ):
            links.append(_link(row, "CreditMemo", -1))
    elif txn_type == "CreditMemo":
        for row in store.db.execute(
            "SELECT i.txn_id, i.txn_date, i.ref_number, a.amount FROM credit_applications a "
            "JOIN invoices i ON i.txn_id = a.invoice_txn_id "
            "WHERE a.credit_txn_id = ? ORDER BY a.seq",
            (txn_id,),
        ):
            links.append(_link(row, "Invoice", 1))
    return links


def _link(row: sqlite3.Row, txn_type: str, sign: int) -> LinkedTxn:
    return LinkedTxn(
        txn_id=row["txn_id"],
        txn_type=txn_type,
        txn_date=date.fromisoformat(row["txn_date"]),
        ref_number=row["ref_number"],
        amount=Decimal(row["amount"]) * sign,
    )
