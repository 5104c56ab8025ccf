"""Whole Web Connector sessions against the real gateway over HTTP and a real nats-server."""

from __future__ import annotations

import asyncio
import re

import pytest
from lxml import etree

from mlconnector.common.envelopes import SessionReport
from mlconnector.common.idmap import IdMap
from mlconnector.common.onboarding.holds import choose_hold
from mlconnector.common.onboarding.store import ReviewStore
from mlconnector.common.streams import QB_OUTCOMES

from .conftest import COMPANY_FILE, FakeQuickBooks, Gateway, customer_command, invoice_command

pytestmark = pytest.mark.nats

MARIA = "Hernandez, Maria"


class _AnyTicket:
    def __eq__(self, other: object) -> bool:
        return isinstance(other, str) and re.fullmatch(r"[0-9a-f]{32}", other) is not None


ANY_TICKET = _AnyTicket()


def _request_tags(message: str) -> list[str]:
    root = etree.fromstring(message.encode())
    return [rq.tag for rq in root.find("QBXMLMsgsRq")]


async def test_full_cycle_posts_customer_then_invoice_with_late_ref(
    gateway: Gateway, qb: FakeQuickBooks
) -> None:
    await gateway.add_connection("acme", "acme-qbwc", "s3cret-pass")
    customer = customer_command("acme", 1001, MARIA)
    invoice = invoice_command("acme", 5001, "INV-5001", 1001)
    # Invoice first: the gateway must hold it until the customer has a ListID.
    await gateway.publish(invoice)
    await gateway.publish(customer)

    log = await gateway.run_session("acme-qbwc", "s3cret-pass", qb)

    assert log.auth[1] == COMPANY_FILE
    assert len(log.ticket or "") == 32
    assert [_request_tags(m) for m in log.sent] == [["CustomerAddRq"], ["InvoiceAddRq"]]
    assert log.percents == [50, 100]
    assert log.closed == "Posted 2, failed 0, waiting 0, retrying 0"
    customer_list_id = "80000001-1741111111"
    assert qb.customers == {MARIA: (customer_list_id, "1741111111")}
    [sent_invoice] = qb.requests("InvoiceAdd")
    assert sent_invoice.findtext("CustomerRef/ListID") == customer_list_id

    outcomes = await gateway.outcomes("acme")
    assert [(o.command_id, o.attempt, o.status, o.qb_id) for o in outcomes] == [
        (customer.command_id, 1, "posted", customer_list_id),
        (invoice.command_id, 1, "posted", "2-1741111111"),
    ]
    assert outcomes[1].edit_sequence == "1741111112"
    assert outcomes[1].status_code == 0
    assert outcomes[1].request_qbxml is not None
    assert f"<ListID>{customer_list_id}</ListID>" in outcomes[1].request_qbxml
    assert outcomes[1].response_qbxml is not None
    assert "<TxnID>2-1741111111</TxnID>" in outcomes[1].response_qbxml

    id_map = await IdMap.open(gateway.js)
    mapped = await id_map.get("acme", "invoice", 5001)
    assert mapped is not None
    assert (mapped.qb_id, mapped.edit_sequence, mapped.command_id) == (
        "2-1741111111",
        "1741111112",
        invoice.command_id,
    )
    assert await gateway.open_work("acme") == (0, 0)
    assert await gateway.unanswered("acme") == []

    # The next scheduled update finds nothing to do.
    again = await gateway.run_session("acme-qbwc", "s3cret-pass", qb)
    assert again.auth[1] == "none"


