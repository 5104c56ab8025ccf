"""Connections (KV `connections`): a ServiceTitan tenant paired with a QuickBooks company."""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import uuid
import zoneinfo

from nats.js import JetStreamContext
from nats.js.api import KeyValueConfig
from nats.js.errors import (
    APIError,
    BucketNotFoundError,
    KeyDeletedError,
    KeyNotFoundError,
    KeyWrongLastSequenceError,
)
from nats.js.kv import KeyValue
from pydantic import BaseModel, ConfigDict, Field, field_validator

from mlconnector.common.mapping import MappingSettings
from mlconnector.common.passwords import hash_password, verify_password
from mlconnector.common.streams import KV_CONNECTIONS, KV_QBWC_USERS, check_token

log = logging.getLogger(__name__)


def username_key(username: str) -> str:
    """The `qbwc-users` key of a QBWC user name: its SHA-256 in hex. A user name may hold any
    character the Web Connector accepts, a KV key only [-/_=.a-zA-Z0-9]."""
    return hashlib.sha256(username.encode("utf-8")).hexdigest()


def check_time_zone(name: str) -> str:
    """An IANA time zone name the machine knows (tzdata), e.g. 'America/Chicago'."""
    try:
        zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(
            f"{name!r} is not a time zone name; use one like 'America/Chicago' or "
            "'America/New_York'"
        ) from exc
    return name


