"""A request QuickBooks cannot read: the message is refused whole (HRESULT 0x80040400).

Found by the chaos test (tests/chaos): an InvoiceMod the QuickBooks simulator could not read
made every session send the same message again, "retrying" forever, and any record planned
into that message with it never posted. Now the records of a refused message go alone, after
the others; the one refused alone is retried a bounded number of sessions, then fails with
QuickBooks' words, and the others post.
"""

from __future__ import annotations

import pytest
from lxml import etree

from .conftest import FakeQuickBooks, Gateway, customer_command

pytestmark = pytest.mark.nats

PARSE_ERROR = "QuickBooks found an error when parsing the provided XML text stream."
MARIA, POISON, OLGA = "Hernandez, Maria", "Unreadable, Record", "Petrova, Olga"


def _names(request: str) -> list[str]:
    root = etree.fromstring(request.encode())
    return [name.text or "" for name in root.iter("Name")]


async def _session(gateway: Gateway, qb: FakeQuickBooks) -> list[tuple[list[str], str]]:
    """One Web Connector update; QuickBooks cannot read a message naming POISON. Each
    message: the names it carried, and "more" (1-99), "done" (100) or "refused" (-1)."""
    ticket, verdict = await gateway.call("authenticate", "acme-qbwc", "s3cret-pass")
    if verdict == "none":
        return []
    messages: list[tuple[list[str], str]] = []
    for _ in range(20):
        request = await gateway.send(ticket)
        if not request:
            break
        if POISON in request:
            percent = await gateway.call(
                "receiveResponseXML", ticket, "", "0x80040400", PARSE_ERROR
            )
        else:
            percent = await gateway.call("receiveResponseXML", ticket, qb.process(request), "", "")
        verdict = "refused" if percent < 0 else "done" if percent >= 100 else "more"
        messages.append((_names(request), verdict))
        if percent < 0 or percent >= 100:
            break
    await gateway.call("closeConnection", ticket)
    return messages


async def test_the_request_quickbooks_cannot_read_fails_alone_and_the_others_post(
    gateway: Gateway, qb: FakeQuickBooks
) -> None:
    await gateway.add_connection("acme", "acme-qbwc", "s3cret-pass")
    for st_id, name in ((1001, MARIA), (1002, POISON), (1003, OLGA)):
        await gateway.publish(customer_command("acme", st_id, name))

    sessions = [await _session(gateway, qb) for _ in range(8)]

    assert sessions == [
        [([MARIA, POISON, OLGA], "refused")],  # refused whole: which one is it?
        [([MARIA], "more"), ([POISON], "refused")],  # each alone, after the others
        [([OLGA], "more"), ([POISON], "refused")],  # refused least often goes first
        [([POISON], "refused")],
        [([POISON], "refused")],
        [([POISON], "refused")],  # the 5th session it was refused alone: failed
        [],  # nothing left to do: "none"
        [],
    ]
    assert sorted(qb.customers) == [MARIA, OLGA]
    outcomes = [o for o in await gateway.outcomes("acme") if o.st_id == 1002]
    assert [o.status for o in outcomes] == ["retrying"] * 5 + ["failed"]
    assert outcomes[-1].status_message is not None
    assert outcomes[-1].status_message.startswith(
        "QuickBooks could not read this request in 5 sessions, sent alone each time "
        "(0x80040400); it is not sent again. QuickBooks could not read a request ml-connector "
        "sent (0x80040400)"
    )
    assert outcomes[-1].request_qbxml is not None
    assert POISON in outcomes[-1].request_qbxml
    assert await gateway.open_work("acme") == (0, 0)