async def test_wrong_password_or_user_is_nvu(gateway: Gateway) -> None:
    await gateway.add_connection("acme", "acme-qbwc", "s3cret-pass")
    assert await gateway.call("authenticate", "acme-qbwc", "wrong") == [None, "nvu"]
    assert await gateway.call("authenticate", "nobody", "s3cret-pass") == [None, "nvu"]
    assert await gateway.call("authenticate", "", "") == [None, "nvu"]
    # The right user with a wrong password: audit is told (connection health), once per call;
    # an unknown user name names no connection.
    info = await gateway.js.stream_info(QB_OUTCOMES.name, subjects_filter="qb.sessions.>")
    [raw] = [
        await gateway.js.get_msg(QB_OUTCOMES.name, seq)
        for seq in range(info.state.first_seq, info.state.last_seq + 1)
    ]
    report = SessionReport.model_validate_json(raw.data or b"")
    assert (raw.subject, report.connection, report.result) == (
        "qb.sessions.acme",
        "acme",
        "refused",
    )
    assert report.last_error is not None
    assert report.last_error.startswith("The Web Connector called with a wrong password")


async def test_nothing_pending_is_none(gateway: Gateway) -> None:
    await gateway.add_connection("acme", "acme-qbwc", "s3cret-pass")
    ticket, verdict = await gateway.call("authenticate", "acme-qbwc", "s3cret-pass")
    assert verdict == "none"
    assert re.fullmatch(r"[0-9a-f]{32}", ticket)
    other, _ = await gateway.call("authenticate", "acme-qbwc", "s3cret-pass")
    assert other != ticket


async def test_unknown_ticket_on_every_call(gateway: Gateway) -> None:
    ticket = "0123456789abcdef0123456789abcdef"
    assert await gateway.send(ticket) is None
    assert await gateway.call("getLastError", ticket) == "unknown or expired ticket"
    assert await gateway.call("receiveResponseXML", ticket, "<QBXML/>", "", "") == -1
    assert await gateway.call("connectionError", ticket, "0x80040408", "x") == "done"
    assert await gateway.call("closeConnection", ticket) == "Unknown ticket"
    # Not hex, with KV wildcards: still just an unknown ticket.
    assert await gateway.call("getLastError", "t.>") == "unknown or expired ticket"


async def test_versions(gateway: Gateway) -> None:
    assert await gateway.call("serverVersion") == "ml-connector qbwc-gateway 0.1.0"
    assert await gateway.call("clientVersion", "2.3.0.215") is None  # "" means accepted


async def test_session_dropped_after_quickbooks_posted_is_looked_up_not_added_twice(
    gateway: Gateway, qb: FakeQuickBooks
) -> None:
    await gateway.add_connection("acme", "acme-qbwc", "s3cret-pass")
    customer = customer_command("acme", 1001, MARIA)
    await gateway.publish(customer)

    ticket, _ = await gateway.call("authenticate", "acme-qbwc", "s3cret-pass")
    first = await gateway.send(ticket)
    assert first is not None
    qb.process(first)  # QuickBooks posts it, then the session dies: no receiveResponseXML
    assert await gateway.unanswered("acme") == [customer.command_id]

    log = await gateway.run_session("acme-qbwc", "s3cret-pass", qb)

    assert [_request_tags(m) for m in log.sent] == [["CustomerQueryRq"]]
    assert log.percents == [100]
    assert len(qb.requests("CustomerAddRq")) == 1
    assert list(qb.customers) == [MARIA]
    [outcome] = await gateway.outcomes("acme")
    assert outcome.status == "posted"
    assert outcome.attempt == 1
    assert outcome.qb_id == "80000001-1741111111"
    assert outcome.status_message == (
        "found already in QuickBooks (an earlier attempt posted it); not added again"
    )
    assert await gateway.open_work("acme") == (0, 0)
    assert await gateway.unanswered("acme") == []


async def test_session_dropped_before_quickbooks_saw_it_adds_after_empty_lookup(
    gateway: Gateway, qb: FakeQuickBooks
) -> None:
    await gateway.add_connection("acme", "acme-qbwc", "s3cret-pass")
    customer = customer_command("acme", 1001, MARIA)
    await gateway.publish(customer)
    ticket, _ = await gateway.call("authenticate", "acme-qbwc", "s3cret-pass")
    assert await gateway.send(ticket) is not None  # lost on the way to QuickBooks

    log = await gateway.run_session("acme-qbwc", "s3cret-pass", qb)

    assert [_request_tags(m) for m in log.sent] == [["CustomerQueryRq"], ["CustomerAddRq"]]
    assert log.percents == [1, 100]
    assert list(qb.customers) == [MARIA]
    assert [(o.status, o.attempt, o.qb_id) for o in await gateway.outcomes("acme")] == [
        ("posted", 1, "80000001-1741111111")
    ]


