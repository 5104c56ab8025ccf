"""InvoiceMod: change an invoice's header or lines; totals, tax, balances and the ledger follow.

As in QuickBooks, lines are only touched when the Mod carries InvoiceLineMod elements, and then
the invoice keeps exactly the lines listed: an existing line by its TxnLineID (only the fields
given change), a new one with TxnLineID "-1"; lines left out are deleted.
"""

from __future__ import annotations

import dataclasses
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from mlconnector.qbsim.address import Address
from mlconnector.qbsim.entities import entity_row
from mlconnector.qbsim.invoice_lines import InvoiceLine, InvoiceLineDraft, insert_lines, price_lines
from mlconnector.qbsim.invoices import Invoice, invoice
from mlconnector.qbsim.ledger import post_invoice
from mlconnector.qbsim.mods import current_row
from mlconnector.qbsim.refs import RefSpec
from mlconnector.qbsim.sales_tax import sales_tax
from mlconnector.qbsim.statuses import invalid_reference
from mlconnector.qbsim.store import Store, to_qb_stored
from mlconnector.qbsim.terms import due_date

NEW_LINE = "-1"


@dataclass(frozen=True)
class InvoiceChanges:
    """Header fields an InvoiceMod sets; None leaves a field as it is."""

    customer: RefSpec | None = None
    class_ref: RefSpec | None = None
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
    with store.transaction():
        row = current_row(store, "invoices", txn_id, edit_sequence, key_column="txn_id")
        old = invoice(store, txn_id)
        customer_id = row["customer_id"]
        if changes.customer is not None:
            found = store.resolve("entities", changes.customer)
            customer = entity_row(store, found) if found else None
            if customer is None or customer["kind"] != "Customer":
                raise invalid_reference("Customer", changes.customer.shown, "Invoice")
            customer_id = customer["list_id"]
        updates: dict[str, object] = {"customer_id": customer_id}
        _refs(store, changes, updates)
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
        txn_date = changes.txn_date or old.txn_date
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

        # Undo what the invoice posted, then post it again as it now is.
        _post(store, old.lines, old.sales_tax_total, row, -1)
        new_lines = _new_lines(store, old, lines)
        code_id = updates.get("customer_sales_tax_code_id", row["customer_sales_tax_code_id"])
        tax_item_id = updates.get("item_sales_tax_id", row["item_sales_tax_id"])
        rate, tax = sales_tax(
            store,
            new_lines,
            code_id if isinstance(code_id, str) else None,
            tax_item_id if isinstance(tax_item_id, str) else None,
        )
        subtotal = sum((line.amount for line in new_lines), Decimal("0.00"))
        balance = subtotal + tax + Decimal(row["applied_amount"])  # applied is negative
        updates.update(
            subtotal=str(subtotal),
            sales_tax_percentage=str(rate),
            sales_tax_total=str(tax),
            balance_remaining=str(balance),
            is_paid=int(balance <= 0),
        )
        store.db.execute(
            "UPDATE invoices SET "
            + ", ".join(f"{column} = ?" for column in updates)
            + " WHERE txn_id = ?",
            (*updates.values(), txn_id),
        )
        store.db.execute("DELETE FROM invoice_lines WHERE txn_id = ?", (txn_id,))
        insert_lines(store, txn_id, new_lines)
        updated = store.db.execute("SELECT * FROM invoices WHERE txn_id = ?", (txn_id,)).fetchone()
        _post(store, new_lines, tax, updated, 1)
        store.touch("invoices", "txn_id", txn_id)
    return invoice(store, txn_id)


def _refs(store: Store, changes: InvoiceChanges, updates: dict[str, object]) -> None:
    for attr, column, table, kind in (
        ("class_ref", "class_id", "classes", "Class"),
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
            updates[column] = store.require(table, spec, kind, "Invoice")


def _post(
    store: Store, lines: Sequence[InvoiceLine], tax: Decimal, row: sqlite3.Row, sign: int
) -> None:
    """Post (sign 1) or reverse (sign -1) an invoice's effect on accounts and the customer."""
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
    store: Store, old: Invoice, changes: Sequence[InvoiceLineChange] | None
) -> list[InvoiceLine]:
    """The invoice's lines after the Mod, priced the way InvoiceAdd prices them."""
    existing = {line.txn_line_id: line for line in old.lines}
    if changes is None:
        drafts: list[tuple[str | None, InvoiceLineDraft]] = [
            (line.txn_line_id, _as_draft(line)) for line in old.lines
        ]
    else:
        drafts = []
        for change in changes:
            if change.txn_line_id == NEW_LINE:
                drafts.append((None, change.draft))
                continue
            line = existing.get(change.txn_line_id)
            if line is None:
                raise invalid_reference("TxnLineID", change.txn_line_id, "Invoice line")
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
