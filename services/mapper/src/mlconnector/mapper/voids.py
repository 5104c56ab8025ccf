"""A transaction voided or deleted in ServiceTitan (`active: false`) -> its void in QuickBooks.

- invoice: TxnVoidRq (TxnVoidType Invoice), or CreditMemo for a negative invoice: QuickBooks
  keeps the transaction with its amounts at zero, as an accountant voids one by hand ("Voiding
  a transaction sets its amount to zero but keeps a record of it", Intuit's TxnVoid
  reference; hence the expected total 0.00);
- payment: QuickBooks cannot void a received payment, only delete it (TxnDelRq, TxnDelType
  ReceivePayment; FACTS.md). Deleting one whose deposit may be reconciled is the accountant's
  decision: by default it is flagged (`payment_void: flag`, nothing sent), deleted only with
  `payment_void: delete`;
- bill: flagged (ServiceTitan's inventory bills are read-only; the connector never changes a
  posted bill).

The transaction is named by `SELF_ID` (the gateway puts the TxnID from the id map). A record
QuickBooks never had is settled by the gateway as "voided, nothing posted", so neither this
version nor a replay ever posts it. The lookup is the Add's (RefNumber, the record's
ExternalGUID): it finds the transaction when the Add's outcome was lost.
"""

from __future__ import annotations

from lxml import etree

from mlconnector.common.connections import Connection
from mlconnector.common.envelopes import SELF_ID, Command, StEvent
from mlconnector.common.models import Bill, Invoice, Payment
from mlconnector.common.money import cents, qb_amount
from mlconnector.common.qbxml import sub
from mlconnector.mapper.commands import flag_command, make_command
from mlconnector.mapper.lookups import txn_query
from mlconnector.mapper.naming import TXN_REF_MAX, invoice_ref_number, ref_number
from mlconnector.mapper.sales import CREDIT_MEMO, INVOICE, SalesKind

VOIDED_AMOUNTS = {"total": "0.00"}  # what QuickBooks shows of a voided transaction


def txn_void(void_type: str) -> etree._Element:
    request = etree.Element("TxnVoidRq")
    sub(request, "TxnVoidType", void_type)
    sub(request, "TxnID", SELF_ID)
    return request


def txn_del(del_type: str) -> etree._Element:
    request = etree.Element("TxnDelRq")
    sub(request, "TxnDelType", del_type)
    sub(request, "TxnID", SELF_ID)
    return request


def txn_ref_query(kind: SalesKind, invoice: Invoice) -> etree._Element:
    """Exact RefNumber match (InvoiceQueryRq / CreditMemoQueryRq).

    The schema makes RefNumber and the filter group (EntityFilter + RefNumberFilter)
    alternatives, and RefNumberFilter only matches StartsWith/Contains/EndsWith, so the
    customer cannot narrow an exact match: the gateway compares the returned ExternalGUID
    (the record's, `transaction_guid`) to tell our transaction from another with that number.
    """
    request = etree.Element(f"{kind.obj}QueryRq")
    sub(request, "RefNumber", invoice_ref_number(invoice.number)[0])
    return request


def invoice_void(event: StEvent, connection: Connection, invoice: Invoice) -> Command:
    """The TxnVoidRq of an invoice (or credit memo) voided or deleted in ServiceTitan."""
    kind = CREDIT_MEMO if cents(invoice.total) < 0 else INVOICE
    what = "credit memo" if kind is CREDIT_MEMO else "invoice"
    return make_command(
        event,
        connection,
        txn_void(kind.obj),
        lookup=txn_ref_query(kind, invoice),
        summary=f"Void {what} {invoice.number} for {invoice.customer_name} "
        f"({qb_amount(invoice.total * kind.sign)}): voided or deleted in ServiceTitan",
        expected=VOIDED_AMOUNTS,
        action="void",
    )


def payment_void(event: StEvent, connection: Connection, payment: Payment) -> Command:
    """The TxnDelRq of a payment deleted in ServiceTitan, or its flag (`payment_void`)."""
    reference = ref_number(payment.reference, TXN_REF_MAX)[0]
    lookup = txn_query("ReceivePaymentQueryRq", reference, payment.payment_date)
    what = f"payment {payment.st_id} from {payment.customer_name} ({qb_amount(payment.total)})"
    if connection.mapping.payment_void == "delete":
        return make_command(
            event,
            connection,
            txn_del("ReceivePayment"),
            lookup=lookup,
            summary=f"Delete {what}: deleted in ServiceTitan",
            action="void",
        )
    return flag_command(
        event,
        connection,
        "TxnDelRq",
        lookup=lookup,
        summary=f"Deleted in ServiceTitan: {what}; left in QuickBooks for the accountant "
        "(mapping payment_void: flag)",
    )


def bill_void(event: StEvent, connection: Connection, bill: Bill) -> Command:
    """The flag of a bill deleted in ServiceTitan (posted bills are never changed)."""
    reference = ref_number(bill.reference, TXN_REF_MAX)[0]
    return flag_command(
        event,
        connection,
        "TxnVoidRq",
        lookup=txn_query("BillQueryRq", reference, bill.bill_date),
        summary=f"Deleted in ServiceTitan: bill {bill.reference or bill.st_id} from "
        f"{bill.vendor_name} ({qb_amount(bill.total)}); left in QuickBooks for the accountant "
        "(posted bills are never changed)",
    )
