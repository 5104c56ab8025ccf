from __future__ import annotations

import pytest
from lxml import etree

from mlconnector.common.qbxml import (
    Request,
    build_message,
    element_from_string,
    parse_response,
    severity_of,
    sub,
    to_qb_text,
)
from mlconnector.common.qbxml.schema import QbxmlSchemaError, validate
from mlconnector.common.qbxml.status import advice_for


def _customer_add(name: str) -> etree._Element:
    rq = etree.Element("CustomerAddRq")
    add = sub(rq, "CustomerAdd")
    sub(add, "Name", name)
    return rq


def test_message_has_declaration_version_and_on_error_and_validates() -> None:
    xml = build_message([Request("1", _customer_add("Smith & Sons <HVAC>"))], "stopOnError")
    assert xml.startswith('<?xml version="1.0" encoding="utf-8"?>\n<?qbxml version="13.0"?>\n')
    assert (
        '<QBXML><QBXMLMsgsRq onError="stopOnError"><CustomerAddRq requestID="1"><CustomerAdd>'
        "<Name>Smith &amp; Sons &lt;HVAC&gt;</Name></CustomerAdd></CustomerAddRq>"
        "</QBXMLMsgsRq></QBXML>"
    ) in xml
    validate(xml)


def test_schema_rejects_a_too_long_name() -> None:
    with pytest.raises(QbxmlSchemaError, match="Name"):
        validate(build_message([Request("1", _customer_add("x" * 42))]))


def test_request_id_over_50_characters_is_refused() -> None:
    with pytest.raises(ValueError, match="50"):
        build_message([Request("r" * 51, _customer_add("A"))])


def test_response_statuses_are_parsed_per_request() -> None:
    xml = """<?xml version="1.0" ?><QBXML><QBXMLMsgsRs>
      <CustomerAddRs requestID="1" statusCode="0" statusSeverity="Info" statusMessage="Status OK">
        <CustomerRet><ListID>80000001-1700000000</ListID><EditSequence>1700000000</EditSequence>
        </CustomerRet></CustomerAddRs>
      <InvoiceAddRs requestID="2" statusCode="3140" statusSeverity="Error"
        statusMessage="There is an invalid reference to QuickBooks Customer &quot;x&quot;."/>
      <CustomerQueryRs requestID="3" statusCode="1" statusSeverity="Info"
        statusMessage="A query request did not find a matching object in QuickBooks"/>
    </QBXMLMsgsRs></QBXML>"""
    first, second, third = parse_response(xml)
    assert (first.request_id, first.ok, first.txn_or_list_id) == ("1", True, "80000001-1700000000")
    assert first.ret_text("EditSequence") == "1700000000"
    assert (second.status_code, second.status_severity) == (3140, "Error")
    assert second.status_message == 'There is an invalid reference to QuickBooks Customer "x".'
    assert (third.status_code, third.ok, third.ret) == (1, False, None)


@pytest.mark.parametrize(
    ("code", "severity"),
    [
        (0, "Info"),
        (1, "Info"),
        (499, "Info"),
        (500, "Warn"),
        (999, "Warn"),
        (1000, "Error"),
        (3200, "Error"),
    ],
)
def test_severity_follows_intuits_ranges(code: int, severity: str) -> None:
    assert severity_of(code) == severity


LOCKED = (
    "There was an error when saving a Customers list element. QuickBooks error message: "
    "The record is in use by another user."
)
# QuickBooks' words for the business rule (AYS Software's export-error guide).
CREDIT_LIMIT = (
    "There was an error when saving a Invoice. QuickBooks error message: The credit limit "
    "for the name on this transaction has been exceeded."
)


def test_retryable_codes_are_the_lock_and_busy_ones() -> None:
    codes = (1000, 1010, 3100, 3140, 3170, 3171, 3175, 3176, 3200, 3210)
    assert {c for c in codes if advice_for(c).retryable} == {1000, 1010, 3170, 3175, 3176, 3200}
    assert "names are shared" in advice_for(3100).hint
    assert "closing date" in advice_for(3171).hint


def test_3180_is_retried_only_when_the_record_is_in_use() -> None:
    assert advice_for(3180, LOCKED).retryable
    limit = advice_for(3180, CREDIT_LIMIT)
    assert not limit.retryable
    assert limit.hint.startswith("The customer's credit limit in QuickBooks would be exceeded.")
    other = advice_for(
        3180,
        "There was an error when saving a Invoice. QuickBooks error "
        "message: This transaction is out of balance.",
    )
    assert not other.retryable


def test_text_outside_latin1_is_transliterated_and_cut() -> None:
    assert to_qb_text("Müller “HVAC” – Łódź 東") == 'Müller "HVAC" - Lódz Dong'
    assert to_qb_text("\U0001f6bf") == "?"
    assert to_qb_text("abcdef", 4) == "abcd"
    assert to_qb_text("a\x00b\tc") == "ab\tc"


def test_trusted_fragment_round_trips() -> None:
    element = element_from_string(
        "<CustomerQueryRq><FullName>A &amp; B</FullName></CustomerQueryRq>"
    )
    assert element.findtext("FullName") == "A & B"
