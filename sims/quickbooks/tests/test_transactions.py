"""Transactions: InvoiceMod, ReceivePayment (applied to invoices, balances exact to the cent)
and Bill. Every response is checked against the qbXML 13.0 schema."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from lxml import etree
from qbsim_messages import (
    Validate,
    add,
    invoice,
    line,
    message,
    mod,
    ref,
    rq,
    run,
    statuses,
    text,
)

from mlconnector.qbsim.company import (
    Application,
    Company,
    CustomerDraft,
    InvoiceDraft,
    InvoiceLineDraft,
    PaymentDraft,
    QbError,
    RefSpec,
    seed_contractor,
)
from mlconnector.qbsim.processor import QbxmlParseError, process

# 190.00 (labor, not taxed) + 201.43 (materials) + 16.62 tax (8.25% of 201.43 = 16.617...)
LINES_408_05 = line("Labor", "2", "95.00") + line("ST Materials", amount="201.43")


def _invoice(
    company: Company,
    assert_valid: Validate,
    ref_number: str,
    lines: str,
    customer: str = "Smith, John",
) -> etree._Element:
    msgs = run(company, message(invoice("i", customer, lines, ref_number)), assert_valid)
    assert statuses(msgs) == [("i", "0")], msgs[0].get("statusMessage")
    return msgs[0][0]


def _customer(company: Company, assert_valid: Validate, name: str = "Smith, John") -> None:
    run(company, message(add("Customer", "c", f"<Name>{name}</Name>")), assert_valid)


def _payment(rid: str, customer: str, body: str) -> str:
    return add("ReceivePayment", rid, ref("CustomerRef", customer) + body)


def _applied(txn_id: str, amount: str) -> str:
    return (
        f"<AppliedToTxnAdd><TxnID>{txn_id}</TxnID>"
        f"<PaymentAmount>{amount}</PaymentAmount></AppliedToTxnAdd>"
    )


def test_payment_reduces_the_invoice_balance_exactly(
    company: Company, assert_valid: Validate
) -> None:
    _customer(company, assert_valid)
    inv = _invoice(company, assert_valid, "1001", LINES_408_05)
    assert text(inv, "BalanceRemaining") == "408.05"
    txn_id = text(inv, "TxnID")
    msgs = run(
        company,
        message(
            _payment(
                "p",
                "Smith, John",
                "<TxnDate>2024-05-03</TxnDate><RefNumber>CHK-20931</RefNumber>"
                "<TotalAmount>200.00</TotalAmount>"
                + ref("PaymentMethodRef", "Check")
                + "<Memo>Deposit</Memo><ExternalGUID>{085EA583-9A4F-041C-7FD4-49235B04A1D0}"
                "</ExternalGUID>" + _applied(txn_id, "200.00"),
            ),
            rq("InvoiceQuery", "q", f"<TxnID>{txn_id}</TxnID>"),
        ),
        assert_valid,
    )
    assert statuses(msgs) == [("p", "0"), ("q", "0")]
    payment = msgs[0][0]
    assert [(c.tag, c.text) for c in payment if len(c) == 0][5:] == [
        ("TxnDate", "2024-05-03"),
        ("RefNumber", "CHK-20931"),
        ("TotalAmount", "200.00"),
        ("Memo", "Deposit"),
        ("UnusedPayment", "0.00"),
        ("UnusedCredits", "0.00"),
        ("ExternalGUID", "{085EA583-9A4F-041C-7FD4-49235B04A1D0}"),
    ]
    assert text(payment, "DepositToAccountRef/FullName") == "Undeposited Funds"
    assert text(payment, "PaymentMethodRef/FullName") == "Check"
    applied = payment.find("AppliedToTxnRet")
    assert applied is not None
    assert [(c.tag, c.text) for c in applied] == [
        ("TxnID", txn_id),
        ("TxnType", "Invoice"),
        ("TxnDate", "2024-05-01"),
        ("RefNumber", "1001"),
        ("BalanceRemaining", "208.05"),
        ("Amount", "200.00"),
    ]
    after = msgs[1][0]
    assert (
        text(after, "AppliedAmount"),
        text(after, "BalanceRemaining"),
        text(after, "IsPaid"),
    ) == (
        "-200.00",
        "208.05",
        "false",
    )
    # Paying a transaction changes it: the invoice has a new EditSequence.
    assert text(after, "EditSequence") != text(inv, "EditSequence")
    smith = company.customer_by_name("Smith, John")
    assert smith is not None
    assert smith.balance == Decimal("208.05")
    balances = {a.full_name: a.balance for a in company.accounts()}
    assert balances["Accounts Receivable"] == Decimal("208.05")
    assert balances["Undeposited Funds"] == Decimal("200.00")
    [recorded] = company.payments()
    assert (recorded.total_amount, recorded.unused_payment) == (Decimal("200.00"), Decimal("0.00"))


def test_payment_across_two_invoices_and_unapplied_remainder(
    company: Company, assert_valid: Validate
) -> None:
    _customer(company, assert_valid)
    first = text(_invoice(company, assert_valid, "1001", LINES_408_05), "TxnID")
    second = text(_invoice(company, assert_valid, "1002", line("Service Call", "1")), "TxnID")
    msgs = run(
        company,
        message(
            _payment(
                "p",
                "Smith, John",
                "<TotalAmount>550.00</TotalAmount>"
                + ref("PaymentMethodRef", "Visa")
                + _applied(first, "408.05")
                + _applied(second, "89.00"),
            ),
            rq("InvoiceQuery", "q", "<PaidStatus>PaidOnly</PaidStatus>"),
        ),
        assert_valid,
    )
    assert statuses(msgs) == [("p", "0"), ("q", "0")]
    payment = msgs[0][0]
    assert text(payment, "TotalAmount") == "550.00"
    assert text(payment, "UnusedPayment") == "52.95"
    assert [
        (text(a, "RefNumber"), text(a, "Amount"), text(a, "BalanceRemaining"))
        for a in payment.findall("AppliedToTxnRet")
    ] == [("1001", "408.05", "0.00"), ("1002", "89.00", "0.00")]
    assert [text(r, "RefNumber") for r in msgs[1]] == ["1001", "1002"]
    assert all(text(r, "IsPaid") == "true" for r in msgs[1])
    smith = company.customer_by_name("Smith, John")
    assert smith is not None
    # The unused 52.95 is a credit: the customer's balance goes below zero.
    assert smith.balance == Decimal("-52.95")


def test_overpaying_an_invoice_is_refused_3210(company: Company, assert_valid: Validate) -> None:
    _customer(company, assert_valid)
    _customer(company, assert_valid, "Baker")
    txn_id = text(_invoice(company, assert_valid, "1001", LINES_408_05), "TxnID")
    msgs = run(
        company,
        message(
            _payment(
                "a", "Smith, John", "<TotalAmount>500.00</TotalAmount>" + _applied(txn_id, "408.06")
            ),
            _payment(
                "b", "Smith, John", "<TotalAmount>100.00</TotalAmount>" + _applied(txn_id, "150.00")
            ),
            _payment("c", "Baker", "<TotalAmount>10.00</TotalAmount>" + _applied(txn_id, "10.00")),
            _payment(
                "d",
                "Smith, John",
                "<TotalAmount>10.00</TotalAmount>" + _applied("FFFF-1714581000", "10.00"),
            ),
        ),
        assert_valid,
    )
    assert statuses(msgs) == [("a", "3210"), ("b", "3210"), ("c", "3140"), ("d", "3140")]
    assert msgs[0].get("statusSeverity") == "Error"
    assert "408.06" in (msgs[0].get("statusMessage") or "")
    # Nothing was posted.
    assert company.payments() == []
    assert company.invoice(txn_id).balance_remaining == Decimal("408.05")


def test_auto_apply_pays_oldest_invoices_first(company: Company, assert_valid: Validate) -> None:
    _customer(company, assert_valid)
    run(
        company,
        message(add("Customer", "j", "<Name>Attic</Name>" + ref("ParentRef", "Smith, John"))),
        assert_valid,
    )
    first = _invoice(company, assert_valid, "1001", line("Service Call", "1"))  # 89.00
    second = _invoice(
        company, assert_valid, "1002", line("Labor", "1"), "Smith, John:Attic"
    )  # 95.00
    msgs = run(
        company,
        message(
            _payment(
                "p",
                "Smith, John",
                "<TotalAmount>100.00</TotalAmount><IsAutoApply>true</IsAutoApply>",
            )
        ),
        assert_valid,
    )
    payment = msgs[0][0]
    assert [
        (text(a, "TxnID"), text(a, "Amount"), text(a, "BalanceRemaining"))
        for a in payment.findall("AppliedToTxnRet")
    ] == [(text(first, "TxnID"), "89.00", "0.00"), (text(second, "TxnID"), "11.00", "84.00")]
    assert text(payment, "UnusedPayment") == "0.00"


def test_receive_payment_query_filters(company: Company, assert_valid: Validate) -> None:
    _customer(company, assert_valid)
    _customer(company, assert_valid, "Baker")
    run(
        company,
        message(
            _payment(
                "1",
                "Smith, John",
                "<RefNumber>A-1</RefNumber><TotalAmount>5.00</TotalAmount>"
                "<IsAutoApply>true</IsAutoApply>",
            ),
            _payment(
                "2",
                "Baker",
                "<RefNumber>B-1</RefNumber><TotalAmount>7.00</TotalAmount>"
                "<IsAutoApply>true</IsAutoApply>",
            ),
        ),
        assert_valid,
    )
    msgs = run(
        company,
        message(
            rq("ReceivePaymentQuery", "a", "<RefNumber>b-1</RefNumber>"),
            rq(
                "ReceivePaymentQuery",
                "b",
                "<EntityFilter><FullName>Smith, John</FullName></EntityFilter>",
            ),
            rq("ReceivePaymentQuery", "c", "<TxnID>FFFF-1714581000</TxnID>"),
            rq("ReceivePaymentQuery", "d", "<RefNumber>Z</RefNumber>"),
        ),
        assert_valid,
    )
    assert statuses(msgs) == [("a", "0"), ("b", "0"), ("c", "500"), ("d", "1")]
    assert [text(r, "TotalAmount") for r in msgs[0]] == ["7.00"]
    assert [text(r, "UnusedPayment") for r in msgs[1]] == ["5.00"]


def test_invoice_mod_header_and_lines(company: Company, assert_valid: Validate) -> None:
    _customer(company, assert_valid)
    inv = _invoice(company, assert_valid, "1001", LINES_408_05)
    txn_id, seq = text(inv, "TxnID"), text(inv, "EditSequence")
    labor, materials = (text(r, "TxnLineID") for r in inv.findall("InvoiceLineRet"))
    msgs = run(
        company,
        message(
            mod(
                "Invoice",
                "m",
                txn_id,
                seq,
                ref("ClassRef", "Plumbing")
                + "<PONumber>PO-88</PONumber>"
                + ref("TermsRef", "Net 30")
                + "<Memo>Revised</Memo>"
                f"<InvoiceLineMod><TxnLineID>{labor}</TxnLineID><Quantity>3</Quantity></InvoiceLineMod>"
                f"<InvoiceLineMod><TxnLineID>-1</TxnLineID>{ref('ItemRef', 'Trip Charge')}"
                "<Quantity>1</Quantity></InvoiceLineMod>",
                id_tag="TxnID",
            ),
            mod("Invoice", "stale", txn_id, seq, "<Memo>x</Memo>", id_tag="TxnID"),
        ),
        assert_valid,
    )
    assert statuses(msgs) == [("m", "0"), ("stale", "3200")]
    changed = msgs[0][0]
    assert (
        text(changed, "ClassRef/FullName"),
        text(changed, "PONumber"),
        text(changed, "TermsRef/FullName"),
        text(changed, "DueDate"),
        text(changed, "Memo"),
    ) == ("Plumbing", "PO-88", "Net 30", "2024-05-31", "Revised")
    lines = changed.findall("InvoiceLineRet")
    assert [(text(ln, "ItemRef/FullName"), text(ln, "Amount")) for ln in lines] == [
        ("Labor", "285.00"),
        ("Trip Charge", "35.00"),
    ]
    assert text(lines[0], "TxnLineID") == labor  # a kept line keeps its id
    assert materials not in {text(ln, "TxnLineID") for ln in lines}  # left out: deleted
    assert (
        text(changed, "Subtotal"),
        text(changed, "SalesTaxTotal"),
        text(changed, "BalanceRemaining"),
    ) == (
        "320.00",
        "0.00",
        "320.00",
    )
    smith = company.customer_by_name("Smith, John")
    assert smith is not None
    assert smith.balance == Decimal("320.00")
    balances = {a.full_name: a.balance for a in company.accounts()}
    assert balances["Accounts Receivable"] == Decimal("320.00")
    assert balances["Materials Income"] == Decimal("0.00")
    assert balances["Sales Tax Payable"] == Decimal("0.00")
    assert balances["Service Income"] == Decimal("320.00")


def test_invoice_mod_after_partial_payment_keeps_the_payment(
    company: Company, assert_valid: Validate
) -> None:
    _customer(company, assert_valid)
    inv = _invoice(company, assert_valid, "1001", LINES_408_05)
    txn_id = text(inv, "TxnID")
    run(company, message(_payment("p", "Smith, John", _applied(txn_id, "100.00"))), assert_valid)
    current = company.invoice(txn_id)
    msgs = run(
        company,
        message(
            mod("Invoice", "m", txn_id, current.edit_sequence, "<Memo>Note</Memo>", id_tag="TxnID")
        ),
        assert_valid,
    )
    assert (text(msgs[0][0], "AppliedAmount"), text(msgs[0][0], "BalanceRemaining")) == (
        "-100.00",
        "308.05",
    )


def _bill(rid: str, body: str) -> str:
    return add("Bill", rid, body)


def test_bill_add_and_query(company: Company, assert_valid: Validate) -> None:
    msgs = run(
        company,
        message(
            _bill(
                "b",
                ref("VendorRef", "Ferguson Supply")
                + "<TxnDate>2024-05-02</TxnDate><RefNumber>PO-1187-R1</RefNumber>"
                "<Memo>PO 1187 received</Memo>"
                "<ExternalGUID>{D57F7CC4-03F9-3A50-FB27-878147623FD3}</ExternalGUID>"
                "<ExpenseLineAdd>"
                + ref("AccountRef", "Inventory Asset")
                + "<Amount>1624.80</Amount><Memo>WH-50G x2</Memo>"
                + ref("ClassRef", "Plumbing")
                + "</ExpenseLineAdd><ExpenseLineAdd>"
                + ref("AccountRef", "Freight and Shipping")
                + "<Amount>35.00</Amount><Memo>Freight</Memo></ExpenseLineAdd>"
                "<ItemLineAdd>"
                + ref("ItemRef", "PVC-075")
                + "<Quantity>40</Quantity><Cost>1.1875</Cost></ItemLineAdd>",
            ),
            _bill("no-vendor", ref("VendorRef", "Nobody")),
            _bill(
                "no-account",
                ref("VendorRef", "State Board of Equalization")
                + "<ExpenseLineAdd>"
                + ref("AccountRef", "No Such Account")
                + "<Amount>1.00</Amount></ExpenseLineAdd>",
            ),
            _bill(
                "long",
                ref("VendorRef", "Ferguson Supply") + "<RefNumber>" + "R" * 21 + "</RefNumber>",
            ),
            rq(
                "BillQuery",
                "q",
                "<RefNumber>PO-1187-R1</RefNumber><IncludeLineItems>true</IncludeLineItems>",
            ),
            rq("BillQuery", "q2", "<PaidStatus>NotPaidOnly</PaidStatus>"),
        ),
        assert_valid,
    )
    assert statuses(msgs) == [
        ("b", "0"),
        ("no-vendor", "3140"),
        ("no-account", "3140"),
        ("long", "3070"),
        ("q", "0"),
        ("q2", "0"),
    ]
    bill = msgs[0][0]
    assert [
        (c.tag, c.text)
        for c in bill
        if len(c) == 0
        and c.tag not in ("TxnID", "TimeCreated", "TimeModified", "EditSequence", "TxnNumber")
    ] == [
        ("TxnDate", "2024-05-02"),
        ("DueDate", "2024-06-01"),  # Ferguson's terms: Net 30
        ("AmountDue", "1707.30"),
        ("RefNumber", "PO-1187-R1"),
        ("Memo", "PO 1187 received"),
        ("IsPaid", "false"),
        ("ExternalGUID", "{D57F7CC4-03F9-3A50-FB27-878147623FD3}"),
        ("OpenAmount", "1707.30"),
    ]
    assert text(bill, "TermsRef/FullName") == "Net 30"
    assert text(bill, "APAccountRef/FullName") == "Accounts Payable"
    assert text(bill, "VendorAddress/Addr1") == "1200 Industrial Way"
    assert [
        (text(e, "AccountRef/FullName"), text(e, "Amount"), text(e, "Memo"))
        for e in bill.findall("ExpenseLineRet")
    ] == [("Inventory Asset", "1624.80", "WH-50G x2"), ("Freight and Shipping", "35.00", "Freight")]
    assert text(bill, "ExpenseLineRet/ClassRef/FullName") == "Plumbing"
    item_line = bill.find("ItemLineRet")
    assert item_line is not None
    assert [(c.tag, c.text) for c in item_line if len(c) == 0][1:] == [
        ("Quantity", "40"),
        ("Cost", "1.1875"),
        ("Amount", "47.50"),
    ]
    assert [text(r, "RefNumber") for r in msgs[5]] == ["PO-1187-R1"]
    assert msgs[5][0].find("ExpenseLineRet") is None  # no IncludeLineItems
    balances = {a.full_name: a.balance for a in company.accounts()}
    assert balances["Accounts Payable"] == Decimal("1707.30")
    assert balances["Inventory Asset"] == Decimal("1624.80")
    assert balances["Freight and Shipping"] == Decimal("35.00")
    assert balances["Materials Income"] == Decimal("47.50")  # the item's one account
    ferguson = next(v for v in company.vendors() if v.name == "Ferguson Supply")
    assert ferguson.balance == Decimal("1707.30")
    [stored] = company.bills()
    assert (stored.amount_due, stored.open_amount, len(stored.lines)) == (
        Decimal("1707.30"),
        Decimal("1707.30"),
        3,
    )


def test_bill_due_date_from_explicit_terms_or_due_date(
    company: Company, assert_valid: Validate
) -> None:
    msgs = run(
        company,
        message(
            _bill("1", ref("VendorRef", "City of Springfield") + "<TxnDate>2024-05-02</TxnDate>"),
            _bill(
                "2",
                ref("VendorRef", "City of Springfield")
                + "<TxnDate>2024-05-02</TxnDate>"
                + ref("TermsRef", "Net 15"),
            ),
            _bill(
                "3",
                ref("VendorRef", "City of Springfield") + "<TxnDate>2024-05-02</TxnDate>"
                "<DueDate>2024-05-09</DueDate>",
            ),
        ),
        assert_valid,
    )
    assert [text(r[0], "DueDate") for r in msgs] == ["2024-05-02", "2024-05-17", "2024-05-09"]
    assert [text(r[0], "IsPaid") for r in msgs] == ["true", "true", "true"]  # nothing owed


@pytest.mark.parametrize(
    ("request_xml", "detail"),
    [
        (
            # RefNumber must come after TxnDate in BillAdd.
            add(
                "Bill",
                "1",
                ref("VendorRef", "Ferguson Supply")
                + "<RefNumber>R-1</RefNumber><TxnDate>2024-05-02</TxnDate>",
            ),
            "TxnDate",
        ),
        (
            add(
                "PaymentMethod",
                "2",
                "<Name>Crypto</Name><PaymentMethodType>Bitcoin</PaymentMethodType>",
            ),
            "Bitcoin",
        ),
        (
            add(
                "ReceivePayment",
                "3",
                ref("CustomerRef", "Adams") + "<TotalAmount>ten</TotalAmount>"
                "<IsAutoApply>true</IsAutoApply>",
            ),
            "ten",
        ),
        (
            # ExternalGUID must be "{8-4-4-4-12}" in braces (GUIDTYPE); a bare GUID is refused.
            add(
                "Bill",
                "4",
                ref("VendorRef", "Ferguson Supply")
                + "<ExternalGUID>D57F7CC4-03F9-3A50-FB27-878147623FD3</ExternalGUID>",
            ),
            "ExternalGUID",
        ),
    ],
    ids=["element-order", "bad-enum", "bad-amount", "guid-without-braces"],
)
def test_schema_invalid_new_requests_refuse_the_whole_message(
    company: Company, request_xml: str, detail: str
) -> None:
    document = message(add("Class", "0", "<Name>Solar</Name>"), request_xml)
    with pytest.raises(QbxmlParseError) as refused:
        process(company, document)
    assert refused.value.hresult == "0x80040400"
    assert detail in refused.value.detail
    assert "Solar" not in [c.full_name for c in company.classes()]  # nothing ran


def _ticking_clock() -> Callable[[], datetime]:
    seconds = itertools.count()
    start = datetime(2024, 5, 1, 9, 30, tzinfo=timezone(timedelta(hours=-7)))
    return lambda: start + timedelta(seconds=next(seconds))


@settings(max_examples=40, deadline=None)
@given(
    invoice_cents=st.lists(st.integers(1, 500_000), min_size=1, max_size=3),
    paid_cents=st.lists(st.integers(1, 600_000), min_size=1, max_size=3),
)
def test_payments_never_take_an_invoice_below_zero(
    invoice_cents: list[int], paid_cents: list[int]
) -> None:
    with Company(":memory:", clock=_ticking_clock()) as company:
        seed_contractor(company)
        company.add_customer(CustomerDraft(name="Adams"))
        invoices = [
            company.add_invoice(
                InvoiceDraft(
                    customer=RefSpec(full_name="Adams"),
                    lines=[
                        InvoiceLineDraft(
                            item=RefSpec(full_name="Labor"), amount=Decimal(cents) / 100
                        )
                    ],
                )
            )
            for cents in invoice_cents
        ]
        expected = {i.txn_id: i.total for i in invoices}
        for n, cents in enumerate(paid_cents):
            target = invoices[n % len(invoices)].txn_id
            amount = Decimal(cents) / 100
            draft = PaymentDraft(
                customer=RefSpec(full_name="Adams"), applications=[Application(target, amount)]
            )
            if amount > expected[target]:
                with pytest.raises(QbError) as refused:
                    company.receive_payment(draft)
                assert refused.value.code == 3210
            else:
                company.receive_payment(draft)
                expected[target] -= amount
        for txn_id, balance in expected.items():
            stored = company.invoice(txn_id)
            assert stored.balance_remaining == balance
            assert stored.is_paid == (balance == 0)
            assert stored.total + stored.applied_amount == balance
        adams = company.customer_by_name("Adams")
        assert adams is not None
        assert adams.balance == sum(expected.values(), Decimal("0.00"))
