"""Issue 9 on the mapper's side: one transaction per record, Mods by line key, credit memos,
voids, expected amounts, tax zones, hierarchical names."""

from __future__ import annotations

from decimal import Decimal

import pytest
from lxml import etree
from mapper_checks import assert_valid, with_sample_ids
from mapper_factories import connection, contractor_invoice, event_for, inventory_bill, payment

from mlconnector.common.connections import Connection
from mlconnector.common.envelopes import LINE_ID_PREFIX, Command, record_guid
from mlconnector.common.mapping import MappingSettings
from mlconnector.common.models import BillLine, GLAccount, Invoice, InvoiceLine
from mlconnector.mapper.commands import map_event
from mlconnector.mapper.errors import MappingError


def with_mapping(**settings: object) -> Connection:
    return connection().model_copy(update={"mapping": MappingSettings.model_validate(settings)})


def root(command: Command, mod: bool = False) -> etree._Element:
    return etree.fromstring((command.mod_qbxml or "") if mod else command.qbxml)


def guid_of(command: Command) -> str | None:
    return next(iter(root(command).iter("ExternalGUID"))).text


# --- one record, one transaction ------------------------------------------------------------


@pytest.mark.parametrize(
    ("record", "entity"),
    [(contractor_invoice(), "invoice"), (payment(), "payment"), (inventory_bill(), "bill")],
    ids=["invoice", "payment", "bill"],
)
def test_every_version_and_generation_carries_the_records_guid(record: object, entity: str) -> None:
    first = map_event(event_for(record, version="2024-05-03T09:00:00Z"), connection())[-1]
    edited = map_event(event_for(record, version="2024-05-04T10:30:00Z"), connection())[-1]
    retried_event = event_for(record, version="2024-05-03T09:00:00Z").model_copy(
        update={"generation": 1767225600000}
    )
    retried = map_event(retried_event, connection())[-1]
    assert len({first.command_id, edited.command_id, retried.command_id}) == 3
    st_id = record.st_id  # type: ignore[attr-defined]
    expected = record_guid("acme-qb", entity, st_id)
    assert guid_of(first) == guid_of(edited) == guid_of(retried) == expected
    assert retried.generation == 1767225600000
    # Another connection of the same tenant posts to another company: its own GUID.
    other = map_event(event_for(record), connection(name="other-qb"))[-1]
    assert guid_of(other) == record_guid("other-qb", entity, st_id) != expected


def test_prerequisites_come_first_and_are_required() -> None:
    service = GLAccount(id=1, name="Income:Service", number="4000")
    lines = tuple(
        line.model_copy(update={"gl_account": service}) for line in contractor_invoice().lines
    )
    conn = with_mapping(item_strategy="gl_account", location_as_job=True)
    commands = map_event(event_for(contractor_invoice(lines=lines)), conn)
    assert [c.request_type for c in commands] == [
        "ItemServiceAddRq",  # the parent item "Income"
        "ItemServiceAddRq",  # "Income:Service"
        "CustomerAddRq",  # the job
        "InvoiceAddRq",
    ]
    *prerequisites, invoice = commands
    assert invoice.requires == tuple(c.command_id for c in prerequisites)
    assert all(c.requires == () for c in prerequisites)


# --- edits after posting ----------------------------------------------------------------------


