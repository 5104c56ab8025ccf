"""ServiceTitan invoice -> InvoiceAddRq (lookup: InvoiceQueryRq by RefNumber).

Before the invoice, when the mapping asks for them, the commands that make sure what it names
exists: one item per GL account (item strategy 'gl_account') and the Customer:Job of the
location (`location_as_job`). They come first in the returned list (send order).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from lxml import etree

from mlconnector.common.connections import Connection
from mlconnector.common.envelopes import Command, LateRef, StEvent
from mlconnector.common.mapping import MappingSettings
from mlconnector.common.models import Invoice, InvoiceLine
from mlconnector.common.money import cents, qb_amount
from mlconnector.common.qbxml import sub
from mlconnector.mapper.commands import command_id_for, make_command
from mlconnector.mapper.elements import add_address, add_ref, qb_date
from mlconnector.mapper.errors import MappingError
from mlconnector.mapper.fingerprints import amount, line_label, line_value
from mlconnector.mapper.items import ItemNeed, item_commands
from mlconnector.mapper.jobs import JobPlan, job_command, job_plan
from mlconnector.mapper.naming import (
    DESC_MAX,
    MEMO_MAX,
    account_full_name,
    class_full_name,
    external_guid,
    gl_item_name,
    invoice_ref_number,
    item_full_name,
    qb_quantity,
    qb_rate,
    terms_name,
)
from mlconnector.mapper.text import TextNotes

REQUEST_TYPE = "InvoiceAddRq"


def check_totals(invoice: Invoice, event_id: str) -> None:
    """Refuse an invoice whose parts do not add up, naming the invoice and the difference."""
    line_sum = sum((cents(line.total) for line in invoice.lines), Decimal("0"))
    subtotal = cents(invoice.subtotal)
    if line_sum != subtotal:
        raise MappingError(
            f"invoice {invoice.number} (ServiceTitan id {invoice.st_id}, event {event_id}): "
            f"lines add up to {qb_amount(line_sum)} but the subtotal is {qb_amount(subtotal)} "
            f"(difference {qb_amount(line_sum - subtotal)})",
            hint="Correct the invoice in ServiceTitan (its items or subtotal); the corrected "
            "version is picked up automatically.",
        )
    expected = subtotal + cents(invoice.sales_tax)
    total = cents(invoice.total)
    if expected != total:
        raise MappingError(
            f"invoice {invoice.number} (ServiceTitan id {invoice.st_id}, event {event_id}): "
            f"subtotal {qb_amount(subtotal)} + sales tax {qb_amount(cents(invoice.sales_tax))} "
            f"= {qb_amount(expected)} but the total is {qb_amount(total)} "
            f"(difference {qb_amount(expected - total)})",
            hint="Correct the invoice's tax or total in ServiceTitan; the corrected version "
            "is picked up automatically.",
        )


@dataclass(frozen=True)
class InvoicePlan:
    """Every QuickBooks name the invoice uses, decided once for the request and fingerprint."""

    items: tuple[str, ...]  # per line
    needs: tuple[ItemNeed, ...]  # items to create on demand, in first-use order
    tax_item: str
    job: JobPlan | None


def _tax_item(invoice: Invoice, mapping: MappingSettings) -> str:
    if invoice.business_unit and invoice.business_unit in mapping.tax_item_map:
        return mapping.tax_item_map[invoice.business_unit]
    return mapping.sales_tax_item


def plan_invoice(invoice: Invoice, mapping: MappingSettings) -> InvoicePlan:
    items: list[str] = []
    needs: dict[str, ItemNeed] = {}
    for line in invoice.lines:
        if mapping.item_strategy == "gl_account":
            gl = line.gl_account
            name = gl_item_name(gl, mapping)
            # Items mapped by hand (item_map) and the default item exist already; the others
            # are created, posting to the QuickBooks account their GL account maps to.
            mapped = gl is None or gl.name in mapping.item_map or name == mapping.default_item
            if gl is not None and not mapped and name not in needs:
                account = account_full_name(gl, mapping, default=name)
                needs[name] = ItemNeed(name=name, account=account, gl_account=gl)
        else:
            name = item_full_name(line.sku_name, mapping)
        items.append(name)
    return InvoicePlan(
        items=tuple(items),
        needs=tuple(needs.values()),
        tax_item=_tax_item(invoice, mapping),
        job=job_plan(invoice, mapping),
    )


def _memo(invoice: Invoice, ref_cut: bool, notes: TextNotes) -> str:
    summary = notes.text("Memo", invoice.summary)
    if ref_cut:
        # The full number must stay findable in QuickBooks when RefNumber holds only its end.
        head = f"ServiceTitan invoice {TextNotes().text('RefNumber', invoice.number)}"
        summary = f"{head}: {summary}" if summary else head
    if len(summary) > MEMO_MAX:
        notes.shortened_to("Memo")
    return summary[:MEMO_MAX]


def _taxable(line: InvoiceLine, invoice: Invoice, mapping: MappingSettings) -> bool:
    # ServiceTitan charged no tax, or posts its own tax amount as a line: QuickBooks must not
    # compute any, or the total would differ from ServiceTitan's.
    return line.taxable and mapping.tax_mode == "quickbooks" and cents(invoice.sales_tax) != 0


def _line(
    parent: etree._Element,
    index: int,
    line: InvoiceLine,
    item: str,
    invoice: Invoice,
    mapping: MappingSettings,
    notes: TextNotes,
) -> str:
    """One InvoiceLineAdd; returns the line's fingerprint value."""
    element = sub(parent, "InvoiceLineAdd")
    add_ref(element, "ItemRef", full_name=item)
    desc = notes.text(f"Desc (line {index})", line.description or line.sku_name, DESC_MAX)
    if desc:
        sub(element, "Desc", desc)
    if line.quantity != 0 or line.total == 0:
        # (A zero quantity with an amount is a manual charge: QuickBooks takes the Amount.)
        sub(element, "Quantity", qb_quantity(line.quantity))
    # QuickBooks recomputes Amount from Quantity x Rate when it has both; send the Rate only
    # when that reproduces ServiceTitan's line total, otherwise QuickBooks derives it.
    if cents(line.quantity * line.price) == cents(line.total):
        sub(element, "Rate", qb_rate(line.price))
    class_name = class_full_name(line.business_unit or invoice.business_unit, mapping)
    if class_name:
        add_ref(element, "ClassRef", full_name=class_name)
    sub(element, "Amount", qb_amount(line.total))
    taxable = _taxable(line, invoice, mapping)
    code = mapping.taxable_code if taxable else mapping.non_taxable_code
    add_ref(element, "SalesTaxCodeRef", full_name=code)
    extra = "(taxable)" if taxable else ""
    if class_name:
        extra = f"{extra} class {class_name}".strip()
    return line_value(item, line.quantity, line.price, line.total, extra=extra)


