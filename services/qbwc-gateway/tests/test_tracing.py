"""Traces: SOAP calls are spans, and a command's send and outcome continue its own trace."""

from __future__ import annotations

import pytest
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind

from mlconnector.common.streams import QB_OUTCOMES

from .conftest import FakeQuickBooks, Gateway, customer_command, invoice_command

pytestmark = pytest.mark.nats

CUSTOMER_TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
CUSTOMER_PARENT = "00f067aa0ba902b7"
INVOICE_TRACE = "0af7651916cd43dd8448eb211c80319c"
INVOICE_PARENT = "b7ad6b7169203331"


def _ids(span: ReadableSpan) -> tuple[str, str | None]:
    """(trace id, parent span id) in W3C hex."""
    assert span.context is not None
    parent = f"{span.parent.span_id:016x}" if span.parent is not None else None
    return f"{span.context.trace_id:032x}", parent


def _span_id(span: ReadableSpan) -> str:
    assert span.context is not None
    return f"{span.context.span_id:016x}"


def _named(spans: InMemorySpanExporter, name: str) -> list[ReadableSpan]:
    return [s for s in spans.get_finished_spans() if s.name == name]


async def test_commands_keep_their_trace_across_rounds_and_outcomes_carry_it(
    gateway: Gateway, qb: FakeQuickBooks, spans: InMemorySpanExporter
) -> None:
    await gateway.add_connection("acme", "acme-qbwc", "s3cret-pass")
    customer = customer_command("acme", 1001, "Hernandez, Maria")
    invoice = invoice_command("acme", 5001, "INV-5001", 1001)
    # The invoice waits a round for its customer: its trace must survive that.
    await gateway.publish(invoice, {"traceparent": f"00-{INVOICE_TRACE}-{INVOICE_PARENT}-01"})
    await gateway.publish(customer, {"traceparent": f"00-{CUSTOMER_TRACE}-{CUSTOMER_PARENT}-01"})

    log = await gateway.run_session("acme-qbwc", "s3cret-pass", qb)
    assert log.closed == "Posted 2, failed 0, waiting 0, retrying 0"

    soap = [s for s in spans.get_finished_spans() if s.kind is SpanKind.SERVER]
    assert [(s.name, dict(s.attributes or {})) for s in soap] == [
        ("qbwc authenticate", {"qbwc.operation": "authenticate", "qbwc.connection": "acme"}),
        ("qbwc sendRequestXML", {"qbwc.operation": "sendRequestXML", "qbwc.connection": "acme"}),
        (
            "qbwc receiveResponseXML",
            {"qbwc.operation": "receiveResponseXML", "qbwc.connection": "acme"},
        ),
        ("qbwc sendRequestXML", {"qbwc.operation": "sendRequestXML", "qbwc.connection": "acme"}),
        (
            "qbwc receiveResponseXML",
            {"qbwc.operation": "receiveResponseXML", "qbwc.connection": "acme"},
        ),
        ("qbwc closeConnection", {"qbwc.operation": "closeConnection", "qbwc.connection": "acme"}),
    ]
    first_send, first_receive, second_send, second_receive = (_span_id(s) for s in soap[1:5])

    # Each send and outcome span is a child of the mapper's span (the traceparent), and
    # links back to the SOAP call it happened in.
    expected = [
        ("qbwc send add", CUSTOMER_TRACE, CUSTOMER_PARENT, first_send, customer, "1"),
        ("qbwc outcome posted", CUSTOMER_TRACE, CUSTOMER_PARENT, first_receive, customer, None),
        ("qbwc send add", INVOICE_TRACE, INVOICE_PARENT, second_send, invoice, "2"),
        ("qbwc outcome posted", INVOICE_TRACE, INVOICE_PARENT, second_receive, invoice, None),
    ]
    command_spans = [
        s
        for s in spans.get_finished_spans()
        if s.name.startswith("qbwc ") and s.kind is SpanKind.INTERNAL
    ]
    assert len(command_spans) == len(expected)
    for span, (name, trace_id, parent, soap_call, command, request_id) in zip(
        command_spans, expected, strict=True
    ):
        assert span.name == name
        assert _ids(span) == (trace_id, parent)
        assert [f"{link.context.span_id:016x}" for link in span.links] == [soap_call]
        attributes = dict(span.attributes or {})
        assert attributes.pop("qbwc.request_id", None) == request_id
        assert attributes.pop("mlconnector.outcome", None) == (
            "posted" if name.startswith("qbwc outcome") else None
        )
        assert attributes.pop("mlconnector.event_id", None) == (
            command.event_id if name.startswith("qbwc outcome") else None
        )
        assert attributes.pop("mlconnector.attempt", None) == (
            1 if name.startswith("qbwc outcome") else None
        )
        assert attributes == {
            "qbwc.connection": "acme",
            "mlconnector.command_id": command.command_id,
            "mlconnector.entity": command.entity,
            "mlconnector.st_id": command.st_id,
        }

    # The outcome messages carry the command's trace on to audit.
    info = await gateway.js.stream_info(QB_OUTCOMES.name)
    messages = [
        await gateway.js.get_msg(QB_OUTCOMES.name, seq)
        for seq in range(info.state.first_seq, info.state.last_seq + 1)
    ]
    headers = [m.headers or {} for m in messages if m.subject.startswith("qb.outcomes.")]
    assert [h["traceparent"].split("-")[1] for h in headers] == [CUSTOMER_TRACE, INVOICE_TRACE]
    publishes = _named(spans, "qb.outcomes.acme publish")
    assert [_ids(s)[0] for s in publishes] == [CUSTOMER_TRACE, INVOICE_TRACE]


async def test_a_command_without_trace_is_traced_under_its_soap_call(
    gateway: Gateway, qb: FakeQuickBooks, spans: InMemorySpanExporter
) -> None:
    await gateway.add_connection("acme", "acme-qbwc", "s3cret-pass")
    await gateway.publish(customer_command("acme", 1001, "Hernandez, Maria"))

    log = await gateway.run_session("acme-qbwc", "s3cret-pass", qb)
    assert log.closed == "Posted 1, failed 0, waiting 0, retrying 0"

    [receive] = _named(spans, "qbwc receiveResponseXML")
    [outcome] = _named(spans, "qbwc outcome posted")
    receive_trace, _ = _ids(receive)
    assert _ids(outcome) == (receive_trace, _span_id(receive))
    assert list(outcome.links) == []
