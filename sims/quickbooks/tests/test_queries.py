"""Query behaviour (iterators, modified-since filters), onError with the newer request types,
and a walk through every request type the processor supports, each answer schema-checked."""

from __future__ import annotations

from datetime import timedelta

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

from mlconnector.qbsim.company import Company, CustomerDraft, ListFilter
from mlconnector.qbsim.handlers import DEFAULT_HANDLERS


def _names(response: etree._Element) -> list[str]:
    return [text(r, "FullName") for r in response]


def test_iterator_three_pages_with_exact_remaining_counts(
    company: Company, assert_valid: Validate
) -> None:
    for name in ("A1", "A2", "A3", "A4", "A5", "A6", "A7"):
        company.add_customer(CustomerDraft(name=name))
    msgs = run(
        company,
        message(rq("CustomerQuery", "1", "<MaxReturned>3</MaxReturned>", ' iterator="Start"')),
        assert_valid,
    )
    first = msgs[0]
    iterator_id = first.get("iteratorID") or ""
    assert iterator_id.startswith("{")
    assert iterator_id.endswith("}")
    assert len(iterator_id) == 38
    assert (first.get("statusCode"), first.get("iteratorRemainingCount")) == ("0", "4")
    assert _names(first) == ["A1", "A2", "A3"]

    def more(rid: str) -> etree._Element:
        msgs = run(
            company,
            message(
                rq(
                    "CustomerQuery",
                    rid,
                    "<MaxReturned>3</MaxReturned>",
                    f' iterator="Continue" iteratorID="{iterator_id}"',
                )
            ),
            assert_valid,
        )
        return msgs[0]

    second = more("2")
    assert (second.get("iteratorRemainingCount"), _names(second)) == ("1", ["A4", "A5", "A6"])
    assert second.get("iteratorID") == iterator_id
    third = more("3")
    assert (third.get("statusCode"), third.get("iteratorRemainingCount")) == ("0", "0")
    assert _names(third) == ["A7"]
    # Finished: the iterator is gone.
    gone = more("4")
    assert (gone.get("statusCode"), gone.get("statusSeverity")) == ("3391", "Error")
    assert gone.get("statusMessage") == f'The iteratorID "{iterator_id}" is not valid.'


def test_iterator_unknown_id_stop_and_empty_start(company: Company, assert_valid: Validate) -> None:
    company.add_customer(CustomerDraft(name="A1"))
    company.add_customer(CustomerDraft(name="A2"))
    unknown = "{00000000-0000-4000-8000-000000000000}"
    msgs = run(
        company,
        message(
            rq(
                "InvoiceQuery",
                "1",
                "<MaxReturned>1</MaxReturned>",
                f' iterator="Continue" iteratorID="{unknown}"',
            ),
            rq("InvoiceQuery", "2", "<MaxReturned>5</MaxReturned>", ' iterator="Start"'),
            rq("CustomerQuery", "3", "<MaxReturned>1</MaxReturned>", ' iterator="Start"'),
        ),
        assert_valid,
    )
    assert statuses(msgs) == [("1", "3391"), ("2", "1"), ("3", "0")]
    assert msgs[1].get("iteratorRemainingCount") == "0"
    assert msgs[1].get("statusMessage") == (
        "A query request did not find a matching object in QuickBooks"
    )
    started = msgs[2].get("iteratorID") or ""
    assert msgs[2].get("iteratorRemainingCount") == "1"
    msgs = run(
        company,
        message(
            rq("CustomerQuery", "4", "", f' iterator="Stop" iteratorID="{started}"'),
            rq(
                "CustomerQuery",
                "5",
                "<MaxReturned>1</MaxReturned>",
                f' iterator="Continue" iteratorID="{started}"',
            ),
        ),
        assert_valid,
    )
    assert statuses(msgs) == [("4", "0"), ("5", "3391")]


