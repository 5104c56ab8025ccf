"""Bills (A/P): what the contractor owes a vendor, by expense account or by item.

AmountDue is the sum of the lines; OpenAmount what is still unpaid (no bill payments are
simulated, so it equals AmountDue). The total goes to Accounts Payable and the vendor's
balance; each line's amount to its expense account (expense lines) or its item's account.
DueDate defaults from the terms (the bill's, else the vendor's), else the bill's date.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Literal

from mlconnector.qbsim.accounts import account_by_special
from mlconnector.qbsim.address import Address
from mlconnector.qbsim.amounts import round_cents
from mlconnector.qbsim.closing import check_open
from mlconnector.qbsim.entities import entity_row
from mlconnector.qbsim.errors import QbError
from mlconnector.qbsim.ids import new_record_stamps
from mlconnector.qbsim.items import item
from mlconnector.qbsim.ledger import adjust_balance
from mlconnector.qbsim.refs import Ref, RefSpec
from mlconnector.qbsim.statuses import invalid_reference
from mlconnector.qbsim.store import Store, decimal_or_none, to_qb_stored
from mlconnector.qbsim.terms import due_date
from mlconnector.qbsim.txn_query import TxnFilter, txn_rows

BillLineKind = Literal["Expense", "Item"]


@dataclass(frozen=True)
class BillLineDraft:
    """An ExpenseLineAdd (account) or an ItemLineAdd (item, quantity, cost)."""

    kind: BillLineKind
    account: RefSpec | None = None
    item: RefSpec | None = None
    description: str | None = None
    quantity: Decimal | None = None
    cost: Decimal | None = None
    amount: Decimal | None = None
    memo: str | None = None
    customer: RefSpec | None = None
    class_ref: RefSpec | None = None


@dataclass(frozen=True)
class BillDraft:
    vendor: RefSpec
    lines: Sequence[BillLineDraft] = ()
    vendor_address: Address | None = None
    ap_account: RefSpec | None = None
    txn_date: date | None = None
    due_date: date | None = None
    ref_number: str | None = None
    terms: RefSpec | None = None
    memo: str | None = None
    external_guid: str | None = None


@dataclass(frozen=True)
class BillLine:
    txn_line_id: str
    kind: BillLineKind
    account: Ref | None
    item: Ref | None
    description: str | None
    quantity: Decimal | None
    cost: Decimal | None
    amount: Decimal
    memo: str | None
    customer: Ref | None
    class_ref: Ref | None


@dataclass(frozen=True)
class Bill:
    txn_id: str
    time_created: datetime
    time_modified: datetime
    edit_sequence: str
    txn_number: int
    vendor: Ref
    vendor_address: Address | None
    ap_account: Ref
    txn_date: date
    due_date: date
    amount_due: Decimal
    ref_number: str | None
    terms: Ref | None
    memo: str | None
    is_paid: bool
    external_guid: str | None
    open_amount: Decimal
    lines: tuple[BillLine, ...] = field(default=())
    is_voided: bool = False


def add_bill(store: Store, draft: BillDraft) -> Bill:
    now = store.now()
    with store.transaction():
        vendor_id = store.resolve("entities", draft.vendor)
        vendor = entity_row(store, vendor_id) if vendor_id else None
        if vendor is None or vendor["kind"] != "Vendor":
            raise invalid_reference("Vendor", draft.vendor.shown, "Bill")
        if draft.ap_account is not None:
            ap_id = store.require("accounts", draft.ap_account, "Account", "Bill")
        else:
            ap = account_by_special(store, "AccountsPayable")
            if ap is None:
                raise QbError(3140, "There is no Accounts Payable account in QuickBooks.")
            ap_id = ap.core.list_id
        terms_id = (
            store.require("terms", draft.terms, "Terms", "Bill")
            if draft.terms is not None
            else vendor["terms_id"]
        )
        check_open(store, draft.txn_date or now.date(), "add", "Bill")
        txn_id = store.new_txn_id(now)
        lines = [_line(store, line, store.new_txn_id(now)) for line in draft.lines]
        total = sum((line[0].amount for line in lines), Decimal("0.00"))
        txn_date = draft.txn_date or now.date()
        address = draft.vendor_address or Address.from_json(vendor["bill_address"])
        store.db.execute(
            "INSERT INTO bills VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
            (
                txn_id,
                *new_record_stamps(now),
                store.next_counter("next_txn_number", 1),
                vendor["list_id"],
                address.to_json() if address else None,
                ap_id,
                txn_date.isoformat(),
                (draft.due_date or due_date(store, terms_id, txn_date)).isoformat(),
                str(total),
                draft.ref_number,
                terms_id,
                to_qb_stored(draft.memo),
                int(total == 0),
                draft.external_guid,
                str(total),
                0,
            ),
        )
        for position, (line, account_id) in enumerate(lines):
            _insert_line(store, txn_id, position, line)
            if account_id is not None:
                adjust_balance(store, "accounts", account_id, line.amount)
        adjust_balance(store, "accounts", ap_id, total)
        adjust_balance(store, "entities", vendor["list_id"], total)
    return bill(store, txn_id)


def _line(store: Store, draft: BillLineDraft, txn_line_id: str) -> tuple[BillLine, str | None]:
    """The line as stored, and the account its amount is posted to."""
    where = "Bill line"
    account_id = (
        store.require("accounts", draft.account, "Account", where) if draft.account else None
    )
    item_ref: Ref | None = None
    if draft.item is not None:
        item_id = store.require("items", draft.item, "Item", where)
        found = item(store, item_id)
        item_ref = Ref(item_id, found.full_name)
        account_id = found.account.list_id if found.account else None
    customer_id = (
        store.require("entities", draft.customer, "Customer", where) if draft.customer else None
    )
    class_id = (
        store.require("classes", draft.class_ref, "Class", where) if draft.class_ref else None
    )
    if draft.amount is not None:
        amount = round_cents(draft.amount)
    elif draft.cost is not None:
        quantity = draft.quantity if draft.quantity is not None else Decimal(1)
        amount = round_cents(quantity * draft.cost)
    else:
        amount = Decimal("0.00")
    return (
        BillLine(
            txn_line_id=txn_line_id,
            kind=draft.kind,
            account=store.ref("accounts", account_id) if draft.kind == "Expense" else None,
            item=item_ref,
            description=draft.description,
            quantity=draft.quantity,
            cost=draft.cost,
            amount=amount,
            memo=draft.memo,
            customer=store.ref("entities", customer_id),
            class_ref=store.ref("classes", class_id),
        ),
        account_id,
    )


def _insert_line(store: Store, txn_id: str, position: int, line: BillLine) -> None:
    store.db.execute(
        "INSERT INTO bill_lines VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
        (
            line.txn_line_id,
            txn_id,
            position,
            line.kind,
            line.account.list_id if line.account else None,
            line.item.list_id if line.item else None,
            to_qb_stored(line.description),
            None if line.quantity is None else str(line.quantity),
            None if line.cost is None else str(line.cost),
            str(line.amount),
            to_qb_stored(line.memo),
            line.customer.list_id if line.customer else None,
            line.class_ref.list_id if line.class_ref else None,
        ),
    )


def _lines(store: Store, txn_id: str) -> tuple[BillLine, ...]:
    return tuple(
        BillLine(
            txn_line_id=r["txn_line_id"],
            kind=r["kind"],
            account=store.ref("accounts", r["account_id"]),
            item=store.ref("items", r["item_id"]),
            description=r["description"],
            quantity=decimal_or_none(r["quantity"]),
            cost=decimal_or_none(r["cost"]),
            amount=Decimal(r["amount"]),
            memo=r["memo"],
            customer=store.ref("entities", r["customer_id"]),
            class_ref=store.ref("classes", r["class_id"]),
        )
        for r in store.db.execute(
            "SELECT * FROM bill_lines WHERE txn_id = ? ORDER BY position", (txn_id,)
        )
    )


def bill_from(store: Store, row: sqlite3.Row, with_lines: bool) -> Bill:
    vendor = store.ref("entities", row["vendor_id"])
    ap_account = store.ref("accounts", row["ap_account_id"])
    assert vendor is not None
    assert ap_account is not None
    return Bill(
        txn_id=row["txn_id"],
        time_created=datetime.fromisoformat(row["time_created"]),
        time_modified=datetime.fromisoformat(row["time_modified"]),
        edit_sequence=row["edit_sequence"],
        txn_number=row["txn_number"],
        vendor=vendor,
        vendor_address=Address.from_json(row["vendor_address"]),
        ap_account=ap_account,
        txn_date=date.fromisoformat(row["txn_date"]),
        due_date=date.fromisoformat(row["due_date"]),
        amount_due=Decimal(row["amount_due"]),
        ref_number=row["ref_number"],
        terms=store.ref("terms", row["terms_id"]),
        memo=row["memo"],
        is_paid=bool(row["is_paid"]),
        external_guid=row["external_guid"],
        open_amount=Decimal(row["open_amount"]),
        lines=_lines(store, row["txn_id"]) if with_lines else (),
        is_voided=bool(row["is_voided"]),
    )


def bill(store: Store, txn_id: str, *, with_lines: bool = True) -> Bill:
    row = store.db.execute("SELECT * FROM bills WHERE txn_id = ?", (txn_id,)).fetchone()
    if row is None:
        raise KeyError(txn_id)
    return bill_from(store, row, with_lines)


def query_bills(
    store: Store, flt: TxnFilter, *, with_lines: bool = False
) -> tuple[list[Bill], list[str]]:
    rows, missing = txn_rows(store, "bills", "vendor_id", flt)
    return [bill_from(store, r, with_lines) for r in rows], missing
