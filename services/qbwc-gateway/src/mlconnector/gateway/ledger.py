"""The work ledger (KV `qbwc-work`): what each connection still has to do in QuickBooks.

One entry per record, `<connection>.r.<entity>.<st id>[.<role>]`, holding the newest version
to apply and how far it got; one per prerequisite command, `<connection>.p.<command id>` (an
item or a job a record needs); and one per message QuickBooks is working on,
`<connection>.f.<ticket>` (a Flight: its Adds, written once per message before QuickBooks can
see it, removed once its answer is settled; an answer that never comes turns its Adds into
unanswered attempts of their entries). Commands enter it from QB_COMMANDS (ingest.py) and leave it
once settled: posted, voided, reported as changed, or superseded. A failed record stays
(state "failed") so that the records depending on it fail at once, until a newer version or
an operator's retry replaces it.

Why a ledger rather than the consumer as a queue: versions of one record must be folded
before anything is sent (a newer one supersedes a queued older one), and records waiting for
a dependency must never keep that dependency from being read (a FIFO window fills with them).

Reads: a connection's entries come from batched direct gets filtered to its subjects
(`next_by_subj`, 1,000 per request; the bucket keeps one value per key), cached per process;
a later read asks only for what changed since the last sequence seen. Writes: compare-and-set
on the entry's revision; on a conflict (another replica changed it) the entry is read again
and the change applied to what is there. Settled entries are removed by a conditional purge
whose marker expires after `MARKER_TTL_SECONDS`, so the bucket does not grow with history.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Literal

from nats.aio.client import Client
from nats.errors import TimeoutError as NatsTimeoutError
from nats.js import JetStreamContext
from nats.js.errors import KeyNotFoundError, KeyWrongLastSequenceError
from pydantic import BaseModel, Field

from mlconnector.common.envelopes import CommandAction, record_key, utcnow, version_order
from mlconnector.common.streams import KV_WORK

log = logging.getLogger(__name__)

STREAM = f"KV_{KV_WORK}"
PREFIX = f"$KV.{KV_WORK}."
SCAN_BATCH = 1000
# A purge marker only has to outlive the caches that have not seen it yet: a cache older
# than RELOAD_AFTER_SECONDS reads everything again instead of the changes.
MARKER_TTL_SECONDS = 24 * 3600
RELOAD_AFTER_SECONDS = 3600.0
CAS_ATTEMPTS = 8

EntryState = Literal["queued", "failed"]


class Attempt(BaseModel):
    """A request QuickBooks was given and whose answer was never read: it may have posted,
    so no Add of the record is sent again before the attempt's lookup says it did not."""

    command_id: str
    stream_seq: int
    ticket: str
    sent_at: dt.datetime = Field(default_factory=utcnow)


class WorkEntry(BaseModel):
    """One record's (or one prerequisite's) pending work for one connection."""

    connection: str
    tenant: str = ""
    kind: Literal["record", "prerequisite"]
    entity: str
    st_id: int
    role: str = ""
    command_id: str
    stream_seq: int = Field(description="the command's sequence in QB_COMMANDS")
    action: CommandAction = "post"
    request_type: str
    version_at: dt.datetime | None = None
    generation: int = 0
    event_id: str
    rank: int = Field(description="0 customers/vendors, 1 invoices/bills, 2 payments")
    refs: list[str] = Field(default_factory=list, description="record keys it names")
    requires: list[str] = Field(default_factory=list, description="prerequisite command ids")
    state: EntryState = "queued"
    # Web Connector sessions it waited in for a record it names (DESIGN rule 4), and the last.
    waited: int = 0
    waited_ticket: str = ""
    # Sessions in which QuickBooks answered a retryable error, and the last one: it is not
    # sent again in that session.
    retries: int = 0
    retry_ticket: str = ""
    # Messages carrying it that QuickBooks refused whole as unreadable (0x80040400): from
    # the first, it goes in a message of its own, so that a request QuickBooks cannot read
    # is found and fails on its own instead of holding back the records sent with it.
    refused: int = 0
    unknown: list[Attempt] = Field(default_factory=list)
    failure: str = Field(default="", description='state "failed": why, for dependants')
    first_seen: dt.datetime = Field(default_factory=utcnow)
    trace: dict[str, str] = Field(default_factory=dict)
    # Outcomes published for this command so far: the next one's `attempt` (outcome ids
    # must differ, or the stream's de-duplication would drop the later one).
    outcomes: int = 0

    @property
    def key(self) -> str:
        return entry_key(self)

    @property
    def record(self) -> str:
        """'<entity>:<st id>[:<role>]': how other commands' references name this record."""
        return record_key(self.entity, self.st_id, self.role)

    def order(self) -> tuple[dt.datetime, int, str]:
        return version_order(self.version_at, self.generation, self.event_id)


