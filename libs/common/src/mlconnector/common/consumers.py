"""Durable pull consumers: one loop every service shares, batch by batch, acked by the caller."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import nats.errors
from nats.aio.msg import Msg
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy
from nats.js.errors import NotFoundError


async def ensure_durable(
    js: JetStreamContext,
    stream: str,
    durable: str,
    *,
    ack_wait: float,
    max_ack_pending: int,
    filter_subject: str | None = None,
) -> None:
    """Create the durable consumer if it is missing; an existing one keeps its position."""
    try:
        await js.consumer_info(stream, durable)
    except NotFoundError:
        await js.add_consumer(
            stream,
            ConsumerConfig(
                durable_name=durable,
                deliver_policy=DeliverPolicy.ALL,
                # Explicit acks only: a message is settled after its effects are durable,
                # never by a framework default that terminates on error.
                ack_policy=AckPolicy.EXPLICIT,
                ack_wait=ack_wait,
                max_ack_pending=max_ack_pending,
                filter_subject=filter_subject,
            ),
        )


async def pull_batches(
    js: JetStreamContext,
    stream: str,
    durable: str,
    *,
    batch_size: int,
    fetch_timeout: float,
    stop: asyncio.Event,
) -> AsyncIterator[list[Msg]]:
    """Yield non-empty batches until `stop` is set; the caller acks or naks each message."""
    sub = await js.pull_subscribe_bind(durable=durable, stream=stream)
    try:
        while not stop.is_set():
            try:
                msgs = await sub.fetch(batch_size, timeout=fetch_timeout)
            # nats-py raises its own TimeoutError or asyncio's, depending on where the wait ends.
            except (TimeoutError, nats.errors.TimeoutError):
                continue
            if msgs:
                yield msgs
    finally:
        await sub.unsubscribe()
