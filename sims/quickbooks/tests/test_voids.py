"""TxnVoidRq and TxnDelRq: what a void or a delete does to amounts, links and balances, what
queries return afterwards, and the refusals (3120, 3000, a ReceivePayment void)."""

from __future__ import annotations

from decimal import Decimal

import pytest
from lxml import etree
from qbsim_messages import Validate, add, invoice, line, message, ref, rq, run, statuses, text

from mlconnector.qbsim.company import Company
from mlconnector.qbsim.processor import QbxmlParseError, process

LINES_396 = line("Labor", "2", "125.00") + line("WH-50G", amount="146.00")  # 408.05 at 8.25%
MISSING = "FFFF-1714581000"


def _void(rid: str, txn_type: str, txn_id: str) -> str:
    return rq("TxnVoid", rid, f"<TxnVoidType>{txn_type}</TxnVoidType><TxnID>{txn_id}</TxnID>")


def _delete(rid: str, txn_type: str, txn_id: str) -> str:
    return rq("TxnDel", rid, f"<TxnDelType>{txn_type}</TxnDelType><TxnID>{txn_id}</TxnID>")


def _invoice(company: Company, assert_valid: Validate, memo: str = "") -> etree._Element:
    msgs = run(
        company,
        message(
            add("Customer", "c", "<Name>Smith, John</Name>"),
            invoice("i", "Smith, John", LINES_396, "1001", f"<Memo>{memo}</Memo>" if memo else ""),
        ),
        assert_valid,
    )
    assert statuses(msgs) == [("c", "0"), ("i", "0")]
    return msgs[1][0]


def _pay(txn_id: str, amount: str) -> str:
    return add(
        "ReceivePayment",
        "p",
        ref("CustomerRef", "Smith, John")
        + f"<TotalAmount>{amount}</TotalAmount><AppliedToTxnAdd><TxnID>{txn_id}</TxnID>"
        f"<PaymentAmount>{amount}</PaymentAmount></AppliedToTxnAdd>",
    )


def test_voided_invoice_keeps_its_lines_with_zero_amounts(
    company: Company, assert_valid: Validate
) -> None:
    inv = _invoice(company, assert_valid, memo="ST job 4411")
    txn_id = text(inv, "TxnID")
    msgs = run(
        company,
        message(
            _void("v", "Invoice", txn_id),
            rq(
                "InvoiceQuery",
                "q",
                f"<TxnID>{txn_id}</TxnID><IncludeLineItems>true</IncludeLineItems>",
            ),
            rq("InvoiceQuery", "open", "<PaidStatus>NotPaidOnly</PaidStatus>"),
        ),
        assert_valid,
    )
    assert statuses(msgs) == [("v", "0"), ("q", "0"), ("open", "1")]
    assert [(child.tag, child.text) for child in msgs[0]][:2] == [
        ("TxnVoidType", "Invoice"),
        ("TxnID", txn_id),
    ]
    assert text(msgs[0], "RefNumber") == "1001"
    voided = msgs[1][0]
    assert (
        text(voided, "RefNumber"),
        text(voided, "CustomerRef/FullName"),
        text(voided, "Memo"),
        text(voided, "Subtotal"),
        text(voided, "SalesTaxTotal"),
        text(voided, "AppliedAmount"),
        text(voided, "BalanceRemaining"),
        text(voided, "IsPaid"),
    ) == ("1001", "Smith, John", "VOID: ST job 4411", "0.00", "0.00", "0.00", "0.00", "true")
    assert text(voided, "EditSequence") != text(inv, "EditSequence")
    assert [
        (
            text(ln, "ItemRef/FullName"),
            ln.findtext("Quantity"),
            ln.findtext("Rate"),
            text(ln, "Amount"),
        )
        for ln in voided.findall("InvoiceLineRet")
    ] == [("Labor", "2", "125.00", "0.00"), ("WH-50G", None, None, "0.00")]
    assert (
        company.ar_balance(),
        company.customer_balance("Smith, John"),
        company.account_balance("Sales Tax Payable"),
        company.account_balance("Service Income"),
        company.account_balance("Materials Income"),
    ) == (Decimal("0.00"),) * 5
    [listed] = company.invoices()
    assert listed.is_voided


