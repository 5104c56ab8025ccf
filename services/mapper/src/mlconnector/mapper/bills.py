"""ServiceTitan inventory bill -> BillAddRq (expense lines; never modified after posting).

Each ServiceTitan item becomes an ExpenseLineAdd to its mapped GL account: quantity x cost,
rounded half-up to the cent per line. The bill's tax, shipping and other amounts are their own
expense lines to their mapped accounts. Whatever cents the per-line rounding leaves against
ServiceTitan's bill amount post as a line of their own to the rounding account: never
dropped. A difference larger than rounding can explain refuses the bill.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from lxml import etree

from mlconnector.common.connections import Connection
from mlconnector.common.envelopes import Command, LateRef, StEvent
from mlconnector.common.mapping import MappingSettings
from mlconnector.common.models import Bill, BillLine
from mlconnector.common.money import cents, qb_amount
from mlconnector.common.qbxml import sub
from mlconnector.mapper.commands import make_command
from mlconnector.mapper.elements import add_ref, qb_date
from mlconnector.mapper.errors import MappingError
from mlconnector.mapper.fingerprints import amount, line_label, line_value
from mlconnector.mapper.lookups import txn_query
from mlconnector.mapper.naming import (
    MEMO_MAX,
    TXN_REF_MAX,
    account_full_name,
    class_full_name,
    qb_quantity,
    qb_rate,
    ref_number,
    terms_name,
    transaction_guid,
)
from mlconnector.mapper.text import TextNotes
from mlconnector.mapper.voids import bill_void

REQUEST_TYPE = "BillAddRq"
ZERO = Decimal("0.00")
HALF_CENT = Decimal("0.005")


@dataclass(frozen=True)
class ExpenseLine:
    account: str
    amount: Decimal
    memo: str
    fingerprint_label: str
    fingerprint_value: str


def line_amount(line: BillLine) -> Decimal:
    """Quantity x cost, half-up to the cent, as the line shows in QuickBooks."""
    return cents(line.quantity * line.cost)


def _what(bill: Bill, event_id: str) -> str:
    return (
        f"bill {bill.reference or bill.st_id} from {bill.vendor_name} (ServiceTitan id "
        f"{bill.st_id}, event {event_id})"
    )


def expense_lines(
    bill: Bill, mapping: MappingSettings, event_id: str, notes: TextNotes
) -> list[ExpenseLine]:
    """Every expense line of the bill; their amounts add up to the bill's amount exactly."""
    what = _what(bill, event_id)
    total = cents(bill.total)
    if total < 0:
        raise MappingError(
            f"{what}: the amount {qb_amount(total)} is negative: that is a vendor credit",
            hint="Record the vendor credit in QuickBooks by hand; bills post only positive "
            "amounts.",
        )
    lines: list[ExpenseLine] = []
    for index, line in enumerate(bill.lines, start=1):
        account = account_full_name(
            line.gl_account, mapping, mapping.default_expense_account, what=f"{what}, line {index}"
        )
        value = line_amount(line)
        what_line = line.sku_name if not line.description else f"{line.sku_name} {line.description}"
        memo = notes.text(
            f"Memo (line {index})",
            f"{what_line}: {qb_quantity(line.quantity)} x {qb_rate(line.cost)}",
            MEMO_MAX,
        )
        lines.append(
            ExpenseLine(
                account=account,
                amount=value,
                memo=memo,
                fingerprint_label=line_label(index),
                fingerprint_value=line_value(
                    line.sku_name, line.quantity, line.cost, value, extra=f"-> {account}"
                ),
            )
        )
    for label, value, account in (
        ("tax", bill.tax, mapping.bill_tax_account),
        ("shipping", bill.shipping, mapping.bill_shipping_account),
        ("other", bill.other, mapping.bill_other_account),
    ):
        if cents(value) != 0:
            memo = f"{label.capitalize()} (ServiceTitan bill {label} amount)"
            fingerprint = f"{amount(value)} -> {account}"
            lines.append(ExpenseLine(account, cents(value), memo, label, fingerprint))
    items = sum((line.amount for line in lines[: len(bill.lines)]), ZERO)
    posted = sum((line.amount for line in lines), ZERO)
    difference = total - posted
    if abs(difference) > HALF_CENT * (len(bill.lines) + 1):
        raise MappingError(
            f"{what}: items {qb_amount(items)} + tax {qb_amount(bill.tax)} + shipping "
            f"{qb_amount(bill.shipping)} + other "
            f"{qb_amount(bill.other)} = {qb_amount(posted)} but the bill amount is "
            f"{qb_amount(total)} (difference {qb_amount(difference)}, more than rounding "
            "explains)",
            hint="Correct the bill in ServiceTitan (its items, tax, shipping or amount); the "
            "corrected version is picked up automatically.",
        )
    if difference != 0:
        memo = "Rounding: per-line cents against ServiceTitan's bill amount"
        fingerprint = f"{amount(difference)} -> {mapping.rounding_account}"
        lines.append(
            ExpenseLine(mapping.rounding_account, difference, memo, "rounding", fingerprint)
        )
    if not lines:
        raise MappingError(
            f"{what} has no items and no amounts",
            hint="QuickBooks cannot hold a bill without lines; check the bill in ServiceTitan.",
        )
    return lines