async def test_invoice_lookup_tells_ours_from_another_with_the_same_number(
    gateway: Gateway, qb: FakeQuickBooks
) -> None:
    await gateway.add_connection("acme", "acme-qbwc", "s3cret-pass")
    await gateway.publish(customer_command("acme", 1001, MARIA))
    assert (await gateway.run_session("acme-qbwc", "s3cret-pass", qb)).percents == [100]
    # Someone keyed an invoice with the same number by hand in QuickBooks.
    qb.invoices.append(
        {
            "TxnID": "99-1741111111",
            "EditSequence": "1741111199",
            "TxnNumber": "99",
            "CustomerListID": "80000001-1741111111",
            "RefNumber": "INV-5001",
            "ExternalGUID": "",
        }
    )
    invoice = invoice_command("acme", 5001, "INV-5001", 1001)
    await gateway.publish(invoice)
    ticket, _ = await gateway.call("authenticate", "acme-qbwc", "s3cret-pass")
    assert await gateway.send(ticket) is not None  # dropped: outcome unknown

    log = await gateway.run_session("acme-qbwc", "s3cret-pass", qb)

    assert [_request_tags(m) for m in log.sent] == [["InvoiceQueryRq"], ["InvoiceAddRq"]]
    assert [i["TxnID"] for i in qb.invoices] == ["99-1741111111", "2-1741111111"]
    assert (await gateway.outcomes("acme"))[-1].qb_id == "2-1741111111"


async def test_hresult_error_returns_minus_one_and_explains(
    gateway: Gateway, qb: FakeQuickBooks
) -> None:
    await gateway.add_connection("acme", "acme-qbwc", "s3cret-pass")
    customer = customer_command("acme", 1001, MARIA)
    await gateway.publish(customer)
    ticket, _ = await gateway.call("authenticate", "acme-qbwc", "s3cret-pass")
    assert await gateway.send(ticket) is not None

    percent = await gateway.call(
        "receiveResponseXML",
        ticket,
        "",
        "0x80040400",
        "QuickBooks found an error when parsing the provided XML text stream.",
    )

    assert percent == -1
    # What the office manager does about it (hresults.py), then QuickBooks' own words.
    expected = (
        "QuickBooks could not read a request ml-connector sent (0x80040400): update QuickBooks "
        "Desktop (ml-connector needs QuickBooks 2014 or later), and if it happens again send "
        "this message to ml-connector support; nothing was lost; the records go again at the "
        "next update. (QuickBooks said: QuickBooks found an error when parsing the provided "
        "XML text stream.)"
    )
    assert await gateway.call("getLastError", ticket) == expected
    assert await gateway.call("closeConnection", ticket) == (
        "Posted 0, failed 0, waiting 0, retrying 1"
    )
    [outcome] = await gateway.outcomes("acme")
    # It went alone: the request QuickBooks could not read, counted as one retried session.
    assert (outcome.status, outcome.attempt, outcome.status_message) == (
        "retrying",
        1,
        expected + " (session 1 of 5)",
    )
    log = await gateway.run_session("acme-qbwc", "s3cret-pass", qb)
    # 0x80040400: QuickBooks refused the message whole, before running any request, so
    # nothing can have posted: the Add goes again without a lookup.
    assert [_request_tags(m) for m in log.sent] == [["CustomerAddRq"]]
    assert [(o.status, o.attempt) for o in await gateway.outcomes("acme")] == [
        ("retrying", 1),
        ("posted", 2),
    ]
    assert await gateway.open_work("acme") == (0, 0)


