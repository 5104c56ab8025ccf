"""Payments, bills, vendors, upserts, items and jobs on demand, fingerprints, ordering, text."""

from __future__ import annotations

from decimal import Decimal

import pytest
from lxml import etree
from mapper_checks import assert_valid, with_sample_ids
from mapper_factories import (
    connection,
    contractor_invoice,
    customer_event,
    event_for,
    inventory_bill,
    invoice,
    invoice_event,
    payment,
    vendor,
)

from mlconnector.common.connections import Connection
from mlconnector.common.envelopes import Command
from mlconnector.common.mapping import MappingSettings
from mlconnector.common.models import (
    Bill,
    BillLine,
    GLAccount,
    Invoice,
    InvoiceLine,
    Payment,
    PaymentApplication,
)
from mlconnector.common.qbxml import to_qb_text
from mlconnector.mapper.commands import dependency_rank, map_event
from mlconnector.mapper.errors import MappingError


def with_mapping(**settings: object) -> Connection:
    return connection().model_copy(update={"mapping": MappingSettings.model_validate(settings)})


def root_of(command: Command) -> etree._Element:
    return etree.fromstring(command.qbxml)


# --- payments ---------------------------------------------------------------------------


def test_payment_that_does_not_add_up_is_refused_naming_the_difference() -> None:
    record = payment(total=Decimal("150.00"), unapplied=Decimal("40.00"))
    with pytest.raises(MappingError) as caught:
        map_event(event_for(record), connection())
    assert str(caught.value) == (
        "payment 7001 from Jane Doe (event 1234567:payment:7001:2024-05-03T09:00:00Z): applied "
        "100.00 + unapplied 40.00 = 140.00 but the total is 150.00 (difference -10.00)"
    )
    assert caught.value.hint.startswith("Correct the payment's applications")


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"total": Decimal("0"), "applications": ()}, "total 0.00 is not a payment"),
        ({"total": Decimal("-20"), "applications": ()}, "total -20.00 is not a payment"),
        ({"unapplied": Decimal("-1")}, "unapplied amount -1.00 is negative"),
        (
            {
                "total": Decimal("50.00"),
                "applications": (
                    PaymentApplication(invoice_st_id=5001, amount=Decimal("100.00")),
                    PaymentApplication(invoice_st_id=5002, amount=Decimal("-50.00")),
                ),
            },
            "the application to invoice 5002 is -50.00",
        ),
    ],
)
def test_payments_quickbooks_cannot_receive_are_refused(
    changes: dict[str, object], message: str
) -> None:
    with pytest.raises(MappingError, match=message):
        map_event(event_for(payment(**changes)), connection())


def test_unapplied_payment_stays_a_credit_and_says_so() -> None:
    record = payment(
        total=Decimal("75.00"), unapplied=Decimal("75.00"), applications=(), reference=""
    )
    [command] = map_event(event_for(record), connection())
    add = root_of(command).find("ReceivePaymentAdd")
    assert add is not None
    assert add.findtext("IsAutoApply") == "false"
    assert add.find("AppliedToTxnAdd") is None
    assert add.find("RefNumber") is None
    assert add.find("PaymentMethodRef") is None  # unmapped payment type: no method
    assert add.findtext("DepositToAccountRef/FullName") == "Undeposited Funds"
    assert add.findtext("Memo") == (
        "Deposit, balance on completion; Unapplied 75.00 stays as a credit (unused payment) "
        "for Jane Doe in QuickBooks"
    )
    assert "not applied to any invoice" in command.summary
    # No RefNumber: the lookup narrows by date; the gateway matches the ExternalGUID.
    assert command.lookup_qbxml == (
        "<ReceivePaymentQueryRq><TxnDateRangeFilter><FromTxnDate>2024-05-03</FromTxnDate>"
        "<ToTxnDate>2024-05-03</ToTxnDate></TxnDateRangeFilter></ReceivePaymentQueryRq>"
    )
    assert_valid(command.qbxml, command.lookup_qbxml)


def test_two_applications_to_one_invoice_are_merged() -> None:
    record = payment(
        total=Decimal("100.00"),
        applications=(
            PaymentApplication(invoice_st_id=5001, amount=Decimal("60.00")),
            PaymentApplication(invoice_st_id=5001, amount=Decimal("40.00")),
        ),
    )
    [command] = map_event(event_for(record), connection())
    applied = root_of(command).findall("ReceivePaymentAdd/AppliedToTxnAdd")
    assert [(a.findtext("TxnID"), a.findtext("PaymentAmount")) for a in applied] == [
        ("@ref:invoice:5001", "100.00")
    ]
    assert [ref.st_id for ref in command.refs] == [1001, 5001]


