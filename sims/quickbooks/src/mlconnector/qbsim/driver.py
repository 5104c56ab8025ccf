"""A QuickBooks Web Connector, simulated: replays the real SOAP call sequence against a gateway.

One update cycle, as QBWC 2.x performs it (QBWC Programmer's Guide v2.0, and
shared/FACTS.md "SOAP / QBWC"):

    serverVersion -> clientVersion -> authenticate
      "nvu" (not a valid user), "none" (nothing to do), "busy": the cycle ends there.
      a company-file path other than the one open: connectionError (0x80040408); its answer
        "done" ends the cycle, "" or a path that is open continues.
    loop: sendRequestXML (the first carries the HostQueryRs in strHCPResponse)
      ""          -> getLastError ("NoOp": wait and ask again) -> closeConnection
      a request   -> QuickBooks (the processor) -> receiveResponseXML
                     (a message QuickBooks refuses goes back as hresult 0x80040400 + message)
        100       -> closeConnection
        0..99     -> sendRequestXML again
        negative  -> getLastError -> closeConnection

SOAP 1.1, document/literal, namespace http://developer.intuit.com/, SOAPAction
"http://developer.intuit.com/<operation>", element names exactly as QBWebConnectorSvc.wsdl.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import httpx
from lxml import etree

from mlconnector.common.qbxml.response import QbxmlResponseError, parse_response
from mlconnector.common.xmlsafe import UnsafeXMLError, parse_untrusted
from mlconnector.qbsim.company import Company
from mlconnector.qbsim.errors import QbxmlParseError
from mlconnector.qbsim.host import host_query_response
from mlconnector.qbsim.processor import QbxmlProcessor

QBWC_NS = "http://developer.intuit.com/"
SOAP_ENV_NS = "http://schemas.xmlsoap.org/soap/envelope/"
# What a current Web Connector reports to clientVersion.
QBWC_VERSION = "2.3.0.215"
DEFAULT_COMPANY_FILE = (
    "C:\\Users\\Public\\Documents\\Intuit\\QuickBooks\\Company Files\\Contractor.QBW"
)
HRESULT_CANNOT_START_QB = "0x80040408"


class SoapError(Exception):
    """The gateway answered something that is not a usable SOAP response."""


@dataclass(frozen=True)
class RequestOutcome:
    """One qbXML request QuickBooks answered during the cycle."""

    response_type: str
    request_id: str | None
    status_code: int
    status_severity: str
    status_message: str
    name: str | None  # RefNumber of a transaction, FullName/Name of a list object
    txn_or_list_id: str | None


@dataclass
class CycleReport:
    auth: str | None = None  # the second authenticate string: "", a path, "none", "nvu", "busy"
    ticket: str | None = None
    server_version: str | None = None
    client_version_answer: str | None = None
    postpone_seconds: int | None = None
    min_run_every_seconds: int | None = None
    calls: list[str] = field(default_factory=list)
    messages: int = 0  # qbXML messages exchanged (sendRequestXML answers processed)
    requests: list[RequestOutcome] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    last_error: str | None = None
    close_message: str | None = None
    percent: int | None = None

    @property
    def requests_processed(self) -> int:
        return len(self.requests)

    @property
    def statuses(self) -> list[int]:
        return [r.status_code for r in self.requests]

    @property
    def ok(self) -> bool:
        return not self.errors and self.auth not in ("nvu", "busy")

    def summary(self) -> str:
        if self.auth == "nvu":
            return "authenticate: not a valid user (nvu)"
        if self.auth == "none":
            return "authenticate: nothing to do (none)"
        if self.auth == "busy":
            return "authenticate: gateway busy, try later (busy)"
        counts: dict[str, int] = {}
        for request in self.requests:
            key = "ok" if request.status_code == 0 else str(request.status_code)
            counts[key] = counts.get(key, 0) + 1
        parts = [f"{self.messages} message(s)", f"{self.requests_processed} request(s)"]
        if counts:
            parts.append(", ".join(f"{k}: {v}" for k, v in sorted(counts.items())))
        if self.errors:
            parts.append("errors: " + "; ".join(self.errors))
        if self.close_message is not None:
            parts.append(f"closed: {self.close_message!r}")
        return " | ".join(parts)


class SoapClient:
    """Calls the eight QBWC operations over SOAP 1.1."""

    def __init__(self, url: str, http: httpx.Client) -> None:
        self.url = url
        self.http = http

    @staticmethod
    def envelope(operation: str, params: Sequence[tuple[str, str | int | None]]) -> bytes:
        env = etree.Element(f"{{{SOAP_ENV_NS}}}Envelope", nsmap={"soap": SOAP_ENV_NS})
        body = etree.SubElement(env, f"{{{SOAP_ENV_NS}}}Body")
        op = etree.SubElement(body, f"{{{QBWC_NS}}}{operation}", nsmap={None: QBWC_NS})
        for name, value in params:
            if value is None:
                continue  # minOccurs="0": an absent string is left out
            child = etree.SubElement(op, f"{{{QBWC_NS}}}{name}")
            child.text = str(value)
        return bytes(etree.tostring(env, xml_declaration=True, encoding="utf-8"))

    def call(
        self, operation: str, params: Sequence[tuple[str, str | int | None]] = ()
    ) -> etree._Element:
        """The `<operation>Response` element; SoapError for faults and non-SOAP answers."""
        try:
            response = self.http.post(
                self.url,
                content=self.envelope(operation, params),
                headers={
                    "Content-Type": "text/xml; charset=utf-8",
                    "SOAPAction": f'"{QBWC_NS}{operation}"',
                },
            )
        except httpx.HTTPError as exc:
            raise SoapError(f"{operation}: cannot reach {self.url}: {exc}") from exc
        try:
            root = parse_untrusted(response.content)
        except UnsafeXMLError as exc:
            raise SoapError(
                f"{operation}: HTTP {response.status_code}, not a SOAP response: {exc}"
            ) from exc
        body = root.find(f"{{{SOAP_ENV_NS}}}Body")
        if body is None:
            raise SoapError(f"{operation}: HTTP {response.status_code}, no soap:Body")
        fault = body.find(f"{{{SOAP_ENV_NS}}}Fault")
        if fault is not None:
            code = fault.findtext("faultcode") or ""
            text = fault.findtext("faultstring") or ""
            raise SoapError(f"{operation}: SOAP fault {code}: {text}")
        result = body.find(f"{{{QBWC_NS}}}{operation}Response")
        if result is None:
            raise SoapError(
                f"{operation}: HTTP {response.status_code}, no <{operation}Response> in the body"
            )
        return result

    def result_text(
        self, operation: str, params: Sequence[tuple[str, str | int | None]] = ()
    ) -> str | None:
        found = self.call(operation, params).find(f"{{{QBWC_NS}}}{operation}Result")
        return None if found is None else (found.text or "")

    def result_strings(
        self, operation: str, params: Sequence[tuple[str, str | int | None]] = ()
    ) -> list[str]:
        found = self.call(operation, params).find(f"{{{QBWC_NS}}}{operation}Result")
        if found is None:
            return []
        return [child.text or "" for child in found.findall(f"{{{QBWC_NS}}}string")]


def _outcomes(response_xml: str) -> list[RequestOutcome]:
    outcomes: list[RequestOutcome] = []
    for status in parse_response(response_xml):
        outcomes.append(
            RequestOutcome(
                response_type=status.response_type,
                request_id=status.request_id,
                status_code=status.status_code,
                status_severity=status.status_severity,
                status_message=status.status_message,
                name=status.ret_text("RefNumber")
                or status.ret_text("FullName")
                or status.ret_text("Name"),
                txn_or_list_id=status.txn_or_list_id,
            )
        )
    return outcomes


class WebConnectorDriver:
    """Runs Web Connector update cycles for one company file against one gateway."""

    def __init__(
        self,
        gateway_url: str,
        user: str,
        password: str,
        company: Company,
        *,
        company_file: str = DEFAULT_COMPANY_FILE,
        http: httpx.Client | None = None,
        timeout: float = 60.0,
        noop_wait: float = 5.0,
        max_messages: int = 10_000,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.user = user
        self.password = password
        self.company = company
        self.processor = QbxmlProcessor(company)
        self.company_file = company_file
        # The Web Connector waits about 60 s for each call (FACTS: SOAP/QBWC).
        self._http = http or httpx.Client(timeout=timeout)
        self._owns_http = http is None
        self.soap = SoapClient(gateway_url, self._http)
        self.noop_wait = noop_wait
        self.max_messages = max_messages
        self._sleep = sleep

    def close(self) -> None:
        if self._owns_http:
            self._http.close()

    def __enter__(self) -> WebConnectorDriver:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def run_cycle(self) -> CycleReport:
        report = CycleReport()
        try:
            self._cycle(report)
        except SoapError as exc:
            # The real Web Connector shows QBWC1012/1013 and ends the session here.
            report.errors.append(str(exc))
        return report

    def _cycle(self, report: CycleReport) -> None:
        soap = self.soap
        report.calls.append("serverVersion")
        report.server_version = soap.result_text("serverVersion")
        report.calls.append("clientVersion")
        answer = soap.result_text("clientVersion", [("strVersion", QBWC_VERSION)]) or ""
        report.client_version_answer = answer
        if answer.startswith(("E:", "O:")):
            # "E:<message>" refuses this Web Connector; "O:<version>" asks for an upgrade.
            report.errors.append(f"clientVersion refused: {answer}")
            return
        report.calls.append("authenticate")
        auth = soap.result_strings(
            "authenticate", [("strUserName", self.user), ("strPassword", self.password)]
        )
        if len(auth) < 2:
            report.errors.append(f"authenticate answered {auth!r}, expected [ticket, status]")
            return
        ticket, status = auth[0], auth[1]
        report.ticket, report.auth = ticket, status
        report.postpone_seconds = _int_or_none(auth[2]) if len(auth) > 2 else None
        report.min_run_every_seconds = _int_or_none(auth[3]) if len(auth) > 3 else None
        if status.lower() in ("nvu", "none", "busy"):
            # Terminal answers: the Web Connector makes no further call in this cycle.
            report.auth = status.lower()
            return
        if status and not self._is_open_company(status):
            report.calls.append("connectionError")
            answer = (
                soap.result_text(
                    "connectionError",
                    [
                        ("ticket", ticket),
                        ("hresult", HRESULT_CANNOT_START_QB),
                        ("message", "Could not start QuickBooks."),
                    ],
                )
                or ""
            )
            if answer.lower() == "done" or (answer and not self._is_open_company(answer)):
                report.errors.append(
                    f"company file {status!r} is not the one open ({self.company_file!r})"
                )
                return
        self._exchange(report, ticket)

    def _is_open_company(self, path: str) -> bool:
        return path.strip().lower() == self.company_file.lower()

    def _exchange(self, report: CycleReport, ticket: str) -> None:
        soap = self.soap
        first = True
        while report.messages < self.max_messages:
            report.calls.append("sendRequestXML")
            request = soap.result_text(
                "sendRequestXML",
                [
                    ("ticket", ticket),
                    ("strHCPResponse", host_query_response() if first else ""),
                    ("strCompanyFileName", self.company_file),
                    ("qbXMLCountry", "US"),
                    ("qbXMLMajorVers", 13),
                    ("qbXMLMinorVers", 0),
                ],
            )
            first = False
            if not request:
                report.calls.append("getLastError")
                last = soap.result_text("getLastError", [("ticket", ticket)]) or ""
                report.last_error = last
                if last == "NoOp":
                    self._sleep(self.noop_wait)
                    continue
                break
            report.messages += 1
            try:
                response = self.processor.process(request)
            except QbxmlParseError as exc:
                report.errors.append(f"QuickBooks refused the message: {exc.detail}")
                params: list[tuple[str, str | int | None]] = [
                    ("ticket", ticket),
                    ("response", ""),
                    ("hresult", exc.hresult),
                    ("message", exc.message),
                ]
            else:
                try:
                    report.requests.extend(_outcomes(response))
                except QbxmlResponseError as exc:  # our own output; would be a bug here
                    report.errors.append(f"unreadable response: {exc}")
                params = [
                    ("ticket", ticket),
                    ("response", response),
                    ("hresult", None),
                    ("message", None),
                ]
            report.calls.append("receiveResponseXML")
            raw = soap.result_text("receiveResponseXML", params)
            percent = _int_or_none(raw)
            if percent is None:
                report.errors.append(f"receiveResponseXML answered {raw!r}, not a number")
                break
            report.percent = percent
            if percent >= 100:
                break
            if percent < 0:
                report.calls.append("getLastError")
                report.last_error = soap.result_text("getLastError", [("ticket", ticket)])
                report.errors.append(f"gateway reported {percent}: {report.last_error}")
                break
        report.calls.append("closeConnection")
        report.close_message = soap.result_text("closeConnection", [("ticket", ticket)])

    def run_cycles(
        self, count: int, *, on_report: Callable[[CycleReport], None] | None = None
    ) -> list[CycleReport]:
        reports = []
        for _ in range(count):
            report = self.run_cycle()
            if on_report is not None:
                on_report(report)
            reports.append(report)
        return reports

    def run_every(
        self,
        seconds: float,
        *,
        cycles: int | None = None,
        on_report: Callable[[CycleReport], None] | None = None,
        stop: threading.Event | None = None,
    ) -> list[CycleReport]:
        """Run a cycle every `seconds` (as the Web Connector's "Every" setting) until stopped.

        A server can ask for a longer interval (authenticate's 4th string) and QBWC honours
        it; so does this loop.
        """
        stop = stop or threading.Event()
        reports: list[CycleReport] = []
        while not stop.is_set() and (cycles is None or len(reports) < cycles):
            report = self.run_cycle()
            reports.append(report)
            if on_report is not None:
                on_report(report)
            if cycles is not None and len(reports) >= cycles:
                break
            interval = max(seconds, float(report.min_run_every_seconds or 0))
            if report.postpone_seconds:
                interval = max(interval, float(report.postpone_seconds))
            stop.wait(interval)
        return reports


def _int_or_none(raw: str | None) -> int | None:
    if raw is None:
        return None
    try:
        return int(raw.strip())
    except ValueError:
        return None
