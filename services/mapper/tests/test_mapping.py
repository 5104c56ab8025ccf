"""Pure translation: golden qbXML, schema validity, refusals, limits and text safety."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lxml import etree
from mapper_factories import (
    connection,
    customer_event,
    invoice,
    invoice_event,
)

from mlconnector.common.envelopes import Command, LateRef, record_guid
from mlconnector.common.mapping import MappingSettings
from mlconnector.common.models import InvoiceLine
from mlconnector.common.qbxml import Request, build_message, element_from_string
from mlconnector.mapper.commands import map_event
from mlconnector.mapper.errors import MappingError, UnsupportedEntityError
from mlconnector.mapper.invoices import map_invoice
from mlconnector.mapper.naming import external_guid, qb_name, qb_quantity, qb_rate
from mlconnector.mapper.parties import map_party as map_customer

GOLDEN_CUSTOMER = (
    "<CustomerAddRq><CustomerAdd>"
    "<Name>Jane Doe</Name>"
    "<IsActive>true</IsActive>"
    "<BillAddress><Addr1>Jane Doe</Addr1><Addr2>12 Main St</Addr2><Addr3>Suite 4</Addr3>"
    "<City>Springfield</City><State>IL</State><PostalCode>62701</PostalCode>"
    "<Country>USA</Country></BillAddress>"
    "<Phone>217-555-0100</Phone>"
    "<Email>jane@example.com</Email>"
    "</CustomerAdd></CustomerAddRq>"
)

GOLDEN_INVOICE = (
    "<InvoiceAddRq><InvoiceAdd>"
    "<CustomerRef><ListID>@ref:customer:1001</ListID></CustomerRef>"
    "<ARAccountRef><FullName>Accounts Receivable</FullName></ARAccountRef>"
    "<TxnDate>2024-05-01</TxnDate>"
    "<RefNumber>INV-1001</RefNumber>"
    "<BillAddress><Addr1>Jane Doe</Addr1><Addr2>12 Main St</Addr2><Addr3>Suite 4</Addr3>"
    "<City>Springfield</City><State>IL</State><PostalCode>62701</PostalCode>"
    "<Country>USA</Country></BillAddress>"
    "<DueDate>2024-05-31</DueDate>"
    "<ItemSalesTaxRef><FullName>ST Sales Tax</FullName></ItemSalesTaxRef>"
    "<Memo>Repaired kitchen sink leak</Memo>"
    "<ExternalGUID>{8F32303F-E98E-7287-B612-BF2411936BD3}</ExternalGUID>"
    "<InvoiceLineAdd><ItemRef><FullName>Labor</FullName></ItemRef>"
    "<Desc>Diagnose and repair leak</Desc><Quantity>2</Quantity><Rate>95.00</Rate>"
    "<Amount>190.00</Amount><SalesTaxCodeRef><FullName>Non</FullName></SalesTaxCodeRef>"
    "</InvoiceLineAdd>"
    "<InvoiceLineAdd><ItemRef><FullName>PVC-075</FullName></ItemRef>"
    "<Desc>3/4in PVC pipe</Desc><Quantity>10</Quantity><Rate>3.75</Rate>"
    "<Amount>37.50</Amount><SalesTaxCodeRef><FullName>Tax</FullName></SalesTaxCodeRef>"
    "</InvoiceLineAdd>"
    "</InvoiceAdd></InvoiceAddRq>"
)


@pytest.fixture(scope="module")
def schema(qbxml_xsd: Path) -> etree.XMLSchema:
    return etree.XMLSchema(etree.parse(str(qbxml_xsd)))


def assert_valid(schema: etree.XMLSchema, *fragments: str) -> str:
    """Wrap fragments as the gateway will, and validate the whole message against qbXML 13.0."""
    message = build_message(
        [Request(str(i), element_from_string(f)) for i, f in enumerate(fragments, start=1)]
    )
    document = etree.fromstring(message.encode("utf-8"))
    assert schema.validate(document), schema.error_log.last_error
    return message


def test_customer_golden(schema: etree.XMLSchema) -> None:
    event = customer_event()
    [command] = map_customer(event, connection())
    assert command.qbxml == GOLDEN_CUSTOMER
    assert command.lookup_qbxml == (
        "<CustomerQueryRq><FullName>Jane Doe</FullName></CustomerQueryRq>"
    )
    assert command.request_type == "CustomerAddRq"
    assert command.command_id == Command.make_id("acme-qb", event.event_id, "CustomerAddRq")
    assert command.command_id == "cmd-73736cbe4284c9d491975ad77bcc4b29"
    assert command.event_id == "1234567:customer:1001:2024-05-01T10:00:00Z"
    assert (command.connection, command.tenant, command.entity, command.st_id) == (
        "acme-qb",
        "1234567",
        "customer",
        1001,
    )
    assert command.refs == ()
    assert command.summary == "Customer Jane Doe"
    assert_valid(schema, command.qbxml, command.lookup_qbxml)


def test_invoice_golden(schema: etree.XMLSchema) -> None:
    event = invoice_event()
    [command] = map_invoice(event, connection())
    assert command.qbxml == GOLDEN_INVOICE
    assert command.lookup_qbxml == (
        "<InvoiceQueryRq><RefNumber>INV-1001</RefNumber></InvoiceQueryRq>"
    )
    assert command.command_id == Command.make_id("acme-qb", event.event_id, "InvoiceAddRq")
    assert command.command_id == "cmd-23917a4b4920d1f3a0a259ac634d8efb"
    # The ExternalGUID names the record (connection, entity, ServiceTitan id), not the command:
    # a lookup made for any later version finds the invoice this version posted.
    assert record_guid("acme-qb", "invoice", 5001) == "{8F32303F-E98E-7287-B612-BF2411936BD3}"
    later = map_invoice(invoice_event(version="2024-05-02T08:00:00Z"), connection())[0]
    assert later.command_id != command.command_id
    assert "{8F32303F-E98E-7287-B612-BF2411936BD3}" in later.qbxml
    assert external_guid(command.command_id) == "{23917A4B-4920-D1F3-A0A2-59AC634D8EFB}"
    assert command.refs == (
        LateRef(placeholder="@ref:customer:1001", entity="customer", st_id=1001),
    )
    assert command.summary == "Invoice INV-1001 for Jane Doe: 230.59"
    # The placeholder is a string in an IDTYPE (string, max 36) element: the message validates
    # before the gateway substitutes the real ListID.
    message = assert_valid(schema, command.qbxml, command.lookup_qbxml)
    assert message.startswith('<?xml version="1.0" encoding="utf-8"?>\n<?qbxml version="13.0"?>')


def test_mapping_is_deterministic() -> None:
    first = map_event(invoice_event(), connection())
    again = map_event(invoice_event(), connection())
    assert [c.command_id for c in first] == [c.command_id for c in again]
    assert [c.qbxml for c in first] == [c.qbxml for c in again]
    other_connection = map_event(invoice_event(), connection(name="other-qb"))
    assert other_connection[0].command_id != first[0].command_id


def test_mapping_settings_drive_accounts_items_and_tax_codes(schema: etree.XMLSchema) -> None:
    conn = connection().model_copy(
        update={
            "mapping": MappingSettings(
                ar_account="AR - Service",
                sales_tax_item="IL Tax",
                taxable_code="TX",
                non_taxable_code="NT",
                item_map={"Labor": "Service:Labor Hour"},
                class_from_business_unit=True,
            )
        }
    )
    record = invoice(business_unit="Plumbing")
    [command] = map_invoice(invoice_event(record), conn)
    root = etree.fromstring(command.qbxml)
    add = root.find("InvoiceAdd")
    assert add is not None
    assert add.findtext("ClassRef/FullName") == "Plumbing"
    assert add.findtext("ARAccountRef/FullName") == "AR - Service"
    assert add.findtext("ItemSalesTaxRef/FullName") == "IL Tax"
    lines = add.findall("InvoiceLineAdd")
    assert [line.findtext("ItemRef/FullName") for line in lines] == [
        "Service:Labor Hour",
        "PVC-075",
    ]
    assert [line.findtext("SalesTaxCodeRef/FullName") for line in lines] == ["NT", "TX"]
    assert [line.findtext("ClassRef/FullName") for line in lines] == ["Plumbing", "Plumbing"]
    assert_valid(schema, command.qbxml)


def test_long_sku_falls_back_to_default_item() -> None:
    long_sku = "X" * 32
    line = InvoiceLine(
        st_id=1,
        sku_name=long_sku,
        quantity=Decimal("1"),
        price=Decimal("10"),
        total=Decimal("10.00"),
    )
    record = invoice(
        lines=(line,), subtotal=Decimal("10.00"), sales_tax=Decimal("0"), total=Decimal("10.00")
    )
    [command] = map_invoice(invoice_event(record), connection())
    line_el = etree.fromstring(command.qbxml).find("InvoiceAdd/InvoiceLineAdd")
    assert line_el is not None
    assert line_el.findtext("ItemRef/FullName") == "ST Service"
    # With no description, the SKU name is what the customer reads on the line.
    assert line_el.findtext("Desc") == long_sku
    assert line_el.findtext("Rate") == "10.00"


def test_rate_is_left_out_when_it_would_not_reproduce_the_total(
    schema: etree.XMLSchema,
) -> None:
    # 3 x 3.333 = 9.999 -> 10.00, but ServiceTitan billed 9.99: QuickBooks must keep 9.99.
    line = InvoiceLine(
        st_id=1,
        sku_name="Fitting",
        quantity=Decimal("3"),
        price=Decimal("3.333"),
        total=Decimal("9.99"),
    )
    record = invoice(
        lines=(line,), subtotal=Decimal("9.99"), sales_tax=Decimal("0.00"), total=Decimal("9.99")
    )
    [command] = map_invoice(invoice_event(record), connection())
    line_el = etree.fromstring(command.qbxml).find("InvoiceAdd/InvoiceLineAdd")
    assert line_el is not None
    assert line_el.find("Rate") is None
    assert line_el.findtext("Quantity") == "3"
    assert line_el.findtext("Amount") == "9.99"
    assert_valid(schema, command.qbxml)


def test_number_formats() -> None:
    assert qb_quantity(Decimal("2.000")) == "2"
    assert qb_quantity(Decimal("1.50")) == "1.5"
    assert qb_quantity(Decimal("0.333333")) == "0.33333"
    assert qb_rate(Decimal("95")) == "95.00"
    assert qb_rate(Decimal("3.333")) == "3.333"
    assert qb_rate(Decimal("-5.5")) == "-5.50"


@pytest.mark.parametrize(
    ("subtotal", "sales_tax", "total", "expected"),
    [
        (
            "227.49",
            "3.09",
            "230.58",
            "invoice INV-1001 (ServiceTitan id 5001, event "
            "1234567:invoice:5001:2024-05-01T17:00:00Z): lines add up to 227.50 but the subtotal "
            "is 227.49 (difference 0.01)",
        ),
        (
            "227.50",
            "3.09",
            "230.60",
            "invoice INV-1001 (ServiceTitan id 5001, event "
            "1234567:invoice:5001:2024-05-01T17:00:00Z): subtotal 227.50 + sales tax 3.09 = "
            "230.59 but the total is 230.60 (difference -0.01)",
        ),
    ],
)
def test_amounts_that_do_not_add_up_produce_no_command(
    subtotal: str, sales_tax: str, total: str, expected: str
) -> None:
    record = invoice(subtotal=Decimal(subtotal), sales_tax=Decimal(sales_tax), total=Decimal(total))
    with pytest.raises(MappingError) as caught:
        map_invoice(invoice_event(record), connection())
    assert str(caught.value) == expected
    assert caught.value.hint.startswith("Correct the invoice")


def test_invoice_without_lines_is_refused() -> None:
    record = invoice(lines=(), subtotal=Decimal("0"), sales_tax=Decimal("0"), total=Decimal("0"))
    with pytest.raises(MappingError, match=r"invoice INV-1001 \(ServiceTitan id 5001\) has no"):
        map_invoice(invoice_event(record), connection())


def test_entities_not_yet_mapped_are_refused_clearly() -> None:
    event = customer_event().model_copy(update={"entity": "estimate"})
    with pytest.raises(UnsupportedEntityError, match="does not translate estimate records yet"):
        map_event(event, connection())


def test_a_record_under_the_wrong_entity_is_refused() -> None:
    event = customer_event().model_copy(update={"entity": "vendor"})
    with pytest.raises(MappingError, match="is not a vendor record"):
        map_event(event, connection())


def test_long_customer_name_keeps_the_servicetitan_id(schema: etree.XMLSchema) -> None:
    name = "Springfield Municipal Water & Sewer Department Annex"
    event = customer_event(name=name)
    [command] = map_customer(event, connection())
    expected = "Springfield Municipal Water & Sewer #1001"
    assert len(expected) == 41
    root = etree.fromstring(command.qbxml)
    assert root.findtext("CustomerAdd/Name") == expected
    assert "<Name>Springfield Municipal Water &amp; Sewer #1001</Name>" in command.qbxml
    assert (
        command.lookup_qbxml == f"<CustomerQueryRq><FullName>{expected.replace('&', '&amp;')}"
        "</FullName></CustomerQueryRq>"
    )
    # The addressee line is cut at the schema limit rather than suffixed.
    assert root.findtext("CustomerAdd/BillAddress/Addr1") == name[:41].rstrip()
    assert_valid(schema, command.qbxml, command.lookup_qbxml)


def test_names_never_contain_the_fullname_separator() -> None:
    assert qb_name("Smith: Kitchen", 7) == "Smith- Kitchen"
    assert qb_name("  \n ", 7) == "ServiceTitan #7"
    assert qb_name("A" * 41, 123456789) == "A" * 41
    assert qb_name("A" * 42, 123456789) == "A" * 30 + " #123456789"


def test_long_invoice_number_keeps_its_end_and_memo_keeps_it_whole(
    schema: etree.XMLSchema,
) -> None:
    record = invoice(number="2024-SPRING-000123")
    [command] = map_invoice(invoice_event(record), connection())
    root = etree.fromstring(command.qbxml)
    assert root.findtext("InvoiceAdd/RefNumber") == "RING-000123"
    assert root.findtext("InvoiceAdd/Memo") == (
        "ServiceTitan invoice 2024-SPRING-000123: Repaired kitchen sink leak"
    )
    assert command.lookup_qbxml == (
        "<InvoiceQueryRq><RefNumber>RING-000123</RefNumber></InvoiceQueryRq>"
    )
    assert_valid(schema, command.qbxml, command.lookup_qbxml)


def test_long_memo_is_cut_to_the_schema_limit(schema: etree.XMLSchema) -> None:
    [command] = map_invoice(invoice_event(invoice(summary="x" * 5000)), connection())
    assert etree.fromstring(command.qbxml).findtext("InvoiceAdd/Memo") == "x" * 4095
    assert_valid(schema, command.qbxml)


def test_non_latin1_text_is_transliterated(schema: etree.XMLSchema) -> None:
    event = customer_event(name="Zoë Łukasiewicz “Ünïcode” Café 東京")
    [command] = map_customer(event, connection())
    name = etree.fromstring(command.qbxml).findtext("CustomerAdd/Name")
    # Latin-1 letters stay (QuickBooks shows them); the rest is spelled in Latin letters.
    assert name == 'Zoë Lukasiewicz "Ünïcode" Café DongJing'
    assert name.encode("iso-8859-1")
    record = invoice(summary="Replaced valve \u2013 \u20ac120 quote\u2026 \u2713")
    [inv] = map_invoice(invoice_event(record), connection())
    assert etree.fromstring(inv.qbxml).findtext("InvoiceAdd/Memo") == (
        "Replaced valve - ?120 quote... ?"
    )
    assert_valid(schema, command.qbxml, inv.qbxml)


def test_inactive_customer_is_added_inactive() -> None:
    [command] = map_customer(customer_event(active=False), connection())
    assert "<IsActive>false</IsActive>" in command.qbxml


_text = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=200)


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(name=_text, memo=_text)
def test_any_text_survives_escaping_and_validates(
    schema: etree.XMLSchema, name: str, memo: str
) -> None:
    [customer] = map_customer(customer_event(name=name), connection())
    [inv] = map_invoice(invoice_event(invoice(summary=memo, customer_name=name)), connection())
    assert_valid(schema, customer.qbxml, customer.lookup_qbxml or "", inv.qbxml)
    qb_name_text = etree.fromstring(customer.qbxml).findtext("CustomerAdd/Name")
    assert qb_name_text is not None
    assert 0 < len(qb_name_text) <= 41
    assert ":" not in qb_name_text
    qb_name_text.encode("iso-8859-1")  # raises if anything outside Latin-1 slipped through
    memo_text = etree.fromstring(inv.qbxml).findtext("InvoiceAdd/Memo") or ""
    memo_text.encode("iso-8859-1")
    assert len(memo_text) <= 4095
    # Escaping is lossless: what the element holds is exactly the transliterated input.
    from mlconnector.common.qbxml import to_qb_text

    assert memo_text == to_qb_text(memo).strip()[:4095]


def test_dates_are_iso() -> None:
    record = invoice(invoice_date=dt.date(2024, 12, 31), due_date=None)
    [command] = map_invoice(invoice_event(record), connection())
    root = etree.fromstring(command.qbxml)
    assert root.findtext("InvoiceAdd/TxnDate") == "2024-12-31"
    assert root.find("InvoiceAdd/DueDate") is None


def test_a_character_that_transliterates_to_a_colon_never_makes_a_job_separator() -> None:
    from mlconnector.mapper.naming import qb_name

    assert qb_name("\u0705", 1001) == "-"
    assert qb_name("A\u0705B: C", 1001) == "A-B- C"
