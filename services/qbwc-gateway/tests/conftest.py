"""Gateway test harness: the real app on a real HTTP port, zeep as the Web Connector's SOAP
client, and a tiny fake QuickBooks that answers the four request types these tests use."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import pytest
import uvicorn
import zeep
from lxml import etree
from nats.aio.client import Client
from nats.js import JetStreamContext
from nats.js.errors import NotFoundError
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from mlconnector.common.broker import make_broker
from mlconnector.common.connections import Connection, ConnectionStore
from mlconnector.common.envelopes import (
    FRESH_EDIT_SEQUENCE,
    SELF_ID,
    Command,
    LateRef,
    Outcome,
)
from mlconnector.common.qbxml import schema as qbschema
from mlconnector.common.streams import QB_COMMANDS, QB_OUTCOMES, command_subject
from mlconnector.gateway.app import create_app
from mlconnector.gateway.feed import durable_name
from mlconnector.gateway.ledger import LedgerStore, WorkEntry
from mlconnector.gateway.service import QbwcService
from mlconnector.gateway.settings import GatewaySettings
from mlconnector.qbsim.company import Company
from mlconnector.qbsim.processor import QbxmlProcessor

BINDING = "{http://developer.intuit.com/}TroubleshootWebServiceFSSoap"
COMPANY_FILE = r"C:\Users\Public\Documents\Intuit\QuickBooks\Company Files\Acme Plumbing.qbw"


class FakeQuickBooks:
    """Answers CustomerAdd/Query/Mod, InvoiceAdd/Query and ReceivePaymentAdd/Query; every
    message it gets and every answer it gives must validate against Intuit's schema."""

    def __init__(self) -> None:
        self.customers: dict[str, tuple[str, str]] = {}  # Name -> (ListID, EditSequence)
        self.phones: dict[str, str] = {}  # ListID -> Phone, as the last Mod set it
        self.invoices: list[dict[str, str]] = []
        self.payments: list[dict[str, str]] = []
        self.messages: list[etree._Element] = []
        self.locked: set[str] = set()  # names whose next CustomerAdd meets a locked record
        # ListID -> how many more CustomerQuery answers are followed by a user's edit of
        # that customer (a stale EditSequence for the Mod that follows).
        self.edit_after_query: dict[str, int] = {}
        self._ids = itertools.count(1)

    def edit_customer(self, name: str) -> None:
        """Someone edits the customer in QuickBooks: its EditSequence changes."""
        list_id, edit_sequence = self.customers[name]
        self.customers[name] = (list_id, str(int(edit_sequence) + 1))

    def delete_customer(self, name: str) -> None:
        del self.customers[name]

    def requests(self, tag: str) -> list[etree._Element]:
        return [rq for msg in self.messages for rq in msg.iter(tag)]

    def process(self, request_xml: str) -> str:
        qbschema.validate(request_xml)
        root = etree.fromstring(request_xml.encode())
        self.messages.append(root)
        out = etree.Element("QBXML")
        msgs = etree.SubElement(out, "QBXMLMsgsRs")
        msgs_rq = root.find("QBXMLMsgsRq")
        assert msgs_rq is not None
        for rq in msgs_rq:
            handler = getattr(self, "_" + rq.tag)
            rs = handler(rq)
            rs.set("requestID", rq.get("requestID"))
            msgs.append(rs)
        response = '<?xml version="1.0" ?>\n' + etree.tostring(out, encoding="unicode")
        qbschema.validate(response)
        return response

    @staticmethod
    def _rs(tag: str, code: int, message: str) -> etree._Element:
        severity = "Info" if code < 500 else "Warn" if code < 1000 else "Error"
        return etree.Element(
            tag, statusCode=str(code), statusSeverity=severity, statusMessage=message
        )

    @staticmethod
    def _sub(parent: etree._Element, tag: str, text: str) -> None:
        etree.SubElement(parent, tag).text = text

    def _customer_ret(self, rs: etree._Element, name: str) -> None:
        list_id, edit_sequence = self.customers[name]
        ret = etree.SubElement(rs, "CustomerRet")
        for tag, text in (
            ("ListID", list_id),
            ("TimeCreated", "2025-03-04T10:00:00-08:00"),
            ("TimeModified", "2025-03-04T10:00:00-08:00"),
            ("EditSequence", edit_sequence),
            ("Name", name),
            ("FullName", name),
            ("IsActive", "true"),
            ("Sublevel", "0"),
        ):
            self._sub(ret, tag, text)

    def _invoice_ret(self, rs: etree._Element, invoice: dict[str, str]) -> None:
        ret = etree.SubElement(rs, "InvoiceRet")
        for tag, text in (
            ("TxnID", invoice["TxnID"]),
            ("TimeCreated", "2025-03-04T10:00:00-08:00"),
            ("TimeModified", "2025-03-04T10:00:00-08:00"),
            ("EditSequence", invoice["EditSequence"]),
            ("TxnNumber", invoice["TxnNumber"]),
        ):
            self._sub(ret, tag, text)
        ref = etree.SubElement(ret, "CustomerRef")
        self._sub(ref, "ListID", invoice["CustomerListID"])
        self._sub(ret, "TxnDate", "2025-03-04")
        self._sub(ret, "RefNumber", invoice["RefNumber"])
        if invoice.get("ExternalGUID"):
            self._sub(ret, "ExternalGUID", invoice["ExternalGUID"])

    def _CustomerAddRq(self, rq: etree._Element) -> etree._Element:
        name = rq.findtext("CustomerAdd/Name") or ""
        if name in self.locked:
            self.locked.discard(name)
            return self._rs(
                "CustomerAddRs",
                3180,
                "There was an error when saving a Customers list element. QuickBooks error "
                "message: The record is in use by another user.",
            )
        if name in self.customers:
            return self._rs(
                "CustomerAddRs",
                3100,
                f'The name "{name}" of the list element is already in use.',
            )
        n = next(self._ids)
        self.customers[name] = (f"80000{n:03d}-1741111111", f"174111111{n}")
        rs = self._rs("CustomerAddRs", 0, "Status OK")
        self._customer_ret(rs, name)
        return rs

    def _CustomerQueryRq(self, rq: etree._Element) -> etree._Element:
        list_ids = [node.text or "" for node in rq.iter("ListID")]
        if list_ids:
            return self._customers_by_list_id(rq, list_ids)
        name = rq.findtext("FullName") or ""
        if name not in self.customers:
            return self._rs(
                "CustomerQueryRs", 1, "A query request did not find a matching object in QuickBooks"
            )
        rs = self._rs("CustomerQueryRs", 0, "Status OK")
        self._customer_ret(rs, name)
        return rs

    def _VendorQueryRq(self, rq: etree._Element) -> etree._Element:
        # This QuickBooks has no vendors: every name it holds is a customer's.
        return self._rs(
            "VendorQueryRs", 1, "A query request did not find a matching object in QuickBooks"
        )

    def _customers_by_list_id(self, rq: etree._Element, list_ids: list[str]) -> etree._Element:
        by_id = {list_id: name for name, (list_id, _) in self.customers.items()}
        missing = [list_id for list_id in list_ids if list_id not in by_id]
        if missing:
            rs = self._rs(
                "CustomerQueryRs",
                500,
                "The query request has not been fully completed. There was a required element "
                f'("{missing[0]}") that could not be found in QuickBooks.',
            )
        else:
            rs = self._rs("CustomerQueryRs", 0, "Status OK")
        wanted = {node.text for node in rq.iter("IncludeRetElement")}
        for list_id in list_ids:
            if list_id in missing:
                continue
            self._customer_ret(rs, by_id[list_id])
            if wanted:
                ret = rs[-1]
                for child in list(ret):
                    if child.tag not in wanted:
                        ret.remove(child)
            if self.edit_after_query.get(list_id, 0) > 0:
                self.edit_after_query[list_id] -= 1
                self.edit_customer(by_id[list_id])
        return rs

    def _CustomerModRq(self, rq: etree._Element) -> etree._Element:
        list_id = rq.findtext("CustomerMod/ListID") or ""
        edit_sequence = rq.findtext("CustomerMod/EditSequence") or ""
        by_id = {lid: name for name, (lid, _) in self.customers.items()}
        if list_id not in by_id:
            return self._rs(
                "CustomerModRs",
                3000,
                f'The given object ID "{list_id}" in the field "list id" is invalid.',
            )
        name = by_id[list_id]
        current = self.customers[name][1]
        if edit_sequence != current:
            return self._rs(
                "CustomerModRs",
                3200,
                f'The provided edit sequence "{edit_sequence}" is out-of-date.',
            )
        new_name = rq.findtext("CustomerMod/Name") or name
        del self.customers[name]
        self.customers[new_name] = (list_id, str(int(current) + 1000))
        phone = rq.findtext("CustomerMod/Phone")
        if phone is not None:
            self.phones[list_id] = phone
        rs = self._rs("CustomerModRs", 0, "Status OK")
        self._customer_ret(rs, new_name)
        return rs

    def _ReceivePaymentAddRq(self, rq: etree._Element) -> etree._Element:
        add = rq.find("ReceivePaymentAdd")
        assert add is not None
        applied_to = add.findtext("AppliedToTxnAdd/TxnID") or ""
        if applied_to not in {i["TxnID"] for i in self.invoices}:
            return self._rs(
                "ReceivePaymentAddRs",
                3120,
                f'Object "{applied_to}" specified in the request cannot be found.',
            )
        n = next(self._ids)
        payment = {
            "TxnID": f"{n:X}-1741111111",
            "EditSequence": f"174111111{n}",
            "CustomerListID": add.findtext("CustomerRef/ListID") or "",
            "RefNumber": add.findtext("RefNumber") or "",
            "ExternalGUID": add.findtext("ExternalGUID") or "",
            "AppliedTo": applied_to,
        }
        self.payments.append(payment)
        rs = self._rs("ReceivePaymentAddRs", 0, "Status OK")
        self._payment_ret(rs, payment)
        return rs

    def _ReceivePaymentQueryRq(self, rq: etree._Element) -> etree._Element:
        ref_number = rq.findtext("RefNumber")
        found = [p for p in self.payments if p["RefNumber"] == ref_number]
        if not found:
            return self._rs(
                "ReceivePaymentQueryRs",
                1,
                "A query request did not find a matching object in QuickBooks",
            )
        rs = self._rs("ReceivePaymentQueryRs", 0, "Status OK")
        for payment in found:
            self._payment_ret(rs, payment)
        return rs

    def _payment_ret(self, rs: etree._Element, payment: dict[str, str]) -> None:
        ret = etree.SubElement(rs, "ReceivePaymentRet")
        for tag, text in (
            ("TxnID", payment["TxnID"]),
            ("TimeCreated", "2025-03-05T10:00:00-08:00"),
            ("TimeModified", "2025-03-05T10:00:00-08:00"),
            ("EditSequence", payment["EditSequence"]),
        ):
            self._sub(ret, tag, text)
        ref = etree.SubElement(ret, "CustomerRef")
        self._sub(ref, "ListID", payment["CustomerListID"])
        self._sub(ret, "TxnDate", "2025-03-05")
        self._sub(ret, "RefNumber", payment["RefNumber"])
        if payment["ExternalGUID"]:
            self._sub(ret, "ExternalGUID", payment["ExternalGUID"])

    def _InvoiceAddRq(self, rq: etree._Element) -> etree._Element:
        add = rq.find("InvoiceAdd")
        assert add is not None
        customer_id = add.findtext("CustomerRef/ListID") or ""
        if customer_id not in {list_id for list_id, _ in self.customers.values()}:
            return self._rs(
                "InvoiceAddRs",
                3140,
                f'There is an invalid reference to QuickBooks Customer "{customer_id}" in the '
                "Invoice.",
            )
        n = next(self._ids)
        invoice = {
            "TxnID": f"{n:X}-1741111111",
            "EditSequence": f"174111111{n}",
            "TxnNumber": str(n),
            "CustomerListID": customer_id,
            "RefNumber": add.findtext("RefNumber") or "",
            "ExternalGUID": add.findtext("ExternalGUID") or "",
        }
        self.invoices.append(invoice)
        rs = self._rs("InvoiceAddRs", 0, "Status OK")
        self._invoice_ret(rs, invoice)
        return rs

    def _InvoiceQueryRq(self, rq: etree._Element) -> etree._Element:
        ref_number = rq.findtext("RefNumber")
        found = [i for i in self.invoices if i["RefNumber"] == ref_number]
        if not found:
            return self._rs(
                "InvoiceQueryRs", 1, "A query request did not find a matching object in QuickBooks"
            )
        rs = self._rs("InvoiceQueryRs", 0, "Status OK")
        for invoice in found:
            self._invoice_ret(rs, invoice)
        return rs


