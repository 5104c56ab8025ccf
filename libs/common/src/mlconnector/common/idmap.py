"""The id map (KV `id-map`): ServiceTitan id <-> QuickBooks ListID/TxnID, per connection."""

from __future__ import annotations

import datetime as dt

from nats.js import JetStreamContext
from nats.js.errors import KeyDeletedError, KeyNotFoundError
from nats.js.kv import KeyValue
from pydantic import BaseModel, Field

from mlconnector.common.streams import KV_ID_MAP


class IdMapping(BaseModel):
    qb_id: str
    edit_sequence: str | None = None
    # The command that last posted (added or modified) the record: a redelivery or replay
    # of that very command is a duplicate, any other command is a newer version.
    command_id: str | None = None
    # That command's `Command.fingerprint`: what a newer version is compared with. Empty in
    # entries written before fingerprints were kept (the posted version is then unknown).
    fingerprint: dict[str, str] = Field(default_factory=dict)
    # The version QuickBooks holds (Command.version_order's parts): an older one is never
    # applied over it.
    version_at: dt.datetime | None = None
    generation: int = 0
    event_id: str | None = None
    # The request that created it ("InvoiceAddRq", "CreditMemoAddRq", ...): what a Mod or a
    # void must name.
    request_type: str | None = None
    # ServiceTitan line key -> the TxnLineID QuickBooks gave that line (InvoiceMod).
    line_ids: dict[str, str] = Field(default_factory=dict)
    # Voided or deleted in QuickBooks to follow ServiceTitan.
    voided: bool = False


def id_map_key(connection: str, entity: str, st_id: int) -> str:
    return f"{connection}.{entity}.{st_id}"


class IdMap:
    def __init__(self, kv: KeyValue) -> None:
        self._kv = kv

    @classmethod
    async def open(cls, js: JetStreamContext) -> IdMap:
        return cls(await js.key_value(KV_ID_MAP))

    async def get(self, connection: str, entity: str, st_id: int) -> IdMapping | None:
        try:
            entry = await self._kv.get(id_map_key(connection, entity, st_id))
        except (KeyNotFoundError, KeyDeletedError):
            return None
        if not entry.value:
            return None
        return IdMapping.model_validate_json(entry.value)

    async def put(self, connection: str, entity: str, st_id: int, mapping: IdMapping) -> None:
        await self._kv.put(
            id_map_key(connection, entity, st_id), mapping.model_dump_json().encode()
        )