def invoice_add(
    invoice: Invoice,
    mapping: MappingSettings,
    customer: LateRef,
    command_id: str,
    notes: TextNotes | None = None,
    plan: InvoicePlan | None = None,
) -> tuple[etree._Element, dict[str, str]]:
    """The InvoiceAddRq and its fingerprint."""
    notes = notes if notes is not None else TextNotes()
    plan = plan or plan_invoice(invoice, mapping)
    ref_number, ref_cut = invoice_ref_number(invoice.number)
    notes.text("RefNumber", invoice.number)  # notes a transliteration
    if ref_cut:
        notes.shortened_to("RefNumber (the whole number is in Memo)")
    fingerprint: dict[str, str] = {"number": invoice.number}
    request = etree.Element(REQUEST_TYPE)
    add = sub(request, "InvoiceAdd")
    if plan.job is not None:
        add_ref(add, "CustomerRef", full_name=plan.job.full_name)
    else:
        add_ref(add, "CustomerRef", list_id=customer.placeholder)
    class_name = class_full_name(invoice.business_unit, mapping)
    if class_name:
        add_ref(add, "ClassRef", full_name=class_name)
    add_ref(add, "ARAccountRef", full_name=mapping.ar_account)
    sub(add, "TxnDate", qb_date(invoice.invoice_date))
    sub(add, "RefNumber", ref_number)
    add_address(add, "BillAddress", invoice.bill_to, addressee=invoice.customer_name, notes=notes)
    add_address(add, "ShipAddress", invoice.ship_to, addressee=invoice.customer_name, notes=notes)
    terms = terms_name(invoice.terms, mapping)
    if terms:
        add_ref(add, "TermsRef", full_name=terms)
    if invoice.due_date is not None:
        sub(add, "DueDate", qb_date(invoice.due_date))
    if mapping.tax_mode == "quickbooks":
        add_ref(add, "ItemSalesTaxRef", full_name=plan.tax_item)
    memo = _memo(invoice, ref_cut, notes)
    if memo:
        sub(add, "Memo", memo)
    sub(add, "ExternalGUID", external_guid(command_id))

    fingerprint["date"] = qb_date(invoice.invoice_date)
    if invoice.due_date is not None:
        fingerprint["due date"] = qb_date(invoice.due_date)
    fingerprint["customer"] = f"{invoice.customer_name} (ServiceTitan {invoice.customer_st_id})"
    if plan.job is not None:
        fingerprint["job"] = plan.job.full_name
    if terms:
        fingerprint["terms"] = terms
    if class_name:
        fingerprint["class"] = class_name
    for index, (line, item) in enumerate(zip(invoice.lines, plan.items, strict=True), start=1):
        fingerprint[line_label(index)] = _line(add, index, line, item, invoice, mapping, notes)
    tax = cents(invoice.sales_tax)
    if mapping.tax_mode == "line" and tax != 0:
        element = sub(add, "InvoiceLineAdd")
        add_ref(element, "ItemRef", full_name=plan.tax_item)
        sub(element, "Desc", "Sales tax (as charged in ServiceTitan)")
        sub(element, "Amount", qb_amount(tax))
        add_ref(element, "SalesTaxCodeRef", full_name=mapping.non_taxable_code)
    fingerprint["subtotal"] = amount(invoice.subtotal)
    fingerprint["sales tax"] = amount(invoice.sales_tax)
    fingerprint["total"] = amount(invoice.total)
    return request, fingerprint


