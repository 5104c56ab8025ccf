"""The mapper service: ST_EVENTS -> commands on qb.commands.<connection>.

A FastStream batch pull subscriber with manual acknowledgement: FastStream's default policy
terminates a message whose handler raised, so every message is settled here instead. An event
is acked only after every command (or failure outcome) it produced has been confirmed by
JetStream; an unexpected error naks it for redelivery; only an undecodable one is terminated.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Annotated

from faststream import Context
from faststream.middlewares import AckPolicy
from faststream.nats import JStream, PullSub
from faststream.nats.message import NatsBatchMessage
from nats.aio.msg import Msg
from nats.js import api
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.trace import Link, SpanKind
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator
from pydantic import ValidationError

from mlconnector.common.broker import jetstream, make_broker
from mlconnector.common.connections import Connection, ConnectionStore
from mlconnector.common.envelopes import Command, Outcome, StEvent
from mlconnector.common.streams import (
    QB_COMMANDS,
    QB_OUTCOMES,
    ST_EVENTS,
    command_subject,
    declare_all,
    outcome_subject,
)
from mlconnector.common.telemetry import make_tracer_provider
from mlconnector.mapper.commands import MAP_REQUEST_TYPE, map_event
from mlconnector.mapper.errors import MappingError
from mlconnector.mapper.settings import MapperSettings

log = logging.getLogger("mlconnector.mapper")

_TRACE_PROPAGATOR = TraceContextTextMapPropagator()


@dataclass(frozen=True)
class Publication:
    subject: str
    payload: bytes
    msg_id: str
    stream: str


def failure_outcome(event: StEvent, connection: Connection, error: MappingError) -> Outcome:
    return Outcome(
        command_id=Command.make_id(connection.name, event.event_id, MAP_REQUEST_TYPE),
        attempt=1,
        connection=connection.name,
        tenant=event.tenant,
        entity=event.entity,
        st_id=event.st_id,
        event_id=event.event_id,
        status="failed",
        status_message=error.message,
        hint=error.hint or None,
    )


def publications_for(event: StEvent, connections: Iterable[Connection]) -> list[Publication]:
    """Everything one event must produce, one connection after another (pure, no I/O)."""
    out: list[Publication] = []
    for connection in connections:
        try:
            commands = map_event(event, connection)
        except MappingError as error:
            log.warning("mapping %s for %s failed: %s", event.event_id, connection.name, error)
            outcome = failure_outcome(event, connection, error)
            out.append(
                Publication(
                    outcome_subject(connection.name),
                    outcome.model_dump_json().encode(),
                    outcome.outcome_id,
                    QB_OUTCOMES.name,
                )
            )
            continue
        out.extend(
            Publication(
                command_subject(connection.name),
                command.model_dump_json().encode(),
                command.command_id,
                QB_COMMANDS.name,
            )
            for command in commands
        )
    return out


class MapperService:
    """Owns its broker: `start()` connects, declares the streams and starts consuming."""

    def __init__(
        self, settings: MapperSettings, *, tracer_provider: TracerProvider | None = None
    ) -> None:
        self._settings = settings
        provider = tracer_provider or make_tracer_provider(
            settings.otel_service_name or "mapper", settings.otel_exporter_otlp_endpoint
        )
        # The per-event spans below and the broker's middleware spans share one provider, so
        # they are exported (or captured in tests) together.
        self._tracer = trace.get_tracer("mlconnector.mapper", tracer_provider=provider)
        self.broker = make_broker(settings, "mapper", tracer_provider=provider)
        self._store: ConnectionStore | None = None
        self.broker.subscriber(
            ST_EVENTS.subjects[0],  # st.events.>: rejections (st.rejected.>) are audit's only
            stream=JStream(ST_EVENTS.name, declare=False),  # declared by declare_all
            durable=settings.durable,
            config=api.ConsumerConfig(
                deliver_policy=api.DeliverPolicy.ALL,
                ack_policy=api.AckPolicy.EXPLICIT,
                ack_wait=settings.ack_wait_seconds,
                max_ack_pending=max(1000, settings.batch_size * 4),
            ),
            pull_sub=PullSub(
                batch_size=settings.batch_size,
                timeout=settings.fetch_timeout_seconds,
                batch=True,
            ),
            # Every message is acked, naked or terminated by handle_batch itself.
            ack_policy=AckPolicy.MANUAL,
        )(self._on_batch)

    async def start(self) -> None:
        await self.broker.connect()
        js = jetstream(self.broker)
        await declare_all(js)
        self._store = await ConnectionStore.open(js)
        await self.broker.start()
        log.info("mapper consuming %s as %r", ST_EVENTS.name, self._settings.durable)

    async def stop(self) -> None:
        # Waits (up to FastStream's graceful timeout) for the batch in hand to be settled.
        await self.broker.stop()

    async def run(self, stop: asyncio.Event) -> None:
        await self.start()
        try:
            await stop.wait()
        finally:
            await self.stop()

    async def _on_batch(self, message: Annotated[NatsBatchMessage, Context("message")]) -> None:
        try:
            await self.handle_batch(message.raw_message)
        except Exception:
            # Nothing may escape unsettled-and-unlogged: unacked messages come back after
            # ack_wait anyway, but the operator should know why.
            log.exception("mapping a batch of %d events failed", len(message.raw_message))
            await asyncio.gather(
                *(
                    msg.nak(delay=self._settings.retry_delay_seconds)
                    for msg in message.raw_message
                    if not msg._ackd
                ),
                return_exceptions=True,
            )

    async def handle_batch(self, msgs: list[Msg]) -> None:
        assert self._store is not None, "start() opens the connections bucket"
        try:
            # One read of the connections bucket per batch, not per event.
            by_tenant: dict[str, list[Connection]] = {}
            for connection in await self._store.all():
                by_tenant.setdefault(connection.tenant, []).append(connection)
        except Exception:
            log.exception("cannot read the connections bucket; events will be redelivered")
            await asyncio.gather(
                *(msg.nak(delay=self._settings.retry_delay_seconds) for msg in msgs),
                return_exceptions=True,
            )
            return
        # Events of one batch are independent: their publishes overlap, one wait for all.
        await asyncio.gather(*(self.handle(msg, by_tenant) for msg in msgs))

    async def handle(self, msg: Msg, by_tenant: dict[str, list[Connection]]) -> None:
        # FastStream's span covers the whole batch (a new trace linking the producers); this
        # span puts each event's mapping and publishes back into the trace that produced it.
        with self._event_span(msg):
            await self._handle(msg, by_tenant)

    def _event_span(self, msg: Msg) -> AbstractContextManager[trace.Span]:
        headers = msg.headers or {}
        parent = _TRACE_PROPAGATOR.extract(headers)
        batch_span = trace.get_current_span()
        if trace.get_current_span(parent).get_span_context().is_valid:
            context, links = parent, [Link(batch_span.get_span_context())]
        else:
            # No traceparent: the event's span is a child of the batch span.
            context, links = None, []
        return self._tracer.start_as_current_span(
            f"{msg.subject} map",
            context=context,
            kind=SpanKind.CONSUMER,
            links=links,
            attributes={
                "messaging.system": "nats",
                "messaging.destination.name": msg.subject,
                "messaging.message.id": headers.get("Nats-Msg-Id", ""),
            },
        )

    async def _handle(self, msg: Msg, by_tenant: dict[str, list[Connection]]) -> None:
        try:
            event = StEvent.model_validate_json(msg.data)
        except ValidationError as exc:
            # Redelivering cannot fix it; the message stays in ST_EVENTS for inspection.
            log.error("dropping malformed event on %s (seq %s): %s", msg.subject, _seq(msg), exc)
            await msg.term()
            return
        connections = by_tenant.get(event.tenant, [])
        if not connections:
            # Waiting, not dropping: once the operator adds the connection it is picked up.
            log.warning(
                "no connection for tenant %s yet; %s retried in %ss",
                event.tenant,
                event.event_id,
                self._settings.no_connection_delay_seconds,
            )
            await msg.nak(delay=self._settings.no_connection_delay_seconds)
            return
        try:
            for publication in publications_for(event, connections):
                # Sequential per event: its commands must reach the stream in order. Through
                # the broker, so the telemetry middleware puts traceparent in the headers.
                await self.broker.publish(
                    publication.payload,
                    publication.subject,
                    headers={"Nats-Msg-Id": publication.msg_id},
                    stream=publication.stream,
                )
        except Exception:
            log.exception("publishing for %s failed; it will be redelivered", event.event_id)
            await msg.nak(delay=self._settings.retry_delay_seconds)
            return
        await msg.ack()


def _seq(msg: Msg) -> int | None:
    try:
        return int(msg.metadata.sequence.stream)
    except Exception:
        return None