def test_line_keys_are_stable_across_versions_and_name_the_mod_lines() -> None:
    base = contractor_invoice()
    first = map_event(event_for(base), connection())[-1]
    # Version 2: the discount removed, a line added between, quantities changed.
    extra = InvoiceLine(
        st_id=16,
        sku_name="Permit",
        quantity=Decimal("1"),
        price=Decimal("75.00"),
        total=Decimal("75.00"),
    )
    labor = base.lines[1].model_copy(update={"quantity": Decimal("3"), "total": Decimal("285.00")})
    lines = (base.lines[0], labor, extra, base.lines[2], base.lines[3])
    subtotal = sum((line.total for line in lines), Decimal("0"))
    second_record = base.model_copy(
        update={"lines": lines, "subtotal": subtotal, "total": subtotal + base.sales_tax}
    )
    second = map_event(event_for(second_record, version="2024-05-06T08:00:00Z"), connection())[-1]
    assert first.line_keys == ("11", "12", "13", "14", "15")
    assert second.line_keys == ("11", "12", "16", "13", "14")
    mod = root(second, mod=True).find("InvoiceMod")
    assert mod is not None
    assert mod.findtext("TxnID") == "@self"
    assert mod.findtext("EditSequence") == "@edit-sequence"
    assert mod.find("ExternalGUID") is None  # not a Mod field
    assert [
        (line.findtext("TxnLineID"), line.findtext("Quantity"), line.findtext("Amount"))
        for line in mod.iter("InvoiceLineMod")
    ] == [
        (f"{LINE_ID_PREFIX}11", "1", "89.00"),
        (f"{LINE_ID_PREFIX}12", "3", "285.00"),
        (f"{LINE_ID_PREFIX}16", "1", "75.00"),  # new: the gateway sends -1
        (f"{LINE_ID_PREFIX}13", "1", "1150.00"),
        (f"{LINE_ID_PREFIX}14", "10", "37.50"),
    ]  # line 15 (the discount) is left out: QuickBooks removes it
    assert second.expected == {"subtotal": "1636.50", "sales_tax": "97.97", "total": "1734.47"}
    assert second.fingerprint["line 3"] == "Permit: 1 x 75.00 = 75.00"
    assert_valid(with_sample_ids(second.mod_qbxml or ""))


def test_a_repeated_item_id_gets_a_key_of_its_own() -> None:
    line = contractor_invoice().lines[0]
    record = contractor_invoice(
        lines=(line, line), subtotal=Decimal("178.00"), sales_tax=Decimal("0"), total=Decimal("178")
    )
    [command] = map_event(event_for(record), connection())
    assert command.line_keys == ("11", "11#2")


def test_tax_as_a_line_has_its_own_key_and_amounts_quickbooks_will_show() -> None:
    [command] = map_event(event_for(contractor_invoice()), with_mapping(tax_mode="line"))
    assert command.line_keys == ("11", "12", "13", "14", "15", "sales-tax")
    mod_lines = list(root(command, mod=True).iter("InvoiceLineMod"))
    assert mod_lines[-1].findtext("TxnLineID") == f"{LINE_ID_PREFIX}sales-tax"
    assert mod_lines[-1].findtext("Amount") == "97.97"
    # ServiceTitan's tax is a line: QuickBooks' subtotal includes it and it computes no tax.
    assert command.expected == {"subtotal": "1561.97", "sales_tax": "0.00", "total": "1561.97"}


def test_credit_memos_modify_or_flag_per_mapping() -> None:
    record = contractor_invoice(
        lines=(contractor_invoice().lines[-1],),
        subtotal=Decimal("-50.00"),
        sales_tax=Decimal("0"),
        total=Decimal("-50.00"),
    )
    [memo] = map_event(event_for(record), connection())
    mod = root(memo, mod=True)
    assert mod.tag == "CreditMemoModRq"
    # CreditMemoMod has no ClassRef and CreditMemoLineMod no SalesTaxCodeRef (qbxml130.xsd).
    assert mod.find("CreditMemoMod/CreditMemoLineMod/SalesTaxCodeRef") is None
    assert_valid(with_sample_ids(memo.mod_qbxml or ""))
    [flagged] = map_event(event_for(record), with_mapping(on_change={"credit_memo": "flag"}))
    assert flagged.mod_qbxml is None
    # A refund adjusts no invoice: the credit stays available, nothing is applied.
    assert record.adjustment_to_id is None


def test_payments_and_bills_are_never_modified() -> None:
    assert map_event(event_for(payment()), connection())[0].mod_qbxml is None
    assert map_event(event_for(inventory_bill()), connection())[0].mod_qbxml is None


# --- voids ------------------------------------------------------------------------------------


def test_an_inactive_invoice_is_voided_even_when_its_amounts_do_not_add_up() -> None:
    broken = contractor_invoice(active=False, lines=(), total=Decimal("1"))
    [void] = map_event(event_for(broken), connection())
    assert void.action == "void"
    assert root(void).findtext("TxnVoidType") == "Invoice"


