"""Writing values into a qbXML *Ret element, formatted as QuickBooks formats them."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from lxml import etree

from mlconnector.qbsim.address import Address
from mlconnector.qbsim.amounts import round_cents
from mlconnector.qbsim.refs import Ref


def sub(parent: etree._Element, tag: str, text: str | None) -> etree._Element | None:
    """A child element with `text`; nothing when `text` is None (the element is optional)."""
    if text is None:
        return None
    child = etree.SubElement(parent, tag)
    child.text = text
    return child


def bool_text(value: bool) -> str:
    return "true" if value else "false"


def amount_text(value: Decimal) -> str:
    return f"{round_cents(value):.2f}"


def price_text(value: Decimal) -> str:
    # PRICETYPE/PERCENTTYPE: up to 5 decimals; QuickBooks shows at least cents for prices.
    value = value.quantize(Decimal("0.00001")).normalize()
    exponent = value.as_tuple().exponent
    if isinstance(exponent, int) and exponent > -2:
        value = value.quantize(Decimal("0.01"))
    return format(value, "f")


def quantity_text(value: Decimal) -> str:
    value = value.quantize(Decimal("0.00001")).normalize()
    return format(value, "f")


def percent_text(value: Decimal) -> str:
    return price_text(value)


def add_ref(parent: etree._Element, tag: str, ref: Ref | None) -> None:
    if ref is None:
        return
    element = etree.SubElement(parent, tag)
    sub(element, "ListID", ref.list_id)
    sub(element, "FullName", ref.full_name)


def add_address(parent: etree._Element, tag: str, address: Address | None) -> None:
    if address is None or address.is_empty():
        return
    element = etree.SubElement(parent, tag)
    for name, attr in Address.FIELDS:
        sub(element, name, getattr(address, attr))


def add_address_block(parent: etree._Element, tag: str, address: Address | None) -> None:
    """The address as QuickBooks prints it: street lines, then "City, State PostalCode"."""
    if address is None or address.is_empty():
        return
    lines = [
        line
        for line in (address.addr1, address.addr2, address.addr3, address.addr4, address.addr5)
        if line
    ]
    city_line = " ".join(
        part
        for part in (
            f"{address.city},"
            if address.city and (address.state or address.postal_code)
            else address.city,
            address.state,
            address.postal_code,
        )
        if part
    )
    if city_line:
        lines.append(city_line)
    if address.country:
        lines.append(address.country)
    element = etree.SubElement(parent, tag)
    for index, line in enumerate(lines[:5], start=1):
        sub(element, f"Addr{index}", line[:41])


def add_core(
    parent: etree._Element,
    list_id: str,
    created: datetime,
    modified: datetime,
    edit_sequence: str,
    id_tag: str = "ListID",
) -> None:
    """The id, TimeCreated, TimeModified and EditSequence every list and txn Ret starts with."""
    sub(parent, id_tag, list_id)
    sub(parent, "TimeCreated", created.isoformat())
    sub(parent, "TimeModified", modified.isoformat())
    sub(parent, "EditSequence", edit_sequence)
