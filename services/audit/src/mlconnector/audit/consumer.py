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
from collections.abc import Awaitable
from typing import Annotated, Any

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

# Decoded batches waiting for (or in) a database transaction, over all streams.
MAX_IN_FLIGHT = 8


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
        self._in_flight: set[asyncio.Task[None]] = set()
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
                ack_wait=self._settings.ack_wait_seconds,
                max_ack_pending=max(1000, self._settings.batch_size * 4),
            ),
            pull_sub=PullSub(
                batch_size=self._settings.batch_size,
                timeout=self._settings.fetch_timeout_seconds,
                batch=True,
            ),
            # handle_batch acks, naks or terminates every message itself.
            ack_policy=AckPolicy.MANUAL,
            # The handler reads the raw messages (decode.py); FastStream's own decoding of
            # every body (json.loads, a message object each) would only be thrown away.
            decoder=_raw_bodies,
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
        # Stop pulling, let the writer finish and settle what it holds, then disconnect.
        for subscriber in self.broker.subscribers:
            await subscriber.stop()
        await self.drain()
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
        """Decode the batch and hand it to the writer; it is acked (or nak'd) once its
        transaction committed (or failed), while this subscriber already pulls the next one.
        At most MAX_IN_FLIGHT batches wait for the database."""
        decoded: list[tuple[Msg, Incoming]] = []
        for msg in msgs:
            try:
                decoded.append((msg, decode(msg)))
            except (ValidationError, ValueError) as exc:
                log.error("undecodable message on %s (%s): %s", stream, msg.subject, exc)
                await msg.term()
        if not decoded:
            return
        while len(self._in_flight) >= MAX_IN_FLIGHT:
            await asyncio.wait(self._in_flight, return_when=asyncio.FIRST_COMPLETED)
        task = asyncio.create_task(self.write_and_settle(decoded))
        self._in_flight.add(task)
        task.add_done_callback(self._in_flight.discard)

    async def write_and_settle(self, decoded: list[tuple[Msg, Incoming]]) -> None:
        """Write, then ack every message; on failure, write one by one and nak only what
        still fails (it is redelivered after retry_delay_seconds)."""
        try:
            await self._db.write_grouped([item for _, item in decoded])
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
                    await _quietly(msg.nak(delay=self._settings.retry_delay_seconds))
                else:
                    await _quietly(msg.ack())
            return
        # An ack is a publish to the delivery's reply subject (no round trip): in turn, with no
        # task per message. One that cannot be sent (connection closing) is redelivered.
        try:
            for msg, _ in decoded:
                await msg.ack()
        except Exception:
            log.warning("could not ack a batch; JetStream redelivers it", exc_info=True)

    async def drain(self) -> None:
        """Wait until every batch handed to the writer is written and settled."""
        while self._in_flight:
            await asyncio.wait(set(self._in_flight))


async def _raw_bodies(message: Any) -> None:
    """A FastStream decoder that decodes nothing (see AuditConsumers._subscribe)."""
    return None


async def _quietly(settle: Awaitable[None]) -> None:
    """An ack or nak that cannot be sent (connection closing) is redelivered anyway."""
    try:
        await settle
    except Exception:
        log.warning("could not settle a message; JetStream redelivers it", exc_info=True)