class QuickBooks(Protocol):
    """What a Web Connector session needs of QuickBooks: a qbXML message in, one out."""

    def process(self, request_xml: str) -> str: ...


class SimQuickBooks:
    """The simulated company file (sims/quickbooks) as QuickBooks, keeping every message."""

    def __init__(self, company: Company) -> None:
        self.company = company
        self._processor = QbxmlProcessor(company)
        self.messages: list[etree._Element] = []
        self.answers: list[etree._Element] = []

    def process(self, request_xml: str) -> str:
        self.messages.append(etree.fromstring(request_xml.encode()))
        response = self._processor.process(request_xml)
        self.answers.append(etree.fromstring(response.encode()))
        return response

    def requests(self, tag: str) -> list[etree._Element]:
        return [rq for msg in self.messages for rq in msg.iter(tag)]

    def responses(self) -> list[etree._Element]:
        """Every response element QuickBooks answered, in order (e.g. <CustomerQueryRs>)."""
        return [rs for msg in self.answers for rs in msg.iterfind("QBXMLMsgsRs/*")]


@dataclass
class SessionLog:
    auth: list[str | None]
    sent: list[str] = field(default_factory=list)
    percents: list[int] = field(default_factory=list)
    last_error: str | None = None
    closed: str | None = None

    @property
    def ticket(self) -> str | None:
        return self.auth[0]


