"""Credit memos: what the company owes a customer (a return, a refund, an adjustment).

A credit memo is priced and taxed like an invoice (same lines, same sales tax item), and posts
the other way: income, sales tax payable, A/R and the customer's balance go down by its total.
Its CreditRemaining is what is left to set against invoices (ReceivePaymentAdd's SetCredit,
credits.py); Intuit's CreditMemoAdd reference: "It reduces a customer's outstanding balance.
The CreditMemo doesn't actually get applied until is referenced in a ReceivePayment
transaction inside the SetCredit aggregate."
"""

from __future__ import annotations

import dataclasses
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal

from mlconnector.qbsim.address import Address
from mlconnector.qbsim.closing import check_open
from mlconnector.qbsim.ids import new_record_stamps
from mlconnector.qbsim.invoice_lines import (
    InvoiceLine,
    InvoiceLineDraft,
    insert_lines,
    price_lines,
    read_lines,
)
from mlconnector.qbsim.invoice_mods import (
    CREDIT_MEMO_FORM,
    InvoiceChanges,
    InvoiceLineChange,
    mod_sales_form,
)
from mlconnector.qbsim.ledger import post_invoice
from mlconnector.qbsim.refs import Ref, RefSpec
from mlconnector.qbsim.sales_forms import resolve_header
from mlconnector.qbsim.sales_tax import sales_tax
from mlconnector.qbsim.store import Store, to_qb_stored
from mlconnector.qbsim.terms import due_date
from mlconnector.qbsim.txn_query import TxnFilter, txn_rows

CreditMemoChanges = InvoiceChanges


@dataclass(frozen=True)
class CreditMemoDraft:
    """A CreditMemoAdd's fields (dollars as Decimal); None takes QuickBooks' default."""

    customer: RefSpec
    lines: Sequence[InvoiceLineDraft] = ()
    ar_account: RefSpec | None = None
    txn_date: date | None = None
    ref_number: str | None = None
    bill_address: Address | None = None
    ship_address: Address | None = None
    is_pending: bool | None = None
    po_number: str | None = None
    due_date: date | None = None
    item_sales_tax: RefSpec | None = None
    memo: str | None = None
    is_to_be_printed: bool | None = None
    is_to_be_emailed: bool | None = None
    customer_sales_tax_code: RefSpec | None = None
    other: str | None = None
    external_guid: str | None = None
    class_ref: RefSpec | None = None
    terms: RefSpec | None = None


@dataclass(frozen=True)
class CreditMemo:
    """A stored credit memo; amounts in dollars. TotalAmount = Subtotal + SalesTaxTotal,
    CreditRemaining = TotalAmount less what has been set against invoices."""

    txn_id: str
    time_created: datetime
    time_modified: datetime
    edit_sequence: str
    txn_number: int
    customer: Ref
    ar_account: Ref
    txn_date: date
    ref_number: str | None
    bill_address: Address | None
    ship_address: Address | None
    is_pending: bool
    po_number: str | None
    due_date: date
    ship_date: date
    subtotal: Decimal
    item_sales_tax: Ref | None
    sales_tax_percentage: Decimal
    sales_tax_total: Decimal
    total_amount: Decimal
    credit_remaining: Decimal
    memo: str | None
    is_to_be_printed: bool
    is_to_be_emailed: bool
    customer_sales_tax_code: Ref | None
    other: str | None
    external_guid: str | None
    lines: tuple[InvoiceLine, ...] = field(default=())
    class_ref: Ref | None = None
    terms: Ref | None = None
    is_voided: bool = False