class Connection(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str
    tenant: str
    qbwc_username: str
    password_hash: str
    company_file: str = Field(
        default="", description="path sent to the Web Connector; empty = the open company file"
    )
    owner_id: str = Field(default_factory=lambda: "{" + str(uuid.uuid4()).upper() + "}")
    file_id: str = Field(default_factory=lambda: "{" + str(uuid.uuid4()).upper() + "}")
    created_at: dt.datetime = Field(default_factory=lambda: dt.datetime.now(dt.UTC))
    # Declared after created_at: its default is the (UTC) day the connection was created, also
    # for connections stored before the field existed.
    sync_from: dt.date = Field(
        default_factory=lambda data: data["created_at"].astimezone(dt.UTC).date(),
        description="transactions dated before this day are never posted (backfill lowers it)",
    )
    mapping: MappingSettings = Field(default_factory=MappingSettings)
    retry_sessions: int = Field(
        default=5,
        ge=1,
        le=100,
        description="Web Connector sessions in which a retryable QuickBooks error (a locked "
        "record, a list in use) is retried before the record fails with QuickBooks' text",
    )
    time_zone: str | None = Field(
        default=None,
        description="IANA time zone of the office (e.g. 'America/Chicago'): audit shows this "
        "connection's times in it; None: audit's AUDIT_TIME_ZONE",
    )
    schedule_minutes: int = Field(
        default=5,
        ge=1,
        le=59,
        description="how often the Web Connector calls (the .qwc's RunEveryNMinutes); audit "
        "warns when it has not called for twice as long",
    )
    # Connections stored before onboarding existed were already posting: the default keeps
    # them posting. `mlconnector connection add` stores new ones with False.
    onboarded: bool = Field(
        default=True,
        description="False: the gateway first reads the QuickBooks company and nothing posts "
        "until the operator confirms how ServiceTitan's lists match it (`mlconnector onboard`)",
    )

    @field_validator("name", "tenant")
    @classmethod
    def _subject_safe(cls, value: str) -> str:
        return check_token("connection name / tenant", value)

    @field_validator("time_zone")
    @classmethod
    def _known_zone(cls, value: str | None) -> str | None:
        return None if value is None else check_time_zone(value)

    @classmethod
    def create(cls, name: str, tenant: str, qbwc_username: str, password: str) -> Connection:
        return cls(
            name=name,
            tenant=tenant,
            qbwc_username=qbwc_username,
            password_hash=hash_password(password),
        )

    def check_password(self, password: str) -> bool:
        return verify_password(self.password_hash, password)


class ConnectionStore:
    """Connections by name, and a user-name index (`qbwc-users`: sha256(user) -> connection
    name) so authenticate finds a connection with one key read instead of reading them all.

    The index is written by put/delete and checked on every read (the connection it names must
    still carry that user name), so a crash between the two writes leaves a stale entry that
    reads as "no such user" and is replaced by the next put, never a wrong connection.
    """

    def __init__(self, js: JetStreamContext, kv: KeyValue, users: KeyValue | None = None) -> None:
        self._js = js
        self._kv = kv
        self._users = users

    @classmethod
    async def open(cls, js: JetStreamContext) -> ConnectionStore:
        try:
            users = await js.key_value(KV_QBWC_USERS)
        except BucketNotFoundError:
            # A deployment older than the index: streams.declare_all makes it too.
            users = await js.create_key_value(KeyValueConfig(bucket=KV_QBWC_USERS, history=1))
        return cls(js, await js.key_value(KV_CONNECTIONS), users)

    async def _keys(self) -> list[str]:
        # nats-py's KeyValue.keys() uses a watcher whose "initial values done" marker can race
        # the values under load and answer "no keys": for authentication that would be a
        # wrong "nvu". The stream's subject state is a plain request/response and exact.
        prefix = f"$KV.{KV_CONNECTIONS}."
        info = await self._js.stream_info(f"KV_{KV_CONNECTIONS}", subjects_filter=f"{prefix}>")
        return sorted(subject[len(prefix) :] for subject in (info.state.subjects or {}))

    async def get(self, name: str) -> Connection | None:
        try:
            entry = await self._kv.get(name)
        except (KeyNotFoundError, KeyDeletedError):
            return None
        if entry.value is None or not entry.value:
            return None
        return Connection.model_validate_json(entry.value)

    async def put(self, connection: Connection) -> None:
        """Store `connection` and point its QBWC user name at it. A user name another stored
        connection already answers to stays with that connection (logged): check with
        `by_username` first, as `mlconnector connection add` does."""
        previous = await self.get(connection.name)
        await self._claim_username(connection)
        await self._kv.put(connection.name, connection.model_dump_json().encode())
        if previous is not None and previous.qbwc_username != connection.qbwc_username:
            await self._release_username(previous.qbwc_username, connection.name)

    async def delete(self, name: str) -> bool:
        found = await self.get(name)
        if found is None:
            return False
        await self._kv.delete(name)
        await self._release_username(found.qbwc_username, name)
        return True

    async def _claim_username(self, connection: Connection) -> None:
        if self._users is None:
            return
        key = username_key(connection.qbwc_username)
        for _ in range(10):  # only a concurrent writer of the same key makes it loop
            try:
                entry = await self._users.get(key)
            except (KeyNotFoundError, KeyDeletedError):
                entry = None
            try:
                if entry is None or not entry.value:
                    await self._users.create(key, connection.name.encode())
                    return
                owner = entry.value.decode()
                if owner == connection.name:
                    return
                other = await self.get(owner)
                if other is not None and other.qbwc_username == connection.qbwc_username:
                    log.warning(
                        "QBWC user %r already belongs to connection %r; %r does not answer to it",
                        connection.qbwc_username,
                        owner,
                        connection.name,
                    )
                    return
                await self._users.update(key, connection.name.encode(), last=entry.revision)
                return
            except KeyWrongLastSequenceError:
                continue
        raise RuntimeError(f"could not index QBWC user {connection.qbwc_username!r}")

    async def _release_username(self, username: str, name: str) -> None:
        if self._users is None:
            return
        key = username_key(username)
        try:
            entry = await self._users.get(key)
        except (KeyNotFoundError, KeyDeletedError):
            return
        if entry.value and entry.value.decode() == name:
            # Only if nobody re-pointed it since we read it.
            try:
                await self._users.delete(key, last=entry.revision)
            except APIError as exc:
                # nats-py's delete does not translate JetStream's "wrong last sequence".
                if exc.err_code not in (10071, 10164):
                    raise

    async def reindex_usernames(self) -> int:
        """Rebuild the user-name index from every connection (one scan; for deployments made
        before the index, run at gateway start). Returns how many connections were indexed."""
        found = await self.all()
        for connection in found:
            await self._claim_username(connection)
        return len(found)

    async def all(self) -> list[Connection]:
        # Deleted keys keep a delete marker in the stream; get() answers None for them.
        found = [await self.get(key) for key in await self._keys()]
        return [c for c in found if c is not None]

    async def by_username(self, username: str) -> Connection | None:
        """The connection whose QBWC user name is `username`, or None: two key reads through
        the index (a scan of every connection only when the store has no index)."""
        if self._users is None:
            return next((c for c in await self.all() if c.qbwc_username == username), None)
        try:
            entry = await self._users.get(username_key(username))
        except (KeyNotFoundError, KeyDeletedError):
            return None
        if not entry.value:
            return None
        connection = await self.get(entry.value.decode())
        if connection is None or connection.qbwc_username != username:
            return None  # stale: the connection was removed or renamed its user
        return connection

    async def by_tenant(self, tenant: str) -> list[Connection]:
        return [c for c in await self.all() if c.tenant == tenant]
