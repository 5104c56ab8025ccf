"""Items created on demand (item strategy 'gl_account'): one QuickBooks item per GL account.

Each is an ItemServiceAddRq or ItemOtherChargeAddRq (mapping `gl_item_type`) whose sales
account is the mapped QuickBooks account, sent before the transaction that uses it. Its lookup
(ItemQueryRq by FullName) tells the gateway the item already exists, which is the usual case
after the first invoice that used that GL account.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from lxml import etree

from mlconnector.common.connections import Connection
from mlconnector.common.envelopes import Command, StEvent
from mlconnector.common.models import GLAccount
from mlconnector.common.qbxml import sub
from mlconnector.mapper.commands import make_command
from mlconnector.mapper.elements import add_ref
from mlconnector.mapper.text import TextNotes

_REQUEST = {"service": "ItemService", "other_charge": "ItemOtherCharge"}


@dataclass(frozen=True)
class ItemNeed:
    name: str  # QuickBooks item Name (31)
    account: str  # the QuickBooks account it posts to
    gl_account: GLAccount


def gl_description(gl: GLAccount) -> str:
    number = f" ({gl.number})" if gl.number else ""
    return f"ServiceTitan GL account {gl.name}{number}"


def item_add(need: ItemNeed, item_type: str) -> etree._Element:
    obj = _REQUEST[item_type]
    request = etree.Element(f"{obj}AddRq")
    add = sub(request, f"{obj}Add")
    sub(add, "Name", need.name)
    sales = sub(add, "SalesOrPurchase")
    sub(sales, "Desc", TextNotes().text("Desc", gl_description(need.gl_account), 4095))
    add_ref(sales, "AccountRef", full_name=need.account)
    return request


def item_query(name: str) -> etree._Element:
    request = etree.Element("ItemQueryRq")
    sub(request, "FullName", name)
    return request


def item_commands(
    event: StEvent, connection: Connection, needs: Sequence[ItemNeed], used_by: str
) -> list[Command]:
    item_type = connection.mapping.gl_item_type
    return [
        make_command(
            event,
            connection,
            item_add(need, item_type),
            lookup=item_query(need.name),
            summary=f"Item {need.name} for {gl_description(need.gl_account)}, posting to "
            f"{need.account} (needed by {used_by})",
            key=f"item:{need.name}",
        )
        for need in needs
    ]
