"""Faults: the spec, their reproducibility from a seed, and what each does, against a scripted
QBWC server and against the real gateway (real HTTP, real nats-server)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
import uvicorn
from nats.aio.client import Client
from nats.js import JetStreamContext

from mlconnector.common.broker import make_broker
from mlconnector.common.connections import Connection, ConnectionStore
from mlconnector.common.envelopes import Command, LateRef, Outcome
from mlconnector.common.qbxml import parse_response
from mlconnector.common.streams import QB_OUTCOMES, command_subject
from mlconnector.gateway.app import create_app
from mlconnector.gateway.service import QbwcService
from mlconnector.gateway.settings import GatewaySettings
from mlconnector.qbsim.company import Company, CustomerDraft, seed_contractor
from mlconnector.qbsim.cycle_report import CycleReport
from mlconnector.qbsim.driver import WebConnectorDriver
from mlconnector.qbsim.faults import FAULT_NAMES, FaultDice, FaultSpec, FaultSpecError

from .conftest import FakeGateway, FixedClock
from .test_driver import CUSTOMER_ADD

# --- the spec ---------------------------------------------------------------------------------


def test_spec_parses_names_and_probabilities() -> None:
    spec = FaultSpec.parse("qb-not-running:0.2, response-lost:0.1,slow")
    assert spec.probabilities == {"qb-not-running": 0.2, "response-lost": 0.1, "slow": 1.0}
    assert str(spec) == "qb-not-running:0.2,response-lost:0.1,slow:1"
    assert not FaultSpec.parse(None)
    assert not FaultSpec.parse("  ")


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("qb-on-fire:0.5", "unknown fault 'qb-on-fire'"),
        ("slow:1.5", "probability of 'slow' must be from 0 to 1, got '1.5'"),
        ("slow:-0.1", "must be from 0 to 1"),
        ("slow:nan", "must be from 0 to 1"),
        ("slow:often", "must be a number from 0 to 1, got 'often'"),
        ("slow:0.1,slow:0.2", "fault 'slow' given twice"),
        ("slow,,qb-busy", "empty entry"),
    ],
)
def test_bad_spec_is_a_clear_error(spec: str, message: str) -> None:
    with pytest.raises(FaultSpecError) as caught:
        FaultSpec.parse(spec)
    assert message in str(caught.value)
    if "unknown" in message:
        assert all(name in str(caught.value) for name in FAULT_NAMES)


def test_dice_follow_the_seed() -> None:
    spec = FaultSpec.parse("qb-busy:0.5,slow:0.5")
    dice = [FaultDice(spec, seed) for seed in (7, 7, 8)]
    draws = [[d.roll("qb-busy") for _ in range(20)] for d in dice]
    assert draws[0] == draws[1]
    assert draws[0] != draws[2]
    assert not FaultDice(spec, 7).roll("response-lost")  # not in the spec: never fires


# --- against a scripted QBWC server ------------------------------------------------------------


def new_company() -> Company:
    company = Company(":memory:", clock=FixedClock())
    seed_contractor(company)
    return company


def customer_adds(count: int) -> list[str]:
    return [CUSTOMER_ADD.replace("Garcia, Maria", f"Customer {n:02d}") for n in range(count)]


def run_scripted(
    gateway: FakeGateway, company: Company, spec: str, seed: int, cycles: int, **options: Any
) -> list[CycleReport]:
    naps: list[float] = []
    with WebConnectorDriver(
        gateway.url, "acme", "s3cret", company, faults=spec, seed=seed, sleep=naps.append, **options
    ) as driver:
        return driver.run_cycles(cycles)


def fingerprint(reports: list[CycleReport]) -> list[tuple[Any, ...]]:
    return [
        (r.calls, [(f.name, f.where, f.detail) for f in r.faults], r.statuses, r.errors)
        for r in reports
    ]


MIXED = (
    "qb-not-running:0.2,file-open-other-mode:0.1,qb-busy:0.2,slow:0.3,response-lost:0.2,"
    "http-timeout:0.05"
)


def test_same_seed_same_faults_different_seed_differs(gateway: FakeGateway) -> None:
    runs: dict[int, list[list[tuple[Any, ...]]]] = {}
    for seed in (11, 11, 12, 13):
        gateway.requests = customer_adds(12)
        gateway.sent, gateway.calls, gateway.responses = 0, [], []
        gateway.percent_after = lambda sent, total: 50 if sent < total else 100
        with new_company() as company:
            reports = run_scripted(gateway, company, MIXED, seed, cycles=8, latency_ms=10)
            runs.setdefault(seed, []).append(fingerprint(reports))
            assert any(r.faults for r in reports)
    assert runs[11][0] == runs[11][1]
    assert runs[11][0] != runs[12][0] or runs[11][0] != runs[13][0]


def test_qb_not_running_sends_connection_error(gateway: FakeGateway, company: Company) -> None:
    gateway.requests = [CUSTOMER_ADD]
    [report] = run_scripted(gateway, company, "qb-not-running:1", seed=1, cycles=1)
    assert [op for op, _ in gateway.calls] == [
        "serverVersion",
        "clientVersion",
        "authenticate",
        "connectionError",
    ]
    assert gateway.calls[-1][1] == {
        "ticket": "ticket-1",
        "hresult": "0x80040408",
        "message": "Could not start QuickBooks.",
    }
    assert report.fault_names == ["qb-not-running"]
    assert report.connection_errors == [("0x80040408", "Could not start QuickBooks.")]
    assert company.customer_by_name("Garcia, Maria") is None
    assert report.ok  # the injected fault is expected trouble
    assert "faults: qb-not-running" in report.summary()


def test_file_open_other_mode(gateway: FakeGateway, company: Company) -> None:
    [report] = run_scripted(gateway, company, "file-open-other-mode", seed=1, cycles=1)
    assert gateway.calls[-1][0] == "connectionError"
    assert gateway.calls[-1][1]["hresult"] == "0x80040410"
    assert "currently open in a mode other than" in gateway.calls[-1][1]["message"]
    assert report.fault_names == ["file-open-other-mode"]


def test_connection_error_path_answer_retries_until_done(
    gateway: FakeGateway, company: Company
) -> None:
    gateway.connection_error_answer = "C:\\Other.QBW"
    [report] = run_scripted(gateway, company, "qb-not-running:1", seed=1, cycles=1)
    assert [op for op, _ in gateway.calls].count("connectionError") == 5
    assert report.errors == ["gave up after 5 connectionError calls"]


def test_qb_busy_sends_hresult_and_applies_nothing(gateway: FakeGateway, company: Company) -> None:
    gateway.requests = [CUSTOMER_ADD]
    gateway.percent_after = lambda sent, total: -1
    gateway.last_error = "QuickBooks was busy; the requests go again next cycle."
    [report] = run_scripted(gateway, company, "qb-busy:1", seed=1, cycles=1)
    assert gateway.responses == [
        {
            "ticket": "ticket-1",
            "response": None,
            "hresult": "0x80040401",
            "message": "Could not access QuickBooks.",
        }
    ]
    assert [op for op, _ in gateway.calls][3:] == [
        "sendRequestXML",
        "receiveResponseXML",
        "getLastError",
        "closeConnection",
    ]
    assert company.customer_by_name("Garcia, Maria") is None
    assert report.fault_names == ["qb-busy"]
    assert report.last_error == gateway.last_error


def test_response_lost_applies_but_never_answers(gateway: FakeGateway, company: Company) -> None:
    gateway.requests = [CUSTOMER_ADD]
    [report] = run_scripted(gateway, company, "response-lost:1", seed=1, cycles=1)
    assert [op for op, _ in gateway.calls][-1] == "sendRequestXML"
    assert gateway.responses == []
    assert company.customer_by_name("Garcia, Maria") is not None
    assert report.abandoned == "response to message 1 lost"
    assert report.requests_by_type == {"CustomerAddRs": 1}


def test_injected_http_timeout_abandons_the_session(gateway: FakeGateway, company: Company) -> None:
    gateway.requests = [CUSTOMER_ADD]
    [report] = run_scripted(gateway, company, "http-timeout:1", seed=1, cycles=1)
    assert [op for op, _ in gateway.calls][-1] == "sendRequestXML"
    assert report.faults[0].where == "sendRequestXML #1"
    assert report.abandoned == "sendRequestXML timed out (injected)"
    assert company.customer_by_name("Garcia, Maria") is None  # QuickBooks never saw it


def test_real_http_timeout_is_reported(company: Company) -> None:
    def too_slow(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("timed out", request=request)

    with httpx.Client(transport=httpx.MockTransport(too_slow)) as http:
        driver = WebConnectorDriver("http://gateway/qbwc", "u", "p", company, http=http)
        report = driver.run_cycle()
    assert report.errors[0].startswith("serverVersion: no answer from http://gateway/qbwc in time")
    assert not report.ok


def test_slow_within_the_limit(gateway: FakeGateway, company: Company) -> None:
    gateway.requests = [CUSTOMER_ADD]
    naps: list[float] = []
    with WebConnectorDriver(
        gateway.url, "acme", "s3cret", company, latency_ms=250, sleep=naps.append
    ) as driver:
        report = driver.run_cycle()
    assert naps == [0.25]
    assert report.fault_names == ["slow"]
    assert report.close_message == "OK"
    assert report.errors == []


def test_slow_over_the_request_timeout_is_reported(gateway: FakeGateway, company: Company) -> None:
    gateway.requests = [CUSTOMER_ADD]
    naps: list[float] = []
    with WebConnectorDriver(
        gateway.url,
        "acme",
        "s3cret",
        company,
        faults="slow:1",
        latency_ms=75_000,
        request_timeout=60,
        sleep=naps.append,
    ) as driver:
        report = driver.run_cycle()
    assert naps == [60]  # the Web Connector stops waiting at its limit
    assert report.timeouts == ["message 1 took 75 s, over 60 s"]
    assert report.errors == []
    assert "over the 60 s request timeout" in report.faults[0].detail
    assert report.abandoned == "message 1 timed out in QuickBooks"
    assert gateway.responses == []
    assert company.customer_by_name("Garcia, Maria") is not None  # QuickBooks finished anyway


def test_user_edit_changes_edit_sequence_before_the_next_message(
    gateway: FakeGateway, company: Company
) -> None:
    customer = company.add_customer(CustomerDraft(name="Okafor, Ada"))
    query = CUSTOMER_ADD.replace(
        '<CustomerAddRq requestID="cmd-1"><CustomerAdd><Name>Garcia, Maria</Name></CustomerAdd>'
        "</CustomerAddRq>",
        '<CustomerQueryRq requestID="q-1"><FullName>Okafor, Ada</FullName></CustomerQueryRq>',
    )
    gateway.requests = [query]
    [report] = run_scripted(gateway, company, "user-edit:1", seed=3, cycles=1)
    assert report.errors == []
    [status] = parse_response(gateway.responses[0]["response"])
    sent_sequence = status.ret_text("EditSequence")
    assert sent_sequence == customer.core.edit_sequence
    now = company.entity(customer.core.list_id)
    assert now.core.edit_sequence != sent_sequence
    assert now.phone is not None
    assert report.fault_names == ["user-edit"]
    assert f"EditSequence {sent_sequence} -> {now.core.edit_sequence}" in report.faults[0].detail


# --- against the real gateway ---------------------------------------------------------------

CONNECTION = "acme"
USER = "acme-qb"
PASSWORD = "correct horse battery staple"


@dataclass
class RealGateway:
    url: str
    js: JetStreamContext

    async def publish(self, command: Command) -> None:
        await self.js.publish(
            command_subject(command.connection),
            command.model_dump_json().encode(),
            headers={"Nats-Msg-Id": command.command_id},
        )

    async def outcomes(self) -> list[Outcome]:
        info = await self.js.stream_info(QB_OUTCOMES.name)
        found: list[Outcome] = []
        if info.state.last_seq == 0:
            return found
        for seq in range(info.state.first_seq, info.state.last_seq + 1):
            raw = await self.js.get_msg(QB_OUTCOMES.name, seq)
            if raw.subject == f"qb.outcomes.{CONNECTION}":
                found.append(Outcome.model_validate_json(raw.data or b""))
        return found


@pytest.fixture
async def real_gateway(
    nc: Client, js: JetStreamContext, nats_url: str
) -> AsyncIterator[RealGateway]:
    settings = GatewaySettings(NATS_URL=nats_url, QBWC_PORT=0, QBWC_CHANGES_EVERY_SECONDS=0)
    broker = make_broker(settings, "qbwc-gateway")
    await broker.connect()
    service = await QbwcService.open(broker, settings)
    server = uvicorn.Server(
        uvicorn.Config(
            create_app(service), host="127.0.0.1", port=0, log_level="warning", lifespan="off"
        )
    )
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            task.result()
        await asyncio.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    await (await ConnectionStore.open(js)).put(
        Connection.create(CONNECTION, f"tenant-{CONNECTION}", USER, PASSWORD)
    )
    yield RealGateway(f"http://127.0.0.1:{port}/qbwc", js)
    server.should_exit = True
    await task
    await broker.stop()


def customer_command(st_id: int, name: str) -> Command:
    event_id = f"tenant-{CONNECTION}:customer:{st_id}:v1"
    return Command(
        command_id=Command.make_id(CONNECTION, event_id, "CustomerAddRq"),
        connection=CONNECTION,
        tenant=f"tenant-{CONNECTION}",
        entity="customer",
        st_id=st_id,
        event_id=event_id,
        request_type="CustomerAddRq",
        qbxml=f"<CustomerAddRq><CustomerAdd><Name>{name}</Name></CustomerAdd></CustomerAddRq>",
        lookup_qbxml=f"<CustomerQueryRq><FullName>{name}</FullName></CustomerQueryRq>",
        summary=f"Customer {name}",
    )


def invoice_command(st_id: int, ref_number: str, customer_st_id: int) -> Command:
    event_id = f"tenant-{CONNECTION}:invoice:{st_id}:v1"
    ref = LateRef.make("customer", customer_st_id)
    return Command(
        command_id=Command.make_id(CONNECTION, event_id, "InvoiceAddRq"),
        connection=CONNECTION,
        tenant=f"tenant-{CONNECTION}",
        entity="invoice",
        st_id=st_id,
        event_id=event_id,
        request_type="InvoiceAddRq",
        qbxml=(
            "<InvoiceAddRq><InvoiceAdd>"
            f"<CustomerRef><ListID>{ref.placeholder}</ListID></CustomerRef>"
            f"<TxnDate>2024-05-01</TxnDate><RefNumber>{ref_number}</RefNumber>"
            "<InvoiceLineAdd><ItemRef><FullName>Labor</FullName></ItemRef>"
            "<Quantity>2</Quantity><Rate>95.00</Rate></InvoiceLineAdd>"
            "</InvoiceAdd></InvoiceAddRq>"
        ),
        lookup_qbxml=f"<InvoiceQueryRq><RefNumber>{ref_number}</RefNumber></InvoiceQueryRq>",
        refs=(ref,),
        summary=f"Invoice {ref_number}",
    )


def driver(real: RealGateway, company: Company, **options: Any) -> WebConnectorDriver:
    return WebConnectorDriver(real.url, USER, PASSWORD, company, sleep=lambda s: None, **options)


async def cycles_until_idle(
    real: RealGateway, company: Company, limit: int = 12
) -> list[CycleReport]:
    """Fault-free cycles until the gateway has nothing left (authenticate says "none")."""
    reports: list[CycleReport] = []
    with driver(real, company) as wc:
        for _ in range(limit):
            report = await asyncio.to_thread(wc.run_cycle)
            reports.append(report)
            assert report.errors == [], report.lines()
            if report.auth == "none":
                return reports
            await asyncio.sleep(0.25)  # the gateway's retry delay for commands it held back
    raise AssertionError([r.summary() for r in reports])


def invoices_numbered(company: Company, ref_number: str) -> int:
    return sum(1 for invoice in company.invoices() if invoice.ref_number == ref_number)


@pytest.mark.nats
async def test_cycle_against_the_real_gateway(real_gateway: RealGateway, company: Company) -> None:
    await real_gateway.publish(customer_command(501, "Garcia, Maria"))
    await real_gateway.publish(invoice_command(9001, "1001", 501))
    reports = await cycles_until_idle(real_gateway, company)
    first = reports[0]
    assert first.calls[:4] == ["serverVersion", "clientVersion", "authenticate", "sendRequestXML"]
    assert first.server_version == "ml-connector qbwc-gateway 0.1.0"
    assert first.calls[-1] == "closeConnection"
    assert sum(r.requests_by_type.get("CustomerAddRs", 0) for r in reports) == 1
    assert invoices_numbered(company, "1001") == 1
    outcomes = await real_gateway.outcomes()
    assert sorted(o.status for o in outcomes) == ["posted", "posted"]


@pytest.mark.nats
async def test_qb_not_running_keeps_commands_then_posts_once(
    real_gateway: RealGateway, company: Company
) -> None:
    await real_gateway.publish(customer_command(502, "Nguyen, Bao"))
    with driver(real_gateway, company, faults="qb-not-running:1", seed=5) as wc:
        report = await asyncio.to_thread(wc.run_cycle)
    assert report.connection_errors == [("0x80040408", "Could not start QuickBooks.")]
    assert report.calls[-1] == "connectionError"
    assert company.customer_by_name("Nguyen, Bao") is None
    assert await real_gateway.outcomes() == []  # nothing posted, nothing failed: still queued
    await cycles_until_idle(real_gateway, company)
    assert [c.full_name for c in company.customers()] == ["Nguyen, Bao"]
    assert [o.status for o in await real_gateway.outcomes()] == ["posted"]


@pytest.mark.nats
async def test_response_lost_invoice_is_not_posted_twice(
    real_gateway: RealGateway, company: Company
) -> None:
    await real_gateway.publish(customer_command(503, "Okafor, Ada"))
    await cycles_until_idle(real_gateway, company)
    await real_gateway.publish(invoice_command(9003, "1003", 503))
    with driver(real_gateway, company, faults="response-lost:1", seed=9) as wc:
        lost = await asyncio.to_thread(wc.run_cycle)
    assert lost.fault_names == ["response-lost"]
    assert lost.requests_by_type == {"InvoiceAddRs": 1}
    assert invoices_numbered(company, "1003") == 1  # QuickBooks has it; the gateway never heard
    recovery = await cycles_until_idle(real_gateway, company)
    assert invoices_numbered(company, "1003") == 1
    assert all(r.requests_by_type.get("InvoiceAddRs", 0) == 0 for r in recovery)
    assert any(r.requests_by_type.get("InvoiceQueryRs", 0) for r in recovery)  # looked up
    posted = [o for o in await real_gateway.outcomes() if o.entity == "invoice"]
    assert [o.status for o in posted] == ["posted"]
    assert posted[0].qb_id == company.invoices()[0].txn_id


def test_user_edit_is_reproducible_from_the_seed(gateway: FakeGateway) -> None:
    every_customer = CUSTOMER_ADD.replace(
        '<CustomerAddRq requestID="cmd-1"><CustomerAdd><Name>Garcia, Maria</Name></CustomerAdd>'
        "</CustomerAddRq>",
        '<CustomerQueryRq requestID="q-1"/>',
    )
    details: dict[int, list[str]] = {}
    for seed in (21, 21, 22, 23):
        gateway.requests = [every_customer]
        gateway.sent, gateway.calls, gateway.responses = 0, [], []
        with new_company() as company:
            for n in range(6):
                company.add_customer(CustomerDraft(name=f"Customer {n}"))
            [report] = run_scripted(gateway, company, "user-edit:1", seed=seed, cycles=1)
        [fault] = report.faults
        details.setdefault(seed, []).append(fault.detail)
    assert details[21][0] == details[21][1]
    assert len({details[21][0], details[22][0], details[23][0]}) > 1


def mod_command(st_id: int, name: str, phone: str) -> Command:
    add = customer_command(st_id, name)
    event_id = f"tenant-{CONNECTION}:customer:{st_id}:v2"
    return add.model_copy(
        update={
            "command_id": Command.make_id(CONNECTION, event_id, "CustomerAddRq"),
            "event_id": event_id,
            "mod_qbxml": (
                "<CustomerModRq><CustomerMod><ListID>@self</ListID>"
                "<EditSequence>@edit-sequence</EditSequence>"
                f"<Name>{name}</Name><Phone>{phone}</Phone></CustomerMod></CustomerModRq>"
            ),
        }
    )


@pytest.mark.nats
async def test_user_edit_between_query_and_mod_is_retried_with_a_fresh_edit_sequence(
    real_gateway: RealGateway, company: Company
) -> None:
    await real_gateway.publish(customer_command(504, "Okafor, Ada"))
    await cycles_until_idle(real_gateway, company)
    customer = company.customer_by_name("Okafor, Ada")
    assert customer is not None
    await real_gateway.publish(mod_command(504, "Okafor, Ada", "(555) 222-0000"))
    with driver(real_gateway, company, faults="user-edit:1", seed=2) as wc:
        edited = await asyncio.to_thread(wc.run_cycle)
    assert "user-edit" in edited.fault_names
    assert 3200 in edited.statuses  # the gateway's Mod met the office manager's edit
    await cycles_until_idle(real_gateway, company)
    now = company.entity(customer.core.list_id)
    assert now.phone == "(555) 222-0000"
    assert now.core.edit_sequence != customer.core.edit_sequence
    statuses = [(o.event_id.rsplit(":", 1)[1], o.status) for o in await real_gateway.outcomes()]
    assert ("v2", "posted") in statuses
    assert [c.full_name for c in company.customers()] == ["Okafor, Ada"]


@pytest.mark.nats
async def test_http_timeout_on_receive_response_posts_once(
    real_gateway: RealGateway, company: Company
) -> None:
    await real_gateway.publish(customer_command(505, "Ito, Ken"))
    # Seed 10 at 0.5: sendRequestXML's answer arrives in time, receiveResponseXML's does not.
    with driver(real_gateway, company, faults="http-timeout:0.5", seed=10) as wc:
        late = await asyncio.to_thread(wc.run_cycle)
    assert [(f.name, f.where) for f in late.faults] == [("http-timeout", "receiveResponseXML #1")]
    assert late.abandoned == "receiveResponseXML timed out (injected)"
    assert late.requests_by_type == {"CustomerAddRs": 1}
    await cycles_until_idle(real_gateway, company)
    assert [c.full_name for c in company.customers()] == ["Ito, Ken"]
    assert [o.status for o in await real_gateway.outcomes()] == ["posted"]
