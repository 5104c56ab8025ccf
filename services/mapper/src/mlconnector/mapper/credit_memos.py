"""Applying an adjustment's credit memo to the invoice it adjusts.

A ServiceTitan adjustment invoice (`adjustmentToId`) with a negative total posts as a credit
memo (`invoices`, `sales`). In QuickBooks Desktop a credit memo is applied to an invoice by a
ReceivePaymentAdd that receives no money: TotalAmount 0.00 and one AppliedToTxnAdd naming the
invoice, PaymentAmount 0.00, with a SetCredit naming the credit memo (CreditTxnID) and the
amount it pays (AppliedAmount). qbXML 13.0 orders SetCredit as CreditTxnID, TxnLineID,
AppliedAmount, Override (qbxml130.xsd); QuickBooks' SDK documents that a ReceivePaymentAdd
that only sets credits creates no transaction of its own, it links the two (Intuit's
ReceivePayment reference, as LetSync's qbXML notes and consolibyte's examples show it).

Both TxnIDs are late references (`@ref:invoice:<id>`): the adjusted invoice's and the credit
memo's own, so the application waits until both have posted; it also `requires` the credit
memo's command. Its lookup (CreditMemoQueryRq by the credit memo's TxnID, with linked
transactions) shows whether the credit has already been applied (CreditRemaining below the
total, a LinkedTxn to the invoice): the gateway sends the application only when it has not,
whatever version or attempt the application comes from. The whole credit is applied; when the
invoice's open balance is smaller (already paid), QuickBooks refuses and the gateway reports
it, and the credit stays available. `apply_credit_memos: false` leaves every credit available.
"""

from __future__ import annotations

from lxml import etree

from mlconnector.common.connections import Connection
from mlconnector.common.envelopes import Command, LateRef, StEvent, record_guid
from mlconnector.common.mapping import MappingSettings
from mlconnector.common.models import Invoice
from mlconnector.common.money import cents, qb_amount
from mlconnector.common.qbxml import sub
from mlconnector.mapper.commands import make_command
from mlconnector.mapper.elements import add_ref, qb_date
from mlconnector.mapper.jobs import job_plan

APPLICATION_KEY = "credit-application"
# The application is a transaction of its own that the record owns (Command.role): the
# gateway keeps and versions it apart from the credit memo, after which it goes.
APPLICATION_ROLE = "apply"


def application_add(
    invoice: Invoice,
    mapping: MappingSettings,
    customer: LateRef,
    adjusted: LateRef,
    credit_memo: LateRef,
    guid: str,
) -> etree._Element:
    """The ReceivePaymentAddRq that applies the whole credit memo to the adjusted invoice."""
    assert invoice.adjustment_to_id is not None
    credit = qb_amount(-cents(invoice.total))
    request = etree.Element("ReceivePaymentAddRq")
    add = sub(request, "ReceivePaymentAdd")
    job = job_plan(invoice, mapping)
    if job is not None:
        add_ref(add, "CustomerRef", full_name=job.full_name)
    else:
        add_ref(add, "CustomerRef", list_id=customer.placeholder)
    add_ref(add, "ARAccountRef", full_name=mapping.ar_account)
    sub(add, "TxnDate", qb_date(invoice.invoice_date))
    sub(add, "TotalAmount", "0.00")
    sub(
        add,
        "Memo",
        f"Credit memo {invoice.number} applied to ServiceTitan invoice "
        f"{invoice.adjustment_to_id} (adjustment)",
    )
    sub(add, "ExternalGUID", guid)
    applied = sub(add, "AppliedToTxnAdd")
    sub(applied, "TxnID", adjusted.placeholder)
    sub(applied, "PaymentAmount", "0.00")
    setting = sub(applied, "SetCredit")
    sub(setting, "CreditTxnID", credit_memo.placeholder)
    sub(setting, "AppliedAmount", credit)
    return request


def application_lookup(credit_memo: LateRef) -> etree._Element:
    """The credit memo by TxnID with its links: has the credit been applied already?"""
    request = etree.Element("CreditMemoQueryRq")
    sub(request, "TxnID", credit_memo.placeholder)
    sub(request, "IncludeLinkedTxns", "true")
    return request


def application_command(
    event: StEvent, connection: Connection, invoice: Invoice, credit_memo_command: Command
) -> Command:
    """The application of the credit memo (`credit_memo_command`) to `adjustmentToId`."""
    assert invoice.adjustment_to_id is not None
    customer = LateRef.make("customer", invoice.customer_st_id)
    adjusted = LateRef.make("invoice", invoice.adjustment_to_id)
    credit_memo = LateRef.make("invoice", invoice.st_id)
    guid = record_guid(connection.name, "invoice", invoice.st_id, APPLICATION_KEY)
    credit = qb_amount(-cents(invoice.total))
    command = make_command(
        event,
        connection,
        application_add(invoice, connection.mapping, customer, adjusted, credit_memo, guid),
        lookup=application_lookup(credit_memo),
        refs=(customer, adjusted, credit_memo),
        summary=f"Apply credit memo {invoice.number} ({credit}) to invoice "
        f"{invoice.adjustment_to_id} for {invoice.customer_name}",
        key=APPLICATION_KEY,
        requires=(credit_memo_command,),
        fingerprint={"credit memo": invoice.number, "applied": credit},
    )
    return command.model_copy(update={"role": APPLICATION_ROLE})
