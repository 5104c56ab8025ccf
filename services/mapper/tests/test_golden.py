"""Golden qbXML for a contractor's day: invoice (Add and Mod), credit memo applied to the
invoice it adjusts, voids and deletes, payments, inventory bill, vendor.

The expected qbXML is in tests/golden/ (indented for review); each file is exactly what the
mapper sends, and every message validates against the qbXML 13.0 schema.
"""

from __future__ import annotations

from decimal import Decimal

from lxml import etree
from mapper_checks import assert_golden, assert_valid, with_sample_ids
from mapper_factories import (
    connection,
    contractor_invoice,
    customer_event,
    event_for,
    inventory_bill,
    payment,
    vendor,
)

from mlconnector.common.connections import Connection
from mlconnector.common.envelopes import LINE_ID_PREFIX, LateRef, record_guid
from mlconnector.common.mapping import MappingSettings, OnChange, PaymentTypeMapping
from mlconnector.common.models import Invoice, InvoiceLine, PaymentApplication
from mlconnector.mapper.commands import map_event


def contractor_connection() -> Connection:
    """The defaults plus what a contractor typically maps."""
    mapping = MappingSettings(
        item_map={"Discount": "Member Discount"},
        terms_map={"Net 30": "Net 30"},
        gl_account_map={"1300": "Inventory Asset"},
        payment_types={
            "Check": PaymentTypeMapping(method="Check"),
            "Credit Card": PaymentTypeMapping(method="Visa/MC", deposit_account="Checking"),
        },
    )
    return connection().model_copy(update={"mapping": mapping})


def test_contractor_invoice() -> None:
    [command] = map_event(event_for(contractor_invoice()), contractor_connection())
    assert command.request_type == "InvoiceAddRq"
    assert_golden("invoice_contractor.xml", command.qbxml)
    assert command.refs == (LateRef.make("customer", 1001),)
    assert command.summary == "Invoice 10457 for Jane Doe: 1561.97"
    assert command.action == "post"
    assert command.requires == ()
    # ServiceTitan's invoice item ids, in the Add's line order.
    assert command.line_keys == ("11", "12", "13", "14", "15")
    assert command.expected == {"subtotal": "1464.00", "sales_tax": "97.97", "total": "1561.97"}
    assert command.fingerprint == {
        "number": "10457",
        "date": "2024-05-02",
        "due date": "2024-06-01",
        "customer": "Jane Doe (ServiceTitan 1001)",
        "terms": "Net 30",
        "line 1": "Service Call: 1 x 89.00 = 89.00",
        "line 2": "Labor: 2.5 x 95.00 = 237.50",
        "line 3": "WH-50G: 1 x 1150.00 = 1150.00 (taxable)",
        "line 4": "PVC-075: 10 x 3.75 = 37.50 (taxable)",
        "line 5": "Member Discount: 1 x -50.00 = -50.00",
        "subtotal": "1464.00",
        "sales tax": "97.97",
        "total": "1561.97",
    }
    assert_valid(command.qbxml, command.lookup_qbxml or "")


def test_contractor_invoice_changed_after_posting_is_an_invoice_mod() -> None:
    """on_change: modify (the default): the Mod names the invoice and every line by key."""
    [command] = map_event(event_for(contractor_invoice()), contractor_connection())
    assert command.mod_qbxml is not None
    assert_golden("invoice_mod.xml", command.mod_qbxml)
    mod = etree.fromstring(command.mod_qbxml)
    line_ids = [line.findtext("TxnLineID") for line in mod.iter("InvoiceLineMod")]
    assert line_ids == [f"{LINE_ID_PREFIX}{key}" for key in command.line_keys]
    # The Add's lines and the Mod's carry the same items and amounts, in the same order.
    add = etree.fromstring(command.qbxml)
    assert [line.findtext("Amount") for line in add.iter("InvoiceLineAdd")] == [
        line.findtext("Amount") for line in mod.iter("InvoiceLineMod")
    ]
    assert_valid(with_sample_ids(command.mod_qbxml))
    contractor = contractor_connection()
    flagged = contractor.mapping.model_copy(update={"on_change": OnChange(invoice="flag")})
    [flag] = map_event(
        event_for(contractor_invoice()), contractor.model_copy(update={"mapping": flagged})
    )
    assert flag.mod_qbxml is None
    assert flag.qbxml == command.qbxml


def adjustment_invoice() -> Invoice:
    """ServiceTitan adjustment invoice 5102 to invoice 5002: four feet of pipe returned and
    a labour credit, in Round Rock's tax zone (6.25%): -15.00 taxable, 0.94 tax back."""
    return contractor_invoice(
        st_id=5102,
        number="10457-A",
        adjustment_to_id=5002,
        tax_zone_id=32,
        summary="Returned pipe; labour goodwill credit",
        lines=(
            InvoiceLine(
                st_id=61,
                sku_name="PVC-075",
                description='3/4" PVC pipe returned',
                quantity=Decimal("-4"),
                price=Decimal("3.75"),
                total=Decimal("-15.00"),
                taxable=True,
            ),
            InvoiceLine(
                st_id=62,
                sku_name="Labor",
                description="Goodwill credit",
                quantity=Decimal("1"),
                price=Decimal("-50.00"),
                total=Decimal("-50.00"),
            ),
        ),
        subtotal=Decimal("-65.00"),
        sales_tax=Decimal("-0.94"),
        total=Decimal("-65.94"),
    )


