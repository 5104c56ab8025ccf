"""A command's request with its late references filled in from the id map.

The mapper writes a placeholder where a request names another record by its QuickBooks id
(a customer on an invoice); the gateway fills it once that record has been posted.
"""

from __future__ import annotations

from lxml import etree

from mlconnector.common.envelopes import Command
from mlconnector.common.idmap import IdMap, IdMapping
from mlconnector.common.qbxml import element_from_string


def xml_text(element: etree._Element) -> str:
    return str(etree.tostring(element, encoding="unicode"))


async def resolve_refs(
    id_map: IdMap, connection: str, command: Command, qbxml: str | None = None
) -> tuple[etree._Element, list[str]]:
    """The request (`qbxml`, by default the command's Add) with every reference the id map
    knows filled in, and the keys ("<entity>:<st id>") of those it does not know yet.

    ListIDs and TxnIDs alike: a payment's AppliedToTxnAdd/TxnID names an invoice the same
    way an invoice's CustomerRef/ListID names a customer.
    """
    element = element_from_string(qbxml if qbxml is not None else command.qbxml)
    missing: list[str] = []
    for ref in command.refs:
        mapping = await id_map.get(connection, ref.entity, ref.st_id)
        if mapping is None:
            missing.append(f"{ref.entity}:{ref.st_id}")
            continue
        for node in element.iter():
            if node.text == ref.placeholder:
                node.text = mapping.qb_id
    return element, missing


def fill_refs(
    qbxml: str, command: Command, known: dict[str, IdMapping]
) -> tuple[etree._Element, list[str]]:
    """`qbxml` with every reference of `command` that `known` (record key -> id map entry)
    holds filled in, and the record keys of those it does not hold."""
    element = element_from_string(qbxml)
    missing: list[str] = []
    for ref in command.refs:
        mapping = known.get(ref.record)
        if mapping is None or not mapping.qb_id:
            missing.append(ref.record)
            continue
        for node in element.iter():
            if node.text == ref.placeholder:
                node.text = mapping.qb_id
    return element, missing
