"""Building qbXML request messages: version, onError, requestID, ISO-8859-1 safe text."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from lxml import etree

QBXML_VERSION = "13.0"
OnError = Literal["stopOnError", "continueOnError"]


@dataclass(frozen=True)
class Request:
    request_id: str
    element: etree._Element  # e.g. <InvoiceAddRq> (without requestID; it is set here)


def build_message(
    requests: Sequence[Request],
    on_error: OnError = "continueOnError",
    version: str = QBXML_VERSION,
) -> str:
    """A whole qbXML document, with the declaration and processing instruction QB requires."""
    qbxml = etree.Element("QBXML")
    msgs = etree.SubElement(qbxml, "QBXMLMsgsRq", onError=on_error)
    for request in requests:
        if len(request.request_id) > 50:
            raise ValueError("qbXML requestID is limited to 50 characters (status 1060)")
        element = request.element
        element.set("requestID", request.request_id)
        msgs.append(element)
    body = etree.tostring(qbxml, encoding="unicode")
    return f'<?xml version="1.0" encoding="utf-8"?>\n<?qbxml version="{version}"?>\n{body}'


def element_from_string(fragment: str) -> etree._Element:
    """Parse a request fragment we produced ourselves (trusted: made by the mapper)."""
    parser = etree.XMLParser(resolve_entities=False, no_network=True, remove_blank_text=True)
    return etree.fromstring(fragment.encode("utf-8"), parser)


def sub(parent: etree._Element, tag: str, text: str | None = None) -> etree._Element:
    """Append a child; lxml escapes the text, so any string is safe to pass."""
    child = etree.SubElement(parent, tag)
    if text is not None:
        child.text = text
    return child
