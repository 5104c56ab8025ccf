"""Credit memos: taxed like invoices, posted the other way, their credit set against invoices
(ReceivePaymentAdd/AppliedToTxnAdd/SetCredit, InvoiceAdd/SetCredit); balances exact."""

from __future__ import annotations

from decimal import Decimal

from lxml import etree
from qbsim_messages import Validate, add, invoice, line, message, mod, ref, rq, run, statuses, text

from mlconnector.qbsim.company import Company

LINES_396 = line("Labor", "2", "125.00") + line("WH-50G", amount="146.00")  # 408.05 at 8.25%


def _credit_line(item: str, body: str) -> str:
    return f"<CreditMemoLineAdd>{ref('ItemRef', item)}{body}</CreditMemoLineAdd>"


def _credit_memo(rid: str, customer: str, lines: str, ref_number: str) -> str:
    return add(
        "CreditMemo",
        rid,
        f"{ref('CustomerRef', customer)}<TxnDate>2024-05-02</TxnDate>"
        f"<RefNumber>{ref_number}</RefNumber><Memo>Returned water heater</Memo>{lines}",
    )


def _set_credit(invoice_id: str, credit_id: str, amount: str, payment: str = "0.00") -> str:
    return (
        f"<AppliedToTxnAdd><TxnID>{invoice_id}</TxnID><PaymentAmount>{payment}</PaymentAmount>"
        f"<SetCredit><CreditTxnID>{credit_id}</CreditTxnID>"
        f"<AppliedAmount>{amount}</AppliedAmount></SetCredit></AppliedToTxnAdd>"
    )


def _payment(rid: str, customer: str, body: str) -> str:
    return add("ReceivePayment", rid, ref("CustomerRef", customer) + body)


def _setup(company: Company, assert_valid: Validate) -> tuple[etree._Element, etree._Element]:
    msgs = run(
        company,
        message(
            add("Customer", "c1", "<Name>Smith, John</Name>"),
            add("Customer", "c2", "<Name>Baker</Name>"),
            invoice("i", "Smith, John", LINES_396, "1001"),
            _credit_memo(
                "cm", "Smith, John", _credit_line("WH-50G", "<Amount>146.00</Amount>"), "CM-1"
            ),
        ),
        assert_valid,
    )
    assert statuses(msgs) == [("c1", "0"), ("c2", "0"), ("i", "0"), ("cm", "0")]
    return msgs[2][0], msgs[3][0]


def _balances(company: Company) -> tuple[Decimal, ...]:
    return (
        company.ar_balance(),
        company.customer_balance("Smith, John"),
        company.account_balance("Sales Tax Payable"),
        company.account_balance("Materials Income"),
        company.account_balance("Service Income"),
        company.account_balance("Undeposited Funds"),
    )


def test_credit_memo_is_taxed_and_posts_against_ar(
    company: Company, assert_valid: Validate
) -> None:
    _, memo = _setup(company, assert_valid)
    assert memo.tag == "CreditMemoRet"
    assert (
        text(memo, "RefNumber"),
        text(memo, "Subtotal"),
        text(memo, "ItemSalesTaxRef/FullName"),
        text(memo, "SalesTaxPercentage"),
        text(memo, "SalesTaxTotal"),
        text(memo, "TotalAmount"),
        text(memo, "CreditRemaining"),
        text(memo, "Memo"),
    ) == (
        "CM-1",
        "146.00",
        "ST Sales Tax",
        "8.25",
        "12.05",
        "158.05",
        "158.05",
        "Returned water heater",
    )
    [memo_line] = memo.findall("CreditMemoLineRet")
    assert (text(memo_line, "ItemRef/FullName"), text(memo_line, "Amount")) == ("WH-50G", "146.00")
    # 408.05 owed less the 158.05 credit; the tax and the parts income are taken back.
    assert _balances(company) == (
        Decimal("250.00"),
        Decimal("250.00"),
        Decimal("0.00"),
        Decimal("0.00"),
        Decimal("250.00"),
        Decimal("0.00"),
    )


