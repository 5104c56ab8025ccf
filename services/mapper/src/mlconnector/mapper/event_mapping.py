"""Raw ST_EVENTS messages -> the messages each event must publish (no I/O but the connections).

An event is decoded and mapped for every connection of its tenant, in-process. A
`MappingError` becomes a failed outcome to publish (the operator sees why in audit); a message
that is not an event, an event whose tenant has no connection yet and an unexpected exception
are reported as such, for the batch to terminate or redeliver that one message.
"""

from __future__ import annotations

import logging
import traceback
from dataclasses import dataclass
from typing import Literal

from pydantic import ValidationError

from mlconnector.common.connections import Connection
from mlconnector.common.envelopes import Command, Outcome, StEvent
from mlconnector.common.streams import QB_COMMANDS, QB_OUTCOMES, command_subject, outcome_subject
from mlconnector.mapper.commands import MAP_REQUEST_TYPE, map_event
from mlconnector.mapper.connection_cache import ConnectionCache
from mlconnector.mapper.errors import MappingError
from mlconnector.mapper.publishing import Publication

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class MappedEvent:
    """What mapping one message produced.

    status: "mapped" (its publications: commands, and failed outcomes for mapping errors),
    "malformed" (not an event), "no-connection" (its tenant has none yet) or "error" (an
    unexpected exception). `problem` says why it is malformed, or holds the traceback.
    """

    status: Literal["mapped", "malformed", "no-connection", "error"]
    event_id: str = ""
    tenant: str = ""
    entity: str = ""
    publications: tuple[Publication, ...] = ()
    problem: str = ""


async def map_batch(datas: list[bytes], connections: ConnectionCache) -> list[MappedEvent]:
    """Map a batch, in order; an event whose tenant the cache does not know is mapped again
    after a fresh read of the bucket (an operator may just have added its connection)."""
    by_tenant = await connections.by_tenant()
    mapped = [map_message(data, by_tenant) for data in datas]
    missing = [i for i, result in enumerate(mapped) if result.status == "no-connection"]
    if missing:
        try:
            fresh = await connections.by_tenant(max_age=0)
        except Exception:
            log.exception("cannot read the connections bucket")
            return mapped
        for i in missing:
            if mapped[i].tenant in fresh:
                mapped[i] = map_message(datas[i], fresh)
    return mapped


def map_message(data: bytes, by_tenant: dict[str, list[Connection]]) -> MappedEvent:
    try:
        event = StEvent.model_validate_json(data)
    except ValidationError as exc:
        return MappedEvent("malformed", problem=str(exc))
    connections = by_tenant.get(event.tenant)
    if not connections:
        return MappedEvent("no-connection", event.event_id, event.tenant, event.entity)
    try:
        publications = [p for connection in connections for p in _publications(event, connection)]
    except Exception:
        # A bug for one record (not a MappingError) must not hold back the rest of the batch.
        problem = traceback.format_exc()
        return MappedEvent("error", event.event_id, event.tenant, event.entity, problem=problem)
    return MappedEvent("mapped", event.event_id, event.tenant, event.entity, tuple(publications))


def _publications(event: StEvent, connection: Connection) -> list[Publication]:
    try:
        commands = map_event(event, connection)
    except MappingError as error:
        log.warning("mapping %s for %s failed: %s", event.event_id, connection.name, error)
        outcome = failure_outcome(event, connection, error)
        return [
            Publication(
                outcome_subject(connection.name),
                outcome.model_dump_json().encode(),
                outcome.outcome_id,
                QB_OUTCOMES.name,
            )
        ]
    return [
        Publication(
            command_subject(command.connection),
            command.model_dump_json().encode(),
            command.command_id,
            QB_COMMANDS.name,
        )
        for command in commands
    ]


def failure_outcome(event: StEvent, connection: Connection, error: MappingError) -> Outcome:
    """The failed outcome that tells the operator why an event cannot become commands."""
    return Outcome(
        command_id=Command.make_id(connection.name, event.message_id, MAP_REQUEST_TYPE),
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
