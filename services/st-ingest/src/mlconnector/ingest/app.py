"""The st-ingest HTTP app: webhooks and health."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

from fastapi import FastAPI
from nats.js.kv import KeyValue

from mlconnector.ingest.poller import PollScheduler
from mlconnector.ingest.settings import IngestSettings
from mlconnector.ingest.webhooks import webhook_router


def create_app(
    settings: IngestSettings,
    trigger: Callable[[str], object],
    scheduler: PollScheduler | None = None,
    *,
    secret_of: Callable[[str], str | None] | None = None,
    served: Callable[[str], bool] | None = None,
    seen: KeyValue | None = None,
    health: Callable[[], dict[str, Any]] | None = None,
    now: Callable[[], dt.datetime] | None = None,
) -> FastAPI:
    """Without `secret_of`/`served`: one tenant, ST_TENANT, keyed by ST_WEBHOOK_SECRET.
    `health` answers /healthz (st-ingest's tenants and feeds); `seen` de-duplicates webhooks."""
    app = FastAPI(title="ml-connector st-ingest", docs_url=None, redoc_url=None)

    def env_secret(tenant: str) -> str | None:
        if tenant != settings.st_tenant or settings.st_webhook_secret is None:
            return None
        return settings.st_webhook_secret.get_secret_value() or None

    app.include_router(
        webhook_router(
            settings,
            trigger,
            secret_of or env_secret,
            seen,
            now or (lambda: dt.datetime.now(dt.UTC)),
            served or (lambda tenant: tenant == settings.st_tenant),
        )
    )

    @app.get("/healthz")
    def healthz() -> dict[str, Any]:
        if health is not None:
            return health()
        body: dict[str, Any] = {"status": "ok", "tenant": settings.st_tenant}
        if scheduler is not None:
            body["polls"] = scheduler.polls
            body["lastPollAt"] = (
                scheduler.last_poll_at.isoformat() if scheduler.last_poll_at else None
            )
            body["lastError"] = scheduler.last_error
        return body

    return app
