"""SOAP 1.1 document/literal envelopes for the Web Connector's eight operations."""

from __future__ import annotations

from dataclasses import dataclass

from lxml import etree

from mlconnector.common.xmlsafe import UnsafeXMLError, parse_untrusted

QBWC_NS = "http://developer.intuit.com/"
SOAP11_NS = "http://schemas.xmlsoap.org/soap/envelope/"
SOAP12_NS = "http://www.w3.org/2003/05/soap-envelope"

# Operation -> its parameters in WSDL order (every one optional in the WSDL, so a missing
# element reads as "").
OPERATIONS: dict[str, tuple[str, ...]] = {
    "serverVersion": (),
    "clientVersion": ("strVersion",),
    "authenticate": ("strUserName", "strPassword"),
    "sendRequestXML": (
        "ticket",
        "strHCPResponse",
        "strCompanyFileName",
        "qbXMLCountry",
        "qbXMLMajorVers",
        "qbXMLMinorVers",
    ),
    "receiveResponseXML": ("ticket", "response", "hresult", "message"),
    "connectionError": ("ticket", "hresult", "message"),
    "getLastError": ("ticket",),
    "closeConnection": ("ticket",),
    # Interactive mode (QBWC 2.0; Programmer's Guide ch. 6 and Intuit's WCWebService sample).
    # Neither packaged WSDL declares them; the Web Connector calls them only after
    # getLastError answered "Interactive mode", which this gateway never does (interactive.py).
    "getInteractiveURL": ("wcTicket", "sessionID"),
    "interactiveRejected": ("wcTicket", "reason"),
    "interactiveDone": ("wcTicket",),
}


class SoapFault(Exception):
    def __init__(self, faultcode: str, faultstring: str) -> None:
        super().__init__(faultstring)
        self.faultcode = faultcode
        self.faultstring = faultstring


def client_fault(message: str) -> SoapFault:
    return SoapFault("soap:Client", message)


@dataclass(frozen=True)
class SoapCall:
    operation: str
    params: dict[str, str]
    # The HTTP client's address (app.py fills it in): authenticate's rate limits count by it.
    client: str = ""


def _local(tag: str) -> tuple[str | None, str]:
    qname = etree.QName(tag)
    return qname.namespace, qname.localname


def parse_call(body: bytes, *, max_bytes: int) -> SoapCall:
    """The operation and its string parameters; SoapFault(soap:Client) for anything else."""
    try:
        root = parse_untrusted(body, max_bytes=max_bytes)
    except UnsafeXMLError as exc:
        raise client_fault(f"The request is not acceptable XML: {exc}") from exc
    if not isinstance(root.tag, str):
        raise client_fault("The request has no SOAP Envelope")
    namespace, name = _local(root.tag)
    if name != "Envelope" or namespace not in (SOAP11_NS, SOAP12_NS):
        raise client_fault("The request is not a SOAP Envelope")
    if namespace == SOAP12_NS:
        raise client_fault("SOAP 1.2 is not supported; send SOAP 1.1 as the Web Connector does")
    soap_body = root.find(f"{{{SOAP11_NS}}}Body")
    if soap_body is None:
        raise client_fault("The SOAP Envelope has no Body")
    calls = [child for child in soap_body if isinstance(child.tag, str)]
    if len(calls) != 1:
        raise client_fault(f"The SOAP Body must hold exactly one operation, found {len(calls)}")
    op_ns, operation = _local(calls[0].tag)
    if op_ns != QBWC_NS or operation not in OPERATIONS:
        raise client_fault(
            f"Unknown operation {{{op_ns or ''}}}{operation}; expected one of "
            f"{', '.join(OPERATIONS)} in namespace {QBWC_NS}"
        )
    params = dict.fromkeys(OPERATIONS[operation], "")
    for child in calls[0]:
        if not isinstance(child.tag, str):
            continue
        child_ns, child_name = _local(child.tag)
        # .NET clients qualify parameters (elementFormDefault="qualified"); some PHP/Python
        # clients leave them unqualified. Both mean the same parameter.
        if child_name in params and child_ns in (QBWC_NS, None):
            params[child_name] = child.text or ""
    return SoapCall(operation, params)


def _envelope() -> tuple[etree._Element, etree._Element]:
    envelope = etree.Element(f"{{{SOAP11_NS}}}Envelope", nsmap={"soap": SOAP11_NS})
    body = etree.SubElement(envelope, f"{{{SOAP11_NS}}}Body")
    return envelope, body


def _serialize(envelope: etree._Element) -> bytes:
    return bytes(etree.tostring(envelope, xml_declaration=True, encoding="utf-8"))


def render_result(operation: str, result: str | int | list[str]) -> bytes:
    envelope, body = _envelope()
    response = etree.SubElement(body, f"{{{QBWC_NS}}}{operation}Response", nsmap={None: QBWC_NS})
    element = etree.SubElement(response, f"{{{QBWC_NS}}}{operation}Result")
    if isinstance(result, list):
        for item in result:
            etree.SubElement(element, f"{{{QBWC_NS}}}string").text = item
    else:
        element.text = str(result)
    return _serialize(envelope)


def render_fault(fault: SoapFault) -> bytes:
    envelope, body = _envelope()
    element = etree.SubElement(body, f"{{{SOAP11_NS}}}Fault")
    # SOAP 1.1 Fault children are unqualified.
    etree.SubElement(element, "faultcode").text = fault.faultcode
    etree.SubElement(element, "faultstring").text = fault.faultstring
    return _serialize(envelope)