async def test_unparseable_response_returns_minus_one(gateway: Gateway) -> None:
    await gateway.add_connection("acme", "acme-qbwc", "s3cret-pass")
    await gateway.publish(customer_command("acme", 1001, MARIA))
    ticket, _ = await gateway.call("authenticate", "acme-qbwc", "s3cret-pass")
    assert await gateway.send(ticket) is not None
    assert await gateway.call("receiveResponseXML", ticket, "<QBXML><oops", "", "") == -1
    error = await gateway.call("getLastError", ticket)
    assert error.startswith("Could not read QuickBooks' response (malformed XML: ")
    assert error.endswith("the requests will be looked up and sent again next cycle.")


async def test_a_name_quickbooks_uses_is_offered_as_a_match_and_linked_when_chosen(
    gateway: Gateway, qb: FakeQuickBooks
) -> None:
    await gateway.add_connection("acme", "acme-qbwc", "s3cret-pass")
    qb.customers[MARIA] = ("80000099-1741111111", "1741111199")  # entered by hand earlier
    command = customer_command("acme", 1001, MARIA)
    await gateway.publish(command)

    log = await gateway.run_session("acme-qbwc", "s3cret-pass", qb)

    assert log.closed == "Posted 0, failed 0, waiting 1, retrying 0"
    [outcome] = await gateway.outcomes("acme")
    assert (outcome.status, outcome.status_code, outcome.status_severity) == (
        "waiting",
        3100,
        "Error",
    )
    assert outcome.status_message.startswith(
        "QuickBooks already has the name 'Hernandez, Maria' (3100: The name \"Hernandez, "
        'Maria" of the list element is already in use.)'
    )
    assert outcome.hint == (
        "`mlconnector onboard acme` or audit's onboarding page show the choice."
    )
    hold = (await (await ReviewStore.open(gateway.js)).holds("acme")).items["customer:1001"]
    assert (hold.state, hold.can_link, hold.suffixed_name) == (
        "offered",
        True,
        "Hernandez, Maria #1001",
    )
    assert hold.existing is not None
    assert (hold.existing.list_id, hold.existing.kind) == ("80000099-1741111111", "Customer")
    assert await gateway.open_work("acme") == (1, 0)

    await choose_hold(gateway.js, "acme", "customer:1001", "link")
    again = await gateway.run_session("acme-qbwc", "s3cret-pass", qb)

    # Linked without sending anything: the id map knows the customer QuickBooks had.
    assert (again.auth[1], again.sent) == ("none", [])
    linked = (await gateway.outcomes("acme"))[-1]
    assert (linked.status, linked.qb_id) == ("posted", "80000099-1741111111")
    assert linked.status_message.startswith("linked by the operator's choice")
    mapping = await IdMap(await gateway.js.key_value("id-map")).get("acme", "customer", 1001)
    assert mapping is not None
    assert (mapping.qb_id, mapping.command_id) == ("80000099-1741111111", command.command_id)
    assert len(qb.requests("CustomerAddRq")) == 1
    assert await gateway.open_work("acme") == (0, 0)


@pytest.mark.parametrize(
    "gateway_settings", [{"QBWC_CHANGES_EVERY_SECONDS": 0, "QBWC_MAX_WAIT_CYCLES": 2}]
)
async def test_missing_reference_waits_then_fails_naming_the_record(
    gateway: Gateway, qb: FakeQuickBooks
) -> None:
    await gateway.add_connection("acme", "acme-qbwc", "s3cret-pass")
    invoice = invoice_command("acme", 5001, "INV-5001", 2002)
    await gateway.publish(invoice)

    # Nothing can be sent: the Web Connector is told so at once ("none"), no empty message.
    first = await gateway.run_session("acme-qbwc", "s3cret-pass", qb)
    assert (first.auth[1], first.sent) == ("none", [])
    second = await gateway.run_session("acme-qbwc", "s3cret-pass", qb)
    assert (second.auth[1], second.sent) == ("none", [])

    outcomes = await gateway.outcomes("acme")
    assert [(o.status, o.attempt) for o in outcomes] == [("waiting", 1), ("failed", 2)]
    assert outcomes[0].status_message == (
        "waiting for customer 2002 to be posted to QuickBooks (session 1 of 2)"
    )
    assert outcomes[1].status_message == (
        "customer 2002 has not been posted to QuickBooks yet (waited 2 Web Connector sessions)"
    )
    assert qb.messages == []
    assert await gateway.open_work("acme") == (0, 0)


