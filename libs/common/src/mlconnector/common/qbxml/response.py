"""Parsing qbXML response messages into per-request status."""

from __future__ import annotations

from dataclasses import dataclass

from lxml import etree

from mlconnector.common.qbxml.status import severity_of
from mlconnector.common.xmlsafe import parse_untrusted


@dataclass(frozen=True)
class ResponseStatus:
    request_id: str | None
    response_type: str  # e.g. "InvoiceAddRs"
    status_code: int
    status_severity: str
    status_message: str
    element: etree._Element
    ret: etree._Element | None  # the first *Ret child (e.g. InvoiceRet), if any

    @property
    def ok(self) -> bool:
        return self.status_code == 0

    def ret_text(self, tag: str) -> str | None:
        if self.ret is None:
            return None
        found = self.ret.find(tag)
        return found.text if found is not None else None

    @property
    def txn_or_list_id(self) -> str | None:
        return self.ret_text("TxnID") or self.ret_text("ListID")


class QbxmlResponseError(ValueError):
    """A response that is not a qbXML response document (no QBXMLMsgsRs, no statusCode)."""


def parse_response(xml: str | bytes) -> list[ResponseStatus]:
    root = parse_untrusted(xml)
    if root.tag != "QBXML":
        raise QbxmlResponseError(f"expected <QBXML>, got <{root.tag}>")
    msgs = root.find("QBXMLMsgsRs")
    if msgs is None:
        raise QbxmlResponseError("response has no <QBXMLMsgsRs>")
    statuses: list[ResponseStatus] = []
    for element in msgs:
        if not isinstance(element.tag, str):
            continue
        raw_code = element.get("statusCode")
        if raw_code is None:
            raise QbxmlResponseError(f"<{element.tag}> has no statusCode")
        code = int(raw_code)
        ret = next((c for c in element if isinstance(c.tag, str) and c.tag.endswith("Ret")), None)
        statuses.append(
            ResponseStatus(
                request_id=element.get("requestID"),
                response_type=element.tag,
                status_code=code,
                status_severity=element.get("statusSeverity") or severity_of(code),
                status_message=element.get("statusMessage") or "",
                element=element,
                ret=ret,
            )
        )
    return statuses