@dataclass
class Gateway:
    url: str
    service: QbwcService
    settings: GatewaySettings
    soap: Any
    nc: Client
    js: JetStreamContext

    async def call(self, operation: str, *args: Any) -> Any:
        # zeep is synchronous; the server runs on this event loop, so call it from a thread.
        return await asyncio.to_thread(getattr(self.soap, operation), *args)

    async def send(self, ticket: str) -> str | None:
        result: str | None = await self.call(
            "sendRequestXML", ticket, "", COMPANY_FILE, "US", 13, 0
        )
        return result

    async def run_session(
        self, username: str, password: str, qb: QuickBooks, max_rounds: int = 20
    ) -> SessionLog:
        """What the Web Connector does in one scheduled update."""
        log = SessionLog(auth=await self.call("authenticate", username, password))
        ticket, verdict = log.auth[0], log.auth[1]
        if verdict in ("nvu", "none") or ticket is None:
            return log
        for _ in range(max_rounds):
            request = await self.send(ticket)
            if not request:
                log.last_error = await self.call("getLastError", ticket)
                break
            log.sent.append(request)
            percent = await self.call("receiveResponseXML", ticket, qb.process(request), "", "")
            log.percents.append(percent)
            if percent < 0:
                log.last_error = await self.call("getLastError", ticket)
                break
            if percent >= 100:
                break
        log.closed = await self.call("closeConnection", ticket)
        return log

    async def add_connection(
        self, name: str, username: str, password: str, company_file: str = COMPANY_FILE
    ) -> Connection:
        connection = Connection.create(name, f"tenant-{name}", username, password)
        connection.company_file = company_file
        await (await ConnectionStore.open(self.js)).put(connection)
        return connection

    async def publish(self, command: Command, headers: dict[str, str] | None = None) -> None:
        await self.js.publish(
            command_subject(command.connection),
            command.model_dump_json().encode(),
            headers={"Nats-Msg-Id": command.command_id, **(headers or {})},
        )

    async def ledger(self, connection: str) -> dict[str, WorkEntry]:
        """The connection's work ledger as a fresh reader sees it."""
        return await LedgerStore(self.nc, self.js).entries(connection)

    async def open_work(self, connection: str) -> tuple[int, int]:
        """(commands still to settle: queued in the ledger or not read from QB_COMMANDS yet,
        records with an Add whose answer was never read). (0, 0): nothing left to do."""
        entries = await self.ledger(connection)
        try:
            info = await self.js.consumer_info(QB_COMMANDS.name, durable_name(connection))
            unread = int(info.num_pending or 0) + int(info.num_ack_pending or 0)
        except NotFoundError:
            unread = 0
        queued = sum(1 for e in entries.values() if e.state == "queued")
        flights = await LedgerStore(self.nc, self.js).flights(connection)
        in_flight = {key for f in flights.values() for key, _ in f.attempts}
        unanswered = {key for key, e in entries.items() if e.unknown} | in_flight
        return unread + queued, len(unanswered)

    async def unanswered(self, connection: str) -> list[str]:
        """Command ids of Adds sent to QuickBooks whose answer was never read."""
        entries = await self.ledger(connection)
        flights = await LedgerStore(self.nc, self.js).flights(connection)
        return sorted(
            {a.command_id for e in entries.values() for a in e.unknown}
            | {a.command_id for f in flights.values() for _, a in f.attempts}
        )

    async def outcomes(self, connection: str) -> list[Outcome]:
        info = await self.js.stream_info(QB_OUTCOMES.name)
        found: list[Outcome] = []
        if not info.state.messages:
            return found
        for seq in range(info.state.first_seq, info.state.last_seq + 1):
            raw = await self.js.get_msg(QB_OUTCOMES.name, seq)
            if raw.subject == f"qb.outcomes.{connection}":
                found.append(Outcome.model_validate_json(raw.data or b""))
        return found


