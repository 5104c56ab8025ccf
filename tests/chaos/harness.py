"""The chaos run's machinery: the services as their own processes (killed with SIGKILL and
started again), the ServiceTitan sandbox serving the month, the simulated Web Connector with
its faults, and the waits that tell when the pipeline has caught up.

Everything here is real: a nats-server, each service from its console entry (as in
production, tests/test_end_to_end.py), the sandbox's HTTP server, SOAP over HTTP to the
gateway, the QuickBooks simulator's company file in SQLite. Only the moments of the kills are
chosen by the run (`ChaosPlan`).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import os
import signal
import subprocess
import time
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import nats
from nats.js.errors import NotFoundError

from mlconnector.cli.supervisor import Child, console_script
from mlconnector.common.connections import Connection, ConnectionStore
from mlconnector.common.mapping import MappingSettings
from mlconnector.common.onboarding.store import ReviewStore
from mlconnector.common.streams import QB_COMMANDS, ST_EVENTS, declare_all
from mlconnector.qbsim.company import Company, seed_contractor
from mlconnector.qbsim.cycle_report import CycleReport
from mlconnector.qbsim.driver import HCP_REQUEST, WebConnectorDriver
from mlconnector.qbsim.faults import FaultDice, FaultSpec
from mlconnector.qbsim.processor import QbxmlProcessor
from mlconnector.stsandbox.month import CHAOS_MAPPING, Month
from mlconnector.stsandbox.settings import SandboxSettings
from mlconnector.stsandbox.testing import RunningSandbox, free_port

TENANT = "1234567"
CONNECTION = "chaos"
QB_USER = "chaos-qb"
PASSWORD = "chaos-password-for-tests"
# The month is April 2025: the connection starts syncing before it.
SYNC_FROM = dt.date(2025, 3, 1)

ST_ENTITIES = {
    "customers": "customer",
    "vendors": "vendor",
    "invoices": "invoice",
    "payments": "payment",
    "inventory-bills": "bill",
}


@dataclass(frozen=True)
class ChaosPlan:
    """One seeded run: the month, the faults and when the services are killed.

    `faults` is the simulated Web Connector's fault SPEC (sims/quickbooks faults.py);
    `latency_ms` QuickBooks' time per request of a slow message, and `request_timeout` how
    long the Web Connector waits for one message (a slow message over it is abandoned while
    QuickBooks applies it). `gateway_kills` are message numbers (counted over the whole run)
    after which QuickBooks has applied the message and the gateway is killed before it hears
    the answer; `audit_kill_cycle` the cycle after which audit is killed, for
    `audit_down_cycles` cycles.
    """

    seed: int
    faults: str
    latency_ms: float
    request_timeout: float
    gateway_kills: tuple[tuple[int, bool], ...]
    audit_kill_cycle: int
    audit_down_cycles: int
    max_cycles: int
    # Fault -> the chance (counted per fault: cycles, messages, calls) at which it strikes
    # for sure once, whatever the dice say: every fault happens in every run.
    forced: dict[str, int] = field(default_factory=dict)


@dataclass
class Figures:
    """What the run did, printed at the end."""

    cycles: int = 0
    messages: int = 0
    requests: int = 0
    faults: dict[str, int] = field(default_factory=dict)
    kills: list[str] = field(default_factory=list)
    # What the operator answered: a name QuickBooks already uses (3100), linked.
    answers: list[str] = field(default_factory=list)
    # One line per cycle, for a failure message.
    trace: list[str] = field(default_factory=list)
    phases: dict[str, int] = field(default_factory=dict)  # cycles per phase

    def take(self, report: CycleReport) -> None:
        self.cycles += 1
        self.trace.append(
            f"{self.cycles}: auth {report.auth!r} messages {report.messages} "
            f"requests {report.requests_by_type} statuses {sorted(set(report.statuses))} "
            f"faults {report.fault_names} errors {report.errors} "
            f"close {report.close_message!r} last error {report.last_error!r}"
        )
        self.messages += report.messages
        self.requests += report.requests_processed
        for name in report.fault_names:
            self.faults[name] = self.faults.get(name, 0) + 1


def _run(coro: Any) -> Any:
    return asyncio.run(coro)


async def _store_connection(nats_url: str) -> None:
    nc = await nats.connect(nats_url)
    try:
        js = nc.jetstream()
        await declare_all(js)
        store = await ConnectionStore.open(js)
        connection = Connection.create(CONNECTION, TENANT, QB_USER, PASSWORD)
        await store.put(
            connection.model_copy(
                update={
                    "sync_from": SYNC_FROM,
                    "mapping": MappingSettings.model_validate(CHAOS_MAPPING),
                }
            )
        )
    finally:
        await nc.close()


async def _consumer_backlog(nats_url: str, stream: str, durable: str) -> int | None:
    """Messages the durable has not acknowledged yet (None: no such consumer yet)."""
    nc = await nats.connect(nats_url)
    try:
        info = await nc.jetstream().consumer_info(stream, durable)
        return int(info.num_pending or 0) + int(info.num_ack_pending or 0)
    except NotFoundError:
        return None
    finally:
        await nc.close()


async def _subject_count(nats_url: str, stream: str, subject: str) -> int:
    nc = await nats.connect(nats_url)
    try:
        info = await nc.jetstream().stream_info(stream, subjects_filter=subject)
        return sum((info.state.subjects or {}).values())
    finally:
        await nc.close()


async def _offered_holds(nats_url: str) -> list[tuple[str, bool]]:
    """(key, can link) of the names QuickBooks refused (3100) that wait for the operator."""
    nc = await nats.connect(nats_url)
    try:
        review = await ReviewStore.open(nc.jetstream())
        holds = await review.holds(CONNECTION)
        return [(h.key, h.can_link) for h in holds.items.values() if h.state == "offered"]
    finally:
        await nc.close()


async def _audit_backlog(nats_url: str) -> int | None:
    total = 0
    for stream in ("ST_EVENTS", "QB_COMMANDS", "QB_OUTCOMES", "QB_CHANGES"):
        backlog = await _consumer_backlog(nats_url, stream, "audit")
        if backlog is None:
            return None
        total += backlog
    return total


def wait_until(what: str, check: Callable[[], bool], seconds: float, every: float = 0.3) -> None:
    deadline = time.monotonic() + seconds
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} did not happen within {seconds:.0f} s")
        time.sleep(every)


class ChaosSystem:
    """The sandbox, the four services and the Web Connector, for one run."""

    def __init__(self, nats_url: str, home: Path, month: Month, plan: ChaosPlan) -> None:
        self.nats_url = nats_url
        self.home = home
        self.month = month
        self.plan = plan
        self.figures = Figures()
        self.children: dict[str, Child] = {}
        self.ports = {name: free_port() for name in ("audit", "gateway", "ingest")}
        self.audit_url = f"http://127.0.0.1:{self.ports['audit']}"
        self.gateway_url = f"http://127.0.0.1:{self.ports['gateway']}/qbwc"
        self.sandbox = RunningSandbox(SandboxSettings(tenant=TENANT, seed="empty", page_size=50))
        self.company = Company(home / "quickbooks.sqlite")
        self._gateway_kills = list(plan.gateway_kills)
        self._messages = 0
        self.driver: WebConnectorDriver | None = None

    # --- processes --------------------------------------------------------------------

    def _env(self, name: str) -> dict[str, str]:
        base = {
            "NATS_URL": self.nats_url,
            "MLCONNECTOR_HOME": str(self.home / "mlconnector"),
            "LOG_LEVEL": "INFO",
        }
        if name == "audit":
            return {
                **base,
                "AUDIT_PORT": str(self.ports["audit"]),
                "AUDIT_DATABASE_URL": f"sqlite+aiosqlite:///{self.home / 'audit.db'}",
                # What a killed audit held comes back this soon (not a minute later).
                "AUDIT_ACK_WAIT_SECONDS": "5",
            }
        if name == "qbwc-gateway":
            return {
                **base,
                "QBWC_PORT": str(self.ports["gateway"]),
                "QBWC_PUBLIC_URL": self.gateway_url,
                "QBWC_BATCH_SIZE": "10",
                "QBWC_ACK_WAIT_SECONDS": "5",
                # QuickBooks' changes (the office manager's edits) are asked for often.
                "QBWC_CHANGES_EVERY_SECONDS": "3",
            }
        if name == "mapper":
            return {**base, "MAPPER_BATCH_SIZE": "16", "MAPPER_ACK_WAIT_SECONDS": "3"}
        return {
            **base,
            "INGEST_PORT": str(self.ports["ingest"]),
            "ST_API_BASE_URL": self.sandbox.url,
            "ST_AUTH_URL": self.sandbox.url,
            "ST_CLIENT_ID": "sandbox-client",
            "ST_CLIENT_SECRET": "sandbox-secret",
            "ST_APP_KEY": "sandbox-app-key",
            "ST_TENANT": TENANT,
            "ST_POLL_SECONDS": "1",
            "ST_LIST_OVERLAP_SECONDS": "0",
            "ST_WRITEBACK_RETRY_SECONDS": "1",
            "ST_CONNECTIONS_REFRESH_SECONDS": "2",
        }

    def _health(self, name: str) -> str | None:
        return {
            "audit": f"{self.audit_url}/healthz",
            "qbwc-gateway": f"http://127.0.0.1:{self.ports['gateway']}/healthz",
            "st-ingest": f"http://127.0.0.1:{self.ports['ingest']}/healthz",
        }.get(name)

    def start(self, name: str) -> None:
        child = self.children.get(name)
        if child is None:
            child = Child(
                name,
                [console_script(f"mlconnector-{name}")],
                self._env(name),
                self.home / "logs" / f"{name}.log",
            )
            self.children[name] = child
        child.start()
        health = self._health(name)
        if health is not None:
            _wait_healthy(health, child)

    def kill(self, name: str) -> None:
        """SIGKILL: no clean-up, whatever it holds (kill -9)."""
        child = self.children[name]
        assert child.process is not None, f"{name} was never started"
        assert child.exited() is None, f"{name} is not running"
        os.killpg(child.process.pid, signal.SIGKILL)
        child.process.wait()
        self.figures.kills.append(name)

    def stop_all(self) -> None:
        for child in reversed(list(self.children.values())):
            child.stop()

    @contextmanager
    def running(self) -> Iterator[ChaosSystem]:
        _run(_store_connection(self.nats_url))
        seed_contractor(self.company)
        self.sandbox.start()
        try:
            self.month.load(self.sandbox.store)
            for name in ("audit", "qbwc-gateway", "st-ingest"):
                self.start(name)
            yield self
        finally:
            if self.driver is not None:
                self.driver.close()
            self.stop_all()
            self.sandbox.stop()
            self.company.close()

    def errors(self) -> list[str]:
        """Every ERROR line and traceback the services logged (a kill -9 logs nothing)."""
        found = []
        for name, child in self.children.items():
            if not child.log_path.exists():
                continue
            for line in child.log_path.read_text(errors="replace").splitlines():
                if " ERROR " in line or " CRITICAL " in line or line.startswith("Traceback"):
                    found.append(f"{name}: {line}")
        return found

    def logs(self) -> str:
        """The tail of every service's log, for a failure message."""
        parts = []
        for name, child in self.children.items():
            text = child.log_path.read_text(errors="replace") if child.log_path.exists() else ""
            parts.append(f"--- {name} ---\n{text[-2500:]}")
        return "\n".join(parts)

    # --- waits --------------------------------------------------------------------------

    def events(self, entity: str) -> int:
        return int(
            _run(_subject_count(self.nats_url, ST_EVENTS.name, f"st.events.{TENANT}.{entity}"))
        )

    def commands(self) -> int:
        """Commands the mapper has published for the connection so far."""
        subject = f"qb.commands.{CONNECTION}"
        return int(_run(_subject_count(self.nats_url, QB_COMMANDS.name, subject)))

    def mapper_backlog(self) -> int | None:
        """Events the mapper has not acknowledged yet (None: it never started)."""
        backlog: int | None = _run(_consumer_backlog(self.nats_url, ST_EVENTS.name, "mapper"))
        return backlog

    def wait_for_events(self, counts: dict[str, int], seconds: float = 120) -> None:
        """st-ingest has published at least `counts` events per canonical entity."""
        wait_until(
            f"st-ingest publishing {counts}",
            lambda: all(self.events(entity) >= n for entity, n in counts.items()),
            seconds,
        )

    def wait_mapped(self, seconds: float = 120) -> None:
        """The mapper has mapped (and acknowledged) every event published so far."""
        wait_until("the mapper catching up", lambda: self.mapper_backlog() == 0, seconds)

    def wait_audited(self, seconds: float = 120) -> None:
        wait_until(
            "audit catching up",
            lambda: _run(_audit_backlog(self.nats_url)) == 0,
            seconds,
        )

    # --- the Web Connector ----------------------------------------------------------------

    def web_connector(self) -> WebConnectorDriver:
        if self.driver is None:
            self.driver = WebConnectorDriver(
                self.gateway_url,
                QB_USER,
                PASSWORD,
                self.company,
                timeout=30,
                request_timeout=self.plan.request_timeout,
                latency_ms=None,
                faults=self.plan.faults,
                seed=self.plan.seed,
            )
            self.driver.latency_ms = self.plan.latency_ms
            self.driver.dice = EveryFaultDice(
                FaultSpec.parse(self.plan.faults), self.plan.seed, self.plan.forced
            )
            self._kill_gateway_mid_message(self.driver)
        return self.driver

    def _kill_gateway_mid_message(self, driver: WebConnectorDriver) -> None:
        """QuickBooks applies the message, then the gateway dies before it hears the answer
        (kill -9 while the Web Connector holds the response); it is started again at once."""
        driver.processor = _KillingProcessor(driver.processor, self)  # type: ignore[assignment]

    def cycle(self, phase: str) -> CycleReport:
        report = self.web_connector().run_cycle()
        if self.children["qbwc-gateway"].exited() is not None:
            self.start("qbwc-gateway")  # killed in this cycle: its answer was lost
        self.figures.take(report)
        self.figures.phases[phase] = self.figures.phases.get(phase, 0) + 1
        self._answer_the_operator_questions()
        if self.figures.cycles == self.plan.audit_kill_cycle:
            self.kill("audit")
        if self.figures.cycles == self.plan.audit_kill_cycle + self.plan.audit_down_cycles:
            self.start("audit")
        return report

    def _answer_the_operator_questions(self) -> None:
        """A vendor or customer whose name the company file already uses waits for the
        operator (README: "No silent 3100"): it is the same one, so it is linked, with the
        command an operator runs."""
        for key, can_link in _run(_offered_holds(self.nats_url)):
            choice = "link" if can_link else "suffix"
            result = subprocess.run(
                [
                    console_script("mlconnector"),
                    "onboard",
                    CONNECTION,
                    "--resolve",
                    f"{key}={choice}",
                ],
                env={**os.environ, "NATS_URL": self.nats_url},
                capture_output=True,
                text=True,
                timeout=60,
            )
            assert result.returncode == 0, result.stdout + result.stderr
            self.figures.answers.append(f"{key}={choice}")

    def sync_until_quiet(self, phase: str, quiet_cycles: int = 3) -> None:
        """Cycles until QuickBooks has nothing more to do: `quiet_cycles` sessions in a row
        answered "none" while ServiceTitan's side has nothing left to map."""
        quiet = 0
        while quiet < quiet_cycles:
            if self.figures.cycles >= self.plan.max_cycles:
                trace = "\n".join(self.figures.trace[-15:])
                raise AssertionError(
                    f"not converged after {self.figures.cycles} Web Connector cycles "
                    f"({phase}); the last cycles:\n{trace}\n{self.logs()}"
                )
            report = self.cycle(phase)
            if report.auth == "none" and self.mapper_backlog() == 0:
                quiet += 1
                time.sleep(1.0)  # st-ingest's poll: write-backs come back as versions
            else:
                quiet = 0