def test_a_deleted_bill_is_flagged_for_the_accountant() -> None:
    [flag] = map_event(event_for(inventory_bill(active=False)), with_mapping(payment_void="delete"))
    assert (flag.action, flag.request_type, flag.qbxml) == ("void", "TxnVoidRq", "")
    assert flag.summary.startswith("Deleted in ServiceTitan: bill PO-1187-R1 from Ferguson Supply")
    assert flag.lookup_qbxml == "<BillQueryRq><RefNumber>PO-1187-R1</RefNumber></BillQueryRq>"


# --- tax zones ----------------------------------------------------------------------------------


def zoned(**extra: object) -> Connection:
    return with_mapping(
        tax_zone_map={"31": "ST Sales Tax", "Round Rock": "Round Rock Tax"},
        tax_zones={31: "Travis County", 32: "Round Rock"},
        **extra,
    )


def tax_item_of(command: Command) -> str | None:
    return root(command).findtext("InvoiceAdd/ItemSalesTaxRef/FullName")


def test_each_tax_zone_posts_with_its_own_sales_tax_item() -> None:
    travis = map_event(event_for(contractor_invoice(tax_zone_id=31)), zoned())[-1]
    round_rock = map_event(event_for(contractor_invoice(tax_zone_id=32)), zoned())[-1]
    assert (tax_item_of(travis), tax_item_of(round_rock)) == ("ST Sales Tax", "Round Rock Tax")
    # Without zones mapped (one-zone company), every invoice uses sales_tax_item.
    plain = map_event(event_for(contractor_invoice(tax_zone_id=32)), connection())[-1]
    assert tax_item_of(plain) == "ST Sales Tax"


def test_an_unmapped_zone_that_charged_tax_is_refused_naming_the_zone() -> None:
    with pytest.raises(MappingError) as caught:
        map_event(event_for(contractor_invoice(tax_zone_id=33)), zoned())
    assert caught.value.message == (
        "invoice 10457 (ServiceTitan id 5002, event 1234567:invoice:5002:2024-05-03T09:00:00Z) "
        "charged tax in ServiceTitan tax zone 33, which has no QuickBooks sales tax item in "
        "this connection's tax_zone_map"
    )
    assert caught.value.hint.startswith('Add the zone to tax_zone_map (e.g. "33": ')
    # No tax charged: nothing for QuickBooks to compute, the default item is fine.
    untaxed = contractor_invoice(tax_zone_id=33, sales_tax=Decimal("0"), total=Decimal("1464"))
    assert tax_item_of(map_event(event_for(untaxed), zoned())[-1]) == "ST Sales Tax"


# --- hierarchical names ------------------------------------------------------------------------


def test_sub_accounts_are_kept_whole() -> None:
    parts = GLAccount(name="Job Materials:Plumbing Parts", number="5031")
    lines = (inventory_bill().lines[0].model_copy(update={"gl_account": parts}),)
    record = inventory_bill(
        lines=lines,
        total=Decimal("1624.80"),
        tax=Decimal("0"),
        shipping=Decimal("0"),
    )
    [command] = map_event(event_for(record), connection())
    accounts = [a.text for a in root(command).iter("FullName")]
    assert "Job Materials:Plumbing Parts" in accounts
    assert_valid(command.qbxml)


def test_a_level_too_long_for_quickbooks_is_refused_naming_it() -> None:
    long_level = "Plumbing Parts and Fittings for Jobs"  # 36 characters
    parts = GLAccount(name=f"Job Materials:{long_level}", number="5031")
    record = inventory_bill(
        lines=(
            BillLine(
                st_id=1, sku_name="X", quantity=Decimal(1), cost=Decimal(10), gl_account=parts
            ),
        ),
        total=Decimal("10.00"),
        tax=Decimal("0"),
        shipping=Decimal("0"),
    )
    with pytest.raises(MappingError) as caught:
        map_event(event_for(record), connection())
    assert f"its level {long_level!r} is 36 characters and QuickBooks allows 31 per level" in (
        caught.value.message
    )
    assert "'Job Materials:Plumbing Parts and Fittings for Jobs'" in caught.value.message
    assert "gl_account_map" in caught.value.hint
    # Mapped by hand, it posts.
    mapped = with_mapping(gl_account_map={"5031": "Job Materials:Plumbing"})
    [command] = map_event(event_for(record), mapped)
    assert root(command).findtext("BillAdd/ExpenseLineAdd/AccountRef/FullName") == (
        "Job Materials:Plumbing"
    )


