"""Every connection's tenant in one st-ingest process.

The directory re-reads the `connections` bucket every `ST_CONNECTIONS_REFRESH_SECONDS` and
keeps one `TenantRuntime` per ServiceTitan tenant: its credentials (the first of its
connections, by name, that has some stored; else ST_CLIENT_ID/ST_CLIENT_SECRET/ST_APP_KEY when
the tenant is ST_TENANT, the embedded demo default), its client with its own token and its
own shared rate limiter, its poller and poll loop, and its start date (the earliest
`sync_from` of its connections). ST_TENANT is served even without a connection.

Credentials that cannot be read (no MLCONNECTOR_CREDENTIALS_KEY, another key) or that
ServiceTitan refuses make that tenant's feeds "unauthorized" (reported like any feed state);
the other tenants go on.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
from dataclasses import dataclass, field
from typing import Any

import httpx
from cryptography.fernet import MultiFernet
from nats.js import JetStreamContext

from mlconnector.common.connections import Connection, ConnectionStore
from mlconnector.common.credentials import (
    CredentialsError,
    CredentialStore,
    StCredentials,
    cipher_from_env,
)
from mlconnector.common.envelopes import FeedReport
from mlconnector.common.streams import KV_RATE_LIMITS, KV_WATERMARKS
from mlconnector.ingest.auth import TokenProvider
from mlconnector.ingest.client import StClient
from mlconnector.ingest.limiter import SharedRateLimiter
from mlconnector.ingest.poller import FEEDS, ExportPoller, PollScheduler
from mlconnector.ingest.publisher import EventPublisher
from mlconnector.ingest.settings import IngestSettings
from mlconnector.ingest.state import StState

log = logging.getLogger(__name__)


@dataclass
class TenantRuntime:
    tenant: str
    connections: list[Connection]
    credentials: StCredentials | None
    problem: str | None
    client: StClient | None = None
    poller: ExportPoller | None = None
    scheduler: PollScheduler | None = None
    task: asyncio.Task[None] | None = None
    stop: asyncio.Event = field(default_factory=asyncio.Event)
    fingerprint: str = ""

    def start_date(self) -> dt.date | None:
        if not self.connections:
            return None
        return min(c.sync_from for c in self.connections)

    def connection(self, name: str) -> Connection | None:
        return next((c for c in self.connections if c.name == name), None)


def env_credentials(settings: IngestSettings) -> StCredentials | None:
    """The embedded default: ST_* from the environment (the sandbox under `mlconnector up`)."""
    secret = settings.st_client_secret.get_secret_value()
    if not (settings.st_tenant and settings.st_client_id and secret and settings.st_app_key):
        return None
    return StCredentials.model_validate(
        {
            "client_id": settings.st_client_id,
            "client_secret": secret,
            "app_key": settings.st_app_key,
            "webhook_secret": (
                settings.st_webhook_secret.get_secret_value()
                if settings.st_webhook_secret
                else None
            ),
        }
    )


class TenantDirectory:
    def __init__(
        self,
        settings: IngestSettings,
        js: JetStreamContext,
        http: httpx.AsyncClient,
        publisher: EventPublisher,
        state: StState,
    ) -> None:
        self._settings = settings
        self._js = js
        self._http = http
        self._publisher = publisher
        self._state = state
        self.tenants: dict[str, TenantRuntime] = {}
        self.connections: dict[str, Connection] = {}
        self._cipher: MultiFernet | None = None
        self._cipher_problem: str | None = None
        try:
            self._cipher = cipher_from_env()
        except CredentialsError as exc:
            self._cipher_problem = str(exc)

    def for_connection(self, name: str) -> tuple[Connection, TenantRuntime] | None:
        connection = self.connections.get(name)
        if connection is None:
            return None
        runtime = self.tenants.get(connection.tenant)
        return (connection, runtime) if runtime is not None else None

    async def refresh(self) -> None:
        """Read connections and credentials again; start, restart or stop tenants."""
        store = await ConnectionStore.open(self._js)
        creds_store = await CredentialStore.open(self._js, self._cipher)
        connections = await store.all()
        self.connections = {c.name: c for c in connections}
        by_tenant: dict[str, list[Connection]] = {}
        for connection in sorted(connections, key=lambda c: c.name):
            by_tenant.setdefault(connection.tenant, []).append(connection)
        default = self._settings.st_tenant
        if default and default not in by_tenant:
            by_tenant[default] = []
        wanted: dict[str, TenantRuntime] = {}
        for tenant, members in by_tenant.items():
            credentials, problem = await self._credentials(tenant, members, creds_store)
            wanted[tenant] = TenantRuntime(tenant, members, credentials, problem)
        for tenant in list(self.tenants):
            if tenant not in wanted:
                await self._stop(self.tenants.pop(tenant))
        for tenant, runtime in wanted.items():
            runtime.fingerprint = _fingerprint(runtime)
            current = self.tenants.get(tenant)
            if current is not None and current.fingerprint == runtime.fingerprint:
                current.connections = runtime.connections  # sync_from, mapping changes
                continue
            if current is not None:
                await self._stop(current)
            self.tenants[tenant] = runtime
            await self._start(runtime)

    async def _credentials(
        self, tenant: str, members: list[Connection], store: CredentialStore
    ) -> tuple[StCredentials | None, str | None]:
        problem = None
        for connection in members:
            if await store.token(connection.name) is None:
                continue
            if self._cipher is None:
                return None, self._cipher_problem
            try:
                return await store.get(connection.name), None
            except CredentialsError as exc:
                problem = str(exc)
        if problem is None and tenant == self._settings.st_tenant:
            found = env_credentials(self._settings)
            if found is not None:
                return found, None
        names = ", ".join(c.name for c in members) or "(none)"
        return None, problem or (
            f"no ServiceTitan credentials for tenant {tenant} (connections {names}): store them "
            f"with `mlconnector connection credentials {members[0].name if members else 'NAME'}`"
        )

    async def _start(self, runtime: TenantRuntime) -> None:
        settings = self._settings
        if runtime.credentials is None:
            log.error("tenant %s is not polled: %s", runtime.tenant, runtime.problem)
            await self._report_unauthorized(runtime)
            return
        creds = runtime.credentials
        tokens = TokenProvider(
            self._http,
            creds.auth_url or settings.st_auth_url,
            creds.client_id,
            creds.client_secret.get_secret_value(),
        )
        limiter = SharedRateLimiter(
            await self._js.key_value(KV_RATE_LIMITS),
            runtime.tenant,
            limit=settings.st_rate_limit,
            window=settings.st_rate_window_seconds,
        )
        runtime.client = StClient(
            self._http,
            tokens,
            creds.api_base_url or settings.st_api_base_url,
            creds.app_key.get_secret_value(),
            runtime.tenant,
            max_retries=settings.st_max_retries,
            limiter=limiter,
        )
        runtime.poller = ExportPoller(
            runtime.client,
            self._publisher,
            await self._js.key_value(KV_WATERMARKS),
            runtime.tenant,
            list_page_size=settings.st_list_page_size,
            list_overlap=dt.timedelta(seconds=settings.st_list_overlap_seconds),
            state=self._state,
            start_date=runtime.start_date,
            poll_seconds=settings.st_poll_seconds,
            max_backoff_seconds=settings.st_max_backoff_seconds,
            failures_before_report=settings.st_failures_before_report,
        )
        runtime.scheduler = PollScheduler(runtime.poller, settings.st_poll_seconds)
        runtime.stop = asyncio.Event()
        runtime.task = asyncio.create_task(runtime.scheduler.run(runtime.stop))
        log.info(
            "serving tenant %s (connections: %s)",
            runtime.tenant,
            ", ".join(c.name for c in runtime.connections) or "none, ST_TENANT",
        )

    async def _report_unauthorized(self, runtime: TenantRuntime) -> None:
        for feed in FEEDS:
            health = await self._state.health(runtime.tenant, feed.name)
            if health.reported == "unauthorized" and health.reported_error == runtime.problem:
                continue
            await self._publisher.feed_report(
                FeedReport(
                    tenant=runtime.tenant,
                    entity=feed.entity,
                    state="unauthorized",
                    error=runtime.problem,
                )
            )
            await self._state.save_health(
                runtime.tenant,
                feed.name,
                health.model_copy(
                    update={
                        "state": "unauthorized",
                        "error": runtime.problem,
                        "reported": "unauthorized",
                        "reported_error": runtime.problem,
                    }
                ),
            )

    async def _stop(self, runtime: TenantRuntime) -> None:
        runtime.stop.set()
        if runtime.task is not None:
            try:
                await asyncio.wait_for(asyncio.shield(runtime.task), 10.0)
            except TimeoutError:
                runtime.task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await runtime.task

    async def stop_all(self) -> None:
        for runtime in list(self.tenants.values()):
            await self._stop(runtime)

    async def run(self, stop: asyncio.Event) -> None:
        """Refresh every ST_CONNECTIONS_REFRESH_SECONDS until `stop`."""
        while not stop.is_set():
            try:
                await self.refresh()
            except Exception as exc:  # NATS away: keep the tenants we have, try again
                log.error("cannot read the connections: %s", exc)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), self._settings.st_connections_refresh_seconds)

    def webhook_secret(self, tenant: str) -> str | None:
        """The tenant's webhook HMAC key: its credentials', else ST_WEBHOOK_SECRET."""
        runtime = self.tenants.get(tenant)
        if runtime is not None and runtime.credentials and runtime.credentials.webhook_secret:
            return runtime.credentials.webhook_secret.get_secret_value() or None
        env = self._settings.st_webhook_secret
        return env.get_secret_value() or None if env is not None else None

    def health(self) -> dict[str, Any]:
        """/healthz: each tenant's polls and feeds; "degraded" when a feed is not ok or a
        tenant cannot be polled (the process itself is fine: HTTP 200 either way)."""
        tenants: dict[str, Any] = {}
        problems: list[str] = []
        polls: list[int] = []
        for name, runtime in sorted(self.tenants.items()):
            feeds: dict[str, Any] = {}
            scheduler = runtime.scheduler
            if runtime.poller is not None:
                for feed, health in sorted(runtime.poller.health.items()):
                    feeds[feed] = {
                        "state": health.state,
                        "failures": health.failures,
                        "error": health.error,
                    }
                    if health.state != "ok":
                        problems.append(f"tenant {name} {feed}: {health.state}: {health.error}")
            if runtime.problem:
                problems.append(f"tenant {name}: {runtime.problem}")
            if scheduler is not None:
                polls.append(scheduler.polls)
            tenants[name] = {
                "connections": [c.name for c in runtime.connections],
                "startDate": (start.isoformat() if (start := runtime.start_date()) else None),
                "problem": runtime.problem,
                "polls": scheduler.polls if scheduler else 0,
                "lastPollAt": (
                    scheduler.last_poll_at.isoformat()
                    if scheduler and scheduler.last_poll_at
                    else None
                ),
                "feeds": feeds,
            }
        return {
            "status": "degraded" if problems else "ok",
            "tenant": self._settings.st_tenant or None,
            # The fewest polls any served tenant has had: >= 1 once every one was polled.
            "polls": min(polls) if polls else 0,
            "lastError": "; ".join(problems) or None,
            "problems": problems,
            "tenants": tenants,
        }

    def trigger(self, tenant: str) -> bool:
        """Poll a tenant now (a webhook); False when the tenant is not served."""
        runtime = self.tenants.get(tenant)
        if runtime is None or runtime.scheduler is None:
            return False
        runtime.scheduler.trigger()
        return True


def _fingerprint(runtime: TenantRuntime) -> str:
    """What requires a new client when it changes (credentials), never shown or logged."""
    creds = runtime.credentials
    if creds is None:
        return f"none:{runtime.problem}"
    import hashlib

    return hashlib.sha256(creds.plain_json()).hexdigest()
