"""Small qbXML building blocks shared by the entity mappers (order follows the 13.0 XSD)."""

from __future__ import annotations

import datetime as dt

from lxml import etree

from mlconnector.common.models import Address
from mlconnector.common.qbxml import sub
from mlconnector.mapper.naming import (
    ADDR_MAX,
    CITY_MAX,
    COUNTRY_MAX,
    POSTAL_CODE_MAX,
    STATE_MAX,
)
from mlconnector.mapper.text import TextNotes


def add_ref(
    parent: etree._Element, tag: str, *, list_id: str | None = None, full_name: str | None = None
) -> etree._Element:
    """A *Ref element: ListID before FullName, as every ListRef group in the schema orders them."""
    ref = sub(parent, tag)
    if list_id is not None:
        sub(ref, "ListID", list_id)
    if full_name is not None:
        sub(ref, "FullName", full_name)
    return ref


def add_address(
    parent: etree._Element,
    tag: str,
    address: Address | None,
    addressee: str | None = None,
    notes: TextNotes | None = None,
) -> etree._Element | None:
    """An AddressData element (BillAddress, ShipAddress...), or nothing when there is no data.

    QuickBooks prints Addr1 as the first line of the address block, so the addressee goes
    there, as QuickBooks itself fills it in.
    """
    n = notes if notes is not None else TextNotes()

    def clean(field: str, value: str, limit: int) -> str:
        return n.text(f"{tag} {field}", value, limit, single_line=True)

    lines = [clean("addressee", addressee or "", ADDR_MAX)]
    if address is not None:
        lines += [clean("street", address.street, ADDR_MAX), clean("unit", address.unit, ADDR_MAX)]
    lines = [text for text in lines if text]
    fields: list[tuple[str, str]] = []
    if address is not None:
        fields = [
            ("City", clean("City", address.city, CITY_MAX)),
            ("State", clean("State", address.state, STATE_MAX)),
            ("PostalCode", clean("PostalCode", address.zip, POSTAL_CODE_MAX)),
            ("Country", clean("Country", address.country, COUNTRY_MAX)),
        ]
    if address is None or not (any(v for _, v in fields) or len(lines) > 1):
        return None
    element = sub(parent, tag)
    for index, line in enumerate(lines[:5], start=1):
        sub(element, f"Addr{index}", line)
    for name, value in fields:
        if value:
            sub(element, name, value)
    return element


def qb_bool(value: bool) -> str:
    return "true" if value else "false"


def qb_date(value: dt.date) -> str:
    return value.isoformat()


def render(element: etree._Element) -> str:
    text: str = etree.tostring(element, encoding="unicode")
    return text
