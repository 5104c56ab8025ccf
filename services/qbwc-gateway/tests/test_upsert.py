"""A record the id map already knows: customers are modified with a fresh EditSequence
(DESIGN rule 3), transactions that changed after posting are reported, never added twice."""

from __future__ import annotations

import asyncio

import pytest
from lxml import etree

from mlconnector.common.envelopes import Command, LateRef
from mlconnector.common.idmap import IdMap, IdMapping
from mlconnector.common.streams import command_subject

from .conftest import (
    FakeQuickBooks,
    Gateway,
    customer_command,
    invoice_command,
    payment_command,
)

pytestmark = pytest.mark.nats

MARIA = "Hernandez, Maria"
TRAN = "Nguyen, Tran"
OLGA = "Petrova, Olga"


def _request_tags(message: str) -> list[str]:
    root = etree.fromstring(message.encode())
    msgs = root.find("QBXMLMsgsRq")
    assert msgs is not None
    return [rq.tag for rq in msgs]


async def _post_customers(gw: Gateway, qb: FakeQuickBooks, *names: str) -> None:
    for st_id, name in enumerate(names, start=1001):
        await gw.publish(customer_command("acme", st_id, name))
    log = await gw.run_session("acme-qbwc", "s3cret-pass", qb)
    assert log.closed == f"Posted {len(names)}, failed 0, waiting 0, retrying 0"


async def _round(gw: Gateway, ticket: str, qb: FakeQuickBooks) -> tuple[list[str], int]:
    """One sendRequestXML / receiveResponseXML exchange, as the Web Connector makes it."""
    request = await gw.send(ticket)
    assert request
    percent: int = await gw.call("receiveResponseXML", ticket, qb.process(request), "", "")
    return _request_tags(request), percent


async def test_changed_customers_are_modified_after_one_batched_query(
    gateway: Gateway, qb: FakeQuickBooks
) -> None:
    await gateway.add_connection("acme", "acme-qbwc", "s3cret-pass")
    await _post_customers(gateway, qb, MARIA, TRAN, OLGA)
    assert qb.customers == {
        MARIA: ("80000001-1741111111", "1741111111"),
        TRAN: ("80000002-1741111111", "1741111112"),
        OLGA: ("80000003-1741111111", "1741111113"),
    }
    # ServiceTitan edits all three (v2: a phone number) and adds a fourth customer.
    edits = [
        customer_command("acme", 1001, MARIA, "v2", phone="555-0101"),
        customer_command("acme", 1002, TRAN, "v2", phone="555-0102"),
        customer_command("acme", 1003, OLGA, "v2", phone="555-0103"),
    ]
    for command in edits:
        await gateway.publish(command)
    await gateway.publish(customer_command("acme", 1004, "Okafor, Chidi"))
    queries_before = len(qb.requests("CustomerQueryRq"))

    log = await gateway.run_session("acme-qbwc", "s3cret-pass", qb)

    # One round trip reads all three EditSequences (one query, three ListIDs); the Mods go
    # in the next round of the same session.
    assert [_request_tags(m) for m in log.sent] == [
        ["CustomerQueryRq", "CustomerAddRq"],
        ["CustomerModRq", "CustomerModRq", "CustomerModRq"],
    ]
    assert log.percents == [25, 100]
    assert log.closed == "Posted 4, failed 0, waiting 0, retrying 0"
    [query] = qb.requests("CustomerQueryRq")[queries_before:]
    assert [n.text for n in query.iter("ListID")] == [
        "80000001-1741111111",
        "80000002-1741111111",
        "80000003-1741111111",
    ]
    assert [n.text for n in query.iter("IncludeRetElement")] == ["ListID", "EditSequence"]
    mods = qb.requests("CustomerMod")
    assert [
        (m.findtext("ListID"), m.findtext("EditSequence"), m.findtext("Phone")) for m in mods
    ] == [
        ("80000001-1741111111", "1741111111", "555-0101"),
        ("80000002-1741111111", "1741111112", "555-0102"),
        ("80000003-1741111111", "1741111113", "555-0103"),
    ]
    assert qb.phones == {
        "80000001-1741111111": "555-0101",
        "80000002-1741111111": "555-0102",
        "80000003-1741111111": "555-0103",
    }
    assert len(qb.customers) == 4  # nothing added twice

    outcomes = {o.command_id: o for o in await gateway.outcomes("acme")}
    first = outcomes[edits[0].command_id]
    assert (first.status, first.attempt, first.qb_id, first.edit_sequence) == (
        "posted",
        1,
        "80000001-1741111111",
        "1741112111",
    )
    assert first.status_message == (
        "updated in QuickBooks (EditSequence 1741111111 read in this session)"
    )
    assert first.request_qbxml == (
        "<CustomerModRq><CustomerMod><ListID>80000001-1741111111</ListID>"
        "<EditSequence>1741111111</EditSequence><Name>Hernandez, Maria</Name>"
        "<Phone>555-0101</Phone></CustomerMod></CustomerModRq>"
    )
    id_map = await IdMap.open(gateway.js)
    mapped = await id_map.get("acme", "customer", 1001)
    assert mapped is not None
    assert (mapped.qb_id, mapped.edit_sequence, mapped.command_id) == (
        "80000001-1741111111",
        "1741112111",
        edits[0].command_id,
    )
    assert await gateway.open_work("acme") == (0, 0)

    # The same v2 again (a replay): a duplicate of what already posted, nothing is sent.
    before = await gateway.outcomes("acme")
    await gateway.js.publish(
        command_subject("acme"),
        edits[0].model_dump_json().encode(),
        headers={"Nats-Msg-Id": f"replay:{edits[0].command_id}:1"},
    )
    again = await gateway.run_session("acme-qbwc", "s3cret-pass", qb)
    # Settled from the id map when the session starts: nothing to send, the answer is "none".
    assert (again.auth[1], again.sent) == ("none", [])
    assert len(qb.requests("CustomerModRq")) == 3
    # Its outcome ("already posted ...; not sent again") has the id of the one that posted
    # (<command id>:1), so QB_OUTCOMES keeps the first.
    assert await gateway.outcomes("acme") == before
    assert await gateway.open_work("acme") == (0, 0)


