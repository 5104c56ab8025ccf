"""Span helpers: naming the connection on the SOAP call's span, and spans about one command.

Every SOAP call is a span (app.py). A command that arrived with a `traceparent` header gets
its "send" and "outcome" spans in that trace (the one st-ingest started for the ServiceTitan
event), linked to the SOAP call's span; outcomes are published through the FastStream broker,
so audit continues the same trace.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from opentelemetry import trace
from opentelemetry.trace import Link, Span, SpanKind, Tracer
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator
from opentelemetry.util.types import AttributeValue

from mlconnector.gateway.sessions import Item

_PROPAGATOR = TraceContextTextMapPropagator()


def annotate_connection(connection: str) -> None:
    """Name the connection on the SOAP call's span once the ticket or user says which."""
    trace.get_current_span().set_attribute("qbwc.connection", connection)


@contextmanager
def command_span(
    tracer: Tracer,
    name: str,
    connection: str,
    item: Item,
    attributes: dict[str, AttributeValue],
) -> Iterator[Span]:
    """A span about one command: in the command's own trace when it arrived with one
    (linked to the SOAP call's span), else a child of the SOAP call's span."""
    soap_call = trace.get_current_span().get_span_context()
    incoming = _PROPAGATOR.extract(item.trace) if item.trace else None
    links: list[Link] = []
    if incoming is not None and trace.get_current_span(incoming).get_span_context().is_valid:
        if soap_call.is_valid:
            links.append(Link(soap_call))
    else:
        incoming = None  # no (valid) traceparent: stay in the SOAP call's trace
    with tracer.start_as_current_span(
        name,
        context=incoming,
        kind=SpanKind.INTERNAL,
        links=links,
        attributes={
            "qbwc.connection": connection,
            "mlconnector.command_id": item.command_id,
            "mlconnector.entity": item.entity,
            "mlconnector.st_id": item.st_id,
            "mlconnector.attempt": item.attempt,
            **attributes,
        },
    ) as span:
        yield span
