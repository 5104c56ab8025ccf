"""Reading a qbXML request document: its encoding, the qbxml version, the schema.

Anything wrong here makes QuickBooks refuse the whole message (`QbxmlParseError`), except a
string longer than its field allows, which fails only its own request (3070).
"""

from __future__ import annotations

import re

from lxml import etree

from mlconnector.common.qbxml.schema import load_schema
from mlconnector.common.xmlsafe import UnsafeXMLError, parse_untrusted
from mlconnector.qbsim.errors import QbError, QbxmlParseError
from mlconnector.qbsim.host import PRODUCT_NAME
from mlconnector.qbsim.statuses import string_too_long

SUPPORTED_VERSION = (13, 0)


def read_message(request_xml: str | bytes) -> tuple[etree._Element, etree._Element]:
    """The <QBXML> root and its <QBXMLMsgsRq>, in a version this QuickBooks supports."""
    try:
        root = parse_untrusted(_encode(request_xml))
    except UnsafeXMLError as exc:
        raise QbxmlParseError(str(exc)) from exc
    version = _qbxml_version(root)
    if version > SUPPORTED_VERSION:
        raise QbxmlParseError(
            f"qbXML {version[0]}.{version[1]} is not supported by {PRODUCT_NAME} (newest: 13.0)"
        )
    msgs = root.find("QBXMLMsgsRq")
    if root.tag != "QBXML" or msgs is None:
        raise QbxmlParseError("expected <QBXML><QBXMLMsgsRq>")
    return root, msgs


def _encode(request_xml: str | bytes) -> bytes:
    """Bytes in the encoding the XML declaration names (ISO-8859-1 requests exist)."""
    if isinstance(request_xml, bytes):
        return request_xml
    match = re.match(r"""\s*<\?xml[^>]*encoding\s*=\s*["']([A-Za-z0-9._-]+)["']""", request_xml)
    encoding = match.group(1) if match else "utf-8"
    try:
        return request_xml.encode(encoding)
    except (LookupError, UnicodeEncodeError) as exc:
        raise QbxmlParseError(f"text cannot be encoded as {encoding}: {exc}") from exc


def _qbxml_version(root: etree._Element) -> tuple[int, int]:
    for node in root.itersiblings(preceding=True):
        if isinstance(node, etree._ProcessingInstruction) and node.target == "qbxml":
            raw = node.get("version") or ""
            match = re.fullmatch(r"(\d+)\.(\d+)", raw.strip())
            if match is None:
                raise QbxmlParseError(f"qbxml version {raw!r} is not a version")
            return int(match.group(1)), int(match.group(2))
    raise QbxmlParseError('the <?qbxml version="..."?> processing instruction is missing')


def too_long_requests(document: etree._Element, msgs: etree._Element) -> dict[int, QbError]:
    """Validate; a string over its maxLength fails only its own request (3070).

    Returns the failed requests by their position in <QBXMLMsgsRq>.
    """
    schema = load_schema()
    if schema.validate(document):
        return {}
    failed: dict[int, QbError] = {}
    tree = document.getroottree()
    requests = list(msgs)
    for error in schema.error_log:
        if error.type_name != "SCHEMAV_CVC_MAXLENGTH_VALID" or not error.path:
            raise QbxmlParseError(f"line {error.line}: {error.message}")
        nodes = tree.xpath(error.path)
        node = nodes[0] if isinstance(nodes, list) and nodes else None
        if not isinstance(node, etree._Element):
            raise QbxmlParseError(f"line {error.line}: {error.message}")
        request: etree._Element = node
        parent = request.getparent()
        while parent is not None and parent is not msgs:
            request, parent = parent, parent.getparent()
        if request not in requests:
            raise QbxmlParseError(f"line {error.line}: {error.message}")
        failed.setdefault(requests.index(request), string_too_long(node.text or "", node.tag))
    return failed