async def test_stale_edit_sequence_is_queried_again_and_the_mod_retried_in_the_session(
    gateway: Gateway, qb: FakeQuickBooks
) -> None:
    await gateway.add_connection("acme", "acme-qbwc", "s3cret-pass")
    await _post_customers(gateway, qb, MARIA)
    edit = customer_command("acme", 1001, MARIA, "v2", phone="555-0101")
    await gateway.publish(edit)
    queries_before = len(qb.requests("CustomerQueryRq"))

    ticket, _ = await gateway.call("authenticate", "acme-qbwc", "s3cret-pass")
    assert await _round(gateway, ticket, qb) == (["CustomerQueryRq"], 1)
    # A bookkeeper saves the customer in QuickBooks between the query and the Mod.
    qb.edit_customer(MARIA)
    assert qb.customers[MARIA] == ("80000001-1741111111", "1741111112")
    assert await _round(gateway, ticket, qb) == (["CustomerModRq"], 1)  # 3200
    assert await _round(gateway, ticket, qb) == (["CustomerQueryRq"], 1)
    assert await _round(gateway, ticket, qb) == (["CustomerModRq"], 100)
    assert await gateway.send(ticket) is None
    assert await gateway.call("closeConnection", ticket) == (
        "Posted 1, failed 0, waiting 0, retrying 0"
    )

    assert len(qb.requests("CustomerQueryRq")) - queries_before == 2
    mods = qb.requests("CustomerMod")
    assert [m.findtext("EditSequence") for m in mods] == ["1741111111", "1741111112"]
    assert qb.customers[MARIA] == ("80000001-1741111111", "1741112112")
    assert qb.phones == {"80000001-1741111111": "555-0101"}
    [outcome] = [o for o in await gateway.outcomes("acme") if o.command_id == edit.command_id]
    assert (outcome.status, outcome.attempt, outcome.edit_sequence) == ("posted", 1, "1741112112")
    mapped = await (await IdMap.open(gateway.js)).get("acme", "customer", 1001)
    assert mapped is not None
    assert mapped.edit_sequence == "1741112112"
    assert await gateway.open_work("acme") == (0, 0)


