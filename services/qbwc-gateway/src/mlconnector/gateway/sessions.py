"""Web Connector sessions in KV `qbwc-sessions`: any replica can serve any call of a session.

Keys: `t.<ticket>` -> SessionState; `c.<connection>` -> the ticket of that connection's
current session (a new authenticate takes over an abandoned one); `b.<connection>` -> the
connection's current message size limit (requests per message, adapted to how fast its
QuickBooks answers).
"""

from __future__ import annotations

import datetime as dt
import secrets
from typing import Literal

from nats.js import JetStreamContext
from nats.js.errors import KeyNotFoundError
from nats.js.kv import KeyValue
from pydantic import BaseModel, Field

from mlconnector.common.envelopes import utcnow
from mlconnector.common.streams import KV_SESSIONS
from mlconnector.gateway.changes import ChangeMark
from mlconnector.gateway.company_read import CompanyRead


def new_ticket() -> str:
    # Random, never derived from time or connection: a guessable ticket would hand one
    # company's requests to another (FACTS: peers that did exactly that).
    return secrets.token_hex(16)


RequestKind = Literal[
    "add",
    "lookup",
    "query",
    "mod",
    "void",
    "prerequisite",
    "probe",
    "changes",
    "company",
    "existing",
]


class Sent(BaseModel):
    """One request of the message QuickBooks is working on (or is about to get).

    add: the record's Add. lookup: did an unanswered earlier attempt (`command_id`) post?
    query: the EditSequence query before Mods (one request shared by the Mods of a list,
    so several Sent carry the same request_id). mod, void: the record's Mod or void.
    prerequisite: an item or job a record needs. probe: a harmless HostQuery sent only so
    that the Web Connector never gets an empty message when it expects one. changes: the
    query for customers and vendors changed in QuickBooks (changes.py). company: a query of
    the company's lists before a new connection posts (company_read.py). existing: the lookup
    of the customer or vendor whose name QuickBooks said is in use (3100, name_conflicts.py).
    """

    request_id: str
    kind: RequestKind
    key: str = Field(description="the ledger entry it is for")
    command_id: str = Field(description="the command it carries (for a lookup: the attempt's)")
    stream_seq: int
    request_type: str = Field(description="e.g. 'CustomerAddRq': its answer must match")
    xml: str = Field(description="the request element as sent, references filled in")
    name: str | None = Field(default=None, description="a list Add's Name: its answer's")
    qb_id: str | None = Field(default=None, description="the object a query/mod/void names")
    entity: str = ""
    st_id: int = 0
    # The command's trace (W3C headers it arrived with), continued by its send span.
    trace: dict[str, str] = Field(default_factory=dict)


class Progress(BaseModel):
    """A record's progress inside this session: the EditSequence a Mod must carry, read in
    this session (rule 3), and the Mods QuickBooks refused as out of date (3200)."""

    edit_sequence: str | None = None
    stale_mods: int = 0
    looked_up: bool = False


class SessionState(BaseModel):
    ticket: str
    connection: str
    tenant: str
    created_at: dt.datetime = Field(default_factory=utcnow)
    seq: int = 0
    rounds: int = 0
    # The next message, planned as soon as the previous answer was settled (so that the
    # percentage receiveResponseXML returns is honest), then handed out by sendRequestXML.
    planned: list[Sent] = Field(default_factory=list)
    sent: list[Sent] = Field(default_factory=list)
    sent_at: dt.datetime | None = None
    # receiveResponseXML answered 100: the Web Connector expects no more messages.
    finished: bool = False
    progress: dict[str, Progress] = Field(default_factory=dict)
    # Ledger keys put off to a later session (waiting for a record they name).
    deferred: list[str] = Field(default_factory=list)
    batch_limit: int = 50
    # The connection's abandoned messages in a row when the session began (BatchLimit).
    batch_strikes: int = 0
    # The QuickBooks-changes mark this session's change queries started from (changes.py).
    change_mark: ChangeMark | None = None
    # The read of the company of a connection not onboarded yet (company_read.py).
    company_read: CompanyRead | None = None
    qbxml_version: str = "13.0"
    posted: int = 0
    failed: int = 0
    retrying: int = 0
    waiting: int = 0
    changed: int = 0
    voided: int = 0
    superseded: int = 0
    differs: int = 0
    last_error: str = ""
    hresult: str | None = None

    def next_request_id(self) -> str:
        self.seq += 1
        return str(self.seq)

    def count(self, status: str) -> None:
        if status in {
            "posted",
            "failed",
            "retrying",
            "waiting",
            "changed",
            "voided",
            "superseded",
            "differs",
        }:
            setattr(self, status, getattr(self, status) + 1)

    def summary(self) -> str:
        text = (
            f"Posted {self.posted}, failed {self.failed}, "
            f"waiting {self.waiting}, retrying {self.retrying}"
        )
        extras = [
            (self.differs, "posted with other amounts than ServiceTitan"),
            (self.changed, "changed after posting"),
            (self.voided, "voided"),
            (self.superseded, "superseded by a newer version"),
        ]
        for count, label in extras:
            if count:
                text += f", {label} {count}"
        return text


