"""Turning a request element into a Command, and routing events to their entity mapper."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from lxml import etree

from mlconnector.common.connections import Connection
from mlconnector.common.envelopes import Command, LateRef, StEvent
from mlconnector.mapper.elements import render
from mlconnector.mapper.errors import UnsupportedEntityError

EntityMapper = Callable[[StEvent, Connection], list[Command]]

# The command id of the failed outcome a mapping error produces: stable per event, so a
# replayed bad event overwrites its audit row instead of adding one.
MAP_REQUEST_TYPE = "map"


def make_command(
    event: StEvent,
    connection: Connection,
    request: etree._Element,
    *,
    lookup: etree._Element | None = None,
    refs: Sequence[LateRef] = (),
    summary: str = "",
) -> Command:
    """`request_type` is the request element's tag (e.g. "InvoiceAddRq")."""
    request_type = str(request.tag)
    return Command(
        command_id=Command.make_id(connection.name, event.event_id, request_type),
        connection=connection.name,
        tenant=event.tenant,
        entity=event.entity,
        st_id=event.st_id,
        event_id=event.event_id,
        request_type=request_type,
        qbxml=render(request),
        lookup_qbxml=render(lookup) if lookup is not None else None,
        refs=tuple(refs),
        summary=summary,
    )


def _registry() -> dict[str, EntityMapper]:
    # Imported here so entity modules can import make_command without a cycle.
    from mlconnector.mapper.customers import map_customer
    from mlconnector.mapper.invoices import map_invoice

    return {"customer": map_customer, "invoice": map_invoice}


def map_event(event: StEvent, connection: Connection) -> list[Command]:
    """All commands for one event, in the order the gateway must send them."""
    mapper = _registry().get(event.entity)
    if mapper is None:
        raise UnsupportedEntityError(
            f"{event.entity} {event.st_id} ({event.event_id}): this mapper version does not "
            f"translate {event.entity} records yet",
            hint="The event is kept in ST_EVENTS; replay it after upgrading the mapper.",
        )
    return mapper(event, connection)
