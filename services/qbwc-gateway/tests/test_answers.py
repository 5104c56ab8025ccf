"""Answers that belong to the question: receiveResponseXML is recorded only when it answers
the requests of that session's last message."""

from __future__ import annotations

import pytest

from mlconnector.common.idmap import IdMap

from .conftest import FakeQuickBooks, Gateway, customer_command

pytestmark = pytest.mark.nats


async def test_a_response_naming_another_company_s_customer_is_refused_and_not_recorded(
    gateway: Gateway, qb: FakeQuickBooks
) -> None:
    await gateway.add_connection("acme", "acme-qbwc", "s3cret-pass")
    await gateway.publish(customer_command("acme", 1001, "Hernandez, Maria"))
    ticket, _ = await gateway.call("authenticate", "acme-qbwc", "s3cret-pass")
    request = await gateway.send(ticket)
    assert request is not None
    # Whoever holds the ticket answers with another company's customer and ListID.
    qb.customers["Bolt Electric"] = ("80000777-1741111111", "1741111777")
    answer = qb.process(request).replace("Hernandez, Maria", "Bolt Electric")
    answer = answer.replace("80000001-1741111111", "80000777-1741111111")

    assert await gateway.call("receiveResponseXML", ticket, answer, "", "") == -1

    error = await gateway.call("getLastError", ticket)
    assert error == (
        "QuickBooks' answer does not belong to the last message (requestID '1' added "
        "'Hernandez, Maria' but QuickBooks' answer names 'Bolt Electric'); nothing of it was "
        "recorded, and the requests will be looked up and sent again next cycle."
    )
    assert await (await IdMap.open(gateway.js)).get("acme", "customer", 1001) is None
    assert await gateway.outcomes("acme") == []
    # The Add stays an unanswered attempt: the next session looks it up before anything.
    assert len(await gateway.unanswered("acme")) == 1


@pytest.mark.parametrize(
    ("edit", "problem"),
    [
        (('requestID="1"', 'requestID="7"'), "answers requestID '7', which was not asked"),
        (("CustomerAddRs", "VendorAddRs"), "asked CustomerAddRq but the answer is VendorAddRs"),
    ],
)
async def test_answers_to_other_requests_are_refused(
    gateway: Gateway, qb: FakeQuickBooks, edit: tuple[str, str], problem: str
) -> None:
    await gateway.add_connection("acme", "acme-qbwc", "s3cret-pass")
    await gateway.publish(customer_command("acme", 1001, "Hernandez, Maria"))
    ticket, _ = await gateway.call("authenticate", "acme-qbwc", "s3cret-pass")
    request = await gateway.send(ticket)
    assert request is not None
    answer = qb.process(request).replace(*edit)

    assert await gateway.call("receiveResponseXML", ticket, answer, "", "") == -1
    assert problem in await gateway.call("getLastError", ticket)
    assert await gateway.outcomes("acme") == []
