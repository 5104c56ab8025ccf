"""The company file: seeded lists, QuickBooks-like ids, EditSequence, persistence."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from datetime import datetime
from decimal import Decimal
from pathlib import Path

import pytest

from mlconnector.qbsim.company import (
    Application,
    BillDraft,
    BillLineDraft,
    Company,
    CustomerDraft,
    InvoiceDraft,
    InvoiceLineDraft,
    ListFilter,
    PaymentDraft,
    QbError,
    RefSpec,
    seed_contractor,
)
from mlconnector.qbsim.schema import SCHEMA, SCHEMA_VERSION

FixedClock = Callable[[], datetime]


def test_seed_contractor_lists(company: Company) -> None:
    items = {i.full_name: i for i in company.query_items(ListFilter())[0]}
    labor = items["Labor"]
    assert (labor.item_type, labor.account and labor.account.full_name) == (
        "Service",
        "Service Income",
    )
    pvc = items["PVC-075"]
    assert (pvc.item_type, pvc.account and pvc.account.full_name, pvc.price) == (
        "NonInventory",
        "Materials Income",
        Decimal("3.75"),
    )
    assert items["ST Service"].item_type == "Service"
    tax = items["ST Sales Tax"]
    assert (tax.item_type, tax.tax_rate) == ("SalesTax", Decimal("8.25"))
    assert items["Permit Fee"].item_type == "OtherCharge"
    accounts = {a.full_name for a in company.query_accounts(ListFilter())[0]}
    assert {
        "Accounts Receivable",
        "Accounts Payable",
        "Undeposited Funds",
        "Checking",
        "Service Income",
        "Materials Income",
        "Sales Tax Payable",
        "Cost of Goods Sold",
    } <= accounts
    assert company.customers() == []


def test_list_ids_are_sequential_quickbooks_style(clock: FixedClock) -> None:
    with Company(":memory:", clock=clock) as fresh:
        account = fresh.add_account("Checking", "Bank")
        # 2024-05-01T09:30:00-07:00 is 1714581000 seconds since 1970.
        assert account.core.list_id == "80000001-1714581000"
        assert account.core.edit_sequence == "1714581000"
        second = fresh.add_account("Savings", "Bank")
        assert second.core.list_id == "80000002-1714581001"


def test_edit_sequence_changes_on_every_modification(company: Company) -> None:
    customer = company.add_customer(CustomerDraft(name="Adams"))
    first = customer.core.edit_sequence
    # Two modifications within one second still get different EditSequences.
    company.touch("entities", "list_id", customer.core.list_id)
    company.touch("entities", "list_id", customer.core.list_id)
    after = company.entity(customer.core.list_id).core.edit_sequence
    assert int(after) >= int(first) + 2


def test_persists_across_reopen(tmp_path: Path, clock: FixedClock) -> None:
    path = tmp_path / "company.sqlite"
    with Company(path, clock=clock) as first:
        seed_contractor(first)
        first.add_customer(CustomerDraft(name="Adams"))
        invoice = first.add_invoice(
            InvoiceDraft(
                customer=RefSpec(full_name="Adams"),
                ref_number="1001",
                lines=[
                    InvoiceLineDraft(
                        item=RefSpec(full_name="Labor"), quantity=Decimal(2), rate=Decimal("95.00")
                    ),
                    InvoiceLineDraft(
                        item=RefSpec(full_name="PVC-075"),
                        quantity=Decimal(10),
                        rate=Decimal("3.75"),
                    ),
                ],
            )
        )
    with Company(path) as reopened:
        assert not reopened.is_empty
        again = reopened.invoice(invoice.txn_id)
        assert again == invoice
        assert (again.subtotal, again.sales_tax_total, again.total) == (
            Decimal("227.50"),
            Decimal("3.09"),
            Decimal("230.59"),
        )
        adams = reopened.customer_by_name("Adams")
        assert adams is not None
        assert adams.balance == Decimal("230.59")
        # The id sequence continues rather than restarting.
        later = reopened.add_customer(CustomerDraft(name="Baker"))
        assert later.core.list_id.split("-")[0] > adams.core.list_id.split("-")[0]


def test_failed_add_leaves_no_trace(company: Company) -> None:
    with pytest.raises(QbError) as refused:
        company.add_invoice(InvoiceDraft(customer=RefSpec(full_name="Nobody")))
    assert refused.value.code == 3140
    assert company.invoices() == []


def test_payments_bills_and_lists_persist_across_reopen(tmp_path: Path, clock: FixedClock) -> None:
    path = tmp_path / "company.sqlite"
    with Company(path, clock=clock) as first:
        seed_contractor(first)
        first.add_class("Solar")
        first.add_customer(CustomerDraft(name="Adams", terms=RefSpec(full_name="Net 30")))
        invoice = first.add_invoice(
            InvoiceDraft(
                customer=RefSpec(full_name="Adams"),
                ref_number="1001",
                lines=[InvoiceLineDraft(item=RefSpec(full_name="Labor"), quantity=Decimal(3))],
            )
        )
        payment = first.receive_payment(
            PaymentDraft(
                customer=RefSpec(full_name="Adams"),
                total_amount=Decimal("300.00"),
                applications=[Application(invoice.txn_id, Decimal("200.00"))],
                payment_method=RefSpec(full_name="Visa"),
            )
        )
        bill = first.add_bill(
            BillDraft(
                vendor=RefSpec(full_name="Ferguson Supply"),
                ref_number="INV-5521",
                lines=[
                    BillLineDraft(
                        kind="Expense",
                        account=RefSpec(full_name="Job Materials"),
                        amount=Decimal("412.18"),
                        class_ref=RefSpec(full_name="Solar"),
                    )
                ],
            )
        )
    with Company(path) as reopened:
        again = reopened.invoice(invoice.txn_id)
        assert (again.total, again.applied_amount, again.balance_remaining, again.is_paid) == (
            Decimal("285.00"),
            Decimal("-200.00"),
            Decimal("85.00"),
            False,
        )
        # Terms from the customer: Net 30 after 2024-05-01.
        assert again.due_date.isoformat() == "2024-05-31"
        assert reopened.payments() == [payment]
        assert payment.unused_payment == Decimal("100.00")
        assert reopened.bills() == [bill]
        assert bill.due_date.isoformat() == "2024-05-31"  # Ferguson's Net 30
        assert "Solar" in [c.full_name for c in reopened.classes()]
        adams = reopened.customer_by_name("Adams")
        assert adams is not None
        assert adams.balance == Decimal("-15.00")  # 285.00 owed - 300.00 paid


def test_a_version_1_company_file_is_upgraded_in_place(tmp_path: Path, clock: FixedClock) -> None:
    path = tmp_path / "old.sqlite"
    db = sqlite3.connect(path)
    db.executescript(f"BEGIN; {SCHEMA} PRAGMA user_version = 1; COMMIT;")
    db.close()
    with Company(path, clock=clock) as upgraded:
        assert upgraded.db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        seed_contractor(upgraded)
        assert [t.name for t in upgraded.terms()][:2] == ["1% 10 Net 30", "Due on receipt"]
    with Company(path) as reopened:
        assert not reopened.is_empty


def test_iterators_are_not_kept_in_the_file(tmp_path: Path, clock: FixedClock) -> None:
    with Company(tmp_path / "c.sqlite", clock=clock) as company:
        company.iterators["{x}"] = []
    with Company(tmp_path / "c.sqlite", clock=clock) as company:
        assert company.iterators == {}
