"""Received payments (ReceivePayment): money from a customer, applied to their open invoices.

What QuickBooks does with one, and this module does too: each invoice applied to loses the
amount applied from its BalanceRemaining (IsPaid once nothing is left) and takes a new
EditSequence; paying an invoice more than it still owes is refused (3210); what is not applied
stays on the payment as UnusedPayment (a credit). The whole payment leaves A/R and the
customer's balance and goes to the deposit account (Undeposited Funds unless told otherwise).

An AppliedToTxnAdd may also set credit memos' credits against the invoice (SetCredit,
credits.py). A message that only sets credits (no TotalAmount, or 0.00, and no PaymentAmount
above 0.00) creates no ReceivePayment transaction: "if you use a credit (SetCredit) only, in
your ReceivePayment ... Add request, then no transaction ID is created, because, from the
viewpoint of QuickBooks, there was no transaction. Setting a credit merely creates links
between existing transactions ... and no information about these links will be returned to
you in the response" (Intuit's SetCredit reference, as LetSync's qbXML docs reproduce it,
https://www.letsyncsolution.com/docs/setcredit/; Intuit's "Requests for receive payments,
bill payments and deposits": in credit-only messages "the response message may be thin").
The simulator answers such a message with a ReceivePaymentRet that has no TxnID (`CreditsSet`);
the links show in InvoiceQuery/CreditMemoQuery with IncludeLinkedTxns.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from mlconnector.qbsim.accounts import account_by_special
from mlconnector.qbsim.amounts import round_cents
from mlconnector.qbsim.closing import check_open
from mlconnector.qbsim.credits import CreditSet, belongs_to, set_credits
from mlconnector.qbsim.entities import entity_row
from mlconnector.qbsim.ids import new_record_stamps
from mlconnector.qbsim.ledger import adjust_balance
from mlconnector.qbsim.queries import escape_like
from mlconnector.qbsim.refs import Ref, RefSpec
from mlconnector.qbsim.statuses import (
    amount_exceeds_balance,
    applied_exceeds_total,
    invalid_reference,
    no_ar_account,
)
from mlconnector.qbsim.store import Store, to_qb_stored
from mlconnector.qbsim.txn_query import TxnFilter, txn_rows


@dataclass(frozen=True)
class Application:
    """AppliedToTxnAdd: pay `amount` (dollars) of invoice `txn_id`, and set `credits`."""

    txn_id: str
    amount: Decimal
    credits: Sequence[CreditSet] = ()


@dataclass(frozen=True)
class PaymentDraft:
    customer: RefSpec
    total_amount: Decimal | None = None
    applications: Sequence[Application] = ()
    auto_apply: bool = False
    ar_account: RefSpec | None = None
    txn_date: date | None = None
    ref_number: str | None = None
    payment_method: RefSpec | None = None
    memo: str | None = None
    deposit_to_account: RefSpec | None = None
    external_guid: str | None = None


@dataclass(frozen=True)
class AppliedTo:
    """AppliedToTxnRet: an invoice the payment paid, with what it still owes now."""

    txn_id: str
    txn_date: date
    ref_number: str | None
    balance_remaining: Decimal
    amount: Decimal


@dataclass(frozen=True)
class CreditsSet:
    """What a credit-only ReceivePaymentAdd did: credits set, no transaction created."""

    customer: Ref
    ar_account: Ref
    txn_date: date
    total_set: Decimal


@dataclass(frozen=True)
class Payment:
    txn_id: str
    time_created: datetime
    time_modified: datetime
    edit_sequence: str
    txn_number: int
    customer: Ref
    ar_account: Ref
    txn_date: date
    ref_number: str | None
    total_amount: Decimal
    payment_method: Ref | None
    memo: str | None
    deposit_to_account: Ref
    unused_payment: Decimal
    external_guid: str | None
    applied_to: tuple[AppliedTo, ...]


def receive_payment(store: Store, draft: PaymentDraft) -> Payment | CreditsSet:
    """ReceivePaymentAdd. QbError 3140 (bad reference), 3171 (closed period), 3210 (more
    than an invoice owes, than the payment, or than a credit memo has left)."""
    now = store.now()
    with store.transaction():
        customer_id = store.resolve("entities", draft.customer)
        customer = entity_row(store, customer_id) if customer_id else None
        if customer is None or customer["kind"] != "Customer":
            raise invalid_reference("Customer", draft.customer.shown, "ReceivePayment")
        ar_id = _account(store, draft.ar_account, "AccountsReceivable")
        deposit_id = _account(store, draft.deposit_to_account, "UndepositedFunds")
        method_id = (
            store.require(
                "payment_methods", draft.payment_method, "PaymentMethod", "ReceivePayment"
            )
            if draft.payment_method
            else None
        )
        txn_date = draft.txn_date or now.date()
        check_open(store, txn_date, "add", "ReceivePayment")
        applications = (
            _auto_apply(store, customer, draft.total_amount or Decimal(0))
            if draft.auto_apply
            else list(draft.applications)
        )
        applied = sum((round_cents(a.amount) for a in applications), Decimal("0.00"))
        if _credits_only(draft, applications, applied):
            total_set = Decimal("0.00")
            for application in applications:
                _owned_invoice(store, customer, application.txn_id)
                total_set += set_credits(
                    store, customer, application.txn_id, list(application.credits), None, txn_date
                )
            customer_ref = store.ref("entities", customer["list_id"])
            ar_ref = store.ref("accounts", ar_id)
            assert customer_ref is not None
            assert ar_ref is not None
            return CreditsSet(customer_ref, ar_ref, txn_date, total_set)
        # Without TotalAmount the payment is what it pays (an assumption: QuickBooks' UI
        # fills the amount in the same way).
        total = round_cents(draft.total_amount) if draft.total_amount is not None else applied
        if applied > total:
            raise applied_exceeds_total(f"{applied:.2f}", f"{total:.2f}")
        txn_id = store.new_txn_id(now)
        txn_number = store.next_counter("next_txn_number", 1)
        store.db.execute(
            "INSERT INTO receive_payments VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
            (
                txn_id,
                *new_record_stamps(now),
                txn_number,
                customer["list_id"],
                ar_id,
                txn_date.isoformat(),
                draft.ref_number,
                str(total),
                method_id,
                to_qb_stored(draft.memo),
                deposit_id,
                str(total - applied),
                draft.external_guid,
            ),
        )
        for position, application in enumerate(applications):
            _apply(store, txn_id, position, customer, application)
            if application.credits:
                set_credits(
                    store, customer, application.txn_id, list(application.credits), txn_id, txn_date
                )
        adjust_balance(store, "accounts", ar_id, -total)
        adjust_balance(store, "accounts", deposit_id, total)
        adjust_balance(store, "entities", customer["list_id"], -total)
    return payment(store, txn_id)


def _credits_only(
    draft: PaymentDraft, applications: Sequence[Application], applied: Decimal
) -> bool:
    """A message that sets credits and receives no money."""
    no_money = draft.total_amount is None or round_cents(draft.total_amount) == 0
    has_credits = any(a.credits for a in applications)
    return no_money and applied == 0 and has_credits


def _account(store: Store, spec: RefSpec | None, special: str) -> str:
    if spec is not None:
        return store.require("accounts", spec, "Account", "ReceivePayment")
    found = account_by_special(store, special)
    if found is None:
        raise no_ar_account()
    return found.core.list_id


def _owned_invoice(store: Store, customer: sqlite3.Row, txn_id: str) -> sqlite3.Row:
    """The invoice, if it belongs to the customer or one of their jobs (the Receive Payments
    window lists the jobs' invoices under the customer); else 3140."""
    row: sqlite3.Row | None = store.db.execute(
        "SELECT i.*, e.full_name AS customer_full_name FROM invoices i "
        "JOIN entities e ON e.list_id = i.customer_id WHERE i.txn_id = ?",
        (txn_id,),
    ).fetchone()
    if row is None:
        raise invalid_reference("Invoice", txn_id, "ReceivePayment")
    if not belongs_to(row["customer_full_name"], customer["full_name"]):
        raise invalid_reference("Invoice", txn_id, "ReceivePayment")
    return row


def _apply(
    store: Store, payment_id: str, position: int, customer: sqlite3.Row, application: Application
) -> None:
    invoice = _owned_invoice(store, customer, application.txn_id)
    amount = round_cents(application.amount)
    if amount == 0 and application.credits:
        return  # only credits for this invoice: set_credits links them
    balance = Decimal(invoice["balance_remaining"])
    if amount > balance:
        raise amount_exceeds_balance(f"{amount:.2f}", application.txn_id, f"{balance:.2f}")
    remaining = balance - amount
    # InvoiceRet's AppliedAmount is negative, QuickBooks' sign for money that came off the
    # invoice (InvoiceRet samples read "<AppliedAmount>-125.00</AppliedAmount>"):
    # BalanceRemaining = Subtotal + SalesTaxTotal + AppliedAmount.
    store.db.execute(
        "UPDATE invoices SET applied_amount = ?, balance_remaining = ?, is_paid = ? "
        "WHERE txn_id = ?",
        (
            str(Decimal(invoice["applied_amount"]) - amount),
            str(remaining),
            int(remaining == 0),
            application.txn_id,
        ),
    )
    # The invoice changed (balance, IsPaid): QuickBooks gives it a new EditSequence too.
    store.touch("invoices", "txn_id", application.txn_id)
    store.db.execute(
        "INSERT INTO payment_applications VALUES (?,?,?,?)",
        (payment_id, position, application.txn_id, str(amount)),
    )


def _auto_apply(store: Store, customer: sqlite3.Row, total: Decimal) -> list[Application]:
    """IsAutoApply: oldest open invoices first (by date, then entry order), as QuickBooks'
    "automatically apply payments" preference does."""
    rows = store.db.execute(
        "SELECT i.txn_id, i.balance_remaining FROM invoices i "
        "JOIN entities e ON e.list_id = i.customer_id "
        "WHERE i.is_paid = 0 AND (e.full_name = ? COLLATE NOCASE OR e.full_name LIKE ? "
        "ESCAPE '\\') ORDER BY i.txn_date, i.txn_number",
        (customer["full_name"], escape_like(customer["full_name"]) + ":%"),
    ).fetchall()
    left = round_cents(total)
    applications = []
    for row in rows:
        if left <= 0:
            break
        amount = min(left, Decimal(row["balance_remaining"]))
        if amount > 0:
            applications.append(Application(row["txn_id"], amount))
            left -= amount
    return applications


def payment_from(store: Store, row: sqlite3.Row) -> Payment:
    applied = tuple(
        AppliedTo(
            txn_id=r["invoice_txn_id"],
            txn_date=date.fromisoformat(r["txn_date"]),
            ref_number=r["ref_number"],
            balance_remaining=Decimal(r["balance_remaining"]),
            amount=Decimal(r["amount"]),
        )
        for r in store.db.execute(
            "SELECT a.invoice_txn_id, a.amount, i.txn_date, i.ref_number, i.balance_remaining "
            "FROM payment_applications a JOIN invoices i ON i.txn_id = a.invoice_txn_id "
            "WHERE a.payment_txn_id = ? ORDER BY a.position",
            (row["txn_id"],),
        )
    )
    customer = store.ref("entities", row["customer_id"])
    ar_account = store.ref("accounts", row["ar_account_id"])
    deposit = store.ref("accounts", row["deposit_to_account_id"])
    assert customer is not None
    assert ar_account is not None
    assert deposit is not None
    return Payment(
        txn_id=row["txn_id"],
        time_created=datetime.fromisoformat(row["time_created"]),
        time_modified=datetime.fromisoformat(row["time_modified"]),
        edit_sequence=row["edit_sequence"],
        txn_number=row["txn_number"],
        customer=customer,
        ar_account=ar_account,
        txn_date=date.fromisoformat(row["txn_date"]),
        ref_number=row["ref_number"],
        total_amount=Decimal(row["total_amount"]),
        payment_method=store.ref("payment_methods", row["payment_method_id"]),
        memo=row["memo"],
        deposit_to_account=deposit,
        unused_payment=Decimal(row["unused_payment"]),
        external_guid=row["external_guid"],
        applied_to=applied,
    )


def payment(store: Store, txn_id: str) -> Payment:
    row = store.db.execute("SELECT * FROM receive_payments WHERE txn_id = ?", (txn_id,)).fetchone()
    if row is None:
        raise KeyError(txn_id)
    return payment_from(store, row)


def query_payments(store: Store, flt: TxnFilter) -> tuple[list[Payment], list[str]]:
    rows, missing = txn_rows(store, "receive_payments", "customer_id", flt)
    return [payment_from(store, r) for r in rows], missing
