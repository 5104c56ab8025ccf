"""One record, one QuickBooks transaction, the right amounts: the faults a contractor's real
month brings, each against the real mapper, the gateway over real HTTP and a real
nats-server, and the simulated company file as QuickBooks (sims/quickbooks)."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Iterator
from decimal import ROUND_HALF_UP, Decimal

import pytest
from lxml import etree

from mlconnector.common.connections import Connection, ConnectionStore
from mlconnector.common.envelopes import SELF_ID, Command, StEvent
from mlconnector.common.models import (
    Address,
    Invoice,
    InvoiceLine,
    Party,
    Payment,
    PaymentApplication,
)
from mlconnector.common.onboarding.holds import HoldError, choose_hold
from mlconnector.common.onboarding.store import ReviewStore
from mlconnector.mapper.commands import map_event
from mlconnector.qbsim.company import Company, Entity, seed_contractor
from mlconnector.qbsim.driver import WebConnectorDriver

from .conftest import COMPANY_FILE, Gateway, SimQuickBooks

pytestmark = pytest.mark.nats

TENANT = "tenant-acme"
MONDAY = dt.datetime(2026, 11, 30, 8, 0, tzinfo=dt.UTC)


@pytest.fixture
def sim() -> Iterator[SimQuickBooks]:
    with Company(":memory:") as company:
        seed_contractor(company)
        yield SimQuickBooks(company)


def _tags(message: etree._Element) -> list[str]:
    msgs = message.find("QBXMLMsgsRq")
    assert msgs is not None
    return [rq.tag for rq in msgs]


def customer_event(
    st_id: int, name: str, street: str, modified: dt.datetime, generation: int = 0
) -> StEvent:
    party = Party(
        kind="customer",
        st_id=st_id,
        name=name,
        phone="217-555-0100",
        address=Address(street=street, city="Springfield", state="IL", zip="62701"),
        modified_on=modified,
    )
    return StEvent(
        tenant=TENANT,
        entity="customer",
        st_id=st_id,
        version=modified.isoformat(),
        record=party,
        generation=generation,
    )


def invoice_event(
    st_id: int,
    customer_st_id: int,
    customer_name: str,
    modified: dt.datetime,
    pipe_feet: int = 4,
    tax_rate: Decimal = Decimal("0.0825"),
    copper_feet: int = 0,
) -> StEvent:
    """Labor 2 x 125.00 (not taxable), PVC-075 feet x 36.50 and, when asked, CU-050 feet x
    6.40 (taxable) at `tax_rate`."""
    pipe = Decimal(pipe_feet) * Decimal("36.50")
    copper = Decimal(copper_feet) * Decimal("6.40")
    subtotal = Decimal("250.00") + pipe + copper
    # ServiceTitan and QuickBooks both round half up (12.045 -> 12.05).
    tax = ((pipe + copper) * tax_rate).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
    lines = [
        InvoiceLine(
            st_id=st_id * 10 + 1,
            sku_name="Labor",
            description="Replace water heater",
            quantity=Decimal("2"),
            price=Decimal("125.00"),
            total=Decimal("250.00"),
        ),
        InvoiceLine(
            st_id=st_id * 10 + 2,
            sku_name="PVC-075",
            description='3/4" PVC pipe',
            quantity=Decimal(pipe_feet),
            price=Decimal("36.50"),
            total=pipe,
            taxable=True,
        ),
    ]
    if copper_feet:
        lines.append(
            InvoiceLine(
                st_id=st_id * 10 + 3,
                sku_name="CU-050",
                description='1/2" copper pipe',
                quantity=Decimal(copper_feet),
                price=Decimal("6.40"),
                total=copper,
                taxable=True,
            )
        )
    invoice = Invoice(
        st_id=st_id,
        number=str(st_id),
        customer_st_id=customer_st_id,
        customer_name=customer_name,
        invoice_date=dt.date(2026, 11, 27),
        subtotal=subtotal,
        sales_tax=tax,
        total=subtotal + tax,
        lines=tuple(lines),
        modified_on=modified,
    )
    return StEvent(
        tenant=TENANT,
        entity="invoice",
        st_id=st_id,
        version=modified.isoformat(),
        record=invoice,
    )


async def _connection(gateway: Gateway, retry_sessions: int = 5) -> Connection:
    connection = await gateway.add_connection("acme", "acme-qbwc", "s3cret-pass")
    connection.retry_sessions = retry_sessions
    await (await ConnectionStore.open(gateway.js)).put(connection)
    return connection


async def _publish(gateway: Gateway, connection: Connection, *events: StEvent) -> list[Command]:
    commands = [command for event in events for command in map_event(event, connection)]
    for command in commands:
        await gateway.publish(command)
    return commands


async def _session(gateway: Gateway, sim: SimQuickBooks) -> str | None:
    log = await gateway.run_session("acme-qbwc", "s3cret-pass", sim, max_rounds=50)
    return log.closed


def _street(entity: Entity) -> list[str | None]:
    address = entity.bill_address
    assert address is not None
    return [address.addr1, address.addr2, address.addr3]


def _invoice_totals(sim: SimQuickBooks) -> list[tuple[str, Decimal, Decimal, Decimal]]:
    return [
        (i.ref_number or "", i.subtotal, i.sales_tax_total, i.balance_remaining)
        for i in sim.company.invoices()
    ]


async def test_edited_while_quickbooks_was_closed_posts_once_with_the_newest_version(
    gateway: Gateway, sim: SimQuickBooks
) -> None:
    connection = await _connection(gateway)
    customer = customer_event(1001, "Hernandez, Maria", "12 Main St", MONDAY)
    first = invoice_event(5001, 1001, "Hernandez, Maria", MONDAY, pipe_feet=4)
    # Edited in ServiceTitan over the weekend, before QuickBooks was open again.
    second = invoice_event(
        5001, 1001, "Hernandez, Maria", MONDAY + dt.timedelta(hours=2), pipe_feet=5
    )
    commands = await _publish(gateway, connection, customer, first, second)

    assert await _session(gateway, sim) == (
        "Posted 2, failed 0, waiting 0, retrying 0, superseded by a newer version 1"
    )

    # 5 x 36.50 = 182.50 taxable at 8.25% = 15.06; 250.00 + 182.50 + 15.06 = 447.56.
    assert _invoice_totals(sim) == [
        ("5001", Decimal("432.50"), Decimal("15.06"), Decimal("447.56"))
    ]
    assert len(sim.requests("InvoiceAddRq")) == 1
    outcomes = {(o.command_id, o.status) for o in await gateway.outcomes("acme")}
    assert (commands[1].command_id, "superseded") in outcomes
    assert (commands[2].command_id, "posted") in outcomes
    assert await gateway.open_work("acme") == (0, 0)


async def test_an_older_version_never_overwrites_a_newer_one(
    gateway: Gateway, sim: SimQuickBooks
) -> None:
    connection = await _connection(gateway)
    old = customer_event(1001, "Hernandez, Maria", "12 Main St", MONDAY)
    new = customer_event(1001, "Hernandez, Maria", "48 Oak Ave", MONDAY + dt.timedelta(hours=1))
    await _publish(gateway, connection, new)
    assert await _session(gateway, sim) == "Posted 1, failed 0, waiting 0, retrying 0"

    # The older version arrives late (a redelivery, a replay, a second mapper).
    [late] = await _publish(gateway, connection, old)
    log = await gateway.run_session("acme-qbwc", "s3cret-pass", sim)

    assert (log.auth[1], log.sent) == ("none", [])
    [maria] = sim.company.customers()
    assert "48 Oak Ave" in _street(maria)
    assert len(sim.requests("CustomerModRq")) == 0
    [superseded] = [o for o in await gateway.outcomes("acme") if o.command_id == late.command_id]
    assert superseded.status == "superseded"
    assert superseded.status_message.startswith(
        "This version of customer 1001 is not newer than the one QuickBooks already holds"
    )

    # Both versions queued at once, the newer first: the older is superseded on arrival.
    newest = customer_event(1001, "Hernandez, Maria", "7 Elm Ct", MONDAY + dt.timedelta(hours=3))
    middle = customer_event(1001, "Hernandez, Maria", "9 Pine Rd", MONDAY + dt.timedelta(hours=2))
    await _publish(gateway, connection, newest, middle)
    assert await _session(gateway, sim) == (
        "Posted 1, failed 0, waiting 0, retrying 0, superseded by a newer version 1"
    )
    [maria] = sim.company.customers()
    assert "7 Elm Ct" in _street(maria)
    assert len(sim.company.customers()) == 1


async def test_unanswered_adds_are_looked_up_and_a_missing_name_500_means_add_it(
    gateway: Gateway, sim: SimQuickBooks
) -> None:
    connection = await _connection(gateway)
    customers = [
        customer_event(1000 + n, f"Customer {n:02d}", f"{n} Main St", MONDAY) for n in range(8)
    ]
    invoices = [invoice_event(5000 + n, 1000 + n, f"Customer {n:02d}", MONDAY) for n in range(8)]
    await _publish(gateway, connection, *customers, *invoices)
    ticket, _ = await gateway.call("authenticate", "acme-qbwc", "s3cret-pass")
    assert await gateway.send(ticket) is not None
    # The Web Connector dropped the session before QuickBooks ever saw the message: every
    # Add's outcome is unknown, so each is looked up, and QuickBooks answers a FullName it
    # does not have with 500.
    log = await gateway.run_session("acme-qbwc", "s3cret-pass", sim)

    assert [_tags(m)[0] for m in sim.messages[:2]] == ["CustomerQueryRq", "CustomerAddRq"]
    lookups = [rs for rs in sim.responses() if rs.tag == "CustomerQueryRs"]
    assert {rs.get("statusCode") for rs in lookups} == {"500"}
    assert log.closed == "Posted 16, failed 0, waiting 0, retrying 0"
    assert len(sim.company.customers()) == 8
    assert len(sim.company.invoices()) == 8
    assert sum(i.balance_remaining for i in sim.company.invoices()) == Decimal("3264.40")
    assert await gateway.open_work("acme") == (0, 0)


async def test_quickbooks_computing_other_tax_is_reported_with_both_figures(
    gateway: Gateway, sim: SimQuickBooks
) -> None:
    connection = await _connection(gateway)
    customer = customer_event(1001, "Hernandez, Maria", "12 Main St", MONDAY)
    # A 6.25% tax zone in ServiceTitan: 146.00 x 6.25% = 9.13, total 405.13.
    invoice = invoice_event(5001, 1001, "Hernandez, Maria", MONDAY, tax_rate=Decimal("0.0625"))
    commands = await _publish(gateway, connection, customer)
    mapped = map_event(invoice, connection)
    # What ServiceTitan says the invoice comes to (the mapper sets it on every transaction).
    expected = {"subtotal": "396.00", "sales_tax": "9.13", "total": "405.13"}
    commands += [
        c.model_copy(update={"expected": expected}) if not c.is_prerequisite else c for c in mapped
    ]
    for command in commands[1:]:
        await gateway.publish(command)

    assert await _session(gateway, sim) == (
        "Posted 1, failed 0, waiting 0, retrying 0, posted with other amounts than ServiceTitan 1"
    )
    [differs] = [o for o in await gateway.outcomes("acme") if o.entity == "invoice"]
    assert differs.status == "differs"
    assert differs.amounts == {
        "subtotal": "396.00",
        "sales_tax": "12.05",
        "balance": "408.05",
        "total": "408.05",
    }
    assert differs.expected == expected
    assert differs.status_message == (
        "Status OK, but QuickBooks' amounts differ from ServiceTitan's: sales tax 9.13 in "
        "ServiceTitan, 12.05 in QuickBooks; total 405.13 in ServiceTitan, 408.05 in QuickBooks"
    )
    assert differs.hint is not None
    assert "tax_zone_map" in differs.hint
    assert _invoice_totals(sim) == [
        ("5001", Decimal("396.00"), Decimal("12.05"), Decimal("408.05"))
    ]


async def test_a_name_in_use_holds_the_customer_and_its_invoice_until_the_operator_chooses(
    gateway: Gateway, sim: SimQuickBooks
) -> None:
    connection = await _connection(gateway)
    # A vendor of the seeded company already has this name: QuickBooks answers 3100.
    customer = customer_event(1001, "Ferguson Supply", "1200 Industrial Way", MONDAY)
    invoice = invoice_event(5001, 1001, "Ferguson Supply", MONDAY)
    await _publish(gateway, connection, customer, invoice)

    log = await gateway.run_session("acme-qbwc", "s3cret-pass", sim)

    # Nothing fails: the customer and the invoice behind it wait for the operator's choice.
    assert log.closed == "Posted 0, failed 0, waiting 2, retrying 0"
    by_entity = {o.entity: o for o in await gateway.outcomes("acme")}
    assert (by_entity["customer"].status, by_entity["customer"].status_code) == ("waiting", 3100)
    assert by_entity["invoice"].status == "waiting"
    assert by_entity["invoice"].status_message.startswith(
        "waiting for your choice about customer 1001: its name 'Ferguson Supply' is "
        "QuickBooks vendor 'Ferguson Supply'"
    )
    # QuickBooks was asked what holds the name, as a customer and as a vendor.
    lookups = [rq for rq in sim.requests("CustomerQueryRq") + sim.requests("VendorQueryRq")]
    assert [rq.findtext("FullName") for rq in lookups] == ["Ferguson Supply"] * 2
    holds = await (await ReviewStore.open(gateway.js)).holds("acme")
    hold = holds.items["customer:1001"]
    assert (hold.state, hold.can_link, hold.dependants) == ("offered", False, 1)
    assert hold.existing is not None
    assert (hold.existing.kind, hold.suffixed_name) == ("Vendor", "Ferguson Supply #1001")
    # Later sessions send nothing for them and count nothing against them.
    again = await gateway.run_session("acme-qbwc", "s3cret-pass", sim)
    assert (again.auth[1], again.sent) == ("none", [])
    entries = await gateway.ledger("acme")
    assert sorted(
        (e.entity, e.state, e.waited) for e in entries.values() if e.kind == "record"
    ) == [
        ("customer", "queued", 0),
        ("invoice", "queued", 0),
    ]
    with pytest.raises(HoldError, match="cannot be linked"):
        await choose_hold(gateway.js, "acme", "customer:1001", "link")

    await choose_hold(gateway.js, "acme", "customer:1001", "suffix")
    assert await _session(gateway, sim) == "Posted 2, failed 0, waiting 0, retrying 0"

    [added] = sim.company.customers()
    assert added.full_name == "Ferguson Supply #1001"
    [posted] = sim.company.invoices()
    assert posted.customer.list_id == added.core.list_id
    assert (await (await ReviewStore.open(gateway.js)).holds("acme")).items == {}
    codes = [o.status_code for o in await gateway.outcomes("acme") if o.status == "failed"]
    assert codes == []


async def test_retry_maps_the_record_again_and_posts_it_once(
    gateway: Gateway, sim: SimQuickBooks
) -> None:
    connection = await _connection(gateway)
    customer = customer_event(1001, "Ferguson Supply", "1200 Industrial Way", MONDAY)
    invoice = invoice_event(5001, 1001, "Ferguson Supply", MONDAY)
    await _publish(gateway, connection, customer, invoice)
    assert await _session(gateway, sim) == "Posted 0, failed 0, waiting 2, retrying 0"

    # The office renames the vendor in QuickBooks, then presses retry on both records: the
    # same versions again, with a retry generation (audit publishes them); the held version
    # is replaced, so the new one is tried afresh.
    [vendor] = [v for v in sim.company.vendors() if v.name == "Ferguson Supply"]
    sim.company.edit_party_as_user(vendor.core.list_id, name="Ferguson Enterprises")
    retried = [
        event.model_copy(update={"generation": 1_764_500_000_000, "source": "retry"})
        for event in (customer, invoice)
    ]
    commands = await _publish(gateway, connection, *retried)

    # The held versions never reached QuickBooks: the retried ones replace them.
    assert await _session(gateway, sim) == (
        "Posted 2, failed 0, waiting 0, retrying 0, superseded by a newer version 2"
    )
    assert [c.full_name for c in sim.company.customers()] == ["Ferguson Supply"]
    assert _invoice_totals(sim) == [
        ("5001", Decimal("396.00"), Decimal("12.05"), Decimal("408.05"))
    ]
    posted = {o.command_id for o in await gateway.outcomes("acme") if o.status == "posted"}
    assert {c.command_id for c in commands if not c.is_prerequisite} <= posted
    # A second press posts nothing twice.
    await _publish(gateway, connection, *retried)
    log = await gateway.run_session("acme-qbwc", "s3cret-pass", sim)
    assert (log.auth[1], log.sent) == ("none", [])
    assert len(sim.company.invoices()) == 1


@pytest.mark.parametrize(
    "gateway_settings", [{"QBWC_BATCH_SIZE": 10, "QBWC_CHANGES_EVERY_SECONDS": 0}]
)
async def test_dependents_ahead_of_their_dependencies_never_block_them(
    gateway: Gateway, sim: SimQuickBooks
) -> None:
    connection = await _connection(gateway)
    # ServiceTitan's feeds read one after the other: 40 invoices arrive before any customer.
    invoices = [invoice_event(5000 + n, 1000 + n, f"Customer {n:02d}", MONDAY) for n in range(40)]
    customers = [
        customer_event(1000 + n, f"Customer {n:02d}", f"{n} Main St", MONDAY) for n in range(40)
    ]
    await _publish(gateway, connection, *invoices, *customers)

    log = await gateway.run_session("acme-qbwc", "s3cret-pass", sim)

    assert log.closed == "Posted 80, failed 0, waiting 0, retrying 0"
    # 40 customers, then 40 invoices, 10 per message: 8 messages, none wasted.
    assert [len(_tags(m)) for m in sim.messages] == [10] * 8
    assert len(sim.company.invoices()) == 40
    assert await gateway.open_work("acme") == (0, 0)


@pytest.mark.parametrize(
    "gateway_settings", [{"QBWC_BATCH_SIZE": 50, "QBWC_CHANGES_EVERY_SECONDS": 0}]
)
async def test_a_slow_quickbooks_gets_smaller_messages_until_the_backlog_posts(
    gateway: Gateway, sim: SimQuickBooks
) -> None:
    connection = await _connection(gateway)
    customers = [
        customer_event(1000 + n, f"Customer {n:02d}", f"{n} Main St", MONDAY) for n in range(40)
    ]
    await _publish(gateway, connection, *customers)
    naps: list[float] = []
    # QuickBooks needs 8 s per request; the Web Connector gives up on a message after 60 s
    # (QuickBooks still applies it). Today's 40-request message takes 320 s: it never
    # finishes unless the gateway sends smaller ones.
    with WebConnectorDriver(
        gateway.url,
        "acme-qbwc",
        "s3cret-pass",
        sim.company,
        company_file=COMPANY_FILE,
        latency_ms=8000,
        request_timeout=60,
        seed=9,
        sleep=naps.append,
    ) as driver:
        driver.processor = sim  # type: ignore[assignment]  # the same company, every message kept
        reports = []
        while len(sim.company.customers()) < 40 or reports[-1].percent != 100:
            assert len(reports) < 30, [r.timeouts for r in reports]
            reports.append(await asyncio.to_thread(driver.run_cycle))

    assert len(sim.company.customers()) == 40  # each once, though messages were abandoned
    assert await gateway.open_work("acme") == (0, 0)
    # Message sizes, without the Web Connector's own HostQuery at the start of each cycle.
    sizes = [len(_tags(m)) for m in sim.messages if _tags(m) != ["HostQueryRq"]]
    # 40 (320 s: given up; one abandoned message may be a lost answer, so it goes again), 40
    # (given up again), 20, 10 (given up), 5 (40 s: in time), 7 (56 s), 8 (64 s: given up,
    # twice), then 7 at most (between what worked and what did not): once the limit is found,
    # no message the Web Connector waits 60 s for.
    assert sizes == [40, 40, 20, 10, 5, 7, 8, 8, 7, 7, 7, 7]
    assert [bool(r.timeouts) for r in reports] == [True] * 6 + [False]


def void_command(posted: Command, modified: dt.datetime) -> Command:
    """What the mapper sends for an invoice voided (inactive) in ServiceTitan."""
    event_id = f"{TENANT}:invoice:{posted.st_id}:{modified.isoformat()}"
    return posted.model_copy(
        update={
            "command_id": Command.make_id("acme", event_id, "TxnVoidRq"),
            "event_id": event_id,
            "action": "void",
            "request_type": "TxnVoidRq",
            "qbxml": f"<TxnVoidRq><TxnVoidType>Invoice</TxnVoidType><TxnID>{SELF_ID}</TxnID>"
            "</TxnVoidRq>",
            "lookup_qbxml": None,
            "mod_qbxml": None,
            "version_at": modified,
            "refs": (),
        }
    )


async def test_voided_after_posting_is_voided_in_quickbooks_and_never_posted_again(
    gateway: Gateway, sim: SimQuickBooks
) -> None:
    connection = await _connection(gateway)
    customer = customer_event(1001, "Hernandez, Maria", "12 Main St", MONDAY)
    invoice = invoice_event(5001, 1001, "Hernandez, Maria", MONDAY)
    commands = await _publish(gateway, connection, customer, invoice)
    assert await _session(gateway, sim) == "Posted 2, failed 0, waiting 0, retrying 0"
    assert sim.company.ar_balance() == Decimal("408.05")

    [add] = [c for c in commands if c.request_type == "InvoiceAddRq"]
    void = void_command(add, MONDAY + dt.timedelta(days=1))
    await gateway.publish(void)
    assert await _session(gateway, sim) == "Posted 0, failed 0, waiting 0, retrying 0, voided 1"

    [voided] = sim.company.invoices()
    assert (voided.subtotal, voided.balance_remaining) == (Decimal("0.00"), Decimal("0.00"))
    assert sim.company.ar_balance() == Decimal("0.00")
    outcome = (await gateway.outcomes("acme"))[-1]
    assert (outcome.command_id, outcome.status, outcome.qb_id) == (
        void.command_id,
        "voided",
        voided.txn_id,
    )
    # The posted version comes again (a replay after the void): never posted again.
    await gateway.js.publish(
        "qb.commands.acme",
        add.model_dump_json().encode(),
        headers={"Nats-Msg-Id": f"replay:{add.command_id}"},
    )
    log = await gateway.run_session("acme-qbwc", "s3cret-pass", sim)
    assert (log.auth[1], log.sent) == ("none", [])
    assert len(sim.company.invoices()) == 1
    assert sim.company.ar_balance() == Decimal("0.00")


async def test_voided_before_it_could_post_is_never_posted_even_on_replay(
    gateway: Gateway, sim: SimQuickBooks
) -> None:
    connection = await _connection(gateway)
    customer = customer_event(1001, "Hernandez, Maria", "12 Main St", MONDAY)
    invoice = invoice_event(5001, 1001, "Hernandez, Maria", MONDAY)
    commands = await _publish(gateway, connection, customer)
    [add] = [c for c in map_event(invoice, connection) if c.request_type == "InvoiceAddRq"]
    void = void_command(add, MONDAY + dt.timedelta(hours=1))
    await gateway.publish(void)  # QuickBooks was closed: only the void is queued
    assert await _session(gateway, sim) == "Posted 1, failed 0, waiting 0, retrying 0, voided 1"
    assert sim.company.invoices() == []

    # A replay of the older, active version: older than what the id map holds, never sent.
    await gateway.publish(add)
    log = await gateway.run_session("acme-qbwc", "s3cret-pass", sim)
    assert (log.auth[1], log.sent) == ("none", [])
    assert sim.company.invoices() == []
    statuses = [(o.command_id, o.status) for o in await gateway.outcomes("acme")]
    assert statuses == [
        (void.command_id, "voided"),
        (commands[0].command_id, "posted"),
        (add.command_id, "superseded"),
    ]


async def test_an_invoice_edited_after_posting_is_modified_line_by_line(
    gateway: Gateway, sim: SimQuickBooks
) -> None:
    connection = await _connection(gateway)
    customer = customer_event(1001, "Hernandez, Maria", "12 Main St", MONDAY)
    first = invoice_event(5001, 1001, "Hernandez, Maria", MONDAY)
    await _publish(gateway, connection, customer, first)
    assert await _session(gateway, sim) == "Posted 2, failed 0, waiting 0, retrying 0"
    [posted] = sim.company.invoices()
    line_ids = [line.txn_line_id for line in posted.lines]

    # After posting: a fifth foot of pipe and 10 ft of copper (ServiceTitan edits exported
    # invoices; the mapping's default for invoices is `on_change: modify`).
    edited = invoice_event(
        5001, 1001, "Hernandez, Maria", MONDAY + dt.timedelta(days=1), pipe_feet=5, copper_feet=10
    )
    await _publish(gateway, connection, edited)
    assert await _session(gateway, sim) == "Posted 1, failed 0, waiting 0, retrying 0"

    [modified] = sim.company.invoices()
    assert modified.txn_id == posted.txn_id  # the same invoice, never a second one
    # 250.00 + 182.50 + 64.00 = 496.50; tax 8.25% of 246.50 = 20.34; total 516.84.
    assert (modified.subtotal, modified.sales_tax_total, modified.balance_remaining) == (
        Decimal("496.50"),
        Decimal("20.34"),
        Decimal("516.84"),
    )
    assert [line.txn_line_id for line in modified.lines][:2] == line_ids
    [mod] = sim.requests("InvoiceMod")
    assert [line.findtext("TxnLineID") for line in mod.iter("InvoiceLineMod")] == [
        *line_ids,
        "-1",
    ]
    outcome = (await gateway.outcomes("acme"))[-1]
    assert (outcome.status, outcome.qb_id) == ("posted", posted.txn_id)
    assert outcome.amounts is not None
    assert outcome.amounts["total"] == "516.84"
    assert sim.company.ar_balance() == Decimal("516.84")

    # A third version removes the copper again: its line leaves the invoice.
    third = invoice_event(5001, 1001, "Hernandez, Maria", MONDAY + dt.timedelta(days=2))
    await _publish(gateway, connection, third)
    assert await _session(gateway, sim) == "Posted 1, failed 0, waiting 0, retrying 0"
    [back] = sim.company.invoices()
    assert [line.txn_line_id for line in back.lines] == line_ids
    assert back.balance_remaining == Decimal("408.05")


async def test_an_adjustment_becomes_a_credit_memo_applied_to_its_invoice(
    gateway: Gateway, sim: SimQuickBooks
) -> None:
    connection = await _connection(gateway)
    customer = customer_event(1001, "Hernandez, Maria", "12 Main St", MONDAY)
    invoice = invoice_event(5001, 1001, "Hernandez, Maria", MONDAY)
    # The pipe comes back: an adjustment invoice of -146.00 and its tax -12.05.
    returned = Invoice(
        st_id=5101,
        number="5001-A",
        customer_st_id=1001,
        customer_name="Hernandez, Maria",
        invoice_date=dt.date(2026, 11, 28),
        subtotal=Decimal("-146.00"),
        sales_tax=Decimal("-12.05"),
        total=Decimal("-158.05"),
        adjustment_to_id=5001,
        lines=(
            InvoiceLine(
                st_id=51012,
                sku_name="PVC-075",
                description='3/4" PVC pipe returned',
                quantity=Decimal("-4"),
                price=Decimal("36.50"),
                total=Decimal("-146.00"),
                taxable=True,
            ),
        ),
        modified_on=MONDAY + dt.timedelta(days=1),
    )
    adjustment = StEvent(
        tenant=TENANT,
        entity="invoice",
        st_id=5101,
        version=(MONDAY + dt.timedelta(days=1)).isoformat(),
        record=returned,
    )
    # All at once, the adjustment first: the gateway orders them by what each names.
    await _publish(gateway, connection, adjustment, invoice, customer)
    assert await _session(gateway, sim) == "Posted 4, failed 0, waiting 0, retrying 0"

    [memo] = sim.company.credit_memos()
    assert (memo.total_amount, memo.credit_remaining) == (Decimal("158.05"), Decimal("0.00"))
    [adjusted] = sim.company.invoices()
    assert adjusted.balance_remaining == Decimal("250.00")
    assert sim.company.ar_balance() == Decimal("250.00")
    assert sim.company.customer_balance("Hernandez, Maria") == Decimal("250.00")
    # Nothing more to send: the application is never sent twice.
    log = await gateway.run_session("acme-qbwc", "s3cret-pass", sim)
    assert (log.auth[1], log.sent) == ("none", [])
    assert len(sim.requests("ReceivePaymentAddRq")) == 1


async def test_a_change_in_a_closed_period_is_explained_with_the_difference(
    gateway: Gateway, sim: SimQuickBooks
) -> None:
    connection = await _connection(gateway)
    customer = customer_event(1001, "Hernandez, Maria", "12 Main St", MONDAY)
    await _publish(
        gateway, connection, customer, invoice_event(5001, 1001, "Hernandez, Maria", MONDAY)
    )
    assert await _session(gateway, sim) == "Posted 2, failed 0, waiting 0, retrying 0"
    # The accountant closes November before ServiceTitan's edit arrives.
    sim.company.set_closing_date(dt.date(2026, 11, 30))
    edited = invoice_event(
        5001, 1001, "Hernandez, Maria", MONDAY + dt.timedelta(days=1), pipe_feet=5
    )
    await _publish(gateway, connection, edited)

    assert await _session(gateway, sim) == "Posted 0, failed 1, waiting 0, retrying 0"
    refused = (await gateway.outcomes("acme"))[-1]
    assert (refused.status, refused.status_code) == ("failed", 3171)
    assert refused.difference is not None
    assert refused.difference["total"] == ("408.05", "447.56")
    assert "(the change QuickBooks refused: line 2 PVC-075: 4 x 36.50" in refused.status_message
    assert refused.status_message.endswith("; total 408.05 -> 447.56)")
    assert refused.hint is not None
    assert "closing date" in refused.hint
    [kept] = sim.company.invoices()
    assert kept.balance_remaining == Decimal("408.05")


async def test_an_exceeded_credit_limit_fails_at_once_and_is_not_retried(
    gateway: Gateway, sim: SimQuickBooks
) -> None:
    connection = await _connection(gateway)
    await _publish(
        gateway, connection, customer_event(1001, "Hernandez, Maria", "12 Main St", MONDAY)
    )
    assert await _session(gateway, sim) == "Posted 1, failed 0, waiting 0, retrying 0"
    maria = sim.company.customer_by_name("Hernandez, Maria")
    assert maria is not None
    sim.company.edit_party_as_user(maria.core.list_id, credit_limit=Decimal("300.00"))
    await _publish(gateway, connection, invoice_event(5001, 1001, "Hernandez, Maria", MONDAY))

    assert await _session(gateway, sim) == "Posted 0, failed 1, waiting 0, retrying 0"
    refused = (await gateway.outcomes("acme"))[-1]
    assert (refused.status, refused.status_code) == ("failed", 3180)
    assert refused.hint is not None
    assert refused.hint.startswith("The customer's credit limit in QuickBooks would be exceeded.")
    again = await gateway.run_session("acme-qbwc", "s3cret-pass", sim)
    assert (again.auth[1], again.sent) == ("none", [])
    assert sim.company.invoices() == []


def payment_event(
    st_id: int, invoice: StEvent, modified: dt.datetime, *, active: bool = True
) -> StEvent:
    """A check paying `invoice` in full (deleted in ServiceTitan when not `active`)."""
    assert isinstance(invoice.record, Invoice)
    total = invoice.record.total
    payment = Payment(
        st_id=st_id,
        customer_st_id=invoice.record.customer_st_id,
        customer_name=invoice.record.customer_name,
        payment_date=dt.date(2026, 11, 28),
        reference="1042",
        payment_type="Check",
        total=total,
        unapplied=Decimal("0.00"),
        applications=(PaymentApplication(invoice_st_id=invoice.st_id, amount=total),),
        active=active,
        modified_on=modified,
    )
    return StEvent(
        tenant=TENANT, entity="payment", st_id=st_id, version=modified.isoformat(), record=payment
    )


async def test_a_delete_whose_answer_was_lost_is_not_failed_when_sent_again(
    gateway: Gateway, sim: SimQuickBooks
) -> None:
    """Found by the chaos test: QuickBooks deleted the payment, the answer was lost, and the
    TxnDel sent again met "cannot be found" (3120): the record was "failed" although
    QuickBooks matched ServiceTitan. It is "voided" (deleted), and QuickBooks unchanged."""
    connection = await _connection(gateway)
    connection.mapping = connection.mapping.model_copy(update={"payment_void": "delete"})
    await (await ConnectionStore.open(gateway.js)).put(connection)
    customer = customer_event(1001, "Hernandez, Maria", "12 Main St", MONDAY)
    invoice = invoice_event(5001, 1001, "Hernandez, Maria", MONDAY)
    payment = payment_event(9001, invoice, MONDAY)
    await _publish(gateway, connection, customer, invoice, payment)
    assert await _session(gateway, sim) == "Posted 3, failed 0, waiting 0, retrying 0"
    assert [i.balance_remaining for i in sim.company.invoices()] == [Decimal("0.00")]

    deleted = payment_event(9001, invoice, MONDAY + dt.timedelta(days=1), active=False)
    [delete] = await _publish(gateway, connection, deleted)
    assert delete.request_type == "TxnDelRq"
    # QuickBooks deletes it; the Web Connector dies before it hands the answer back.
    ticket, _ = await gateway.call("authenticate", "acme-qbwc", "s3cret-pass")
    request = await gateway.send(ticket)
    assert request is not None
    assert "<TxnDelRq" in request
    sim.process(request)
    assert sim.company.payments() == []

    assert await _session(gateway, sim) == "Posted 0, failed 0, waiting 0, retrying 0, voided 1"
    assert _tags(sim.messages[-1]) == ["TxnDelRq"]  # sent again: QuickBooks has none
    assert sim.company.payments() == []
    assert [i.balance_remaining for i in sim.company.invoices()] == [Decimal("408.05")]
    outcome = (await gateway.outcomes("acme"))[-1]
    assert (outcome.command_id, outcome.status, outcome.status_code) == (
        delete.command_id,
        "voided",
        None,
    )
    assert outcome.status_message is not None
    assert outcome.status_message.startswith("already gone from QuickBooks (")
    log = await gateway.run_session("acme-qbwc", "s3cret-pass", sim)
    assert (log.auth[1], log.sent) == ("none", [])