def test_a_credit_only_message_links_the_credit_and_creates_no_payment(
    company: Company, assert_valid: Validate
) -> None:
    inv, memo = _setup(company, assert_valid)
    invoice_id, credit_id = text(inv, "TxnID"), text(memo, "TxnID")
    msgs = run(
        company,
        message(
            _payment(
                "set",
                "Smith, John",
                "<TotalAmount>0.00</TotalAmount>" + _set_credit(invoice_id, credit_id, "100.00"),
            ),
            rq(
                "InvoiceQuery",
                "iq",
                f"<TxnID>{invoice_id}</TxnID><IncludeLinkedTxns>true</IncludeLinkedTxns>",
            ),
            rq(
                "CreditMemoQuery",
                "cq",
                f"<TxnID>{credit_id}</TxnID><IncludeLinkedTxns>true</IncludeLinkedTxns>",
            ),
            rq("ReceivePaymentQuery", "pq"),
        ),
        assert_valid,
    )
    assert statuses(msgs) == [("set", "0"), ("iq", "0"), ("cq", "0"), ("pq", "1")]
    thin = msgs[0][0]
    # No transaction was created: no TxnID, no EditSequence, nothing applied reported.
    assert [child.tag for child in thin] == [
        "CustomerRef",
        "ARAccountRef",
        "TxnDate",
        "TotalAmount",
    ]
    assert text(thin, "TotalAmount") == "0.00"
    inv_after = msgs[1][0]
    assert (
        text(inv_after, "AppliedAmount"),
        text(inv_after, "BalanceRemaining"),
        text(inv_after, "IsPaid"),
    ) == ("-100.00", "308.05", "false")
    assert [
        (text(lk, "TxnID"), text(lk, "TxnType"), text(lk, "RefNumber"), text(lk, "Amount"))
        for lk in inv_after.findall("LinkedTxn")
    ] == [(credit_id, "CreditMemo", "CM-1", "-100.00")]
    memo_after = msgs[2][0]
    assert (text(memo_after, "TotalAmount"), text(memo_after, "CreditRemaining")) == (
        "158.05",
        "58.05",
    )
    assert [
        (text(lk, "TxnID"), text(lk, "TxnType"), text(lk, "Amount"))
        for lk in memo_after.findall("LinkedTxn")
    ] == [(invoice_id, "Invoice", "100.00")]
    # Setting a credit moves no account and no balance.
    assert _balances(company)[:2] == (Decimal("250.00"), Decimal("250.00"))
    assert company.payments() == []


def test_payment_and_credit_together_pay_the_invoice(
    company: Company, assert_valid: Validate
) -> None:
    inv, memo = _setup(company, assert_valid)
    invoice_id, credit_id = text(inv, "TxnID"), text(memo, "TxnID")
    msgs = run(
        company,
        message(
            _payment(
                "p",
                "Smith, John",
                "<RefNumber>CHK-7</RefNumber><TotalAmount>250.00</TotalAmount>"
                + _set_credit(invoice_id, credit_id, "158.05", payment="250.00"),
            ),
            rq(
                "InvoiceQuery",
                "iq",
                f"<TxnID>{invoice_id}</TxnID><IncludeLinkedTxns>true</IncludeLinkedTxns>",
            ),
        ),
        assert_valid,
    )
    assert statuses(msgs) == [("p", "0"), ("iq", "0")]
    payment = msgs[0][0]
    assert (text(payment, "TotalAmount"), text(payment, "UnusedPayment")) == ("250.00", "0.00")
    [applied] = payment.findall("AppliedToTxnRet")
    assert (text(applied, "TxnID"), text(applied, "Amount"), text(applied, "BalanceRemaining")) == (
        invoice_id,
        "250.00",
        "0.00",
    )
    inv_after = msgs[1][0]
    assert (
        text(inv_after, "AppliedAmount"),
        text(inv_after, "BalanceRemaining"),
        text(inv_after, "IsPaid"),
    ) == ("-408.05", "0.00", "true")
    assert [(text(lk, "TxnType"), text(lk, "Amount")) for lk in inv_after.findall("LinkedTxn")] == [
        ("ReceivePayment", "-250.00"),
        ("CreditMemo", "-158.05"),
    ]
    assert company.credit_memo(credit_id).credit_remaining == Decimal("0.00")
    assert _balances(company) == (
        Decimal("0.00"),
        Decimal("0.00"),
        Decimal("0.00"),
        Decimal("0.00"),
        Decimal("250.00"),
        Decimal("250.00"),
    )