class Flight(BaseModel):
    """The Adds of one message handed to the Web Connector (one write per message, not per
    Add): until its answer is settled, each may have posted."""

    ticket: str
    attempts: list[tuple[str, Attempt]] = Field(
        default_factory=list, description="(entry key, attempt) per Add in the message"
    )


def flight_key(connection: str, ticket: str) -> str:
    return f"{connection}.f.{ticket}"


def record_entry_key(connection: str, entity: str, st_id: int, role: str = "") -> str:
    key = f"{connection}.r.{entity}.{st_id}"
    return f"{key}.{role}" if role else key


def prerequisite_key(connection: str, command_id: str) -> str:
    return f"{connection}.p.{command_id}"


def entry_key(entry: WorkEntry) -> str:
    if entry.kind == "prerequisite":
        return prerequisite_key(entry.connection, entry.command_id)
    return record_entry_key(entry.connection, entry.entity, entry.st_id, entry.role)


Change = Callable[[WorkEntry | None], WorkEntry | None]
"""What to do to an entry: given what is there (None: nothing), what must be there (None:
remove it). Applied again to a fresh read when another replica wrote in between, so it must
decide from its argument, not from what the caller saw earlier."""


@dataclass
class _Slot:
    entry: WorkEntry
    revision: int


@dataclass
class _ConnectionCache:
    slots: dict[str, _Slot] = field(default_factory=dict)
    flights: dict[str, tuple[Flight, int]] = field(default_factory=dict)
    last_seq: int = 0
    loaded_at: float = 0.0
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)


