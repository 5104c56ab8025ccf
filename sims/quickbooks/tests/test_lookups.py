"""A lookup of a missing object answers 500 for every query type; a filter that matches
nothing answers 1 (FACTS: qbXML; Intuit's status-code table: 500 "The query request has not
been fully completed. There was a required element ("fieldValue") that could not be found in
QuickBooks.", 1 "A query request did not find a matching object in QuickBooks")."""

from __future__ import annotations

from qbsim_messages import Validate, add, message, ref, rq, run

from mlconnector.qbsim.company import Company
from mlconnector.qbsim.handlers import DEFAULT_HANDLERS

LIST_QUERIES = (
    "AccountQuery",
    "ClassQuery",
    "StandardTermsQuery",
    "TermsQuery",
    "PaymentMethodQuery",
    "SalesTaxCodeQuery",
    "CustomerQuery",
    "VendorQuery",
    "ItemQuery",
    "ItemServiceQuery",
    "ItemNonInventoryQuery",
    "ItemOtherChargeQuery",
    "ItemSalesTaxQuery",
)
TXN_QUERIES = ("InvoiceQuery", "CreditMemoQuery", "ReceivePaymentQuery", "BillQuery")
MISSING_LIST_ID = "8FFFFFFF-1714581000"
MISSING_TXN_ID = "FFFF-1714581000"


def _not_found(value: str) -> str:
    return (
        "The query request has not been fully completed. There was a required element "
        f'("{value}") that could not be found in QuickBooks.'
    )


def test_every_query_type_answers_500_for_a_missing_object_and_1_for_no_match(
    company: Company, assert_valid: Validate
) -> None:
    queries = {f"{tag}Rq" for tag in LIST_QUERIES + TXN_QUERIES}
    assert queries == {t for t in DEFAULT_HANDLERS if t.endswith("QueryRq")} - {"HostQueryRq"}
    requests = []
    expected = []
    for tag in LIST_QUERIES:
        requests += [
            rq(tag, f"{tag}-name", "<FullName>No Such Thing</FullName>"),
            rq(tag, f"{tag}-id", f"<ListID>{MISSING_LIST_ID}</ListID>"),
            rq(
                tag,
                f"{tag}-filter",
                "<NameFilter><MatchCriterion>StartsWith</MatchCriterion>"
                "<Name>zzz-nothing</Name></NameFilter>",
            ),
        ]
        expected += [
            (f"{tag}-name", "500", "Warn", _not_found("No Such Thing")),
            (f"{tag}-id", "500", "Warn", _not_found(MISSING_LIST_ID)),
            (
                f"{tag}-filter",
                "1",
                "Info",
                "A query request did not find a matching object in QuickBooks",
            ),
        ]
    for tag in TXN_QUERIES:
        requests += [
            rq(tag, f"{tag}-id", f"<TxnID>{MISSING_TXN_ID}</TxnID>"),
            rq(tag, f"{tag}-ref", "<RefNumber>NOPE-1</RefNumber>"),
        ]
        expected += [
            (f"{tag}-id", "500", "Warn", _not_found(MISSING_TXN_ID)),
            (
                f"{tag}-ref",
                "1",
                "Info",
                "A query request did not find a matching object in QuickBooks",
            ),
        ]
    msgs = run(company, message(*requests), assert_valid)
    assert [
        (r.get("requestID"), r.get("statusCode"), r.get("statusSeverity"), r.get("statusMessage"))
        for r in msgs
    ] == expected
    assert all(len(r) == 0 for r in msgs)


def test_an_object_of_another_kind_is_not_found_either(
    company: Company, assert_valid: Validate
) -> None:
    msgs = run(
        company,
        message(
            add("Customer", "c", "<Name>Smith, John</Name>"),
            add(
                "Bill",
                "b",
                ref("VendorRef", "Ferguson Supply")
                + "<ExpenseLineAdd>"
                + ref("AccountRef", "Job Materials")
                + "<Amount>5.00</Amount></ExpenseLineAdd>",
            ),
        ),
        assert_valid,
    )
    bill_id = msgs[1][0].findtext("TxnID")
    customer_id = msgs[0][0].findtext("ListID")
    msgs = run(
        company,
        message(
            rq("CustomerQuery", "vendor-as-customer", "<FullName>Ferguson Supply</FullName>"),
            rq("VendorQuery", "customer-as-vendor", f"<ListID>{customer_id}</ListID>"),
            rq("ItemServiceQuery", "part-as-service", "<FullName>PVC-075</FullName>"),
            rq("InvoiceQuery", "bill-as-invoice", f"<TxnID>{bill_id}</TxnID>"),
            # Found and missing together: what was found comes back, with the 500.
            rq(
                "ItemQuery",
                "some",
                "<FullName>PVC-075</FullName><FullName>No Such Thing</FullName>",
            ),
        ),
        assert_valid,
    )
    assert [(r.get("requestID"), r.get("statusCode")) for r in msgs] == [
        ("vendor-as-customer", "500"),
        ("customer-as-vendor", "500"),
        ("part-as-service", "500"),
        ("bill-as-invoice", "500"),
        ("some", "500"),
    ]
    assert [r.findtext("FullName") for r in msgs[4]] == ["PVC-075"]
    assert msgs[4].get("statusMessage") == _not_found("No Such Thing")