def add_credit_memo(store: Store, draft: CreditMemoDraft) -> CreditMemo:
    """CreditMemoAdd. QbError 3140 for a bad reference, 3171 when dated in a closed period."""
    now = store.now()
    with store.transaction():
        header = resolve_header(
            store,
            "CreditMemo",
            customer=draft.customer,
            ar_account=draft.ar_account,
            item_sales_tax=draft.item_sales_tax,
            customer_sales_tax_code=draft.customer_sales_tax_code,
            class_ref=draft.class_ref,
            terms=draft.terms,
        )
        customer = header.customer
        txn_date = draft.txn_date or now.date()
        check_open(store, txn_date, "add", "CreditMemo")
        txn_id = store.new_txn_id(now)
        lines = price_lines(store, draft.lines, now)
        subtotal = sum((line.amount for line in lines), Decimal("0.00"))
        rate, tax = sales_tax(store, lines, header.customer_code_id, header.tax_item_id)
        total = subtotal + tax
        bill = draft.bill_address or Address.from_json(customer["bill_address"])
        ship = draft.ship_address or Address.from_json(customer["ship_address"])
        store.db.execute(
            "INSERT INTO credit_memos VALUES "
            "(?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
            (
                txn_id,
                *new_record_stamps(now),
                store.next_counter("next_txn_number", 1),
                customer["list_id"],
                header.ar_id,
                txn_date.isoformat(),
                draft.ref_number,
                bill.to_json() if bill else None,
                ship.to_json() if ship else None,
                int(bool(draft.is_pending)),
                draft.po_number,
                (draft.due_date or due_date(store, header.terms_id, txn_date)).isoformat(),
                txn_date.isoformat(),
                str(subtotal),
                header.tax_item_id,
                str(rate),
                str(tax),
                str(total),
                str(total),
                to_qb_stored(draft.memo),
                int(bool(draft.is_to_be_printed)),
                int(bool(draft.is_to_be_emailed)),
                header.customer_code_id,
                draft.other,
                draft.external_guid,
                header.class_id,
                header.terms_id,
                0,
            ),
        )
        insert_lines(store, txn_id, lines, "credit_memo_lines")
        # The credit posts as a negative sale.
        post_invoice(
            store,
            [dataclasses.replace(line, amount=-line.amount) for line in lines],
            -tax,
            header.tax_item_id,
            header.ar_id,
            customer["list_id"],
            -total,
        )
    return credit_memo(store, txn_id)


def mod_credit_memo(
    store: Store,
    txn_id: str,
    edit_sequence: str,
    changes: CreditMemoChanges,
    lines: Sequence[InvoiceLineChange] | None = None,
) -> CreditMemo:
    """CreditMemoMod, as InvoiceMod (lines by TxnLineID, "-1" new, left out removed); the
    credit already set against invoices stays set. QbError 3120/3200/3140/3171."""
    mod_sales_form(store, CREDIT_MEMO_FORM, txn_id, edit_sequence, changes, lines)
    return credit_memo(store, txn_id)


def credit_memo_from(store: Store, row: sqlite3.Row, with_lines: bool) -> CreditMemo:
    """A stored credit_memos row as a CreditMemo (its lines read when `with_lines`)."""
    customer = store.ref("entities", row["customer_id"])
    ar_account = store.ref("accounts", row["ar_account_id"])
    assert customer is not None  # foreign keys guarantee both
    assert ar_account is not None
    return CreditMemo(
        txn_id=row["txn_id"],
        time_created=datetime.fromisoformat(row["time_created"]),
        time_modified=datetime.fromisoformat(row["time_modified"]),
        edit_sequence=row["edit_sequence"],
        txn_number=row["txn_number"],
        customer=customer,
        ar_account=ar_account,
        txn_date=date.fromisoformat(row["txn_date"]),
        ref_number=row["ref_number"],
        bill_address=Address.from_json(row["bill_address"]),
        ship_address=Address.from_json(row["ship_address"]),
        is_pending=bool(row["is_pending"]),
        po_number=row["po_number"],
        due_date=date.fromisoformat(row["due_date"]),
        ship_date=date.fromisoformat(row["ship_date"]),
        subtotal=Decimal(row["subtotal"]),
        item_sales_tax=store.ref("items", row["item_sales_tax_id"]),
        sales_tax_percentage=Decimal(row["sales_tax_percentage"]),
        sales_tax_total=Decimal(row["sales_tax_total"]),
        total_amount=Decimal(row["total_amount"]),
        credit_remaining=Decimal(row["credit_remaining"]),
        memo=row["memo"],
        is_to_be_printed=bool(row["is_to_be_printed"]),
        is_to_be_emailed=bool(row["is_to_be_emailed"]),
        customer_sales_tax_code=store.ref("sales_tax_codes", row["customer_sales_tax_code_id"]),
        other=row["other"],
        external_guid=row["external_guid"],
        lines=read_lines(store, row["txn_id"], "credit_memo_lines") if with_lines else (),
        class_ref=store.ref("classes", row["class_id"]),
        terms=store.ref("terms", row["terms_id"]),
        is_voided=bool(row["is_voided"]),
    )


def credit_memo(store: Store, txn_id: str, *, with_lines: bool = True) -> CreditMemo:
    """The credit memo `txn_id`; KeyError when there is none."""
    row = store.db.execute("SELECT * FROM credit_memos WHERE txn_id = ?", (txn_id,)).fetchone()
    if row is None:
        raise KeyError(txn_id)
    return credit_memo_from(store, row, with_lines)


def query_credit_memos(
    store: Store, flt: TxnFilter, *, with_lines: bool = False
) -> tuple[list[CreditMemo], list[str]]:
    """CreditMemoQuery: the matches, and the TxnIDs asked for but not found."""
    rows, missing = txn_rows(store, "credit_memos", "customer_id", flt)
    return [credit_memo_from(store, r, with_lines) for r in rows], missing
