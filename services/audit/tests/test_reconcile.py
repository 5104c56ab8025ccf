"""Reconciliation on SQLite and PostgreSQL: ServiceTitan's counts and totals against what
QuickBooks confirmed (its read-back amounts), per entity and day, and the records behind a
difference."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from audit_factories import CONN, TENANT, command_for, invoice_event, outcome_for

from mlconnector.audit.db import AuditDb
from mlconnector.audit.reconcile import ReconcileError, reconcile, reconcile_records
from mlconnector.audit.writes import Incoming
from mlconnector.common.envelopes import Command, StEvent
from mlconnector.common.models import Invoice, Payment, PaymentApplication

MAY_1 = dt.date(2024, 5, 1)
MAY_2 = dt.date(2024, 5, 2)


def invoice(st_id: int, total: str, day: dt.date = MAY_1, active: bool = True) -> StEvent:
    event = invoice_event(st_id=st_id)
    assert isinstance(event.record, Invoice)
    record = event.record.model_copy(
        update={"total": Decimal(total), "invoice_date": day, "active": active}
    )
    return event.model_copy(update={"record": record})


def payment(st_id: int, total: str, day: dt.date = MAY_1) -> StEvent:
    return StEvent(
        tenant=TENANT,
        entity="payment",
        st_id=st_id,
        version="v1",
        received_at=invoice_event().received_at,
        record=Payment(
            st_id=st_id,
            customer_st_id=1001,
            customer_name="Jane Doe",
            payment_date=day,
            reference=f"CHK{st_id}",
            total=Decimal(total),
            unapplied=Decimal("0"),
            applications=(PaymentApplication(invoice_st_id=5001, amount=Decimal(total)),),
        ),
    )


def command(event: StEvent) -> Command:
    made = command_for(event)
    if event.entity == "payment":
        made = made.model_copy(
            update={
                "request_type": "ReceivePaymentAddRq",
                "command_id": Command.make_id(CONN, event.event_id, "ReceivePaymentAddRq"),
            }
        )
    return made


async def write_all(db: AuditDb, *items: Incoming) -> None:
    for item in items:
        await db.write([item])


def messages(event: StEvent, status: str | None, **outcome: object) -> list[Incoming]:
    made = command(event)
    items = [Incoming(event.event_id, 1, event=event), Incoming(made.command_id, 1, command=made)]
    if status is not None:
        result = outcome_for(made, status=status, **outcome)
        items.append(Incoming(result.outcome_id, 1, outcome=result))
    return items


async def test_a_day_per_entity_with_read_back_amounts_and_the_records_behind_it(
    db: AuditDb,
) -> None:
    items = [
        # Posted, QuickBooks read back the same total.
        *messages(
            invoice(5001, "408.05"),
            "posted",
            amounts={"total": "408.05", "balance": "408.05"},
            expected={"total": "408.05"},
        ),
        # Posted, QuickBooks computed one cent less tax.
        *messages(
            invoice(5002, "230.59"),
            "differs",
            amounts={"subtotal": "227.50", "sales_tax": "3.08", "total": "230.58"},
            expected={"subtotal": "227.50", "sales_tax": "3.09", "total": "230.59"},
        ),
        # Failed: in ServiceTitan only.
        *messages(invoice(5003, "100.00"), "failed", status_code=3140),
        # Posted before the gateway read amounts back: counted as sent.
        *messages(invoice(5004, "50.00"), "posted"),
        # Voided in ServiceTitan and voided in QuickBooks: on neither side.
        *messages(invoice(5005, "75.00", active=False), "voided"),
        # Another day: not in May 1's figures.
        *messages(invoice(5006, "999.99", day=MAY_2), "posted", amounts={"total": "999.99"}),
        *messages(payment(9001, "408.05"), "posted", amounts={"total": "408.05"}),
    ]
    await write_all(db, *items)
    # A record no connection has taken yet (only its event): ServiceTitan has it.
    pending = invoice(5007, "20.00")
    await db.write([Incoming(pending.event_id, 1, event=pending)])

    day = await reconcile(db, CONN, TENANT, MAY_1, MAY_1)
    result = day.json()
    assert result["entities"] == [
        {
            "entity": "invoice",
            "st_count": 5,  # 5001-5004, 5007
            "st_total": "808.64",
            "qb_count": 3,  # 5001, 5002 (as QuickBooks has it), 5004
            "qb_total": "688.63",
            "difference_count": 2,
            "difference_total": "120.01",
            "not_read_back": 1,
            "matches": False,
        },
        {
            "entity": "payment",
            "st_count": 1,
            "st_total": "408.05",
            "qb_count": 1,
            "qb_total": "408.05",
            "difference_count": 0,
            "difference_total": "0.00",
            "not_read_back": 0,
            "matches": True,
        },
        {
            "entity": "bill",
            "st_count": 0,
            "st_total": "0.00",
            "qb_count": 0,
            "qb_total": "0.00",
            "difference_count": 0,
            "difference_total": "0.00",
            "not_read_back": 0,
            "matches": True,
        },
    ]
    assert result["matches"] is False
    assert [d["date"] for d in result["days"]] == ["2024-05-01"]

    behind = await reconcile_records(db, CONN, TENANT, "invoice", MAY_1, MAY_1)
    assert sorted(
        (r["st_id"], r["amount"], r["qb_amount"], r["difference"], r["reason"]) for r in behind
    ) == [
        (5002, "230.59", "230.58", "0.01", "amount differs"),
        (5003, "100.00", None, "100.00", "not in QuickBooks yet"),
        (5007, "20.00", None, "20.00", "not in QuickBooks yet"),
    ]
    everything = await reconcile_records(
        db, CONN, TENANT, "invoice", MAY_1, MAY_1, only_differences=False
    )
    assert len(everything) == 6  # and the matching 5001, 5004 and the voided 5005
    assert [r["reason"] for r in everything][-3:] == [None, None, None]

    two_days = (await reconcile(db, CONN, TENANT, MAY_1, MAY_2)).json()
    assert [e["st_total"] for e in two_days["entities"]] == ["1808.63", "408.05", "0.00"]
    assert [d["date"] for d in two_days["days"]] == ["2024-05-01", "2024-05-02"]
    assert two_days["days"][1]["entities"][0]["qb_total"] == "999.99"


async def test_a_record_voided_in_servicetitan_but_still_in_quickbooks_is_a_difference(
    db: AuditDb,
) -> None:
    await write_all(db, *messages(invoice(5010, "40.00"), "posted", amounts={"total": "40.00"}))
    voided = invoice(5010, "40.00", active=False).model_copy(update={"version": "v2"})
    await db.write([Incoming(voided.event_id, 2, event=voided)])
    figures = (await reconcile(db, CONN, TENANT, MAY_1, MAY_1)).entities["invoice"]
    assert (figures.st_count, figures.qb_count, figures.qb_total) == (0, 1, 4000)
    [record] = await reconcile_records(db, CONN, TENANT, "invoice", MAY_1, MAY_1)
    assert (record["reason"], record["difference"]) == (
        "voided in ServiceTitan, still in QuickBooks",
        "-40.00",
    )


async def test_ranges_that_cannot_be_reconciled_are_refused(db: AuditDb) -> None:
    with pytest.raises(ReconcileError, match="swap the two dates"):
        await reconcile(db, CONN, TENANT, MAY_2, MAY_1)
    with pytest.raises(ReconcileError, match="at most 366 days"):
        await reconcile(db, CONN, TENANT, MAY_1, MAY_1 + dt.timedelta(days=400))
    with pytest.raises(ReconcileError, match="not 'customer'"):
        await reconcile_records(db, CONN, TENANT, "customer", MAY_1, MAY_1)
