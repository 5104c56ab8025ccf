"""Messages as the other services publish them, in the shapes and sizes of a contractor's
books: invoices, payments, bills, customers and vendors; their commands and outcomes."""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass
from decimal import Decimal

from mlconnector.common.envelopes import Command, Outcome, StEvent
from mlconnector.common.models import (
    Bill,
    BillLine,
    GLAccount,
    Invoice,
    InvoiceLine,
    Party,
    Payment,
    PaymentApplication,
)

TENANTS = ("4471020", "5582031")
CONNECTIONS = {"bench-a": "4471020", "bench-b": "4471020", "bench-c": "5582031"}
SURNAMES = (
    "Hernandez",
    "Chen",
    "Okafor",
    "Smith",
    "Novak",
    "Brightside Property Management",
    "Patel",
    "Garcia",
    "Johnson",
    "Kowalski",
    "Nguyen",
    "Rossi",
)
GIVEN = ("Maria", "Wei", "Ada", "John", "Petra", "", "Ravi", "Luis", "Emma", "Jan", "Linh", "Gia")
# (entity, share) and (status, share): most records posted, a few needing someone.
ENTITY_MIX = (("invoice", 50), ("payment", 25), ("bill", 10), ("customer", 10), ("vendor", 5))
STATUS_MIX = (
    ("posted", 915),
    ("failed", 20),
    ("waiting", 10),
    ("retrying", 30),
    ("differs", 10),
    ("changed", 10),
    ("voided", 5),
)
T0 = dt.datetime(2026, 6, 1, 14, 0, tzinfo=dt.UTC)
DAYS = 120


@dataclass(frozen=True)
class Messages:
    """One record's messages: its event, its command and its outcome."""

    event: StEvent
    command: Command
    outcome: Outcome


def _pick(rng: random.Random, mix: tuple[tuple[str, int], ...]) -> str:
    return rng.choices([k for k, _ in mix], weights=[w for _, w in mix])[0]


def _name(rng: random.Random, st_id: int) -> str:
    given = rng.choice(GIVEN)
    surname = rng.choice(SURNAMES)
    return f"{surname}, {given} {st_id % 997}" if given else f"{surname} {st_id % 997}"


def _money(rng: random.Random, low: int, high: int) -> Decimal:
    return Decimal(rng.randint(low * 100, high * 100)) / 100


