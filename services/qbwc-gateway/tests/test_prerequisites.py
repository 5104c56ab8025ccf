"""Commands an event sends before its record (an item per GL account): they make sure
something exists, and never take the record's place in the id map or in audit.

The real mapper writes the commands, the gateway runs over real HTTP and a real nats-server,
the simulated company file answers as QuickBooks."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from decimal import Decimal

import pytest

from mlconnector.common.connections import Connection, ConnectionStore
from mlconnector.common.envelopes import Command, StEvent
from mlconnector.common.idmap import IdMap, IdMapping
from mlconnector.common.mapping import MappingSettings
from mlconnector.common.models import GLAccount, Invoice, InvoiceLine
from mlconnector.mapper.commands import map_event
from mlconnector.qbsim.company import Company, seed_contractor
from mlconnector.qbsim.queries import ListFilter

from .conftest import Gateway, SimQuickBooks

pytestmark = pytest.mark.nats

SERVICE_INCOME = GLAccount(id=40100, name="Service Income", number="4010", type="Income")


@pytest.fixture
def sim() -> Iterator[SimQuickBooks]:
    with Company(":memory:") as company:
        seed_contractor(company, sample_customers=True)
        yield SimQuickBooks(company)


def _invoice_event(st_id: int, number: str, hours: str) -> StEvent:
    """An invoice for a customer the seeded company already has, one line of labour."""
    quantity = Decimal(hours)
    total = quantity * Decimal("125.00")
    invoice = Invoice(
        st_id=st_id,
        number=number,
        customer_st_id=1001,
        customer_name="Smith, John",
        invoice_date=dt.date(2024, 5, 1),
        subtotal=total,
        sales_tax=Decimal("0.00"),
        total=total,
        lines=(
            InvoiceLine(
                st_id=st_id * 10,
                sku_name="Labor",
                description="Service call labour",
                quantity=quantity,
                price=Decimal("125.00"),
                total=total,
                gl_account=SERVICE_INCOME,
            ),
        ),
    )
    return StEvent(
        tenant="tenant-acme", entity="invoice", st_id=st_id, version="v1", record=invoice
    )


async def _connection(gateway: Gateway, sim: SimQuickBooks) -> Connection:
    connection = await gateway.add_connection("acme", "acme-qbwc", "s3cret-pass")
    connection.mapping = MappingSettings(item_strategy="gl_account", gl_item_prefix="ST ")
    await (await ConnectionStore.open(gateway.js)).put(connection)
    # The invoice's customer, posted earlier: its ListID is in the id map.
    customer = sim.company.customer_by_name("Smith, John")
    assert customer is not None
    await (await IdMap.open(gateway.js)).put(
        "acme", "customer", 1001, IdMapping(qb_id=customer.core.list_id)
    )
    return connection


async def _post(gateway: Gateway, sim: SimQuickBooks, commands: list[Command]) -> str | None:
    for command in commands:
        await gateway.publish(command)
    log = await gateway.run_session("acme-qbwc", "s3cret-pass", sim)
    return log.closed


async def test_item_made_for_a_gl_account_is_not_the_invoice(
    gateway: Gateway, sim: SimQuickBooks
) -> None:
    connection = await _connection(gateway, sim)
    first = map_event(_invoice_event(7001, "7001", "2"), connection)
    second = map_event(_invoice_event(7002, "7002", "3"), connection)
    assert [(c.request_type, c.is_prerequisite) for c in first] == [
        ("ItemServiceAddRq", True),
        ("InvoiceAddRq", False),
    ]

    # The session summary counts records: the item is the invoice's prerequisite.
    assert await _post(gateway, sim, first) == "Posted 1, failed 0, waiting 0, retrying 0"
    # The second invoice's item already exists: QuickBooks answers 3100 and that is fine.
    assert await _post(gateway, sim, second) == "Posted 1, failed 0, waiting 0, retrying 0"

    assert len(sim.requests("ItemServiceAddRq")) == 2  # sent twice, created once
    created, _ = sim.company.query_items(ListFilter(full_names=["ST Service Income"]))
    assert [(i.full_name, i.account.full_name if i.account else None) for i in created] == [
        ("ST Service Income", "Service Income")
    ]
    invoices = {i.ref_number: i for i in sim.company.invoices()}
    assert {
        ref: (invoices[ref].subtotal, [ln.item.full_name for ln in invoices[ref].lines if ln.item])
        for ref in ("7001", "7002")
    } == {
        "7001": (Decimal("250.00"), ["ST Service Income"]),
        "7002": (Decimal("375.00"), ["ST Service Income"]),
    }
    id_map = await IdMap.open(gateway.js)
    for st_id, ref in ((7001, "7001"), (7002, "7002")):
        mapped = await id_map.get("acme", "invoice", st_id)
        assert mapped is not None
        assert mapped.qb_id == invoices[ref].txn_id  # the invoice's TxnID, not the item's ListID
    outcomes = await gateway.outcomes("acme")
    assert [(o.st_id, o.status, o.prerequisite) for o in outcomes] == [
        (7001, "posted", True),
        (7001, "posted", False),
        (7002, "posted", True),
        (7002, "posted", False),
    ]
    assert outcomes[2].status_code == 3100
