"""Validation against Intuit's qbXML 13.0 schema (shared/anchors/qbxml), when it is present."""

from __future__ import annotations

import functools
import os
from pathlib import Path

from lxml import etree


class QbxmlSchemaError(ValueError):
    pass


def anchors_dir() -> Path | None:
    """`MLCONNECTOR_ANCHORS`, else `shared/anchors` beside the checkout (as in development/CI)."""
    configured = os.environ.get("MLCONNECTOR_ANCHORS")
    if configured:
        return Path(configured)
    for parent in Path(__file__).resolve().parents:
        candidate = parent.parent / "shared" / "anchors"
        if (candidate / "qbxml" / "qbxmlops130.xsd").exists():
            return candidate
    return None


@functools.cache
def load_schema() -> etree.XMLSchema:
    base = anchors_dir()
    if base is None:
        raise FileNotFoundError("qbXML schema not found; set MLCONNECTOR_ANCHORS")
    return etree.XMLSchema(etree.parse(str(base / "qbxml" / "qbxmlops130.xsd")))


def validate(xml: str | bytes) -> None:
    """Raise QbxmlSchemaError naming the first violation."""
    raw = xml.encode("utf-8") if isinstance(xml, str) else xml
    parser = etree.XMLParser(resolve_entities=False, no_network=True)
    document = etree.fromstring(raw, parser)
    schema = load_schema()
    if not schema.validate(document):
        error = schema.error_log.last_error
        raise QbxmlSchemaError(f"line {error.line}: {error.message}" if error else "invalid")