async def test_schema_invalid_request_fails_alone(gateway: Gateway, qb: FakeQuickBooks) -> None:
    await gateway.add_connection("acme", "acme-qbwc", "s3cret-pass")
    too_long = "Hernandez-Villanueva, Maria Guadalupe, Jr."  # 42 > Name's 41 characters
    bad = customer_command("acme", 1002, too_long)
    good = customer_command("acme", 1001, MARIA)
    await gateway.publish(bad)
    await gateway.publish(good)

    log = await gateway.run_session("acme-qbwc", "s3cret-pass", qb)

    assert [_request_tags(m) for m in log.sent] == [["CustomerAddRq"]]
    assert list(qb.customers) == [MARIA]
    outcomes = {o.command_id: o for o in await gateway.outcomes("acme")}
    assert outcomes[good.command_id].status == "posted"
    failed = outcomes[bad.command_id]
    assert failed.status == "failed"
    assert failed.status_message is not None
    assert failed.status_message.startswith("the qbXML does not match QuickBooks' schema (")
    assert "Name" in failed.status_message
    assert await gateway.open_work("acme") == (0, 0)


async def test_connection_never_receives_another_connections_commands(
    gateway: Gateway, qb: FakeQuickBooks
) -> None:
    await gateway.add_connection("acme", "acme-qbwc", "acme-pass")
    await gateway.add_connection("bolt", "bolt-qbwc", "bolt-pass")
    await gateway.publish(customer_command("acme", 1001, MARIA))
    await gateway.publish(customer_command("bolt", 1001, "Nguyen, Tran"))

    acme = await gateway.run_session("acme-qbwc", "acme-pass", qb)
    assert [_request_tags(m) for m in acme.sent] == [["CustomerAddRq"]]
    assert list(qb.customers) == [MARIA]
    assert [o.connection for o in await gateway.outcomes("acme")] == ["acme"]
    assert await gateway.outcomes("bolt") == []

    bolt_qb = FakeQuickBooks()
    bolt = await gateway.run_session("bolt-qbwc", "bolt-pass", bolt_qb)
    assert list(bolt_qb.customers) == ["Nguyen, Tran"]
    assert bolt.closed == "Posted 1, failed 0, waiting 0, retrying 0"
    assert [o.connection for o in await gateway.outcomes("bolt")] == ["bolt"]
    assert await gateway.open_work("acme") == (0, 0)
    assert await gateway.open_work("bolt") == (0, 0)


async def test_connection_error_releases_commands(gateway: Gateway, qb: FakeQuickBooks) -> None:
    await gateway.add_connection("acme", "acme-qbwc", "s3cret-pass")
    await gateway.publish(customer_command("acme", 1001, MARIA))
    ticket, _ = await gateway.call("authenticate", "acme-qbwc", "s3cret-pass")
    answer = await gateway.call(
        "connectionError", ticket, "0x80040408", "Could not start QuickBooks."
    )
    assert answer == "done"
    assert await gateway.call("getLastError", ticket) == (
        "QuickBooks is not running and could not be started (0x80040408): open QuickBooks on "
        "the Web Connector's computer and log in to the company file, close any window "
        "QuickBooks shows at start, and leave it open; nothing was sent; the records go at the "
        "next update. (QuickBooks said: Could not start QuickBooks.)"
    )
    log = await gateway.run_session("acme-qbwc", "s3cret-pass", qb)
    assert log.closed == "Posted 1, failed 0, waiting 0, retrying 0"


