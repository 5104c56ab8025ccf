"""The st-ingest HTTP app: webhooks and health."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import FastAPI

from mlconnector.ingest.poller import PollScheduler
from mlconnector.ingest.settings import IngestSettings
from mlconnector.ingest.webhooks import webhook_router


def create_app(
    settings: IngestSettings,
    trigger: Callable[[str], None],
    scheduler: PollScheduler | None = None,
) -> FastAPI:
    app = FastAPI(title="ml-connector st-ingest", docs_url=None, redoc_url=None)
    app.include_router(webhook_router(settings, trigger))

    @app.get("/healthz")
    def healthz() -> dict[str, Any]:
        body: dict[str, Any] = {"status": "ok", "tenant": settings.st_tenant}
        if scheduler is not None:
            body["polls"] = scheduler.polls
            body["lastPollAt"] = (
                scheduler.last_poll_at.isoformat() if scheduler.last_poll_at else None
            )
            body["lastError"] = scheduler.last_error
        return body

    return app
