"""Traces across processes: one ServiceTitan invoice followed from st-ingest to QuickBooks.

A tiny OTLP/HTTP receiver stands in for Jaeger's collector; every service is started as its
own process (test_end_to_end's `system`) with OTEL_EXPORTER_OTLP_ENDPOINT pointing at it.
"""

from __future__ import annotations

import asyncio
import gzip
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import nats
import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.proto.common.v1.common_pb2 import AnyValue

from mlconnector.common.streams import ST_EVENTS

from .conftest import StartService, free_port
from .test_end_to_end import TENANT, _records, _web_connector_cycle, system

pytestmark = [pytest.mark.e2e, pytest.mark.nats]

__all__ = ["system"]  # test_end_to_end's fixture, started through the start_service below

SERVICES = {"st-ingest", "mapper", "qbwc-gateway", "audit"}


@dataclass(frozen=True)
class ReceivedSpan:
    service: str
    name: str
    trace_id: str
    span_id: str
    parent_id: str
    attributes: dict[str, Any]
    links: tuple[tuple[str, str], ...]  # (trace id, span id) of each linked span


def _value(value: AnyValue) -> Any:
    kind = value.WhichOneof("value")
    return getattr(value, kind) if kind else None


@dataclass
class OtlpReceiver:
    """Collects every span POSTed to /v1/traces (OTLP/HTTP, protobuf)."""

    url: str = ""
    spans: list[ReceivedSpan] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, body: bytes) -> None:
        request = ExportTraceServiceRequest()
        request.ParseFromString(body)
        received = []
        for resource_spans in request.resource_spans:
            resource = {a.key: _value(a.value) for a in resource_spans.resource.attributes}
            for scope_spans in resource_spans.scope_spans:
                for span in scope_spans.spans:
                    received.append(
                        ReceivedSpan(
                            service=str(resource.get("service.name")),
                            name=span.name,
                            trace_id=span.trace_id.hex(),
                            span_id=span.span_id.hex(),
                            parent_id=span.parent_span_id.hex(),
                            attributes={a.key: _value(a.value) for a in span.attributes},
                            links=tuple(
                                (link.trace_id.hex(), link.span_id.hex()) for link in span.links
                            ),
                        )
                    )
        with self.lock:
            self.spans.extend(received)

    def snapshot(self) -> list[ReceivedSpan]:
        with self.lock:
            return list(self.spans)