async def test_mod_whose_answer_was_lost_is_queried_and_sent_again_never_added(
    gateway: Gateway, qb: FakeQuickBooks
) -> None:
    await gateway.add_connection("acme", "acme-qbwc", "s3cret-pass")
    await _post_customers(gateway, qb, MARIA)
    edit = customer_command("acme", 1001, MARIA, "v2", phone="555-0101")
    await gateway.publish(edit)
    ticket, _ = await gateway.call("authenticate", "acme-qbwc", "s3cret-pass")
    assert await _round(gateway, ticket, qb) == (["CustomerQueryRq"], 1)
    mod = await gateway.send(ticket)
    assert mod is not None
    qb.process(mod)  # QuickBooks applies the Mod; its answer never reaches the gateway
    assert qb.customers[MARIA] == ("80000001-1741111111", "1741112111")

    log = await gateway.run_session("acme-qbwc", "s3cret-pass", qb)

    # A Mod is safe to repeat: read the EditSequence again and send it again; never an Add.
    assert [_request_tags(m) for m in log.sent] == [["CustomerQueryRq"], ["CustomerModRq"]]
    assert log.closed == "Posted 1, failed 0, waiting 0, retrying 0"
    assert [m.findtext("EditSequence") for m in qb.requests("CustomerMod")] == [
        "1741111111",
        "1741112111",
    ]
    assert len(qb.requests("CustomerAddRq")) == 1
    assert list(qb.customers) == [MARIA]
    [outcome] = [o for o in await gateway.outcomes("acme") if o.command_id == edit.command_id]
    assert (outcome.status, outcome.attempt, outcome.edit_sequence) == ("posted", 1, "1741113111")
    assert await gateway.open_work("acme") == (0, 0)


async def test_edit_sequence_stale_every_time_goes_to_the_next_session(
    gateway: Gateway, qb: FakeQuickBooks
) -> None:
    await gateway.add_connection("acme", "acme-qbwc", "s3cret-pass")
    await _post_customers(gateway, qb, MARIA)
    edit = customer_command("acme", 1001, MARIA, "v2", phone="555-0101")
    await gateway.publish(edit)
    qb.edit_after_query["80000001-1741111111"] = 3  # edited after each of the next 3 queries

    busy = await gateway.run_session("acme-qbwc", "s3cret-pass", qb)

    assert [_request_tags(m) for m in busy.sent] == [["CustomerQueryRq"], ["CustomerModRq"]] * 3
    assert busy.closed == "Posted 0, failed 0, waiting 0, retrying 1"
    [retrying] = [o for o in await gateway.outcomes("acme") if o.command_id == edit.command_id]
    assert (retrying.status, retrying.status_code) == ("retrying", 3200)
    assert retrying.status_message == (
        'The provided edit sequence "1741111113" is out-of-date. (QuickBooks reported the '
        "record changed 3 times between the query and the Mod in this session) (session 1 of 5)"
    )
    assert retrying.hint == "The record changed in QuickBooks; re-queried and retried."

    calm = await gateway.run_session("acme-qbwc", "s3cret-pass", qb)
    assert [_request_tags(m) for m in calm.sent] == [["CustomerQueryRq"], ["CustomerModRq"]]
    assert calm.closed == "Posted 1, failed 0, waiting 0, retrying 0"
    assert [
        (o.status, o.attempt)
        for o in await gateway.outcomes("acme")
        if o.command_id == edit.command_id
    ] == [("retrying", 1), ("posted", 2)]
    assert qb.phones == {"80000001-1741111111": "555-0101"}
    assert await gateway.open_work("acme") == (0, 0)


