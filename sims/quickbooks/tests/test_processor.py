"""The qbXML processor answers as QuickBooks does, and every answer validates against 13.0."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal

import pytest
from lxml import etree

from mlconnector.common.qbxml import parse_response
from mlconnector.qbsim.company import Company, ListFilter
from mlconnector.qbsim.processor import QbxmlParseError, QbxmlProcessor, process

Validate = Callable[[str], None]


def message(*requests: str, on_error: str = "continueOnError", version: str = "13.0") -> str:
    body = "".join(requests)
    return (
        f'<?xml version="1.0" encoding="utf-8"?>\n<?qbxml version="{version}"?>\n'
        f'<QBXML><QBXMLMsgsRq onError="{on_error}">{body}</QBXMLMsgsRq></QBXML>'
    )


def customer_add(rid: str, name: str, extra: str = "") -> str:
    return (
        f'<CustomerAddRq requestID="{rid}"><CustomerAdd><Name>{name}</Name>{extra}'
        "</CustomerAdd></CustomerAddRq>"
    )


def invoice_add(rid: str, customer: str, lines: str, ref: str = "1001", extra: str = "") -> str:
    return (
        f'<InvoiceAddRq requestID="{rid}"><InvoiceAdd><CustomerRef>{customer}</CustomerRef>'
        f"<TxnDate>2024-05-01</TxnDate><RefNumber>{ref}</RefNumber>{extra}{lines}"
        "</InvoiceAdd></InvoiceAddRq>"
    )


def line(
    item: str, quantity: str | None = None, rate: str | None = None, amount: str | None = None
) -> str:
    parts = f"<ItemRef><FullName>{item}</FullName></ItemRef>"
    if quantity is not None:
        parts += f"<Quantity>{quantity}</Quantity>"
    if rate is not None:
        parts += f"<Rate>{rate}</Rate>"
    if amount is not None:
        parts += f"<Amount>{amount}</Amount>"
    return f"<InvoiceLineAdd>{parts}</InvoiceLineAdd>"


STANDARD_LINES = line("Labor", "2", "95.00") + line("PVC-075", "10", "3.75")


def run(company: Company, document: str, assert_valid: Validate) -> etree._Element:
    response = process(company, document)
    assert_valid(response)
    root = etree.fromstring(response.encode("utf-8"))
    msgs = root.find("QBXMLMsgsRs")
    assert msgs is not None
    return msgs


def test_every_supported_request_ok_and_valid(company: Company, assert_valid: Validate) -> None:
    msgs = run(
        company,
        message(
            '<HostQueryRq requestID="h"/>',
            customer_add(
                "c1",
                "Smith, John",
                "<FirstName>John</FirstName><LastName>Smith</LastName>"
                "<BillAddress><Addr1>12 Oak St</Addr1><City>Springfield</City>"
                "<State>CA</State><PostalCode>95101</PostalCode></BillAddress>"
                "<Phone>555-0101</Phone><Email>john@example.com</Email>",
            ),
            customer_add(
                "c2", "Kitchen Remodel", "<ParentRef><FullName>Smith, John</FullName></ParentRef>"
            ),
            invoice_add(
                "i1",
                "<FullName>Smith, John:Kitchen Remodel</FullName>",
                STANDARD_LINES,
                extra="<PONumber>PO-7</PONumber><Memo>ST job 4411</Memo>",
            ),
            '<InvoiceQueryRq requestID="iq"><RefNumber>1001</RefNumber>'
            "<IncludeLineItems>true</IncludeLineItems></InvoiceQueryRq>",
            '<InvoiceQueryRq requestID="iq2"><MaxReturned>5</MaxReturned>'
            "<RefNumberFilter><MatchCriterion>StartsWith</MatchCriterion><RefNumber>10</RefNumber>"
            "</RefNumberFilter></InvoiceQueryRq>",
            '<CustomerQueryRq requestID="cq"><ActiveStatus>All</ActiveStatus></CustomerQueryRq>',
            '<ItemQueryRq requestID="itq"/>',
            '<AccountQueryRq requestID="aq"/>',
            '<ItemServiceAddRq requestID="is"><ItemServiceAdd><Name>Drain Cleaning</Name>'
            "<SalesOrPurchase><Desc>Drain cleaning</Desc><Price>125.00</Price>"
            "<AccountRef><FullName>Service Income</FullName></AccountRef></SalesOrPurchase>"
            "</ItemServiceAdd></ItemServiceAddRq>",
        ),
        assert_valid,
    )
    answers = [(r.tag, r.get("requestID"), r.get("statusCode")) for r in msgs]
    assert answers == [
        ("HostQueryRs", "h", "0"),
        ("CustomerAddRs", "c1", "0"),
        ("CustomerAddRs", "c2", "0"),
        ("InvoiceAddRs", "i1", "0"),
        ("InvoiceQueryRs", "iq", "0"),
        ("InvoiceQueryRs", "iq2", "0"),
        ("CustomerQueryRs", "cq", "0"),
        ("ItemQueryRs", "itq", "0"),
        ("AccountQueryRs", "aq", "0"),
        ("ItemServiceAddRs", "is", "0"),
    ]
    for response in msgs:
        assert response.get("statusSeverity") == "Info"
        assert response.get("statusMessage") == "Status OK"
    job = msgs[2].find("CustomerRet")
    assert job is not None
    assert job.findtext("FullName") == "Smith, John:Kitchen Remodel"
    assert job.findtext("ParentRef/FullName") == "Smith, John"
    assert job.findtext("Sublevel") == "1"
    assert [c.findtext("FullName") for c in msgs[6].findall("CustomerRet")] == [
        "Smith, John",
        "Smith, John:Kitchen Remodel",
    ]
    parent = msgs[6].find("CustomerRet")
    assert parent is not None
    assert parent.findtext("Balance") == "0.00"
    assert parent.findtext("TotalBalance") == "230.59"
    item_kinds = {r.tag for r in msgs[7]}
    assert item_kinds == {
        "ItemServiceRet",
        "ItemNonInventoryRet",
        "ItemOtherChargeRet",
        "ItemSalesTaxRet",
    }
    assert msgs[4].find("InvoiceRet/InvoiceLineRet") is not None
    # Without IncludeLineItems the lines are not returned.
    assert msgs[5].find("InvoiceRet") is not None
    assert msgs[5].find("InvoiceRet/InvoiceLineRet") is None


def test_invoice_totals_and_tax_exact_to_the_cent(company: Company, assert_valid: Validate) -> None:
    run(company, message(customer_add("1", "Smith, John")), assert_valid)
    msgs = run(
        company,
        message(invoice_add("2", "<FullName>Smith, John</FullName>", STANDARD_LINES)),
        assert_valid,
    )
    ret = msgs[0].find("InvoiceRet")
    assert ret is not None
    assert ret.findtext("Subtotal") == "227.50"
    assert ret.findtext("ItemSalesTaxRef/FullName") == "ST Sales Tax"
    assert ret.findtext("SalesTaxPercentage") == "8.25"
    assert ret.findtext("SalesTaxTotal") == "3.09"  # 37.50 * 8.25% = 3.09375
    assert ret.findtext("AppliedAmount") == "0.00"
    assert ret.findtext("BalanceRemaining") == "230.59"
    assert ret.findtext("IsPaid") == "false"
    lines = ret.findall("InvoiceLineRet")
    assert [
        (
            ln.findtext("ItemRef/FullName"),
            ln.findtext("Desc"),
            ln.findtext("Quantity"),
            ln.findtext("Rate"),
            ln.findtext("Amount"),
            ln.findtext("SalesTaxCodeRef/FullName"),
        )
        for ln in lines
    ] == [
        ("Labor", "Labor", "2", "95.00", "190.00", "Non"),
        ("PVC-075", '3/4" PVC pipe, per foot', "10", "3.75", "37.50", "Tax"),
    ]
    customer = company.customer_by_name("Smith, John")
    assert customer is not None
    assert customer.balance == Decimal("230.59")
    accounts = {a.full_name: a.balance for a in company.query_accounts(ListFilter())[0]}
    assert accounts["Accounts Receivable"] == Decimal("230.59")
    assert accounts["Sales Tax Payable"] == Decimal("3.09")
    assert accounts["Service Income"] == Decimal("190.00")
    assert accounts["Materials Income"] == Decimal("37.50")


def test_amount_rounding_half_up(company: Company, assert_valid: Validate) -> None:
    run(company, message(customer_add("1", "Lee, Ann")), assert_valid)
    # 3 x 0.125 = 0.375 -> 0.38 ; 1 x 0.005 -> 0.01 ; tax on 0.39 = 0.0321... -> 0.03
    msgs = run(
        company,
        message(
            invoice_add(
                "2",
                "<FullName>Lee, Ann</FullName>",
                line("PVC-075", "3", "0.125") + line("CU-050", "1", "0.005"),
            )
        ),
        assert_valid,
    )
    ret = msgs[0].find("InvoiceRet")
    assert ret is not None
    assert [a.text for a in ret.iter("Amount")] == ["0.38", "0.01"]
    assert ret.findtext("Subtotal") == "0.39"
    assert ret.findtext("SalesTaxTotal") == "0.03"
    assert ret.findtext("BalanceRemaining") == "0.42"


def test_amount_only_line_and_default_price(company: Company, assert_valid: Validate) -> None:
    run(company, message(customer_add("1", "Lee, Ann")), assert_valid)
    msgs = run(
        company,
        message(
            invoice_add(
                "2",
                "<FullName>Lee, Ann</FullName>",
                line("ST Service", amount="150.00")
                + line("Trip Charge", "1")
                + line("FLTR-16251", "2"),
            )
        ),
        assert_valid,
    )
    ret = msgs[0].find("InvoiceRet")
    assert ret is not None
    assert [a.text for a in ret.iter("Amount")] == ["150.00", "35.00", "37.50"]
    assert [r.text for r in ret.iter("Rate")] == ["35.00", "18.75"]
    assert ret.findtext("Subtotal") == "222.50"
    assert ret.findtext("SalesTaxTotal") == "3.09"  # 37.50 * 8.25% = 3.09375


def test_name_in_use_3100_across_customers_and_vendors(
    company: Company, assert_valid: Validate
) -> None:
    msgs = run(
        company,
        message(
            customer_add("1", "Smith, John"),
            customer_add("2", "smith, john"),
            customer_add("3", "Ferguson Supply"),  # a vendor's name
        ),
        assert_valid,
    )
    assert [(r.get("requestID"), r.get("statusCode"), r.get("statusSeverity")) for r in msgs] == [
        ("1", "0", "Info"),
        ("2", "3100", "Error"),
        ("3", "3100", "Error"),
    ]
    assert msgs[1].get("statusMessage") == (
        'The name "smith, john" of the list element is already in use.'
    )
    assert msgs[2].get("statusMessage") == (
        'The name "Ferguson Supply" of the list element is already in use.'
    )
    assert msgs[1].find("CustomerRet") is None


def test_invalid_reference_3140(company: Company, assert_valid: Validate) -> None:
    run(company, message(customer_add("1", "Smith, John")), assert_valid)
    msgs = run(
        company,
        message(
            invoice_add("a", "<ListID>80000999-1700000000</ListID>", STANDARD_LINES),
            invoice_add("b", "<FullName>Smith, John</FullName>", line("NO-SUCH-ITEM", "1", "1.00")),
            invoice_add("c", "<FullName>Ferguson Supply</FullName>", STANDARD_LINES),
            customer_add("d", "Job", "<ParentRef><FullName>Nobody</FullName></ParentRef>"),
            customer_add("e", "Classy", "<ClassRef><FullName>Residential</FullName></ClassRef>"),
        ),
        assert_valid,
    )
    assert [r.get("statusCode") for r in msgs] == ["3140"] * 5
    messages = [r.get("statusMessage") or "" for r in msgs]
    assert messages[0].startswith(
        'There is an invalid reference to QuickBooks Customer "80000999-1700000000" in the Invoice.'
    )
    assert messages[1].startswith(
        'There is an invalid reference to QuickBooks Item "NO-SUCH-ITEM" in the Invoice line.'
    )
    assert messages[2].startswith(
        'There is an invalid reference to QuickBooks Customer "Ferguson Supply" in the Invoice.'
    )
    assert messages[3].startswith(
        'There is an invalid reference to QuickBooks Customer "Nobody" in the Customer.'
    )
    assert messages[4].startswith(
        'There is an invalid reference to QuickBooks Class "Residential" in the Customer.'
    )
    # A refused request leaves nothing behind (the customer "Job" was not created, no invoice).
    assert company.invoices() == []
    assert [c.full_name for c in company.customers()] == ["Smith, John"]


def test_empty_query_is_status_1_and_missing_name_is_500(
    company: Company, assert_valid: Validate
) -> None:
    msgs = run(
        company,
        message(
            '<CustomerQueryRq requestID="1"><NameFilter><MatchCriterion>Contains</MatchCriterion>'
            "<Name>zzz</Name></NameFilter></CustomerQueryRq>",
            '<InvoiceQueryRq requestID="2"><RefNumber>NOPE</RefNumber></InvoiceQueryRq>',
            '<CustomerQueryRq requestID="3"><FullName>Nobody</FullName></CustomerQueryRq>',
            '<InvoiceQueryRq requestID="4"><TxnID>FFF-1700000000</TxnID></InvoiceQueryRq>',
            '<CustomerQueryRq requestID="5"><ListID>not-an-id</ListID></CustomerQueryRq>',
        ),
        assert_valid,
    )
    assert [(r.get("statusCode"), r.get("statusSeverity")) for r in msgs] == [
        ("1", "Info"),
        ("1", "Info"),
        ("500", "Warn"),
        ("500", "Warn"),
        ("3000", "Error"),
    ]
    assert msgs[0].get("statusMessage") == (
        "A query request did not find a matching object in QuickBooks"
    )
    assert msgs[2].get("statusMessage") == (
        "The query request has not been fully completed. There was a required element "
        '("Nobody") that could not be found in QuickBooks.'
    )


def test_stop_on_error_stops_and_does_not_answer_the_rest(
    company: Company, assert_valid: Validate
) -> None:
    msgs = run(
        company,
        message(
            customer_add("1", "A"),
            customer_add("2", "A"),
            customer_add("3", "B"),
            on_error="stopOnError",
        ),
        assert_valid,
    )
    assert [(r.get("requestID"), r.get("statusCode")) for r in msgs] == [("1", "0"), ("2", "3100")]
    assert company.customer_by_name("B") is None


def test_stop_on_error_goes_on_after_warnings(company: Company, assert_valid: Validate) -> None:
    msgs = run(
        company,
        message(
            '<CustomerQueryRq requestID="1"><FullName>Nobody</FullName></CustomerQueryRq>',
            customer_add("2", "B"),
            on_error="stopOnError",
        ),
        assert_valid,
    )
    assert [r.get("statusCode") for r in msgs] == ["500", "0"]


def test_continue_on_error_answers_every_request(company: Company, assert_valid: Validate) -> None:
    msgs = run(
        company,
        message(customer_add("1", "A"), customer_add("2", "A"), customer_add("3", "B")),
        assert_valid,
    )
    assert [(r.get("requestID"), r.get("statusCode")) for r in msgs] == [
        ("1", "0"),
        ("2", "3100"),
        ("3", "0"),
    ]
    assert company.customer_by_name("B") is not None


def test_request_id_echoed_and_absent_when_not_sent(
    company: Company, assert_valid: Validate
) -> None:
    msgs = run(
        company,
        message(
            '<HostQueryRq requestID="{4F1E2D3C-0000-4000-8000-00000000ABCD}"/>', "<HostQueryRq/>"
        ),
        assert_valid,
    )
    assert msgs[0].get("requestID") == "{4F1E2D3C-0000-4000-8000-00000000ABCD}"
    assert "requestID" not in msgs[1].attrib


def test_string_too_long_fails_only_that_request(company: Company, assert_valid: Validate) -> None:
    long_name = "N" * 42  # Customer Name is limited to 41
    msgs = run(
        company, message(customer_add("1", long_name), customer_add("2", "Short")), assert_valid
    )
    assert [r.get("statusCode") for r in msgs] == ["3070", "0"]
    assert msgs[0].get("statusMessage") == (
        f'The string "{long_name}" in the field "Name" is too long.'
    )


@pytest.mark.parametrize(
    ("document", "detail"),
    [
        ("<QBXML><QBXMLMsgsRq", "malformed"),
        (
            message(
                '<CustomerAddRq requestID="1"><CustomerAdd><FirstName>J</FirstName>'
                "<Name>X</Name></CustomerAdd></CustomerAddRq>"
            ),
            "FirstName",
        ),
        (message("<HostQueryRq/>").replace('<?qbxml version="13.0"?>\n', ""), "qbxml"),
        (message("<HostQueryRq/>", version="14.0"), "14.0"),
        (
            message('<SalesReceiptQueryRq requestID="1"/>'),
            "SalesReceiptQueryRq",
        ),
        ('<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "b">]><QBXML/>', "DOCTYPE"),
    ],
    ids=["malformed", "element-order", "no-qbxml-pi", "newer-version", "unimplemented", "entities"],
)
def test_refused_messages_raise_parse_error(company: Company, document: str, detail: str) -> None:
    with pytest.raises(QbxmlParseError) as refused:
        process(company, document)
    assert refused.value.hresult == "0x80040400"
    assert refused.value.message == (
        "QuickBooks found an error when parsing the provided XML text stream."
    )
    assert detail in refused.value.detail


def test_customer_query_filters(company: Company, assert_valid: Validate, clock: object) -> None:
    run(
        company,
        message(
            customer_add("1", "Adams"),
            customer_add("2", "Baker"),
            customer_add("3", "Carter", "<IsActive>false</IsActive>"),
        ),
        assert_valid,
    )

    def names(query: str) -> list[str]:
        msgs = run(
            company,
            message(f'<CustomerQueryRq requestID="q">{query}</CustomerQueryRq>'),
            assert_valid,
        )
        return [r.findtext("FullName") or "" for r in msgs[0]]

    assert names("") == ["Adams", "Baker"]
    assert names("<ActiveStatus>InactiveOnly</ActiveStatus>") == ["Carter"]
    assert names("<MaxReturned>1</MaxReturned>") == ["Adams"]
    assert names(
        "<NameFilter><MatchCriterion>EndsWith</MatchCriterion><Name>ker</Name></NameFilter>"
    ) == ["Baker"]
    assert names("<FullName>Carter</FullName>") == ["Carter"]  # by name: active or not
    baker = company.customer_by_name("Baker")
    assert baker is not None
    since = baker.core.time_modified.isoformat()
    assert names(
        f"<ActiveStatus>All</ActiveStatus><FromModifiedDate>{since}</FromModifiedDate>"
    ) == ["Baker", "Carter"]
    assert names(f"<ListID>{baker.core.list_id}</ListID>") == ["Baker"]


def test_include_ret_element_and_include_none(company: Company, assert_valid: Validate) -> None:
    msgs = run(
        company,
        message(
            customer_add("1", "Adams"),
            '<CustomerQueryRq requestID="2"><IncludeRetElement>ListID</IncludeRetElement>'
            "<IncludeRetElement>FullName</IncludeRetElement></CustomerQueryRq>",
        ),
        assert_valid,
    )
    ret = msgs[1].find("CustomerRet")
    assert ret is not None
    assert [c.tag for c in ret] == ["ListID", "FullName"]
    document = message(customer_add("3", "Baker")).replace(
        'onError="continueOnError"', 'onError="continueOnError" responseData="includeNone"'
    )
    msgs = run(company, document, assert_valid)
    assert msgs[0].get("statusCode") == "0"
    assert len(msgs[0]) == 0


def test_ids_and_edit_sequence_look_like_quickbooks(
    company: Company, assert_valid: Validate
) -> None:
    msgs = run(company, message(customer_add("1", "Adams")), assert_valid)
    ret = msgs[0].find("CustomerRet")
    assert ret is not None
    list_id = ret.findtext("ListID") or ""
    assert list_id.split("-")[0].startswith("8000")
    assert len(list_id.split("-")[0]) == 8
    assert ret.findtext("TimeCreated", "").endswith("-07:00")
    edit = ret.findtext("EditSequence") or ""
    assert edit.isdigit()
    assert len(edit) <= 16
    msgs = run(
        company,
        message(invoice_add("2", "<FullName>Adams</FullName>", STANDARD_LINES)),
        assert_valid,
    )
    txn_id = msgs[0].findtext("InvoiceRet/TxnID") or ""
    head, _, stamp = txn_id.partition("-")
    assert int(head, 16) > 0
    assert stamp.isdigit()


def test_invoice_number_assigned_when_omitted(company: Company, assert_valid: Validate) -> None:
    run(company, message(customer_add("1", "Adams")), assert_valid)
    run(
        company,
        message(invoice_add("2", "<FullName>Adams</FullName>", STANDARD_LINES, ref="INV-0099")),
        assert_valid,
    )
    no_ref = invoice_add("3", "<FullName>Adams</FullName>", STANDARD_LINES).replace(
        "<RefNumber>1001</RefNumber>", ""
    )
    msgs = run(company, message(no_ref), assert_valid)
    assert msgs[0].findtext("InvoiceRet/RefNumber") == "INV-0100"


def test_responses_parse_with_the_shared_parser(company: Company) -> None:
    statuses = parse_response(
        QbxmlProcessor(company).process(
            message(customer_add("1", "Adams"), customer_add("2", "Adams"))
        )
    )
    assert [(s.request_id, s.status_code, s.status_severity) for s in statuses] == [
        ("1", 0, "Info"),
        ("2", 3100, "Error"),
    ]
    assert statuses[0].txn_or_list_id is not None


def test_non_latin1_text_is_stored_as_question_marks(
    company: Company, assert_valid: Validate
) -> None:
    msgs = run(company, message(customer_add("1", "Zo\u00eb \u4e2d")), assert_valid)
    assert msgs[0].findtext("CustomerRet/Name") == "Zo\u00eb ?"
