"""Reporting a command's outcome on QB_OUTCOMES, then settling the command to match.

The outcome is stored first and the command acked, nak'd or terminated only after: a crash in
between redelivers the command, never loses its outcome.
"""

from __future__ import annotations

from typing import Literal

from faststream.nats import NatsBroker
from opentelemetry.trace import Tracer

from mlconnector.common.envelopes import Command, Outcome, OutcomeStatus
from mlconnector.common.qbxml import ResponseStatus
from mlconnector.common.streams import QB_OUTCOMES, outcome_subject
from mlconnector.gateway.markers import InflightMarkers
from mlconnector.gateway.queue import CommandQueue
from mlconnector.gateway.sessions import Item, SessionState
from mlconnector.gateway.settings import GatewaySettings
from mlconnector.gateway.tracing import command_span

# How long to wait for JetStream's PubAck of an outcome; FastStream's default (0.5 s) is
# shorter than nats-py's, and a timeout here leaves the command unsettled for a retry.
OUTCOME_PUBLISH_TIMEOUT_SECONDS = 5.0


class Outcomes:
    def __init__(
        self,
        broker: NatsBroker,
        queue: CommandQueue,
        markers: InflightMarkers,
        settings: GatewaySettings,
        tracer: Tracer,
    ) -> None:
        # Outcomes go through the broker: its telemetry middleware carries the trace on.
        self._broker = broker
        self._queue = queue
        self._markers = markers
        self._settings = settings
        self._tracer = tracer

    async def finish(
        self,
        state: SessionState,
        item: Item,
        command: Command,
        outcome: OutcomeStatus,
        *,
        message: str,
        hint: str | None = None,
        status: ResponseStatus | None = None,
        request_qbxml: str | None = None,
        response_qbxml: str | None = None,
        qb_id: str | None = None,
        edit_sequence: str | None = None,
        difference: dict[str, tuple[str | None, str | None]] | None = None,
        keep_marker: bool = False,
    ) -> None:
        """Publish the outcome, wait for JetStream to store it, then settle the command."""
        await self.publish(
            state,
            item,
            command,
            outcome,
            message=message,
            hint=hint,
            status=status,
            request_qbxml=request_qbxml,
            response_qbxml=response_qbxml,
            qb_id=qb_id,
            edit_sequence=edit_sequence,
            difference=difference,
        )
        if outcome == "retrying":
            state.retrying += 1
            state.deferred.append(command.command_id)
            await self._queue.nak(item.reply, self._settings.qbwc_retry_delay_seconds)
        elif outcome == "posted":
            state.posted += 1
            await self._queue.ack(item.reply)
        elif outcome == "changed":
            # Settled: the accountant resolves it in QuickBooks; sending it again cannot help.
            state.changed += 1
            await self._queue.ack(item.reply)
        else:
            state.failed += 1
            await self._queue.term(item.reply)
        if not keep_marker:
            # QuickBooks answered (or never saw it): the next attempt needs no lookup.
            await self._markers.clear(state.connection, command.command_id)
        if outcome != "retrying" and item.attempt > 1:
            await self._queue.clear_waits(state.connection, command.command_id)

    async def defer(
        self,
        state: SessionState,
        item: Item,
        command: Command,
        outcome: Literal["waiting", "retrying"],
        *,
        message: str,
    ) -> None:
        """Put the command off to a later session; its in-flight marker (if any) stays."""
        if outcome == "waiting":
            state.waiting += 1
        else:
            state.retrying += 1
        state.deferred.append(command.command_id)
        await self.publish(state, item, command, outcome, message=message)
        await self._queue.nak(item.reply, self._settings.qbwc_retry_delay_seconds)

    async def publish(
        self,
        state: SessionState,
        item: Item,
        command: Command,
        outcome: OutcomeStatus,
        *,
        message: str,
        hint: str | None = None,
        status: ResponseStatus | None = None,
        request_qbxml: str | None = None,
        response_qbxml: str | None = None,
        qb_id: str | None = None,
        edit_sequence: str | None = None,
        difference: dict[str, tuple[str | None, str | None]] | None = None,
    ) -> None:
        record = Outcome(
            command_id=command.command_id,
            attempt=item.attempt,
            connection=state.connection,
            tenant=command.tenant,
            entity=command.entity,
            st_id=command.st_id,
            event_id=command.event_id,
            status=outcome,
            qb_id=qb_id,
            edit_sequence=edit_sequence,
            status_code=status.status_code if status else None,
            status_severity=status.status_severity if status else None,
            status_message=message,
            hint=hint,
            request_qbxml=request_qbxml,
            response_qbxml=response_qbxml,
            prerequisite=command.is_prerequisite,
            difference=difference,
        )
        with command_span(
            self._tracer,
            f"qbwc outcome {outcome}",
            state.connection,
            item,
            {"mlconnector.outcome": outcome, "mlconnector.event_id": command.event_id},
        ):
            # Inside the span: the broker's producer spans are its children and the outcome
            # message's traceparent continues the command's trace.
            await self._broker.publish(
                record.model_dump_json().encode(),
                outcome_subject(state.connection),
                headers={"Nats-Msg-Id": record.outcome_id},
                correlation_id=record.outcome_id,
                # With a stream the broker waits for the PubAck: the command is settled
                # (acked, naked or terminated) only after its outcome is stored.
                stream=QB_OUTCOMES.name,
                timeout=OUTCOME_PUBLISH_TIMEOUT_SECONDS,
            )