class SessionStore:
    def __init__(self, kv: KeyValue) -> None:
        self._kv = kv
        self.requests = 0  # NATS requests made, for the benchmarks

    @classmethod
    async def open(cls, js: JetStreamContext) -> SessionStore:
        return cls(await js.key_value(KV_SESSIONS))

    async def _get(self, key: str) -> bytes | None:
        self.requests += 1
        try:
            entry = await self._kv.get(key)
        except KeyNotFoundError:
            return None
        return entry.value or None

    async def get(self, ticket: str) -> SessionState | None:
        # A ticket is only ever hex from new_ticket(); anything else cannot name a session
        # and must not reach the KV API as a key.
        if not ticket or len(ticket) > 64 or not ticket.isalnum():
            return None
        raw = await self._get(f"t.{ticket}")
        return SessionState.model_validate_json(raw) if raw else None

    async def put(self, state: SessionState) -> None:
        self.requests += 1
        await self._kv.put(f"t.{state.ticket}", state.model_dump_json().encode())

    async def delete(self, state: SessionState) -> None:
        self.requests += 2
        await self._kv.delete(f"t.{state.ticket}")
        if await self.current_ticket(state.connection) == state.ticket:
            await self._kv.delete(f"c.{state.connection}")

    async def current_ticket(self, connection: str) -> str | None:
        raw = await self._get(f"c.{connection}")
        return raw.decode() if raw else None

    async def set_current(self, state: SessionState) -> None:
        self.requests += 1
        await self._kv.put(f"c.{state.connection}", state.ticket.encode())

    async def batch_limit(self, connection: str, default: int) -> BatchLimit:
        """The connection's message size limit (a fresh one at `default` if none is kept)."""
        raw = await self._get(f"b.{connection}")
        if raw:
            try:
                return BatchLimit.model_validate_json(raw)
            except ValueError:
                pass
        return BatchLimit(limit=default, ceiling=default)

    async def set_batch_limit(self, connection: str, limit: BatchLimit) -> None:
        self.requests += 1
        await self._kv.put(f"b.{connection}", limit.model_dump_json().encode())


class BatchLimit(BaseModel):
    """Requests per message for one connection, searched for like a congestion window: the
    largest size QuickBooks answered in time (`good`) and the smallest the Web Connector gave
    up on, less one (`ceiling`, forgotten after `CEILING_HOURS`). A session can be abandoned
    for reasons that have nothing to do with size (a lost answer, an HTTP timeout, the PC
    going to sleep), so one abandoned message is only a strike; the second in a row (and any
    after it until a message is answered) makes the next message the good size (half the
    abandoned one when none is known). After an
    answer in time the size grows halfway to the ceiling (doubling while no ceiling is
    known); after a slow answer it halves."""

    limit: int = Field(ge=1)
    ceiling: int = Field(ge=1)
    good: int = Field(default=0, ge=0)
    strikes: int = Field(default=0, ge=0)
    ceiling_until: dt.datetime | None = None

    def timed_out(self, sent: int, now: dt.datetime) -> BatchLimit:
        if self.strikes + 1 < STRIKES:
            return self.model_copy(update={"strikes": self.strikes + 1})
        ceiling = max(1, min(self.ceiling, sent - 1))
        good = min(self.good, ceiling)
        return BatchLimit(
            limit=max(1, good or sent // 2),
            ceiling=ceiling,
            good=good,
            # Until a message is answered, the next abandoned one lowers the size at once.
            strikes=STRIKES,
            ceiling_until=now + dt.timedelta(hours=CEILING_HOURS),
        )

    def slow(self) -> BatchLimit:
        return self.model_copy(update={"limit": max(1, self.limit // 2), "strikes": 0})

    def answered(self, sent: int, maximum: int, now: dt.datetime) -> BatchLimit:
        """A full message of `sent` requests answered in time."""
        ceiling, until = self.ceiling, self.ceiling_until
        if until is not None and now >= until:
            ceiling, until = maximum, None
        good = max(self.good, sent)
        if ceiling >= maximum and until is None:
            limit = min(maximum, self.limit * 2)
        else:
            limit = max(good, (good + ceiling + 1) // 2)
        return BatchLimit(
            limit=min(limit, ceiling, maximum), ceiling=ceiling, good=good, ceiling_until=until
        )


# Abandoned messages in a row before the size is lowered, and how long a size the Web
# Connector gave up on stays the ceiling.
STRIKES = 2
CEILING_HOURS = 1