def _record(
    rng: random.Random, entity: str, st_id: int, day: dt.date, at: dt.datetime
) -> Invoice | Payment | Bill | Party:
    if entity == "invoice":
        lines = tuple(
            InvoiceLine(
                st_id=st_id * 10 + n,
                sku_name=rng.choice(("Labor", "PVC-075", "Trip Charge", "Filter 16x25")),
                description="Replaced the kitchen sink trap and tested for leaks",
                quantity=Decimal(rng.randint(1, 4)),
                price=_money(rng, 20, 200),
                total=Decimal("0"),
                taxable=n == 1,
                gl_account=GLAccount(id=4000 + n, name="Service Income", number="4000"),
                business_unit="Plumbing Service",
            )
            for n in range(rng.randint(2, 3))
        )
        lines = tuple(
            line.model_copy(update={"total": line.quantity * line.price}) for line in lines
        )
        subtotal = sum((line.total for line in lines), Decimal("0"))
        tax = (subtotal * Decimal("0.0825")).quantize(Decimal("0.01"))
        return Invoice(
            st_id=st_id,
            number=str(st_id),
            customer_st_id=st_id // 7,
            customer_name=_name(rng, st_id // 7),
            invoice_date=day,
            subtotal=subtotal,
            sales_tax=tax,
            total=subtotal + tax,
            summary="Kitchen sink leak",
            business_unit="Plumbing Service",
            lines=lines,
            sync_status="Posted",
            modified_on=at,
        )
    if entity == "payment":
        total = _money(rng, 50, 2000)
        return Payment(
            st_id=st_id,
            customer_st_id=st_id // 7,
            customer_name=_name(rng, st_id // 7),
            payment_date=day,
            reference=f"CHK{st_id % 100000}",
            payment_type="Check",
            total=total,
            unapplied=Decimal("0"),
            applications=(PaymentApplication(invoice_st_id=st_id - 1, amount=total),),
            modified_on=at,
        )
    if entity == "bill":
        cost = _money(rng, 20, 900)
        return Bill(
            st_id=st_id,
            reference=f"FER-{st_id % 100000}",
            vendor_st_id=st_id // 11,
            vendor_name=rng.choice(("Ferguson Plumbing Supply", "Lone Star HVAC Supply")),
            bill_date=day,
            total=cost,
            tax=Decimal("0"),
            shipping=Decimal("0"),
            other=Decimal("0"),
            lines=(BillLine(st_id=st_id * 10, sku_name="PVC-075", quantity=Decimal(1), cost=cost),),
            modified_on=at,
        )
    return Party(kind=entity, st_id=st_id, name=_name(rng, st_id), modified_on=at)


REQUESTS = {
    "invoice": "InvoiceAddRq",
    "payment": "ReceivePaymentAddRq",
    "bill": "BillAddRq",
    "customer": "CustomerAddRq",
    "vendor": "VendorAddRq",
}


def _qbxml(request: str, st_id: int, lines: int) -> str:
    body = "".join(
        f"<{request[:-5]}LineAdd><ItemRef><FullName>Labor</FullName></ItemRef>"
        f"<Desc>Replaced the kitchen sink trap</Desc><Quantity>2</Quantity><Rate>125.00</Rate>"
        f"</{request[:-5]}LineAdd>"
        for _ in range(lines)
    )
    return (
        f"<{request}><{request[:-2]}><CustomerRef><FullName>Hernandez, Maria</FullName>"
        f"</CustomerRef><TxnDate>2026-06-01</TxnDate><RefNumber>{st_id}</RefNumber>{body}"
        f"</{request[:-2]}></{request}>"
    )


def record_messages(rng: random.Random, st_id: int, seconds: float) -> Messages:
    """One record of a random entity and status, `seconds` after T0."""
    entity = _pick(rng, ENTITY_MIX)
    connection = rng.choice(tuple(CONNECTIONS))
    tenant = CONNECTIONS[connection]
    at = T0 + dt.timedelta(seconds=seconds)
    day = (at - dt.timedelta(days=rng.randint(0, 3))).date()
    record = _record(rng, entity, st_id, day, at)
    event = StEvent(
        tenant=tenant,
        entity=entity,
        st_id=st_id,
        version=at.isoformat(),
        received_at=at,
        record=record,
        raw={"id": st_id, "modifiedOn": at.isoformat(), "note": "x" * 600},
    )
    request = REQUESTS[entity]
    command = Command(
        command_id=Command.make_id(connection, event.message_id, request),
        connection=connection,
        tenant=tenant,
        entity=event.entity,
        st_id=st_id,
        event_id=event.event_id,
        request_type=request,
        qbxml=_qbxml(request, st_id, 3),
        lookup_qbxml=f"<InvoiceQueryRq><RefNumber>{st_id}</RefNumber></InvoiceQueryRq>",
        summary=f"{entity} {st_id}",
        created_at=at + dt.timedelta(seconds=1),
    )
    status = _pick(rng, STATUS_MIX)
    total = str(getattr(record, "total", "0.00"))
    outcome = Outcome(
        command_id=command.command_id,
        attempt=1,
        connection=connection,
        tenant=tenant,
        entity=event.entity,
        st_id=st_id,
        event_id=event.event_id,
        status=status,
        qb_id=f"{st_id:X}-1717250400" if status in ("posted", "differs", "changed") else None,
        status_code=3140 if status == "failed" else 0,
        status_severity="Error" if status == "failed" else "Info",
        status_message=(
            'There is an invalid reference to QuickBooks Account "Sales Income" in the Invoice.'
            if status == "failed"
            else "Status OK"
        ),
        request_qbxml='<?xml version="1.0"?><?qbxml version="13.0"?><QBXML><QBXMLMsgsRq '
        f'onError="continueOnError">{command.qbxml}</QBXMLMsgsRq></QBXML>',
        response_qbxml='<?xml version="1.0"?><QBXML><QBXMLMsgsRs><InvoiceAddRs statusCode="0" '
        f'statusSeverity="Info" statusMessage="Status OK"><InvoiceRet><TxnID>{st_id:X}</TxnID>'
        f"<RefNumber>{st_id}</RefNumber></InvoiceRet></InvoiceAddRs></QBXMLMsgsRs></QBXML>",
        amounts=(
            {"total": total}
            if status == "posted"
            else {"total": str(Decimal(total) - Decimal("0.01"))}
            if status == "differs"
            else None
        ),
        expected={"total": total} if status in ("posted", "differs") else None,
        at=at + dt.timedelta(seconds=60),
    )
    return Messages(event, command, outcome)
