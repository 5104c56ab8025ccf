"""Web Connector sessions in KV `qbwc-sessions`: any replica can serve any call of a session.

Keys: `t.<ticket>` -> SessionState; `c.<connection>` -> the ticket of that connection's
current session (a new authenticate takes over an abandoned session's commands).
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


def new_ticket() -> str:
    # Random, never derived from time or connection: a guessable ticket would hand one
    # company's requests to another (FACTS: peers that did exactly that).
    return secrets.token_hex(16)


class Item(BaseModel):
    """One command this session holds (fetched, not yet acked or nak'd)."""

    command_id: str
    entity: str
    st_id: int
    stream_seq: int
    reply: str
    attempt: int
    # The command's trace headers, kept with the session so that whichever replica settles
    # it publishes the outcome in the trace the ServiceTitan event started.
    trace: dict[str, str] = Field(default_factory=dict)
    # The lookup found nothing: the request itself goes next, without another lookup.
    lookup_done: bool = False
    # A Mod (the id map knows the record): its ListID/TxnID, and the EditSequence queried in
    # this session (None until the query answered, and again after a 3200), and how many
    # Mods of it QuickBooks refused as out of date in this session.
    qb_id: str | None = None
    edit_sequence: str | None = None
    stale_mods: int = 0


class Sent(BaseModel):
    """A request inside the qbXML message QuickBooks is processing now."""

    request_id: str
    # request: the command's own request (an Add); lookup: did an earlier attempt post it?
    # query: the EditSequence query before a Mod (one query request, shared by the Mods of
    # one list, so several Sent carry the same request_id); mod: the Mod itself.
    kind: Literal["request", "lookup", "query", "mod"]
    item: Item


class SessionState(BaseModel):
    ticket: str
    connection: str
    tenant: str
    created_at: dt.datetime = Field(default_factory=utcnow)
    seq: int = 0
    rounds: int = 0
    sent: list[Sent] = Field(default_factory=list)
    held: list[Item] = Field(default_factory=list)
    # Put off to a later session (waiting for a reference, or a retryable QuickBooks error):
    # if JetStream redelivers them during this session they go straight back.
    deferred: list[str] = Field(default_factory=list)
    posted: int = 0
    failed: int = 0
    retrying: int = 0
    waiting: int = 0
    changed: int = 0
    last_error: str = ""

    def sent_items(self) -> list[Item]:
        return [sent.item for sent in self.sent]

    def next_request_id(self) -> str:
        self.seq += 1
        return str(self.seq)

    def summary(self) -> str:
        text = (
            f"Posted {self.posted}, failed {self.failed}, "
            f"waiting {self.waiting}, retrying {self.retrying}"
        )
        if self.changed:
            text += f", changed after posting {self.changed}"
        return text


class SessionStore:
    def __init__(self, kv: KeyValue) -> None:
        self._kv = kv

    @classmethod
    async def open(cls, js: JetStreamContext) -> SessionStore:
        return cls(await js.key_value(KV_SESSIONS))

    async def _get(self, key: str) -> bytes | None:
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
        await self._kv.put(f"t.{state.ticket}", state.model_dump_json().encode())

    async def delete(self, state: SessionState) -> None:
        await self._kv.delete(f"t.{state.ticket}")
        if await self.current_ticket(state.connection) == state.ticket:
            await self._kv.delete(f"c.{state.connection}")

    async def current_ticket(self, connection: str) -> str | None:
        raw = await self._get(f"c.{connection}")
        return raw.decode() if raw else None

    async def set_current(self, state: SessionState) -> None:
        await self._kv.put(f"c.{state.connection}", state.ticket.encode())
