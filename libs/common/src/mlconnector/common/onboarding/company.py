"""What the gateway read of a connection's QuickBooks company (KV `qb-company`).

Keys, per connection: `<connection>.m` the manifest (which read is current, how far it got,
how many entries per list); `<connection>.<read id>.<list>.<page>` one page of list entries as
QuickBooks answered one query (a page of an iterator). A new read writes under a new read id
and becomes current when it completes; the pages of the read it replaces are purged then.

Why KV and pages: the company arrives one Web Connector message at a time, each answer is
written once as it comes and read back whole by the review; one value per page keeps each put
far below NATS' 1 MiB message limit (a page of 500 customers with the fields kept here is about
150 KB; 10,000 customers are 20 pages), and history 1 keeps no old copies. A stream would do
the same but has no "current read" to switch atomically; the manifest is that switch.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import secrets
from typing import Literal

from nats.js import JetStreamContext
from nats.js.errors import KeyDeletedError, KeyNotFoundError
from nats.js.kv import KeyValue
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

from mlconnector.common.streams import KV_COMPANY

ListName = Literal[
    "customer",
    "vendor",
    "item",
    "account",
    "class",
    "terms",
    "payment_method",
    "sales_tax_code",
]
LIST_NAMES: tuple[ListName, ...] = (
    "customer",
    "vendor",
    "item",
    "account",
    "class",
    "terms",
    "payment_method",
    "sales_tax_code",
)


class QbEntry(BaseModel):
    """One entry of a QuickBooks list, as much of it as matching and the review need.

    `kind`: the entry's type where the list has several (items: "Service", "NonInventory",
    "SalesTax", "SalesTaxGroup"...; accounts: the AccountType; terms: "Standard" or
    "DateDriven"). `tax_rate` is QuickBooks' percent text ("8.25") of a sales tax item.
    """

    model_config = ConfigDict(frozen=True)

    list_id: str
    name: str
    full_name: str = ""
    kind: str = ""
    active: bool = True
    parent_id: str | None = None
    sublevel: int = 0
    edit_sequence: str = ""
    company_name: str | None = None
    first_name: str | None = None
    last_name: str | None = None
    phone: str | None = None
    email: str | None = None
    # The address block's lines (Addr1..Addr5; QuickBooks puts the addressee in Addr1).
    address: tuple[str, ...] = ()
    city: str | None = None
    state: str | None = None
    postal_code: str | None = None
    account_number: str | None = None
    tax_rate: str | None = None

    @property
    def shown_name(self) -> str:
        """FullName where the list has one (Parent:Child), else Name."""
        return self.full_name or self.name


_PAGE = TypeAdapter(list[QbEntry])


class CompanyManifest(BaseModel):
    """One connection's company reads.

    The last complete read (what the review works on): `read_id`, `pages` and `counts` per
    list name, `finished_at`, and the Web Connector `messages` it took. A read in progress or
    wanted: `state` "requested" (the next session starts one), "reading" (session `ticket`
    writes pages under `reading_id`), or "complete" (nothing in progress). `page_size` is the
    MaxReturned of the next read, halved when a read had to start over (its session was lost).
    """

    state: Literal["requested", "reading", "complete"] = "requested"
    read_id: str = ""
    pages: dict[str, int] = Field(default_factory=dict)
    counts: dict[str, int] = Field(default_factory=dict)
    finished_at: dt.datetime | None = None
    messages: int = 0
    reading_id: str = ""
    reading_pages: dict[str, int] = Field(default_factory=dict)
    ticket: str = ""
    started_at: dt.datetime | None = None
    page_size: int = Field(default=500, ge=1)

    @property
    def complete(self) -> bool:
        """A read finished at least once (the review can work)."""
        return self.finished_at is not None


class CompanySnapshot(BaseModel):
    """Every entry the current complete read holds, by list."""

    manifest: CompanyManifest
    lists: dict[str, list[QbEntry]] = Field(default_factory=dict)

    def entries(self, name: ListName) -> list[QbEntry]:
        return self.lists.get(name, [])


def new_read_id() -> str:
    return secrets.token_hex(6)


class CompanyStore:
    """Per connection: the manifest and the pages of the read it names."""

    def __init__(self, kv: KeyValue) -> None:
        self._kv = kv
        self.requests = 0  # NATS requests made, for the benchmarks

    @classmethod
    async def open(cls, js: JetStreamContext) -> CompanyStore:
        return cls(await js.key_value(KV_COMPANY))

    async def manifest(self, connection: str) -> CompanyManifest | None:
        self.requests += 1
        try:
            entry = await self._kv.get(f"{connection}.m")
        except (KeyNotFoundError, KeyDeletedError):
            return None
        if not entry.value:
            return None
        return CompanyManifest.model_validate_json(entry.value)

    async def put_manifest(self, connection: str, manifest: CompanyManifest) -> None:
        self.requests += 1
        await self._kv.put(f"{connection}.m", manifest.model_dump_json().encode())

    async def put_page(
        self, connection: str, read_id: str, name: str, number: int, entries: list[QbEntry]
    ) -> None:
        """One page of list `name` (pages are numbered from 1 in the order they arrive)."""
        self.requests += 1
        await self._kv.put(
            f"{connection}.{read_id}.{name}.{number}",
            _PAGE.dump_json(entries, exclude_defaults=True),
        )

    async def request_read(self, connection: str) -> CompanyManifest:
        """Ask for a fresh read: the next Web Connector session reads the company again (the
        last complete read stays what the review shows until the new one completes)."""
        current = await self.manifest(connection) or CompanyManifest()
        wanted = current.model_copy(update={"state": "requested"})
        await self.put_manifest(connection, wanted)
        return wanted

    async def purge_read(self, connection: str, read_id: str, pages: dict[str, int]) -> None:
        """Remove the pages of a read the manifest no longer names."""
        if not read_id:
            return
        keys = [
            f"{connection}.{read_id}.{name}.{number}"
            for name, count in pages.items()
            for number in range(1, count + 1)
        ]
        self.requests += len(keys)
        await asyncio.gather(*(self._purge(key) for key in keys))

    async def _purge(self, key: str) -> None:
        with contextlib.suppress(KeyNotFoundError, KeyDeletedError):
            await self._kv.purge(key)

    async def snapshot(self, connection: str) -> CompanySnapshot | None:
        """The last complete read (also while a fresh one is requested); None before one
        completed."""
        manifest = await self.manifest(connection)
        if manifest is None or not manifest.complete:
            return None
        names = [
            (name, number)
            for name, count in manifest.pages.items()
            for number in range(1, count + 1)
        ]
        self.requests += len(names)
        pages = await asyncio.gather(
            *(self._page(connection, manifest.read_id, name, n) for name, n in names)
        )
        lists: dict[str, list[QbEntry]] = {name: [] for name in manifest.pages}
        for (name, _), entries in zip(names, pages, strict=True):
            lists[name].extend(entries)
        return CompanySnapshot(manifest=manifest, lists=lists)

    async def _page(self, connection: str, read_id: str, name: str, number: int) -> list[QbEntry]:
        try:
            entry = await self._kv.get(f"{connection}.{read_id}.{name}.{number}")
        except (KeyNotFoundError, KeyDeletedError):
            raise CompanyReadError(
                f"page {number} of the {name} list of {connection}'s company read is missing; "
                f"run `mlconnector onboard {connection} --reread`"
            ) from None
        return _PAGE.validate_json(entry.value or b"[]")


class CompanyReadError(RuntimeError):
    """A stored company read is incomplete (a page is gone); the message says what to do."""