def test_iterator_over_transactions(company: Company, assert_valid: Validate) -> None:
    company.add_customer(CustomerDraft(name="Adams"))
    run(
        company,
        message(*(invoice(str(n), "Adams", line("Labor", "1"), f"10{n:02d}") for n in range(5))),
        assert_valid,
    )
    msgs = run(
        company,
        message(rq("InvoiceQuery", "s", "<MaxReturned>2</MaxReturned>", ' iterator="Start"')),
        assert_valid,
    )
    assert [text(r, "RefNumber") for r in msgs[0]] == ["1000", "1001"]
    assert msgs[0].get("iteratorRemainingCount") == "3"


def test_modified_since_on_list_and_transaction_queries(
    company: Company, assert_valid: Validate
) -> None:
    for name in ("Adams", "Baker", "Carter"):
        company.add_customer(CustomerDraft(name=name))
    run(
        company,
        message(
            invoice("1", "Adams", line("Labor", "1"), "1001"),
            invoice("2", "Baker", line("Labor", "1"), "1002"),
            add("Bill", "3", ref("VendorRef", "Ferguson Supply") + "<RefNumber>B-1</RefNumber>"),
        ),
        assert_valid,
    )
    mark = company.now()  # every later change happens after this second
    adams = company.customer_by_name("Adams")
    assert adams is not None
    company.edit_party_as_user(adams.core.list_id, phone="555-0001")
    baker_invoice = next(i for i in company.invoices() if i.ref_number == "1002")
    run(
        company,
        message(
            add(
                "ReceivePayment",
                "p",
                ref("CustomerRef", "Baker")
                + f"<AppliedToTxnAdd><TxnID>{baker_invoice.txn_id}</TxnID>"
                "<PaymentAmount>10.00</PaymentAmount></AppliedToTxnAdd>",
            ),
            add("Bill", "b", ref("VendorRef", "Johnstone Supply") + "<RefNumber>B-2</RefNumber>"),
        ),
        assert_valid,
    )
    since = mark.isoformat()
    before = (mark - timedelta(seconds=1)).isoformat()
    msgs = run(
        company,
        message(
            rq("CustomerQuery", "c", f"<FromModifiedDate>{since}</FromModifiedDate>"),
            rq("CustomerQuery", "c2", f"<ToModifiedDate>{before}</ToModifiedDate>"),
            rq(
                "InvoiceQuery",
                "i",
                f"<ModifiedDateRangeFilter><FromModifiedDate>{since}"
                "</FromModifiedDate></ModifiedDateRangeFilter>",
            ),
            rq(
                "BillQuery",
                "b",
                f"<ModifiedDateRangeFilter><FromModifiedDate>{since}"
                "</FromModifiedDate></ModifiedDateRangeFilter>",
            ),
            rq(
                "ReceivePaymentQuery",
                "r",
                f"<ModifiedDateRangeFilter><ToModifiedDate>{before}"
                "</ToModifiedDate></ModifiedDateRangeFilter>",
            ),
            rq("VendorQuery", "v", f"<FromModifiedDate>{since}</FromModifiedDate>"),
        ),
        assert_valid,
    )
    assert statuses(msgs) == [
        ("c", "0"),
        ("c2", "0"),
        ("i", "0"),
        ("b", "0"),
        ("r", "1"),
        ("v", "1"),
    ]
    # Adams was edited in QuickBooks; Baker's balance changed with the payment (a balance is
    # not an edit of the customer record, so Baker is not modified).
    assert _names(msgs[0]) == ["Adams"]
    assert _names(msgs[1]) == ["Baker", "Carter"]
    # Baker's invoice was paid: paying it modified it.
    assert [text(r, "RefNumber") for r in msgs[2]] == ["1002"]
    assert [text(r, "RefNumber") for r in msgs[3]] == ["B-2"]