def zoned_connection() -> Connection:
    mapping = MappingSettings(
        tax_zone_map={"31": "ST Sales Tax", "Round Rock": "Round Rock Tax"},
        tax_zones={31: "Travis County", 32: "Round Rock"},
    )
    return connection().model_copy(update={"mapping": mapping})


def test_adjustment_invoice_is_a_credit_memo_applied_to_the_invoice() -> None:
    credit, application = map_event(event_for(adjustment_invoice()), zoned_connection())
    assert credit.request_type == "CreditMemoAddRq"
    assert_golden("credit_memo.xml", credit.qbxml)
    assert credit.summary == "Credit memo 10457-A for Jane Doe: 65.94"
    # QuickBooks shows a credit memo's amounts positive; the tax item is the zone's.
    assert credit.expected == {"subtotal": "65.00", "sales_tax": "0.94", "total": "65.94"}
    assert credit.line_keys == ("61", "62")
    assert credit.lookup_qbxml == (
        "<CreditMemoQueryRq><RefNumber>10457-A</RefNumber></CreditMemoQueryRq>"
    )
    assert credit.mod_qbxml is not None
    assert credit.mod_qbxml.startswith("<CreditMemoModRq>")
    assert_valid(credit.qbxml, credit.lookup_qbxml, with_sample_ids(credit.mod_qbxml))

    assert application.request_type == "ReceivePaymentAddRq"
    assert_golden("credit_memo_application.xml", application.qbxml)
    assert application.requires == (credit.command_id,)
    assert application.refs == (
        LateRef.make("customer", 1001),
        LateRef.make("invoice", 5002),  # the invoice it adjusts
        LateRef.make("invoice", 5102),  # the credit memo itself
    )
    assert application.summary == ("Apply credit memo 10457-A (65.94) to invoice 5002 for Jane Doe")
    assert application.lookup_qbxml == (
        "<CreditMemoQueryRq><TxnID>@ref:invoice:5102</TxnID>"
        "<IncludeLinkedTxns>true</IncludeLinkedTxns></CreditMemoQueryRq>"
    )
    guid = etree.fromstring(application.qbxml).findtext("ReceivePaymentAdd/ExternalGUID")
    assert guid == record_guid("acme-qb", "invoice", 5102, "credit-application")
    assert guid != etree.fromstring(credit.qbxml).findtext("CreditMemoAdd/ExternalGUID")
    assert_valid(application.qbxml, application.lookup_qbxml or "")
    # Left as an available credit when the mapping says so.
    kept = zoned_connection()
    kept = kept.model_copy(
        update={"mapping": kept.mapping.model_copy(update={"apply_credit_memos": False})}
    )
    assert [c.request_type for c in map_event(event_for(adjustment_invoice()), kept)] == [
        "CreditMemoAddRq"
    ]


def test_invoice_voided_in_servicetitan_is_voided() -> None:
    [void] = map_event(event_for(contractor_invoice(active=False)), contractor_connection())
    assert (void.action, void.request_type) == ("void", "TxnVoidRq")
    assert_golden("invoice_void.xml", void.qbxml)
    assert void.summary == (
        "Void invoice 10457 for Jane Doe (1561.97): voided or deleted in ServiceTitan"
    )
    assert void.expected == {"total": "0.00"}
    # Found by its RefNumber (and the record's ExternalGUID) if the Add's outcome was lost.
    assert void.lookup_qbxml == "<InvoiceQueryRq><RefNumber>10457</RefNumber></InvoiceQueryRq>"
    assert_valid(with_sample_ids(void.qbxml), void.lookup_qbxml)
    [memo_void] = map_event(
        event_for(adjustment_invoice().model_copy(update={"active": False})), zoned_connection()
    )
    assert etree.fromstring(memo_void.qbxml).findtext("TxnVoidType") == "CreditMemo"


def test_payment_deleted_in_servicetitan() -> None:
    deleted = event_for(payment(active=False))
    delete_mapping = MappingSettings(payment_void="delete")
    [delete] = map_event(deleted, connection().model_copy(update={"mapping": delete_mapping}))
    assert (delete.action, delete.request_type) == ("void", "TxnDelRq")
    assert_golden("payment_delete.xml", delete.qbxml)
    assert delete.summary == "Delete payment 7001 from Jane Doe (100.00): deleted in ServiceTitan"
    assert_valid(with_sample_ids(delete.qbxml), delete.lookup_qbxml or "")
    # By default a deleted payment is left for the accountant: nothing to send.
    [flag] = map_event(deleted, connection())
    assert (flag.action, flag.request_type, flag.qbxml) == ("void", "TxnDelRq", "")
    assert flag.summary == (
        "Deleted in ServiceTitan: payment 7001 from Jane Doe (100.00); left in QuickBooks for "
        "the accountant (mapping payment_void: flag)"
    )
    assert flag.command_id == delete.command_id


