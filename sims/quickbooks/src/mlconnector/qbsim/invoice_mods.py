"""InvoiceMod and CreditMemoMod: change a sales form's header or lines; totals, tax, balances
and the ledger follow.

As in QuickBooks, lines are only touched when the Mod carries InvoiceLineMod (CreditMemoLineMod)
elements, and then the form keeps exactly the lines listed: an existing line by its TxnLineID
(only the fields given change), a new one with TxnLineID "-1"; lines left out are deleted
(Intuit's InvoiceMod reference: "If you want to add a new line, supply an InvoiceLineMod with
its TxnLineID value set to -1"; "Modify delete and void requests and responses": "any line item
not specifically identified in a modify request will be deleted"). The EditSequence must be
the current one (3200 otherwise); the old and the new TxnDate must both be after the closing
date (3171); an invoice that grows past the customer's credit limit is refused (3180).
"""

from __future__ import annotations

import dataclasses
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from mlconnector.qbsim.address import Address
from mlconnector.qbsim.closing import check_open
from mlconnector.qbsim.credits import release_excess
from mlconnector.qbsim.entities import entity_row
from mlconnector.qbsim.invoice_lines import (
    InvoiceLine,
    InvoiceLineDraft,
    insert_lines,
    price_lines,
    read_lines,
)
from mlconnector.qbsim.invoices import Invoice, invoice
from mlconnector.qbsim.ledger import post_invoice
from mlconnector.qbsim.mods import current_row
from mlconnector.qbsim.refs import RefSpec
from mlconnector.qbsim.sales_forms import check_credit_limit
from mlconnector.qbsim.sales_tax import sales_tax
from mlconnector.qbsim.statuses import invalid_reference
from mlconnector.qbsim.store import Store, to_qb_stored
from mlconnector.qbsim.terms import due_date

NEW_LINE = "-1"


@dataclass(frozen=True)
class SalesForm:
    """Where a kind of sales form lives and which way it moves A/R (+1 invoice, -1 credit)."""

    kind: str
    table: str
    lines_table: str
    sign: int


INVOICE_FORM = SalesForm("Invoice", "invoices", "invoice_lines", 1)
CREDIT_MEMO_FORM = SalesForm("CreditMemo", "credit_memos", "credit_memo_lines", -1)


@dataclass(frozen=True)
class InvoiceChanges:
    """Header fields an InvoiceMod sets; None leaves a field as it is."""

    customer: RefSpec | None = None
    class_ref: RefSpec | None = None
    ar_account: RefSpec | None = None
    txn_date: date | None = None
    ref_number: str | None = None
    bill_address: Address | None = None
    ship_address: Address | None = None
    is_pending: bool | None = None
    po_number: str | None = None
    terms: RefSpec | None = None
    due_date: date | None = None
    ship_date: date | None = None
    item_sales_tax: RefSpec | None = None
    memo: str | None = None
    is_to_be_printed: bool | None = None
    is_to_be_emailed: bool | None = None
    customer_sales_tax_code: RefSpec | None = None
    other: str | None = None


@dataclass(frozen=True)
class InvoiceLineChange:
    """One InvoiceLineMod: the line's TxnLineID ("-1": a new line) and the fields it sets."""

    txn_line_id: str
    draft: InvoiceLineDraft


def mod_invoice(
    store: Store,
    txn_id: str,
    edit_sequence: str,
    changes: InvoiceChanges,
    lines: Sequence[InvoiceLineChange] | None = None,
) -> Invoice:
    """InvoiceMod; the invoice as it now is. QbError 3120/3200/3140/3171/3180."""
    mod_sales_form(store, INVOICE_FORM, txn_id, edit_sequence, changes, lines)
    return invoice(store, txn_id)


