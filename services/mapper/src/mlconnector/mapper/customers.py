"""ServiceTitan customer -> CustomerAddRq (lookup: CustomerQueryRq by FullName)."""

from __future__ import annotations

from lxml import etree

from mlconnector.common.connections import Connection
from mlconnector.common.envelopes import Command, StEvent
from mlconnector.common.models import Party
from mlconnector.common.qbxml import sub
from mlconnector.mapper.commands import make_command
from mlconnector.mapper.elements import add_address, qb_bool
from mlconnector.mapper.errors import MappingError
from mlconnector.mapper.naming import EMAIL_MAX, PHONE_MAX, qb_name, single_line


def customer_name(party: Party) -> str:
    """The QuickBooks Name for this customer; the invoice mapper and the lookup agree on it."""
    return qb_name(party.name, party.st_id)


def customer_add(party: Party) -> etree._Element:
    request = etree.Element("CustomerAddRq")
    add = sub(request, "CustomerAdd")
    sub(add, "Name", customer_name(party))
    sub(add, "IsActive", qb_bool(party.active))
    add_address(add, "BillAddress", party.address, addressee=party.name)
    # CommInfo comes after the addresses in the CustomerAdd sequence.
    phone = single_line(party.phone or "", PHONE_MAX)
    if phone:
        sub(add, "Phone", phone)
    email = single_line(party.email or "", EMAIL_MAX)
    if email:
        sub(add, "Email", email)
    return request


def customer_query(party: Party) -> etree._Element:
    request = etree.Element("CustomerQueryRq")
    sub(request, "FullName", customer_name(party))
    return request


def map_customer(event: StEvent, connection: Connection) -> list[Command]:
    party = event.record
    if not isinstance(party, Party) or party.kind != "customer":
        raise MappingError(
            f"event {event.event_id} is not a customer record (got {type(party).__name__})",
            hint="st-ingest published a record under the wrong entity; report it.",
        )
    name = customer_name(party)
    return [
        make_command(
            event,
            connection,
            customer_add(party),
            lookup=customer_query(party),
            summary=f"Customer {name}",
        )
    ]