def test_partial_payment() -> None:
    [command] = map_event(event_for(payment()), contractor_connection())
    assert command.request_type == "ReceivePaymentAddRq"
    assert_golden("payment_partial.xml", command.qbxml)
    assert command.refs == (LateRef.make("customer", 1001), LateRef.make("invoice", 5001))
    assert command.lookup_qbxml == (
        "<ReceivePaymentQueryRq><RefNumber>1042</RefNumber></ReceivePaymentQueryRq>"
    )
    assert command.summary == (
        "Payment 7001 from Jane Doe: 100.00 applied to invoice 5001 (100.00)"
    )
    assert command.fingerprint == {
        "reference": "1042",
        "date": "2024-05-03",
        "customer": "Jane Doe (ServiceTitan 1001)",
        "total": "100.00",
        "payment type": "Check",
        "method": "Check",
        "deposit to": "Undeposited Funds",
        "invoice 5001": "100.00",
        "unapplied": "0.00",
    }
    assert_valid(command.qbxml, command.lookup_qbxml or "")


def test_payment_across_two_invoices_with_an_unapplied_remainder() -> None:
    record = payment(
        st_id=7002,
        reference="AUTH 88213",
        payment_type="Credit Card",
        total=Decimal("1850.00"),
        unapplied=Decimal("57.44"),
        memo="",
        applications=(
            PaymentApplication(invoice_st_id=5001, amount=Decimal("230.59")),
            PaymentApplication(invoice_st_id=5002, amount=Decimal("1561.97")),
        ),
    )
    [command] = map_event(event_for(record), contractor_connection())
    assert_golden("payment_two_invoices.xml", command.qbxml)
    assert command.refs == (
        LateRef.make("customer", 1001),
        LateRef.make("invoice", 5001),
        LateRef.make("invoice", 5002),
    )
    assert command.summary == (
        "Payment 7002 from Jane Doe: 1850.00 applied to invoice 5001 (230.59), invoice 5002 "
        "(1561.97); Unapplied 57.44 stays as a credit (unused payment) for Jane Doe in "
        "QuickBooks"
    )
    assert command.fingerprint["invoice 5001"] == "230.59"
    assert command.fingerprint["invoice 5002"] == "1561.97"
    assert command.fingerprint["unapplied"] == "57.44"
    assert command.fingerprint["deposit to"] == "Checking"
    assert_valid(command.qbxml, command.lookup_qbxml or "")


def test_inventory_bill_with_tax_and_shipping() -> None:
    [command] = map_event(event_for(inventory_bill()), contractor_connection())
    assert command.request_type == "BillAddRq"
    assert_golden("bill_inventory.xml", command.qbxml)
    assert command.refs == (LateRef.make("vendor", 2001),)
    assert command.mod_qbxml is None  # bills are never modified after posting
    assert command.expected == {"total": "1890.55"}
    assert command.lookup_qbxml == "<BillQueryRq><RefNumber>PO-1187-R1</RefNumber></BillQueryRq>"
    assert command.summary == "Bill PO-1187-R1 from Ferguson Supply: 1890.55"
    assert command.fingerprint == {
        "reference": "PO-1187-R1",
        "date": "2024-05-02",
        "due date": "2024-06-01",
        "vendor": "Ferguson Supply (ServiceTitan 2001)",
        "terms": "Net 30",
        "line 1": "WH-50G: 2 x 812.40 = 1624.80 -> Inventory Asset",
        "line 2": "PVC-075: 40 x 1.1875 = 47.50 -> Inventory Asset",
        "line 3": "VLV-BALL-100: 3 x 14.333 = 43.00 -> Cost of Goods Sold",
        "tax": "140.25 -> Cost of Goods Sold",
        "shipping": "35.00 -> Cost of Goods Sold",
        "total": "1890.55",
    }
    assert_valid(command.qbxml, command.lookup_qbxml or "")


def test_vendor_add_and_mod() -> None:
    [command] = map_event(event_for(vendor()), contractor_connection())
    assert command.request_type == "VendorAddRq"
    assert_golden("vendor_add.xml", command.qbxml)
    assert command.mod_qbxml is not None
    assert_golden("vendor_mod.xml", command.mod_qbxml)
    assert (
        command.lookup_qbxml
        == "<VendorQueryRq><FullName>Ferguson Supply</FullName></VendorQueryRq>"
    )
    assert command.summary == "Vendor Ferguson Supply"
    assert_valid(command.qbxml, command.lookup_qbxml or "", with_sample_ids(command.mod_qbxml))


def test_customer_mod() -> None:
    [command] = map_event(customer_event(), contractor_connection())
    assert command.mod_qbxml is not None
    assert_golden("customer_mod.xml", command.mod_qbxml)
    assert_valid(with_sample_ids(command.mod_qbxml))
