"""Pulling commands from QB_COMMANDS: one durable pull consumer per connection.

Acks, naks and terms go to the delivery's reply subject, which is kept in the session state,
so the replica that answers receiveResponseXML need not be the one that fetched.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field

from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.errors import TimeoutError as NatsTimeoutError
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy
from nats.js.errors import KeyNotFoundError
from nats.js.kv import KeyValue
from pydantic import ValidationError

from mlconnector.common.envelopes import Command
from mlconnector.common.streams import QB_COMMANDS, command_subject

log = logging.getLogger(__name__)

KV_WAITS = "qbwc-waits"  # gateway-owned: <connection>.<command id> -> sessions waited


def durable_name(connection: str) -> str:
    return f"gateway-{connection}"


@dataclass(frozen=True)
class Delivery:
    command: Command
    reply: str
    attempt: int  # JetStream's delivery count: the outcome id is <command id>:<attempt>
    stream_seq: int
    # The trace the mapper published it in (W3C traceparent/tracestate headers), if any.
    trace: dict[str, str] = field(default_factory=dict)


TRACE_HEADERS = ("traceparent", "tracestate")


class CommandQueue:
    def __init__(
        self, nc: Client, js: JetStreamContext, waits: KeyValue, ack_wait_seconds: float
    ) -> None:
        self._nc = nc
        self._js = js
        self._waits = waits
        self._ack_wait = ack_wait_seconds
        self._ready: set[str] = set()

    @classmethod
    async def open(cls, nc: Client, ack_wait_seconds: float) -> CommandQueue:
        js = nc.jetstream()
        try:
            waits = await js.key_value(KV_WAITS)
        except Exception:  # BucketNotFoundError; any other failure surfaces on create
            from nats.js.api import KeyValueConfig

            waits = await js.create_key_value(KeyValueConfig(bucket=KV_WAITS, history=1))
        return cls(nc, js, waits, ack_wait_seconds)

    async def ensure_consumer(self, connection: str) -> None:
        if connection in self._ready:
            return
        # Filtered to this connection's subject only: a session can never pull another
        # tenant's commands (DESIGN rule 7).
        await self._js.add_consumer(
            QB_COMMANDS.name,
            ConsumerConfig(
                durable_name=durable_name(connection),
                filter_subject=command_subject(connection),
                deliver_policy=DeliverPolicy.ALL,
                ack_policy=AckPolicy.EXPLICIT,
                ack_wait=self._ack_wait,
                max_deliver=-1,
            ),
        )
        self._ready.add(connection)

    async def has_work(self, connection: str) -> bool:
        await self.ensure_consumer(connection)
        info = await self._js.consumer_info(QB_COMMANDS.name, durable_name(connection))
        return bool((info.num_pending or 0) + (info.num_ack_pending or 0))

    async def undelivered(self, connection: str) -> int:
        await self.ensure_consumer(connection)
        info = await self._js.consumer_info(QB_COMMANDS.name, durable_name(connection))
        return int(info.num_pending or 0)

    async def fetch(self, connection: str, batch: int) -> list[Delivery]:
        """Up to `batch` commands available now; never waits for new ones to arrive."""
        await self.ensure_consumer(connection)
        inbox = self._nc.new_inbox()
        sub = await self._nc.subscribe(inbox)
        # A no_wait pull without `expires` answers at once (messages, then a 404/408 status),
        # and leaves no lingering pull request that could capture a later message for a
        # replica that is no longer asking.
        request = json.dumps({"batch": batch, "no_wait": True}).encode()
        api = f"$JS.API.CONSUMER.MSG.NEXT.{QB_COMMANDS.name}.{durable_name(connection)}"
        deliveries: list[Delivery] = []
        try:
            await self._nc.publish(api, request, reply=inbox)
            while len(deliveries) < batch:
                try:
                    msg = await sub.next_msg(timeout=5.0)
                except NatsTimeoutError:
                    break
                if msg.headers and msg.headers.get("Status"):
                    break
                delivery = await self._delivery(msg)
                if delivery is not None:
                    deliveries.append(delivery)
        finally:
            await sub.unsubscribe()
        return deliveries

    async def _delivery(self, msg: Msg) -> Delivery | None:
        meta = msg.metadata
        try:
            command = Command.model_validate_json(msg.data)
        except ValidationError as exc:
            # Not a command at all: redelivering it cannot help. Terminated, and logged with
            # its stream sequence so the operator can find it (audit keeps the stream too).
            log.error(
                "QB_COMMANDS message %s is not a valid Command, terminated: %s",
                meta.sequence.stream,
                exc,
            )
            await self.term(msg.reply)
            return None
        headers = msg.headers or {}
        trace = {name: headers[name] for name in TRACE_HEADERS if headers.get(name)}
        return Delivery(command, msg.reply, meta.num_delivered, meta.sequence.stream, trace)

    async def load(self, stream_seq: int) -> Command:
        raw = await self._js.get_msg(QB_COMMANDS.name, stream_seq)
        return Command.model_validate_json(raw.data or b"")

    async def ack(self, reply: str) -> None:
        # Confirmed by the server: only then may the in-flight marker go (DESIGN rule 2).
        await self._nc.request(reply, b"+ACK", timeout=5.0)

    async def term(self, reply: str) -> None:
        await self._nc.request(reply, b"+TERM", timeout=5.0)

    async def nak(self, reply: str, delay_seconds: float = 0.0) -> None:
        payload = b"-NAK"
        if delay_seconds > 0:
            payload += b" " + json.dumps({"delay": int(delay_seconds * 1e9)}).encode()
        await self._nc.publish(reply, payload)

    async def flush(self) -> None:
        await self._nc.flush()

    async def count_wait(self, connection: str, command_id: str) -> int:
        """One more session this command waited in; returns the new count."""
        key = f"{connection}.{command_id}"
        count = await self.waits(connection, command_id) + 1
        await self._waits.put(key, str(count).encode())
        return count

    async def waits(self, connection: str, command_id: str) -> int:
        try:
            entry = await self._waits.get(f"{connection}.{command_id}")
        except KeyNotFoundError:
            return 0
        return int(entry.value or b"0")

    async def clear_waits(self, connection: str, command_id: str) -> None:
        await self._waits.purge(f"{connection}.{command_id}")
