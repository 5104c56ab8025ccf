"""Mods, changes after posting and payments against the simulated QuickBooks company file
(sims/quickbooks): the gateway over real HTTP and a real nats-server, zeep as the Web
Connector, the simulator's qbXML processor as QuickBooks."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from decimal import Decimal

import pytest
from lxml import etree

from mlconnector.common.envelopes import FRESH_EDIT_SEQUENCE, SELF_ID, Command, LateRef
from mlconnector.common.idmap import IdMap, IdMapping
from mlconnector.qbsim.company import Company, Entity, seed_contractor

from .conftest import (
    Gateway,
    SimQuickBooks,
    customer_command,
    guid_of,
    invoice_command,
    payment_command,
)

pytestmark = pytest.mark.nats

PDT = timezone(timedelta(hours=-7))
NAMES = ("Hernandez, Maria", "Nguyen, Tran", "Petrova, Olga")


class FixedClock:
    """2024-05-01 09:30:00-07:00, one second later at each reading: exact ids and times."""

    def __init__(self) -> None:
        self.now = datetime(2024, 5, 1, 9, 30, 0, tzinfo=PDT)

    def __call__(self) -> datetime:
        current = self.now
        self.now += timedelta(seconds=1)
        return current


@pytest.fixture
def company() -> Iterator[Company]:
    with Company(":memory:", clock=FixedClock()) as seeded:
        seed_contractor(seeded)
        yield seeded


@pytest.fixture
def sim(company: Company) -> SimQuickBooks:
    return SimQuickBooks(company)


def _tags(message: etree._Element) -> list[str]:
    msgs = message.find("QBXMLMsgsRq")
    assert msgs is not None
    return [rq.tag for rq in msgs]


def _customer(company: Company, name: str) -> Entity:
    found = company.customer_by_name(name)
    assert found is not None
    return found


async def _add_customers(gw: Gateway, sim: SimQuickBooks) -> list[Entity]:
    await gw.add_connection("acme", "acme-qbwc", "s3cret-pass")
    for st_id, name in enumerate(NAMES, start=1001):
        await gw.publish(customer_command("acme", st_id, name))
    log = await gw.run_session("acme-qbwc", "s3cret-pass", sim)
    assert log.closed == "Posted 3, failed 0, waiting 0, retrying 0"
    return [_customer(sim.company, name) for name in NAMES]


async def test_customers_are_modified_after_one_batched_query(
    gateway: Gateway, sim: SimQuickBooks
) -> None:
    added = await _add_customers(gateway, sim)
    sim.messages.clear()
    edits = [
        customer_command("acme", 1001 + i, name, "v2", phone=f"555-010{i + 1}")
        for i, name in enumerate(NAMES)
    ]
    for command in edits:
        await gateway.publish(command)

    log = await gateway.run_session("acme-qbwc", "s3cret-pass", sim)

    assert [_tags(m) for m in sim.messages] == [
        ["CustomerQueryRq"],
        ["CustomerModRq", "CustomerModRq", "CustomerModRq"],
    ]
    assert log.closed == "Posted 3, failed 0, waiting 0, retrying 0"
    [query] = sim.requests("CustomerQueryRq")
    assert [n.text for n in query.iter("ListID")] == [c.core.list_id for c in added]
    assert [m.findtext("CustomerMod/EditSequence") for m in sim.requests("CustomerModRq")] == [
        c.core.edit_sequence for c in added
    ]
    now = [_customer(sim.company, name) for name in NAMES]
    assert [c.phone for c in now] == ["555-0101", "555-0102", "555-0103"]
    assert [c.core.list_id for c in now] == [c.core.list_id for c in added]
    names = [c.full_name for c in sim.company.customers()]
    assert [names.count(name) for name in NAMES] == [1, 1, 1]  # modified, not added again
    id_map = await IdMap.open(gateway.js)
    for st_id, customer, command in zip((1001, 1002, 1003), now, edits, strict=True):
        mapped = await id_map.get("acme", "customer", st_id)
        assert mapped is not None
        assert (mapped.qb_id, mapped.edit_sequence, mapped.command_id) == (
            customer.core.list_id,
            customer.core.edit_sequence,
            command.command_id,
        )
    outcomes = {o.command_id: o for o in await gateway.outcomes("acme")}
    assert [outcomes[c.command_id].status for c in edits] == ["posted"] * 3
    assert await gateway.open_work("acme") == (0, 0)


async def test_user_edit_between_query_and_mod_is_requeried_and_retried(
    gateway: Gateway, sim: SimQuickBooks
) -> None:
    [maria, *_] = await _add_customers(gateway, sim)
    sim.messages.clear()
    edit = customer_command("acme", 1001, NAMES[0], "v2", phone="555-0101")
    await gateway.publish(edit)

    ticket, _ = await gateway.call("authenticate", "acme-qbwc", "s3cret-pass")

    async def exchange() -> int:
        request = await gateway.send(ticket)
        assert request
        percent: int = await gateway.call(
            "receiveResponseXML", ticket, sim.process(request), "", ""
        )
        return percent

    assert await exchange() == 1  # the query
    # The office manager saves an e-mail address on Maria in QuickBooks meanwhile.
    edited = sim.company.edit_party_as_user(maria.core.list_id, email="maria@example.com")
    assert edited.core.edit_sequence != maria.core.edit_sequence
    assert await exchange() == 1  # the Mod: 3200
    assert await exchange() == 1  # queried again
    assert await exchange() == 100  # the Mod with the new EditSequence
    assert await gateway.call("closeConnection", ticket) == (
        "Posted 1, failed 0, waiting 0, retrying 0"
    )

    assert [_tags(m) for m in sim.messages] == [
        ["CustomerQueryRq"],
        ["CustomerModRq"],
        ["CustomerQueryRq"],
        ["CustomerModRq"],
    ]
    assert [m.findtext("CustomerMod/EditSequence") for m in sim.requests("CustomerModRq")] == [
        maria.core.edit_sequence,
        edited.core.edit_sequence,
    ]
    final = _customer(sim.company, NAMES[0])
    assert (final.phone, final.email) == ("555-0101", "maria@example.com")  # both kept
    [outcome] = [o for o in await gateway.outcomes("acme") if o.command_id == edit.command_id]
    assert (outcome.status, outcome.attempt, outcome.qb_id, outcome.edit_sequence) == (
        "posted",
        1,
        maria.core.list_id,
        final.core.edit_sequence,
    )
    assert await gateway.open_work("acme") == (0, 0)


async def test_payment_waits_for_its_invoice_then_pays_it(
    gateway: Gateway, sim: SimQuickBooks
) -> None:
    await gateway.add_connection("acme", "acme-qbwc", "s3cret-pass")
    payment = payment_command("acme", 7001, "PMT-7001", 1001, 5001)
    await gateway.publish(payment)
    first = await gateway.run_session("acme-qbwc", "s3cret-pass", sim)
    assert (first.auth[1], first.sent) == ("none", [])

    await gateway.publish(customer_command("acme", 1001, NAMES[0]))
    await gateway.publish(invoice_command("acme", 5001, "INV-5001", 1001))
    second = await gateway.run_session("acme-qbwc", "s3cret-pass", sim)

    assert [_tags(m) for m in sim.messages] == [
        ["CustomerAddRq"],
        ["InvoiceAddRq"],
        ["ReceivePaymentAddRq"],
    ]
    assert second.closed == "Posted 3, failed 0, waiting 0, retrying 0"
    [invoice] = sim.company.invoices()
    [paid] = sim.company.payments()
    assert [(a.txn_id, a.amount, a.balance_remaining) for a in paid.applied_to] == [
        (invoice.txn_id, Decimal("180.00"), Decimal("0.00"))
    ]
    outcomes = await gateway.outcomes("acme")
    assert [(o.entity, o.status, o.attempt, o.qb_id) for o in outcomes][-1] == (
        "payment",
        "posted",
        2,
        paid.txn_id,
    )
    assert await gateway.open_work("acme") == (0, 0)


async def test_invoice_changed_after_posting_is_reported_and_never_posted_twice(
    gateway: Gateway, sim: SimQuickBooks
) -> None:
    await gateway.add_connection("acme", "acme-qbwc", "s3cret-pass")
    await gateway.publish(customer_command("acme", 1001, NAMES[0]))
    v1 = {"total": "180.00", "line 1": "Water heater flush: 180.00"}
    await gateway.publish(invoice_command("acme", 5001, "INV-5001", 1001, fingerprint=v1))
    await gateway.run_session("acme-qbwc", "s3cret-pass", sim)
    [invoice] = sim.company.invoices()

    v2 = {"total": "215.00", "line 1": "Water heater flush: 215.00"}
    edited = invoice_command("acme", 5001, "INV-5001", 1001, "v2", fingerprint=v2)
    await gateway.publish(edited)
    sent_before = len(sim.messages)
    log = await gateway.run_session("acme-qbwc", "s3cret-pass", sim)

    assert log.sent == []
    assert len(sim.messages) == sent_before
    assert [i.txn_id for i in sim.company.invoices()] == [invoice.txn_id]
    changed = (await gateway.outcomes("acme"))[-1]
    assert (changed.command_id, changed.status, changed.qb_id) == (
        edited.command_id,
        "changed",
        invoice.txn_id,
    )
    assert changed.status_message == (
        "Invoice 5001 changed in ServiceTitan after it was posted to QuickBooks "
        f"(TxnID {invoice.txn_id}): total 180.00 -> 215.00; "
        "line 1 Water heater flush: 180.00 -> 215.00"
    )
    assert changed.difference == {
        "total": ("180.00", "215.00"),
        "line 1": ("Water heater flush: 180.00", "Water heater flush: 215.00"),
    }
    assert await gateway.open_work("acme") == (0, 0)


def _vendor_command(st_id: int, name: str, version: str, phone: str | None = None) -> Command:
    event_id = f"tenant-acme:vendor:{st_id}:{version}"
    phone_xml = f"<Phone>{phone}</Phone>" if phone else ""
    return Command(
        command_id=Command.make_id("acme", event_id, "VendorAddRq"),
        connection="acme",
        tenant="tenant-acme",
        entity="vendor",
        st_id=st_id,
        event_id=event_id,
        request_type="VendorAddRq",
        qbxml=f"<VendorAddRq><VendorAdd><Name>{name}</Name>{phone_xml}</VendorAdd></VendorAddRq>",
        lookup_qbxml=f"<VendorQueryRq><FullName>{name}</FullName></VendorQueryRq>",
        mod_qbxml=(
            "<VendorModRq><VendorMod>"
            f"<ListID>{SELF_ID}</ListID><EditSequence>{FRESH_EDIT_SEQUENCE}</EditSequence>"
            f"<Name>{name}</Name>{phone_xml}</VendorMod></VendorModRq>"
        ),
    )


async def test_customers_and_vendors_share_one_round_trip_of_queries(
    gateway: Gateway, sim: SimQuickBooks
) -> None:
    await _add_customers(gateway, sim)
    await gateway.publish(_vendor_command(3001, "Hughes Pipe Co", "v1"))
    await gateway.publish(_vendor_command(3002, "Winsupply", "v1"))
    assert (await gateway.run_session("acme-qbwc", "s3cret-pass", sim)).closed == (
        "Posted 2, failed 0, waiting 0, retrying 0"
    )
    sim.messages.clear()
    await gateway.publish(customer_command("acme", 1001, NAMES[0], "v2", phone="555-0101"))
    await gateway.publish(_vendor_command(3001, "Hughes Pipe Co", "v2", phone="555-0201"))
    await gateway.publish(customer_command("acme", 1002, NAMES[1], "v2", phone="555-0102"))
    await gateway.publish(_vendor_command(3002, "Winsupply", "v2", phone="555-0202"))

    log = await gateway.run_session("acme-qbwc", "s3cret-pass", sim)

    # One round trip reads both lists (a query per list); the Mods follow in the next round.
    assert [_tags(m) for m in sim.messages] == [
        ["CustomerQueryRq", "VendorQueryRq"],
        # In the order ServiceTitan's changes arrived.
        ["CustomerModRq", "VendorModRq", "CustomerModRq", "VendorModRq"],
    ]
    assert log.closed == "Posted 4, failed 0, waiting 0, retrying 0"
    [vendor_query] = sim.requests("VendorQueryRq")
    vendors = {v.name: v for v in sim.company.vendors()}
    assert [n.text for n in vendor_query.iter("ListID")] == [
        vendors["Hughes Pipe Co"].core.list_id,
        vendors["Winsupply"].core.list_id,
    ]
    assert (vendors["Hughes Pipe Co"].phone, vendors["Winsupply"].phone) == (
        "555-0201",
        "555-0202",
    )
    assert [_customer(sim.company, n).phone for n in NAMES] == ["555-0101", "555-0102", None]
    mapped = await (await IdMap.open(gateway.js)).get("acme", "vendor", 3002)
    assert mapped is not None
    assert mapped.edit_sequence == vendors["Winsupply"].core.edit_sequence
    assert await gateway.open_work("acme") == (0, 0)


async def test_bill_without_ref_number_dropped_after_posting_is_found_by_its_guid(
    gateway: Gateway, sim: SimQuickBooks
) -> None:
    """The lookup of a bill without a RefNumber is by date; of the bills that day, only the
    one with the command's ExternalGUID is ours."""
    await gateway.add_connection("acme", "acme-qbwc", "s3cret-pass")
    [ferguson] = [v for v in sim.company.vendors() if v.name == "Ferguson Supply"]
    await (await IdMap.open(gateway.js)).put(
        "acme", "vendor", 3001, IdMapping(qb_id=ferguson.core.list_id)
    )
    vendor = LateRef.make("vendor", 3001)
    event_id = "tenant-acme:bill:8001:v1"
    command_id = Command.make_id("acme", event_id, "BillAddRq")
    bill = Command(
        command_id=command_id,
        connection="acme",
        tenant="tenant-acme",
        entity="bill",
        st_id=8001,
        event_id=event_id,
        request_type="BillAddRq",
        qbxml=(
            f"<BillAddRq><BillAdd><VendorRef><ListID>{vendor.placeholder}</ListID></VendorRef>"
            f"<TxnDate>2024-05-01</TxnDate><ExternalGUID>{guid_of(command_id)}</ExternalGUID>"
            "<ExpenseLineAdd><AccountRef><FullName>Job Materials</FullName></AccountRef>"
            "<Amount>612.40</Amount></ExpenseLineAdd></BillAdd></BillAddRq>"
        ),
        lookup_qbxml=(
            "<BillQueryRq><TxnDateRangeFilter><FromTxnDate>2024-05-01</FromTxnDate>"
            "<ToTxnDate>2024-05-01</ToTxnDate></TxnDateRangeFilter></BillQueryRq>"
        ),
        refs=(vendor,),
        fingerprint={"vendor": "Ferguson Supply", "total": "612.40"},
    )
    # A bill of the same vendor and day, keyed by hand in QuickBooks.
    sim.process(
        '<?xml version="1.0"?><?qbxml version="13.0"?><QBXML>'
        '<QBXMLMsgsRq onError="stopOnError"><BillAddRq requestID="1"><BillAdd>'
        f"<VendorRef><ListID>{ferguson.core.list_id}</ListID></VendorRef>"
        "<TxnDate>2024-05-01</TxnDate><ExpenseLineAdd><AccountRef><FullName>Job Materials"
        "</FullName></AccountRef><Amount>75.00</Amount></ExpenseLineAdd></BillAdd></BillAddRq>"
        "</QBXMLMsgsRq></QBXML>"
    )
    [by_hand] = sim.company.bills()
    await gateway.publish(bill)
    ticket, _ = await gateway.call("authenticate", "acme-qbwc", "s3cret-pass")
    request = await gateway.send(ticket)
    assert request is not None
    sim.process(request)  # QuickBooks posts it; the Web Connector loses the answer
    sim.messages.clear()

    log = await gateway.run_session("acme-qbwc", "s3cret-pass", sim)

    assert [_tags(m) for m in sim.messages] == [["BillQueryRq"]]
    assert log.closed == "Posted 1, failed 0, waiting 0, retrying 0"
    bills = sim.company.bills()
    assert len(bills) == 2
    [ours] = [b for b in bills if b.txn_id != by_hand.txn_id]
    assert ours.external_guid == guid_of(command_id)
    outcome = (await gateway.outcomes("acme"))[-1]
    assert (outcome.status, outcome.attempt, outcome.qb_id, outcome.status_message) == (
        "posted",
        1,
        ours.txn_id,
        "found already in QuickBooks (an earlier attempt posted it); not added again",
    )
    mapped = await (await IdMap.open(gateway.js)).get("acme", "bill", 8001)
    assert mapped is not None
    assert (mapped.qb_id, mapped.fingerprint) == (ours.txn_id, bill.fingerprint)
    assert await gateway.open_work("acme") == (0, 0)