def test_void_again_missing_or_wrong_type(company: Company, assert_valid: Validate) -> None:
    inv = _invoice(company, assert_valid)
    txn_id = text(inv, "TxnID")
    msgs = run(
        company,
        message(
            _void("first", "Invoice", txn_id),
            _void("again", "Invoice", txn_id),
            _void("missing", "Invoice", MISSING),
            _void("type", "Bill", txn_id),
            _void("unmodelled", "JournalEntry", MISSING),
            _void("bad-id", "Invoice", "not-an-id"),
            _delete("del-missing", "ReceivePayment", MISSING),
        ),
        assert_valid,
    )
    assert statuses(msgs) == [
        ("first", "0"),
        ("again", "0"),
        ("missing", "3120"),
        ("type", "3120"),
        ("unmodelled", "3120"),
        ("bad-id", "3000"),
        ("del-missing", "3120"),
    ]
    assert (
        msgs[2].get("statusMessage")
        == f'Object "{MISSING}" specified in the request cannot be found.'
    )
    # Voiding twice changed nothing more: the memo is prefixed once.
    assert company.invoice(txn_id).memo == "VOID:"


def test_receive_payment_is_not_voidable_in_qbxml_13(company: Company) -> None:
    # ReceivePayment is no TxnVoidType value in qbxml130.xsd: QuickBooks refuses the message.
    with pytest.raises(QbxmlParseError) as refused:
        process(company, message(_void("v", "ReceivePayment", MISSING)))
    assert refused.value.hresult == "0x80040400"


def test_voiding_a_paid_invoice_leaves_the_payment_as_a_credit(
    company: Company, assert_valid: Validate
) -> None:
    inv = _invoice(company, assert_valid)
    txn_id = text(inv, "TxnID")
    run(company, message(_pay(txn_id, "405.13")), assert_valid)
    assert company.ar_balance() == Decimal("2.92")
    msgs = run(
        company,
        message(_void("v", "Invoice", txn_id), rq("ReceivePaymentQuery", "q")),
        assert_valid,
    )
    assert statuses(msgs) == [("v", "0"), ("q", "0")]
    payment = msgs[1][0]
    assert (text(payment, "TotalAmount"), text(payment, "UnusedPayment")) == ("405.13", "405.13")
    assert payment.find("AppliedToTxnRet") is None
    # The money was received: the customer has it as a credit, A/R goes below zero.
    assert company.customer_balance("Smith, John") == Decimal("-405.13")
    assert company.ar_balance() == Decimal("-405.13")
    assert company.account_balance("Undeposited Funds") == Decimal("405.13")
    assert company.invoice(txn_id).balance_remaining == Decimal("0.00")


def test_voiding_a_credit_memo_makes_the_invoice_owe_again(
    company: Company, assert_valid: Validate
) -> None:
    inv = _invoice(company, assert_valid)
    invoice_id = text(inv, "TxnID")
    memo = run(
        company,
        message(
            add(
                "CreditMemo",
                "cm",
                ref("CustomerRef", "Smith, John")
                + "<CreditMemoLineAdd>"
                + ref("ItemRef", "Labor")
                + "<Quantity>1</Quantity></CreditMemoLineAdd>",
            )
        ),
        assert_valid,
    )[0][0]
    credit_id = text(memo, "TxnID")
    run(
        company,
        message(
            add(
                "ReceivePayment",
                "s",
                ref("CustomerRef", "Smith, John")
                + f"<AppliedToTxnAdd><TxnID>{invoice_id}</TxnID><SetCredit><CreditTxnID>{credit_id}"
                "</CreditTxnID><AppliedAmount>95.00</AppliedAmount></SetCredit></AppliedToTxnAdd>",
            )
        ),
        assert_valid,
    )
    assert company.invoice(invoice_id).balance_remaining == Decimal("313.05")
    assert company.ar_balance() == Decimal("313.05")
    msgs = run(company, message(_void("v", "CreditMemo", credit_id)), assert_valid)
    assert statuses(msgs) == [("v", "0")]
    voided = company.credit_memo(credit_id)
    assert (voided.is_voided, voided.total_amount, voided.credit_remaining, voided.memo) == (
        True,
        Decimal("0.00"),
        Decimal("0.00"),
        "VOID:",
    )
    assert [line.amount for line in voided.lines] == [Decimal("0.00")]
    after = company.invoice(invoice_id)
    assert (after.applied_amount, after.balance_remaining) == (Decimal("0.00"), Decimal("408.05"))
    assert company.ar_balance() == Decimal("408.05")
    assert company.account_balance("Service Income") == Decimal("250.00")


