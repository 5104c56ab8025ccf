"""The id map (KV `id-map`): ServiceTitan id <-> QuickBooks ListID/TxnID, per connection."""

from __future__ import annotations

import asyncio
import datetime as dt
import re
from collections.abc import Iterable

from nats.aio.client import Client
from nats.js import JetStreamContext
from nats.js.errors import KeyDeletedError, KeyNotFoundError
from nats.js.kv import KeyValue
from pydantic import BaseModel, Field

from mlconnector.common.envelopes import version_order
from mlconnector.common.kvbatch import last_values
from mlconnector.common.streams import KV_ID_MAP


class IdMapping(BaseModel):
    """What QuickBooks holds for one ServiceTitan record: its ListID/TxnID ("" for a record
    voided before it ever posted: nothing to resolve a reference to), and what it was last
    posted from."""

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
    # Found gone from QuickBooks (deleted or merged there by someone): an operator's retry
    # adds it again; ServiceTitan's own edits do not.
    missing: bool = False

    def order(self) -> tuple[dt.datetime, int, str] | None:
        """The held version's `version_order` key; None for entries written before versions
        were kept (then no version can be told older than it)."""
        if self.event_id is None:
            return None
        return version_order(self.version_at, self.generation, self.event_id)


_LISTS = frozenset({"customer", "vendor"})
_KEY_TOKEN = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


def _owner_key(connection: str, list_id: str) -> str:
    """`<connection>.qb.<ListID>`: no entity is named "qb", so it never meets a record key."""
    return f"{connection}.qb.{list_id}"


def id_map_key(connection: str, entity: str, st_id: int, role: str = "") -> str:
    key = f"{connection}.{entity}.{st_id}"
    return f"{key}.{role}" if role else key


class IdMap:
    def __init__(self, kv: KeyValue, nc: Client | None = None) -> None:
        self._kv = kv
        # With the connection (and a bucket that allows direct gets) several entries are
        # read in one request (kvbatch); without, one request per entry.
        self._nc = nc

    @classmethod
    async def open(cls, js: JetStreamContext) -> IdMap:
        kv = await js.key_value(KV_ID_MAP)
        info = await js.stream_info(f"KV_{KV_ID_MAP}")
        nc: Client | None = getattr(js, "_nc", None)
        return cls(kv, nc if info.config.allow_direct else None)

    async def get(
        self, connection: str, entity: str, st_id: int, role: str = ""
    ) -> IdMapping | None:
        try:
            entry = await self._kv.get(id_map_key(connection, entity, st_id, role))
        except (KeyNotFoundError, KeyDeletedError):
            return None
        if not entry.value:
            return None
        return IdMapping.model_validate_json(entry.value)

    async def get_many(
        self, connection: str, keys: Iterable[tuple[str, int, str]]
    ) -> dict[tuple[str, int, str], IdMapping]:
        """The entries of several records at once (requests pipelined: one round trip's
        latency, not one per key); records the map does not know are left out.
        `keys` are (entity, st_id, role)."""
        wanted = list(dict.fromkeys(keys))
        if self._nc is None or not wanted:
            found = await asyncio.gather(*(self.get(connection, *key) for key in wanted))
            return {key: mapping for key, mapping in zip(wanted, found, strict=True) if mapping}
        subjects = {f"$KV.{KV_ID_MAP}.{id_map_key(connection, *key)}": key for key in wanted}
        values = await last_values(self._nc, f"KV_{KV_ID_MAP}", list(subjects))
        return {
            subjects[subject]: IdMapping.model_validate_json(data)
            for subject, data in values.items()
        }

    async def put_many(
        self, connection: str, entries: Iterable[tuple[str, int, str, IdMapping]]
    ) -> None:
        """Several entries at once (pipelined), each (entity, st_id, role, mapping)."""
        await asyncio.gather(
            *(
                self.put(connection, entity, st_id, mapping, role)
                for entity, st_id, role, mapping in entries
            )
        )

    async def put(
        self, connection: str, entity: str, st_id: int, mapping: IdMapping, role: str = ""
    ) -> None:
        """Store the entry; a customer's or vendor's ListID also indexes it back, so that a
        change QuickBooks reports can be told to be ml-connector's own (`owners`)."""
        writes = [
            self._kv.put(
                id_map_key(connection, entity, st_id, role), mapping.model_dump_json().encode()
            )
        ]
        if entity in _LISTS and not role and mapping.qb_id:
            writes.append(
                self._kv.put(_owner_key(connection, mapping.qb_id), f"{entity}.{st_id}".encode())
            )
        await asyncio.gather(*writes)

    async def owners(
        self, connection: str, list_ids: Iterable[str]
    ) -> dict[str, tuple[int, IdMapping]]:
        """ListID -> (ServiceTitan id, id map entry) for the customers and vendors the map
        knows by these ListIDs (requests pipelined); unknown ListIDs are left out."""
        wanted = [list_id for list_id in dict.fromkeys(list_ids) if _KEY_TOKEN.fullmatch(list_id)]

        async def owner(list_id: str) -> tuple[str, tuple[int, IdMapping]] | None:
            try:
                entry = await self._kv.get(_owner_key(connection, list_id))
            except (KeyNotFoundError, KeyDeletedError):
                return None
            entity, _, st_id = (entry.value or b"").decode().partition(".")
            if not st_id.isdigit():
                return None
            mapping = await self.get(connection, entity, int(st_id))
            return (list_id, (int(st_id), mapping)) if mapping is not None else None

        found = await asyncio.gather(*(owner(list_id) for list_id in wanted))
        return dict(item for item in found if item is not None)
