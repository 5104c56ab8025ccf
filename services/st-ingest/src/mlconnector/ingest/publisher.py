"""Publish `StEvent`s to ST_EVENTS, de-duplicated by JetStream on the event id."""

from __future__ import annotations

from nats.js import JetStreamContext

from mlconnector.common.envelopes import StEvent
from mlconnector.common.streams import ST_EVENTS, check_token, st_event_subject


class EventPublisher:
    def __init__(self, js: JetStreamContext) -> None:
        self._js = js

    async def publish(self, event: StEvent) -> bool:
        """True if the stream stored it, False if it already had this event id."""
        subject = st_event_subject(check_token("tenant", event.tenant), event.entity)
        ack = await self._js.publish(
            subject,
            event.model_dump_json().encode(),
            stream=ST_EVENTS.name,
            headers={"Nats-Msg-Id": event.event_id},
        )
        return not bool(ack.duplicate)
