"""ReceivePaymentAdd and ReceivePaymentQuery, and ReceivePaymentRet (order per qbxml130.xsd)."""

from __future__ import annotations

from decimal import Decimal

from lxml import etree

from mlconnector.qbsim.company import Company
from mlconnector.qbsim.errors import QbxmlParseError
from mlconnector.qbsim.outcomes import Outcome, query_outcome
from mlconnector.qbsim.payments import Application, CreditsSet, Payment, PaymentDraft
from mlconnector.qbsim.request_fields import (
    boolean_of,
    date_of,
    decimal_of,
    ref_spec_of,
    set_credits_of,
    text_of,
)
from mlconnector.qbsim.ret_fields import add_core, add_ref, amount_text, sub
from mlconnector.qbsim.txn_filters import txn_filter


def payment_ret(payment: Payment) -> etree._Element:
    ret = etree.Element("ReceivePaymentRet")
    add_core(
        ret,
        payment.txn_id,
        payment.time_created,
        payment.time_modified,
        payment.edit_sequence,
        id_tag="TxnID",
    )
    sub(ret, "TxnNumber", str(payment.txn_number))
    add_ref(ret, "CustomerRef", payment.customer)
    add_ref(ret, "ARAccountRef", payment.ar_account)
    sub(ret, "TxnDate", payment.txn_date.isoformat())
    sub(ret, "RefNumber", payment.ref_number)
    sub(ret, "TotalAmount", amount_text(payment.total_amount))
    add_ref(ret, "PaymentMethodRef", payment.payment_method)
    sub(ret, "Memo", payment.memo)
    add_ref(ret, "DepositToAccountRef", payment.deposit_to_account)
    sub(ret, "UnusedPayment", amount_text(payment.unused_payment))
    sub(ret, "UnusedCredits", "0.00")
    sub(ret, "ExternalGUID", payment.external_guid)
    for applied in payment.applied_to:
        element = etree.SubElement(ret, "AppliedToTxnRet")
        sub(element, "TxnID", applied.txn_id)
        sub(element, "TxnType", "Invoice")
        sub(element, "TxnDate", applied.txn_date.isoformat())
        sub(element, "RefNumber", applied.ref_number)
        sub(element, "BalanceRemaining", amount_text(applied.balance_remaining))
        sub(element, "Amount", amount_text(applied.amount))
    return ret


def credits_set_ret(done: CreditsSet) -> etree._Element:
    """The "thin" answer to a credit-only ReceivePaymentAdd: no transaction was created, so
    there is no TxnID, EditSequence or AppliedToTxnRet (see payments.py)."""
    ret = etree.Element("ReceivePaymentRet")
    add_ref(ret, "CustomerRef", done.customer)
    add_ref(ret, "ARAccountRef", done.ar_account)
    sub(ret, "TxnDate", done.txn_date.isoformat())
    sub(ret, "TotalAmount", "0.00")
    return ret


def handle_receive_payment_add(company: Company, request: etree._Element) -> Outcome:
    add = request.find("ReceivePaymentAdd")
    assert add is not None
    for unsupported in ("CreditCardTxnInfo", "ExchangeRate"):
        if add.find(unsupported) is not None:
            raise QbxmlParseError(f"the simulator does not implement <{unsupported}>")
    applications = []
    for applied in add.findall("AppliedToTxnAdd"):
        for unsupported in ("TxnLineDetail", "DiscountAmount"):
            if applied.find(unsupported) is not None:
                raise QbxmlParseError(f"the simulator does not implement <{unsupported}>")
        amount = decimal_of(applied, "PaymentAmount")
        applications.append(
            Application(
                text_of(applied, "TxnID") or "",
                amount if amount is not None else Decimal(0),
                set_credits_of(applied),
            )
        )
    customer = ref_spec_of(add, "CustomerRef")
    assert customer is not None
    draft = PaymentDraft(
        customer=customer,
        total_amount=decimal_of(add, "TotalAmount"),
        applications=applications,
        auto_apply=boolean_of(add, "IsAutoApply") is True,
        ar_account=ref_spec_of(add, "ARAccountRef"),
        txn_date=date_of(add, "TxnDate"),
        ref_number=text_of(add, "RefNumber"),
        payment_method=ref_spec_of(add, "PaymentMethodRef"),
        memo=text_of(add, "Memo"),
        deposit_to_account=ref_spec_of(add, "DepositToAccountRef"),
        external_guid=text_of(add, "ExternalGUID"),
    )
    done = company.receive_payment(draft)
    if isinstance(done, CreditsSet):
        return Outcome([credits_set_ret(done)])
    return Outcome([payment_ret(done)])


def handle_receive_payment_query(company: Company, request: etree._Element) -> Outcome:
    payments, missing = company.query_payments(txn_filter(company, request))
    return query_outcome([payment_ret(p) for p in payments], missing)