def mod_sales_form(
    store: Store,
    form: SalesForm,
    txn_id: str,
    edit_sequence: str,
    changes: InvoiceChanges,
    lines: Sequence[InvoiceLineChange] | None = None,
) -> None:
    """Apply an InvoiceMod or CreditMemoMod (`form`) to the stored form."""
    with store.transaction():
        row = current_row(store, form.table, txn_id, edit_sequence, key_column="txn_id")
        old_lines = read_lines(store, txn_id, form.lines_table)
        old_tax = Decimal(row["sales_tax_total"])
        old_date = date.fromisoformat(row["txn_date"])
        check_open(store, old_date, "modify", form.kind)
        customer_id = row["customer_id"]
        if changes.customer is not None:
            found = store.resolve("entities", changes.customer)
            customer = entity_row(store, found) if found else None
            if customer is None or customer["kind"] != "Customer":
                raise invalid_reference("Customer", changes.customer.shown, form.kind)
            customer_id = customer["list_id"]
        updates: dict[str, object] = {"customer_id": customer_id}
        _refs(store, changes, updates, form.kind)
        for attr in ("ref_number", "po_number", "other"):
            value = getattr(changes, attr)
            if value is not None:
                updates[attr] = value
        if changes.memo is not None:
            updates["memo"] = to_qb_stored(changes.memo)
        for attr in ("is_pending", "is_to_be_printed", "is_to_be_emailed"):
            flag = getattr(changes, attr)
            if flag is not None:
                updates[attr] = int(flag)
        for attr in ("bill_address", "ship_address"):
            address: Address | None = getattr(changes, attr)
            if address is not None:
                updates[attr] = address.to_json()
        txn_date = changes.txn_date or old_date
        check_open(store, txn_date, "modify", form.kind)
        updates["txn_date"] = txn_date.isoformat()
        if changes.ship_date is not None:
            updates["ship_date"] = changes.ship_date.isoformat()
        if changes.due_date is not None:
            updates["due_date"] = changes.due_date.isoformat()
        elif changes.terms is not None or changes.txn_date is not None:
            terms_id = updates.get("terms_id", row["terms_id"])
            updates["due_date"] = due_date(
                store, terms_id if isinstance(terms_id, str) else None, txn_date
            ).isoformat()

        # Undo what the form posted, then post it again as it now is.
        post_sales_form(store, old_lines, old_tax, row, -form.sign)
        new_lines = _new_lines(store, old_lines, lines, form.kind)
        code_id = updates.get("customer_sales_tax_code_id", row["customer_sales_tax_code_id"])
        tax_item_id = updates.get("item_sales_tax_id", row["item_sales_tax_id"])
        rate, tax = sales_tax(
            store,
            new_lines,
            code_id if isinstance(code_id, str) else None,
            tax_item_id if isinstance(tax_item_id, str) else None,
        )
        subtotal = sum((line.amount for line in new_lines), Decimal("0.00"))
        total = subtotal + tax
        updates.update(
            subtotal=str(subtotal), sales_tax_percentage=str(rate), sales_tax_total=str(tax)
        )
        if form is INVOICE_FORM:
            old_total = Decimal(row["subtotal"]) + old_tax
            growth = total - old_total if customer_id == row["customer_id"] else total
            if growth > 0:
                # The old total is already off the customer's balance (reversed above), so
                # the whole new total is what the balance takes on.
                check_credit_limit(store, str(customer_id), total, form.kind)
            applied = Decimal(row["applied_amount"])  # negative: paid and credited
            if total + applied < 0:
                # Edited down below what was paid: the excess goes back as credit.
                release_excess(store, txn_id, -(total + applied))
                applied = -total
            balance = total + applied
            updates.update(
                applied_amount=str(applied),
                balance_remaining=str(balance),
                is_paid=int(balance <= 0),
            )
        else:
            used = Decimal(row["total_amount"]) - Decimal(row["credit_remaining"])
            updates.update(total_amount=str(total), credit_remaining=str(total - used))
        store.db.execute(
            f"UPDATE {form.table} SET "
            + ", ".join(f"{column} = ?" for column in updates)
            + " WHERE txn_id = ?",
            (*updates.values(), txn_id),
        )
        store.db.execute(f"DELETE FROM {form.lines_table} WHERE txn_id = ?", (txn_id,))
        insert_lines(store, txn_id, new_lines, form.lines_table)
        updated = store.db.execute(
            f"SELECT * FROM {form.table} WHERE txn_id = ?", (txn_id,)
        ).fetchone()
        post_sales_form(store, new_lines, tax, updated, form.sign)
        store.touch(form.table, "txn_id", txn_id)


