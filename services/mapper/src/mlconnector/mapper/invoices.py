"""ServiceTitan invoice -> InvoiceAddRq, CreditMemoAddRq or a void (lookup by RefNumber).

- an active invoice with a total of zero or more: an InvoiceAdd (`sales`), with its InvoiceMod
  when the mapping modifies invoices changed after posting (`on_change.invoice`);
- a negative one (an adjustment invoice, `adjustmentToId`, or a refund): a credit memo with the
  same GL posting, applied to the invoice it adjusts (`credit_memos`);
- an inactive one (voided or deleted in ServiceTitan): a TxnVoidRq (`voids`).

Before the transaction, when the mapping asks for them, the commands that make sure what it
names exists: one item per GL account (item strategy 'gl_account', parents first) and the
Customer:Job of the location (`location_as_job`). They come first in the returned list (send
order) and the transaction's command `requires` them.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from mlconnector.common.connections import Connection
from mlconnector.common.envelopes import Command, LateRef, StEvent
from mlconnector.common.mapping import MappingSettings
from mlconnector.common.models import Invoice
from mlconnector.common.money import cents, qb_amount
from mlconnector.mapper.commands import make_command
from mlconnector.mapper.credit_memos import application_command
from mlconnector.mapper.elements import render
from mlconnector.mapper.errors import MappingError
from mlconnector.mapper.items import ItemNeed, item_commands
from mlconnector.mapper.jobs import JobPlan, job_command, job_plan
from mlconnector.mapper.naming import (
    MEMO_MAX,
    SEPARATOR,
    account_full_name,
    class_full_name,
    gl_item_levels,
    gl_item_name,
    invoice_ref_number,
    item_full_name,
    terms_name,
    transaction_guid,
)
from mlconnector.mapper.sales import (
    CREDIT_MEMO,
    INVOICE,
    SalesDocument,
    SalesHeader,
    SalesKind,
    document_date,
    expected_amounts,
    fingerprint_of,
    plan_lines,
    render_add,
    render_mod,
)
from mlconnector.mapper.taxes import tax_item
from mlconnector.mapper.text import TextNotes
from mlconnector.mapper.voids import invoice_void, txn_ref_query


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
    class_names: tuple[str | None, ...]  # per line
    needs: tuple[ItemNeed, ...]  # items to create on demand, parents first, first-use order
    tax_item: str
    job: JobPlan | None


def _gl_item_needs(invoice: Invoice, mapping: MappingSettings) -> dict[str, ItemNeed]:
    needs: dict[str, ItemNeed] = {}
    for line in invoice.lines:
        gl = line.gl_account
        if gl is None:
            continue
        name = gl_item_name(gl, mapping)
        # Items mapped by hand (item_map) and the default item exist already; the others
        # are created (parents first), posting to the account their GL account maps to.
        if gl.name in mapping.item_map or name == mapping.default_item or name in needs:
            continue
        account = account_full_name(gl, mapping, default=name, what=f"invoice {invoice.number}")
        levels = gl_item_levels(gl, mapping)
        for depth in range(1, len(levels) + 1):
            full = SEPARATOR.join(levels[:depth])
            if full not in needs:
                needs[full] = ItemNeed(full_name=full, account=account, gl_account=gl)
    return needs


def plan_invoice(invoice: Invoice, mapping: MappingSettings, event_id: str = "") -> InvoicePlan:
    """Names of items, classes, tax item and job; raises MappingError for a name QuickBooks
    cannot hold (naming the level) or a tax zone without a tax item."""
    if mapping.item_strategy == "gl_account":
        items = tuple(gl_item_name(line.gl_account, mapping) for line in invoice.lines)
        needs = _gl_item_needs(invoice, mapping)
    else:
        items = tuple(item_full_name(line.sku_name, mapping) for line in invoice.lines)
        needs = {}
    return InvoicePlan(
        items=items,
        class_names=tuple(
            class_full_name(line.business_unit or invoice.business_unit, mapping)
            for line in invoice.lines
        ),
        needs=tuple(needs.values()),
        tax_item=tax_item(invoice, mapping, event_id),
        job=job_plan(invoice, mapping),
    )


def _memo(invoice: Invoice, kind: SalesKind, ref_cut: bool, notes: TextNotes) -> str:
    summary = notes.text("Memo", invoice.summary)
    heads = []
    if ref_cut:
        # The full number must stay findable in QuickBooks when RefNumber holds only its end.
        heads.append(f"ServiceTitan invoice {TextNotes().text('RefNumber', invoice.number)}")
    if kind is CREDIT_MEMO and invoice.adjustment_to_id is not None:
        heads.append(f"Adjusts ServiceTitan invoice {invoice.adjustment_to_id}")
    head = "; ".join(heads)
    summary = f"{head}: {summary}" if head and summary else head or summary
    if len(summary) > MEMO_MAX:
        notes.shortened_to("Memo")
    return summary[:MEMO_MAX]


def sales_document(
    invoice: Invoice,
    kind: SalesKind,
    mapping: MappingSettings,
    plan: InvoicePlan,
    notes: TextNotes,
) -> SalesDocument:
    """The invoice (or credit memo) as QuickBooks will hold it, with its fingerprint."""
    ref_number, ref_cut = invoice_ref_number(invoice.number)
    notes.text("RefNumber", invoice.number)  # notes a transliteration
    if ref_cut:
        notes.shortened_to("RefNumber (the whole number is in Memo)")
    header = SalesHeader(
        customer=LateRef.make("customer", invoice.customer_st_id),
        job_full_name=plan.job.full_name if plan.job is not None else None,
        class_name=class_full_name(invoice.business_unit, mapping),
        ar_account=mapping.ar_account,
        date=document_date(invoice),
        ref_number=ref_number,
        customer_name=invoice.customer_name,
        bill_to=invoice.bill_to,
        ship_to=invoice.ship_to,
        terms=terms_name(invoice.terms, mapping),
        due_date=invoice.due_date.isoformat() if invoice.due_date is not None else None,
        tax_item=plan.tax_item if mapping.tax_mode == "quickbooks" else None,
        memo=_memo(invoice, kind, ref_cut, notes),
    )
    lines = plan_lines(invoice, kind, plan.items, plan.class_names, plan.tax_item, mapping, notes)
    document = SalesDocument(kind, header, lines)
    return SalesDocument(kind, header, lines, fingerprint_of(document, invoice))


def _modify(kind: SalesKind, mapping: MappingSettings) -> bool:
    setting = mapping.on_change.credit_memo if kind is CREDIT_MEMO else mapping.on_change.invoice
    return setting == "modify"


def map_invoice(event: StEvent, connection: Connection) -> list[Command]:
    """The commands of one invoice event, in send order (prerequisites first)."""
    invoice = event.record
    if not isinstance(invoice, Invoice):
        raise MappingError(
            f"event {event.event_id} is not an invoice record (got {type(invoice).__name__})",
            hint="st-ingest published a record under the wrong entity; report it.",
        )
    if not invoice.active:
        return [invoice_void(event, connection, invoice)]
    if not invoice.lines:
        raise MappingError(
            f"invoice {invoice.number} (ServiceTitan id {invoice.st_id}) has no items",
            hint="QuickBooks cannot hold an invoice without lines; add items in ServiceTitan.",
        )
    check_totals(invoice, event.event_id)
    mapping = connection.mapping
    kind = CREDIT_MEMO if cents(invoice.total) < 0 else INVOICE
    plan = plan_invoice(invoice, mapping, event.event_id)
    customer = LateRef.make("customer", invoice.customer_st_id)
    commands = item_commands(event, connection, plan.needs, f"{kind.label} {invoice.number}")
    if plan.job is not None:
        commands.append(job_command(event, connection, invoice, plan.job, customer))
    notes = TextNotes()
    document = sales_document(invoice, kind, mapping, plan, notes)
    guid = transaction_guid(connection.name, "invoice", invoice.st_id)
    what = "Credit memo" if kind is CREDIT_MEMO else "Invoice"
    add = render_add(document, guid, notes)
    command = make_command(
        event,
        connection,
        add,
        lookup=txn_ref_query(kind, invoice),
        refs=(customer,),
        summary=f"{what} {invoice.number} for {invoice.customer_name}: "
        f"{qb_amount(invoice.total * kind.sign)}{notes.suffix()}",
        mod=render_mod(document, render(add)) if _modify(kind, mapping) else None,
        fingerprint=document.fingerprint,
        requires=commands,
        expected=expected_amounts(document, invoice),
        line_keys=document.line_keys,
    )
    commands.append(command)
    adjusts = invoice.adjustment_to_id not in (None, invoice.st_id)
    if kind is CREDIT_MEMO and adjusts and mapping.apply_credit_memos:
        commands.append(application_command(event, connection, invoice, command))
    return commands
