"""Parsing untrusted XML: no DTDs, no entities, no network, bounded size, in any encoding.

A DOCTYPE is refused before the parser sees the document. The check reads the document as
text in the encoding the parser itself would use (XML 1.0, Appendix F "Autodetection of
Character Encodings": a byte order mark, else the first four bytes, else the encoding
declaration), so "<!DOCTYPE" written in UTF-16 or UTF-32 is found as surely as in UTF-8; a
plain byte search missed it (issue 14). After parsing, the document's own DOCTYPE information
is checked too, in case an encoding slipped past the detection.
"""

from __future__ import annotations

import codecs
import re

from lxml import etree

MAX_XML_BYTES = 16 * 1024 * 1024

# XML 1.0 Appendix F: byte order marks (UTF-32 before UTF-16: FF FE 00 00 starts with FF FE).
_BOMS: tuple[tuple[bytes, str], ...] = (
    (codecs.BOM_UTF32_LE, "utf-32-le"),
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)
# ... and without one, "<?" or "<" in the first four bytes.
_FIRST_BYTES: tuple[tuple[bytes, str], ...] = (
    (b"\x00\x00\x00\x3c", "utf-32-be"),
    (b"\x3c\x00\x00\x00", "utf-32-le"),
    (b"\x00\x3c\x00\x3f", "utf-16-be"),
    (b"\x3c\x00\x3f\x00", "utf-16-le"),
    (b"\x4c\x6f\xa7\x94", "cp037"),  # EBCDIC "<?xm"
)
_DECLARED = re.compile(r"""^\s*<\?xml[^>]*?encoding\s*=\s*["']([A-Za-z][A-Za-z0-9._-]*)["']""")
_REFUSED = re.compile(r"<!\s*(DOCTYPE|ENTITY)", re.IGNORECASE)


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


def _family(raw: bytes) -> tuple[str, int]:
    """The encoding family the first bytes show, and the BOM's length."""
    for bom, name in _BOMS:
        if raw.startswith(bom):
            return name, len(bom)
    for first, name in _FIRST_BYTES:
        if raw.startswith(first):
            return name, 0
    return "utf-8", 0  # ASCII-compatible: the declaration (if any) names the encoding


def as_text(raw: bytes) -> str:
    """The document decoded as an XML parser would decode it. Raises UnsafeXMLError when
    the bytes do not decode in the encoding they announce (or it is unknown)."""
    family, bom = _family(raw)
    encoding = family
    try:
        # The declaration is ASCII text in the family's code units; read it in that family.
        head = raw[bom : bom + 1024].decode(family, errors="ignore")
        declared = _DECLARED.match(head)
        if declared and bom == 0 and family in ("utf-8", "cp037"):
            # UTF-16/32 are fixed by their first bytes; an ASCII-compatible family may name
            # any single- or multi-byte encoding (ISO-8859-1, windows-1252, Shift_JIS...).
            encoding = codecs.lookup(declared.group(1)).name
        return raw[bom:].decode(encoding)
    except (LookupError, UnicodeDecodeError) as exc:
        raise UnsafeXMLError(f"XML that does not decode as {encoding}: {exc}") from exc


def parse_untrusted(data: bytes | str, *, max_bytes: int = MAX_XML_BYTES) -> etree._Element:
    """The root element of `data`. Raises UnsafeXMLError when it is larger than `max_bytes`,
    declares a DOCTYPE or entity (in any encoding), or is not well-formed XML."""
    raw = data.encode("utf-8") if isinstance(data, str) else data
    if len(raw) > max_bytes:
        raise UnsafeXMLError(f"XML body of {len(raw)} bytes is larger than {max_bytes}")
    # Refuse before parsing: an internal subset can define entities (billion laughs, XXE)
    # and no SOAP or qbXML message ever needs one.
    text = data if isinstance(data, str) else as_text(raw)
    if _REFUSED.search(text):
        raise UnsafeXMLError("XML with a DOCTYPE or entity declaration is not accepted")
    try:
        root = etree.fromstring(raw, _parser())
    except etree.XMLSyntaxError as exc:
        raise UnsafeXMLError(f"malformed XML: {exc}") from exc
    if root is None:
        raise UnsafeXMLError("empty XML document")
    docinfo = root.getroottree().docinfo
    if docinfo.doctype or docinfo.internalDTD is not None:
        raise UnsafeXMLError("XML with a DOCTYPE or entity declaration is not accepted")
    return root
