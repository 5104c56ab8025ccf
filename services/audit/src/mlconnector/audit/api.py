"""HTTP: the records API, the full trail of a record, replay, the dashboard, health."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from fastapi import FastAPI, HTTPException, Query
from fastapi.responses import HTMLResponse
from nats.js import JetStreamContext

from mlconnector.audit.dashboard import render_dashboard, render_trail
from mlconnector.audit.db import AuditDb
from mlconnector.audit.onboarding import onboarding_router
from mlconnector.audit.queries import RecordQueries
from mlconnector.audit.replay import ReplayError, ReplayRequest, ReplayResult, replay


def create_app(db: AuditDb, js: JetStreamContext | None = None) -> FastAPI:
    app = FastAPI(title="ml-connector audit", version="0.1.0")
    queries = RecordQueries(db)
    app.include_router(onboarding_router(js))  # onboarding.py: the review pages

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/api/records")
    async def list_records(
        tenant: str | None = None,
        connection: str | None = None,
        entity: str | None = None,
        st_id: int | None = None,
        status: str | None = None,
        since: dt.datetime | None = None,
        until: dt.datetime | None = None,
        limit: Annotated[int, Query(ge=1, le=5000)] = 100,
        offset: Annotated[int, Query(ge=0)] = 0,
    ) -> list[dict[str, Any]]:
        return await queries.list(
            tenant=tenant,
            connection=connection,
            entity=entity,
            st_id=st_id,
            status=status,
            since=since,
            until=until,
            limit=limit,
            offset=offset,
        )

    @app.get("/api/records/{record_id}")
    async def get_record(record_id: int) -> dict[str, Any]:
        found = await queries.trail(record_id)
        if found is None:
            raise HTTPException(404, f"no record {record_id}")
        return found

    @app.post("/api/replay")
    async def post_replay(request: ReplayRequest) -> ReplayResult:
        if js is None:
            raise HTTPException(503, "replay needs NATS, which this audit instance lacks")
        try:
            return await replay(js, request)
        except ReplayError as exc:
            raise HTTPException(400, str(exc)) from exc

    @app.get("/", response_class=HTMLResponse)
    async def dashboard(
        connection: str | None = None,
        entity: str | None = None,
        status: str | None = None,
        st_id: str | None = None,
        limit: Annotated[int, Query(ge=1, le=5000)] = 200,
    ) -> HTMLResponse:
        st_id_int = int(st_id) if st_id and st_id.strip().isdigit() else None
        rows = await queries.list(
            connection=connection or None,
            entity=entity or None,
            status=status or None,
            st_id=st_id_int,
            limit=limit,
        )
        return HTMLResponse(
            render_dashboard(
                rows,
                {
                    "connection": connection or "",
                    "entity": entity or "",
                    "status": status or "",
                    "st_id": st_id or "",
                },
            )
        )

    @app.get("/records/{record_id}", response_class=HTMLResponse)
    async def record_page(record_id: int) -> HTMLResponse:
        found = await queries.trail(record_id)
        if found is None:
            raise HTTPException(404, f"no record {record_id}")
        return HTMLResponse(render_trail(found))

    return app