async def test_retryable_error_goes_next_cycle_without_lookup(
    gateway: Gateway, qb: FakeQuickBooks
) -> None:
    await gateway.add_connection("acme", "acme-qbwc", "s3cret-pass")
    qb.locked.add(MARIA)
    await gateway.publish(customer_command("acme", 1001, MARIA))

    first = await gateway.run_session("acme-qbwc", "s3cret-pass", qb)
    assert first.percents == [100]
    assert first.closed == "Posted 0, failed 0, waiting 0, retrying 1"
    [retrying] = await gateway.outcomes("acme")
    assert (retrying.status, retrying.status_code) == ("retrying", 3180)
    assert retrying.hint == (
        "QuickBooks could not save the record (locked, or an error in it); retried next cycle."
    )
    await asyncio.sleep(0.3)
    second = await gateway.run_session("acme-qbwc", "s3cret-pass", qb)
    # QuickBooks answered "not saved", so no lookup is needed before the second try.
    assert [_request_tags(m) for m in second.sent] == [["CustomerAddRq"]]
    assert [(o.status, o.attempt) for o in await gateway.outcomes("acme")] == [
        ("retrying", 1),
        ("posted", 2),
    ]
    assert await gateway.open_work("acme") == (0, 0)


async def test_a_newer_version_of_a_posted_invoice_is_reported_not_added_twice(
    gateway: Gateway, qb: FakeQuickBooks
) -> None:
    await gateway.add_connection("acme", "acme-qbwc", "s3cret-pass")
    await gateway.publish(customer_command("acme", 1001, MARIA))
    first = invoice_command("acme", 5001, "INV-5001", 1001)
    await gateway.publish(first)
    await gateway.run_session("acme-qbwc", "s3cret-pass", qb)
    assert len(qb.requests("InvoiceAddRq")) == 1

    # ServiceTitan edits the invoice after it posted: a new version, so a new command id.
    edited = invoice_command("acme", 5001, "INV-5001", 1001, version="v2")
    assert edited.command_id != first.command_id
    await gateway.publish(edited)
    log = await gateway.run_session("acme-qbwc", "s3cret-pass", qb)

    assert log.sent == []
    assert len(qb.requests("InvoiceAddRq")) == 1
    outcomes = {o.command_id: o for o in await gateway.outcomes("acme")}
    reported = outcomes[edited.command_id]
    # Reported for the accountant (test_upsert.py covers the difference it lists).
    assert reported.status == "changed"
    assert reported.qb_id == "2-1741111111"
    assert reported.status_message == (
        "Invoice 5001 changed in ServiceTitan after it was posted to QuickBooks "
        "(TxnID 2-1741111111): the posted version is unknown (it posted before ml-connector "
        "kept what it sent), so compare QuickBooks with ServiceTitan by hand"
    )
    assert await gateway.open_work("acme") == (0, 0)


@pytest.mark.parametrize(
    ("gateway_settings", "hints"),
    [
        (
            {
                "QBWC_POSTPONE_SECONDS": 600,
                "QBWC_MIN_RUN_SECONDS": 300,
                "QBWC_CHANGES_EVERY_SECONDS": 0,
            },
            ["600", "300"],
        ),
        # zeep: "" arrives as None
        ({"QBWC_MIN_RUN_SECONDS": 300, "QBWC_CHANGES_EVERY_SECONDS": 0}, [None, "300"]),
        ({"QBWC_POSTPONE_SECONDS": 600, "QBWC_CHANGES_EVERY_SECONDS": 0}, ["600"]),
    ],
)
async def test_nothing_pending_returns_the_configured_postpone_and_min_run(
    gateway: Gateway, qb: FakeQuickBooks, hints: list[str | None]
) -> None:
    await gateway.add_connection("acme", "acme-qbwc", "s3cret-pass")
    ticket, verdict, *rest = await gateway.call("authenticate", "acme-qbwc", "s3cret-pass")
    assert (verdict, rest) == ("none", hints)
    assert re.fullmatch(r"[0-9a-f]{32}", ticket)
    # With work to do: the company file, and no hints (the update runs now).
    await gateway.publish(customer_command("acme", 1001, MARIA))
    assert await gateway.call("authenticate", "acme-qbwc", "s3cret-pass") == [
        ANY_TICKET,
        COMPANY_FILE,
    ]