def _memo(bill: Bill, ref_cut: bool, notes: TextNotes) -> str:
    summary = notes.text("Memo", bill.summary)
    if ref_cut:
        head = f"ServiceTitan bill {TextNotes().text('RefNumber', bill.reference)}"
        summary = f"{head}: {summary}" if summary else head
    if len(summary) > MEMO_MAX:
        notes.shortened_to("Memo")
    return summary[:MEMO_MAX]


def bill_add(
    bill: Bill,
    mapping: MappingSettings,
    vendor: LateRef,
    guid: str,
    event_id: str = "",
    notes: TextNotes | None = None,
) -> tuple[etree._Element, dict[str, str]]:
    """The BillAddRq and its fingerprint; `guid` is the record's ExternalGUID."""
    notes = notes if notes is not None else TextNotes()
    lines = expense_lines(bill, mapping, event_id, notes)
    reference, ref_cut = ref_number(bill.reference, TXN_REF_MAX)
    notes.text("RefNumber", bill.reference)
    if ref_cut:
        notes.shortened_to("RefNumber (the whole reference is in Memo)")
    terms = terms_name(bill.terms, mapping)
    class_name = class_full_name(bill.business_unit, mapping)

    request = etree.Element(REQUEST_TYPE)
    add = sub(request, "BillAdd")
    add_ref(add, "VendorRef", list_id=vendor.placeholder)
    add_ref(add, "APAccountRef", full_name=mapping.ap_account)
    sub(add, "TxnDate", qb_date(bill.bill_date))
    if bill.due_date is not None:
        sub(add, "DueDate", qb_date(bill.due_date))
    if reference:
        sub(add, "RefNumber", reference)
    if terms:
        add_ref(add, "TermsRef", full_name=terms)
    memo = _memo(bill, ref_cut, notes)
    if memo:
        sub(add, "Memo", memo)
    sub(add, "ExternalGUID", guid)
    for line in lines:
        element = sub(add, "ExpenseLineAdd")
        add_ref(element, "AccountRef", full_name=line.account)
        sub(element, "Amount", qb_amount(line.amount))
        if line.memo:
            sub(element, "Memo", line.memo)
        if class_name:
            add_ref(element, "ClassRef", full_name=class_name)

    fingerprint: dict[str, str] = {}
    if bill.reference:
        fingerprint["reference"] = bill.reference
    fingerprint["date"] = qb_date(bill.bill_date)
    if bill.due_date is not None:
        fingerprint["due date"] = qb_date(bill.due_date)
    fingerprint["vendor"] = f"{bill.vendor_name} (ServiceTitan {bill.vendor_st_id})"
    if terms:
        fingerprint["terms"] = terms
    if class_name:
        fingerprint["class"] = class_name
    for line in lines:
        fingerprint[line.fingerprint_label] = line.fingerprint_value
    fingerprint["total"] = amount(bill.total)
    return request, fingerprint


def map_bill(event: StEvent, connection: Connection) -> list[Command]:
    """The BillAdd of an active bill; a flag (`voids`) for one deleted in ServiceTitan."""
    bill = event.record
    if not isinstance(bill, Bill):
        raise MappingError(
            f"event {event.event_id} is not a bill record (got {type(bill).__name__})",
            hint="st-ingest published a record under the wrong entity; report it.",
        )
    if not bill.active:
        return [bill_void(event, connection, bill)]
    vendor = LateRef.make("vendor", bill.vendor_st_id)
    guid = transaction_guid(connection.name, "bill", bill.st_id)
    notes = TextNotes()
    request, fingerprint = bill_add(bill, connection.mapping, vendor, guid, event.event_id, notes)
    reference = ref_number(bill.reference, TXN_REF_MAX)[0]
    command = make_command(
        event,
        connection,
        request,
        lookup=txn_query("BillQueryRq", reference, bill.bill_date),
        refs=(vendor,),
        summary=f"Bill {bill.reference or bill.st_id} from {bill.vendor_name}: "
        f"{qb_amount(bill.total)}{notes.suffix()}",
        fingerprint=fingerprint,
        expected={"total": qb_amount(bill.total)},
    )
    return [command]