def customer_command(
    connection: str, st_id: int, name: str, version: str = "v1", phone: str | None = None
) -> Command:
    """A customer's Add, and its Mod (as the mapper writes them) when `phone` is given."""
    event_id = f"tenant-{connection}:customer:{st_id}:{version}"
    phone_xml = f"<Phone>{phone}</Phone>" if phone is not None else ""
    mod = (
        "<CustomerModRq><CustomerMod>"
        f"<ListID>{SELF_ID}</ListID><EditSequence>{FRESH_EDIT_SEQUENCE}</EditSequence>"
        f"<Name>{name}</Name>{phone_xml}</CustomerMod></CustomerModRq>"
    )
    return Command(
        command_id=Command.make_id(connection, event_id, "CustomerAddRq"),
        connection=connection,
        tenant=f"tenant-{connection}",
        entity="customer",
        st_id=st_id,
        event_id=event_id,
        request_type="CustomerAddRq",
        qbxml=(
            f"<CustomerAddRq><CustomerAdd><Name>{name}</Name>{phone_xml}"
            "</CustomerAdd></CustomerAddRq>"
        ),
        lookup_qbxml=f"<CustomerQueryRq><FullName>{name}</FullName></CustomerQueryRq>",
        mod_qbxml=mod if phone is not None else None,
        summary=f"Customer {name}",
    )


