"""The Web Connector driver against a minimal QBWC SOAP server over real HTTP."""

from __future__ import annotations

import threading
from typing import Any

import httpx
from lxml import etree

from mlconnector.common.qbxml import parse_response
from mlconnector.qbsim.company import Company
from mlconnector.qbsim.cycle_report import CycleReport
from mlconnector.qbsim.driver import (
    DEFAULT_COMPANY_FILE,
    HCP_REQUEST,
    QBWC_VERSION,
    SoapClient,
    WebConnectorDriver,
)
from mlconnector.qbsim.host import PRODUCT_NAME

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
        "hresult": "0x8004040A",
        "message": "A QuickBooks company data file is already open and it is different from "
        "the one requested.",
    }
    assert report.errors == [
        f"company file 'C:\\\\Company Files\\\\Other.QBW' is not the one open "
        f"({DEFAULT_COMPANY_FILE!r})"
    ]
    assert not report.ok


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


def answer_with(gateway: FakeGateway, operation: str, result: Any) -> None:
    """Make the scripted server answer `operation` with `result` (the rest as before)."""
    original = gateway.answer

    def answer(op: str, params: dict[str, Any]) -> Any:
        return result if op == operation else original(op, params)

    gateway.answer = answer  # type: ignore[method-assign]


def test_client_version_warning_goes_on(gateway: FakeGateway, company: Company) -> None:
    answer_with(gateway, "clientVersion", "W:Please upgrade the Web Connector soon.")
    gateway.requests = [CUSTOMER_ADD]
    with driver_for(gateway, company) as driver:
        report = driver.run_cycle()
    assert report.client_version_warning == "Please upgrade the Web Connector soon."
    assert report.requests_processed == 1
    assert report.ok
    assert report.lines()[1] == "  clientVersion warning: Please upgrade the Web Connector soon."


def test_client_version_error_stops(gateway: FakeGateway, company: Company) -> None:
    answer_with(gateway, "clientVersion", "E:This Web Connector is too old.")
    with driver_for(gateway, company) as driver:
        report = driver.run_cycle()
    assert [op for op, _ in gateway.calls] == ["serverVersion", "clientVersion"]
    assert report.errors == ["clientVersion refused: E:This Web Connector is too old."]


def test_busy_ends_the_update(gateway: FakeGateway, company: Company) -> None:
    gateway.auth_status = "busy"
    gateway.auth_extra = ["120"]
    with driver_for(gateway, company) as driver:
        report = driver.run_cycle()
        assert driver.delay_after(report, 5.0) == 120.0  # come back later
    assert [op for op, _ in gateway.calls] == ["serverVersion", "clientVersion", "authenticate"]
    assert (report.auth, report.postpone_seconds, report.ok) == ("busy", 120, False)
    assert report.summary() == "authenticate: gateway busy, try later (busy) (postpone 120s)"


def test_company_path_that_is_open_is_used(gateway: FakeGateway, company: Company) -> None:
    gateway.auth_status = DEFAULT_COMPANY_FILE.upper()  # Windows paths ignore case
    gateway.requests = [CUSTOMER_ADD]
    with driver_for(gateway, company) as driver:
        report = driver.run_cycle()
    assert "connectionError" not in report.calls
    assert dict(gateway.calls)["sendRequestXML"]["strCompanyFileName"] == DEFAULT_COMPANY_FILE
    assert report.company_file == DEFAULT_COMPANY_FILE
    assert company.customer_by_name("Garcia, Maria") is not None


def test_connection_error_answer_naming_the_open_file_continues(
    gateway: FakeGateway, company: Company
) -> None:
    gateway.auth_status = "C:\\Company Files\\Other.QBW"
    gateway.connection_error_answer = DEFAULT_COMPANY_FILE
    gateway.requests = [CUSTOMER_ADD]
    with driver_for(gateway, company) as driver:
        report = driver.run_cycle()
    assert [op for op, _ in gateway.calls][2:5] == [
        "authenticate",
        "connectionError",
        "sendRequestXML",
    ]
    assert report.requests_processed == 1
    assert report.errors == []


def test_first_send_carries_host_query_run_by_quickbooks(
    gateway: FakeGateway, company: Company, assert_valid: Any
) -> None:
    gateway.requests = [CUSTOMER_ADD]
    with driver_for(gateway, company) as driver:
        driver.run_cycle()
        expected = driver.processor.process(HCP_REQUEST)
    send = dict(gateway.calls)["sendRequestXML"]
    assert send["strHCPResponse"] == expected
    assert_valid(send["strHCPResponse"])
    [host] = parse_response(send["strHCPResponse"])
    assert (host.response_type, host.status_code) == ("HostQueryRs", 0)
    assert host.ret_text("ProductName") == PRODUCT_NAME
    assert host.ret_text("Country") == "US"


def test_postpone_delays_the_next_cycle_once(gateway: FakeGateway, company: Company) -> None:
    gateway.auth_extra = ["45"]
    delays: list[float] = []

    def wait(seconds: float) -> bool:
        delays.append(seconds)
        gateway.auth_extra = []
        return False

    gateway.requests = [CUSTOMER_ADD]
    with driver_for(gateway, company) as driver:
        reports = driver.run_every(2.0, cycles=3, wait=wait)
    assert [r.postpone_seconds for r in reports] == [45, None, None]
    assert delays == [45.0, 2.0]
    # The postponed update made no call after authenticate; the next one ran.
    assert reports[0].calls == ["serverVersion", "clientVersion", "authenticate"]
    assert (
        reports[0].summary() == "authenticate: update postponed by the application (postpone 45s)"
    )
    assert reports[0].ok
    assert reports[1].requests_processed == 1


def test_min_run_interval_overrides_a_shorter_every(gateway: FakeGateway, company: Company) -> None:
    gateway.auth_extra = ["", "300"]
    delays: list[float] = []

    def wait(seconds: float) -> bool:
        delays.append(seconds)
        gateway.auth_extra = []  # the interval set once stays in force
        return False

    with driver_for(gateway, company) as driver:
        driver.run_every(60.0, cycles=3, wait=wait)
        assert driver.min_run_every_seconds == 300
        assert driver.delay_after(reports_with(postpone=600), 60.0) == 600.0
        assert driver.delay_after(reports_with(postpone=None), 900.0) == 900.0
    assert delays == [300.0, 300.0]


def reports_with(postpone: int | None) -> CycleReport:
    return CycleReport(postpone_seconds=postpone)


def test_run_every_stops_when_asked(gateway: FakeGateway, company: Company) -> None:
    stop = threading.Event()
    with driver_for(gateway, company) as driver:
        reports = driver.run_every(0.01, stop=stop, on_report=lambda r: stop.set())
    assert len(reports) == 1


def test_cycle_report_lines(gateway: FakeGateway, company: Company) -> None:
    gateway.requests = [CUSTOMER_ADD, CUSTOMER_ADD]  # the second add collides: 3100
    with driver_for(gateway, company) as driver:
        report = driver.run_cycle()
    lines = report.lines()
    assert lines[0] == (
        "cycle 1: 2 message(s) | 2 request(s) (CustomerAdd 2) | 3100: 1, ok: 1 | closed: 'OK'"
    )
    assert lines[1].split()[:2] == ["CustomerAddRs", "0"]
    assert lines[2].split()[:2] == ["CustomerAddRs", "3100"]
    assert report.requests_by_type == {"CustomerAddRs": 2}
    assert report.statuses == [0, 3100]