def test_credits_that_cannot_be_set_are_refused(company: Company, assert_valid: Validate) -> None:
    inv, memo = _setup(company, assert_valid)
    invoice_id, credit_id = text(inv, "TxnID"), text(memo, "TxnID")
    baker = run(
        company,
        message(
            invoice("bi", "Baker", line("Service Call", "1"), "1002"),
            _credit_memo(
                "bcm", "Baker", _credit_line("Trip Charge", "<Quantity>1</Quantity>"), "CM-2"
            ),
        ),
        assert_valid,
    )
    baker_invoice, baker_credit = text(baker[0][0], "TxnID"), text(baker[1][0], "TxnID")
    msgs = run(
        company,
        message(
            # More than the credit memo has left (158.05).
            _payment("more", "Smith, John", _set_credit(invoice_id, credit_id, "158.06")),
            # Another customer's credit memo.
            _payment("other", "Smith, John", _set_credit(invoice_id, baker_credit, "10.00")),
            # More than Baker's invoice owes (89.00), from a credit of 35.00 + 60.00 paid.
            _payment(
                "over",
                "Baker",
                "<TotalAmount>60.00</TotalAmount>"
                + _set_credit(baker_invoice, baker_credit, "35.00", payment="60.00"),
            ),
            # A credit memo that does not exist.
            _payment("none", "Smith, John", _set_credit(invoice_id, "FFFF-1714581000", "1.00")),
        ),
        assert_valid,
    )
    assert statuses(msgs) == [
        ("more", "3210"),
        ("other", "3140"),
        ("over", "3210"),
        ("none", "3140"),
    ]
    assert "158.06" in (msgs[0].get("statusMessage") or "")
    assert company.credit_memo(credit_id).credit_remaining == Decimal("158.05")
    assert company.credit_memo(baker_credit).credit_remaining == Decimal("35.00")
    assert company.invoice(baker_invoice).balance_remaining == Decimal("89.00")
    assert company.payments() == []


def test_invoice_add_can_set_a_credit(company: Company, assert_valid: Validate) -> None:
    _, memo = _setup(company, assert_valid)
    credit_id = text(memo, "TxnID")
    msgs = run(
        company,
        message(
            invoice(
                "i2",
                "Smith, John",
                line("Service Call", "1"),
                "1003",
                f"<SetCredit><CreditTxnID>{credit_id}</CreditTxnID>"
                "<AppliedAmount>89.00</AppliedAmount></SetCredit>",
            )
        ),
        assert_valid,
    )
    assert statuses(msgs) == [("i2", "0")]
    assert (text(msgs[0][0], "AppliedAmount"), text(msgs[0][0], "BalanceRemaining")) == (
        "-89.00",
        "0.00",
    )
    assert company.credit_memo(credit_id).credit_remaining == Decimal("69.05")
    # 408.05 + 89.00 - 158.05.
    assert company.ar_balance() == Decimal("339.00")


def test_credit_memo_mod_by_txn_line_id_keeps_the_credit_used(
    company: Company, assert_valid: Validate
) -> None:
    inv, memo = _setup(company, assert_valid)
    invoice_id, credit_id = text(inv, "TxnID"), text(memo, "TxnID")
    run(
        company,
        message(_payment("set", "Smith, John", _set_credit(invoice_id, credit_id, "100.00"))),
        assert_valid,
    )
    current = company.credit_memo(credit_id)
    [old_line] = current.lines
    msgs = run(
        company,
        message(
            mod(
                "CreditMemo",
                "m",
                credit_id,
                current.edit_sequence,
                f"<CreditMemoLineMod><TxnLineID>{old_line.txn_line_id}</TxnLineID>"
                "<Amount>120.00</Amount></CreditMemoLineMod>"
                f"<CreditMemoLineMod><TxnLineID>-1</TxnLineID>{ref('ItemRef', 'Labor')}"
                "<Quantity>1</Quantity></CreditMemoLineMod>",
                id_tag="TxnID",
            ),
            mod(
                "CreditMemo",
                "stale",
                credit_id,
                current.edit_sequence,
                "<Memo>x</Memo>",
                id_tag="TxnID",
            ),
        ),
        assert_valid,
    )
    assert statuses(msgs) == [("m", "0"), ("stale", "3200")]
    changed = msgs[0][0]
    lines = changed.findall("CreditMemoLineRet")
    assert [(text(ln, "ItemRef/FullName"), text(ln, "Amount")) for ln in lines] == [
        ("WH-50G", "120.00"),
        ("Labor", "95.00"),
    ]
    assert text(lines[0], "TxnLineID") == old_line.txn_line_id
    new_line_id = text(lines[1], "TxnLineID")
    assert new_line_id not in ("-1", old_line.txn_line_id)
    # 120.00 x 8.25% = 9.90; 215.00 + 9.90 = 224.90, of which 100.00 is already set.
    assert (
        text(changed, "Subtotal"),
        text(changed, "SalesTaxTotal"),
        text(changed, "TotalAmount"),
        text(changed, "CreditRemaining"),
    ) == ("215.00", "9.90", "224.90", "124.90")
    # 408.05 - 224.90.
    assert company.ar_balance() == Decimal("183.15")
    assert company.account_balance("Sales Tax Payable") == Decimal("2.15")
