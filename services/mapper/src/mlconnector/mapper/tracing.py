"""The mapper's spans: one per event, in the trace it arrived with, and one per message sent.

Spans are made only when they are exported (a tracer provider given, or an OTLP endpoint
configured): otherwise nobody would see them. Either way each published message carries a
trace context on, so the services that do export (gateway, audit) stay in the event's trace.
"""

from __future__ import annotations

from nats.aio.msg import Msg
from opentelemetry import trace
from opentelemetry.trace import Link, SpanKind
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from mlconnector.mapper.publishing import Publication

_PROPAGATOR = TraceContextTextMapPropagator()


class EventTracing:
    def __init__(self, tracer: trace.Tracer, *, exported: bool) -> None:
        self._tracer = tracer
        self._exported = exported

    def event_span(self, msg: Msg) -> trace.Span:
        """The event's span, in the trace the event arrived with.

        FastStream's span covers the whole batch (a new trace linking the producers); this
        span puts each event's mapping and publishes back into the trace that produced it.
        Not exported, it is the (non-recording) context the event arrived with.
        """
        headers = msg.headers or {}
        parent = _PROPAGATOR.extract(headers)
        if not self._exported:
            return trace.get_current_span(parent)
        batch_span = trace.get_current_span()
        if trace.get_current_span(parent).get_span_context().is_valid:
            context, links = parent, [Link(batch_span.get_span_context())]
        else:
            # No traceparent: the event's span is a child of the batch span.
            context, links = None, []
        return self._tracer.start_span(
            f"{msg.subject} map",
            context=context,
            kind=SpanKind.CONSUMER,
            links=links,
            attributes={
                "messaging.system": "nats",
                "messaging.destination.name": msg.subject,
                "messaging.message.id": headers.get("Nats-Msg-Id", ""),
            },
        )

    def headers(self, publication: Publication, event_span: trace.Span) -> dict[str, str]:
        """The message's headers, with the trace it continues.

        Exported, a producer span under the event's span, as FastStream's publisher makes (one
        per message, ended at once: the acknowledgements are awaited together, so there is no
        per-message publish call to time). Otherwise the event's own trace context is passed on.
        """
        # correlation_id, as FastStream's publisher sets it: FastStream consumers (audit) link
        # their batch spans to each message's producer span by it.
        headers = {"Nats-Msg-Id": publication.msg_id, "correlation_id": publication.msg_id}
        parent = trace.set_span_in_context(event_span)
        if self._exported:
            create = self._tracer.start_span(
                f"{publication.subject} create",
                context=parent,
                kind=SpanKind.PRODUCER,
                attributes={
                    "messaging.system": "nats",
                    "messaging.destination.name": publication.subject,
                    "messaging.message.id": publication.msg_id,
                },
            )
            _PROPAGATOR.inject(headers, context=trace.set_span_in_context(create))
            create.end()
        elif event_span.get_span_context().is_valid:
            _PROPAGATOR.inject(headers, context=parent)
        return headers
