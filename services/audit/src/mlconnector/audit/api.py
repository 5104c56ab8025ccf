"""HTTP: the records API (filters, paging with totals, CSV), one record's trail, retry,
reconciliation, connection health, replay, the dashboard pages, health check.

JSON times are ISO 8601 UTC and amounts decimal dollars ("408.05"); the pages show local time
(the connection's time zone) and grouped amounts.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any
from urllib.parse import parse_qsl, urlsplit

from fastapi import FastAPI, HTTPException, Query, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse, StreamingResponse
from nats.js import JetStreamContext
from pydantic import BaseModel, ConfigDict, Field

from mlconnector.audit import reconcile as recon
from mlconnector.audit.csvexport import reconcile_csv, records_csv
from mlconnector.audit.db import AuditDb
from mlconnector.audit.directory import Directory
from mlconnector.audit.filters import ENTITIES, STATUSES, RecordFilter
from mlconnector.audit.health import connection_health
from mlconnector.audit.localtime import local, zone
from mlconnector.audit.onboarding import onboarding_router
from mlconnector.audit.pages.layout import e, link, page
from mlconnector.audit.pages.reconcile import render_reconcile
from mlconnector.audit.pages.records import PAGE_SIZES, RecordsPage, render_records
from mlconnector.audit.pages.trail import render_trail
from mlconnector.audit.queries import RecordQueries
from mlconnector.audit.replay import ReplayError, ReplayRequest, ReplayResult, replay
from mlconnector.audit.retry import MAX_RETRY_ALL, RetryError, RetryResult, retry_many, retry_record
from mlconnector.audit.tables import RecordRow

MAX_PAGE = 5000


class RetryRequest(BaseModel):
    """`POST /api/retry`: the given records, or the failed records matching the filter."""

    model_config = ConfigDict(extra="forbid")

    record_ids: list[int] | None = Field(default=None, max_length=MAX_RETRY_ALL)
    connection: str | None = None
    tenant: str | None = None
    entity: str | None = None
    since: dt.datetime | None = Field(default=None, description="last change from (UTC)")
    until: dt.datetime | None = Field(default=None, description="last change before (UTC)")
    date_from: dt.date | None = None
    date_to: dt.date | None = None
    q: str | None = None


class FilterError(ValueError):
    """A dashboard filter that cannot be read (shown to the person, not raised as 422)."""


def _parse_date(name: str, value: str | None) -> dt.date | None:
    if not value:
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise FilterError(f"{value!r} is not a date; use the date picker or YYYY-MM-DD.") from None


def filter_from_page(params: dict[str, str]) -> tuple[RecordFilter, list[str]]:
    """The dashboard's query string as a filter; unreadable parts are dropped and explained."""
    problems: list[str] = []
    values: dict[str, Any] = {}
    for name in ("tenant", "connection", "q"):
        if params.get(name):
            values[name] = params[name]
    entity = params.get("entity") or None
    if entity and entity not in ENTITIES:
        problems.append(f"There is no record type {entity!r}; pick one from the list.")
    elif entity:
        values["entity"] = entity
    status = params.get("status") or None
    if status and status not in STATUSES:
        problems.append(f"There is no status {status!r}; pick one from the list.")
    elif status:
        values["status"] = status
    st_id = (params.get("st_id") or "").strip()
    if st_id:
        if st_id.isdigit():
            values["st_id"] = int(st_id)
        else:
            problems.append(f"A ServiceTitan id is a number, not {st_id!r}.")
    for name in ("date_from", "date_to"):
        try:
            values[name] = _parse_date(name, params.get(name))
        except FilterError as exc:
            problems.append(str(exc))
    for name in ("since", "until"):
        if params.get(name):
            try:
                values[name] = dt.datetime.fromisoformat(params[name])
            except ValueError:
                problems.append(f"{params[name]!r} is not a date and time.")
    return RecordFilter(**values), problems


def _same_origin(request: Request) -> None:
    """Dashboard forms change things (retry): refuse them from another site's page."""
    if request.headers.get("sec-fetch-site") == "cross-site":
        raise HTTPException(403, "Retry from the dashboard itself.")
    origin = request.headers.get("origin")
    if origin and origin != "null" and urlsplit(origin).netloc != request.headers.get("host"):
        raise HTTPException(403, "Retry from the dashboard itself.")


