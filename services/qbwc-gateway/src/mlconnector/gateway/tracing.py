"""Span helpers: naming the connection on the SOAP call's span, and spans about one command.

Every SOAP call is a span (app.py). A command that arrived with a `traceparent` header gets
its "send" and "outcome" spans in that trace (the one st-ingest started for the ServiceTitan
event), linked to the SOAP call's span; outcomes are published through the FastStream broker,
so audit continues the same trace.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Protocol

from opentelemetry import trace
from opentelemetry.trace import Link, Span, SpanKind, Tracer
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator
from opentelemetry.util.types import AttributeValue

_PROPAGATOR = TraceContextTextMapPropagator()


def annotate_connection(connection: str) -> None:
    """Name the connection on the SOAP call's span once the ticket or user says which."""
    trace.get_current_span().set_attribute("qbwc.connection", connection)


class AboutCommand(Protocol):
    """What a span about one command names (a ledger entry or an outcome)."""

    @property
    def command_id(self) -> str: ...
    @property
    def entity(self) -> str: ...
    @property
    def st_id(self) -> int: ...


@contextmanager
def command_span(
    tracer: Tracer,
    name: str,
    connection: str,
    about: AboutCommand,
    carrier: dict[str, str],
    attributes: dict[str, AttributeValue],
) -> Iterator[Span]:
    """A span about one command: in the command's own trace when it arrived with one
    (`carrier`: its W3C traceparent/tracestate headers)
    (linked to the SOAP call's span), else a child of the SOAP call's span."""
    soap_call = trace.get_current_span().get_span_context()
    incoming = _PROPAGATOR.extract(carrier) if carrier else None
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
            "mlconnector.command_id": about.command_id,
            "mlconnector.entity": about.entity,
            "mlconnector.st_id": about.st_id,
            **attributes,
        },
    ) as span:
        yield span
