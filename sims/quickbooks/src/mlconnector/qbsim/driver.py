"""A QuickBooks Web Connector, simulated: replays the real SOAP call sequence against a gateway.

One update cycle, as QBWC 2.x performs it (QBWC Programmer's Guide v2.0,
https://usermanual.wiki/Document/webconnectorguide.2029028244/html, and shared/FACTS.md
"SOAP / QBWC"):

    serverVersion -> clientVersion ("" go on, "W:<msg>" warn and go on, "E:<msg>" stop)
    -> authenticate -> [ticket, status, postpone-seconds?, min-run-every-seconds?]
      "nvu" (not a valid user): stop, report the invalid user.
      "none" (nothing to do), "busy" (the server is busy, come back later): the update ends
        there, without closeConnection (the session was never opened on QuickBooks' side:
        "no work to process, stop the update" / "busy, try again later", /n software's
        QBWCServer Authenticate event docs, https://cdn.nsoftware.com/help/BBF/cs/
        QBWCServer_e_Authenticate.htm; consolibyte/quickbooks-php answers "none" when its
        queue is empty, QuickBooks/WebConnector/Server.php).
      "" : use the company file QuickBooks has open; a path: open that file. A path other than
        the one open -> connectionError(0x8004040A); QuickBooks not reachable (fault
        qb-not-running / file-open-other-mode) -> connectionError(0x80040408 / 0x80040410).
        connectionError answers "done" (the update ends) or a path to try instead.
      postpone (3rd, seconds): this update does not go ahead; the next one comes after that
        long ("the update is postponed by x seconds", Programmer's Guide p. 63, quoted in
        github.com/johnballantyne/qbws/issues/2); min-run (4th): never run more often than
        that from now on. `run_every` honours both.
    loop: sendRequestXML (the first of the session carries the HostQuery response in
          strHCPResponse, the company file name, country "US" and qbXML 13.0)
      ""          -> getLastError ("NoOp": wait and ask again) -> closeConnection
      a request   -> QuickBooks (the processor) -> receiveResponseXML
                     (a message QuickBooks refuses goes back as hresult + message)
        100       -> closeConnection
        0..99     -> sendRequestXML again
        negative  -> getLastError -> closeConnection

Faults (faults.py) are injected from one seeded generator, so a run is reproducible.

SOAP 1.1, document/literal, namespace http://developer.intuit.com/, SOAPAction
"http://developer.intuit.com/<operation>", element names exactly as QBWebConnectorSvc.wsdl.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence

import httpx
from lxml import etree

from mlconnector.common.qbxml.response import QbxmlResponseError
from mlconnector.common.xmlsafe import UnsafeXMLError, parse_untrusted
from mlconnector.qbsim.company import Company, QbError
from mlconnector.qbsim.cycle_report import CycleReport, InjectedFault, RequestOutcome, outcomes_of
from mlconnector.qbsim.errors import QbxmlParseError
from mlconnector.qbsim.faults import (
    FILE_OPEN_OTHER_MODE,
    HRESULT_CANNOT_ACCESS_QB,
    HRESULT_CANNOT_START_QB,
    HRESULT_FILE_OTHER_MODE,
    HRESULT_OTHER_FILE_OPEN,
    HTTP_TIMEOUT,
    MESSAGE_CANNOT_ACCESS_QB,
    MESSAGE_CANNOT_START_QB,
    MESSAGE_FILE_OTHER_MODE,
    MESSAGE_OTHER_FILE_OPEN,
    PER_CYCLE,
    PER_MESSAGE,
    QB_BUSY,
    QB_NOT_RUNNING,
    RESPONSE_LOST,
    SLOW,
    USER_EDIT,
    FaultDice,
    FaultSpec,
)
from mlconnector.qbsim.processor import QbxmlProcessor

__all__ = [
    "DEFAULT_COMPANY_FILE",
    "DEFAULT_SLOW_LATENCY_MS",
    "HRESULT_CANNOT_START_QB",
    "QBWC_VERSION",
    "CycleReport",
    "InjectedFault",
    "RequestOutcome",
    "SoapClient",
    "SoapError",
    "SoapTimeout",
    "WebConnectorDriver",
]

QBWC_NS = "http://developer.intuit.com/"
SOAP_ENV_NS = "http://schemas.xmlsoap.org/soap/envelope/"
# What a current Web Connector reports to clientVersion.
QBWC_VERSION = "2.3.0.215"
DEFAULT_COMPANY_FILE = (
    "C:\\Users\\Public\\Documents\\Intuit\\QuickBooks\\Company Files\\Contractor.QBW"
)
# The Web Connector waits about 60 s for one request (FACTS: SOAP/QBWC).
DEFAULT_REQUEST_TIMEOUT = 60.0
DEFAULT_HTTP_TIMEOUT = 60.0
# Time per request of a "slow" message when --latency is not given.
DEFAULT_SLOW_LATENCY_MS = 1000.0
# How often the Web Connector asks connectionError again before it gives up on this update.
MAX_CONNECTION_ERRORS = 5

# What the Web Connector runs against QuickBooks to fill strHCPResponse. The real one also
# asks CompanyQuery and PreferencesQuery; the simulator implements HostQuery only.
HCP_REQUEST = (
    '<?xml version="1.0" encoding="utf-8"?>\n<?qbxml version="13.0"?>\n'
    '<QBXML><QBXMLMsgsRq onError="continueOnError"><HostQueryRq/></QBXMLMsgsRq></QBXML>'
)

Params = Sequence[tuple[str, str | int | None]]


class SoapError(Exception):
    """The gateway answered something that is not a usable SOAP response."""


class SoapTimeout(SoapError):
    """The gateway did not answer within the HTTP timeout."""


class _Abandoned(Exception):
    """The session ends here, without closeConnection (QuickBooks or the network gave up)."""


class SoapClient:
    """Calls the eight QBWC operations over SOAP 1.1."""

    def __init__(self, url: str, http: httpx.Client) -> None:
        self.url = url
        self.http = http

    @staticmethod
    def envelope(operation: str, params: Params) -> bytes:
        env = etree.Element(f"{{{SOAP_ENV_NS}}}Envelope", nsmap={"soap": SOAP_ENV_NS})
        body = etree.SubElement(env, f"{{{SOAP_ENV_NS}}}Body")
        op = etree.SubElement(body, f"{{{QBWC_NS}}}{operation}", nsmap={None: QBWC_NS})
        for name, value in params:
            if value is None:
                continue  # minOccurs="0": an absent string is left out
            child = etree.SubElement(op, f"{{{QBWC_NS}}}{name}")
            child.text = str(value)
        return bytes(etree.tostring(env, xml_declaration=True, encoding="utf-8"))

    def call(self, operation: str, params: Params = ()) -> etree._Element:
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
        except httpx.TimeoutException as exc:
            raise SoapTimeout(f"{operation}: no answer from {self.url} in time ({exc})") from exc
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

    @staticmethod
    def text_of(operation: str, result: etree._Element) -> str | None:
        found = result.find(f"{{{QBWC_NS}}}{operation}Result")
        return None if found is None else (found.text or "")

    @staticmethod
    def strings_of(operation: str, result: etree._Element) -> list[str]:
        found = result.find(f"{{{QBWC_NS}}}{operation}Result")
        if found is None:
            return []
        return [child.text or "" for child in found.findall(f"{{{QBWC_NS}}}string")]

    def result_text(self, operation: str, params: Params = ()) -> str | None:
        return self.text_of(operation, self.call(operation, params))

    def result_strings(self, operation: str, params: Params = ()) -> list[str]:
        return self.strings_of(operation, self.call(operation, params))


class WebConnectorDriver:
    """Runs Web Connector update cycles for one company file against one gateway.

    `timeout` is the HTTP timeout of each SOAP call; `request_timeout` is how long the Web
    Connector waits for QuickBooks to process one message; `latency_ms` is QuickBooks' time per
    request in a "slow" message (given without `slow` in `faults`, every message is slow).
    `sleep` waits for simulated QuickBooks time and NoOp pauses.
    """

    def __init__(
        self,
        gateway_url: str,
        user: str,
        password: str,
        company: Company,
        *,
        company_file: str = DEFAULT_COMPANY_FILE,
        http: httpx.Client | None = None,
        timeout: float = DEFAULT_HTTP_TIMEOUT,
        request_timeout: float = DEFAULT_REQUEST_TIMEOUT,
        latency_ms: float | None = None,
        faults: FaultSpec | str | None = None,
        seed: int | None = None,
        noop_wait: float = 5.0,
        max_messages: int = 10_000,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.user = user
        self.password = password
        self.company = company
        self.processor = QbxmlProcessor(company)
        self.company_file = company_file
        self._http = http or httpx.Client(timeout=timeout)
        self._owns_http = http is None
        self.soap = SoapClient(gateway_url, self._http)
        self.request_timeout = request_timeout
        spec = faults if isinstance(faults, FaultSpec) else FaultSpec.parse(faults)
        if latency_ms is not None and latency_ms > 0:
            spec = spec.with_default(SLOW, 1.0)
        self.latency_ms = latency_ms if latency_ms else DEFAULT_SLOW_LATENCY_MS
        self.dice = FaultDice(spec, seed)
        self.noop_wait = noop_wait
        self.max_messages = max_messages
        self._sleep = sleep
        self.cycles_run = 0
        # authenticate's 4th string sets the shortest interval from then on.
        self.min_run_every_seconds: int | None = None

    @property
    def faults(self) -> FaultSpec:
        return self.dice.spec

    def close(self) -> None:
        if self._owns_http:
            self._http.close()

    def __enter__(self) -> WebConnectorDriver:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- one cycle -------------------------------------------------------------------------

    def run_cycle(self) -> CycleReport:
        self.cycles_run += 1
        report = CycleReport(number=self.cycles_run)
        try:
            self._cycle(report)
        except _Abandoned as exc:
            report.abandoned = str(exc)
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
        if answer.startswith("W:"):
            # The user sees the warning and chooses to go on; a scheduled run goes on.
            report.client_version_warning = answer[2:]
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
        if report.min_run_every_seconds:
            self.min_run_every_seconds = report.min_run_every_seconds
        if status.lower() in ("nvu", "none", "busy"):
            # Terminal answers: the Web Connector makes no further call in this update.
            report.auth = status.lower()
            return
        if report.postpone_seconds and report.postpone_seconds > 0:
            # "the update is postponed by x seconds" (Programmer's Guide p. 63, quoted in
            # github.com/johnballantyne/qbws/issues/2): not now, try again in x seconds.
            report.postponed = True
            return
        if not self._open_company(report, ticket, status):
            return
        self._exchange(report, ticket)

    def _open_company(self, report: CycleReport, ticket: str, requested: str) -> bool:
        """What the Web Connector does to open the company; False when the update ends."""
        fault = self.dice.first(PER_CYCLE)
        if fault is not None:
            hresult, message = {
                QB_NOT_RUNNING: (HRESULT_CANNOT_START_QB, MESSAGE_CANNOT_START_QB),
                FILE_OPEN_OTHER_MODE: (HRESULT_FILE_OTHER_MODE, MESSAGE_FILE_OTHER_MODE),
            }[fault]
            report.faults.append(InjectedFault(fault, "cycle", f"connectionError {hresult}"))
        path = requested
        for _ in range(MAX_CONNECTION_ERRORS):
            if fault is None:
                if not path or self._is_open_company(path):
                    report.company_file = self.company_file
                    return True
                hresult, message = HRESULT_OTHER_FILE_OPEN, MESSAGE_OTHER_FILE_OPEN
            report.calls.append("connectionError")
            report.connection_errors.append((hresult, message))
            answer = (
                self.soap.result_text(
                    "connectionError",
                    [("ticket", ticket), ("hresult", hresult), ("message", message)],
                )
                or ""
            )
            if answer.strip().lower() == "done":
                if fault is None:
                    report.errors.append(
                        f"company file {requested!r} is not the one open ({self.company_file!r})"
                    )
                return False
            path = answer  # "" or a path: the Web Connector tries again with that
        report.errors.append(f"gave up after {MAX_CONNECTION_ERRORS} connectionError calls")
        return False

    def _is_open_company(self, path: str) -> bool:
        return path.strip().lower() == self.company_file.lower()

    def _hcp_response(self) -> str:
        """HostQuery run against the company, as the Web Connector fills strHCPResponse."""
        return self.processor.process(HCP_REQUEST)

    def _session_call(self, report: CycleReport, operation: str, params: Params) -> str | None:
        """sendRequestXML / receiveResponseXML, where an http-timeout can strike."""
        report.calls.append(operation)
        timed_out = self.dice.roll(HTTP_TIMEOUT)
        try:
            result = self.soap.call(operation, params)
        except SoapTimeout as exc:
            report.errors.append(str(exc))
            raise _Abandoned(f"{operation} timed out") from exc
        if timed_out:
            report.faults.append(
                InjectedFault(
                    HTTP_TIMEOUT,
                    f"{operation} #{report.calls.count(operation)}",
                    "the gateway's answer came after the HTTP timeout and was discarded",
                )
            )
            raise _Abandoned(f"{operation} timed out (injected)")
        return SoapClient.text_of(operation, result)

    def _exchange(self, report: CycleReport, ticket: str) -> None:
        soap = self.soap
        first = True
        while report.messages < self.max_messages:
            request = self._session_call(
                report,
                "sendRequestXML",
                [
                    ("ticket", ticket),
                    ("strHCPResponse", self._hcp_response() if first else ""),
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
                if last == "Interactive mode":
                    report.errors.append("the gateway asked for interactive mode (unsupported)")
                break
            report.messages += 1
            params = self._quickbooks(report, ticket, request)
            raw = self._session_call(report, "receiveResponseXML", params)
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
                if not report.faults and not report.hresults:
                    report.errors.append(f"gateway reported {percent}: {report.last_error}")
                break
        report.calls.append("closeConnection")
        report.close_message = soap.result_text("closeConnection", [("ticket", ticket)])

    def _quickbooks(
        self, report: CycleReport, ticket: str, request: str
    ) -> list[tuple[str, str | int | None]]:
        """QuickBooks runs one message (or fails to): the receiveResponseXML parameters."""
        where = f"message {report.messages}"
        fault = self.dice.first(PER_MESSAGE)
        if fault == QB_BUSY:
            report.faults.append(
                InjectedFault(QB_BUSY, where, f"QuickBooks refused it: {HRESULT_CANNOT_ACCESS_QB}")
            )
            return self._hresult(report, ticket, HRESULT_CANNOT_ACCESS_QB, MESSAGE_CANNOT_ACCESS_QB)
        try:
            response = self.processor.process(request)
        except QbxmlParseError as exc:
            report.errors.append(f"QuickBooks refused the message: {exc.detail}")
            return self._hresult(report, ticket, exc.hresult, exc.message)
        try:
            outcomes = outcomes_of(response)
        except QbxmlResponseError as exc:  # our own output; would be a bug here
            report.errors.append(f"unreadable response: {exc}")
            outcomes = []
        report.requests.extend(outcomes)
        if fault == SLOW:
            self._slow(report, where, max(1, len(outcomes)))
        if fault == RESPONSE_LOST:
            report.faults.append(
                InjectedFault(
                    RESPONSE_LOST,
                    where,
                    f"QuickBooks applied {len(outcomes)} request(s); the session died before "
                    "receiveResponseXML",
                )
            )
            raise _Abandoned(f"response to {where} lost")
        self._maybe_user_edit(report, where, response)
        return [("ticket", ticket), ("response", response), ("hresult", None), ("message", None)]

    @staticmethod
    def _hresult(
        report: CycleReport, ticket: str, hresult: str, message: str
    ) -> list[tuple[str, str | int | None]]:
        report.hresults.append((hresult, message))
        return [("ticket", ticket), ("response", ""), ("hresult", hresult), ("message", message)]

    def _slow(self, report: CycleReport, where: str, requests: int) -> None:
        seconds = self.latency_ms * requests / 1000.0
        self._sleep(min(seconds, self.request_timeout))
        if seconds <= self.request_timeout:
            report.faults.append(
                InjectedFault(
                    SLOW, where, f"QuickBooks took {seconds:g} s for {requests} request(s)"
                )
            )
            return
        detail = (
            f"QuickBooks took {seconds:g} s for {requests} request(s), over the "
            f"{self.request_timeout:g} s request timeout; the Web Connector gave up "
            "(QuickBooks still applied the message)"
        )
        report.faults.append(InjectedFault(SLOW, where, detail))
        report.timeouts.append(f"{where} took {seconds:g} s, over {self.request_timeout:g} s")
        raise _Abandoned(f"{where} timed out in QuickBooks")

    # --- the office manager ----------------------------------------------------------------

    def _maybe_user_edit(self, report: CycleReport, where: str, response: str) -> None:
        records = _queried_parties(response)
        if not records or not self.dice.roll(USER_EDIT):
            return
        kind, list_id, name, before = records[self.dice.choose(len(records))]
        phone = f"(555) 01{self.dice.choose(10)}-{self.dice.choose(10000):04d}"
        try:
            after = self.edit_as_user(kind, list_id, phone=phone)
        except QbError as exc:
            report.errors.append(f"user-edit of {kind} {name!r} failed: {exc.code} {exc.message}")
            return
        report.faults.append(
            InjectedFault(
                USER_EDIT,
                where,
                f"the office manager changed {kind} {name!r} ({list_id}) phone to {phone}: "
                f"EditSequence {before} -> {after}",
            )
        )

    def edit_as_user(self, kind: str, list_id: str, *, phone: str) -> str:
        """Someone edits a customer/vendor in QuickBooks' own window; the new EditSequence."""
        return self.company.edit_party_as_user(list_id, phone=phone).core.edit_sequence

    # --- many cycles -----------------------------------------------------------------------

    def run_cycles(
        self, count: int, *, on_report: Callable[[CycleReport], None] | None = None
    ) -> list[CycleReport]:
        """`count` cycles back to back (hints are reported, not waited for)."""
        reports = []
        for _ in range(count):
            report = self.run_cycle()
            if on_report is not None:
                on_report(report)
            reports.append(report)
        return reports

    def delay_after(self, report: CycleReport, every: float) -> float:
        """Seconds until the next cycle: the schedule, never shorter than the server's
        min-run interval (sticky), and once at least the postpone it asked for."""
        interval = max(every, float(self.min_run_every_seconds or 0))
        if report.postpone_seconds:
            interval = max(interval, float(report.postpone_seconds))
        return interval

    def run_every(
        self,
        seconds: float,
        *,
        cycles: int | None = None,
        on_report: Callable[[CycleReport], None] | None = None,
        stop: threading.Event | None = None,
        wait: Callable[[float], bool] | None = None,
    ) -> list[CycleReport]:
        """Run a cycle every `seconds` (as the Web Connector's "Every" setting) until stopped,
        honouring authenticate's postpone and min-run hints. `wait(seconds)` waits between
        cycles and returns True when asked to stop (default: `stop.wait`)."""
        stop = stop or threading.Event()
        wait = wait or stop.wait
        reports: list[CycleReport] = []
        while not stop.is_set() and (cycles is None or len(reports) < cycles):
            report = self.run_cycle()
            reports.append(report)
            if on_report is not None:
                on_report(report)
            if cycles is not None and len(reports) >= cycles:
                break
            if wait(self.delay_after(report, seconds)):
                break
        return reports


def _queried_parties(response: str) -> list[tuple[str, str, str, str]]:
    """(Customer|Vendor, ListID, FullName, EditSequence) of the records in a response's
    CustomerQueryRs/VendorQueryRs."""
    try:
        root = parse_untrusted(response.encode("utf-8"))
    except UnsafeXMLError:
        return []
    found: list[tuple[str, str, str, str]] = []
    for kind in ("Customer", "Vendor"):
        for rs in root.iter(f"{kind}QueryRs"):
            for ret in rs.iter(f"{kind}Ret"):
                list_id = ret.findtext("ListID")
                edit_sequence = ret.findtext("EditSequence")
                if list_id and edit_sequence:
                    name = ret.findtext("FullName") or ret.findtext("Name") or ""
                    found.append((kind, list_id, name, edit_sequence))
    return found


def _int_or_none(raw: str | None) -> int | None:
    if raw is None:
        return None
    try:
        return int(raw.strip())
    except ValueError:
        return None