def test_long_payment_reference_keeps_its_end_and_the_memo_keeps_it_whole() -> None:
    record = payment(reference="STRIPE-ch_3P9xYz2eZvKYlo2C1a2b3c4d")
    [command] = map_event(event_for(record), connection())
    add = root_of(command).find("ReceivePaymentAdd")
    assert add is not None
    assert (
        add.findtext("RefNumber") == "o2C1a2b3c4d"[-20:]
        or len(add.findtext("RefNumber") or "") == 20
    )
    assert add.findtext("RefNumber") == "STRIPE-ch_3P9xYz2eZvKYlo2C1a2b3c4d"[-20:]
    assert "ServiceTitan reference STRIPE-ch_3P9xYz2eZvKYlo2C1a2b3c4d" in (
        add.findtext("Memo") or ""
    )
    assert "shortened to QuickBooks' limits: RefNumber" in command.summary
    assert_valid(command.qbxml, command.lookup_qbxml or "")


# --- bills ------------------------------------------------------------------------------


def test_bill_rounding_difference_posts_as_its_own_line() -> None:
    # Three lines of 0.125 each: QuickBooks shows 0.13 three times (0.39), ServiceTitan's
    # amount was rounded once (0.38): the cent goes to the rounding account, never dropped.
    lines = tuple(
        BillLine(st_id=i, sku_name=f"WSHR-{i}", quantity=Decimal("1"), cost=Decimal("0.125"))
        for i in range(1, 4)
    )
    record = inventory_bill(
        lines=lines, total=Decimal("0.38"), tax=Decimal("0"), shipping=Decimal("0")
    )
    conn = with_mapping(rounding_account="Rounding Differences")
    [command] = map_event(event_for(record), conn)
    expense = root_of(command).findall("BillAdd/ExpenseLineAdd")
    assert [(e.findtext("AccountRef/FullName"), e.findtext("Amount")) for e in expense] == [
        ("Cost of Goods Sold", "0.13"),
        ("Cost of Goods Sold", "0.13"),
        ("Cost of Goods Sold", "0.13"),
        ("Rounding Differences", "-0.01"),
    ]
    assert command.fingerprint["rounding"] == "-0.01 -> Rounding Differences"
    assert sum(Decimal(e.findtext("Amount") or "") for e in expense) == Decimal("0.38")
    assert_valid(command.qbxml)


def test_bill_that_does_not_add_up_beyond_rounding_is_refused() -> None:
    record = inventory_bill(total=Decimal("1900.00"))
    with pytest.raises(MappingError) as caught:
        map_event(event_for(record), connection())
    assert "items 1715.30 + tax 140.25 + shipping 35.00 + other 0.00 = 1890.55 but the bill " in (
        str(caught.value)
    )
    assert "(difference 9.45, more than rounding explains)" in str(caught.value)


def test_bill_other_amount_and_class_and_mapped_accounts() -> None:
    record = inventory_bill(
        other=Decimal("12.00"), total=Decimal("1902.55"), business_unit="HVAC - Install"
    )
    conn = with_mapping(
        bill_tax_account="Purchase Tax",
        bill_shipping_account="Freight In",
        bill_other_account="Job Materials",
        class_from_business_unit=True,
        class_map={"HVAC - Install": "HVAC:Install"},
    )
    [command] = map_event(event_for(record), conn)
    expense = root_of(command).findall("BillAdd/ExpenseLineAdd")
    assert [(e.findtext("AccountRef/FullName"), e.findtext("Amount")) for e in expense][-3:] == [
        ("Purchase Tax", "140.25"),
        ("Freight In", "35.00"),
        ("Job Materials", "12.00"),
    ]
    assert {e.findtext("ClassRef/FullName") for e in expense} == {"HVAC:Install"}
    # Unmapped ServiceTitan GL accounts post to the QuickBooks account of the same name.
    assert expense[0].findtext("AccountRef/FullName") == "Inventory Asset"
    assert_valid(command.qbxml)


def test_negative_bill_is_a_vendor_credit_and_refused() -> None:
    record = inventory_bill(
        lines=(), total=Decimal("-10.00"), tax=Decimal("0"), shipping=Decimal("-10.00")
    )
    with pytest.raises(MappingError, match="is negative: that is a vendor credit"):
        map_event(event_for(record), connection())


