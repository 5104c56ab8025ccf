"""In-flight markers in KV_INFLIGHT: `<connection>.<command id>` -> InflightMarker.

A marker is written before QuickBooks can see a request and cleared once its answer is
settled. A command that still has one was sent and never answered: QuickBooks may have
posted it, so its next attempt looks the object up before adding it again (DESIGN rule 1).
"""

from __future__ import annotations

import datetime as dt

from nats.js.errors import KeyNotFoundError
from nats.js.kv import KeyValue
from pydantic import BaseModel


class InflightMarker(BaseModel):
    ticket: str
    attempt: int
    request_id: str
    sent_at: dt.datetime


def _key(connection: str, command_id: str) -> str:
    return f"{connection}.{command_id}"


class InflightMarkers:
    def __init__(self, kv: KeyValue) -> None:
        self._kv = kv

    async def put(self, connection: str, command_id: str, marker: InflightMarker) -> None:
        await self._kv.put(_key(connection, command_id), marker.model_dump_json().encode())

    async def exists(self, connection: str, command_id: str) -> bool:
        try:
            entry = await self._kv.get(_key(connection, command_id))
        except KeyNotFoundError:
            return False
        return bool(entry.value)

    async def clear(self, connection: str, command_id: str) -> None:
        # Purge, not delete: nothing needs the history of a settled marker.
        await self._kv.purge(_key(connection, command_id))