class LedgerStore:
    """The ledger of every connection this process serves, read through a per-connection
    cache. All methods are per connection; entries of other connections are never read."""

    def __init__(self, nc: Client, js: JetStreamContext) -> None:
        self._nc = nc
        self._js = js
        self._caches: dict[str, _ConnectionCache] = {}
        self.requests = 0  # NATS requests made, for the benchmarks

    @classmethod
    async def open(cls, nc: Client) -> LedgerStore:
        js = nc.jetstream()
        await js.key_value(KV_WORK)  # declared by declare_all; fail early if not
        return cls(nc, js)

    async def entries(self, connection: str) -> dict[str, WorkEntry]:
        """Every entry of the connection, by key, as of now."""
        cache = self._caches.setdefault(connection, _ConnectionCache())
        async with cache.lock:
            await self._refresh(connection, cache)
            return {key: slot.entry for key, slot in cache.slots.items()}

    async def flights(self, connection: str) -> dict[str, Flight]:
        """The connection's messages whose answers are not settled, by ticket."""
        cache = self._caches.setdefault(connection, _ConnectionCache())
        async with cache.lock:
            await self._refresh(connection, cache)
            return {flight.ticket: flight for flight, _ in cache.flights.values()}

    async def _refresh(self, connection: str, cache: _ConnectionCache) -> None:
        if time.monotonic() - cache.loaded_at > RELOAD_AFTER_SECONDS:
            cache.slots, cache.flights, cache.last_seq = {}, {}, 0
        await self._scan(connection, cache)
        cache.loaded_at = time.monotonic() if cache.last_seq else cache.loaded_at

    async def put_flight(self, connection: str, flight: Flight) -> None:
        """Record a message's Adds before QuickBooks can see them (one write)."""
        cache = self._caches.setdefault(connection, _ConnectionCache())
        key = flight_key(connection, flight.ticket)
        self.requests += 1
        ack = await self._js.publish(f"{PREFIX}{key}", flight.model_dump_json().encode())
        cache.flights[key] = (flight, int(ack.seq))

    async def drop_flight(self, connection: str, ticket: str) -> None:
        """The message's answer is settled (or it never ran): forget it."""
        cache = self._caches.setdefault(connection, _ConnectionCache())
        key = flight_key(connection, ticket)
        self.requests += 1
        await self._js.publish(
            f"{PREFIX}{key}",
            b"",
            headers={"KV-Operation": "PURGE", "Nats-Rollup": "sub"},
            msg_ttl=MARKER_TTL_SECONDS,
        )
        cache.flights.pop(key, None)

    async def _scan(self, connection: str, cache: _ConnectionCache) -> None:
        """Read what changed since `cache.last_seq` (everything, from 0)."""
        subject = f"{PREFIX}{connection}.>"
        start = cache.last_seq + 1
        while True:
            messages, pending, last = await self._direct_batch(subject, start)
            for headers, data in messages:
                key = headers["Nats-Subject"][len(PREFIX) :]
                seq = int(headers["Nats-Sequence"])
                if headers.get("KV-Operation") in ("DEL", "PURGE"):
                    cache.slots.pop(key, None)
                    cache.flights.pop(key, None)
                elif key.split(".")[1:2] == ["f"]:
                    known = cache.flights.get(key)
                    if known is None or known[1] < seq:
                        cache.flights[key] = (Flight.model_validate_json(data), seq)
                else:
                    slot = cache.slots.get(key)
                    if slot is None or slot.revision < seq:
                        cache.slots[key] = _Slot(WorkEntry.model_validate_json(data), seq)
                start = seq + 1
            cache.last_seq = max(cache.last_seq, last, start - 1)
            if not messages or pending == 0:
                return

    async def _direct_batch(
        self, subject: str, start: int
    ) -> tuple[list[tuple[dict[str, str], bytes]], int, int]:
        """One batched direct get: (headers, data) of up to SCAN_BATCH messages on `subject`
        from sequence `start`, how many more match, and the last sequence the server read."""
        inbox = self._nc.new_inbox()
        sub = await self._nc.subscribe(inbox)
        request = {"seq": start, "next_by_subj": subject, "batch": SCAN_BATCH}
        self.requests += 1
        messages: list[tuple[dict[str, str], bytes]] = []
        pending, last = 0, 0
        try:
            await self._nc.publish(
                f"$JS.API.DIRECT.GET.{STREAM}", json.dumps(request).encode(), reply=inbox
            )
            while True:
                try:
                    msg = await sub.next_msg(timeout=5.0)
                except NatsTimeoutError:
                    raise LedgerUnavailableError("the work ledger did not answer") from None
                headers = dict(msg.headers or {})
                status = headers.get("Status")
                if status == "204":  # end of batch
                    pending = int(headers.get("Nats-Num-Pending", "0"))
                    last = int(headers.get("Nats-Last-Sequence", "0"))
                    break
                if status == "404":  # nothing matches from `start` on
                    break
                if status:
                    raise LedgerUnavailableError(
                        f"the work ledger answered {status} {headers.get('Description', '')}"
                    )
                messages.append((headers, msg.data))
        finally:
            await sub.unsubscribe()
        return messages, pending, last

    async def write(self, connection: str, key: str, change: Change) -> WorkEntry | None:
        """Apply `change` to the entry at `key` (compare-and-set); returns what is there now."""
        cache = self._caches.setdefault(connection, _ConnectionCache())
        slot = cache.slots.get(key)
        current, revision = (slot.entry, slot.revision) if slot else (None, 0)
        for _ in range(CAS_ATTEMPTS):
            wanted = change(current)
            try:
                new_revision = await self._put(key, wanted, revision, present=current is not None)
            except KeyWrongLastSequenceError:
                current, revision = await self._read(key)
                continue
            if wanted is None:
                cache.slots.pop(key, None)
            elif new_revision:
                cache.slots[key] = _Slot(wanted, new_revision)
            return wanted
        raise LedgerConflictError(f"{key} kept changing under {CAS_ATTEMPTS} writes")

    async def write_many(self, connection: str, changes: Iterable[tuple[str, Change]]) -> None:
        """Several writes at once (pipelined); each is compare-and-set on its own."""
        await asyncio.gather(*(self.write(connection, key, change) for key, change in changes))

    async def _put(self, key: str, entry: WorkEntry | None, revision: int, *, present: bool) -> int:
        self.requests += 1
        subject = f"{PREFIX}{key}"
        expected = {"Nats-Expected-Last-Subject-Sequence": str(revision)}
        if entry is None:
            if not present:
                return 0
            # A purge (one marker, earlier values dropped) that expires: the bucket keeps
            # no trace of settled work once every cache has seen it.
            ack = await self._js.publish(
                subject,
                b"",
                headers={**expected, "KV-Operation": "PURGE", "Nats-Rollup": "sub"},
                msg_ttl=MARKER_TTL_SECONDS,
            )
            return int(ack.seq)
        try:
            ack = await self._js.publish(
                subject, entry.model_dump_json().encode(), headers=expected
            )
        except Exception as exc:  # nats-py raises APIError; the code tells a CAS miss
            if getattr(exc, "err_code", None) in (10071, 10164):
                raise KeyWrongLastSequenceError(description=str(exc)) from exc
            raise
        return int(ack.seq)

    async def _read(self, key: str) -> tuple[WorkEntry | None, int]:
        """The entry's current value and revision, straight from the server."""
        self.requests += 1
        try:
            raw = await self._js.get_msg(STREAM, subject=f"{PREFIX}{key}", direct=True)
        except (KeyNotFoundError, Exception) as exc:
            if _not_found(exc):
                return None, 0
            raise
        headers = raw.headers or {}
        revision = int(raw.seq or 0)
        if headers.get("KV-Operation") in ("DEL", "PURGE") or not raw.data:
            return None, revision
        return WorkEntry.model_validate_json(raw.data), revision


def _not_found(exc: BaseException) -> bool:
    code = getattr(exc, "code", None) or getattr(exc, "err_code", None)
    return isinstance(exc, KeyNotFoundError) or code in (404, 10037)


class LedgerUnavailableError(RuntimeError):
    """The ledger could not be read (NATS did not answer in time, or answered an error)."""


class LedgerConflictError(RuntimeError):
    """An entry changed under every compare-and-set attempt (more writers than expected)."""