def guid_of(command_id: str) -> str:
    """The ExternalGUID the mapper derives from a command id: braces, upper-case hex."""
    h = command_id.removeprefix("cmd-").upper()
    return "{" + f"{h[0:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:32]}" + "}"


def payment_command(
    connection: str, st_id: int, ref_number: str, customer_st_id: int, invoice_st_id: int
) -> Command:
    event_id = f"tenant-{connection}:payment:{st_id}:v1"
    command_id = Command.make_id(connection, event_id, "ReceivePaymentAddRq")
    customer = LateRef.make("customer", customer_st_id)
    invoice = LateRef.make("invoice", invoice_st_id)
    return Command(
        command_id=command_id,
        connection=connection,
        tenant=f"tenant-{connection}",
        entity="payment",
        st_id=st_id,
        event_id=event_id,
        request_type="ReceivePaymentAddRq",
        qbxml=(
            "<ReceivePaymentAddRq><ReceivePaymentAdd>"
            f"<CustomerRef><ListID>{customer.placeholder}</ListID></CustomerRef>"
            f"<RefNumber>{ref_number}</RefNumber><TotalAmount>180.00</TotalAmount>"
            f"<ExternalGUID>{guid_of(command_id)}</ExternalGUID>"
            f"<AppliedToTxnAdd><TxnID>{invoice.placeholder}</TxnID>"
            "<PaymentAmount>180.00</PaymentAmount></AppliedToTxnAdd>"
            "</ReceivePaymentAdd></ReceivePaymentAddRq>"
        ),
        lookup_qbxml=(
            f"<ReceivePaymentQueryRq><RefNumber>{ref_number}</RefNumber></ReceivePaymentQueryRq>"
        ),
        refs=(customer, invoice),
        summary=f"Payment {ref_number}",
        fingerprint={"amount": "180.00", "applied to invoice 5001": "180.00"},
    )


