"""Validation against Intuit's qbXML 13.0 schema.

The schema ships with this package (a byte-identical copy of shared/anchors/qbxml, checked by a
test), so validation works wherever the services run. `MLCONNECTOR_ANCHORS` points elsewhere.
"""

from __future__ import annotations

import functools
import os
from pathlib import Path

from lxml import etree

PACKAGED_XSD_DIR = Path(__file__).resolve().parent / "xsd"
ENTRY_POINT = "qbxmlops130.xsd"  # it includes the other three files, which sit beside it


class QbxmlSchemaError(ValueError):
    """The document breaks the qbXML schema; the message names the first violation."""


def schema_dir() -> Path:
    configured = os.environ.get("MLCONNECTOR_ANCHORS")
    if configured:
        return Path(configured) / "qbxml"
    return PACKAGED_XSD_DIR


@functools.cache
def load_schema() -> etree.XMLSchema:
    return etree.XMLSchema(etree.parse(str(schema_dir() / ENTRY_POINT)))


def validate(xml: str | bytes) -> None:
    """Raise QbxmlSchemaError naming the first violation."""
    raw = xml.encode("utf-8") if isinstance(xml, str) else xml
    parser = etree.XMLParser(resolve_entities=False, no_network=True)
    document = etree.fromstring(raw, parser)
    schema = load_schema()
    if not schema.validate(document):
        error = schema.error_log.last_error
        raise QbxmlSchemaError(f"line {error.line}: {error.message}" if error else "invalid")
