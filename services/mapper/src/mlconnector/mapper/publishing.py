"""Ordered, confirmed publishing of one batch's messages to JetStream, dependencies first.

Events are published rank by rank (`dependency_rank`: customers/vendors, then invoices/bills,
then payments), in stream order within a rank and each event's messages in the order mapping
produced them. A rank's messages are written on the broker's one connection without waiting
for each answer (the server stores one connection's publishes in the order it receives them);
all their acknowledgements are awaited before the next rank is written, so no record is
stored ahead of one it depends on.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass

from nats.js import JetStreamContext, api


@dataclass(frozen=True)
class Publication:
    """One message to store: a command on QB_COMMANDS or a failed outcome on QB_OUTCOMES."""

    subject: str
    payload: bytes
    msg_id: str
    stream: str


@dataclass
class EventOutbox:
    """One event's messages, each with its headers, in the order they must be stored.

    `error` is the first thing that went wrong publishing them (None once JetStream has
    confirmed every one): the event must then be redelivered, not acked.
    """

    rank: int
    messages: list[tuple[Publication, dict[str, str]]]
    error: BaseException | None = None


async def publish_by_rank(
    js: JetStreamContext, outboxes: Sequence[EventOutbox], confirm_within: float
) -> None:
    """Publish every outbox's messages, rank after rank; record failures in `error`.

    A message JetStream has not confirmed within `confirm_within` seconds of its rank being
    written counts as failed.

    Never raises for a failed publish: that outbox's later messages are not sent (they must
    not overtake it) and the other events go on.
    """
    for rank in sorted({outbox.rank for outbox in outboxes}):
        group = [outbox for outbox in outboxes if outbox.rank == rank and outbox.messages]
        acks = await _write(js, group)
        if acks:
            await _confirm(acks, confirm_within)


async def _write(
    js: JetStreamContext, group: list[EventOutbox]
) -> list[tuple[EventOutbox, asyncio.Future[api.PubAck]]]:
    acks: list[tuple[EventOutbox, asyncio.Future[api.PubAck]]] = []
    for outbox in group:
        for publication, headers in outbox.messages:
            try:
                # Returns once the message is written; the acknowledgement comes later.
                ack = await js.publish_async(
                    publication.subject,
                    publication.payload,
                    stream=publication.stream,
                    headers=headers,
                )
            except Exception as exc:
                outbox.error = exc
                break  # its later messages must not overtake it
            acks.append((outbox, ack))
    return acks


async def _confirm(
    acks: list[tuple[EventOutbox, asyncio.Future[api.PubAck]]], confirm_within: float
) -> None:
    done, _ = await asyncio.wait([ack for _, ack in acks], timeout=confirm_within)
    for outbox, ack in acks:
        if ack not in done:
            ack.cancel()  # frees nats-py's slot for it
            outbox.error = outbox.error or TimeoutError("no acknowledgement from JetStream")
        elif (failure := ack.exception()) is not None:
            outbox.error = outbox.error or failure
