"""Publish `StEvent`s and `StRejection`s to ST_EVENTS, de-duplicated by JetStream on their ids.

Through the FastStream broker (not bare nats-py) so that its telemetry middleware starts a
trace per message and puts `traceparent` in the headers: the mapper, the gateway and audit
continue that trace, and one ServiceTitan record can be followed end to end in Jaeger.
"""

from __future__ import annotations

import asyncio

from faststream.nats import NatsBroker

from mlconnector.common.envelopes import FeedReport, StEvent, StRejection, WriteBack
from mlconnector.common.streams import (
    ST_EVENTS,
    check_token,
    feed_subject,
    st_event_subject,
    st_rejected_subject,
    writeback_subject,
)

# How long to wait for JetStream's PubAck; FastStream's own default (0.5 s) is shorter than
# nats-py's and would turn a busy server into a failed poll.
PUBLISH_TIMEOUT_SECONDS = 5.0


class EventPublisher:
    def __init__(self, broker: NatsBroker, timeout: float = PUBLISH_TIMEOUT_SECONDS) -> None:
        self._broker = broker
        self._timeout = timeout

    async def publish(self, event: StEvent) -> bool:
        """True if the stream stored it, False if it already had this event id."""
        subject = st_event_subject(check_token("tenant", event.tenant), event.entity)
        return await self._publish(subject, event.model_dump_json().encode(), event.event_id)

    async def publish_many(self, events: list[StEvent]) -> list[bool]:
        """Publish a page's events at once (pipelined: every PubAck awaited together);
        per event, True if stored, False if the stream already had it. Returns only once
        every one is acknowledged, so a watermark saved afterwards never passes an event."""
        return list(await asyncio.gather(*(self.publish(event) for event in events)))

    async def feed_report(self, report: FeedReport) -> bool:
        subject = feed_subject(check_token("tenant", report.tenant), report.entity)
        return await self._publish(subject, report.model_dump_json().encode(), report.report_id)

    async def write_back(self, write: WriteBack) -> bool:
        subject = writeback_subject(check_token("tenant", write.tenant), write.entity)
        return await self._publish(subject, write.model_dump_json().encode(), write.write_id)

    async def reject(self, rejection: StRejection) -> bool:
        """True if the stream stored it, False if it already had this rejection."""
        subject = st_rejected_subject(check_token("tenant", rejection.tenant), rejection.entity)
        return await self._publish(
            subject, rejection.model_dump_json().encode(), rejection.rejection_id
        )

    async def _publish(self, subject: str, payload: bytes, msg_id: str) -> bool:
        ack = await self._broker.publish(
            payload,
            subject,
            headers={"Nats-Msg-Id": msg_id},
            # The id doubles as the correlation id, so the producer span's
            # messaging.message.conversation_id names the event in Jaeger.
            correlation_id=msg_id,
            # With a stream, the broker waits for the PubAck: returning means it is stored.
            stream=ST_EVENTS.name,
            timeout=self._timeout,
        )
        return not bool(ack.duplicate)
