"""Invoice lines: priced from their items the way QuickBooks prices them, stored, read back."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from mlconnector.qbsim.amounts import round_cents
from mlconnector.qbsim.items import Item, item
from mlconnector.qbsim.refs import Ref, RefSpec
from mlconnector.qbsim.statuses import invalid_reference
from mlconnector.qbsim.store import Store, date_or_none, decimal_or_none, to_qb_stored


@dataclass(frozen=True)
class InvoiceLineDraft:
    item: RefSpec | None = None
    description: str | None = None
    quantity: Decimal | None = None
    rate: Decimal | None = None
    rate_percent: Decimal | None = None
    amount: Decimal | None = None
    service_date: date | None = None
    sales_tax_code: RefSpec | None = None
    class_ref: RefSpec | None = None


@dataclass(frozen=True)
class InvoiceLine:
    txn_line_id: str
    item: Ref | None
    description: str | None
    quantity: Decimal | None
    rate: Decimal | None
    rate_percent: Decimal | None
    amount: Decimal
    service_date: date | None
    sales_tax_code: Ref | None
    class_ref: Ref | None = None


def price_lines(
    store: Store, drafts: Sequence[InvoiceLineDraft], now: datetime
) -> list[InvoiceLine]:
    lines: list[InvoiceLine] = []
    for draft in drafts:
        line_item: Item | None = None
        if draft.item is not None:
            item_id = store.resolve("items", draft.item)
            if item_id is None:
                raise invalid_reference("Item", draft.item.shown, "Invoice line")
            line_item = item(store, item_id)
        rate = draft.rate
        rate_percent = draft.rate_percent
        quantity = draft.quantity
        if rate is None and rate_percent is None and line_item is not None:
            if line_item.price_percent is not None:
                rate_percent = line_item.price_percent
            elif line_item.price is not None and draft.amount is None:
                rate = line_item.price
        if draft.amount is not None:
            amount = round_cents(draft.amount)
            if rate is None and rate_percent is None and quantity:
                rate = (amount / quantity).quantize(Decimal("0.00001"))
        elif rate_percent is not None:
            # A percentage item applies to the line just above it (QuickBooks' rule for
            # percent-priced other-charge and discount items).
            base = lines[-1].amount if lines else Decimal("0")
            amount = round_cents(base * rate_percent / 100)
        elif rate is not None:
            amount = round_cents((quantity if quantity is not None else Decimal(1)) * rate)
        else:
            amount = Decimal("0.00")
        if draft.sales_tax_code is not None:
            code_id = store.require(
                "sales_tax_codes", draft.sales_tax_code, "SalesTaxCode", "Invoice line"
            )
            code = store.ref("sales_tax_codes", code_id)
        else:
            code = line_item.sales_tax_code if line_item is not None else None
        class_ref = None
        if draft.class_ref is not None:
            class_id = store.require("classes", draft.class_ref, "Class", "Invoice line")
            class_ref = store.ref("classes", class_id)
        description = draft.description
        if description is None and line_item is not None:
            description = line_item.description
        lines.append(
            InvoiceLine(
                txn_line_id=store.new_txn_id(now),
                item=Ref(line_item.core.list_id, line_item.full_name) if line_item else None,
                description=description,
                quantity=quantity,
                rate=rate,
                rate_percent=rate_percent,
                amount=amount,
                service_date=draft.service_date,
                sales_tax_code=code,
                class_ref=class_ref,
            )
        )
    return lines


def insert_lines(
    store: Store, txn_id: str, lines: Sequence[InvoiceLine], table: str = "invoice_lines"
) -> None:
    """Store a sales form's lines (`table`: invoice_lines or credit_memo_lines)."""
    for position, line in enumerate(lines):
        store.db.execute(
            f"INSERT INTO {table} VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
            (
                line.txn_line_id,
                txn_id,
                position,
                line.item.list_id if line.item else None,
                to_qb_stored(line.description),
                None if line.quantity is None else str(line.quantity),
                None if line.rate is None else str(line.rate),
                None if line.rate_percent is None else str(line.rate_percent),
                str(line.amount),
                line.service_date.isoformat() if line.service_date else None,
                line.sales_tax_code.list_id if line.sales_tax_code else None,
                line.class_ref.list_id if line.class_ref else None,
            ),
        )


def read_lines(store: Store, txn_id: str, table: str = "invoice_lines") -> tuple[InvoiceLine, ...]:
    """A sales form's lines in order (`table`: invoice_lines or credit_memo_lines)."""
    return tuple(
        InvoiceLine(
            txn_line_id=r["txn_line_id"],
            item=store.ref("items", r["item_id"]),
            description=r["description"],
            quantity=decimal_or_none(r["quantity"]),
            rate=decimal_or_none(r["rate"]),
            rate_percent=decimal_or_none(r["rate_percent"]),
            amount=Decimal(r["amount"]),
            service_date=date_or_none(r["service_date"]),
            sales_tax_code=store.ref("sales_tax_codes", r["sales_tax_code_id"]),
            class_ref=store.ref("classes", r["class_id"]),
        )
        for r in store.db.execute(
            f"SELECT * FROM {table} WHERE txn_id = ? ORDER BY position", (txn_id,)
        )
    )