def test_bill_without_lines_or_amounts_is_refused() -> None:
    record = inventory_bill(lines=(), total=Decimal("0"), tax=Decimal("0"), shipping=Decimal("0"))
    with pytest.raises(MappingError, match="has no items and no amounts"):
        map_event(event_for(record), connection())


def test_bill_without_reference_is_looked_up_by_date() -> None:
    [command] = map_event(event_for(inventory_bill(reference="")), connection())
    assert root_of(command).find("BillAdd/RefNumber") is None
    assert command.lookup_qbxml is not None
    assert "<TxnDateRangeFilter>" in command.lookup_qbxml
    assert_valid(command.qbxml, command.lookup_qbxml)


# --- customers and vendors: upserts -----------------------------------------------------


@pytest.mark.parametrize("entity", ["customer", "vendor"])
def test_inactive_records_are_inactive_in_add_and_mod(entity: str) -> None:
    event = (
        customer_event(active=False) if entity == "customer" else event_for(vendor(active=False))
    )
    [command] = map_event(event, connection())
    assert command.mod_qbxml is not None
    assert "<IsActive>false</IsActive>" in command.qbxml
    assert "<IsActive>false</IsActive>" in command.mod_qbxml
    assert command.summary.endswith("(inactive)")
    assert_valid(command.qbxml, with_sample_ids(command.mod_qbxml))


def test_name_suffix_always_keeps_same_named_customers_apart() -> None:
    conn = with_mapping(name_id_suffix="always")
    [first] = map_event(customer_event(st_id=1001, name="John Smith"), conn)
    [second] = map_event(customer_event(st_id=1002, name="John Smith"), conn)
    names = [root_of(c).findtext("CustomerAdd/Name") for c in (first, second)]
    assert names == ["John Smith #1001", "John Smith #1002"]
    assert first.lookup_qbxml is not None
    assert "<FullName>John Smith #1001</FullName>" in first.lookup_qbxml
    long = "Springfield Municipal Water & Sewer Department Annex"
    [third] = map_event(customer_event(st_id=1003, name=long), conn)
    assert (
        root_of(third).findtext("CustomerAdd/Name") == "Springfield Municipal Water & Sewer #1003"
    )


def test_vendor_with_a_long_name_keeps_its_id() -> None:
    name = "Johnstone Supply of Central Illinois Wholesale Division"
    [command] = map_event(event_for(vendor(name=name)), connection())
    assert root_of(command).findtext("VendorAdd/Name") == (
        "Johnstone Supply of Central Illinoi #2001"
    )
    assert "shortened to QuickBooks' limits: Name" in command.summary


# --- invoices: mapping settings ----------------------------------------------------------


def test_terms_only_when_mapped_and_class_from_business_unit() -> None:
    record = contractor_invoice(business_unit="Plumbing:Service")
    [plain] = map_event(event_for(record), connection())
    assert root_of(plain).find("InvoiceAdd/TermsRef") is None  # "Net 30" is not mapped
    assert root_of(plain).find("InvoiceAdd/ClassRef") is None
    conn = with_mapping(
        default_terms="Due on receipt",
        class_from_business_unit=True,
        tax_item_map={"Plumbing:Service": "Springfield IL"},
    )
    [command] = map_event(event_for(record), conn)
    add = root_of(command).find("InvoiceAdd")
    assert add is not None
    assert add.findtext("TermsRef/FullName") == "Due on receipt"
    # ':' is QuickBooks' hierarchy: the class "Service" under "Plumbing", kept as it is.
    assert add.findtext("ClassRef/FullName") == "Plumbing:Service"
    assert add.findtext("ItemSalesTaxRef/FullName") == "Springfield IL"
    assert command.fingerprint["class"] == "Plumbing:Service"
    assert_valid(command.qbxml)


def test_tax_as_a_line_matches_servicetitan_to_the_cent() -> None:
    conn = with_mapping(tax_mode="line")
    [command] = map_event(event_for(contractor_invoice()), conn)
    add = root_of(command).find("InvoiceAdd")
    assert add is not None
    assert add.find("ItemSalesTaxRef") is None
    lines = add.findall("InvoiceLineAdd")
    assert {line.findtext("SalesTaxCodeRef/FullName") for line in lines} == {"Non"}
    assert lines[-1].findtext("ItemRef/FullName") == "ST Sales Tax"
    assert lines[-1].findtext("Amount") == "97.97"
    assert sum(Decimal(line.findtext("Amount") or "") for line in lines) == Decimal("1561.97")
    assert_valid(command.qbxml)