def test_classes_and_skus_keep_their_hierarchy() -> None:
    line = contractor_invoice().lines[2].model_copy(update={"sku_name": "Water Heaters:WH-50G"})
    record = contractor_invoice(
        lines=(line,),
        subtotal=Decimal("1150.00"),
        sales_tax=Decimal("94.88"),
        total=Decimal("1244.88"),
        business_unit="Plumbing:Residential",
    )
    [command] = map_event(event_for(record), with_mapping(class_from_business_unit=True))
    add = root(command).find("InvoiceAdd")
    assert add is not None
    assert add.findtext("ClassRef/FullName") == "Plumbing:Residential"
    assert add.findtext("InvoiceLineAdd/ItemRef/FullName") == "Water Heaters:WH-50G"
    assert_valid(command.qbxml)
    too_long = record.model_copy(update={"business_unit": "Plumbing:" + "R" * 32})
    with pytest.raises(MappingError, match=r"class name .* its level 'R{32}' is 32 characters"):
        map_event(event_for(too_long), with_mapping(class_from_business_unit=True))


def test_items_per_gl_account_mirror_the_account_tree() -> None:
    parts = GLAccount(id=7, name="Job Materials:Plumbing Parts", number="5031")
    lines = tuple(
        line.model_copy(update={"gl_account": parts}) for line in contractor_invoice().lines
    )
    commands = map_event(
        event_for(contractor_invoice(lines=lines)), with_mapping(item_strategy="gl_account")
    )
    parent, child, invoice = commands
    assert parent.qbxml == (
        "<ItemServiceAddRq><ItemServiceAdd><Name>Job Materials</Name><SalesOrPurchase>"
        "<Desc>ServiceTitan GL account Job Materials:Plumbing Parts (5031)</Desc>"
        "<AccountRef><FullName>Job Materials:Plumbing Parts</FullName></AccountRef>"
        "</SalesOrPurchase></ItemServiceAdd></ItemServiceAddRq>"
    )
    child_add = root(child).find("ItemServiceAdd")
    assert child_add is not None
    assert child_add.findtext("Name") == "Plumbing Parts"
    assert child_add.findtext("ParentRef/FullName") == "Job Materials"
    assert child.lookup_qbxml == (
        "<ItemQueryRq><FullName>Job Materials:Plumbing Parts</FullName></ItemQueryRq>"
    )
    items = {i.text for i in root(invoice).iter("FullName")}
    assert "Job Materials:Plumbing Parts" in items
    assert_valid(*(c.qbxml for c in commands))


def credit_memo_record() -> Invoice:
    return contractor_invoice(
        st_id=5102,
        adjustment_to_id=5002,
        lines=(contractor_invoice().lines[-1],),
        subtotal=Decimal("-50.00"),
        sales_tax=Decimal("0"),
        total=Decimal("-50.00"),
    )


def test_an_adjustment_of_itself_is_not_applied() -> None:
    odd = credit_memo_record().model_copy(update={"adjustment_to_id": 5102})
    assert [c.request_type for c in map_event(event_for(odd), connection())] == ["CreditMemoAddRq"]
    assert [c.request_type for c in map_event(event_for(credit_memo_record()), connection())] == [
        "CreditMemoAddRq",
        "ReceivePaymentAddRq",
    ]


def test_only_the_records_own_requests_are_not_prerequisites() -> None:
    credit, application = map_event(event_for(credit_memo_record()), connection())
    [void] = map_event(event_for(contractor_invoice(active=False)), connection())
    [flag] = map_event(event_for(payment(active=False)), connection())
    [delete] = map_event(event_for(payment(active=False)), with_mapping(payment_void="delete"))
    [bill_flag] = map_event(event_for(inventory_bill(active=False)), connection())
    for own in (credit, void, flag, delete, bill_flag):
        assert not own.is_prerequisite, own.request_type
    # The application is a transaction the record owns, kept on its own (role "apply"): not a
    # prerequisite, and never the credit memo's own posting.
    assert not application.is_prerequisite
    assert application.role == "apply"
