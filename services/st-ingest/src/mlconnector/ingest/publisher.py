"""Publish `StEvent`s and `StRejection`s to ST_EVENTS, de-duplicated by JetStream on their ids.

Through the FastStream broker (not bare nats-py) so that its telemetry middleware starts a
trace per message and puts `traceparent` in the headers: the mapper, the gateway and audit
continue that trace, and one ServiceTitan record can be followed end to end in Jaeger.
"""

from __future__ import annotations

from faststream.nats import NatsBroker

from mlconnector.common.envelopes import StEvent, StRejection
from mlconnector.common.streams import (
    ST_EVENTS,
    check_token,
    st_event_subject,
    st_rejected_subject,
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