def test_no_line_is_taxable_when_servicetitan_charged_no_tax() -> None:
    record = contractor_invoice(sales_tax=Decimal("0"), total=Decimal("1464.00"))
    [command] = map_event(event_for(record), connection())
    codes = root_of(command).findall("InvoiceAdd/InvoiceLineAdd/SalesTaxCodeRef/FullName")
    assert {code.text for code in codes} == {"Non"}


def test_items_per_gl_account_are_created_on_demand_before_the_invoice() -> None:
    service = GLAccount(id=1, name="Service Income", number="4000")
    equipment = GLAccount(id=2, name="Equipment Sales - Water Heaters & Tanks", number="4100")
    lines = tuple(
        line.model_copy(update={"gl_account": gl})
        for line, gl in zip(
            contractor_invoice().lines, (service, service, equipment, equipment, None), strict=True
        )
    )
    conn = with_mapping(
        item_strategy="gl_account",
        gl_item_type="other_charge",
        gl_item_prefix="ST ",
        gl_account_map={"4100": "Sales:Equipment"},
    )
    commands = map_event(event_for(contractor_invoice(lines=lines)), conn)
    assert [c.request_type for c in commands] == [
        "ItemOtherChargeAddRq",
        "ItemOtherChargeAddRq",
        "InvoiceAddRq",
    ]
    assert len({c.command_id for c in commands}) == 3
    assert [c.is_prerequisite for c in commands] == [True, True, False]
    first, second, inv = commands
    assert first.qbxml == (
        "<ItemOtherChargeAddRq><ItemOtherChargeAdd><Name>ST Service Income</Name>"
        "<SalesOrPurchase><Desc>ServiceTitan GL account Service Income (4000)</Desc>"
        "<AccountRef><FullName>Service Income</FullName></AccountRef></SalesOrPurchase>"
        "</ItemOtherChargeAdd></ItemOtherChargeAddRq>"
    )
    assert first.lookup_qbxml == (
        "<ItemQueryRq><FullName>ST Service Income</FullName></ItemQueryRq>"
    )
    assert root_of(second).findtext("ItemOtherChargeAdd/Name") == "ST Equipment Sales - Wate #4100"
    assert root_of(second).findtext("ItemOtherChargeAdd/SalesOrPurchase/AccountRef/FullName") == (
        "Sales:Equipment"
    )
    items = root_of(inv).findall("InvoiceAdd/InvoiceLineAdd/ItemRef/FullName")
    assert [i.text for i in items] == [
        "ST Service Income",
        "ST Service Income",
        "ST Equipment Sales - Wate #4100",
        "ST Equipment Sales - Wate #4100",
        "ST Service",  # a line without a GL account: the default item
    ]
    assert_valid(*(c.qbxml for c in commands), *(c.lookup_qbxml or "" for c in commands))


def test_location_as_job_adds_the_job_first_and_invoices_it() -> None:
    conn = with_mapping(location_as_job=True)
    record = contractor_invoice(location_name="Rental: 48 Elm Ct")
    job, inv = map_event(event_for(record), conn)
    assert job.request_type == "CustomerAddRq"
    assert job.is_prerequisite
    assert not inv.is_prerequisite
    job_add = root_of(job).find("CustomerAdd")
    assert job_add is not None
    assert job_add.findtext("Name") == "Rental- 48 Elm Ct"
    assert job_add.findtext("ParentRef/ListID") == "@ref:customer:1001"
    assert job.lookup_qbxml == (
        "<CustomerQueryRq><FullName>Jane Doe:Rental- 48 Elm Ct</FullName></CustomerQueryRq>"
    )
    assert root_of(inv).findtext("InvoiceAdd/CustomerRef/FullName") == "Jane Doe:Rental- 48 Elm Ct"
    # The invoice still waits for the customer to post (the job's parent).
    assert [(r.entity, r.st_id) for r in inv.refs] == [("customer", 1001)]
    assert inv.fingerprint["job"] == "Jane Doe:Rental- 48 Elm Ct"
    assert_valid(job.qbxml, job.lookup_qbxml or "", inv.qbxml)
    # Without a location the invoice goes to the customer itself.
    [only] = map_event(event_for(contractor_invoice(location_st_id=None)), conn)
    assert only.request_type == "InvoiceAddRq"


