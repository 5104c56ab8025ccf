"""Messages as the other services publish them."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from mlconnector.common.envelopes import Command, LateRef, Outcome, StEvent
from mlconnector.common.models import Invoice, InvoiceLine, Party

TENANT = "1234567"
CONN = "acme-qb"
T0 = dt.datetime(2024, 5, 2, 12, 0, tzinfo=dt.UTC)


def at(seconds: int) -> dt.datetime:
    return T0 + dt.timedelta(seconds=seconds)


def invoice_event(st_id: int = 5001, version: str = "v1", received: int = 0) -> StEvent:
    record = Invoice(
        st_id=st_id,
        number=f"INV-{st_id}",
        customer_st_id=1001,
        customer_name="Jane Doe",
        invoice_date=dt.date(2024, 5, 1),
        subtotal=Decimal("227.50"),
        sales_tax=Decimal("3.09"),
        total=Decimal("230.59"),
        lines=(
            InvoiceLine(
                st_id=1,
                sku_name="Labor",
                quantity=Decimal("2"),
                price=Decimal("95"),
                total=Decimal("190.00"),
            ),
            InvoiceLine(
                st_id=2,
                sku_name="PVC-075",
                quantity=Decimal("10"),
                price=Decimal("3.75"),
                total=Decimal("37.50"),
                taxable=True,
            ),
        ),
    )
    return StEvent(
        tenant=TENANT,
        entity="invoice",
        st_id=st_id,
        version=version,
        received_at=at(received),
        record=record,
        raw={"id": st_id},
    )


def customer_event(st_id: int = 1001, received: int = 0) -> StEvent:
    return StEvent(
        tenant=TENANT,
        entity="customer",
        st_id=st_id,
        version="v1",
        received_at=at(received),
        record=Party(kind="customer", st_id=st_id, name="Jane Doe"),
    )


def command_for(event: StEvent, created: int = 1) -> Command:
    request_type = "InvoiceAddRq" if event.entity == "invoice" else "CustomerAddRq"
    return Command(
        command_id=Command.make_id(CONN, event.event_id, request_type),
        connection=CONN,
        tenant=event.tenant,
        entity=event.entity,
        st_id=event.st_id,
        event_id=event.event_id,
        request_type=request_type,
        qbxml=f"<{request_type}><x/></{request_type}>",
        lookup_qbxml="<InvoiceQueryRq><RefNumber>INV-5001</RefNumber></InvoiceQueryRq>",
        refs=(LateRef.make("customer", 1001),),
        summary="Invoice INV-5001",
        created_at=at(created),
    )


def outcome_for(
    command: Command, status: str = "posted", attempt: int = 1, when: int = 2, **extra: object
) -> Outcome:
    fields: dict[str, object] = dict(
        command_id=command.command_id,
        attempt=attempt,
        connection=command.connection,
        tenant=command.tenant,
        entity=command.entity,
        st_id=command.st_id,
        event_id=command.event_id,
        status=status,
        at=at(when),
    )
    if status == "posted":
        fields.update(
            qb_id="1A2B-1714651200",
            status_code=0,
            status_severity="Info",
            status_message="Status OK",
            request_qbxml="<QBXML>request</QBXML>",
            response_qbxml="<QBXML>response</QBXML>",
        )
    fields.update(extra)
    return Outcome.model_validate(fields)
