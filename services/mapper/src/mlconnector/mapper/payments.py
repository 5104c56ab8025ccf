"""ServiceTitan payment -> ReceivePaymentAddRq.

One AppliedToTxnAdd per invoice the payment pays, its TxnID a late reference to that invoice.
Applied plus unapplied must equal the payment's total, or the payment is refused: a payment
that does not add up would leave wrong open balances. The unapplied part stays in QuickBooks
as the customer's unused payment (a credit), which the memo and the summary say.
"""

from __future__ import annotations

from decimal import Decimal

from lxml import etree

from mlconnector.common.connections import Connection
from mlconnector.common.envelopes import Command, LateRef, StEvent
from mlconnector.common.mapping import MappingSettings
from mlconnector.common.models import Payment
from mlconnector.common.money import cents, qb_amount
from mlconnector.common.qbxml import sub
from mlconnector.mapper.commands import make_command
from mlconnector.mapper.elements import add_ref, qb_bool, qb_date
from mlconnector.mapper.errors import MappingError
from mlconnector.mapper.fingerprints import amount
from mlconnector.mapper.lookups import txn_query
from mlconnector.mapper.naming import MEMO_MAX, TXN_REF_MAX, ref_number, transaction_guid
from mlconnector.mapper.text import TextNotes
from mlconnector.mapper.voids import payment_void

REQUEST_TYPE = "ReceivePaymentAddRq"
ZERO = Decimal("0.00")


def _what(payment: Payment, event_id: str) -> str:
    return f"payment {payment.st_id} from {payment.customer_name} (event {event_id})"


def applications(payment: Payment, event_id: str) -> list[tuple[int, Decimal]]:
    """(invoice id, amount) per invoice, in ServiceTitan's order, checked against the total.

    Two applications to the same invoice are merged: QuickBooks takes one per transaction.
    Zero applications are left out.
    """
    what = _what(payment, event_id)
    total = cents(payment.total)
    if total <= 0:
        raise MappingError(
            f"{what}: total {qb_amount(total)} is not a payment QuickBooks can receive",
            hint="Refunds and reversals are not posted as payments; record them in QuickBooks "
            "by hand (a refund check or credit memo).",
        )
    unapplied = cents(payment.unapplied)
    if unapplied < 0:
        raise MappingError(
            f"{what}: unapplied amount {qb_amount(unapplied)} is negative",
            hint="Correct the payment's applications in ServiceTitan; the corrected version is "
            "picked up automatically.",
        )
    merged: dict[int, Decimal] = {}
    for application in payment.applications:
        value = cents(application.amount)
        if value < 0:
            raise MappingError(
                f"{what}: the application to invoice {application.invoice_st_id} is "
                f"{qb_amount(value)}; a payment cannot be applied negatively",
                hint="Correct the payment's applications in ServiceTitan; the corrected version "
                "is picked up automatically.",
            )
        merged[application.invoice_st_id] = merged.get(application.invoice_st_id, ZERO) + value
    applied = sum(merged.values(), ZERO)
    if applied + unapplied != total:
        raise MappingError(
            f"{what}: applied {qb_amount(applied)} + unapplied {qb_amount(unapplied)} = "
            f"{qb_amount(applied + unapplied)} but the total is {qb_amount(total)} "
            f"(difference {qb_amount(applied + unapplied - total)})",
            hint="Correct the payment's applications in ServiceTitan; the corrected version is "
            "picked up automatically.",
        )
    return [(invoice_id, value) for invoice_id, value in merged.items() if value != 0]


def _unapplied_note(payment: Payment) -> str:
    unapplied = cents(payment.unapplied)
    if unapplied == 0:
        return ""
    return (
        f"Unapplied {qb_amount(unapplied)} stays as a credit (unused payment) for "
        f"{payment.customer_name} in QuickBooks"
    )


def _memo(payment: Payment, ref_cut: bool, notes: TextNotes) -> str:
    parts = [notes.text("Memo", payment.memo)]
    if ref_cut:
        parts.append(f"ServiceTitan reference {TextNotes().text('RefNumber', payment.reference)}")
    parts.append(TextNotes().text("Memo", _unapplied_note(payment)))
    memo = "; ".join(part for part in parts if part)
    if len(memo) > MEMO_MAX:
        notes.shortened_to("Memo")
    return memo[:MEMO_MAX]


