"""st-ingest's shared state in KV `st-state`, so that every replica sees the same:

- `<tenant>.health.<feed>`: a feed's health (`FeedHealth`): failures in a row, its back-off,
  the state last reported;
- `<tenant>.lease.<feed>`: which replica pages the feed now (`Lease`), so that replicas split
  the feeds instead of reading each twice;
- `<tenant>.backfill`: the backfill asked for (`Backfill`), and `<tenant>.backfill.<feed>` its
  continuation token per feed;
- `<tenant>.echo.<entity>.<st id>`: the fingerprint of a customer/vendor as st-ingest itself
  wrote it to ServiceTitan (a version that still matches is not published: no echo);
- `<connection>.link.<entity>.<ListID>`: the ServiceTitan id of a QuickBooks ListID, and the
  EditSequence of the last QuickBooks change written to ServiceTitan.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import json
import time
from typing import Literal, TypeVar

from nats.js.errors import KeyDeletedError, KeyNotFoundError, KeyWrongLastSequenceError
from nats.js.kv import KeyValue
from pydantic import BaseModel, ValidationError

from mlconnector.common.models import Party

M = TypeVar("M", bound=BaseModel)

FeedState = Literal["ok", "stuck", "failing", "forbidden", "unauthorized"]


class FeedHealth(BaseModel):
    """`failures`: polls in a row that failed; `retry_at`: UNIX seconds before which the feed
    is not polled (its back-off); `reported`: the state last published as a FeedReport."""

    state: FeedState = "ok"
    failures: int = 0
    error: str | None = None
    retry_at: float = 0.0
    reported: FeedState = "ok"
    reported_error: str | None = None


class Lease(BaseModel):
    owner: str
    until: float


class Backfill(BaseModel):
    """Records dated on or after `since` are brought in again, feed by feed; `done` lists the
    feeds whose backfill export reached its end."""

    since: dt.date
    requested_at: dt.datetime
    done: list[str] = []


class Link(BaseModel):
    st_id: int
    edit_sequence: str | None = None


def party_fingerprint(party: Party) -> str:
    """What QuickBooks gets from a customer/vendor (everything but modifiedOn), hashed."""
    body = party.model_dump(mode="json", exclude={"modified_on"})
    return hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()[:32]


class StState:
    def __init__(self, kv: KeyValue, owner: str) -> None:
        self._kv = kv
        self.owner = owner

    async def _get(self, key: str) -> tuple[bytes | None, int | None]:
        try:
            entry = await self._kv.get(key)
        except (KeyNotFoundError, KeyDeletedError):
            return None, None
        return entry.value or None, entry.revision

    async def _model(self, key: str, model: type[M]) -> M | None:
        value, _ = await self._get(key)
        if value is None:
            return None
        try:
            return model.model_validate_json(value)
        except ValidationError:
            return None

    async def _put(self, key: str, model: BaseModel) -> None:
        await self._kv.put(key, model.model_dump_json().encode())

    # --- feed health -------------------------------------------------------------------------

    async def health(self, tenant: str, feed: str) -> FeedHealth:
        return await self._model(f"{tenant}.health.{feed}", FeedHealth) or FeedHealth()

    async def save_health(self, tenant: str, feed: str, health: FeedHealth) -> None:
        await self._put(f"{tenant}.health.{feed}", health)

    # --- leases ------------------------------------------------------------------------------

    async def take_lease(self, tenant: str, feed: str, seconds: float) -> bool:
        """True when this replica holds the feed's lease for `seconds` from now."""
        key = f"{tenant}.lease.{feed}"
        value, revision = await self._get(key)
        now = time.time()
        if value is not None:
            try:
                lease = Lease.model_validate_json(value)
            except ValidationError:
                lease = Lease(owner="", until=0.0)
            if lease.owner != self.owner and lease.until > now:
                return False
        body = Lease(owner=self.owner, until=now + seconds).model_dump_json().encode()
        try:
            if revision is None:
                await self._kv.create(key, body)
            else:
                await self._kv.update(key, body, last=revision)
        except KeyWrongLastSequenceError:
            return False  # another replica took it between our read and write
        return True

    async def release_lease(self, tenant: str, feed: str) -> None:
        key = f"{tenant}.lease.{feed}"
        value, revision = await self._get(key)
        if value is None or revision is None:
            return
        try:
            if Lease.model_validate_json(value).owner != self.owner:
                return
            await self._kv.update(
                key, Lease(owner="", until=0.0).model_dump_json().encode(), last=revision
            )
        except (ValidationError, KeyWrongLastSequenceError):
            return

    # --- backfill ----------------------------------------------------------------------------

    async def backfill(self, tenant: str) -> Backfill | None:
        return await self._model(f"{tenant}.backfill", Backfill)

    async def request_backfill(
        self, tenant: str, since: dt.date, feeds: tuple[str, ...]
    ) -> Backfill:
        """Start (or restart from its first page) a backfill of `feeds`."""
        request = Backfill(since=since, requested_at=dt.datetime.now(dt.UTC))
        for feed in feeds:
            with contextlib.suppress(KeyNotFoundError, KeyDeletedError):
                await self._kv.delete(f"{tenant}.backfill.{feed}")
        await self._put(f"{tenant}.backfill", request)
        return request

    async def backfill_token(self, tenant: str, feed: str) -> str | None:
        value, _ = await self._get(f"{tenant}.backfill.{feed}")
        return value.decode() if value else None

    async def save_backfill_token(self, tenant: str, feed: str, token: str) -> None:
        await self._kv.put(f"{tenant}.backfill.{feed}", token.encode())

    async def backfill_done(self, tenant: str, feed: str) -> None:
        current = await self.backfill(tenant)
        if current is not None and feed not in current.done:
            current.done.append(feed)
            await self._put(f"{tenant}.backfill", current)

    # --- echoes and links --------------------------------------------------------------------

    async def echo(self, tenant: str, entity: str, st_id: int) -> str | None:
        value, _ = await self._get(f"{tenant}.echo.{entity}.{st_id}")
        return value.decode() if value else None

    async def save_echo(self, tenant: str, entity: str, st_id: int, fingerprint: str) -> None:
        await self._kv.put(f"{tenant}.echo.{entity}.{st_id}", fingerprint.encode())

    async def forget_echo(self, tenant: str, entity: str, st_id: int) -> None:
        with contextlib.suppress(KeyNotFoundError, KeyDeletedError):
            await self._kv.delete(f"{tenant}.echo.{entity}.{st_id}")

    async def link(self, connection: str, entity: str, list_id: str) -> Link | None:
        return await self._model(f"{connection}.link.{entity}.{list_id}", Link)

    async def save_link(self, connection: str, entity: str, list_id: str, link: Link) -> None:
        await self._put(f"{connection}.link.{entity}.{list_id}", link)
