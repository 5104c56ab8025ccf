"""Traces: the mapper continues the trace an event arrived with, through to its commands."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import pytest
from mapper_factories import connection, customer_event
from nats.js import JetStreamContext
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind

from mlconnector.common.connections import ConnectionStore
from mlconnector.common.envelopes import Command
from mlconnector.common.streams import st_event_subject
from mlconnector.mapper.service import MapperService
from mlconnector.mapper.settings import MapperSettings

pytestmark = pytest.mark.nats

TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
PARENT_SPAN_ID = "00f067aa0ba902b7"
TRACEPARENT = f"00-{TRACE_ID}-{PARENT_SPAN_ID}-01"


async def eventually(check: Callable[[], Awaitable[bool]], within: float = 10) -> None:
    deadline = asyncio.get_running_loop().time() + within
    while not await check():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.05)


def trace_id(span: ReadableSpan) -> str:
    assert span.context is not None
    return f"{span.context.trace_id:032x}"


async def test_event_and_its_commands_stay_in_the_incoming_trace(
    nats_url: str, js: JetStreamContext
) -> None:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    await (await ConnectionStore.open(js)).put(connection())
    service = MapperService(
        MapperSettings(NATS_URL=nats_url, MAPPER_FETCH_TIMEOUT_SECONDS=0.2),
        tracer_provider=provider,
    )
    await service.start()
    try:
        event = customer_event()
        await js.publish(
            st_event_subject(event.tenant, event.entity),
            event.model_dump_json().encode(),
            headers={"Nats-Msg-Id": event.event_id, "traceparent": TRACEPARENT},
        )

        async def idle() -> bool:
            # The ack floor, not only "nothing pending": a consumer's pending count is updated
            # after the publish is acknowledged (see test_service.consumer_idle).
            last = (await js.stream_info("ST_EVENTS")).state.last_seq
            info = await js.consumer_info("ST_EVENTS", "mapper")
            return info.ack_floor.stream_seq >= last and info.num_ack_pending == 0

        await eventually(idle)
    finally:
        await service.stop()
    provider.force_flush()
    spans = exporter.get_finished_spans()

    [event_span] = [s for s in spans if s.name == "st.events.1234567.customer map"]
    assert event_span.kind is SpanKind.CONSUMER
    assert trace_id(event_span) == TRACE_ID
    assert event_span.parent is not None
    assert f"{event_span.parent.span_id:016x}" == PARENT_SPAN_ID
    assert event_span.attributes is not None
    assert event_span.attributes["messaging.message.id"] == event.event_id

    # One producer span per command (the batch's publishes are written together and their
    # acknowledgements awaited together, so there is no per-message publish call to time).
    [create] = [s for s in spans if s.kind is SpanKind.PRODUCER]
    assert create.name == "qb.commands.acme-qb create"
    assert trace_id(create) == TRACE_ID
    assert event_span.context is not None
    assert create.parent is not None
    assert create.parent.span_id == event_span.context.span_id
    assert create.attributes is not None
    assert create.attributes["messaging.message.id"] == Command.make_id(
        "acme-qb", event.event_id, "CustomerAddRq"
    )

    # FastStream's own consumer spans cover the batch (a trace of their own).
    batch_spans = [s for s in spans if s.name == "st.events.1234567.customer process"]
    assert [s.kind for s in batch_spans] == [SpanKind.CONSUMER]
    assert trace_id(batch_spans[0]) != TRACE_ID

    # The command carries the trace on to the gateway.
    sub = await js.pull_subscribe("qb.commands.acme-qb", stream="QB_COMMANDS")
    [msg] = await sub.fetch(1, timeout=2)
    assert Command.model_validate_json(msg.data).command_id == Command.make_id(
        "acme-qb", event.event_id, "CustomerAddRq"
    )
    assert msg.headers is not None
    assert msg.headers["traceparent"].split("-")[1] == TRACE_ID
    assert msg.headers["traceparent"].split("-")[2] == f"{create.context.span_id:016x}"
    assert msg.headers["Nats-Msg-Id"] == Command.make_id("acme-qb", event.event_id, "CustomerAddRq")
    # FastStream consumers (audit) link their batch spans to messages by correlation_id.
    assert msg.headers["correlation_id"] == msg.headers["Nats-Msg-Id"]


async def test_untraced_mapper_passes_the_incoming_trace_on(
    nats_url: str, js: JetStreamContext
) -> None:
    """Without an exporter the mapper makes no spans of its own (nobody would see them),
    but its commands still carry the trace the event arrived with, so the gateway's and
    audit's spans stay in it."""
    await (await ConnectionStore.open(js)).put(connection())
    service = MapperService(
        MapperSettings(
            NATS_URL=nats_url,
            MAPPER_FETCH_TIMEOUT_SECONDS=0.2,
            OTEL_EXPORTER_OTLP_ENDPOINT=None,
        )
    )
    await service.start()
    try:
        traced, untraced = customer_event(), customer_event(st_id=1002, name="John Roe")
        for event, headers in (
            (traced, {"traceparent": TRACEPARENT}),
            (untraced, {}),
        ):
            await js.publish(
                st_event_subject(event.tenant, event.entity),
                event.model_dump_json().encode(),
                headers={"Nats-Msg-Id": event.event_id, **headers},
            )

        async def idle() -> bool:
            # The ack floor, not only "nothing pending": a consumer's pending count is updated
            # after the publish is acknowledged (see test_service.consumer_idle).
            last = (await js.stream_info("ST_EVENTS")).state.last_seq
            info = await js.consumer_info("ST_EVENTS", "mapper")
            return info.ack_floor.stream_seq >= last and info.num_ack_pending == 0

        await eventually(idle)
    finally:
        await service.stop()

    sub = await js.pull_subscribe("qb.commands.acme-qb", stream="QB_COMMANDS")
    msgs = await sub.fetch(2, timeout=2)
    headers = {Command.model_validate_json(m.data).st_id: m.headers or {} for m in msgs}
    assert headers[1001]["traceparent"] == TRACEPARENT
    assert "traceparent" not in headers[1002]