@pytest.fixture
def otlp() -> Iterator[OtlpReceiver]:
    receiver = OtlpReceiver()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            if self.path != "/v1/traces":
                self.send_error(404)
                return
            if self.headers.get("Content-Encoding") == "gzip":
                body = gzip.decompress(body)
            receiver.add(body)
            answer = ExportTraceServiceResponse().SerializeToString()
            self.send_response(200)
            self.send_header("Content-Type", "application/x-protobuf")
            self.send_header("Content-Length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)

        def log_message(self, format: str, *args: Any) -> None:
            pass  # the exporters post every 200 ms; keep the test output readable

    server = ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
    receiver.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield receiver
    server.shutdown()
    server.server_close()


@pytest.fixture
def start_service(start_service: StartService, otlp: OtlpReceiver) -> StartService:
    """The shared fixture, every service exporting to the receiver every 200 ms."""
    tracing = {"OTEL_EXPORTER_OTLP_ENDPOINT": otlp.url, "OTEL_BSP_SCHEDULE_DELAY": "200"}

    def start(name: str, script: str, env: dict[str, str], health_url: str | None) -> Any:
        return start_service(name, script, {**env, **tracing}, health_url)

    return start


async def _event_headers(nats_url: str, subject: str, msg_id_prefix: str) -> dict[str, str]:
    """The headers of the one ST_EVENTS message on `subject` whose id starts so."""
    nc = await nats.connect(nats_url)
    try:
        js = nc.jetstream()
        info = await js.stream_info(ST_EVENTS.name)
        found = []
        for seq in range(info.state.first_seq, info.state.last_seq + 1):
            msg = await js.get_msg(ST_EVENTS.name, seq)
            headers = dict(msg.headers or {})
            if msg.subject == subject and headers["Nats-Msg-Id"].startswith(msg_id_prefix):
                found.append(headers)
        [headers] = found
        return headers
    finally:
        await nc.close()


def _wait_for_spans(otlp: OtlpReceiver, ready: Any, seconds: float = 20.0) -> list[ReceivedSpan]:
    deadline = time.monotonic() + seconds
    while True:
        spans = otlp.snapshot()
        if ready(spans) or time.monotonic() > deadline:
            return spans
        time.sleep(0.2)


def test_invoice_5001_is_one_trace_from_st_ingest_to_the_gateways_outcome(
    system: dict[str, str], otlp: OtlpReceiver, nats_url: str, tmp_path: Path
) -> None:
    company = tmp_path / "quickbooks.sqlite"
    deadline = time.monotonic() + 90
    while not _records(system["audit"], entity="invoice", st_id="5001", status="posted"):
        assert time.monotonic() < deadline, "invoice 5001 was not posted in time"
        _web_connector_cycle(system["gateway"], company)
        time.sleep(0.5)

    headers = asyncio.run(
        _event_headers(nats_url, f"st.events.{TENANT}.invoice", f"{TENANT}:invoice:5001:")
    )
    _, trace_id, _, _ = headers["traceparent"].split("-")
    event_id = headers["Nats-Msg-Id"]

    def in_trace(spans: list[ReceivedSpan], service: str, name: str) -> list[ReceivedSpan]:
        return [s for s in spans if (s.service, s.name, s.trace_id) == (service, name, trace_id)]

    def linked_from_audit(spans: list[ReceivedSpan]) -> list[ReceivedSpan]:
        return [s for s in spans if s.service == "audit" and any(t == trace_id for t, _ in s.links)]

    def outcome(spans: list[ReceivedSpan]) -> list[ReceivedSpan]:
        return [
            s
            for s in spans
            if s.service == "qbwc-gateway"
            and s.name == "qbwc outcome posted"
            and s.attributes.get("mlconnector.entity") == "invoice"
            and s.attributes.get("mlconnector.st_id") == 5001
        ]

    spans = _wait_for_spans(
        otlp,
        lambda spans: (
            {s.service for s in spans} >= SERVICES
            and bool(outcome(spans))
            # event, command and outcome: audit's three links into this trace
            and sum(t == trace_id for a in linked_from_audit(spans) for t, _ in a.links) >= 3
        ),
    )
    assert {s.service for s in spans} >= SERVICES

    # st-ingest's producer span for the event started the trace the message carries.
    [publish] = [
        s
        for s in in_trace(spans, "st-ingest", f"st.events.{TENANT}.invoice publish")
        if s.attributes["messaging.message.conversation_id"] == event_id
    ]
    [create] = in_trace(spans, "st-ingest", f"st.events.{TENANT}.invoice create")
    assert (publish.parent_id, create.parent_id) == (create.span_id, "")

    # The mapper mapped it in that trace, and the gateway sent it and published its outcome
    # in that trace too (one posted outcome, attempt 1).
    assert len(in_trace(spans, "mapper", f"st.events.{TENANT}.invoice map")) == 1
    [sent] = [
        s
        for s in in_trace(spans, "qbwc-gateway", "qbwc send add")
        if s.attributes["mlconnector.st_id"] == 5001
    ]
    [posted] = outcome(spans)
    assert posted.trace_id == trace_id
    assert posted.attributes["mlconnector.event_id"] == event_id
    assert (posted.attributes["mlconnector.attempt"], sent.attributes["qbwc.connection"]) == (
        1,
        "demo",
    )
    # The outcome message carries the trace on: the broker's producer spans sit under the
    # outcome span. Audit's batch spans are traces of their own (FastStream's batch
    # consumers start one per batch) that link to each message's "create" span.
    [outcome_create] = [
        s
        for s in in_trace(spans, "qbwc-gateway", "qb.outcomes.demo create")
        if s.parent_id == posted.span_id
    ]
    [outcome_publish] = [
        s
        for s in in_trace(spans, "qbwc-gateway", "qb.outcomes.demo publish")
        if s.parent_id == outcome_create.span_id
    ]
    assert outcome_publish.attributes["messaging.destination.name"] == "qb.outcomes.demo"
    # Audit keeps every stream: its batch spans link to the event, the command and the
    # outcome of this one trace, and to nothing else in it.
    [command_create] = in_trace(spans, "mapper", "qb.commands.demo create")
    assert sorted(
        span
        for audit in linked_from_audit(spans)
        for trace, span in audit.links
        if trace == trace_id
    ) == sorted([create.span_id, command_create.span_id, outcome_create.span_id])
