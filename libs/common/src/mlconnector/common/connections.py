"""Connections (KV `connections`): a ServiceTitan tenant paired with a QuickBooks company."""

from __future__ import annotations

import datetime as dt
import uuid

from nats.js import JetStreamContext
from nats.js.errors import KeyDeletedError, KeyNotFoundError
from nats.js.kv import KeyValue
from pydantic import BaseModel, ConfigDict, Field, field_validator

from mlconnector.common.mapping import MappingSettings
from mlconnector.common.passwords import hash_password, verify_password
from mlconnector.common.streams import KV_CONNECTIONS, check_token


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
    def __init__(self, js: JetStreamContext, kv: KeyValue) -> None:
        self._js = js
        self._kv = kv

    @classmethod
    async def open(cls, js: JetStreamContext) -> ConnectionStore:
        return cls(js, await js.key_value(KV_CONNECTIONS))

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
        await self._kv.put(connection.name, connection.model_dump_json().encode())

    async def delete(self, name: str) -> bool:
        if await self.get(name) is None:
            return False
        await self._kv.delete(name)
        return True

    async def all(self) -> list[Connection]:
        # Deleted keys keep a delete marker in the stream; get() answers None for them.
        found = [await self.get(key) for key in await self._keys()]
        return [c for c in found if c is not None]

    async def by_username(self, username: str) -> Connection | None:
        return next((c for c in await self.all() if c.qbwc_username == username), None)

    async def by_tenant(self, tenant: str) -> list[Connection]:
        return [c for c in await self.all() if c.tenant == tenant]
