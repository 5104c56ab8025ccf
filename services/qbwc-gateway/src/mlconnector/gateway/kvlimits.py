"""A `limits` storage on a NATS KV bucket, so every gateway replica counts the same failures.

`limits` (the rate-limiting library) ships memory, Redis, Memcached, MongoDB and etcd storages;
the gateway already depends on NATS and nothing else, so this small adapter keeps the counters
there instead of adding a server. It implements what the fixed-window strategy needs (incr, get,
get_expiry, clear): one KV entry per counter holding its count and window end, updated with
compare-and-set on the entry's revision so concurrent replicas never lose a count. Old windows
are collected by the bucket's TTL (streams.AUTH_LIMITS_TTL_SECONDS).
"""

from __future__ import annotations

import asyncio
import json
import random
import time

import nats.errors
from limits.aio.storage import Storage
from nats.js.errors import KeyNotFoundError, KeyWrongLastSequenceError
from nats.js.kv import KeyValue

_MAX_CAS_ATTEMPTS = 32


class NatsKvStorage(Storage):
    """Fixed-window counters in a NATS KV bucket. Keys are `limits` keys
    (`namespace/identifiers/amount/multiples/granularity`); identifiers must already be KV-safe
    ([-/_=.a-zA-Z0-9]), so callers hash user names and addresses first."""

    STORAGE_SCHEME = ["mlconnector-nats-kv"]

    def __init__(self, kv: KeyValue) -> None:
        super().__init__()
        self._kv = kv

    @property
    def base_exceptions(self) -> type[Exception] | tuple[type[Exception], ...]:
        return (nats.errors.Error,)

    async def _read(self, key: str) -> tuple[int, float, int] | None:
        """(count, window end as epoch seconds, revision), or None when absent."""
        try:
            entry = await self._kv.get(key)
        except KeyNotFoundError:
            return None
        if not entry.value or entry.revision is None:
            return None
        data = json.loads(entry.value)
        return int(data["count"]), float(data["expires_at"]), entry.revision

    async def incr(self, key: str, expiry: int, amount: int = 1) -> int:
        """Add `amount` to the counter; a counter whose window ended starts again at `amount`
        with a window of `expiry` seconds. Returns the new count."""
        for attempt in range(_MAX_CAS_ATTEMPTS):
            if attempt:
                # Many writers on one key: back off a random while, growing, so that they
                # stop colliding instead of retrying in step.
                await asyncio.sleep(random.uniform(0, 0.002 * min(attempt, 10)))
            found = await self._read(key)
            now = time.time()
            if found is None or found[1] <= now:
                count, expires_at = amount, now + expiry
            else:
                count, expires_at = found[0] + amount, found[1]
            value = json.dumps({"count": count, "expires_at": expires_at}).encode()
            try:
                if found is None:
                    await self._kv.create(key, value)
                else:
                    await self._kv.update(key, value, last=found[2])
            except KeyWrongLastSequenceError:
                continue  # another replica counted at the same time: read again
            return count
        raise RuntimeError(f"rate-limit counter {key} kept changing under concurrent updates")

    async def get(self, key: str) -> int:
        found = await self._read(key)
        if found is None or found[1] <= time.time():
            return 0
        return found[0]

    async def get_expiry(self, key: str) -> float:
        """Epoch seconds at which the counter's window ends (now when there is none)."""
        found = await self._read(key)
        now = time.time()
        return found[1] if found is not None and found[1] > now else now

    async def check(self) -> bool:
        return True

    async def reset(self) -> int | None:
        return None  # never used: counters expire on their own

    async def clear(self, key: str) -> None:
        await self._kv.delete(key)