def invoice_query(invoice: Invoice) -> etree._Element:
    """Exact RefNumber match.

    The schema makes RefNumber and the filter group (EntityFilter + RefNumberFilter)
    alternatives, and RefNumberFilter only matches StartsWith/Contains/EndsWith, so the
    customer cannot narrow an exact match: the gateway compares the returned CustomerRef and
    ExternalGUID to tell our invoice from another with the same number.
    """
    request = etree.Element("InvoiceQueryRq")
    sub(request, "RefNumber", invoice_ref_number(invoice.number)[0])
    return request


def map_invoice(event: StEvent, connection: Connection) -> list[Command]:
    invoice = event.record
    if not isinstance(invoice, Invoice):
        raise MappingError(
            f"event {event.event_id} is not an invoice record (got {type(invoice).__name__})",
            hint="st-ingest published a record under the wrong entity; report it.",
        )
    if not invoice.lines:
        raise MappingError(
            f"invoice {invoice.number} (ServiceTitan id {invoice.st_id}) has no items",
            hint="QuickBooks cannot hold an invoice without lines; add items in ServiceTitan.",
        )
    check_totals(invoice, event.event_id)
    if cents(invoice.total) < 0:
        raise MappingError(
            f"invoice {invoice.number} (ServiceTitan id {invoice.st_id}, event "
            f"{event.event_id}): the total {qb_amount(invoice.total)} is negative; QuickBooks "
            "records money owed back to a customer as a credit memo, not an invoice",
            hint="Enter the credit memo in QuickBooks by hand; this connector posts invoices "
            "with a total of zero or more.",
        )
    mapping = connection.mapping
    plan = plan_invoice(invoice, mapping)
    customer = LateRef.make("customer", invoice.customer_st_id)
    commands = item_commands(event, connection, plan.needs, f"invoice {invoice.number}")
    if plan.job is not None:
        commands.append(job_command(event, connection, invoice, plan.job, customer))
    command_id = command_id_for(connection, event, REQUEST_TYPE)
    notes = TextNotes()
    request, fingerprint = invoice_add(invoice, mapping, customer, command_id, notes, plan)
    command = make_command(
        event,
        connection,
        request,
        lookup=invoice_query(invoice),
        refs=(customer,),
        summary=f"Invoice {invoice.number} for {invoice.customer_name}: "
        f"{qb_amount(invoice.total)}{notes.suffix()}",
        fingerprint=fingerprint,
    )
    assert command.command_id == command_id  # the GUID inside must name this very command
    commands.append(command)
    return commands