async def test_customer_deleted_in_quickbooks_fails_clearly_the_others_are_modified(
    gateway: Gateway, qb: FakeQuickBooks
) -> None:
    await gateway.add_connection("acme", "acme-qbwc", "s3cret-pass")
    await _post_customers(gateway, qb, MARIA, TRAN)
    qb.delete_customer(MARIA)
    gone = customer_command("acme", 1001, MARIA, "v2", phone="555-0101")
    kept = customer_command("acme", 1002, TRAN, "v2", phone="555-0102")
    await gateway.publish(gone)
    await gateway.publish(kept)

    log = await gateway.run_session("acme-qbwc", "s3cret-pass", qb)

    assert [_request_tags(m) for m in log.sent] == [["CustomerQueryRq"], ["CustomerModRq"]]
    assert log.closed == "Posted 1, failed 1, waiting 0, retrying 0"
    assert qb.phones == {"80000002-1741111111": "555-0102"}
    outcomes = {o.command_id: o for o in await gateway.outcomes("acme")}
    failed = outcomes[gone.command_id]
    assert (failed.status, failed.status_code, failed.qb_id) == (
        "failed",
        500,
        "80000001-1741111111",
    )
    assert failed.status_message == (
        "ServiceTitan customer 1001 is no longer in QuickBooks: ListID 80000001-1741111111 "
        "was not found (deleted, or merged into another customer); its changes were not sent"
    )
    assert failed.hint == (
        "If it was deleted or merged in QuickBooks on purpose, nothing is to do. Otherwise "
        "retry this record: the customer is added to QuickBooks again."
    )
    assert outcomes[kept.command_id].status == "posted"
    assert await gateway.open_work("acme") == (0, 0)


INVOICE_V1 = {
    "customer": "Hernandez, Maria",
    "total": "408.05",
    "line 1": "Labor: 2 x 125.00 = 250.00",
    "line 2": "PVC-075: 4 x 36.50 = 146.00",
    "line 3": "Sales tax: 12.05",
}
INVOICE_V2 = {
    "customer": "Hernandez, Maria",
    "total": "420.10",
    "line 1": "Labor: 2 x 125.00 = 250.00",
    "line 2": "PVC-075: 5 x 36.50 = 182.50",
}


async def test_invoice_changed_after_posting_is_reported_with_the_difference(
    gateway: Gateway, qb: FakeQuickBooks
) -> None:
    await gateway.add_connection("acme", "acme-qbwc", "s3cret-pass")
    await gateway.publish(customer_command("acme", 1001, MARIA))
    posted = invoice_command("acme", 5001, "INV-5001", 1001, fingerprint=INVOICE_V1)
    await gateway.publish(posted)
    await gateway.run_session("acme-qbwc", "s3cret-pass", qb)
    mapped = await (await IdMap.open(gateway.js)).get("acme", "invoice", 5001)
    assert mapped is not None
    assert mapped.fingerprint == INVOICE_V1

    edited = invoice_command("acme", 5001, "INV-5001", 1001, "v2", fingerprint=INVOICE_V2)
    await gateway.publish(edited)
    log = await gateway.run_session("acme-qbwc", "s3cret-pass", qb)

    # Settled when the session starts (nothing to send for it): the Web Connector gets "none".
    assert (log.auth[1], log.sent) == ("none", [])
    assert len(qb.requests("InvoiceAddRq")) == 1
    assert len(qb.invoices) == 1
    changed = (await gateway.outcomes("acme"))[-1]
    assert (changed.command_id, changed.status, changed.qb_id) == (
        edited.command_id,
        "changed",
        "2-1741111111",
    )
    assert changed.status_message == (
        "Invoice 5001 changed in ServiceTitan after it was posted to QuickBooks "
        "(TxnID 2-1741111111): total 408.05 -> 420.10; "
        "line 2 PVC-075: 4 x 36.50 = 146.00 -> 5 x 36.50 = 182.50; "
        "line 3 removed: Sales tax: 12.05"
    )
    assert changed.difference == {
        "total": ("408.05", "420.10"),
        "line 2": ("PVC-075: 4 x 36.50 = 146.00", "PVC-075: 5 x 36.50 = 182.50"),
        "line 3": ("Sales tax: 12.05", None),
    }
    assert changed.hint == (
        "Resolve it by hand in QuickBooks: edit the invoice to match ServiceTitan, or void it "
        "there and re-post the new version by hand. ml-connector will not post it a second "
        "time."
    )
    # Settled (acked), and the id map still describes what QuickBooks holds.
    assert await gateway.open_work("acme") == (0, 0)
    mapped = await (await IdMap.open(gateway.js)).get("acme", "invoice", 5001)
    assert mapped is not None
    assert (mapped.command_id, mapped.fingerprint) == (posted.command_id, INVOICE_V1)

    # A replay of the version that posted is a duplicate, not a change.
    before = await gateway.outcomes("acme")
    await gateway.js.publish(
        command_subject("acme"),
        posted.model_dump_json().encode(),
        headers={"Nats-Msg-Id": f"replay:{posted.command_id}:1"},
    )
    again = await gateway.run_session("acme-qbwc", "s3cret-pass", qb)
    # Settled from the id map when the session starts: nothing to send, the answer is "none".
    assert (again.auth[1], again.sent) == ("none", [])
    assert await gateway.outcomes("acme") == before  # same outcome id as the posting
    assert len(qb.invoices) == 1
    assert await gateway.open_work("acme") == (0, 0)


