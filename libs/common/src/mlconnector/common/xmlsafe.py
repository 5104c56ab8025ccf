"""Parsing untrusted XML: no DTDs, no entities, no network, bounded size."""

from __future__ import annotations

from lxml import etree

MAX_XML_BYTES = 16 * 1024 * 1024


class UnsafeXMLError(ValueError):
    """The document is malformed, too large, or declares a DTD/entities (refused unresolved)."""


def _parser() -> etree.XMLParser:
    return etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        dtd_validation=False,
        huge_tree=False,
        remove_blank_text=False,
    )


def parse_untrusted(data: bytes | str, *, max_bytes: int = MAX_XML_BYTES) -> etree._Element:
    raw = data.encode("utf-8") if isinstance(data, str) else data
    if len(raw) > max_bytes:
        raise UnsafeXMLError(f"XML body of {len(raw)} bytes is larger than {max_bytes}")
    # Refuse before parsing: an internal subset can define entities (billion laughs, XXE)
    # and no SOAP or qbXML message ever needs one.
    if b"<!DOCTYPE" in raw or b"<!ENTITY" in raw:
        raise UnsafeXMLError("XML with a DOCTYPE or entity declaration is not accepted")
    try:
        root = etree.fromstring(raw, _parser())
    except etree.XMLSyntaxError as exc:
        raise UnsafeXMLError(f"malformed XML: {exc}") from exc
    if root is None:
        raise UnsafeXMLError("empty XML document")
    return root
