"""Retrying a failed record: its newest ServiceTitan version published again as a new
generation, so that it is mapped afresh with the connection's current mapping.

The mechanism (DESIGN, the books issue): the copy carries `generation` = unix milliseconds of
the retry and `source` "retry", and its `Nats-Msg-Id` is `StEvent.message_id`
(`<event id>:g<generation>`). The mapper derives command ids from the message id, so the copy
gets new commands; the gateway lets the higher generation supersede the failed attempt and
never posts twice. Audit records the copy like any event: the record turns "pending" and its
trail shows the new attempt.
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

from nats.js import JetStreamContext
from pydantic import BaseModel

from mlconnector.audit.queries import RecordQueries
from mlconnector.common.envelopes import StEvent
from mlconnector.common.streams import st_event_subject

log = logging.getLogger("mlconnector.audit.retry")

RETRYABLE = frozenset({"failed"})
MAX_RETRY_ALL = 5000


class RetryError(ValueError):
    """A record that cannot be retried (`status`: the HTTP status that says why)."""

    def __init__(self, message: str, status: int = 409) -> None:
        super().__init__(message)
        self.status = status


class RetryResult(BaseModel):
    """One record retried: the generation and message id of the copy published."""

    record_id: int
    entity: str
    st_id: int
    generation: int
    message_id: str


def retry_copy(event: StEvent, now: dt.datetime) -> StEvent:
    """The copy of `event` a retry at `now` publishes (a later generation than any before)."""
    generation = max(int(now.timestamp() * 1000), event.generation + 1)
    return event.model_copy(
        update={"generation": generation, "source": "retry", "received_at": now}
    )


async def retry_record(
    js: JetStreamContext,
    queries: RecordQueries,
    record_id: int,
    now: dt.datetime | None = None,
) -> RetryResult:
    """Republish record `record_id`'s newest version; RetryError (404/409) when it is unknown
    or not failed, or audit has no readable ServiceTitan version of it."""
    record = await queries.record(record_id)
    if record is None:
        raise RetryError(f"There is no record {record_id}.", 404)
    if record.status not in RETRYABLE:
        raise RetryError(
            f"Record {record_id} is {record.status}; only failed records can be retried."
        )
    event = await queries.latest_event(record)
    if event is None:
        raise RetryError(
            f"Record {record_id} has no readable ServiceTitan version to send again; "
            "fix it in ServiceTitan and it comes again by itself."
        )
    copy = retry_copy(event, now or dt.datetime.now(dt.UTC))
    await js.publish(
        st_event_subject(copy.tenant, copy.entity),
        copy.model_dump_json().encode(),
        headers={"Nats-Msg-Id": copy.message_id},
    )
    log.info("retry of record %s published as %s", record_id, copy.message_id)
    return RetryResult(
        record_id=record_id,
        entity=copy.entity,
        st_id=copy.st_id,
        generation=copy.generation,
        message_id=copy.message_id,
    )


async def retry_many(
    js: JetStreamContext, queries: RecordQueries, record_ids: list[int]
) -> dict[str, Any]:
    """Retry each record; those that cannot be are listed with the reason, none stops it."""
    retried: list[RetryResult] = []
    skipped: list[dict[str, Any]] = []
    now = dt.datetime.now(dt.UTC)
    for record_id in record_ids:
        try:
            retried.append(await retry_record(js, queries, record_id, now))
        except RetryError as exc:
            skipped.append({"record_id": record_id, "reason": str(exc)})
    return {
        "retried": [r.model_dump() for r in retried],
        "skipped": skipped,
        "count": len(retried),
    }
