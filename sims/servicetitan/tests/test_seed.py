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
    seed_data,
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
    assert figures.posted_invoice_ids == (5001, 5002, 5003, 5004, 5006)
    assert figures.pending_invoice_ids == (5005,)
    assert (figures.vendor_ids, figures.inactive_vendor_ids) == ((7101, 7102, 7103), (7103,))
    assert figures.posted_payment_ids == (9001, 9002, 9003)
    assert figures.skipped_payment_ids == (9004, 9005)
    assert (figures.posted_bill_ids, figures.skipped_bill_ids) == ((6001, 6002), (6003,))
    # Once the posted payments are received in QuickBooks (9004 is still Pending).
    assert figures.balances == {
        5001: Decimal("0.00"),
        5002: Decimal("141.99"),
        5003: Decimal("0.00"),
        5004: Decimal("216.05"),
        5006: Decimal("0.00"),
    }


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
        5006: ("277.50", "9.28", "286.78"),
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


def test_payments_apply_what_they_total_and_balances_follow() -> None:
    data = seed_data("demo")
    payments = {p["id"]: p for p in data["payments"]}
    for payment in payments.values():
        applied = sum(Decimal(a["appliedAmount"]) for a in payment["appliedTo"])
        assert applied + Decimal(payment["unappliedAmount"]) == Decimal(payment["total"])
    assert {k: p["referenceNumber"] or p["authCode"] for k, p in payments.items()} == {
        9001: "1042",
        9002: "A7Q2K9",
        9003: "20417",
        9004: "K3M8P1",
        9005: "1042",
    }
    invoices = {i["id"]: i for i in data["invoices"]}
    for invoice in invoices.values():
        paid = sum(
            Decimal(a["appliedAmount"])
            for p in payments.values()
            if p["active"]
            for a in p["appliedTo"]
            if a["appliedTo"] == invoice["id"]
        )
        assert Decimal(invoice["balance"]) == Decimal(invoice["total"]) - paid
    # Every payment pays invoices of its own customer.
    for payment in payments.values():
        for application in payment["appliedTo"]:
            invoice = invoices[application["appliedTo"]]
            assert invoice["customer"] == payment["customer"]
            assert application["appliedToReferenceNumber"] == invoice["referenceNumber"]


def test_bills_add_up_to_the_cent_and_name_demo_accounts() -> None:
    data = seed_data("demo")
    expected = {
        6001: ("215.08", "15.48", "12.00", "Ferguson Plumbing Supply", "Posted"),
        6002: ("226.67", "15.37", "25.00", "Lone Star HVAC Supply", "Posted"),
        6003: ("49.80", "3.80", "0.00", "Ferguson Plumbing Supply", "PostedAndExported"),
    }
    assert {
        b["id"]: (
            b["billAmount"],
            b["taxAmount"],
            b["shippingAmount"],
            b["vendor"]["name"],
            b["syncStatus"],
        )
        for b in data["inventory-bills"]
    } == expected
    vendors = {v["id"]: v["name"] for v in data["vendors"]}
    for bill in data["inventory-bills"]:
        items = bill["items"]
        lines = sum(Decimal(i["quantity"]) * Decimal(i["cost"]) for i in items)
        tax, shipping = Decimal(bill["taxAmount"]), Decimal(bill["shippingAmount"])
        assert lines + tax + shipping + Decimal(bill["otherAmount"]) == Decimal(bill["billAmount"])
        assert tax == (lines * Decimal("0.0825")).quantize(Decimal("0.01"), ROUND_HALF_UP)
        assert sum(Decimal(i["allocatedTax"]) for i in items) == tax
        assert sum(Decimal(i["allocatedShipping"]) for i in items) == shipping
        assert vendors[bill["vendor"]["id"]] == bill["vendor"]["name"]
        # Accounts the demo QuickBooks company has (sims/quickbooks seed).
        assert {i["generalLedgerAccount"]["name"] for i in items} <= {
            "Inventory Asset",
            "Job Materials",
        }


def test_vendors_of_the_day() -> None:
    vendors = seed_data("demo")["vendors"]
    assert [(v["id"], v["name"], v["active"]) for v in vendors] == [
        (7103, "Hill Country Water Heaters", False),
        (7101, "Ferguson Plumbing Supply", True),
        (7102, "Lone Star HVAC Supply", True),
    ]
    assert seed_data("empty") == {
        "customers": [],
        "invoices": [],
        "payments": [],
        "inventory-bills": [],
        "vendors": [],
    }


@given(st.integers(min_value=0, max_value=10_000_000))
def test_sales_tax_is_half_up_to_the_cent(taxable_cents: int) -> None:
    taxable = Decimal(taxable_cents) / 100
    exact = taxable_cents * 825  # the tax in units of 1/10000 cent
    whole, remainder = divmod(exact, 10_000)
    expected_cents = whole + (1 if remainder >= 5_000 else 0)
    assert sales_tax(taxable) == Decimal(expected_cents) / 100
