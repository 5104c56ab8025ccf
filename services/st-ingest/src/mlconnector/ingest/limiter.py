"""One ServiceTitan rate limiter per tenant, shared by every st-ingest replica through NATS.

ServiceTitan allows 60 calls per second per application and tenant (FACTS.md, "Rate
limit"); replicas and the operator's `mlconnector st` commands all count against it. No
well-kept Python limiter has a NATS backend (`limits`: Redis, Memcached, MongoDB;
`pyrate-limiter`: Redis, SQLite, PostgreSQL; `aiolimiter`: one process), so this is the
smallest correct one on JetStream KV: a sliding window log of grant times.

The key `<tenant>` of bucket `st-rate-limits` holds the times (UNIX seconds) of the calls
granted within the last `window` seconds. A caller reads it, drops what is older than the
window, and if fewer than `limit` remain appends its own time and writes the key back with
compare-and-set on the revision it read (KV `update(..., last=revision)`); a concurrent
writer makes the write fail and the caller starts over. So at every grant, at most `limit`
grants lie in the trailing window, and any one-second interval holds at most `limit` grants.

`window` is a little over a second (1.05 s by default): the grant is taken before the HTTP
request leaves, and the request reaches ServiceTitan a few milliseconds later, by a latency
that varies; the margin keeps ServiceTitan's own one-second count at or under the limit while
leaving 60/1.05 = 57 calls/s for a backlog. Replicas on different hosts compare wall clocks:
keep them NTP-synchronised (skew beyond the margin can let a window exceed the limit).
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable

from nats.js.errors import (
    BadRequestError,
    KeyDeletedError,
    KeyNotFoundError,
    KeyWrongLastSequenceError,
)
from nats.js.kv import KeyValue

DEFAULT_LIMIT = 60
DEFAULT_WINDOW_SECONDS = 1.05


class SharedRateLimiter:
    """`await limiter.acquire()` before every call to the tenant; never raises for the limit,
    it waits. NATS errors propagate (the call is then not made)."""

    def __init__(
        self,
        kv: KeyValue,
        tenant: str,
        limit: int = DEFAULT_LIMIT,
        window: float = DEFAULT_WINDOW_SECONDS,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        if limit < 1 or window <= 0:
            raise ValueError("a rate limit needs limit >= 1 and a positive window")
        self._kv = kv
        self.key = tenant
        self.limit = limit
        self.window = window
        self._clock = clock
        self._sleep = sleep
        # One contender per process at a time: fewer compare-and-set conflicts.
        self._local = asyncio.Lock()
        self.granted = 0
        self.conflicts = 0
        self.waited_seconds = 0.0

    async def _read(self) -> tuple[list[float], int | None]:
        try:
            entry = await self._kv.get(self.key)
        except (KeyNotFoundError, KeyDeletedError):
            return [], None
        try:
            stamps = [float(t) for t in json.loads(entry.value or b"[]")]
        except (ValueError, TypeError):
            stamps = []  # unreadable: start a fresh window (over-counting is never unsafe)
        return stamps, entry.revision

    async def acquire(self) -> float:
        """Wait for a call's turn; returns the grant's time (UNIX seconds) as counted."""
        async with self._local:
            while True:
                stamps, revision = await self._read()
                now = self._clock()
                recent = sorted(t for t in stamps if t > now - self.window)
                if len(recent) >= self.limit:
                    wait = recent[-self.limit] + self.window - now
                    self.waited_seconds += max(wait, 0.0)
                    await self._sleep(max(wait, 0.001))
                    continue
                value = json.dumps([round(t, 4) for t in [*recent, now]]).encode()
                try:
                    if revision is None:
                        await self._kv.create(self.key, value)
                    else:
                        await self._kv.update(self.key, value, last=revision)
                except (KeyWrongLastSequenceError, BadRequestError):
                    # Another replica granted a call since we read: read again.
                    self.conflicts += 1
                    continue
                self.granted += 1
                return now