def test_voided_bill_leaves_ap_and_the_expense(company: Company, assert_valid: Validate) -> None:
    msgs = run(
        company,
        message(
            add(
                "Bill",
                "b",
                ref("VendorRef", "Ferguson Supply")
                + "<RefNumber>F-88</RefNumber><ExpenseLineAdd>"
                + ref("AccountRef", "Job Materials")
                + "<Amount>612.40</Amount></ExpenseLineAdd>",
            )
        ),
        assert_valid,
    )
    bill_id = text(msgs[0][0], "TxnID")
    assert company.account_balance("Accounts Payable") == Decimal("612.40")
    msgs = run(
        company,
        message(
            _void("v", "Bill", bill_id),
            rq("BillQuery", "q", "<IncludeLineItems>true</IncludeLineItems>"),
        ),
        assert_valid,
    )
    assert statuses(msgs) == [("v", "0"), ("q", "0")]
    bill = msgs[1][0]
    assert (text(bill, "AmountDue"), text(bill, "OpenAmount"), text(bill, "Memo")) == (
        "0.00",
        "0.00",
        "VOID:",
    )
    assert text(bill, "ExpenseLineRet/Amount") == "0.00"
    assert company.account_balance("Accounts Payable") == Decimal("0.00")
    assert company.account_balance("Job Materials") == Decimal("0.00")
    [vendor] = [v for v in company.vendors() if v.name == "Ferguson Supply"]
    assert vendor.balance == Decimal("0.00")


def test_deleting_a_payment_makes_its_invoice_owe_again(
    company: Company, assert_valid: Validate
) -> None:
    inv = _invoice(company, assert_valid)
    invoice_id = text(inv, "TxnID")
    payment_id = text(
        run(company, message(_pay(invoice_id, "200.00")), assert_valid)[0][0], "TxnID"
    )
    msgs = run(
        company,
        message(
            _delete("d", "ReceivePayment", payment_id),
            rq("ReceivePaymentQuery", "by-id", f"<TxnID>{payment_id}</TxnID>"),
            rq("InvoiceQuery", "inv", f"<TxnID>{invoice_id}</TxnID>"),
            _delete("again", "ReceivePayment", payment_id),
        ),
        assert_valid,
    )
    assert statuses(msgs) == [("d", "0"), ("by-id", "500"), ("inv", "0"), ("again", "3120")]
    assert [child.tag for child in msgs[0]] == ["TxnDelType", "TxnID", "TimeDeleted"]
    assert (text(msgs[0], "TxnDelType"), text(msgs[0], "TxnID")) == ("ReceivePayment", payment_id)
    assert (text(msgs[2][0], "AppliedAmount"), text(msgs[2][0], "BalanceRemaining")) == (
        "0.00",
        "408.05",
    )
    assert company.payments() == []
    assert (company.ar_balance(), company.account_balance("Undeposited Funds")) == (
        Decimal("408.05"),
        Decimal("0.00"),
    )
    assert company.customer_balance("Smith, John") == Decimal("408.05")


def test_deleted_invoice_is_gone(company: Company, assert_valid: Validate) -> None:
    inv = _invoice(company, assert_valid)
    txn_id = text(inv, "TxnID")
    msgs = run(
        company,
        message(
            _delete("d", "Invoice", txn_id),
            rq("InvoiceQuery", "by-id", f"<TxnID>{txn_id}</TxnID>"),
            rq("InvoiceQuery", "by-ref", "<RefNumber>1001</RefNumber>"),
        ),
        assert_valid,
    )
    assert statuses(msgs) == [("d", "0"), ("by-id", "500"), ("by-ref", "1")]
    assert text(msgs[0], "RefNumber") == "1001"
    assert company.invoices() == []
    assert (company.ar_balance(), company.customer_balance("Smith, John")) == (
        Decimal("0.00"),
        Decimal("0.00"),
    )
