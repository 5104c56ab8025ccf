"""The mapper over a real nats-server: commands, de-duplication, failures, waiting tenants."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from decimal import Decimal

import pytest
from mapper_factories import TENANT, connection, customer_event, invoice, invoice_event
from nats.js import JetStreamContext

from mlconnector.common.connections import ConnectionStore
from mlconnector.common.envelopes import Command, Outcome, StEvent
from mlconnector.common.streams import st_event_subject
from mlconnector.mapper.service import MapperService
from mlconnector.mapper.settings import MapperSettings

pytestmark = pytest.mark.nats


@pytest.fixture
async def mapper(nats_url: str, js: JetStreamContext) -> AsyncIterator[MapperService]:
    settings = MapperSettings(
        NATS_URL=nats_url,
        MAPPER_FETCH_TIMEOUT_SECONDS=0.2,
        MAPPER_NO_CONNECTION_DELAY_SECONDS=0.5,
        MAPPER_BATCH_SIZE=8,
    )
    service = MapperService(settings)
    # Started before the test runs: its durable consumer exists once start() returns.
    await service.start()
    yield service
    await asyncio.wait_for(service.stop(), timeout=20)


async def publish_event(js: JetStreamContext, event: StEvent, msg_id: str | None = None) -> None:
    await js.publish(
        st_event_subject(event.tenant, event.entity),
        event.model_dump_json().encode(),
        headers={"Nats-Msg-Id": msg_id or event.event_id},
    )


async def stream_messages(js: JetStreamContext, stream: str, subject: str) -> list[bytes]:
    info = await js.stream_info(stream)
    if info.state.messages == 0:
        return []
    sub = await js.pull_subscribe(subject, stream=stream)
    try:
        msgs = await sub.fetch(info.state.messages, timeout=2)
        for msg in msgs:
            await msg.ack()
        return [msg.data for msg in msgs]
    finally:
        await sub.unsubscribe()


async def eventually(check: Callable[[], Awaitable[bool]], within: float = 10) -> None:
    deadline = asyncio.get_running_loop().time() + within
    while not await check():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.05)


async def consumer_idle(js: JetStreamContext) -> bool:
    info = await js.consumer_info("ST_EVENTS", "mapper")
    return info.num_pending == 0 and info.num_ack_pending == 0


async def test_events_become_commands_once(js: JetStreamContext, mapper: MapperService) -> None:
    conn = connection()
    await (await ConnectionStore.open(js)).put(conn)
    customer, inv = customer_event(), invoice_event()
    await publish_event(js, customer)
    await publish_event(js, inv)
    await eventually(lambda: consumer_idle(js))

    raw = await stream_messages(js, "QB_COMMANDS", "qb.commands.acme-qb")
    commands = sorted((Command.model_validate_json(r) for r in raw), key=lambda c: c.entity)
    assert [(c.entity, c.request_type, c.command_id) for c in commands] == [
        (
            "customer",
            "CustomerAddRq",
            Command.make_id("acme-qb", customer.event_id, "CustomerAddRq"),
        ),
        ("invoice", "InvoiceAddRq", Command.make_id("acme-qb", inv.event_id, "InvoiceAddRq")),
    ]
    assert commands[1].command_id == "cmd-23917a4b4920d1f3a0a259ac634d8efb"

    # The same events again, as a replay does (new message ids, so ST_EVENTS keeps them):
    # the mapper maps them to the same command ids and JetStream drops the duplicates.
    await publish_event(js, customer, msg_id=f"replay:{customer.event_id}:r1")
    await publish_event(js, inv, msg_id=f"replay:{inv.event_id}:r1")
    await eventually(lambda: consumer_idle(js))
    assert (await js.stream_info("ST_EVENTS")).state.messages == 4
    assert (await js.stream_info("QB_COMMANDS")).state.messages == 2
    assert (await js.stream_info("QB_OUTCOMES")).state.messages == 0


async def test_bad_invoice_yields_a_failed_outcome_and_no_command(
    js: JetStreamContext, mapper: MapperService
) -> None:
    await (await ConnectionStore.open(js)).put(connection())
    bad = invoice_event(invoice(total=Decimal("231.00")))
    await publish_event(js, bad)
    await eventually(lambda: consumer_idle(js))
    assert (await js.stream_info("QB_COMMANDS")).state.messages == 0
    [raw] = await stream_messages(js, "QB_OUTCOMES", "qb.outcomes.acme-qb")
    outcome = Outcome.model_validate_json(raw)
    assert outcome.status == "failed"
    assert outcome.command_id == Command.make_id("acme-qb", bad.event_id, "map")
    assert outcome.attempt == 1
    assert (outcome.connection, outcome.tenant, outcome.entity, outcome.st_id) == (
        "acme-qb",
        TENANT,
        "invoice",
        5001,
    )
    assert outcome.status_message == (
        "invoice INV-1001 (ServiceTitan id 5001, event 1234567:invoice:5001:2024-05-01T17:00:00Z)"
        ": subtotal 227.50 + sales tax 3.09 = 230.59 but the total is 231.00 "
        "(difference -0.41)"
    )
    assert outcome.hint is not None
    assert outcome.hint.startswith("Correct the invoice's tax")

    # Redelivered or replayed, the failure is still one outcome message.
    await publish_event(js, bad, msg_id="replay-again")
    await eventually(lambda: consumer_idle(js))
    assert (await js.stream_info("QB_OUTCOMES")).state.messages == 1


async def test_tenant_without_connection_waits_until_one_is_added(
    js: JetStreamContext, mapper: MapperService
) -> None:
    event = customer_event()
    await publish_event(js, event)
    await asyncio.sleep(1.0)
    assert (await js.stream_info("QB_COMMANDS")).state.messages == 0
    info = await js.consumer_info("ST_EVENTS", "mapper")
    assert info.num_ack_pending + info.num_pending == 1  # still held, not dropped

    await (await ConnectionStore.open(js)).put(connection())
    await eventually(lambda: consumer_idle(js))
    [raw] = await stream_messages(js, "QB_COMMANDS", "qb.commands.acme-qb")
    assert Command.model_validate_json(raw).command_id == Command.make_id(
        "acme-qb", event.event_id, "CustomerAddRq"
    )


async def test_one_event_fans_out_to_every_connection_of_its_tenant(
    js: JetStreamContext, mapper: MapperService
) -> None:
    store = await ConnectionStore.open(js)
    await store.put(connection("acme-qb"))
    await store.put(connection("acme-qb-2"))
    await store.put(connection("other-qb", tenant="999"))
    await publish_event(js, customer_event())
    await eventually(lambda: consumer_idle(js))
    assert len(await stream_messages(js, "QB_COMMANDS", "qb.commands.acme-qb")) == 1
    assert len(await stream_messages(js, "QB_COMMANDS", "qb.commands.acme-qb-2")) == 1
    assert (await js.stream_info("QB_COMMANDS")).state.messages == 2


async def test_malformed_event_does_not_block_the_consumer(
    js: JetStreamContext, mapper: MapperService
) -> None:
    await (await ConnectionStore.open(js)).put(connection())
    await js.publish(
        f"st.events.{TENANT}.customer", b'{"not": "an event"}', headers={"Nats-Msg-Id": "garbage-1"}
    )
    await publish_event(js, customer_event())
    await eventually(lambda: consumer_idle(js))
    assert (await js.stream_info("QB_COMMANDS")).state.messages == 1


async def test_main_stops_cleanly_on_sigterm(nats_url: str) -> None:
    import os
    import signal
    import sys

    env = {**os.environ, "NATS_URL": nats_url, "LOG_LEVEL": "INFO"}
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        "from mlconnector.mapper.main import main; main()",
        env=env,
        stderr=asyncio.subprocess.PIPE,
    )
    assert proc.stderr is not None
    with contextlib.suppress(TimeoutError):
        while True:
            line = await asyncio.wait_for(proc.stderr.readline(), timeout=15)
            if b"consuming ST_EVENTS" in line or not line:
                break
    proc.send_signal(signal.SIGTERM)
    assert await asyncio.wait_for(proc.wait(), timeout=15) == 0
