"""The review's storage (KV `onboarding`), per connection:

- `<connection>.plan`: the plan without its matches, and how many pages each section has;
  `<connection>.plan.<section>.<page>`: up to PAGE matches (10,000 customers: 20 pages of
  about 300 KB, below NATS' 1 MiB message limit);
- `<connection>.name.<entity>.<st id>`: the QuickBooks Name the gateway sends for a customer or
  vendor instead of the mapper's (a confirmed match's own name, or the name with the
  ServiceTitan id suffix): one key per record, read only for what a message carries;
- `<connection>.holds`: the customers and vendors QuickBooks refused with 3100 that wait for
  the operator's choice (few at a time; one value, changed by compare-and-set).
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
from collections.abc import Callable, Iterable
from typing import Literal

from nats.aio.client import Client
from nats.js import JetStreamContext
from nats.js.errors import KeyDeletedError, KeyNotFoundError, KeyWrongLastSequenceError
from nats.js.kv import KeyValue
from pydantic import BaseModel, Field, TypeAdapter

from mlconnector.common.envelopes import utcnow
from mlconnector.common.kvbatch import last_values
from mlconnector.common.onboarding.matching import SECTIONS, Match
from mlconnector.common.onboarding.plan import Plan
from mlconnector.common.streams import KV_ONBOARDING

PAGE = 500
CAS_ATTEMPTS = 8
_MATCHES = TypeAdapter(list[Match])


class _PlanHead(BaseModel):
    plan: Plan
    pages: dict[str, int] = Field(default_factory=dict)


class NameOverride(BaseModel):
    """The Name to send for one customer or vendor, and why (for the audit trail)."""

    name: str
    why: str


HoldState = Literal["looking", "offered", "chosen"]
HoldChoice = Literal["link", "suffix"]


class ExistingEntry(BaseModel):
    """What QuickBooks holds under the refused name."""

    list_id: str
    name: str
    kind: Literal["Customer", "Vendor"]
    edit_sequence: str = ""
    phone: str | None = None
    email: str | None = None
    address: tuple[str, ...] = ()
    active: bool = True


class Hold(BaseModel):
    """A customer or vendor QuickBooks refused to add: its name is in use (3100).

    looking: the gateway asks QuickBooks what holds the name; offered: the operator chooses
    between "link" (it is `existing`: ml-connector uses that entry) and "suffix" (a new one
    named `suffixed_name`); chosen: the gateway carries the choice out at its next session.
    `can_link` is False when the name belongs to another kind of name (a vendor for a
    customer, an employee): only "suffix" is possible then.
    """

    entity: Literal["customer", "vendor"]
    st_id: int
    ledger_key: str
    command_id: str
    name: str
    suffixed_name: str
    message: str
    state: HoldState = "looking"
    existing: ExistingEntry | None = None
    can_link: bool = False
    choice: HoldChoice | None = None
    since: dt.datetime = Field(default_factory=utcnow)
    # Records waiting for it (invoices, payments...) when it was offered.
    dependants: int = 0
    # The session whose lookup of the name failed: asked again in the next one.
    asked_ticket: str = ""

    @property
    def key(self) -> str:
        return f"{self.entity}:{self.st_id}"


class Holds(BaseModel):
    items: dict[str, Hold] = Field(default_factory=dict)


HoldsChange = Callable[[Holds], Holds]


class ReviewStore:
    def __init__(self, kv: KeyValue, nc: Client | None = None) -> None:
        self._kv = kv
        # With the connection and a bucket that allows direct gets, name overrides of a
        # round are read in one request (kvbatch).
        self._nc = nc
        self.requests = 0  # NATS requests made, for the benchmarks

    @classmethod
    async def open(cls, js: JetStreamContext) -> ReviewStore:
        kv = await js.key_value(KV_ONBOARDING)
        info = await js.stream_info(f"KV_{KV_ONBOARDING}")
        nc: Client | None = getattr(js, "_nc", None)
        return cls(kv, nc if info.config.allow_direct else None)

    async def _get(self, key: str) -> tuple[bytes | None, int]:
        self.requests += 1
        try:
            entry = await self._kv.get(key)
        except (KeyNotFoundError, KeyDeletedError):
            return None, 0
        return (entry.value or None), int(entry.revision or 0)

    # --- the plan ---------------------------------------------------------------------------

    async def plan_head(self, connection: str) -> Plan | None:
        """The plan without its matches (state, counts are not in it): cheap to read."""
        raw, _ = await self._get(f"{connection}.plan")
        return _PlanHead.model_validate_json(raw).plan if raw else None

    async def load_plan(self, connection: str) -> Plan | None:
        raw, _ = await self._get(f"{connection}.plan")
        if raw is None:
            return None
        head = _PlanHead.model_validate_json(raw)
        keys = [(section, n) for section, count in head.pages.items() for n in range(1, count + 1)]
        pages = await asyncio.gather(
            *(self._get(f"{connection}.plan.{section}.{n}") for section, n in keys)
        )
        plan = head.plan
        plan.matches = {section: [] for section in head.pages}
        for (section, _), (data, _) in zip(keys, pages, strict=True):
            plan.matches[section].extend(_MATCHES.validate_json(data or b"[]"))
        return plan

    async def save_plan(self, plan: Plan) -> None:
        """Write the whole plan (its pages, then the head that names them)."""
        connection = plan.connection
        raw, _ = await self._get(f"{connection}.plan")
        old_pages = _PlanHead.model_validate_json(raw).pages if raw else {}
        pages: dict[str, int] = {}
        writes = []
        for section in SECTIONS:
            matches = plan.section(section)
            chunks = [matches[i : i + PAGE] for i in range(0, len(matches), PAGE)]
            pages[section] = len(chunks)
            for n, chunk in enumerate(chunks, start=1):
                writes.append(
                    self._kv.put(f"{connection}.plan.{section}.{n}", _MATCHES.dump_json(chunk))
                )
        self.requests += len(writes) + 1
        await asyncio.gather(*writes)
        head = _PlanHead(plan=plan.model_copy(update={"matches": {}}), pages=pages)
        await self._kv.put(f"{connection}.plan", head.model_dump_json().encode())
        stale = [
            f"{connection}.plan.{section}.{n}"
            for section, count in old_pages.items()
            for n in range(pages.get(section, 0) + 1, count + 1)
        ]
        await self._purge(stale)

    async def save_head(self, plan: Plan) -> None:
        """Change the plan's state fields only (its matches are left as stored)."""
        raw, _ = await self._get(f"{plan.connection}.plan")
        pages = _PlanHead.model_validate_json(raw).pages if raw else {}
        head = _PlanHead(plan=plan.model_copy(update={"matches": {}}), pages=pages)
        self.requests += 1
        await self._kv.put(f"{plan.connection}.plan", head.model_dump_json().encode())

    async def _purge(self, keys: Iterable[str]) -> None:
        async def purge(key: str) -> None:
            with contextlib.suppress(KeyNotFoundError, KeyDeletedError):
                await self._kv.purge(key)

        keys = list(keys)
        self.requests += len(keys)
        await asyncio.gather(*(purge(key) for key in keys))

    # --- names ------------------------------------------------------------------------------

    async def put_names(
        self, connection: str, names: Iterable[tuple[str, int, NameOverride]]
    ) -> None:
        """Name overrides, each (entity, st_id, override), pipelined."""
        writes = [
            self._kv.put(f"{connection}.name.{entity}.{st_id}", override.model_dump_json().encode())
            for entity, st_id, override in names
        ]
        self.requests += len(writes)
        await asyncio.gather(*writes)

    async def names(
        self, connection: str, records: Iterable[tuple[str, int]]
    ) -> dict[tuple[str, int], NameOverride]:
        """The overrides of these (entity, st_id) records that have one."""
        wanted = list(dict.fromkeys(records))
        if self._nc is not None and wanted:
            subjects = {
                f"$KV.{KV_ONBOARDING}.{connection}.name.{entity}.{st_id}": (entity, st_id)
                for entity, st_id in wanted
            }
            self.requests += 1
            values = await last_values(self._nc, f"KV_{KV_ONBOARDING}", list(subjects))
            return {
                subjects[subject]: NameOverride.model_validate_json(raw)
                for subject, raw in values.items()
            }
        found = await asyncio.gather(
            *(self._get(f"{connection}.name.{entity}.{st_id}") for entity, st_id in wanted)
        )
        return {
            record: NameOverride.model_validate_json(raw)
            for record, (raw, _) in zip(wanted, found, strict=True)
            if raw
        }

    # --- holds ------------------------------------------------------------------------------

    async def holds(self, connection: str) -> Holds:
        raw, _ = await self._get(f"{connection}.holds")
        return Holds.model_validate_json(raw) if raw else Holds()

    async def change_holds(self, connection: str, change: HoldsChange) -> Holds:
        """Apply `change` by compare-and-set (re-read and re-applied if another writer won)."""
        key = f"{connection}.holds"
        for _ in range(CAS_ATTEMPTS):
            raw, revision = await self._get(key)
            current = Holds.model_validate_json(raw) if raw else Holds()
            wanted = change(current.model_copy(deep=True))
            self.requests += 1
            try:
                if revision:
                    await self._kv.update(key, wanted.model_dump_json().encode(), last=revision)
                else:
                    await self._kv.create(key, wanted.model_dump_json().encode())
            except (KeyWrongLastSequenceError, Exception) as exc:
                if _conflict(exc):
                    continue
                raise
            return wanted
        raise RuntimeError(f"the holds of {connection} kept changing under {CAS_ATTEMPTS} writes")


def _conflict(exc: BaseException) -> bool:
    code = getattr(exc, "err_code", None)
    return isinstance(exc, KeyWrongLastSequenceError) or code in (10071, 10164, 10058)