def invoice_command(
    connection: str,
    st_id: int,
    ref_number: str,
    customer_st_id: int,
    version: str = "v1",
    fingerprint: dict[str, str] | None = None,
) -> Command:
    event_id = f"tenant-{connection}:invoice:{st_id}:{version}"
    command_id = Command.make_id(connection, event_id, "InvoiceAddRq")
    guid = guid_of(command_id)
    ref = LateRef.make("customer", customer_st_id)
    return Command(
        command_id=command_id,
        connection=connection,
        tenant=f"tenant-{connection}",
        entity="invoice",
        st_id=st_id,
        event_id=event_id,
        request_type="InvoiceAddRq",
        qbxml=(
            "<InvoiceAddRq><InvoiceAdd>"
            f"<CustomerRef><ListID>{ref.placeholder}</ListID></CustomerRef>"
            f"<RefNumber>{ref_number}</RefNumber>"
            f"<ExternalGUID>{guid}</ExternalGUID>"
            "<InvoiceLineAdd><Desc>Water heater flush</Desc><Amount>180.00</Amount>"
            "</InvoiceLineAdd></InvoiceAdd></InvoiceAddRq>"
        ),
        lookup_qbxml=f"<InvoiceQueryRq><RefNumber>{ref_number}</RefNumber></InvoiceQueryRq>",
        refs=(ref,),
        summary=f"Invoice {ref_number}",
        fingerprint=fingerprint or {},
    )


@pytest.fixture
def qb() -> FakeQuickBooks:
    return FakeQuickBooks()


@pytest.fixture
def gateway_settings() -> dict[str, Any]:
    """Overrides for one test; the gateway fixture reads them. The QuickBooks-changes poll is
    off unless a test turns it on (test_changes.py)."""
    return {"QBWC_CHANGES_EVERY_SECONDS": 0}


@pytest.fixture
def spans() -> InMemorySpanExporter:
    """The gateway's spans (its own and the broker's), exported as each ends."""
    return InMemorySpanExporter()


@contextlib.asynccontextmanager
async def running_gateway(
    nc: Client,
    js: JetStreamContext,
    nats_url: str,
    qbwc_wsdl: Path,
    gateway_settings: dict[str, Any],
    spans: InMemorySpanExporter,
) -> AsyncIterator[Gateway]:
    """One gateway replica: its own broker, service and HTTP server on a free port."""
    settings = GatewaySettings(NATS_URL=nats_url, QBWC_PORT=0, **gateway_settings)
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(spans))
    broker = make_broker(settings, "qbwc-gateway", tracer_provider=provider)
    await broker.connect()
    service = await QbwcService.open(broker, settings, tracer_provider=provider)
    config = uvicorn.Config(
        create_app(service), host="127.0.0.1", port=0, log_level="warning", lifespan="off"
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            task.result()
        await asyncio.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    url = f"http://127.0.0.1:{port}/qbwc"
    client = zeep.Client(str(qbwc_wsdl))
    soap = client.create_service(BINDING, url)
    try:
        yield Gateway(url, service, settings, soap, nc, js)
    finally:
        server.should_exit = True
        await task
        await broker.stop()


@pytest.fixture
async def gateway(
    nc: Client,
    js: JetStreamContext,
    nats_url: str,
    qbwc_wsdl: Path,
    gateway_settings: dict[str, Any],
    spans: InMemorySpanExporter,
) -> AsyncIterator[Gateway]:
    async with running_gateway(nc, js, nats_url, qbwc_wsdl, gateway_settings, spans) as gw:
        yield gw