async def test_new_version_with_the_same_fingerprint_is_not_a_change(
    gateway: Gateway, qb: FakeQuickBooks
) -> None:
    await gateway.add_connection("acme", "acme-qbwc", "s3cret-pass")
    await gateway.publish(customer_command("acme", 1001, MARIA))
    await gateway.publish(invoice_command("acme", 5001, "INV-5001", 1001, fingerprint=INVOICE_V1))
    await gateway.run_session("acme-qbwc", "s3cret-pass", qb)
    # ServiceTitan touched the invoice (a new modifiedOn) without changing what QB holds.
    same = invoice_command("acme", 5001, "INV-5001", 1001, "v2", fingerprint=INVOICE_V1)
    await gateway.publish(same)

    log = await gateway.run_session("acme-qbwc", "s3cret-pass", qb)

    assert (log.auth[1], log.sent) == ("none", [])
    outcome = (await gateway.outcomes("acme"))[-1]
    assert (outcome.command_id, outcome.status, outcome.qb_id) == (
        same.command_id,
        "posted",
        "2-1741111111",
    )
    assert outcome.status_message == (
        "Invoice 5001 is in QuickBooks (TxnID 2-1741111111) as ServiceTitan has it now: "
        "nothing QuickBooks holds changed in this version; not sent again"
    )
    assert len(qb.invoices) == 1


async def test_changed_bill_and_entry_without_fingerprint(
    gateway: Gateway, qb: FakeQuickBooks
) -> None:
    """A bill posted before fingerprints were kept: the posted version is unknown."""
    await gateway.add_connection("acme", "acme-qbwc", "s3cret-pass")
    id_map = await IdMap.open(gateway.js)
    await id_map.put("acme", "bill", 8001, IdMapping(qb_id="1F-1741111111", command_id="cmd-older"))
    vendor = LateRef.make("vendor", 3001)
    event_id = "tenant-acme:bill:8001:v2"
    bill = Command(
        command_id=Command.make_id("acme", event_id, "BillAddRq"),
        connection="acme",
        tenant="tenant-acme",
        entity="bill",
        st_id=8001,
        event_id=event_id,
        request_type="BillAddRq",
        qbxml=(
            f"<BillAddRq><BillAdd><VendorRef><ListID>{vendor.placeholder}</ListID></VendorRef>"
            "<RefNumber>B-8001</RefNumber><ExpenseLineAdd><Amount>612.40</Amount>"
            "</ExpenseLineAdd></BillAdd></BillAddRq>"
        ),
        refs=(vendor,),
        fingerprint={"vendor": "Ferguson", "total": "612.40"},
    )
    await gateway.publish(bill)

    log = await gateway.run_session("acme-qbwc", "s3cret-pass", qb)

    assert log.sent == []
    assert qb.messages == []
    [outcome] = await gateway.outcomes("acme")
    assert (outcome.status, outcome.qb_id, outcome.difference) == (
        "changed",
        "1F-1741111111",
        None,
    )
    assert outcome.status_message == (
        "Bill 8001 changed in ServiceTitan after it was posted to QuickBooks "
        "(TxnID 1F-1741111111): the posted version is unknown (it posted before ml-connector "
        "kept what it sent), so compare QuickBooks with ServiceTitan by hand"
    )
    assert outcome.hint == (
        "Bills are never modified after they post. Edit the bill in QuickBooks to match "
        "ServiceTitan, or void it there and enter the new version by hand; ml-connector will "
        "not post it a second time."
    )
    assert await gateway.open_work("acme") == (0, 0)


