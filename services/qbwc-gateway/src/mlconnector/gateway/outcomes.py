"""Publishing outcomes on QB_OUTCOMES, each in the trace of the command it is about.

`publish` returns once JetStream has stored every outcome (its PubAck): the ledger entry of a
settled command is only removed after that, so a crash in between repeats the settlement
(an unanswered attempt is looked up), never loses the outcome (DESIGN rule 2).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from faststream.nats import NatsBroker
from opentelemetry.trace import Tracer

from mlconnector.common.envelopes import Outcome, SessionReport
from mlconnector.common.streams import QB_OUTCOMES, outcome_subject, session_subject
from mlconnector.gateway.tracing import command_span

# FastStream's default PubAck wait (0.5 s) is shorter than nats-py's; an outcome that times
# out leaves its command unsettled for a retry, which costs a lookup, so wait longer.
OUTCOME_PUBLISH_TIMEOUT_SECONDS = 5.0


@dataclass(frozen=True)
class PendingOutcome:
    outcome: Outcome
    trace: dict[str, str] = field(default_factory=dict)


class OutcomePublisher:
    def __init__(self, broker: NatsBroker, tracer: Tracer) -> None:
        # Through the broker: its telemetry middleware carries the trace on to audit.
        self._broker = broker
        self._tracer = tracer
        self.requests = 0  # NATS requests made, for the benchmarks

    async def publish(self, pending: list[PendingOutcome]) -> None:
        """Store every outcome (concurrently); raises if JetStream did not confirm one."""
        if pending:
            self.requests += len(pending)
            await asyncio.gather(*(self._one(item) for item in pending))

    async def _one(self, item: PendingOutcome) -> None:
        record = item.outcome
        with command_span(
            self._tracer,
            f"qbwc outcome {record.status}",
            record.connection,
            record,
            item.trace,
            {
                "mlconnector.outcome": record.status,
                "mlconnector.event_id": record.event_id,
                "mlconnector.attempt": record.attempt,
            },
        ):
            # Inside the span: the broker's producer span is its child and the message's
            # traceparent continues the command's trace.
            await self._broker.publish(
                record.model_dump_json().encode(),
                outcome_subject(record.connection),
                headers={"Nats-Msg-Id": record.outcome_id},
                correlation_id=record.outcome_id,
                stream=QB_OUTCOMES.name,
                timeout=OUTCOME_PUBLISH_TIMEOUT_SECONDS,
            )

    async def report_session(self, report: SessionReport) -> None:
        """What one Web Connector contact came to, for audit's connection health."""
        self.requests += 1
        await self._broker.publish(
            report.model_dump_json().encode(),
            session_subject(report.connection),
            headers={"Nats-Msg-Id": report.report_id},
            correlation_id=report.report_id,
            stream=QB_OUTCOMES.name,
            timeout=OUTCOME_PUBLISH_TIMEOUT_SECONDS,
        )
