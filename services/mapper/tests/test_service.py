"""The mapper over a real nats-server: commands, de-duplication, failures, waiting tenants."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from decimal import Decimal
from pathlib import Path

import pytest
from mapper_factories import RECEIVED, TENANT, connection, customer_event, invoice, invoice_event
from nats.js import JetStreamContext

from mlconnector.common.connections import Connection, ConnectionStore
from mlconnector.common.envelopes import Command, Outcome, StEvent
from mlconnector.common.models import Payment, PaymentApplication
from mlconnector.common.streams import st_event_subject
from mlconnector.mapper.service import MapperService
from mlconnector.mapper.settings import MapperSettings

pytestmark = pytest.mark.nats

REPO_ROOT = Path(__file__).resolve().parents[3]  # where bench/ lives


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
    """The mapper has settled every message ST_EVENTS holds (these tests publish only events).

    "No message pending" alone is not enough: nats-server counts a consumer's pending
    messages when the stream signals its consumers, which happens after the publish is
    acknowledged, so for a moment right after a publish the consumer looks idle although it
    has not seen the new message (measured: about 1 publish in 400 on an idle machine, more
    under load). The ack floor reaching the stream's last sequence is exact.
    """
    last = (await js.stream_info("ST_EVENTS")).state.last_seq
    info = await js.consumer_info("ST_EVENTS", "mapper")
    return info.ack_floor.stream_seq >= last and info.num_pending == 0 and info.num_ack_pending == 0


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


def payment_event(st_id: int = 7001, invoice_st_id: int = 5001) -> StEvent:
    record = Payment(
        st_id=st_id,
        customer_st_id=1001,
        customer_name="Jane Doe",
        payment_date=dt.date(2024, 5, 3),
        reference="1042",
        payment_type="Check",
        total=Decimal("100.00"),
        unapplied=Decimal("0.00"),
        applications=(PaymentApplication(invoice_st_id=invoice_st_id, amount=Decimal("100.00")),),
    )
    return StEvent(
        tenant=TENANT,
        entity="payment",
        st_id=st_id,
        version="2024-05-03T09:00:00Z",
        received_at=RECEIVED,
        record=record,
    )


async def test_dependencies_are_published_before_the_records_that_need_them(
    nats_url: str, js: JetStreamContext
) -> None:
    """ServiceTitan's feeds arrive in any order: within a batch the customer goes out before
    the invoices, the invoices (in ServiceTitan order) before the payment applied to one."""
    await (await ConnectionStore.open(js)).put(connection())
    first_invoice = invoice_event()
    second_invoice = invoice_event(invoice(st_id=5002, number="INV-1002"))
    arrivals = [payment_event(), first_invoice, customer_event(), second_invoice]
    for event in arrivals:
        await publish_event(js, event)
    # Started after the events are in ST_EVENTS, so that one pull takes all four.
    service = MapperService(
        MapperSettings(
            NATS_URL=nats_url,
            MAPPER_FETCH_TIMEOUT_SECONDS=0.2,
            MAPPER_BATCH_SIZE=8,
        )
    )
    await service.start()
    try:
        await eventually(lambda: consumer_idle(js))
    finally:
        await asyncio.wait_for(service.stop(), timeout=20)
    assert service.stats.batches == 1

    raw = await stream_messages(js, "QB_COMMANDS", "qb.commands.acme-qb")
    commands = [Command.model_validate_json(r) for r in raw]
    assert [(c.entity, c.st_id) for c in commands] == [
        ("customer", 1001),
        ("invoice", 5001),
        ("invoice", 5002),
        ("payment", 7001),
    ]
    assert (await js.stream_info("QB_OUTCOMES")).state.messages == 0


async def test_the_benchmark_maps_every_event_to_exactly_one_command(nats_url: str) -> None:
    """bench/mapper's own code path with a tiny N, so the benchmark cannot rot (no timing)."""
    if str(REPO_ROOT) not in sys.path:
        sys.path.insert(0, str(REPO_ROOT))
    from bench.mapper.run import bench

    report = await bench(nats_url, n=20, rounds=1, batch_size=8)

    assert len(report.published_event_ids) == len(set(report.published_event_ids)) == 20
    assert {e: report.commands_per_event[e] for e in report.published_event_ids} == {
        e: 1 for e in report.published_event_ids
    }
    assert sum(report.commands_per_event.values()) == 20
    assert report.duplicate_command_ids == []
    assert sorted(r.kind for r in report.rounds) == ["bare", "mapper"]
    assert all(r.events == 20 for r in report.rounds)


