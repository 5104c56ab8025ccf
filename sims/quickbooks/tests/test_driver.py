"""The Web Connector driver against a minimal QBWC SOAP server over real HTTP."""

from __future__ import annotations

from typing import Any

import httpx
from lxml import etree

from mlconnector.common.qbxml import parse_response
from mlconnector.qbsim.company import Company
from mlconnector.qbsim.driver import (
    DEFAULT_COMPANY_FILE,
    QBWC_VERSION,
    SoapClient,
    WebConnectorDriver,
)

from .conftest import FakeGateway, wsdl_params

CUSTOMER_ADD = (
    '<?xml version="1.0" encoding="utf-8"?>\n<?qbxml version="13.0"?>\n'
    '<QBXML><QBXMLMsgsRq onError="stopOnError"><CustomerAddRq requestID="cmd-1">'
    "<CustomerAdd><Name>Garcia, Maria</Name></CustomerAdd></CustomerAddRq>"
    "</QBXMLMsgsRq></QBXML>"
)


def driver_for(
    gateway: FakeGateway, company: Company, password: str = "s3cret", **options: Any
) -> WebConnectorDriver:
    return WebConnectorDriver(gateway.url, "acme", password, company, **options)


def test_cycle_adds_customer(gateway: FakeGateway, company: Company) -> None:
    gateway.requests = [CUSTOMER_ADD]
    with driver_for(gateway, company) as driver:
        report = driver.run_cycle()
    assert report.errors == []
    assert [op for op, _ in gateway.calls] == [
        "serverVersion",
        "clientVersion",
        "authenticate",
        "sendRequestXML",
        "receiveResponseXML",
        "closeConnection",
    ]
    assert report.calls == [op for op, _ in gateway.calls]
    assert gateway.soap_actions == [
        f'"http://developer.intuit.com/{op}"' for op, _ in gateway.calls
    ]
    params = dict(gateway.calls)
    assert params["clientVersion"] == {"strVersion": QBWC_VERSION}
    assert params["authenticate"] == {"strUserName": "acme", "strPassword": "s3cret"}
    send = params["sendRequestXML"]
    assert send["ticket"] == "ticket-1"
    assert send["strCompanyFileName"] == DEFAULT_COMPANY_FILE
    assert (send["qbXMLCountry"], send["qbXMLMajorVers"], send["qbXMLMinorVers"]) == ("US", 13, 0)
    hcp = parse_response(send["strHCPResponse"])
    assert [(s.response_type, s.status_code) for s in hcp] == [("HostQueryRs", 0)]
    receive = gateway.responses[0]
    assert (receive["hresult"], receive["message"]) == (None, None)
    statuses = parse_response(receive["response"])
    assert [(s.request_id, s.status_code) for s in statuses] == [("cmd-1", 0)]
    customer = company.customer_by_name("Garcia, Maria")
    assert customer is not None
    assert statuses[0].txn_or_list_id == customer.core.list_id
    assert (report.requests_processed, report.statuses, report.close_message) == (1, [0], "OK")
    assert report.requests[0].name == "Garcia, Maria"
    assert report.ok


def test_hcp_response_only_on_first_send(gateway: FakeGateway, company: Company) -> None:
    gateway.requests = [CUSTOMER_ADD, CUSTOMER_ADD.replace("Garcia, Maria", "Nguyen, Bao")]
    with driver_for(gateway, company) as driver:
        report = driver.run_cycle()
    sends = [p for op, p in gateway.calls if op == "sendRequestXML"]
    assert len(sends) == 2
    assert sends[0]["strHCPResponse"].startswith("<?xml")
    assert sends[1]["strHCPResponse"] in (None, "")  # zeep reads an empty string as None
    assert report.messages == 2
    assert report.percent == 100
    assert company.customer_by_name("Nguyen, Bao") is not None


def test_empty_send_calls_get_last_error_then_close(gateway: FakeGateway, company: Company) -> None:
    with driver_for(gateway, company) as driver:
        report = driver.run_cycle()
    assert [op for op, _ in gateway.calls][3:] == [
        "sendRequestXML",
        "getLastError",
        "closeConnection",
    ]
    assert report.last_error == "No more requests"
    assert report.requests == []


def test_noop_waits_and_asks_again(gateway: FakeGateway, company: Company) -> None:
    gateway.last_error = "NoOp"
    naps: list[float] = []

    def nap(seconds: float) -> None:
        naps.append(seconds)
        gateway.last_error = "done for now"

    with driver_for(gateway, company, sleep=nap, noop_wait=5.0) as driver:
        report = driver.run_cycle()
    assert naps == [5.0]
    assert [op for op, _ in gateway.calls][3:] == [
        "sendRequestXML",
        "getLastError",
        "sendRequestXML",
        "getLastError",
        "closeConnection",
    ]
    assert report.last_error == "done for now"


