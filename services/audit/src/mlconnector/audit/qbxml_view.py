"""qbXML for people: indented, one element per line (parsed safely; shown as sent if it is not
well-formed XML)."""

from __future__ import annotations

from lxml import etree

from mlconnector.common.xmlsafe import UnsafeXMLError, parse_untrusted


def pretty_qbxml(text: str | None) -> str:
    """`text` indented two spaces per level, with its <?xml?> and <?qbxml?> lines kept."""
    if not text:
        return ""
    try:
        root = parse_untrusted(text)
    except UnsafeXMLError:
        return text
    for element in root.iter():
        if element.text is not None and not element.text.strip() and len(element):
            element.text = None
        if element.tail is not None and not element.tail.strip():
            element.tail = None
    tree = root.getroottree()
    etree.indent(tree, space="  ")
    body = str(etree.tostring(tree, encoding="unicode"))
    prefix = ""
    stripped = text.lstrip()
    if stripped.startswith("<?xml"):
        prefix = stripped[: stripped.index("?>") + 2] + "\n"
    return prefix + body.strip()