async def test_a_publish_that_fails_naks_only_its_event(
    nats_url: str, js: JetStreamContext
) -> None:
    """Nothing lost, nothing held back: the event whose command JetStream did not confirm is
    redelivered (and then published); the rest of its batch is acked."""
    await (await ConnectionStore.open(js)).put(connection())
    customer, inv = customer_event(), invoice_event()
    unlucky = Command.make_id("acme-qb", customer.event_id, "CustomerAddRq")
    for event in (customer, inv):
        await publish_event(js, event)
    service = MapperService(
        MapperSettings(
            NATS_URL=nats_url,
            MAPPER_FETCH_TIMEOUT_SECONDS=0.2,
            MAPPER_RETRY_DELAY_SECONDS=0.2,
        )
    )
    await service.start()
    assert service._js is not None
    real_publish = service._js.publish_async
    refused: list[str] = []

    async def flaky_publish(
        subject: str, payload: bytes, **kwargs: object
    ) -> asyncio.Future[object]:
        headers = kwargs["headers"]
        assert isinstance(headers, dict)
        if headers["Nats-Msg-Id"] == unlucky and not refused:
            refused.append(unlucky)
            answer: asyncio.Future[object] = asyncio.get_running_loop().create_future()
            answer.set_exception(RuntimeError("JetStream said no"))
            return answer
        return await real_publish(subject, payload, **kwargs)

    service._js.publish_async = flaky_publish  # type: ignore[method-assign]

    async def both_acked() -> bool:
        return service.stats.acked == 2 and await consumer_idle(js)

    try:
        await eventually(both_acked)
    finally:
        await asyncio.wait_for(service.stop(), timeout=20)

    assert refused == [unlucky]
    assert (service.stats.acked, service.stats.naked) == (2, 1)
    raw = await stream_messages(js, "QB_COMMANDS", "qb.commands.acme-qb")
    assert sorted(Command.model_validate_json(r).entity for r in raw) == ["customer", "invoice"]


async def test_the_connections_are_read_once_per_ttl_not_once_per_event() -> None:
    from mlconnector.mapper.connection_cache import ConnectionCache

    class Store:
        reads = 0
        connections = [connection()]

        async def all(self) -> list[Connection]:
            self.reads += 1
            return list(self.connections)

    now = [100.0]
    store = Store()
    cache = ConnectionCache(store, ttl=2.0, clock=lambda: now[0])  # type: ignore[arg-type]
    assert list(await cache.by_tenant()) == [TENANT]
    now[0] += 1.9
    await cache.by_tenant()
    assert store.reads == 1  # within the TTL: no read
    store.connections = [connection(), connection("other-qb", tenant="999")]
    now[0] += 0.2
    assert sorted(await cache.by_tenant()) == [TENANT, "999"]  # past it: read again
    assert store.reads == 2
    await cache.by_tenant(max_age=0)  # an event for a tenant it does not know
    assert store.reads == 3


def test_a_message_that_cannot_be_published_says_why(monkeypatch: pytest.MonkeyPatch) -> None:
    """Mapping never raises: the batch terminates or redelivers that one message."""
    from mlconnector.mapper import event_mapping

    by_tenant = {TENANT: [connection()]}
    event = customer_event().model_dump_json().encode()
    assert event_mapping.map_message(b'{"not": "an event"}', by_tenant).status == "malformed"
    assert event_mapping.map_message(event, {}).status == "no-connection"
    assert len(event_mapping.map_message(event, by_tenant).publications) == 1

    def broken(event: StEvent, connection: Connection) -> list[Command]:
        raise KeyError("a bug, not a MappingError")

    monkeypatch.setattr(event_mapping, "map_event", broken)
    result = event_mapping.map_message(event, by_tenant)
    assert (result.status, result.publications) == ("error", ())
    assert "KeyError" in result.problem