# --- fingerprints, ordering ----------------------------------------------------------------


@pytest.mark.parametrize(
    "record",
    [contractor_invoice(), payment(), inventory_bill()],
    ids=["invoice", "payment", "bill"],
)
def test_fingerprints_are_stable(record: Invoice | Payment | Bill) -> None:
    first = map_event(event_for(record), connection())[-1]
    again = map_event(event_for(record, version="2024-06-01T00:00:00Z"), connection())[-1]
    assert first.fingerprint
    assert first.fingerprint == again.fingerprint
    assert all(isinstance(k, str) and isinstance(v, str) for k, v in first.fingerprint.items())
    assert first.fingerprint["total"] != "1.00"


def test_a_changed_invoice_line_shows_in_the_fingerprint() -> None:
    before = map_event(event_for(contractor_invoice()), connection())[-1].fingerprint
    lines = list(contractor_invoice().lines)
    lines[1] = lines[1].model_copy(update={"quantity": Decimal("3"), "total": Decimal("285.00")})
    record = contractor_invoice(
        lines=tuple(lines),
        subtotal=Decimal("1511.50"),
        total=Decimal("1609.47"),
    )
    after = map_event(event_for(record), connection())[-1].fingerprint
    differences = {
        k: (before.get(k), after.get(k)) for k in before | after if before.get(k) != after.get(k)
    }
    assert differences == {
        "line 2": ("Labor: 2.5 x 95.00 = 237.50", "Labor: 3 x 95.00 = 285.00"),
        "subtotal": ("1464.00", "1511.50"),
        "total": ("1561.97", "1609.47"),
    }


def test_dependency_rank_sorts_a_batch_dependencies_first() -> None:
    assert [dependency_rank(e) for e in ("customer", "vendor", "invoice", "bill", "payment")] == [
        0,
        0,
        1,
        1,
        2,
    ]
    batch = [
        *map_event(event_for(payment()), connection()),
        *map_event(invoice_event(), connection()),
        *map_event(event_for(inventory_bill()), connection()),
        *map_event(customer_event(), connection()),
        *map_event(event_for(vendor()), connection()),
    ]
    ordered = sorted(batch, key=lambda c: dependency_rank(c.entity))
    assert [c.entity for c in ordered] == ["customer", "vendor", "invoice", "bill", "payment"]


# --- text -----------------------------------------------------------------------------------


def test_xml_special_characters_are_escaped_and_read_back_exactly() -> None:
    nasty = 'Tom & Jerry\'s <Plumbing> "Co" ]]> &amp;'
    [command] = map_event(event_for(vendor(name=nasty)), connection())
    assert '<Name>Tom &amp; Jerry\'s &lt;Plumbing&gt; "Co" ]]&gt; &amp;amp;</Name>' in (
        command.qbxml
    )
    assert root_of(command).findtext("VendorAdd/Name") == nasty
    record = payment(memo=nasty)
    [pay] = map_event(event_for(record), connection())
    assert root_of(pay).findtext("ReceivePaymentAdd/Memo") == nasty
    assert_valid(command.qbxml, pay.qbxml)


def test_transliterated_and_shortened_fields_are_named_in_the_summary() -> None:
    line = InvoiceLine(
        st_id=1,
        sku_name="Labor",
        description="Réparation — chauffe-eau ✓",
        quantity=Decimal("1"),
        price=Decimal("10"),
        total=Decimal("10.00"),
    )
    record = invoice(
        lines=(line,),
        subtotal=Decimal("10.00"),
        sales_tax=Decimal("0"),
        total=Decimal("10.00"),
        summary="Zoë’s “kitchen”",
        number="2024-SPRING-000123",
    )
    [command] = map_event(invoice_event(record), connection())
    assert command.summary == (
        "Invoice 2024-SPRING-000123 for Jane Doe: 10.00 [transliterated for QuickBooks: Memo, "
        "Desc (line 1); shortened to QuickBooks' limits: RefNumber (the whole number is in Memo)]"
    )
    line_el = root_of(command).find("InvoiceAdd/InvoiceLineAdd")
    assert line_el is not None
    assert line_el.findtext("Desc") == to_qb_text("Réparation — chauffe-eau ✓")
    assert line_el.findtext("Desc") == "Réparation - chauffe-eau ?"
