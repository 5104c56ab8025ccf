"""The mapper service: ST_EVENTS -> commands on qb.commands.<connection>.

A plain nats-py pull consumer, so that acknowledgement is explicit: an event is acked only
after every command (or failure outcome) it produced has been confirmed by JetStream, and an
unexpected error naks it for redelivery instead of terminating it (FastStream's default).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable
from dataclasses import dataclass

from nats.aio.msg import Msg
from nats.js import JetStreamContext
from pydantic import ValidationError

from mlconnector.common.connections import Connection, ConnectionStore
from mlconnector.common.consumers import ensure_durable, pull_batches
from mlconnector.common.envelopes import Command, Outcome, StEvent
from mlconnector.common.streams import ST_EVENTS, command_subject, outcome_subject
from mlconnector.mapper.commands import MAP_REQUEST_TYPE, map_event
from mlconnector.mapper.errors import MappingError
from mlconnector.mapper.settings import MapperSettings

log = logging.getLogger("mlconnector.mapper")


@dataclass(frozen=True)
class Publication:
    subject: str
    payload: bytes
    msg_id: str


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
                )
            )
            continue
        out.extend(
            Publication(
                command_subject(connection.name),
                command.model_dump_json().encode(),
                command.command_id,
            )
            for command in commands
        )
    return out


class MapperService:
    def __init__(self, js: JetStreamContext, settings: MapperSettings) -> None:
        self._js = js
        self._settings = settings

    async def ensure_consumer(self) -> None:
        await ensure_durable(
            self._js,
            ST_EVENTS.name,
            self._settings.durable,
            ack_wait=self._settings.ack_wait_seconds,
            max_ack_pending=max(1000, self._settings.batch_size * 4),
            filter_subject=ST_EVENTS.subjects[0],
        )

    async def run(self, stop: asyncio.Event) -> None:
        await self.ensure_consumer()
        store = await ConnectionStore.open(self._js)
        log.info("mapper consuming %s as %r", ST_EVENTS.name, self._settings.durable)
        async for msgs in pull_batches(
            self._js,
            ST_EVENTS.name,
            self._settings.durable,
            batch_size=self._settings.batch_size,
            fetch_timeout=self._settings.fetch_timeout_seconds,
            stop=stop,
        ):
            await self.handle_batch(store, msgs)

    async def handle_batch(self, store: ConnectionStore, msgs: list[Msg]) -> None:
        try:
            # One read of the connections bucket per batch, not per event.
            by_tenant: dict[str, list[Connection]] = {}
            for connection in await store.all():
                by_tenant.setdefault(connection.tenant, []).append(connection)
        except Exception:
            log.exception("cannot read the connections bucket; events will be redelivered")
            await asyncio.gather(
                *(msg.nak(delay=self._settings.retry_delay_seconds) for msg in msgs),
                return_exceptions=True,
            )
            return
        await asyncio.gather(*(self.handle(msg, by_tenant) for msg in msgs))

    async def handle(self, msg: Msg, by_tenant: dict[str, list[Connection]]) -> None:
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
                # Sequential per event: its commands must reach the stream in order.
                await self._js.publish(
                    publication.subject,
                    publication.payload,
                    headers={"Nats-Msg-Id": publication.msg_id},
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
