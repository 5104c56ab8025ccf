"""A retryable QuickBooks error in session after session: each session's outcome reaches the
stream (audit), the last one "failed".

Found by the chaos test (tests/chaos): outcomes are numbered `<command id>:<attempt>` and the
stream drops a repeated id; the ledger kept the count of the session's own outcomes instead
of the number it used, so from the third session on every outcome of the record repeated an
id: audit never heard that the record failed.
"""

from __future__ import annotations

import pytest

from mlconnector.common.connections import ConnectionStore

from .conftest import FakeQuickBooks, Gateway, customer_command

pytestmark = pytest.mark.nats

MARIA = "Hernandez, Maria"


async def test_every_session_of_a_bounded_retry_is_told_and_the_failure_too(
    gateway: Gateway, qb: FakeQuickBooks
) -> None:
    connection = await gateway.add_connection("acme", "acme-qbwc", "s3cret-pass")
    connection.retry_sessions = 3
    await (await ConnectionStore.open(gateway.js)).put(connection)
    await gateway.publish(customer_command("acme", 1001, MARIA))

    closed = []
    for _ in range(4):
        qb.locked.add(MARIA)  # another user holds the record, session after session
        closed.append((await gateway.run_session("acme-qbwc", "s3cret-pass", qb)).closed)

    assert closed == [
        "Posted 0, failed 0, waiting 0, retrying 1",
        "Posted 0, failed 0, waiting 0, retrying 1",
        "Posted 0, failed 1, waiting 0, retrying 0",
        None,  # nothing left to do: authenticate answered "none"
    ]
    outcomes = await gateway.outcomes("acme")
    assert [(o.status, o.attempt) for o in outcomes] == [
        ("retrying", 1),
        ("retrying", 2),
        ("failed", 3),
    ]
    assert outcomes[-1].status_message == (
        "There was an error when saving a Customers list element. QuickBooks error message: "
        "The record is in use by another user. (QuickBooks refused it in 3 sessions; not "
        "retried again)"
    )
    assert qb.customers == {}
