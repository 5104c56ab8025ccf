"""Fixtures for the QuickBooks simulator: a seeded company on a fixed clock, the qbXML schema,
and a minimal QBWC SOAP server (http.server on a free port) that follows the WSDL."""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from lxml import etree
from zeep import Client

from mlconnector.qbsim.company import Company, seed_contractor

# Makes `qbsim_messages` (request builders shared by the processor tests) importable.
sys.path.insert(0, str(Path(__file__).resolve().parent))

NS = "http://developer.intuit.com/"
SOAP_NS = "http://schemas.xmlsoap.org/soap/envelope/"
PDT = timezone(timedelta(hours=-7))


class FixedClock:
    """Starts at 2024-05-01 09:30:00-07:00; each reading advances one second."""

    def __init__(self) -> None:
        self.now = datetime(2024, 5, 1, 9, 30, 0, tzinfo=PDT)

    def __call__(self) -> datetime:
        current = self.now
        self.now += timedelta(seconds=1)
        return current


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock()


@pytest.fixture
def company(clock: FixedClock) -> Iterator[Company]:
    with Company(":memory:", clock=clock) as seeded:
        seed_contractor(seeded)
        yield seeded


@pytest.fixture(scope="session")
def qbxml_schema(qbxml_xsd: Path) -> etree.XMLSchema:
    return etree.XMLSchema(etree.parse(str(qbxml_xsd)))


@pytest.fixture(scope="session")
def assert_valid(qbxml_schema: etree.XMLSchema) -> Callable[[str], None]:
    def check(document: str) -> None:
        parsed = etree.fromstring(document.encode("utf-8"))
        if not qbxml_schema.validate(parsed):
            raise AssertionError(f"{qbxml_schema.error_log}\n{document}")

    return check


@pytest.fixture(scope="session")
def wsdl_binding(qbwc_wsdl: Path) -> Any:
    client = Client(str(qbwc_wsdl))  # type: ignore[no-untyped-call]
    return client.wsdl.bindings[f"{{{NS}}}TroubleshootWebServiceFSSoap"]


def wsdl_params(binding: Any, envelope: etree._Element) -> tuple[str, dict[str, Any]]:
    """Parse a request envelope with the WSDL's binding: (operation, parameters)."""
    operation = etree.QName(envelope.find(f"{{{SOAP_NS}}}Body")[0]).localname
    op = binding.get(operation)
    parsed = op.input.deserialize(envelope)
    if parsed is None:
        return operation, {}
    if hasattr(parsed, "__values__"):
        return operation, dict(parsed.__values__)
    # zeep unwraps a one-parameter body into the bare value.
    names = [name for name, _ in op.input.body.type.elements]
    return operation, {names[0]: parsed}


@dataclass
class FakeGateway:
    """The eight operations, minimally: one queue of qbXML requests per session."""

    binding: Any
    auth_status: str = ""
    auth_extra: list[str] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)
    percent_after: Callable[[int, int], int] = lambda sent, total: 100 * sent // max(total, 1)
    last_error: str = "No more requests"
    connection_error_answer: str = "done"
    calls: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    responses: list[dict[str, Any]] = field(default_factory=list)
    soap_actions: list[str] = field(default_factory=list)
    sent: int = 0
    url: str = ""

    def answer(self, operation: str, params: dict[str, Any]) -> Any:
        if operation == "serverVersion":
            return "fake-gateway 1.0"
        if operation == "clientVersion":
            return ""
        if operation == "authenticate":
            if params["strUserName"] != "acme" or params["strPassword"] != "s3cret":
                return ["ticket-nvu", "nvu"]
            return ["ticket-1", self.auth_status, *self.auth_extra]
        assert params.get("ticket") == "ticket-1", f"{operation} without the ticket"
        if operation == "sendRequestXML":
            if self.sent < len(self.requests):
                self.sent += 1
                return self.requests[self.sent - 1]
            return ""
        if operation == "receiveResponseXML":
            self.responses.append(params)
            return self.percent_after(self.sent, len(self.requests))
        if operation == "getLastError":
            return self.last_error
        if operation == "connectionError":
            return self.connection_error_answer
        if operation == "closeConnection":
            return "OK"
        raise AssertionError(operation)


def _result_xml(operation: str, result: Any) -> bytes:
    env = etree.Element(f"{{{SOAP_NS}}}Envelope", nsmap={"soap": SOAP_NS})
    body = etree.SubElement(env, f"{{{SOAP_NS}}}Body")
    response = etree.SubElement(body, f"{{{NS}}}{operation}Response", nsmap={None: NS})
    element = etree.SubElement(response, f"{{{NS}}}{operation}Result")
    if isinstance(result, list):
        for value in result:
            etree.SubElement(element, f"{{{NS}}}string").text = value
    else:
        element.text = str(result)
    return bytes(etree.tostring(env, xml_declaration=True, encoding="utf-8"))


@pytest.fixture
def gateway(wsdl_binding: Any) -> Iterator[FakeGateway]:
    fake = FakeGateway(binding=wsdl_binding)

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            raw = self.rfile.read(int(self.headers["Content-Length"]))
            fake.soap_actions.append(self.headers.get("SOAPAction", ""))
            # zeep parses the request with the WSDL's own binding: wrong element names, order
            # or namespace would fail here.
            operation, params = wsdl_params(fake.binding, etree.fromstring(raw))
            fake.calls.append((operation, params))
            body = _result_xml(operation, fake.answer(operation, params))
            self.send_response(200)
            self.send_header("Content-Type", "text/xml; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    fake.url = f"http://127.0.0.1:{server.server_address[1]}/qbwc"
    yield fake
    server.shutdown()
    server.server_close()
    thread.join(5)
