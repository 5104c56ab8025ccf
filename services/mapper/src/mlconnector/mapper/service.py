"""The mapper service: the FastStream app that turns ST_EVENTS into qb.commands.<connection>.

Only the wiring lives here: the broker, the batch pull subscriber on ST_EVENTS and start/stop.
A pulled batch goes to the `pipeline` (batches in flight), which hands it to `batch` (map with
`event_mapping`, publish with `publishing`, then ack or nak each event); `tracing` makes the
spans and `connection_cache` holds the connections by tenant.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Annotated, Any

from faststream import Context
from faststream.middlewares import AckPolicy
from faststream.nats import JStream, PullSub
from faststream.nats.message import NatsBatchMessage
from nats.js import JetStreamContext, api
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider

from mlconnector.common.broker import jetstream, make_broker
from mlconnector.common.connections import ConnectionStore
from mlconnector.common.streams import ST_EVENTS, declare_all
from mlconnector.common.telemetry import make_tracer_provider
from mlconnector.mapper.batch import BatchHandler
from mlconnector.mapper.connection_cache import ConnectionCache
from mlconnector.mapper.pipeline import BatchPipeline
from mlconnector.mapper.settings import MapperSettings
from mlconnector.mapper.stats import MapperStats
from mlconnector.mapper.tracing import EventTracing

log = logging.getLogger(__name__)


async def _keep_raw(message: Any) -> None:
    """The handler reads the raw nats messages: FastStream need not JSON-decode every body."""
    return None


class MapperService:
    """Owns its broker: `start()` connects, declares the streams and starts consuming."""

    def __init__(
        self, settings: MapperSettings, *, tracer_provider: TracerProvider | None = None
    ) -> None:
        self._settings = settings
        provider = tracer_provider or make_tracer_provider(
            settings.otel_service_name or "mapper", settings.otel_exporter_otlp_endpoint
        )
        # The per-event and per-command spans and the broker's middleware spans share one
        # provider, so they are exported (or captured in tests) together.
        self._tracing = EventTracing(
            trace.get_tracer("mlconnector.mapper", tracer_provider=provider),
            exported=tracer_provider is not None or bool(settings.otel_exporter_otlp_endpoint),
        )
        self.broker = make_broker(settings, "mapper", tracer_provider=provider)
        self._js: JetStreamContext | None = None
        self._pipeline: BatchPipeline | None = None
        self.stats = MapperStats()
        self.broker.subscriber(
            ST_EVENTS.subjects[0],  # st.events.>: rejections (st.rejected.>) are audit's only
            stream=JStream(ST_EVENTS.name, declare=False),  # declared by declare_all
            durable=settings.durable,
            config=api.ConsumerConfig(
                deliver_policy=api.DeliverPolicy.ALL,
                ack_policy=api.AckPolicy.EXPLICIT,
                ack_wait=settings.ack_wait_seconds,
                # The batches in flight, the one in hand and the one being pulled.
                max_ack_pending=max(1000, settings.batch_size * (settings.batches_in_flight + 2)),
            ),
            pull_sub=PullSub(
                batch_size=settings.batch_size,
                timeout=settings.fetch_timeout_seconds,
                batch=True,
            ),
            decoder=_keep_raw,
            # FastStream's default policy terminates a message whose handler raised: every
            # message is acked, naked or terminated by the batch handler instead.
            ack_policy=AckPolicy.MANUAL,
        )(self._on_batch)

    async def start(self) -> None:
        await self.broker.connect()
        js = jetstream(self.broker)
        await declare_all(js)
        self._js = js
        connections = ConnectionCache(
            await ConnectionStore.open(js), self._settings.connections_ttl_seconds
        )
        handler = BatchHandler(js, connections, self._tracing, self._settings, self.stats)
        self._pipeline = BatchPipeline(
            handler,
            self.stats,
            pipelined=self._settings.pipeline,
            batches_in_flight=self._settings.batches_in_flight,
        )
        await self.broker.start()
        log.info("mapper consuming %s as %r", ST_EVENTS.name, self._settings.durable)

    async def stop(self) -> None:
        # The batches in flight are published and settled first (a batch in hand then goes
        # through inline); the broker waits (up to FastStream's graceful timeout) for that.
        if self._pipeline is not None:
            await self._pipeline.drain()
        await self.broker.stop()
        if self._pipeline is not None:
            await self._pipeline.drain()

    async def run(self, stop: asyncio.Event) -> None:
        await self.start()
        try:
            await stop.wait()
        finally:
            await self.stop()

    async def _on_batch(self, message: Annotated[NatsBatchMessage, Context("message")]) -> None:
        msgs = message.raw_message
        try:
            assert self._pipeline is not None, "start() builds the pipeline before consuming"
            await self._pipeline.submit(msgs)
        except Exception:
            # Nothing may escape unsettled-and-unlogged: unacked messages come back after
            # ack_wait anyway, but the operator should know why.
            log.exception("mapping a batch of %d events failed", len(msgs))
            await asyncio.gather(
                *(
                    msg.nak(delay=self._settings.retry_delay_seconds)
                    for msg in msgs
                    if not msg._ackd
                ),
                return_exceptions=True,
            )
