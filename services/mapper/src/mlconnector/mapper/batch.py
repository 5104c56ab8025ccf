"""One pulled batch from raw messages to settlement: map, publish, then ack or nak each event.

1. map every event (`event_mapping`); what will not be published is settled at once: a
   message that is not an event is terminated (redelivering cannot fix it; it stays in
   ST_EVENTS for inspection), an event whose tenant has no connection yet or whose mapping
   raised is naked for redelivery;
2. once the batch pulled before it is done, publish the rest dependencies first (`publishing`);
3. ack an event only once JetStream has confirmed every command (or failed outcome) it
   produced, and nak one whose publishing failed. The others of the batch are not held back:
   command ids are deterministic, so a redelivered event's commands that did post are dropped
   as duplicates.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Awaitable
from dataclasses import dataclass

from nats.aio.msg import Msg
from nats.js import JetStreamContext
from opentelemetry import trace
from opentelemetry.trace import StatusCode

from mlconnector.mapper.commands import dependency_rank
from mlconnector.mapper.connection_cache import ConnectionCache
from mlconnector.mapper.event_mapping import MappedEvent, map_batch
from mlconnector.mapper.publishing import EventOutbox, publish_by_rank
from mlconnector.mapper.settings import MapperSettings
from mlconnector.mapper.stats import MapperStats
from mlconnector.mapper.tracing import EventTracing

log = logging.getLogger(__name__)


@dataclass
class _Pending:
    """One event of the batch between mapping and settling."""

    msg: Msg
    event_id: str
    span: trace.Span
    outbox: EventOutbox
    settled: bool = False


class BatchHandler:
    def __init__(
        self,
        js: JetStreamContext,
        connections: ConnectionCache,
        tracing: EventTracing,
        settings: MapperSettings,
        stats: MapperStats,
    ) -> None:
        self._js = js
        self._connections = connections
        self._tracing = tracing
        self._settings = settings
        self._stats = stats

    async def process(self, msgs: list[Msg], after: Awaitable[None] | None = None) -> None:
        """Map the batch, wait for `after` (the batch before it), publish and settle.

        Never raises: on an unexpected failure every message not yet settled is naked (or,
        if even that fails, redelivered after ack_wait); nothing is acked before its publishes.
        """
        pending: list[_Pending] = []
        try:
            mapped = await map_batch([msg.data for msg in msgs], self._connections)
            pending = await self._set_aside_unpublishable(msgs, mapped)
            if after is not None:
                await after  # batches publish in the order they were pulled
            await publish_by_rank(
                self._js,
                [item.outbox for item in pending],
                self._settings.publish_timeout_seconds,
            )
            await self._settle(pending)
        except Exception:
            log.exception("a batch of %d events failed; they will be redelivered", len(msgs))
            await self._nak_unsettled(msgs, pending)
        finally:
            self._stats.last_settled_at = time.perf_counter()

    async def _set_aside_unpublishable(
        self, msgs: list[Msg], mapped: list[MappedEvent]
    ) -> list[_Pending]:
        """Settle the events that have nothing to publish; the rest, in stream order."""
        pending: list[_Pending] = []
        for msg, result in zip(msgs, mapped, strict=True):
            if result.status == "malformed":
                log.error(
                    "dropping malformed event on %s (seq %s): %s",
                    msg.subject,
                    _stream_seq(msg),
                    result.problem,
                )
                await msg.term()
                self._stats.terminated += 1
            elif result.status == "no-connection":
                # Waiting, not dropping: once the operator adds the connection it is picked up.
                log.warning(
                    "no connection for tenant %s yet; %s retried in %ss",
                    result.tenant,
                    result.event_id,
                    self._settings.no_connection_delay_seconds,
                )
                await msg.nak(delay=self._settings.no_connection_delay_seconds)
                self._stats.naked += 1
            elif result.status == "error":
                log.error(
                    "mapping %s failed; it will be redelivered\n%s", result.event_id, result.problem
                )
                await msg.nak(delay=self._settings.retry_delay_seconds)
                self._stats.naked += 1
            else:
                pending.append(self._pending(msg, result))
        return pending

    def _pending(self, msg: Msg, result: MappedEvent) -> _Pending:
        span = self._tracing.event_span(msg)
        messages = [(p, self._tracing.headers(p, span)) for p in result.publications]
        outbox = EventOutbox(dependency_rank(result.entity), messages)
        return _Pending(msg, result.event_id, span, outbox)

    async def _settle(self, pending: list[_Pending]) -> None:
        failed = [item for item in pending if item.outbox.error is not None]
        for item in pending:
            if item.outbox.error is None:
                await item.msg.ack()
                self._stats.acked += 1
            else:
                error = item.outbox.error
                item.span.set_status(StatusCode.ERROR, f"publishing failed: {error!r}")
                await item.msg.nak(delay=self._settings.retry_delay_seconds)
                self._stats.naked += 1
            item.settled = True
            item.span.end()
        if failed:
            log.error(
                "publishing failed for %d of %d events (first: %s: %r); they will be redelivered",
                len(failed),
                len(pending),
                failed[0].event_id,
                failed[0].outbox.error,
            )

    async def _nak_unsettled(self, msgs: list[Msg], pending: list[_Pending]) -> None:
        for item in pending:
            if not item.settled:
                item.span.set_status(StatusCode.ERROR, "the batch failed")
                item.span.end()
                item.settled = True
        for msg in msgs:
            if not msg._ackd:
                with contextlib.suppress(Exception):
                    await msg.nak(delay=self._settings.retry_delay_seconds)
                    self._stats.naked += 1


def _stream_seq(msg: Msg) -> int | None:
    try:
        return int(msg.metadata.sequence.stream)
    except Exception:
        return None