def payment_add(
    payment: Payment,
    mapping: MappingSettings,
    customer: LateRef,
    invoices: list[tuple[LateRef, Decimal]],
    guid: str,
    notes: TextNotes | None = None,
) -> tuple[etree._Element, dict[str, str]]:
    """The ReceivePaymentAddRq and its fingerprint; `guid` is the record's ExternalGUID."""
    notes = notes if notes is not None else TextNotes()
    reference, ref_cut = ref_number(payment.reference, TXN_REF_MAX)
    notes.text("RefNumber", payment.reference)
    if ref_cut:
        notes.shortened_to("RefNumber (the whole reference is in Memo)")
    kind = mapping.payment_types.get(payment.payment_type)
    method = kind.method if kind is not None else None
    deposit = (kind.deposit_account if kind is not None else None) or mapping.deposit_account

    request = etree.Element(REQUEST_TYPE)
    add = sub(request, "ReceivePaymentAdd")
    add_ref(add, "CustomerRef", list_id=customer.placeholder)
    add_ref(add, "ARAccountRef", full_name=mapping.ar_account)
    sub(add, "TxnDate", qb_date(payment.payment_date))
    if reference:
        sub(add, "RefNumber", reference)
    sub(add, "TotalAmount", qb_amount(payment.total))
    if method:
        add_ref(add, "PaymentMethodRef", full_name=method)
    memo = _memo(payment, ref_cut, notes)
    if memo:
        sub(add, "Memo", memo)
    add_ref(add, "DepositToAccountRef", full_name=deposit)
    sub(add, "ExternalGUID", guid)
    if invoices:
        for invoice, value in invoices:
            applied = sub(add, "AppliedToTxnAdd")
            sub(applied, "TxnID", invoice.placeholder)
            sub(applied, "PaymentAmount", qb_amount(value))
    else:
        # Nothing to apply: the whole payment stays a credit; QuickBooks must not pick
        # invoices on its own.
        sub(add, "IsAutoApply", qb_bool(False))

    fingerprint: dict[str, str] = {}
    if payment.reference:
        fingerprint["reference"] = payment.reference
    fingerprint["date"] = qb_date(payment.payment_date)
    fingerprint["customer"] = f"{payment.customer_name} (ServiceTitan {payment.customer_st_id})"
    fingerprint["total"] = amount(payment.total)
    if payment.payment_type:
        fingerprint["payment type"] = payment.payment_type
    if method:
        fingerprint["method"] = method
    fingerprint["deposit to"] = deposit
    for invoice, value in invoices:
        fingerprint[f"invoice {invoice.st_id}"] = amount(value)
    fingerprint["unapplied"] = amount(payment.unapplied)
    return request, fingerprint


def map_payment(event: StEvent, connection: Connection) -> list[Command]:
    """The ReceivePaymentAdd of an active payment; the void (`voids`) of an inactive one."""
    payment = event.record
    if not isinstance(payment, Payment):
        raise MappingError(
            f"event {event.event_id} is not a payment record (got {type(payment).__name__})",
            hint="st-ingest published a record under the wrong entity; report it.",
        )
    if not payment.active:
        return [payment_void(event, connection, payment)]
    applied = applications(payment, event.event_id)
    customer = LateRef.make("customer", payment.customer_st_id)
    invoices = [(LateRef.make("invoice", invoice_id), value) for invoice_id, value in applied]
    guid = transaction_guid(connection.name, "payment", payment.st_id)
    notes = TextNotes()
    request, fingerprint = payment_add(payment, connection.mapping, customer, invoices, guid, notes)
    if invoices:
        applied_text = "applied to " + ", ".join(
            f"invoice {ref.st_id} ({qb_amount(value)})" for ref, value in invoices
        )
    else:
        applied_text = "not applied to any invoice"
    unapplied = _unapplied_note(payment)
    summary = (
        f"Payment {payment.st_id} from {payment.customer_name}: {qb_amount(payment.total)} "
        f"{applied_text}{'; ' + unapplied if unapplied else ''}{notes.suffix()}"
    )
    reference = ref_number(payment.reference, TXN_REF_MAX)[0]
    command = make_command(
        event,
        connection,
        request,
        lookup=txn_query("ReceivePaymentQueryRq", reference, payment.payment_date),
        refs=(customer, *(ref for ref, _ in invoices)),
        summary=summary,
        fingerprint=fingerprint,
        expected={"total": qb_amount(payment.total)},
    )
    return [command]
