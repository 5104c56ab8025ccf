"""Golden qbXML for a contractor's day: invoice, payments, inventory bill, vendor.

The expected qbXML is in tests/golden/ (indented for review); each file is exactly what the
mapper sends, and every message validates against the qbXML 13.0 schema.
"""

from __future__ import annotations

from decimal import Decimal

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
from mlconnector.common.envelopes import LateRef
from mlconnector.common.mapping import MappingSettings, PaymentTypeMapping
from mlconnector.common.models import PaymentApplication
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
    assert command.mod_qbxml is None  # posted transactions are never modified
    assert command.summary == "Invoice 10457 for Jane Doe: 1561.97"
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
