"""What one simulated Web Connector update cycle did, and how the command line prints it."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from mlconnector.common.qbxml.response import parse_response


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


@dataclass(frozen=True)
class InjectedFault:
    """One fault the driver injected: which, where (e.g. "cycle", "message 2"), and what
    QuickBooks / the Web Connector did because of it."""

    name: str
    where: str
    detail: str

    def __str__(self) -> str:
        return f"{self.name} @ {self.where}: {self.detail}"


@dataclass
class CycleReport:
    number: int = 0  # 1 for the driver's first cycle
    auth: str | None = None  # the second authenticate string: "", a path, "none", "nvu", "busy"
    ticket: str | None = None
    server_version: str | None = None
    client_version_answer: str | None = None
    client_version_warning: str | None = None  # "W:<message>": the user is warned, go on
    postpone_seconds: int | None = None  # authenticate's 3rd string: wait before next update
    min_run_every_seconds: int | None = None  # authenticate's 4th string: minimum interval
    postponed: bool = False  # the postpone made the Web Connector skip this update
    company_file: str | None = None  # the company file QuickBooks worked on
    calls: list[str] = field(default_factory=list)
    messages: int = 0  # qbXML messages the gateway sent (sendRequestXML answers)
    requests: list[RequestOutcome] = field(default_factory=list)
    faults: list[InjectedFault] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)  # trouble nobody injected
    timeouts: list[str] = field(default_factory=list)  # the Web Connector stopped waiting
    connection_errors: list[tuple[str, str]] = field(default_factory=list)  # (hresult, message)
    hresults: list[tuple[str, str]] = field(default_factory=list)  # sent to receiveResponseXML
    last_error: str | None = None
    close_message: str | None = None
    percent: int | None = None
    abandoned: str | None = None  # why the session ended without closeConnection

    @property
    def requests_processed(self) -> int:
        return len(self.requests)

    @property
    def statuses(self) -> list[int]:
        return [r.status_code for r in self.requests]

    @property
    def requests_by_type(self) -> dict[str, int]:
        return dict(sorted(Counter(r.response_type for r in self.requests).items()))

    @property
    def fault_names(self) -> list[str]:
        return [f.name for f in self.faults]

    @property
    def ok(self) -> bool:
        """Nothing went wrong that an operator should look at. Injected faults are expected
        trouble: a session they abandoned or a connectionError they caused is still "ok"."""
        if self.auth in ("nvu", "busy") or self.errors:
            return False
        troubled = self.abandoned is not None or bool(self.connection_errors)
        return bool(self.faults) or not troubled

    def summary(self) -> str:
        if self.auth == "nvu":
            return "authenticate: not a valid user (nvu)"
        if self.auth == "none":
            return "authenticate: nothing to do (none)" + self._hints()
        if self.auth == "busy":
            return "authenticate: gateway busy, try later (busy)" + self._hints()
        if self.postponed:
            return f"authenticate: update postponed by the application{self._hints()}"
        counts: Counter[str] = Counter(
            "ok" if r.status_code == 0 else str(r.status_code) for r in self.requests
        )
        requests = f"{self.requests_processed} request(s)"
        if self.requests:
            by_type = ", ".join(
                f"{rs.removesuffix('Rs')} {n}" for rs, n in self.requests_by_type.items()
            )
            requests += f" ({by_type})"
        parts = [f"{self.messages} message(s)", requests]
        if counts:
            parts.append(", ".join(f"{k}: {v}" for k, v in sorted(counts.items())))
        if self.faults:
            counted = Counter(self.fault_names)
            parts.append(
                "faults: "
                + ", ".join(name if n == 1 else f"{name} x{n}" for name, n in counted.items())
            )
        if self.connection_errors:
            parts.append(
                "connectionError: " + "; ".join(f"{h} {m}" for h, m in self.connection_errors)
            )
        if self.timeouts:
            parts.append("timeouts: " + "; ".join(self.timeouts))
        if self.errors:
            parts.append("errors: " + "; ".join(self.errors))
        if self.abandoned is not None:
            parts.append(f"abandoned: {self.abandoned}")
        if self.close_message is not None:
            parts.append(f"closed: {self.close_message!r}")
        return " | ".join(parts) + self._hints()

    def _hints(self) -> str:
        hints = []
        if self.postpone_seconds:
            hints.append(f"postpone {self.postpone_seconds}s")
        if self.min_run_every_seconds:
            hints.append(f"run at most every {self.min_run_every_seconds}s")
        return f" ({', '.join(hints)})" if hints else ""

    def lines(self) -> list[str]:
        """The readable form: the summary, then one line per request and per fault."""
        out = [
            f"cycle {self.number}: {self.summary()}" if self.number else f"cycle: {self.summary()}"
        ]
        if self.client_version_warning:
            out.append(f"  clientVersion warning: {self.client_version_warning}")
        for request in self.requests:
            out.append(
                f"  {request.response_type:<18} {request.status_code:>5} "
                f"{request.name or '-':<30} {request.txn_or_list_id or '-'}"
                + ("" if request.status_code == 0 else f"  {request.status_message}")
            )
        for fault in self.faults:
            out.append(f"  fault {fault}")
        if self.last_error and (self.errors or self.faults or self.hresults):
            out.append(f"  getLastError: {self.last_error}")
        return out


def outcomes_of(response_xml: str) -> list[RequestOutcome]:
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
