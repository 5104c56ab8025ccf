"""Test records: a contractor's customer and a service invoice with labor and materials."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from mlconnector.common.connections import Connection
from mlconnector.common.envelopes import StEvent
from mlconnector.common.mapping import MappingSettings
from mlconnector.common.models import Address, Invoice, InvoiceLine, Party

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