def test_on_error_stop_and_continue_with_newer_requests(
    company: Company, assert_valid: Validate
) -> None:
    requests = (
        add("Vendor", "1", "<Name>Pacific Pipe</Name>"),
        add("Vendor", "2", "<Name>Pacific Pipe</Name>"),
        add("Bill", "3", ref("VendorRef", "Pacific Pipe")),
    )
    msgs = run(company, message(*requests, on_error="stopOnError"), assert_valid)
    assert statuses(msgs) == [("1", "0"), ("2", "3100")]
    assert company.bills() == []
    msgs = run(
        company,
        message(
            add("Class", "4", "<Name>Solar</Name>"),
            add("Class", "5", "<Name>Solar</Name>"),
            add("Bill", "6", ref("VendorRef", "Pacific Pipe")),
        ),
        assert_valid,
    )
    assert statuses(msgs) == [("4", "0"), ("5", "3100"), ("6", "0")]
    assert len(company.bills()) == 1


def test_every_request_type_is_answered_and_valid(company: Company, assert_valid: Validate) -> None:
    seen: list[str] = []

    def send(*requests: str) -> etree._Element:
        msgs = run(company, message(*requests), assert_valid)
        seen.extend(r.tag for r in msgs)
        return msgs

    sales = (
        "<SalesOrPurchase><Price>1.00</Price>"
        + ref("AccountRef", "Service Income")
        + "</SalesOrPurchase>"
    )
    msgs = send(
        rq("HostQuery", "h"),
        add("Account", "a", "<Name>Fuel</Name><AccountType>Expense</AccountType>"),
        rq("AccountQuery", "aq"),
        add("Class", "cl", "<Name>Solar</Name>"),
        rq("ClassQuery", "clq"),
        add("StandardTerms", "t", "<Name>Net 10</Name><StdDueDays>10</StdDueDays>"),
        rq("StandardTermsQuery", "tq"),
        rq("TermsQuery", "tq2"),
        add(
            "PaymentMethod", "pm", "<Name>Zelle</Name><PaymentMethodType>Other</PaymentMethodType>"
        ),
        rq("PaymentMethodQuery", "pmq"),
        add("SalesTaxCode", "st", "<Name>Lab</Name><IsTaxable>false</IsTaxable>"),
        rq("SalesTaxCodeQuery", "stq"),
        add("Customer", "c", "<Name>Adams</Name>" + ref("TermsRef", "Net 10")),
        rq("CustomerQuery", "cq"),
        add("Vendor", "v", "<Name>Pacific Pipe</Name>"),
        rq("VendorQuery", "vq"),
        add("ItemService", "is", "<Name>Svc</Name>" + sales),
        add("ItemNonInventory", "in", "<Name>Part</Name>" + sales),
        add("ItemOtherCharge", "io", "<Name>Fee</Name>" + sales),
        rq("ItemQuery", "iq"),
        rq("ItemServiceQuery", "isq"),
        rq("ItemNonInventoryQuery", "inq"),
        rq("ItemOtherChargeQuery", "ioq"),
        rq("ItemSalesTaxQuery", "itq"),
        invoice("inv", "Adams", line("Svc", "2") + line("Part", "1"), "1001"),
        add(
            "Bill",
            "b",
            ref("VendorRef", "Pacific Pipe")
            + "<ExpenseLineAdd>"
            + ref("AccountRef", "Fuel")
            + "<Amount>60.00</Amount></ExpenseLineAdd>",
        ),
        rq("BillQuery", "bq", "<IncludeLineItems>true</IncludeLineItems>"),
        add(
            "CreditMemo",
            "cm",
            ref("CustomerRef", "Adams")
            + "<CreditMemoLineAdd>"
            + ref("ItemRef", "Svc")
            + "<Quantity>1</Quantity></CreditMemoLineAdd>",
        ),
        add("Customer", "err", "<Name>Adams</Name>"),  # an error answer: 3100
    )
    assert [s for _, s in statuses(msgs)].count("0") == len(msgs) - 1
    assert msgs[-1].get("statusCode") == "3100"
    by_id = {r.get("requestID"): r for r in msgs}

    def core(rid: str, id_tag: str = "ListID") -> tuple[str, str]:
        found = by_id[rid][0]
        return text(found, id_tag), text(found, "EditSequence")

    invoice_id, invoice_seq = core("inv", "TxnID")
    memo_id, memo_seq = core("cm", "TxnID")
    bill_id = core("b", "TxnID")[0]
    msgs = send(
        mod("Class", "clm", *core("cl"), "<Name>Solar PV</Name>"),
        mod("SalesTaxCode", "stm", *core("st"), "<Desc>Labor</Desc>"),
        mod("Customer", "cm", *core("c"), "<Phone>555-0101</Phone>"),
        mod("Vendor", "vm", *core("v"), "<Phone>555-0102</Phone>"),
        mod("ItemService", "ism", *core("is"), "<Name>Service</Name>"),
        mod("ItemNonInventory", "inm", *core("in"), "<Name>Part 2</Name>"),
        mod("ItemOtherCharge", "iom", *core("io"), "<Name>Fee 2</Name>"),
        mod("Invoice", "invm", invoice_id, invoice_seq, "<Memo>Thanks</Memo>", id_tag="TxnID"),
        add(
            "ReceivePayment",
            "rp",
            ref("CustomerRef", "Adams")
            + "<TotalAmount>1.00</TotalAmount>"
            + f"<AppliedToTxnAdd><TxnID>{invoice_id}</TxnID><PaymentAmount>1.00</PaymentAmount>"
            "</AppliedToTxnAdd>",
        ),
        rq("ReceivePaymentQuery", "rpq"),
        mod("CreditMemo", "cmm", memo_id, memo_seq, "<Memo>Return</Memo>", id_tag="TxnID"),
        add(
            "ReceivePayment",
            "credit",
            ref("CustomerRef", "Adams") + f"<AppliedToTxnAdd><TxnID>{invoice_id}</TxnID><SetCredit>"
            f"<CreditTxnID>{memo_id}</CreditTxnID><AppliedAmount>0.50</AppliedAmount>"
            "</SetCredit></AppliedToTxnAdd>",
        ),
        rq(
            "CreditMemoQuery",
            "cmq",
            "<IncludeLineItems>true</IncludeLineItems><IncludeLinkedTxns>true</IncludeLinkedTxns>",
        ),
        rq("InvoiceQuery", "invq", "<IncludeLinkedTxns>true</IncludeLinkedTxns>"),
        rq("TxnVoid", "void", f"<TxnVoidType>Bill</TxnVoidType><TxnID>{bill_id}</TxnID>"),
        rq("ItemQuery", "itemq", "<MaxReturned>15</MaxReturned>", ' iterator="Start"'),
    )
    assert all(s == "0" for _, s in statuses(msgs)), statuses(msgs)
    # An iterator continuation: the next page, then nothing left (3391).
    assert len(msgs[-1]) == 15
    remaining = int(msgs[-1].get("iteratorRemainingCount") or "0")
    assert 0 < remaining == len(company.query_items(ListFilter())[0]) - 15 <= 15
    iterator_id = msgs[-1].get("iteratorID")
    continue_attrs = f' iterator="Continue" iteratorID="{iterator_id}"'
    msgs = send(
        rq("ItemQuery", "more", "<MaxReturned>15</MaxReturned>", continue_attrs),
        rq("ItemQuery", "done", "<MaxReturned>15</MaxReturned>", continue_attrs),
    )
    assert statuses(msgs) == [("more", "0"), ("done", "3391")]
    assert (len(msgs[0]), msgs[0].get("iteratorRemainingCount")) == (remaining, "0")
    [payment] = company.payments()
    msgs = send(
        rq(
            "TxnDel",
            "del",
            f"<TxnDelType>ReceivePayment</TxnDelType><TxnID>{payment.txn_id}</TxnID>",
        )
    )
    assert statuses(msgs) == [("del", "0")]
    answered = {tag.removesuffix("Rs") + "Rq" for tag in seen}
    assert answered == set(DEFAULT_HANDLERS)
