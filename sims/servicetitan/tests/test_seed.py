"""The demo seed's figures, and the consistency every seeded invoice must have."""

from __future__ import annotations

import datetime as dt
from decimal import ROUND_HALF_UP, Decimal

from hypothesis import given
from hypothesis import strategies as st

from mlconnector.stsandbox.seed import (
    DEMO_CUSTOMER_ID,
    DEMO_CUSTOMER_NAME,
    DEMO_INVOICE_ID,
    DEMO_INVOICE_NUMBER,
    DEMO_INVOICE_TAX,
    DEMO_INVOICE_TOTAL,
    demo_figures,
    sales_tax,
    seed_records,
)


def test_demo_pair_is_stable() -> None:
    figures = demo_figures()
    assert (DEMO_CUSTOMER_ID, DEMO_CUSTOMER_NAME) == (1001, "Hernandez, Maria")
    assert (DEMO_INVOICE_ID, DEMO_INVOICE_NUMBER) == (5001, "5001")
    assert figures.invoice_date == dt.date(2025, 3, 14)
    assert figures.due_date == dt.date(2025, 4, 13)
    labor, materials = figures.lines
    assert (labor.sku_name, labor.quantity, labor.price, labor.total, labor.taxable) == (
        "Labor",
        Decimal("2"),
        Decimal("125.00"),
        Decimal("250.00"),
        False,
    )
    assert labor.gl_account == "Service Income"
    assert (materials.sku_name, materials.quantity, materials.price, materials.total) == (
        "PVC-075",
        Decimal("4"),
        Decimal("36.50"),
        Decimal("146.00"),
    )
    assert materials.taxable is True
    assert materials.gl_account == "Materials Income"
    # 8.25% of 146.00 is 12.045: half-up gives 12.05 where banker's rounding would give 12.04.
    assert figures.subtotal == Decimal("396.00")
    assert figures.taxable_subtotal == Decimal("146.00")
    assert figures.sales_tax == DEMO_INVOICE_TAX == Decimal("12.05")
    assert figures.total == DEMO_INVOICE_TOTAL == Decimal("408.05")
    assert figures.modified_on == "2025-03-14T22:00:01Z"
    assert figures.customer_ids == (1001, 1002, 1003, 1004)
    assert figures.posted_invoice_ids == (5001, 5002, 5003, 5004)
    assert figures.pending_invoice_ids == (5005,)


def test_first_records_are_the_demo_pair() -> None:
    customers, invoices = seed_records("demo")
    assert customers[0]["id"] == 1001
    assert customers[0]["name"] == "Hernandez, Maria"
    first = invoices[0]
    assert (first["id"], first["referenceNumber"], first["syncStatus"]) == (5001, "5001", "Posted")
    assert (first["subTotal"], first["salesTax"], first["total"]) == ("396.00", "12.05", "408.05")
    assert [item["skuName"] for item in first["items"]] == ["Labor", "PVC-075"]
    assert [item["total"] for item in first["items"]] == ["250.00", "146.00"]
    assert [item["taxable"] for item in first["items"]] == [False, True]


def test_every_seeded_invoice_is_consistent_to_the_cent() -> None:
    _, invoices = seed_records("demo")
    expected = {
        5001: ("396.00", "12.05", "408.05"),
        5002: ("328.50", "13.49", "341.99"),
        5003: ("629.70", "10.70", "640.40"),
        5004: ("213.99", "2.06", "216.05"),
        5005: ("95.00", "0.00", "95.00"),
    }
    assert {i["id"]: (i["subTotal"], i["salesTax"], i["total"]) for i in invoices} == expected
    for invoice in invoices:
        items = invoice["items"]
        for item in items:
            assert Decimal(item["quantity"]) * Decimal(item["price"]) == Decimal(item["total"])
        lines = sum(Decimal(item["total"]) for item in items)
        taxable = sum(Decimal(item["total"]) for item in items if item["taxable"])
        tax = (taxable * Decimal("0.0825")).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
        assert Decimal(invoice["subTotal"]) == lines
        assert Decimal(invoice["salesTax"]) == tax
        assert Decimal(invoice["total"]) == lines + tax


@given(st.integers(min_value=0, max_value=10_000_000))
def test_sales_tax_is_half_up_to_the_cent(taxable_cents: int) -> None:
    taxable = Decimal(taxable_cents) / 100
    exact = taxable_cents * 825  # the tax in units of 1/10000 cent
    whole, remainder = divmod(exact, 10_000)
    expected_cents = whole + (1 if remainder >= 5_000 else 0)
    assert sales_tax(taxable) == Decimal(expected_cents) / 100
