"""qbXML primitives shared by the mapper, the gateway and the QuickBooks simulator."""

from mlconnector.common.qbxml.envelope import (
    QBXML_VERSION,
    Request,
    build_message,
    element_from_string,
    sub,
)
from mlconnector.common.qbxml.response import QbxmlResponseError, ResponseStatus, parse_response
from mlconnector.common.qbxml.status import advice_for, severity_of
from mlconnector.common.qbxml.text import to_qb_text

__all__ = [
    "QBXML_VERSION",
    "QbxmlResponseError",
    "Request",
    "ResponseStatus",
    "advice_for",
    "build_message",
    "element_from_string",
    "parse_response",
    "severity_of",
    "sub",
    "to_qb_text",
]
