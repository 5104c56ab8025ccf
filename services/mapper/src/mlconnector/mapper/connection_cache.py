"""The connections bucket grouped by tenant, cached: read at most once per TTL, not per event."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

from mlconnector.common.connections import Connection, ConnectionStore


class ConnectionCache:
    """The connections bucket grouped by tenant, read at most once every `ttl` seconds.

    A connection added, changed or removed by the operator is seen within `ttl`; an event
    whose tenant the cache does not know forces a fresh read (`by_tenant(max_age=0)`), so a
    newly added connection is picked up by the first event that needs it.
    """

    def __init__(
        self,
        store: ConnectionStore,
        ttl: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._store = store
        self._ttl = ttl
        self._clock = clock
        self._by_tenant: dict[str, list[Connection]] = {}
        self._read_at: float | None = None
        self._lock = asyncio.Lock()

    def _fresh(self, max_age: float) -> bool:
        return self._read_at is not None and self._clock() - self._read_at < max_age

    async def by_tenant(self, max_age: float | None = None) -> dict[str, list[Connection]]:
        limit = self._ttl if max_age is None else max_age
        if not self._fresh(limit):
            async with self._lock:
                if not self._fresh(limit):  # another batch may have read it meanwhile
                    read_at = self._clock()
                    grouped: dict[str, list[Connection]] = {}
                    for connection in await self._store.all():
                        grouped.setdefault(connection.tenant, []).append(connection)
                    self._by_tenant, self._read_at = grouped, read_at
        return self._by_tenant
