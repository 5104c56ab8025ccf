"""Hand-built SOAP 1.1 requests, as zeep builds them from the Web Connector WSDL.

The load generator cannot use zeep itself (its per-call cost would be the bottleneck, not the
gateway); bench/gateway tests check that these bytes are, element for element, what zeep sends
(tests/test_soapenv.py).
"""

from __future__ import annotations

from xml.sax.saxutils import escape

QBWC_NS = "http://developer.intuit.com/"
SOAP11_NS = "http://schemas.xmlsoap.org/soap/envelope/"

# Operation -> parameter names in WSDL order (the gateway's soap.OPERATIONS).
PARAMETERS: dict[str, tuple[str, ...]] = {
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
}


def envelope(operation: str, *args: str | int) -> bytes:
    """The request body zeep sends for `operation(*args)` (same prefixes, order and text)."""
    names = PARAMETERS[operation]
    if len(args) != len(names):
        raise TypeError(f"{operation} takes {len(names)} arguments, got {len(args)}")
    params = "".join(
        f"<ns0:{name}>{escape(str(value))}</ns0:{name}>"
        for name, value in zip(names, args, strict=True)
    )
    body = (
        f'<ns0:{operation} xmlns:ns0="{QBWC_NS}">{params}</ns0:{operation}>'
        if params
        else f'<ns0:{operation} xmlns:ns0="{QBWC_NS}"/>'
    )
    return (
        "<?xml version='1.0' encoding='utf-8'?>\n"
        f'<soap-env:Envelope xmlns:soap-env="{SOAP11_NS}">'
        f"<soap-env:Body>{body}</soap-env:Body></soap-env:Envelope>"
    ).encode()


def headers(operation: str) -> dict[str, str]:
    """The HTTP headers zeep sends with it."""
    return {
        "Content-Type": "text/xml; charset=utf-8",
        "SOAPAction": f'"{QBWC_NS}{operation}"',
    }
