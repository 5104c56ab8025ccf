"""QB_COMMANDS, read for the ledger: one durable pull consumer per connection, drained on
demand, and the commands themselves read back by stream sequence.

The consumer is filtered to the connection's own subject, so a session can never take
another tenant's commands (DESIGN rule 7). A command is acknowledged once the ledger holds it
(ingest.py); from then on the ledger is what remembers it.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections import OrderedDict
from dataclasses import dataclass, field

from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.errors import TimeoutError as NatsTimeoutError
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy
from nats.js.errors import BadRequestError
from pydantic import ValidationError

from mlconnector.common.envelopes import Command
from mlconnector.common.streams import QB_COMMANDS, command_subject

log = logging.getLogger(__name__)

TRACE_HEADERS = ("traceparent", "tracestate")
DRAIN_BATCH = 256
BODY_CACHE_SIZE = 4096


def durable_name(connection: str) -> str:
    return f"gateway-{connection}"


@dataclass(frozen=True)
class Delivery:
    command: Command
    reply: str
    stream_seq: int
    # The trace the mapper published it in (W3C traceparent/tracestate headers), if any.
    trace: dict[str, str] = field(default_factory=dict)


class CommandFeed:
    """Per connection: new commands (`drain`), their acks, and any command by sequence."""

    def __init__(self, nc: Client, js: JetStreamContext, ack_wait_seconds: float) -> None:
        self._nc = nc
        self._js = js
        self._ack_wait = ack_wait_seconds
        self._ready: set[str] = set()
        self._ack_all: set[str] = set()
        self._bodies: OrderedDict[int, Command] = OrderedDict()
        self.requests = 0  # NATS requests made, for the benchmarks

    @classmethod
    async def open(cls, nc: Client, ack_wait_seconds: float) -> CommandFeed:
        return cls(nc, nc.jetstream(), ack_wait_seconds)

    async def _ensure_consumer(self, connection: str) -> None:
        if connection in self._ready:
            return
        self.requests += 1
        config = ConsumerConfig(
            durable_name=durable_name(connection),
            filter_subject=command_subject(connection),
            deliver_policy=DeliverPolicy.ALL,
            # One ack settles a whole drain (everything up to it is in the ledger).
            ack_policy=AckPolicy.ALL,
            ack_wait=self._ack_wait,
            max_deliver=-1,
        )
        try:
            info = await self._js.add_consumer(QB_COMMANDS.name, config)
        except BadRequestError:
            # A consumer made by an earlier gateway version (explicit acks) keeps its policy.
            info = await self._js.consumer_info(QB_COMMANDS.name, durable_name(connection))
        if info.config.ack_policy == AckPolicy.ALL:
            self._ack_all.add(connection)
        self._ready.add(connection)

    async def drain(self, connection: str, limit: int = 10_000) -> list[Delivery]:
        """Every command available now (up to `limit`), in stream order; never waits for
        new ones. Unreadable messages are terminated and logged (they stay in the stream)."""
        await self._ensure_consumer(connection)
        deliveries: list[Delivery] = []
        while len(deliveries) < limit:
            batch = await self._fetch(connection, min(DRAIN_BATCH, limit - len(deliveries)))
            deliveries.extend(batch)
            if len(batch) < DRAIN_BATCH:
                break
        return deliveries

    async def _fetch(self, connection: str, batch: int) -> list[Delivery]:
        inbox = self._nc.new_inbox()
        sub = await self._nc.subscribe(inbox)
        # A no_wait pull answers at once (messages, then a 404/408 status) and leaves no
        # lingering pull request that could capture a later message.
        request = json.dumps({"batch": batch, "no_wait": True}).encode()
        api = f"$JS.API.CONSUMER.MSG.NEXT.{QB_COMMANDS.name}.{durable_name(connection)}"
        self.requests += 1
        found: list[Delivery] = []
        seen = 0
        try:
            await self._nc.publish(api, request, reply=inbox)
            while seen < batch:
                try:
                    msg = await sub.next_msg(timeout=5.0)
                except NatsTimeoutError:
                    break
                if msg.headers and msg.headers.get("Status"):
                    break
                seen += 1
                delivery = await self._delivery(msg)
                if delivery is not None:
                    found.append(delivery)
        finally:
            await sub.unsubscribe()
        return found

    async def _delivery(self, msg: Msg) -> Delivery | None:
        meta = msg.metadata
        try:
            command = Command.model_validate_json(msg.data)
        except ValidationError as exc:
            log.error(
                "QB_COMMANDS message %s is not a valid Command, terminated: %s",
                meta.sequence.stream,
                exc,
            )
            await self._nc.publish(msg.reply, b"+TERM")
            return None
        headers = msg.headers or {}
        trace = {name: headers[name] for name in TRACE_HEADERS if headers.get(name)}
        self._remember(meta.sequence.stream, command)
        return Delivery(command, msg.reply, meta.sequence.stream, trace)

    async def ack(self, connection: str, deliveries: list[Delivery]) -> None:
        """Acknowledge, confirmed by the server (the ledger holds them now): the last one
        alone when the consumer acks all up to it, else each."""
        if not deliveries:
            return
        settle = deliveries[-1:] if connection in self._ack_all else deliveries
        self.requests += len(settle)
        await asyncio.gather(*(self._nc.request(d.reply, b"+ACK", timeout=5.0) for d in settle))

    async def nak(self, deliveries: list[Delivery]) -> None:
        """Hand them back for redelivery (the ledger could not take them)."""
        for delivery in deliveries:
            await self._nc.publish(delivery.reply, b"-NAK")
        await self._nc.flush()

    async def commands(self, seqs: list[int]) -> dict[int, Command]:
        """The commands at these QB_COMMANDS sequences (direct gets, pipelined, cached)."""
        missing = [seq for seq in dict.fromkeys(seqs) if seq not in self._bodies]
        if missing:
            self.requests += len(missing)
            raws = await asyncio.gather(
                *(self._js.get_msg(QB_COMMANDS.name, seq, direct=True) for seq in missing)
            )
            for seq, raw in zip(missing, raws, strict=True):
                self._remember(seq, Command.model_validate_json(raw.data or b""))
        found: dict[int, Command] = {}
        for seq in seqs:
            command = self._bodies.get(seq)
            if command is not None:
                self._bodies.move_to_end(seq)
                found[seq] = command
        return found

    def _remember(self, seq: int, command: Command) -> None:
        self._bodies[seq] = command
        self._bodies.move_to_end(seq)
        while len(self._bodies) > BODY_CACHE_SIZE:
            self._bodies.popitem(last=False)