def _refs(store: Store, changes: InvoiceChanges, updates: dict[str, object], kind: str) -> None:
    for attr, column, table, ref_kind in (
        ("class_ref", "class_id", "classes", "Class"),
        # The form's A/R account: reversed from the old one, posted to the new one (the
        # InvoiceMod/CreditMemoMod schema allows ARAccountRef; an account that is not there
        # is a 3140 as in the Add).
        ("ar_account", "ar_account_id", "accounts", "Account"),
        ("terms", "terms_id", "terms", "Terms"),
        ("item_sales_tax", "item_sales_tax_id", "items", "Item"),
        (
            "customer_sales_tax_code",
            "customer_sales_tax_code_id",
            "sales_tax_codes",
            "SalesTaxCode",
        ),
    ):
        spec: RefSpec | None = getattr(changes, attr)
        if spec is not None:
            updates[column] = store.require(table, spec, ref_kind, kind)


def post_sales_form(
    store: Store, lines: Sequence[InvoiceLine], tax: Decimal, row: sqlite3.Row, sign: int
) -> None:
    """Post (sign 1) or reverse (sign -1) an invoice's effect on accounts and the customer; a
    credit memo posts with sign -1 (it lowers income, sales tax payable, A/R and the balance).
    `row` is the stored form (its tax item, A/R account and customer)."""
    signed = [dataclasses.replace(line, amount=line.amount * sign) for line in lines]
    total = sum((line.amount for line in lines), Decimal("0.00")) + tax
    post_invoice(
        store,
        signed,
        tax * sign,
        row["item_sales_tax_id"],
        row["ar_account_id"],
        row["customer_id"],
        total * sign,
    )


def _new_lines(
    store: Store,
    old_lines: Sequence[InvoiceLine],
    changes: Sequence[InvoiceLineChange] | None,
    kind: str,
) -> list[InvoiceLine]:
    """The form's lines after the Mod, priced the way InvoiceAdd prices them."""
    existing = {line.txn_line_id: line for line in old_lines}
    if changes is None:
        drafts: list[tuple[str | None, InvoiceLineDraft]] = [
            (line.txn_line_id, _as_draft(line)) for line in old_lines
        ]
    else:
        drafts = []
        for change in changes:
            if change.txn_line_id == NEW_LINE:
                drafts.append((None, change.draft))
                continue
            line = existing.get(change.txn_line_id)
            if line is None:
                raise invalid_reference("TxnLineID", change.txn_line_id, f"{kind} line")
            drafts.append((line.txn_line_id, _merge(line, change.draft)))
    priced = price_lines(store, [draft for _, draft in drafts], store.now())
    # Kept lines keep their TxnLineID; price_lines numbered every line as new.
    return [
        dataclasses.replace(line, txn_line_id=kept) if kept is not None else line
        for (kept, _), line in zip(drafts, priced, strict=True)
    ]


def _as_draft(line: InvoiceLine) -> InvoiceLineDraft:
    return InvoiceLineDraft(
        item=RefSpec(list_id=line.item.list_id) if line.item else None,
        description=line.description,
        quantity=line.quantity,
        rate=line.rate,
        rate_percent=line.rate_percent,
        amount=line.amount,
        service_date=line.service_date,
        sales_tax_code=(
            RefSpec(list_id=line.sales_tax_code.list_id) if line.sales_tax_code else None
        ),
        class_ref=RefSpec(list_id=line.class_ref.list_id) if line.class_ref else None,
    )


def _merge(line: InvoiceLine, mod: InvoiceLineDraft) -> InvoiceLineDraft:
    base = _as_draft(line)
    reprice = mod.quantity is not None or mod.rate is not None or mod.rate_percent is not None
    return InvoiceLineDraft(
        item=mod.item or base.item,
        description=mod.description if mod.description is not None else base.description,
        quantity=mod.quantity if mod.quantity is not None else base.quantity,
        rate=mod.rate if mod.rate is not None else (None if mod.rate_percent else base.rate),
        rate_percent=mod.rate_percent
        if mod.rate_percent is not None
        else (None if mod.rate else base.rate_percent),
        # A new quantity or rate without an Amount: QuickBooks recomputes the amount.
        amount=mod.amount if mod.amount is not None else (None if reprice else base.amount),
        service_date=mod.service_date or base.service_date,
        sales_tax_code=mod.sales_tax_code or base.sales_tax_code,
        class_ref=mod.class_ref or base.class_ref,
    )
