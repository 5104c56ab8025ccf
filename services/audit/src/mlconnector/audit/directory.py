"""The connections' settings audit shows by (time zone, Web Connector schedule), read from the
`connections` bucket at most once per TTL."""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass

from nats.js import JetStreamContext

from mlconnector.common.connections import Connection, ConnectionStore

log = logging.getLogger("mlconnector.audit.directory")


@dataclass(frozen=True)
class ConnectionInfo:
    """What audit needs of one connection (`known`: it is in the connections bucket)."""

    name: str
    tenant: str | None
    time_zone: str
    schedule_minutes: int
    known: bool


class Directory:
    """Connections by name, cached for `ttl` seconds; without NATS (js None), none are known
    and every connection gets `default_zone` and a 5-minute schedule."""

    def __init__(self, js: JetStreamContext | None, default_zone: str, ttl: float = 30.0) -> None:
        self._js = js
        self.default_zone = default_zone
        self._ttl = ttl
        self._connections: dict[str, Connection] = {}
        self._read_at: float | None = None
        self._lock = asyncio.Lock()

    async def all(self) -> dict[str, Connection]:
        if self._js is None:
            return {}
        if self._read_at is None or time.monotonic() - self._read_at > self._ttl:
            async with self._lock:
                if self._read_at is None or time.monotonic() - self._read_at > self._ttl:
                    try:
                        store = await ConnectionStore.open(self._js)
                        found = await store.all()
                    except Exception:  # NATS away: show what we had, with default zones
                        log.warning("cannot read the connections bucket", exc_info=True)
                        found = list(self._connections.values())
                    self._connections = {c.name: c for c in found}
                    self._read_at = time.monotonic()
        return self._connections

    async def info(self, name: str) -> ConnectionInfo:
        found = (await self.all()).get(name)
        if found is None:
            return ConnectionInfo(name, None, self.default_zone, 5, known=False)
        return ConnectionInfo(
            name,
            found.tenant,
            found.time_zone or self.default_zone,
            found.schedule_minutes,
            known=True,
        )

    async def zone_of(self, connection: str | None) -> str:
        if not connection:
            return await self.single_zone()
        return (await self.info(connection)).time_zone

    async def single_zone(self) -> str:
        """The zone to show mixed lists in: the one all connections share, else the default."""
        zones = {c.time_zone or self.default_zone for c in (await self.all()).values()}
        return zones.pop() if len(zones) == 1 else self.default_zone
