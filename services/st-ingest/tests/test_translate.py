"""ServiceTitan JSON -> canonical records, and clear errors for bad records."""

from __future__ import annotations

import copy
import datetime as dt
from decimal import Decimal

import pytest

from mlconnector.common.models import Address, GLAccount
from mlconnector.ingest.translate import (
    TranslationError,
    translate_customer,
    translate_invoice,
    version_of,
)
from mlconnector.stsandbox.seed import seed_records

CUSTOMERS, INVOICES = seed_records("demo")


def test_demo_customer() -> None:
    party = translate_customer(CUSTOMERS[0])
    assert party.kind == "customer"
    assert (party.st_id, party.name, party.active) == (1001, "Hernandez, Maria", True)
    assert party.address == Address(
        street="1418 Maple Ridge Dr", city="Austin", state="TX", zip="78745", country="USA"
    )
    assert party.modified_on == dt.datetime(2025, 3, 14, 13, 5, tzinfo=dt.UTC)


def test_demo_invoice() -> None:
    invoice = translate_invoice(INVOICES[0])
    assert (invoice.st_id, invoice.number) == (5001, "5001")
    assert (invoice.customer_st_id, invoice.customer_name) == (1001, "Hernandez, Maria")
    assert invoice.location_st_id == 2001
    assert invoice.invoice_date == dt.date(2025, 3, 14)
    assert invoice.due_date == dt.date(2025, 4, 13)
    assert (invoice.subtotal, invoice.sales_tax, invoice.total) == (
        Decimal("396.00"),
        Decimal("12.05"),
        Decimal("408.05"),
    )
    assert invoice.business_unit == "Plumbing - Service"
    assert (invoice.terms, invoice.location_name) == ("Net 30", "Hernandez, Maria")
    assert invoice.sync_status == "Posted"
    assert invoice.bill_to is not None
    assert invoice.bill_to.zip == "78745"
    labor, pvc = invoice.lines
    assert (labor.st_id, labor.sku_name, labor.quantity, labor.price, labor.total) == (
        60011,
        "Labor",
        Decimal("2.00"),
        Decimal("125.00"),
        Decimal("250.00"),
    )
    assert labor.taxable is False
    assert labor.gl_account == GLAccount(
        id=4010, name="Service Income", number="4010", type="Income"
    )
    assert (pvc.sku_name, pvc.quantity, pvc.price, pvc.total, pvc.taxable) == (
        "PVC-075",
        Decimal("4.00"),
        Decimal("36.50"),
        Decimal("146.00"),
        True,
    )
    assert pvc.gl_account is not None
    assert pvc.gl_account.name == "Materials Income"
    assert pvc.description == '3/4" PVC pipe, 10 ft'


def test_version_is_normalized_modified_on() -> None:
    assert version_of(INVOICES[0]) == "2025-03-14T22:00:01+00:00"
    assert version_of({"id": 1, "modifiedOn": "2025-03-14T22:00:01.000Z"}) == (
        "2025-03-14T22:00:01+00:00"
    )
    hashed = version_of({"id": 1, "modifiedOn": None})
    assert hashed.startswith("sha256-")
    assert len(hashed) == 39


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda r: r.pop("customer"), "ServiceTitan invoice 5001: field 'customer' is missing"),
        (
            lambda r: r["items"][1].update(total="1,46.00"),
            "ServiceTitan invoice 5001: field 'items[1].total' is not an amount: '1,46.00'",
        ),
        (
            lambda r: r["items"][0].update(skuName=None),
            "ServiceTitan invoice 5001: field 'items[0].skuName' is missing",
        ),
        (
            lambda r: r.update(total="999.99"),
            "ServiceTitan invoice 5001: field 'total' 999.99 is not subTotal 396.00 + "
            "salesTax 12.05",
        ),
        (
            lambda r: r["items"][0].update(total="251.00"),
            "ServiceTitan invoice 5001: field 'subTotal' 396.00 differs from the sum of item "
            "totals 397.00",
        ),
        (
            lambda r: r.update(invoiceDate="14/03/2025"),
            "ServiceTitan invoice 5001: field 'invoiceDate' is not an ISO 8601 date-time: "
            "'14/03/2025'",
        ),
        (
            lambda r: r["customer"].update(id="1001"),
            "ServiceTitan invoice 5001: field 'customer.id' must be an integer id, got '1001'",
        ),
    ],
)
def test_bad_invoice_names_record_and_field(change: object, message: str) -> None:
    raw = copy.deepcopy(INVOICES[0])
    change(raw)  # type: ignore[operator]
    with pytest.raises(TranslationError) as caught:
        translate_invoice(raw)
    assert str(caught.value) == message


def test_bad_customer_names_record_and_field() -> None:
    raw = {**CUSTOMERS[1], "name": "  "}
    with pytest.raises(TranslationError) as caught:
        translate_customer(raw)
    assert str(caught.value) == "ServiceTitan customer 1002: field 'name' is empty"
    with pytest.raises(TranslationError) as caught:
        translate_customer(["not", "a", "record"])
    assert str(caught.value).startswith("ServiceTitan customer ?: field '(record)' is not a JSON")


def test_tax_zone_and_adjustment_are_read_as_documented() -> None:
    """Accounting.V2.ExportInvoiceResponse: taxZoneId and adjustmentToId, int64 or null."""
    invoice = translate_invoice(INVOICES[0])
    assert (invoice.tax_zone_id, invoice.adjustment_to_id) == (31, None)
    raw = copy.deepcopy(INVOICES[0])
    for item in raw["items"]:
        item.update(quantity="-" + item["quantity"], total="-" + item["total"])
    raw.update(
        id=5101,
        taxZoneId=32,
        adjustmentToId=5001,
        subTotal="-396.00",
        salesTax="-12.05",
        total="-408.05",
        active=False,
    )
    adjustment = translate_invoice(raw)
    assert (adjustment.tax_zone_id, adjustment.adjustment_to_id) == (32, 5001)
    assert (adjustment.total, adjustment.active) == (Decimal("-408.05"), False)
    raw.update(taxZoneId=None, adjustmentToId="5001")
    with pytest.raises(TranslationError) as caught:
        translate_invoice(raw)
    assert str(caught.value) == (
        "ServiceTitan invoice 5101: field 'adjustmentToId' must be an integer id, got '5001'"
    )
