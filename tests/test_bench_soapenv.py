"""bench/gateway's hand-built SOAP requests are what zeep, built from the Web Connector WSDL,
sends: the same bytes and the same SOAPAction, for every operation."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import zeep
from lxml import etree

from bench.gateway.soapenv import PARAMETERS, envelope, headers

BINDING = "{http://developer.intuit.com/}TroubleshootWebServiceFSSoap"


class Sent(Exception):
    pass


class CapturingTransport(zeep.Transport):  # type: ignore[misc]
    """Keeps what zeep would POST instead of posting it."""

    def __init__(self) -> None:
        super().__init__()
        self.sent: list[tuple[bytes, dict[str, str]]] = []

    def post_xml(self, address: str, envelope: Any, headers: dict[str, str]) -> Any:
        body = etree.tostring(envelope, xml_declaration=True, encoding="utf-8")
        self.sent.append((body, headers))
        raise Sent


CALLS: dict[str, tuple[Any, ...]] = {
    "serverVersion": (),
    "clientVersion": ("2.3.0.215",),
    "authenticate": ("c0001-user & <co>", "pw \"quoted\" 'both'"),
    "sendRequestXML": ("ab12", "", r"C:\Company Files\Bench.qbw", "US", 13, 0),
    "receiveResponseXML": ("ab12", '<?xml version="1.0" ?><QBXML><QBXMLMsgsRs/></QBXML>', "", ""),
    "connectionError": ("ab12", "0x80040408", "Could not start QuickBooks."),
    "getLastError": ("ab12",),
    "closeConnection": ("ab12",),
}


def test_every_operation_is_covered() -> None:
    assert set(CALLS) == set(PARAMETERS)


@pytest.mark.parametrize("operation", list(CALLS))
def test_envelope_is_what_zeep_sends(qbwc_wsdl: Path, operation: str) -> None:
    transport = CapturingTransport()
    client = zeep.Client(str(qbwc_wsdl), transport=transport)
    service = client.create_service(BINDING, "http://127.0.0.1:9/qbwc")
    with pytest.raises(Sent):
        getattr(service, operation)(*CALLS[operation])
    [(body, zeep_headers)] = transport.sent
    assert envelope(operation, *CALLS[operation]) == body
    assert headers(operation) == {
        "Content-Type": zeep_headers["Content-Type"],
        "SOAPAction": zeep_headers["SOAPAction"],
    }
