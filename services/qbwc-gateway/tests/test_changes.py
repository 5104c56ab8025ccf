"""Customers and vendors changed inside QuickBooks go to QB_CHANGES for ServiceTitan; the
changes ml-connector made itself never do (no ping-pong)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pytest
from lxml import etree

from mlconnector.common.envelopes import QbChange
from mlconnector.common.streams import QB_CHANGES
from mlconnector.qbsim.company import Company, seed_contractor

from .conftest import Gateway, SimQuickBooks, customer_command

pytestmark = pytest.mark.nats


@pytest.fixture
def sim() -> Iterator[SimQuickBooks]:
    with Company(":memory:") as company:
        seed_contractor(company)
        yield SimQuickBooks(company)


async def _changes(gateway: Gateway) -> list[QbChange]:
    info = await gateway.js.stream_info(QB_CHANGES.name)
    if not info.state.messages:
        return []
    return [
        QbChange.model_validate_json((await gateway.js.get_msg(QB_CHANGES.name, seq)).data or b"")
        for seq in range(info.state.first_seq, info.state.last_seq + 1)
    ]


def _tags(message: etree._Element) -> list[str]:
    msgs = message.find("QBXMLMsgsRq")
    assert msgs is not None
    return [rq.tag for rq in msgs]


@pytest.mark.parametrize("gateway_settings", [{"QBWC_CHANGES_EVERY_SECONDS": 0.5}])
async def test_an_office_edit_is_published_once_and_our_own_writes_never(
    gateway: Gateway, sim: SimQuickBooks
) -> None:
    await gateway.add_connection("acme", "acme-qbwc", "s3cret-pass")
    await gateway.publish(customer_command("acme", 1001, "Hernandez, Maria"))
    log = await gateway.run_session("acme-qbwc", "s3cret-pass", sim)
    assert log.closed == "Posted 1, failed 0, waiting 0, retrying 0"
    # The first message asked for changes along with the Add: nothing of ours came back.
    assert _tags(sim.messages[0]) == ["CustomerQueryRq", "VendorQueryRq", "CustomerAddRq"]
    seeded_vendors = {c.list_id for c in await _changes(gateway)}
    maria = sim.company.customer_by_name("Hernandez, Maria")
    assert maria is not None
    assert maria.core.list_id not in seeded_vendors

    # The office manager changes Maria's phone in QuickBooks.
    sim.company.edit_party_as_user(maria.core.list_id, phone="217-555-0199")
    edited = sim.company.customer_by_name("Hernandez, Maria")
    assert edited is not None
    before = len(await _changes(gateway))
    await _next_poll(gateway)
    log = await gateway.run_session("acme-qbwc", "s3cret-pass", sim)

    changes = (await _changes(gateway))[before:]
    assert [(c.entity, c.list_id, c.edit_sequence, c.name) for c in changes] == [
        ("customer", maria.core.list_id, edited.core.edit_sequence, "Hernandez, Maria")
    ]
    assert changes[0].data["phone"] == "217-555-0199"
    assert changes[0].data["st_id"] == 1001

    # Polled again: the same edit is inside the margin, but it is not published twice.
    await _next_poll(gateway)
    await gateway.run_session("acme-qbwc", "s3cret-pass", sim)
    assert len(await _changes(gateway)) == before + 1


async def _next_poll(gateway: Gateway) -> None:
    """Let the poll interval (0.5 s) pass."""
    import asyncio

    await asyncio.sleep(0.6)
    _ = dt  # the margin logic is in QuickBooks' local time; nothing else to wait for
