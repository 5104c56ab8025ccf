"""ServiceTitan invoice -> InvoiceAddRq (lookup: InvoiceQueryRq by RefNumber)."""

from __future__ import annotations

from decimal import Decimal

from lxml import etree

from mlconnector.common.connections import Connection
from mlconnector.common.envelopes import Command, LateRef, StEvent
from mlconnector.common.mapping import MappingSettings
from mlconnector.common.models import Invoice, InvoiceLine
from mlconnector.common.money import cents, qb_amount
from mlconnector.common.qbxml import sub, to_qb_text
from mlconnector.mapper.commands import make_command
from mlconnector.mapper.elements import add_address, add_ref, qb_date
from mlconnector.mapper.errors import MappingError
from mlconnector.mapper.naming import (
    DESC_MAX,
    MEMO_MAX,
    external_guid,
    invoice_ref_number,
    item_full_name,
    qb_quantity,
    qb_rate,
    single_line,
)

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


def _memo(invoice: Invoice, ref_cut: bool) -> str:
    summary = to_qb_text(invoice.summary).strip()
    if ref_cut:
        # The full number must stay findable in QuickBooks when RefNumber holds only its end.
        head = f"ServiceTitan invoice {to_qb_text(invoice.number)}"
        summary = f"{head}: {summary}" if summary else head
    return summary[:MEMO_MAX]


def _line(
    parent: etree._Element, line: InvoiceLine, invoice: Invoice, mapping: MappingSettings
) -> None:
    element = sub(parent, "InvoiceLineAdd")
    add_ref(element, "ItemRef", full_name=item_full_name(line.sku_name, mapping))
    desc = to_qb_text(line.description or line.sku_name).strip()[:DESC_MAX]
    if desc:
        sub(element, "Desc", desc)
    sub(element, "Quantity", qb_quantity(line.quantity))
    # QuickBooks recomputes Amount from Quantity x Rate when it has both; send the Rate only
    # when that reproduces ServiceTitan's line total, otherwise QuickBooks derives it.
    if cents(line.quantity * line.price) == cents(line.total):
        sub(element, "Rate", qb_rate(line.price))
    business_unit = line.business_unit or invoice.business_unit
    if mapping.class_from_business_unit and business_unit:
        add_ref(element, "ClassRef", full_name=single_line(business_unit, 159))
    sub(element, "Amount", qb_amount(line.total))
    add_ref(
        element,
        "SalesTaxCodeRef",
        full_name=mapping.taxable_code if line.taxable else mapping.non_taxable_code,
    )


def invoice_add(
    invoice: Invoice, mapping: MappingSettings, customer: LateRef, command_id: str
) -> etree._Element:
    ref_number, ref_cut = invoice_ref_number(invoice.number)
    request = etree.Element(REQUEST_TYPE)
    add = sub(request, "InvoiceAdd")
    add_ref(add, "CustomerRef", list_id=customer.placeholder)
    if mapping.class_from_business_unit and invoice.business_unit:
        add_ref(add, "ClassRef", full_name=single_line(invoice.business_unit, 159))
    add_ref(add, "ARAccountRef", full_name=mapping.ar_account)
    sub(add, "TxnDate", qb_date(invoice.invoice_date))
    sub(add, "RefNumber", ref_number)
    add_address(add, "BillAddress", invoice.bill_to, addressee=invoice.customer_name)
    add_address(add, "ShipAddress", invoice.ship_to, addressee=invoice.customer_name)
    if invoice.due_date is not None:
        sub(add, "DueDate", qb_date(invoice.due_date))
    add_ref(add, "ItemSalesTaxRef", full_name=mapping.sales_tax_item)
    memo = _memo(invoice, ref_cut)
    if memo:
        sub(add, "Memo", memo)
    sub(add, "ExternalGUID", external_guid(command_id))
    for line in invoice.lines:
        _line(add, line, invoice, mapping)
    return request


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
    customer = LateRef.make("customer", invoice.customer_st_id)
    command_id = Command.make_id(connection.name, event.event_id, REQUEST_TYPE)
    request = invoice_add(invoice, connection.mapping, customer, command_id)
    command = make_command(
        event,
        connection,
        request,
        lookup=invoice_query(invoice),
        refs=(customer,),
        summary=f"Invoice {invoice.number} for {invoice.customer_name}: {qb_amount(invoice.total)}",
    )
    assert command.command_id == command_id  # the GUID inside must name this very command
    return [command]
