"""Intuit's Web Connector WSDL, served with soap:address pointing at this gateway.

The packaged QBWebConnectorSvc.wsdl is a byte-for-byte copy of shared/anchors/qbxml (a test
checks that), so the service works where the anchors are not deployed (containers).
"""

from __future__ import annotations

import functools
from importlib import resources

from lxml import etree

WSDL_SOAP_NS = "http://schemas.xmlsoap.org/wsdl/soap/"
WSDL_SOAP12_NS = "http://schemas.xmlsoap.org/wsdl/soap12/"


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
    return bytes(etree.tostring(root, xml_declaration=True, encoding="utf-8"))
