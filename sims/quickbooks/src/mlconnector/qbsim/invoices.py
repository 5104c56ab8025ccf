"""Invoices: entered with QuickBooks' defaults (A/R account, tax item, numbering), read back."""

from __future__ import annotations

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
from mlconnector.qbsim.ledger import post_invoice
from mlconnector.qbsim.refs import Ref, RefSpec
from mlconnector.qbsim.sales_forms import check_credit_limit, resolve_header
from mlconnector.qbsim.sales_tax import sales_tax
from mlconnector.qbsim.store import Store, to_qb_stored
from mlconnector.qbsim.terms import due_date


@dataclass(frozen=True)
class InvoiceDraft:
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
class Invoice:
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
    applied_amount: Decimal
    balance_remaining: Decimal
    memo: str | None
    is_paid: bool
    is_to_be_printed: bool
    is_to_be_emailed: bool
    customer_sales_tax_code: Ref | None
    other: str | None
    external_guid: str | None
    lines: tuple[InvoiceLine, ...] = field(default=())
    class_ref: Ref | None = None
    terms: Ref | None = None
    # Voided (TxnVoidRq): amounts zero, lines kept, Memo "VOID: ...".
    is_voided: bool = False

    @property
    def total(self) -> Decimal:
        return self.subtotal + self.sales_tax_total


def add_invoice(store: Store, draft: InvoiceDraft) -> Invoice:
    """InvoiceAdd: lines priced, sales tax computed from the tax item's rate, A/R, income,
    sales tax payable and the customer's balance posted. 3140 for a bad reference, 3171 when
    dated in a closed period, 3180 when it takes the customer over its credit limit."""
    now = store.now()
    with store.transaction():
        header = resolve_header(
            store,
            "Invoice",
            customer=draft.customer,
            ar_account=draft.ar_account,
            item_sales_tax=draft.item_sales_tax,
            customer_sales_tax_code=draft.customer_sales_tax_code,
            class_ref=draft.class_ref,
            terms=draft.terms,
        )
        customer = header.customer
        txn_date = draft.txn_date or now.date()
        check_open(store, txn_date, "add", "Invoice")

        txn_id = store.new_txn_id(now)  # QuickBooks numbers the header before its lines
        lines = price_lines(store, draft.lines, now)
        subtotal = sum((line.amount for line in lines), Decimal("0.00"))
        rate, tax = sales_tax(store, lines, header.customer_code_id, header.tax_item_id)
        total = subtotal + tax
        check_credit_limit(store, customer["list_id"], total, "Invoice")

        ref_number = (
            draft.ref_number if draft.ref_number is not None else _next_invoice_number(store)
        )
        txn_number = store.next_counter("next_txn_number", 1)
        bill = draft.bill_address or Address.from_json(customer["bill_address"])
        ship = draft.ship_address or Address.from_json(customer["ship_address"])
        store.db.execute(
            "INSERT INTO invoices VALUES "
            "(?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
            (
                txn_id,
                *new_record_stamps(now),
                txn_number,
                customer["list_id"],
                header.ar_id,
                txn_date.isoformat(),
                ref_number,
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
                "0.00",
                str(total),
                to_qb_stored(draft.memo),
                int(total == 0),
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
        insert_lines(store, txn_id, lines)
        post_invoice(
            store, lines, tax, header.tax_item_id, header.ar_id, customer["list_id"], total
        )
    return invoice(store, txn_id)


def _next_invoice_number(store: Store) -> str:
    # QuickBooks numbers a new invoice one past the last one entered.
    row = store.db.execute(
        "SELECT ref_number FROM invoices WHERE ref_number IS NOT NULL "
        "ORDER BY txn_number DESC LIMIT 1"
    ).fetchone()
    last = row[0] if row else None
    if last is None:
        return "1"
    digits = len(last) - len(last.rstrip("0123456789"))
    if digits == 0:
        return "1"
    head, number = last[: len(last) - digits], last[len(last) - digits :]
    return f"{head}{int(number) + 1:0{digits}d}"[-11:]


def invoice_from(store: Store, row: sqlite3.Row, with_lines: bool) -> Invoice:
    lines = read_lines(store, row["txn_id"]) if with_lines else ()
    customer = store.ref("entities", row["customer_id"])
    ar_account = store.ref("accounts", row["ar_account_id"])
    assert customer is not None  # foreign keys guarantee both
    assert ar_account is not None
    return Invoice(
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
        applied_amount=Decimal(row["applied_amount"]),
        balance_remaining=Decimal(row["balance_remaining"]),
        memo=row["memo"],
        is_paid=bool(row["is_paid"]),
        is_to_be_printed=bool(row["is_to_be_printed"]),
        is_to_be_emailed=bool(row["is_to_be_emailed"]),
        customer_sales_tax_code=store.ref("sales_tax_codes", row["customer_sales_tax_code_id"]),
        other=row["other"],
        external_guid=row["external_guid"],
        lines=lines,
        class_ref=store.ref("classes", row["class_id"]),
        terms=store.ref("terms", row["terms_id"]),
        is_voided=bool(row["is_voided"]),
    )


def invoice(store: Store, txn_id: str, *, with_lines: bool = True) -> Invoice:
    row = store.db.execute("SELECT * FROM invoices WHERE txn_id = ?", (txn_id,)).fetchone()
    if row is None:
        raise KeyError(txn_id)
    return invoice_from(store, row, with_lines)
