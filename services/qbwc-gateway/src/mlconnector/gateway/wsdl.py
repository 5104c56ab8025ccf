"""Intuit's Web Connector WSDL, served with soap:address pointing at this gateway, and with
the interactive-mode operations the gateway answers (interactive.py) declared beside the eight.

The packaged QBWebConnectorSvc.wsdl is a byte-for-byte copy of shared/anchors/qbxml (a test
checks that), so the service works where the anchors are not deployed (containers).
"""

from __future__ import annotations

import copy
import functools
from importlib import resources

from lxml import etree

WSDL_SOAP_NS = "http://schemas.xmlsoap.org/wsdl/soap/"
WSDL_SOAP12_NS = "http://schemas.xmlsoap.org/wsdl/soap12/"
WSDL_NS = "http://schemas.xmlsoap.org/wsdl/"
XSD_NS = "http://www.w3.org/2001/XMLSchema"
QBWC_NS = "http://developer.intuit.com/"
# Declared as Intuit's sample service declares them (WCWebService.asmx.cs): string in, string
# out. Neither WSDL Intuit published has them (anchors/qbxml/README.txt).
INTERACTIVE_OPERATIONS: dict[str, tuple[str, ...]] = {
    "getInteractiveURL": ("wcTicket", "sessionID"),
    "interactiveRejected": ("wcTicket", "reason"),
    "interactiveDone": ("wcTicket",),
}
_NS = {"wsdl": WSDL_NS, "s": XSD_NS}


def original_wsdl() -> bytes:
    return resources.files("mlconnector.gateway").joinpath("QBWebConnectorSvc.wsdl").read_bytes()


@functools.cache
def render_wsdl(public_url: str) -> bytes:
    # Our own packaged file: trusted, but parsed without network or entities all the same.
    parser = etree.XMLParser(resolve_entities=False, no_network=True)
    root = etree.fromstring(original_wsdl(), parser)
    for namespace in (WSDL_SOAP_NS, WSDL_SOAP12_NS):
        for address in root.iter(f"{{{namespace}}}address"):
            address.set("location", public_url)
    for operation, params in INTERACTIVE_OPERATIONS.items():
        _declare_like_client_version(root, operation, params)
    return bytes(etree.tostring(root, xml_declaration=True, encoding="utf-8"))


def _declare_like_client_version(
    root: etree._Element, operation: str, params: tuple[str, ...]
) -> None:
    """Declare `operation` (string parameters, one string result) by copying clientVersion's
    element, messages, portType and binding entries, which have exactly that shape."""
    schema = root.find("wsdl:types/s:schema", _NS)
    assert schema is not None
    if schema.find(f"s:element[@name='{operation}']", _NS) is not None:
        return
    request = copy.deepcopy(schema.find("s:element[@name='clientVersion']", _NS))
    response = copy.deepcopy(schema.find("s:element[@name='clientVersionResponse']", _NS))
    assert request is not None
    assert response is not None
    request.set("name", operation)
    sequence = request.find(".//s:sequence", _NS)
    assert sequence is not None
    template = sequence[0]
    for child in list(sequence):
        sequence.remove(child)
    for param in params:
        element = copy.deepcopy(template)
        element.set("name", param)
        sequence.append(element)
    response.set("name", f"{operation}Response")
    result = response.find(".//s:element", _NS)
    assert result is not None
    result.set("name", f"{operation}Result")
    schema.extend([request, response])
    messages = root.findall("wsdl:message", _NS)
    last_message = messages[-1]
    for suffix, element_name in (("SoapOut", f"{operation}Response"), ("SoapIn", operation)):
        message = copy.deepcopy(root.find("wsdl:message[@name='clientVersionSoapIn']", _NS))
        assert message is not None
        message.set("name", f"{operation}{suffix}")
        message[0].set("element", f"tns:{element_name}")
        last_message.addnext(message)
    for port_type in root.findall("wsdl:portType", _NS):
        entry = copy.deepcopy(port_type.find("wsdl:operation[@name='clientVersion']", _NS))
        assert entry is not None
        entry.set("name", operation)
        for tag, suffix in (("input", "SoapIn"), ("output", "SoapOut")):
            part = entry.find(f"wsdl:{tag}", _NS)
            assert part is not None
            part.set("message", f"tns:{operation}{suffix}")
        port_type.append(entry)
    for binding in root.findall("wsdl:binding", _NS):
        entry = copy.deepcopy(binding.find("wsdl:operation[@name='clientVersion']", _NS))
        assert entry is not None
        entry.set("name", operation)
        for child in entry:
            if isinstance(child.tag, str) and etree.QName(child).localname == "operation":
                child.set("soapAction", f"{QBWC_NS}{operation}")
        binding.append(entry)
