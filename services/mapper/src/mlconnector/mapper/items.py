"""Items created on demand (item strategy 'gl_account'): one QuickBooks item per GL account.

Each is an ItemServiceAddRq or ItemOtherChargeAddRq (mapping `gl_item_type`) whose sales
account is the mapped QuickBooks account, sent before the transaction that uses it. Its lookup
(ItemQueryRq by FullName) tells the gateway the item already exists, which is the usual case
after the first invoice that used that GL account.

The items mirror the GL account tree: "Job Materials:Plumbing Parts" is the sub-item
"Plumbing Parts" (Name one level, ParentRef "Job Materials") of the item "Job Materials",
which is created first when needed. A parent item only groups its sub-items; it posts to the
account of the first sub-item that needed it.
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
    full_name: str  # QuickBooks item FullName ("Parent:Child"; each level at most 31)
    account: str  # the QuickBooks account it posts to
    gl_account: GLAccount

    @property
    def name(self) -> str:
        """The item's own Name: the last level of its FullName."""
        return self.full_name.rsplit(":", 1)[-1]

    @property
    def parent(self) -> str | None:
        return self.full_name.rsplit(":", 1)[0] if ":" in self.full_name else None


def gl_description(gl: GLAccount) -> str:
    number = f" ({gl.number})" if gl.number else ""
    return f"ServiceTitan GL account {gl.name}{number}"


def item_add(need: ItemNeed, item_type: str) -> etree._Element:
    obj = _REQUEST[item_type]
    request = etree.Element(f"{obj}AddRq")
    add = sub(request, f"{obj}Add")
    sub(add, "Name", need.name)
    if need.parent is not None:
        add_ref(add, "ParentRef", full_name=need.parent)
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
            lookup=item_query(need.full_name),
            summary=f"Item {need.full_name} for {gl_description(need.gl_account)}, posting to "
            f"{need.account} (needed by {used_by})",
            key=f"item:{need.full_name}",
        )
        for need in needs
    ]
