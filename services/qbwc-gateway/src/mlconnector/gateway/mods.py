"""Mods with a fresh EditSequence (DESIGN rule 3), and what changed in a posted record.

A Mod names its object by ListID/TxnID (`SELF_ID` in `Command.mod_qbxml`) and carries the
EditSequence QuickBooks last gave it (`FRESH_EDIT_SEQUENCE`). The gateway reads that
EditSequence with a query in the same session, one query request per object type for all
the Mods of a round: `CustomerModRq` -> `CustomerQueryRq` with a `ListID` per customer,
`InvoiceModRq` -> `InvoiceQueryRq` with a `TxnID` per invoice.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from lxml import etree

from mlconnector.common.envelopes import FRESH_EDIT_SEQUENCE, LINE_ID_PREFIX, SELF_ID
from mlconnector.common.qbxml import ResponseStatus, element_from_string, sub

# A Mod QuickBooks refuses as out of date (3200) is re-queried and sent again at most this
# many times in one session; then it goes to the next session.
MAX_STALE_MODS = 3

TXN_ENTITIES = frozenset({"invoice", "payment", "bill"})
# qbXML: a line with TxnLineID -1 is added by a Mod.
NEW_LINE = "-1"


class ModShapeError(ValueError):
    """A `mod_qbxml` the gateway cannot send: not a *ModRq, or without its placeholders."""


@dataclass(frozen=True)
class EditQuery:
    """How to read a Mod's object: e.g. CustomerQueryRq by ListID."""

    request_type: str  # "CustomerQueryRq"
    id_tag: str  # "ListID" or "TxnID"


def edit_query(mod_qbxml: str) -> EditQuery:
    root = element_from_string(mod_qbxml)
    if not root.tag.endswith("ModRq"):
        raise ModShapeError(f"<{root.tag}> is not a Mod request")
    id_tags = {node.tag for node in root.iter() if node.text == SELF_ID}
    if len(id_tags) != 1 or not id_tags <= {"ListID", "TxnID"}:
        raise ModShapeError(f"<{root.tag}> must hold {SELF_ID} in exactly one ListID or TxnID")
    if not any(node.text == FRESH_EDIT_SEQUENCE for node in root.iter("EditSequence")):
        raise ModShapeError(f"<{root.tag}> must hold {FRESH_EDIT_SEQUENCE} in its EditSequence")
    return EditQuery(root.tag.removesuffix("ModRq") + "QueryRq", id_tags.pop())


def query_element(query: EditQuery, qb_ids: Iterable[str]) -> etree._Element:
    """One query for several objects, answering only what a Mod needs."""
    element = etree.Element(query.request_type)
    for qb_id in dict.fromkeys(qb_ids):  # each object once, in order
        sub(element, query.id_tag, qb_id)
    sub(element, "IncludeRetElement", query.id_tag)
    sub(element, "IncludeRetElement", "EditSequence")
    return element


def fill_mod(
    element: etree._Element,
    qb_id: str,
    edit_sequence: str,
    line_ids: dict[str, str] | None = None,
) -> etree._Element:
    """The Mod with its object's id, the EditSequence just queried, and each line's
    TxnLineID (`@line:<key>` -> the id QuickBooks gave that line, or -1 for a new line;
    lines the Mod leaves out are removed by QuickBooks)."""
    known = line_ids or {}
    for node in element.iter():
        text = node.text or ""
        if text == SELF_ID:
            node.text = qb_id
        elif text == FRESH_EDIT_SEQUENCE:
            node.text = edit_sequence
        elif text.startswith(LINE_ID_PREFIX):
            node.text = known.get(text.removeprefix(LINE_ID_PREFIX), NEW_LINE)
    return element


def mod_line_keys(mod_qbxml: str) -> list[str]:
    """The line keys of a Mod's lines, in order (for the TxnLineIDs its answer returns)."""
    root = element_from_string(mod_qbxml)
    return [
        (node.text or "").removeprefix(LINE_ID_PREFIX)
        for node in root.iter("TxnLineID")
        if (node.text or "").startswith(LINE_ID_PREFIX)
    ]


def line_ids_of(ret: etree._Element | None, keys: Iterable[str]) -> dict[str, str]:
    """key -> TxnLineID, pairing a transaction's returned lines (in order) with the keys of
    the lines that were sent (in the same order)."""
    if ret is None:
        return {}
    ids = [
        line.findtext("TxnLineID") or ""
        for line in ret
        if isinstance(line.tag, str) and line.tag.endswith("LineRet")
    ]
    return {key: line_id for key, line_id in zip(keys, ids, strict=False) if key and line_id}


# The object a request posts, for TxnVoidType/TxnDelType and to tell whether a Mod fits.
_OBJECT_OF = {
    "InvoiceAddRq": "Invoice",
    "CreditMemoAddRq": "CreditMemo",
    "BillAddRq": "Bill",
    "ReceivePaymentAddRq": "ReceivePayment",
    "CustomerAddRq": "Customer",
    "VendorAddRq": "Vendor",
}


def object_of(request_type: str | None) -> str | None:
    """'InvoiceAddRq' -> 'Invoice' (None when unknown)."""
    return _OBJECT_OF.get(request_type or "")


def fill_void(element: etree._Element, qb_id: str, posted_as: str | None) -> etree._Element:
    """The void/delete with the transaction's TxnID and, when known, the type it was posted
    as (a ServiceTitan invoice posts as an Invoice or, when negative, a CreditMemo)."""
    kind = object_of(posted_as)
    for node in element.iter():
        if node.text == SELF_ID:
            node.text = qb_id
        elif kind and node.tag in ("TxnVoidType", "TxnDelType"):
            node.text = kind
    return element


def ret_for(status: ResponseStatus, id_tag: str, qb_id: str) -> etree._Element | None:
    """The object `qb_id` among a query response's *Ret elements."""
    for child in status.element:
        is_ret = isinstance(child.tag, str) and child.tag.endswith("Ret")
        if is_ret and child.findtext(id_tag) == qb_id:
            return child
    return None


# --- a posted record that changed in ServiceTitan ----------------------------------------


Difference = dict[str, tuple[str | None, str | None]]


def difference(posted: dict[str, str], new: dict[str, str]) -> Difference:
    """label -> (posted value, new value) for every label whose value differs, in the new
    version's order, then the labels only the posted version had."""
    labels = list(new) + [label for label in posted if label not in new]
    return {
        label: (posted.get(label), new.get(label))
        for label in labels
        if posted.get(label) != new.get(label)
    }


def describe(diff: Difference) -> str:
    """'total 408.05 -> 420.10; line 2 PVC-075: 4 x 36.50 = 146.00 -> 5 x 36.50 = 182.50'"""
    return "; ".join(_describe_one(label, old, new) for label, (old, new) in diff.items())


def _describe_one(label: str, old: str | None, new: str | None) -> str:
    if old is None:
        return f"{label} added: {new}"
    if new is None:
        return f"{label} removed: {old}"
    head_old, sep_old, rest_old = old.partition(": ")
    head_new, sep_new, rest_new = new.partition(": ")
    if sep_old and sep_new and head_old == head_new:
        # Same item on the line: name it once, then what changed about it.
        return f"{label} {head_old}: {rest_old} -> {rest_new}"
    return f"{label} {old} -> {new}"


def id_label(entity: str) -> str:
    return "TxnID" if entity in TXN_ENTITIES else "ListID"
