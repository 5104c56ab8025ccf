"""Durable consumers "audit" on the four streams: write the rows, then ack.

FastStream batch pull subscribers with manual acknowledgement (FastStream's default would
terminate a message whose handler raised, losing it for audit). A database failure naks the
messages (they come back); a message that cannot be decoded is logged and terminated, since no
redelivery can fix it (it stays in its stream). Each subject is decoded as its own envelope
(decode.py): outcomes and Web Connector session reports share QB_OUTCOMES, events, rejections
and feed reports share ST_EVENTS.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Annotated

from faststream import Context
from faststream.middlewares import AckPolicy
from faststream.nats import JStream, PullSub
from faststream.nats.message import NatsBatchMessage
from nats.aio.msg import Msg
from nats.js import JetStreamContext, api
from opentelemetry.sdk.trace import TracerProvider
from pydantic import ValidationError

from mlconnector.audit.db import AuditDb
from mlconnector.audit.decode import decode
from mlconnector.audit.settings import AuditSettings
from mlconnector.audit.writes import Incoming
from mlconnector.common.broker import jetstream, make_broker
from mlconnector.common.streams import ALL_STREAMS, StreamDef, declare_all

log = logging.getLogger("mlconnector.audit")


class AuditConsumers:
    """Owns its broker: one batch subscriber per stream, all on the durable `settings.durable`."""

    def __init__(
        self,
        db: AuditDb,
        settings: AuditSettings,
        *,
        tracer_provider: TracerProvider | None = None,
    ) -> None:
        self._db = db
        self._settings = settings
        self.broker = make_broker(settings, "audit", tracer_provider=tracer_provider)
        for stream in ALL_STREAMS:
            self._subscribe(stream)

    def _subscribe(self, stream: StreamDef) -> None:
        async def on_batch(message: Annotated[NatsBatchMessage, Context("message")]) -> None:
            await self._settle(stream.name, message.raw_message)

        on_batch.__name__ = f"audit_{stream.name.lower()}"
        self.broker.subscriber(
            stream=JStream(stream.name, declare=False),  # declared by declare_all
            durable=self._settings.durable,
            config=api.ConsumerConfig(
                # Every subject of the stream (ST_EVENTS: events and rejections alike).
                filter_subjects=list(stream.subjects),
                deliver_policy=api.DeliverPolicy.ALL,
                ack_policy=api.AckPolicy.EXPLICIT,
                ack_wait=60,
                max_ack_pending=max(1000, self._settings.batch_size * 4),
            ),
            pull_sub=PullSub(
                batch_size=self._settings.batch_size,
                timeout=self._settings.fetch_timeout_seconds,
                batch=True,
            ),
            # handle_batch acks, naks or terminates every message itself.
            ack_policy=AckPolicy.MANUAL,
        )(on_batch)

    @property
    def js(self) -> JetStreamContext:
        return jetstream(self.broker)

    async def start(self) -> None:
        await self.broker.connect()
        await declare_all(self.js)
        await self.broker.start()
        log.info("audit consuming %s", ", ".join(stream.name for stream in ALL_STREAMS))

    async def stop(self) -> None:
        # Waits (up to FastStream's graceful timeout) for the batches in hand to be settled.
        await self.broker.stop()

    async def _settle(self, stream: str, msgs: list[Msg]) -> None:
        try:
            await self.handle_batch(stream, msgs)
        except Exception:
            log.exception("auditing a batch of %d from %s failed", len(msgs), stream)
            await asyncio.gather(
                *(
                    msg.nak(delay=self._settings.retry_delay_seconds)
                    for msg in msgs
                    if not msg._ackd
                ),
                return_exceptions=True,
            )

    async def handle_batch(self, stream: str, msgs: list[Msg]) -> None:
        decoded: list[tuple[Msg, Incoming]] = []
        for msg in msgs:
            try:
                decoded.append((msg, decode(msg)))
            except (ValidationError, ValueError) as exc:
                log.error("undecodable message on %s (%s): %s", stream, msg.subject, exc)
                await msg.term()
        if not decoded:
            return
        try:
            await self._db.write([item for _, item in decoded])
        except Exception:
            log.warning(
                "batch write to the audit database failed; writing one by one", exc_info=True
            )
            # One bad row (or a transient conflict) must not hold back the whole batch.
            for msg, item in decoded:
                try:
                    await self._db.write([item])
                except Exception:
                    log.exception("audit write failed for %s; it will be redelivered", item.msg_id)
                    await msg.nak(delay=self._settings.retry_delay_seconds)
                else:
                    await msg.ack()
            return
        # An ack is a publish to the delivery's reply subject (no round trip): in turn, with no
        # task per message.
        for msg, _ in decoded:
            await msg.ack()