class EveryFaultDice(FaultDice):
    """The simulator's seeded dice, plus each fault of `forced` striking for sure from its
    n-th chance (its n-th roll) until it has struck, so that a short run meets every fault.
    The generator is drawn exactly as without forcing."""

    def __init__(self, spec: FaultSpec, seed: int, forced: dict[str, int]) -> None:
        super().__init__(spec, seed)
        self._forced = {name: n for name, n in forced.items() if name in spec.probabilities}
        self._rolls: dict[str, int] = {}
        self.struck: set[str] = set()

    def _fires(self, name: str) -> bool:
        drawn = super().roll(name)
        self._rolls[name] = self._rolls.get(name, 0) + 1
        due = name in self._forced and self._rolls[name] >= self._forced[name]
        return drawn or (due and name not in self.struck)

    def roll(self, name: str) -> bool:
        fired = self._fires(name)
        if fired:
            self.struck.add(name)
        return fired

    def first(self, names: tuple[str, ...]) -> str | None:
        fired = [name for name in names if self._fires(name)]
        if not fired:
            return None
        self.struck.add(fired[0])  # only the first applies: the others are still due
        return fired[0]


class _KillingProcessor:
    """QuickBooks' request processor, after which the gateway is killed at the planned
    message numbers."""

    def __init__(self, processor: QbxmlProcessor, system: ChaosSystem) -> None:
        self._processor = processor
        self._system = system

    def process(self, request: str) -> str:
        response = self._processor.process(request)
        if request == HCP_REQUEST:
            return response  # the Web Connector's own HostQuery (strHCPResponse)
        system = self._system
        system._messages += 1
        kills = system._gateway_kills
        if kills and system._messages >= kills[0][0]:
            _, at_once = kills.pop(0)
            system.kill("qbwc-gateway")
            if at_once:
                system.start("qbwc-gateway")
        return response


def _wait_healthy(url: str, child: Child, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if child.exited() is not None:
            log = child.log_path.read_text(errors="replace")[-3000:]
            raise AssertionError(f"{child.name} exited with {child.exited()}:\n{log}")
        try:
            with urllib.request.urlopen(url, timeout=1) as response:
                if response.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.1)
    raise AssertionError(f"{url} did not answer within {seconds:.0f} s")


def get_json(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=10) as response:
        return json.loads(response.read())
