"""ServiceTitan customer / vendor -> its Add, with the Mod the gateway sends when QuickBooks
already has the record (lookup: a query by name).

The Mod carries `SELF_ID` and `FRESH_EDIT_SEQUENCE` as its ListID and EditSequence: the
gateway substitutes the ListID from the id map and the EditSequence it has just queried in the
same session (DESIGN rule 3). Inactive ServiceTitan records become IsActive false.
"""

from __future__ import annotations

from typing import Literal

from lxml import etree

from mlconnector.common.connections import Connection
from mlconnector.common.envelopes import FRESH_EDIT_SEQUENCE, SELF_ID, Command, StEvent
from mlconnector.common.mapping import MappingSettings
from mlconnector.common.models import Party
from mlconnector.common.qbxml import sub
from mlconnector.mapper.commands import make_command
from mlconnector.mapper.elements import add_address, qb_bool
from mlconnector.mapper.errors import MappingError
from mlconnector.mapper.naming import EMAIL_MAX, PHONE_MAX, qb_name
from mlconnector.mapper.text import TextNotes

PartyKind = Literal["customer", "vendor"]

_TAGS: dict[PartyKind, tuple[str, str]] = {
    # (qbXML object name, its address element)
    "customer": ("Customer", "BillAddress"),
    "vendor": ("Vendor", "VendorAddress"),
}


def party_name(party: Party, mapping: MappingSettings, notes: TextNotes | None = None) -> str:
    """The QuickBooks Name of a customer or vendor; invoices, bills and lookups agree on it."""
    return qb_name(
        party.name, party.st_id, always_suffix=mapping.name_id_suffix == "always", notes=notes
    )


def _fields(
    body: etree._Element, party: Party, name: str, address_tag: str, notes: TextNotes
) -> None:
    """Name, IsActive, the address, Phone, Email: the same order in Add and Mod of both."""
    sub(body, "Name", name)
    sub(body, "IsActive", qb_bool(party.active))
    add_address(body, address_tag, party.address, addressee=party.name, notes=notes)
    # CommInfo comes after the addresses in Customer/Vendor Add and Mod.
    phone = notes.text("Phone", party.phone or "", PHONE_MAX, single_line=True)
    if phone:
        sub(body, "Phone", phone)
    email = notes.text("Email", party.email or "", EMAIL_MAX, single_line=True)
    if email:
        sub(body, "Email", email)


def party_add(party: Party, mapping: MappingSettings, notes: TextNotes) -> etree._Element:
    kind: PartyKind = party.kind
    obj, address_tag = _TAGS[kind]
    request = etree.Element(f"{obj}AddRq")
    add = sub(request, f"{obj}Add")
    _fields(add, party, party_name(party, mapping, notes), address_tag, notes)
    return request


def party_mod(party: Party, mapping: MappingSettings) -> etree._Element:
    kind: PartyKind = party.kind
    obj, address_tag = _TAGS[kind]
    request = etree.Element(f"{obj}ModRq")
    mod = sub(request, f"{obj}Mod")
    sub(mod, "ListID", SELF_ID)
    sub(mod, "EditSequence", FRESH_EDIT_SEQUENCE)
    _fields(mod, party, party_name(party, mapping), address_tag, TextNotes())
    return request


def party_query(party: Party, mapping: MappingSettings) -> etree._Element:
    obj, _ = _TAGS[party.kind]
    request = etree.Element(f"{obj}QueryRq")
    sub(request, "FullName", party_name(party, mapping))
    return request


def party_summary(party: Party, name: str, notes: TextNotes) -> str:
    obj, _ = _TAGS[party.kind]
    state = "" if party.active else " (inactive)"
    return f"{obj} {name}{state}{notes.suffix()}"


def map_party(event: StEvent, connection: Connection) -> list[Command]:
    party = event.record
    if not isinstance(party, Party) or party.kind != event.entity:
        raise MappingError(
            f"event {event.event_id} is not a {event.entity} record "
            f"(got {type(party).__name__} {getattr(party, 'kind', '')})",
            hint="st-ingest published a record under the wrong entity; report it.",
        )
    mapping = connection.mapping
    notes = TextNotes()
    request = party_add(party, mapping, notes)
    name = party_name(party, mapping)
    return [
        make_command(
            event,
            connection,
            request,
            lookup=party_query(party, mapping),
            mod=party_mod(party, mapping),
            summary=party_summary(party, name, notes),
        )
    ]