def create_app(
    db: AuditDb,
    js: JetStreamContext | None = None,
    *,
    time_zone: str = "UTC",
    connections_ttl: float = 30.0,
) -> FastAPI:
    """The audit HTTP app over `db`; `js` (NATS) is needed for retry, replay and the
    connections' settings (time zone, schedule), which default to `time_zone` and 5 minutes."""
    app = FastAPI(title="ml-connector audit", version="0.2.0")
    queries = RecordQueries(db)
    app.include_router(onboarding_router(js))  # onboarding.py: the review pages

    directory = Directory(js, time_zone, connections_ttl)

    async def zone_of_row(row: RecordRow) -> str:
        return await directory.zone_of(row.connection)

    async def local_of_row(row: RecordRow) -> str:
        return local(row.updated_at, await zone_of_row(row))

    async def all_connections() -> list[str]:
        return sorted(set(await queries.connections()) | set(await directory.all()))

    async def health_of(names: list[str]) -> list[dict[str, Any]]:
        found = []
        for name in names:
            info = await directory.info(name)
            tenant = info.tenant or await recon.tenant_of(db, name)
            found.append(await connection_health(db, info, tenant))
        return found

    def need_js() -> JetStreamContext:
        if js is None:
            raise HTTPException(503, "This audit instance has no NATS connection.")
        return js

    # --- health check and JSON API ------------------------------------------------------

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/api/records")
    async def list_records(
        response: Response,
        request: Request,
        tenant: str | None = None,
        connection: str | None = None,
        entity: str | None = None,
        st_id: int | None = None,
        status: str | None = None,
        since: dt.datetime | None = None,
        until: dt.datetime | None = None,
        date_from: dt.date | None = None,
        date_to: dt.date | None = None,
        q: str | None = None,
        limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 100,
        offset: Annotated[int, Query(ge=0)] = 0,
    ) -> list[dict[str, Any]]:
        """A page of records, newest change first. `X-Total-Count` is the number matching;
        a `Link` header names the next page when there is one."""
        filters = RecordFilter(
            tenant, connection, entity, st_id, status, since, until, date_from, date_to, q
        )
        rows = await queries.list(filters, limit=limit, offset=offset)
        total = await queries.count(filters)
        response.headers["X-Total-Count"] = str(total)
        if offset + limit < total:
            following = request.url.include_query_params(offset=offset + limit, limit=limit)
            response.headers["Link"] = f'<{following}>; rel="next"'
        return rows

    @app.get("/api/records.csv")
    @app.get("/records.csv")
    async def records_as_csv(request: Request) -> StreamingResponse:
        filters, problems = filter_from_page(dict(request.query_params))
        if problems:
            raise HTTPException(400, " ".join(problems))
        stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%d-%H%M%S")
        return StreamingResponse(
            records_csv(queries.stream(filters), local_of_row),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="records-{stamp}.csv"'},
        )

    @app.get("/api/records/{record_id}")
    async def get_record(record_id: int) -> dict[str, Any]:
        found = await queries.trail(record_id)
        if found is None:
            raise HTTPException(404, f"There is no record {record_id}.")
        return found

    @app.post("/api/records/{record_id}/retry", status_code=202)
    async def post_retry(record_id: int) -> RetryResult:
        try:
            return await retry_record(need_js(), queries, record_id)
        except RetryError as exc:
            raise HTTPException(exc.status, str(exc)) from exc

    @app.post("/api/retry", status_code=202)
    async def post_retry_many(request: RetryRequest) -> dict[str, Any]:
        """The listed records, or every failed record matching the filter (at most
        MAX_RETRY_ALL); each one that cannot be retried is listed with the reason."""
        if request.record_ids is not None:
            ids = list(dict.fromkeys(request.record_ids))
        else:
            filters = RecordFilter(
                tenant=request.tenant,
                connection=request.connection,
                entity=request.entity,
                status="failed",
                since=request.since,
                until=request.until,
                date_from=request.date_from,
                date_to=request.date_to,
                q=request.q,
            )
            ids = await queries.ids(filters, MAX_RETRY_ALL)
        return await retry_many(need_js(), queries, ids)

    @app.get("/api/health")
    async def get_health() -> list[dict[str, Any]]:
        """Per connection: last Web Connector contact, counts, last error, warnings."""
        return await health_of(await all_connections())

    def day(value: str | None, today: dt.date) -> dt.date | None:
        """YYYY-MM-DD, 'today' or 'yesterday' (in the connection's time zone)."""
        if not value:
            return None
        words = {"today": today, "yesterday": today - dt.timedelta(days=1)}
        if value.lower() in words:
            return words[value.lower()]
        try:
            return dt.date.fromisoformat(value)
        except ValueError:
            raise HTTPException(
                400, f"{value!r} is not a day; use YYYY-MM-DD, today or yesterday."
            ) from None

    async def reconcile_args(
        connection: str | None,
        date: str | None,
        date_from: str | None,
        date_to: str | None,
    ) -> tuple[str, str | None, dt.date, dt.date]:
        if not connection:
            raise HTTPException(400, "Name the connection to reconcile (connection=...).")
        info = await directory.info(connection)
        today = dt.datetime.now(zone(info.time_zone)).date()
        single = day(date, today)
        start = single or day(date_from, today) or day(date_to, today) or today
        end = single or day(date_to, today) or start
        tenant = info.tenant or await recon.tenant_of(db, connection)
        return connection, tenant, start, end

    @app.get("/api/reconcile")
    async def get_reconcile(
        connection: str | None = None,
        date: str | None = None,
        date_from: str | None = None,
        date_to: str | None = None,
    ) -> dict[str, Any]:
        """Counts and totals per entity (and per day) in ServiceTitan and in QuickBooks, for
        `date` or [date_from, date_to] (default: today in the connection's time zone)."""
        name, tenant, start, end = await reconcile_args(connection, date, date_from, date_to)
        try:
            return (await recon.reconcile(db, name, tenant, start, end)).json()
        except recon.ReconcileError as exc:
            raise HTTPException(400, str(exc)) from exc

    @app.get("/api/reconcile/records")
    async def get_reconcile_records(
        entity: str,
        connection: str | None = None,
        date: str | None = None,
        date_from: str | None = None,
        date_to: str | None = None,
        show_all: Annotated[bool, Query(alias="all")] = False,
    ) -> list[dict[str, Any]]:
        """The records behind one entity's figures (only those that differ unless all)."""
        name, tenant, start, end = await reconcile_args(connection, date, date_from, date_to)
        try:
            return await recon.reconcile_records(
                db, name, tenant, entity, start, end, only_differences=not show_all
            )
        except recon.ReconcileError as exc:
            raise HTTPException(400, str(exc)) from exc

    @app.get("/reconcile.csv")
    async def reconcile_as_csv(
        connection: str | None = None,
        date: str | None = None,
        date_from: str | None = None,
        date_to: str | None = None,
    ) -> Response:
        name, tenant, start, end = await reconcile_args(connection, date, date_from, date_to)
        try:
            result = (await recon.reconcile(db, name, tenant, start, end)).json()
            records = []
            for entity in recon.RECONCILED:
                records += await recon.reconcile_records(db, name, tenant, entity, start, end)
        except recon.ReconcileError as exc:
            raise HTTPException(400, str(exc)) from exc
        return Response(
            reconcile_csv(result, records),
            media_type="text/csv; charset=utf-8",
            headers={
                "Content-Disposition": f'attachment; filename="reconcile-{name}-{start}-{end}.csv"'
            },
        )

    @app.post("/api/replay")
    async def post_replay(request: ReplayRequest) -> ReplayResult:
        try:
            return await replay(need_js(), request)
        except ReplayError as exc:
            raise HTTPException(400, str(exc)) from exc

    # --- pages ------------------------------------------------------------------------------

    @app.get("/", response_class=HTMLResponse)
    async def dashboard(request: Request) -> HTMLResponse:
        params = dict(request.query_params)
        filters, problems = filter_from_page(params)
        limit = int(params["limit"]) if params.get("limit", "").isdigit() else 50
        limit = limit if limit in PAGE_SIZES else 50
        offset = int(params["offset"]) if params.get("offset", "").isdigit() else 0
        rows = await queries.list(filters, limit=limit, offset=offset)
        for row in rows:
            row["updated_local"] = local(
                dt.datetime.fromisoformat(row["updated_at"]),
                await directory.zone_of(row["connection"]),
            )
        connections = await all_connections()
        shown = [filters.connection] if filters.connection else connections[:20]
        notice = None
        if params.get("retried", "").isdigit():
            n = int(params["retried"])
            notice = (
                f"Retry sent for {n} record{'s' if n != 1 else ''}: "
                "each is mapped again with the current mapping and sent at the Web Connector's "
                "next call."
            )
        if problems:
            notice = " ".join(problems)
        view = RecordsPage(
            filters=filters,
            rows=rows,
            total=await queries.count(filters),
            tally=await queries.tally(filters),
            offset=offset,
            limit=limit,
            connections=connections,
            health=await health_of(shown),
            notice=notice,
        )
        return HTMLResponse(render_records(view))

    @app.get("/records/{record_id}", response_class=HTMLResponse)
    async def record_page(record_id: int, retried: int | None = None) -> HTMLResponse:
        found = await queries.trail(record_id)
        if found is None:
            return HTMLResponse(
                page("Not found", f"<p class='empty'>There is no record {record_id}.</p>"),
                status_code=404,
            )
        notice = (
            "Retry sent: the record is mapped again with the current mapping and sent at the "
            "Web Connector's next call."
            if retried
            else None
        )
        zone_name = await directory.zone_of(found["record"]["connection"])
        return HTMLResponse(render_trail(found, zone_name, notice))

    @app.post("/records/{record_id}/retry")
    async def record_retry_form(record_id: int, request: Request) -> Response:
        _same_origin(request)
        try:
            await retry_record(need_js(), queries, record_id)
        except RetryError as exc:
            return HTMLResponse(
                page(
                    "Cannot retry",
                    f"<p class='empty'>{e(exc)}</p>"
                    f"<p><a href='/records/{record_id}'>Back to the record</a></p>",
                ),
                status_code=exc.status,
            )
        return RedirectResponse(f"/records/{record_id}?retried=1", status_code=303)

    @app.post("/records/retry-failed")
    async def retry_failed_form(request: Request) -> Response:
        _same_origin(request)
        # A plain urlencoded form (the page's hidden fields): the standard library reads it.
        params = dict(parse_qsl((await request.body()).decode("utf-8", errors="replace")))
        filters, problems = filter_from_page(params)
        if problems:
            raise HTTPException(400, " ".join(problems))
        ids = await queries.ids(filters.with_status("failed"), MAX_RETRY_ALL)
        result = await retry_many(need_js(), queries, ids)
        back = {**filters.with_status("failed").params(), "retried": str(result["count"])}
        return RedirectResponse(link("/", back), status_code=303)

    @app.get("/reconcile", response_class=HTMLResponse)
    async def reconcile_page(request: Request) -> HTMLResponse:
        params = dict(request.query_params)
        connections = await all_connections()
        connection = params.get("connection") or (connections[0] if connections else None)
        zone_name = await directory.zone_of(connection)
        today = dt.datetime.now(zone(zone_name)).date()
        problems: list[str] = []
        try:
            start = _parse_date("date_from", params.get("date_from")) or today
            end = _parse_date("date_to", params.get("date_to")) or start
        except FilterError as exc:
            problems.append(str(exc))
            start = end = today
        entity = params.get("entity") if params.get("entity") in recon.RECONCILED else None
        show_all = params.get("all") == "1"
        result: dict[str, Any] | None = None
        records: list[dict[str, Any]] | None = None
        if connection is not None and not problems:
            info = await directory.info(connection)
            tenant = info.tenant or await recon.tenant_of(db, connection)
            try:
                result = (await recon.reconcile(db, connection, tenant, start, end)).json()
                if entity is not None:
                    records = await recon.reconcile_records(
                        db, connection, tenant, entity, start, end, only_differences=not show_all
                    )
            except recon.ReconcileError as exc:
                problems.append(str(exc))
        return HTMLResponse(
            render_reconcile(
                result,
                connections,
                connection,
                start,
                end,
                entity,
                records,
                show_all,
                notice=" ".join(problems) or None,
            )
        )

    return app
