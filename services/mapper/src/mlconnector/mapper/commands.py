"""Turning a request element into a Command, and routing events to their entity mapper."""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping, Sequence

from lxml import etree

from mlconnector.common.connections import Connection
from mlconnector.common.envelopes import Command, CommandAction, LateRef, StEvent
from mlconnector.common.models import EntityName
from mlconnector.mapper.elements import render
from mlconnector.mapper.errors import UnsupportedEntityError

EntityMapper = Callable[[StEvent, Connection], list[Command]]

# The command id of the failed outcome a mapping error produces: stable per event, so a
# replayed bad event overwrites its audit row instead of adding one.
MAP_REQUEST_TYPE = "map"

# Dependencies before dependants: a payment applies to invoices, invoices and bills name a
# customer or vendor. The runtime sorts a batch of commands by this rank (stable sort, so
# commands of one event keep their send order).
_DEPENDENCY_RANK: dict[str, int] = {
    "customer": 0,
    "vendor": 0,
    "invoice": 1,
    "bill": 1,
    "payment": 2,
}


def dependency_rank(entity: EntityName | str) -> int:
    """0 for customers/vendors, 1 for invoices/bills, 2 for payments (unknown: last)."""
    return _DEPENDENCY_RANK.get(entity, len(_DEPENDENCY_RANK))


def command_id_for(connection: Connection, event: StEvent, request_type: str, key: str = "") -> str:
    """The id `make_command` gives; `key` tells apart several requests of one type per event.

    Deterministic per event message: the same version mapped again (redelivery, replay) gets
    the same id; an operator's retry (a higher `StEvent.generation`) gets a new one.
    """
    return Command.make_id(
        connection.name, event.message_id, f"{request_type}:{key}" if key else request_type
    )


def make_command(
    event: StEvent,
    connection: Connection,
    request: etree._Element,
    *,
    lookup: etree._Element | None = None,
    refs: Sequence[LateRef] = (),
    summary: str = "",
    mod: etree._Element | str | None = None,
    fingerprint: Mapping[str, str] | None = None,
    key: str = "",
    requires: Sequence[Command] = (),
    expected: Mapping[str, str] | None = None,
    line_keys: Sequence[str] = (),
    action: CommandAction = "post",
) -> Command:
    """`request_type` is the request element's tag (e.g. "InvoiceAddRq").

    `requires`: the commands of the same event that must be done first (they come before it
    in the event's list); `expected`: what QuickBooks must compute, decimal dollars by name;
    `line_keys`: the ServiceTitan key of each line element of the request, in order;
    `mod`: the Mod request, as an element or as qbXML text already rendered.
    """
    request_type = str(request.tag)
    return Command(
        command_id=command_id_for(connection, event, request_type, key),
        connection=connection.name,
        tenant=event.tenant,
        entity=event.entity,
        st_id=event.st_id,
        event_id=event.event_id,
        version_at=event.version_at,
        generation=event.generation,
        request_type=request_type,
        qbxml=render(request),
        lookup_qbxml=render(lookup) if lookup is not None else None,
        refs=tuple(refs),
        summary=summary,
        mod_qbxml=mod if isinstance(mod, str) or mod is None else render(mod),
        fingerprint=dict(fingerprint or {}),
        requires=tuple(command.command_id for command in requires),
        expected=dict(expected or {}),
        line_keys=tuple(line_keys),
        action=action,
    )


def flag_command(
    event: StEvent,
    connection: Connection,
    request_type: str,
    *,
    summary: str,
    lookup: etree._Element | None = None,
    refs: Sequence[LateRef] = (),
) -> Command:
    """A void the mapping leaves to the accountant: `qbxml` is "" (nothing is sent; the
    gateway reports the record for the accountant if QuickBooks has it)."""
    return Command(
        command_id=command_id_for(connection, event, request_type),
        connection=connection.name,
        tenant=event.tenant,
        entity=event.entity,
        st_id=event.st_id,
        event_id=event.event_id,
        version_at=event.version_at,
        generation=event.generation,
        request_type=request_type,
        qbxml="",
        lookup_qbxml=render(lookup) if lookup is not None else None,
        refs=tuple(refs),
        summary=summary,
        action="void",
    )


@functools.cache
def _registry() -> dict[str, EntityMapper]:
    # Imported here so entity modules can import make_command without a cycle; built once.
    from mlconnector.mapper.bills import map_bill
    from mlconnector.mapper.invoices import map_invoice
    from mlconnector.mapper.parties import map_party
    from mlconnector.mapper.payments import map_payment

    return {
        "customer": map_party,
        "vendor": map_party,
        "invoice": map_invoice,
        "payment": map_payment,
        "bill": map_bill,
    }


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
