"""Republishing ST_EVENTS messages so the pipeline processes them again.

The original Nats-Msg-Id cannot be reused (de-duplication would drop the copy), so each copy
gets `replay:<original id>:<replay id>`. The mapper derives command ids from the event id, not
the message id, so replayed events map to the very same commands, which JetStream then drops
as duplicates: nothing posts twice.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import uuid
from typing import Literal

import nats.errors
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from mlconnector.common.connections import ConnectionStore
from mlconnector.common.envelopes import StEvent
from mlconnector.common.models import EntityName
from mlconnector.common.streams import ST_EVENTS, check_token

log = logging.getLogger("mlconnector.audit.replay")


class ReplayRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    stream: Literal["ST_EVENTS"] = "ST_EVENTS"
    since: dt.datetime | None = Field(default=None, description="stream time to start from")
    start_seq: int | None = Field(default=None, ge=1)
    tenant: str | None = None
    connection: str | None = None
    entity: EntityName | None = None
    st_id: int | None = None


class ReplayResult(BaseModel):
    replay_id: str
    stream: str
    matched: int
    republished: int
    first_seq: int | None
    last_seq: int | None


class ReplayError(ValueError):
    pass


async def replay(js: JetStreamContext, request: ReplayRequest) -> ReplayResult:
    replay_id = uuid.uuid4().hex[:12]
    tenants: set[str] | None = None
    if request.tenant is not None:
        tenants = {check_token("tenant", request.tenant)}
    if request.connection is not None:
        found = await (await ConnectionStore.open(js)).get(request.connection)
        if found is None:
            raise ReplayError(f"no connection named {request.connection!r}")
        tenants = {found.tenant} if tenants is None else tenants & {found.tenant}
        if not tenants:
            raise ReplayError(f"connection {request.connection!r} is not for that tenant")

    info = await js.stream_info(ST_EVENTS.name)
    # Stop at what exists now: the copies land in the same stream, after this point.
    end_seq = int(info.state.last_seq)
    result = ReplayResult(
        replay_id=replay_id,
        stream=ST_EVENTS.name,
        matched=0,
        republished=0,
        first_seq=None,
        last_seq=None,
    )
    if info.state.messages == 0:
        return result

    tenant_token = next(iter(tenants)) if tenants and len(tenants) == 1 else "*"
    subject = f"st.events.{tenant_token}.{request.entity or '*'}"
    config = ConsumerConfig(
        ack_policy=AckPolicy.NONE,
        inactive_threshold=30.0,
        filter_subject=subject,
        deliver_policy=DeliverPolicy.ALL,
    )
    if request.start_seq is not None:
        config.deliver_policy = DeliverPolicy.BY_START_SEQUENCE
        config.opt_start_seq = request.start_seq
    elif request.since is not None:
        since = request.since if request.since.tzinfo else request.since.replace(tzinfo=dt.UTC)
        config.deliver_policy = DeliverPolicy.BY_START_TIME
        config.opt_start_time = since
    sub = await js.pull_subscribe(subject, stream=ST_EVENTS.name, config=config)
    pending: list[asyncio.Future[object]] = []
    seen: set[str] = set()
    try:
        done = False
        while not done:
            try:
                msgs = await sub.fetch(256, timeout=1.0)
            except nats.errors.TimeoutError:
                break
            for msg in msgs:
                seq = int(msg.metadata.sequence.stream)
                if seq > end_seq:
                    done = True
                    break
                try:
                    event = StEvent.model_validate_json(msg.data)
                except ValidationError:
                    log.warning("replay skips undecodable ST_EVENTS message %s", seq)
                    continue
                if tenants is not None and event.tenant not in tenants:
                    continue
                if request.st_id is not None and event.st_id != request.st_id:
                    continue
                if event.event_id in seen:
                    # An earlier replay's copy of an event already republished in this run.
                    continue
                seen.add(event.event_id)
                result.matched += 1
                result.first_seq = result.first_seq or seq
                result.last_seq = seq
                original_id = (msg.headers or {}).get("Nats-Msg-Id") or event.event_id
                if original_id.startswith("replay:"):
                    # A copy of a copy still names the first original.
                    original_id = original_id.removeprefix("replay:").rsplit(":", 1)[0]
                copy = event.model_copy(update={"source": "replay"})
                pending.append(
                    asyncio.ensure_future(
                        js.publish(
                            msg.subject,
                            copy.model_dump_json().encode(),
                            headers={"Nats-Msg-Id": f"replay:{original_id}:{replay_id}"},
                        )
                    )
                )
                if seq == end_seq:
                    done = True
            if len(pending) >= 256:
                await asyncio.gather(*pending)
                pending.clear()
        await asyncio.gather(*pending)
    finally:
        await sub.unsubscribe()
    result.republished = result.matched
    log.info("replay %s republished %d events", replay_id, result.republished)
    return result
