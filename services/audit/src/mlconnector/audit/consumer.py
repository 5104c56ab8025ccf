"""Durable pull consumers "audit" on the four streams: write the rows, then ack.

A database failure naks the messages (they come back); a message that cannot be decoded is
logged and terminated, since no redelivery can fix it (it stays in its stream).
"""

from __future__ import annotations

import asyncio
import logging

from nats.aio.msg import Msg
from nats.js import JetStreamContext
from pydantic import ValidationError

from mlconnector.audit.db import AuditDb, Incoming
from mlconnector.audit.settings import AuditSettings
from mlconnector.common.consumers import ensure_durable, pull_batches
from mlconnector.common.envelopes import Command, Outcome, QbChange, StEvent
from mlconnector.common.streams import ALL_STREAMS, StreamDef

log = logging.getLogger("mlconnector.audit")


def decode(stream: str, msg: Msg) -> Incoming:
    headers = msg.headers or {}
    try:
        seq: int | None = int(msg.metadata.sequence.stream)
    except Exception:
        seq = None
    if stream == "ST_EVENTS":
        event = StEvent.model_validate_json(msg.data)
        return Incoming(headers.get("Nats-Msg-Id") or event.event_id, seq, event=event)
    if stream == "QB_COMMANDS":
        command = Command.model_validate_json(msg.data)
        return Incoming(command.command_id, seq, command=command)
    if stream == "QB_OUTCOMES":
        outcome = Outcome.model_validate_json(msg.data)
        return Incoming(outcome.outcome_id, seq, outcome=outcome)
    change = QbChange.model_validate_json(msg.data)
    return Incoming(change.change_id, seq, change=change)


class AuditConsumers:
    def __init__(self, js: JetStreamContext, db: AuditDb, settings: AuditSettings) -> None:
        self._js = js
        self._db = db
        self._settings = settings

    async def ensure_consumer(self, stream: StreamDef) -> None:
        await ensure_durable(
            self._js,
            stream.name,
            self._settings.durable,
            ack_wait=60,
            max_ack_pending=max(1000, self._settings.batch_size * 4),
        )

    async def run(self, stop: asyncio.Event) -> None:
        await asyncio.gather(*(self.run_stream(stream, stop) for stream in ALL_STREAMS))

    async def run_stream(self, stream: StreamDef, stop: asyncio.Event) -> None:
        await self.ensure_consumer(stream)
        log.info("audit consuming %s", stream.name)
        async for msgs in pull_batches(
            self._js,
            stream.name,
            self._settings.durable,
            batch_size=self._settings.batch_size,
            fetch_timeout=self._settings.fetch_timeout_seconds,
            stop=stop,
        ):
            await self.handle_batch(stream.name, msgs)

    async def handle_batch(self, stream: str, msgs: list[Msg]) -> None:
        decoded: list[tuple[Msg, Incoming]] = []
        for msg in msgs:
            try:
                decoded.append((msg, decode(stream, msg)))
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
        await asyncio.gather(*(msg.ack() for msg, _ in decoded))