async def test_payment_waits_for_its_invoice_then_applies_to_its_txn_id(
    gateway: Gateway, qb: FakeQuickBooks
) -> None:
    await gateway.add_connection("acme", "acme-qbwc", "s3cret-pass")
    payment = payment_command("acme", 7001, "PMT-7001", 1001, 5001)
    await gateway.publish(payment)

    first = await gateway.run_session("acme-qbwc", "s3cret-pass", qb)
    assert first.sent == []
    [waiting] = await gateway.outcomes("acme")
    assert (waiting.status, waiting.status_message) == (
        "waiting",
        "waiting for customer 1001, invoice 5001 to be posted to QuickBooks (session 1 of 10)",
    )

    await gateway.publish(customer_command("acme", 1001, MARIA))
    await gateway.publish(invoice_command("acme", 5001, "INV-5001", 1001))
    await asyncio.sleep(0.3)  # the retry delay
    second = await gateway.run_session("acme-qbwc", "s3cret-pass", qb)

    assert [_request_tags(m) for m in second.sent] == [
        ["CustomerAddRq"],
        ["InvoiceAddRq"],
        ["ReceivePaymentAddRq"],
    ]
    assert second.closed == "Posted 3, failed 0, waiting 0, retrying 0"
    [sent_payment] = qb.requests("ReceivePaymentAdd")
    assert sent_payment.findtext("AppliedToTxnAdd/TxnID") == "2-1741111111"
    assert sent_payment.findtext("CustomerRef/ListID") == "80000001-1741111111"
    assert [(p["TxnID"], p["AppliedTo"]) for p in qb.payments] == [("3-1741111111", "2-1741111111")]
    outcome = (await gateway.outcomes("acme"))[-1]
    assert (outcome.command_id, outcome.status, outcome.attempt, outcome.qb_id) == (
        payment.command_id,
        "posted",
        2,
        "3-1741111111",
    )
    mapped = await (await IdMap.open(gateway.js)).get("acme", "payment", 7001)
    assert mapped is not None
    assert mapped.fingerprint == payment.fingerprint
    assert await gateway.open_work("acme") == (0, 0)


async def test_payment_dropped_after_posting_is_found_by_its_lookup(
    gateway: Gateway, qb: FakeQuickBooks
) -> None:
    await gateway.add_connection("acme", "acme-qbwc", "s3cret-pass")
    await gateway.publish(customer_command("acme", 1001, MARIA))
    await gateway.publish(invoice_command("acme", 5001, "INV-5001", 1001))
    await gateway.run_session("acme-qbwc", "s3cret-pass", qb)
    payment = payment_command("acme", 7001, "PMT-7001", 1001, 5001)
    await gateway.publish(payment)
    ticket, _ = await gateway.call("authenticate", "acme-qbwc", "s3cret-pass")
    request = await gateway.send(ticket)
    assert request is not None
    qb.process(request)  # QuickBooks posts it; the answer never reaches the gateway

    log = await gateway.run_session("acme-qbwc", "s3cret-pass", qb)

    assert [_request_tags(m) for m in log.sent] == [["ReceivePaymentQueryRq"]]
    assert len(qb.payments) == 1
    outcome = (await gateway.outcomes("acme"))[-1]
    assert (outcome.status, outcome.attempt, outcome.qb_id, outcome.status_message) == (
        "posted",
        1,
        "3-1741111111",
        "found already in QuickBooks (an earlier attempt posted it); not added again",
    )
    assert await gateway.open_work("acme") == (0, 0)


async def test_changed_version_without_fingerprint_says_so(
    gateway: Gateway, qb: FakeQuickBooks
) -> None:
    await gateway.add_connection("acme", "acme-qbwc", "s3cret-pass")
    await gateway.publish(customer_command("acme", 1001, MARIA))
    await gateway.publish(invoice_command("acme", 5001, "INV-5001", 1001, fingerprint=INVOICE_V1))
    await gateway.run_session("acme-qbwc", "s3cret-pass", qb)
    await gateway.publish(invoice_command("acme", 5001, "INV-5001", 1001, "v2"))

    await gateway.run_session("acme-qbwc", "s3cret-pass", qb)

    outcome = (await gateway.outcomes("acme"))[-1]
    assert (outcome.status, outcome.difference) == ("changed", None)
    assert outcome.status_message == (
        "Invoice 5001 changed in ServiceTitan after it was posted to QuickBooks "
        "(TxnID 2-1741111111): the new version carries nothing to compare, so compare "
        "QuickBooks with ServiceTitan by hand"
    )
    assert len(qb.invoices) == 1
