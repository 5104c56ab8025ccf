"""Test records: a contractor's customer and a service invoice with labor and materials."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from mlconnector.common.connections import Connection
from mlconnector.common.envelopes import StEvent
from mlconnector.common.mapping import MappingSettings
from mlconnector.common.models import (
    Address,
    Bill,
    BillLine,
    GLAccount,
    Invoice,
    InvoiceLine,
    Party,
    Payment,
    PaymentApplication,
)

TENANT = "1234567"
RECEIVED = dt.datetime(2024, 5, 2, 12, 0, tzinfo=dt.UTC)


def connection(name: str = "acme-qb", tenant: str = TENANT) -> Connection:
    return Connection(
        name=name,
        tenant=tenant,
        qbwc_username="acme",
        password_hash="not-a-real-hash",
        owner_id="{57F3B9B1-86F1-4FCC-B1EE-566DE1813D20}",
        file_id="{90A44FB5-33D9-4815-AC85-BC87A7E7D1EB}",
        created_at=RECEIVED,
        mapping=MappingSettings(),
    )


def address() -> Address:
    return Address(
        street="12 Main St",
        unit="Suite 4",
        city="Springfield",
        state="IL",
        zip="62701",
        country="USA",
    )


def customer_event(st_id: int = 1001, name: str = "Jane Doe", **changes: Any) -> StEvent:
    party = Party(
        kind="customer",
        st_id=st_id,
        name=name,
        email="jane@example.com",
        phone="217-555-0100",
        address=address(),
    )
    if changes:
        party = party.model_copy(update=changes)
    return StEvent(
        tenant=TENANT,
        entity="customer",
        st_id=st_id,
        version="2024-05-01T10:00:00Z",
        received_at=RECEIVED,
        record=party,
    )


def invoice(**changes: Any) -> Invoice:
    lines = (
        InvoiceLine(
            st_id=1,
            sku_name="Labor",
            description="Diagnose and repair leak",
            quantity=Decimal("2"),
            price=Decimal("95.00"),
            total=Decimal("190.00"),
            taxable=False,
        ),
        InvoiceLine(
            st_id=2,
            sku_name="PVC-075",
            description="3/4in PVC pipe",
            quantity=Decimal("10"),
            price=Decimal("3.75"),
            total=Decimal("37.50"),
            taxable=True,
        ),
    )
    base = Invoice(
        st_id=5001,
        number="INV-1001",
        customer_st_id=1001,
        customer_name="Jane Doe",
        invoice_date=dt.date(2024, 5, 1),
        due_date=dt.date(2024, 5, 31),
        subtotal=Decimal("227.50"),
        sales_tax=Decimal("3.09"),
        total=Decimal("230.59"),
        summary="Repaired kitchen sink leak",
        bill_to=address(),
        lines=lines,
    )
    return base.model_copy(update=changes) if changes else base


def invoice_event(record: Invoice | None = None, version: str = "2024-05-01T17:00:00Z") -> StEvent:
    rec = record or invoice()
    return StEvent(
        tenant=TENANT,
        entity="invoice",
        st_id=rec.st_id,
        version=version,
        received_at=RECEIVED,
        record=rec,
    )


# --- a contractor's day: the records behind the golden files --------------------------------


def event_for(record: Any, version: str = "2024-05-03T09:00:00Z") -> StEvent:
    """Any canonical record as the event st-ingest publishes for it."""
    entity = record.kind
    return StEvent(
        tenant=TENANT,
        entity=entity,
        st_id=record.st_id,
        version=version,
        received_at=RECEIVED,
        record=record,
    )


def contractor_invoice(**changes: Any) -> Invoice:
    """A service call: labour, a water heater and pipe (taxable), a member discount, tax."""
    lines = (
        InvoiceLine(
            st_id=11,
            sku_name="Service Call",
            description="Diagnostic service call",
            quantity=Decimal("1"),
            price=Decimal("89.00"),
            total=Decimal("89.00"),
        ),
        InvoiceLine(
            st_id=12,
            sku_name="Labor",
            description="Remove old heater, install new 50 gal unit",
            quantity=Decimal("2.5"),
            price=Decimal("95.00"),
            total=Decimal("237.50"),
        ),
        InvoiceLine(
            st_id=13,
            sku_name="WH-50G",
            description="50 gal gas water heater",
            quantity=Decimal("1"),
            price=Decimal("1150.00"),
            total=Decimal("1150.00"),
            taxable=True,
        ),
        InvoiceLine(
            st_id=14,
            sku_name="PVC-075",
            description='3/4" PVC pipe & fittings',
            quantity=Decimal("10"),
            price=Decimal("3.75"),
            total=Decimal("37.50"),
            taxable=True,
        ),
        InvoiceLine(
            st_id=15,
            sku_name="Discount",
            description="Member discount <Gold>",
            quantity=Decimal("1"),
            price=Decimal("-50.00"),
            total=Decimal("-50.00"),
        ),
    )
    base = Invoice(
        st_id=5002,
        number="10457",
        customer_st_id=1001,
        customer_name="Jane Doe",
        location_st_id=3001,
        invoice_date=dt.date(2024, 5, 2),
        due_date=dt.date(2024, 6, 1),
        subtotal=Decimal("1464.00"),
        sales_tax=Decimal("97.97"),
        total=Decimal("1561.97"),
        summary="Water heater replacement",
        terms="Net 30",
        bill_to=address(),
        ship_to=Address(street="48 Elm Ct", city="Springfield", state="IL", zip="62704"),
        lines=lines,
    )
    return base.model_copy(update=changes) if changes else base


def payment(**changes: Any) -> Payment:
    """A check that pays part of invoice INV-1001 (ServiceTitan id 5001)."""
    base = Payment(
        st_id=7001,
        customer_st_id=1001,
        customer_name="Jane Doe",
        payment_date=dt.date(2024, 5, 3),
        reference="1042",
        payment_type="Check",
        total=Decimal("100.00"),
        unapplied=Decimal("0.00"),
        memo="Deposit, balance on completion",
        applications=(PaymentApplication(invoice_st_id=5001, amount=Decimal("100.00")),),
    )
    return base.model_copy(update=changes) if changes else base


def vendor(**changes: Any) -> Party:
    base = Party(
        kind="vendor",
        st_id=2001,
        name="Ferguson Supply",
        email="ar@ferguson.example",
        phone="555-0140",
        address=Address(street="1200 Industrial Way", city="Springfield", state="IL", zip="62702"),
    )
    return base.model_copy(update=changes) if changes else base


def inventory_bill(**changes: Any) -> Bill:
    """A received purchase order: a water heater and pipe, with tax and shipping."""
    inventory = GLAccount(id=41, name="Inventory Asset", number="1300", type="Asset")
    lines = (
        BillLine(
            st_id=21,
            sku_name="WH-50G",
            description="50 gal gas water heater",
            quantity=Decimal("2"),
            cost=Decimal("812.40"),
            gl_account=inventory,
        ),
        BillLine(
            st_id=22,
            sku_name="PVC-075",
            description="3/4in PVC pipe",
            quantity=Decimal("40"),
            cost=Decimal("1.1875"),
            gl_account=inventory,
        ),
        BillLine(
            st_id=23,
            sku_name="VLV-BALL-100",
            quantity=Decimal("3"),
            cost=Decimal("14.333"),
        ),
    )
    base = Bill(
        st_id=9001,
        reference="PO-1187-R1",
        vendor_st_id=2001,
        vendor_name="Ferguson Supply",
        bill_date=dt.date(2024, 5, 2),
        due_date=dt.date(2024, 6, 1),
        total=Decimal("1890.55"),
        tax=Decimal("140.25"),
        shipping=Decimal("35.00"),
        other=Decimal("0.00"),
        terms="Net 30",
        summary="PO 1187 received",
        lines=lines,
    )
    return base.model_copy(update=changes) if changes else base