def test_nvu_stops_after_authenticate(gateway: FakeGateway, company: Company) -> None:
    with driver_for(gateway, company, password="wrong") as driver:
        report = driver.run_cycle()
    assert [op for op, _ in gateway.calls] == ["serverVersion", "clientVersion", "authenticate"]
    assert report.auth == "nvu"
    assert not report.ok
    assert report.summary() == "authenticate: not a valid user (nvu)"


def test_none_means_nothing_to_do(gateway: FakeGateway, company: Company) -> None:
    gateway.auth_status = "none"
    gateway.auth_extra = ["", "300"]
    with driver_for(gateway, company) as driver:
        report = driver.run_cycle()
    assert [op for op, _ in gateway.calls] == ["serverVersion", "clientVersion", "authenticate"]
    assert (report.auth, report.ok, report.min_run_every_seconds) == ("none", True, 300)


def test_other_company_file_reports_connection_error(
    gateway: FakeGateway, company: Company
) -> None:
    gateway.auth_status = "C:\\Company Files\\Other.QBW"
    with driver_for(gateway, company) as driver:
        report = driver.run_cycle()
    assert [op for op, _ in gateway.calls][-1] == "connectionError"
    assert dict(gateway.calls)["connectionError"] == {
        "ticket": "ticket-1",
        "hresult": "0x80040408",
        "message": "Could not start QuickBooks.",
    }
    assert len(report.errors) == 1


def test_refused_message_goes_back_as_hresult(gateway: FakeGateway, company: Company) -> None:
    gateway.requests = [CUSTOMER_ADD.replace('<?qbxml version="13.0"?>\n', "")]
    gateway.percent_after = lambda sent, total: -101
    gateway.last_error = "QuickBooks could not parse the request"
    with driver_for(gateway, company) as driver:
        report = driver.run_cycle()
    assert gateway.responses == [
        {
            "ticket": "ticket-1",
            "response": None,
            "hresult": "0x80040400",
            "message": "QuickBooks found an error when parsing the provided XML text stream.",
        }
    ]
    assert [op for op, _ in gateway.calls][3:] == [
        "sendRequestXML",
        "receiveResponseXML",
        "getLastError",
        "closeConnection",
    ]
    assert report.last_error == "QuickBooks could not parse the request"
    assert company.customers() == []


def test_unreachable_gateway_is_reported(company: Company) -> None:
    with WebConnectorDriver("http://127.0.0.1:9/qbwc", "acme", "x", company, timeout=2.0) as driver:
        report = driver.run_cycle()
    assert not report.ok
    assert "serverVersion: cannot reach" in report.errors[0]


def test_run_every_runs_the_given_number_of_cycles(gateway: FakeGateway, company: Company) -> None:
    with driver_for(gateway, company) as driver:
        reports = driver.run_every(0.01, cycles=3)
    assert len(reports) == 3
    assert [op for op, _ in gateway.calls].count("authenticate") == 3


def test_envelopes_match_the_wsdl(wsdl_binding: Any) -> None:
    # Every operation's request, as the driver writes it, parses with the WSDL's binding.
    samples: dict[str, list[tuple[str, str | int | None]]] = {
        "serverVersion": [],
        "clientVersion": [("strVersion", "2.3.0.215")],
        "authenticate": [("strUserName", "u"), ("strPassword", "p")],
        "sendRequestXML": [
            ("ticket", "t"),
            ("strHCPResponse", "<x/>"),
            ("strCompanyFileName", "c"),
            ("qbXMLCountry", "US"),
            ("qbXMLMajorVers", 13),
            ("qbXMLMinorVers", 0),
        ],
        "receiveResponseXML": [
            ("ticket", "t"),
            ("response", "<r/>"),
            ("hresult", "h"),
            ("message", "m"),
        ],
        "connectionError": [("ticket", "t"), ("hresult", "h"), ("message", "m")],
        "getLastError": [("ticket", "t")],
        "closeConnection": [("ticket", "t")],
    }
    for operation, params in samples.items():
        envelope = etree.fromstring(SoapClient.envelope(operation, params))
        assert wsdl_params(wsdl_binding, envelope) == (operation, dict(params))


def test_soap_fault_is_an_error(company: Company) -> None:
    fault = (
        b'<?xml version="1.0"?><soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/'
        b'envelope/"><soap:Body><soap:Fault><faultcode>soap:Server</faultcode>'
        b"<faultstring>boom</faultstring></soap:Fault></soap:Body></soap:Envelope>"
    )
    transport = httpx.MockTransport(lambda request: httpx.Response(500, content=fault))
    with httpx.Client(transport=transport) as http:
        driver = WebConnectorDriver("http://gateway/qbwc", "u", "p", company, http=http)
        report = driver.run_cycle()
    assert report.errors == ["serverVersion: SOAP fault soap:Server: boom"]
