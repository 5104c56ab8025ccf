"""HTTP: the records API, the full trail of a record, replay, the dashboard, health."""

from __future__ import annotations

import datetime as dt
import html
import json
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import FastAPI, HTTPException, Query
from fastapi.responses import HTMLResponse
from nats.js import JetStreamContext
from sqlalchemy import and_, select

from mlconnector.audit.db import (
    NO_CONNECTION,
    AuditDb,
    CommandRow,
    EventRow,
    OutcomeRow,
    RecordRow,
    RejectionRow,
)
from mlconnector.audit.replay import ReplayError, ReplayRequest, ReplayResult, replay

STATUSES = ("pending", "posted", "failed", "waiting", "retrying", "rejected")
COLOURS = {
    "pending": "#9e9e9e",
    "posted": "#2e7d32",
    "failed": "#c62828",
    "waiting": "#ef6c00",
    "retrying": "#1565c0",
    # Not "failed" red: nothing reached QuickBooks; ServiceTitan's data must be fixed.
    "rejected": "#6a1b9a",
}


def record_json(row: RecordRow) -> dict[str, Any]:
    return {
        "id": row.id,
        "tenant": row.tenant,
        "connection": row.connection or None,
        "entity": row.entity,
        # Negative: a rejected record whose ServiceTitan id was unreadable (see db.py).
        "st_id": row.st_id if row.st_id >= 0 else None,
        "status": row.status,
        "qb_id": row.qb_id,
        "message": row.message,
        "hint": row.hint,
        "summary": row.summary or {},
        "updated_at": row.updated_at.isoformat(),
    }


def event_json(row: EventRow) -> dict[str, Any]:
    return {
        "kind": "event",
        "msg_id": row.msg_id,
        "event_id": row.event_id,
        "version": row.version,
        "source": row.source,
        "stream_seq": row.stream_seq,
        "at": row.received_at.isoformat(),
        "raw": row.event,
    }


def rejection_json(row: RejectionRow) -> dict[str, Any]:
    return {
        "kind": "rejection",
        "rejection_id": row.rejection_id,
        "st_id": row.st_id,
        "error": row.error,
        "stream_seq": row.stream_seq,
        "at": row.received_at.isoformat(),
        "raw": row.raw,  # ServiceTitan's JSON as it arrived
    }


def command_json(row: CommandRow) -> dict[str, Any]:
    return {
        "kind": "command",
        "command_id": row.command_id,
        "event_id": row.event_id,
        "request_type": row.request_type,
        "qbxml": row.qbxml,
        "lookup_qbxml": row.lookup_qbxml,
        "refs": row.refs,
        "summary": row.summary,
        "stream_seq": row.stream_seq,
        "at": row.created_at.isoformat(),
    }


def outcome_json(row: OutcomeRow) -> dict[str, Any]:
    return {
        "kind": "outcome",
        "outcome_id": row.outcome_id,
        "command_id": row.command_id,
        "attempt": row.attempt,
        "status": row.status,
        "qb_id": row.qb_id,
        "status_code": row.status_code,
        "status_severity": row.status_severity,
        "status_message": row.status_message,
        "hint": row.hint,
        "request_qbxml": row.request_qbxml,
        "response_qbxml": row.response_qbxml,
        "at": row.at.isoformat(),
    }


class RecordQueries:
    def __init__(self, db: AuditDb) -> None:
        self.db = db

    async def list(
        self,
        *,
        tenant: str | None = None,
        connection: str | None = None,
        entity: str | None = None,
        st_id: int | None = None,
        status: str | None = None,
        since: dt.datetime | None = None,
        until: dt.datetime | None = None,
        limit: int = 100,
        offset: int = 0,
    ) -> list[dict[str, Any]]:
        query = select(RecordRow)
        if tenant:
            query = query.where(RecordRow.tenant == tenant)
        if connection:
            query = query.where(RecordRow.connection == connection)
        if entity:
            query = query.where(RecordRow.entity == entity)
        if st_id is not None:
            query = query.where(RecordRow.st_id == st_id)
        if status:
            query = query.where(RecordRow.status == status)
        if since:
            query = query.where(RecordRow.updated_at >= since)
        if until:
            query = query.where(RecordRow.updated_at < until)
        query = query.order_by(RecordRow.updated_at.desc(), RecordRow.id.desc())
        async with self.db.sessions() as session:
            rows = (await session.execute(query.limit(limit).offset(offset))).scalars().all()
        return [record_json(row) for row in rows]

    async def trail(self, record_id: int) -> dict[str, Any] | None:
        async with self.db.sessions() as session:
            record = await session.get(RecordRow, record_id)
            if record is None:
                return None
            events = (
                (
                    await session.execute(
                        select(EventRow).where(
                            EventRow.tenant == record.tenant,
                            EventRow.entity == record.entity,
                            EventRow.st_id == record.st_id,
                        )
                    )
                )
                .scalars()
                .all()
            )
            rejections = (
                (
                    await session.execute(
                        select(RejectionRow).where(
                            RejectionRow.tenant == record.tenant,
                            RejectionRow.entity == record.entity,
                            RejectionRow.record_st_id == record.st_id,
                        )
                    )
                )
                .scalars()
                .all()
            )
            commands: list[CommandRow] = []
            key_match = and_(CommandRow.entity == record.entity, CommandRow.st_id == record.st_id)
            if record.connection != NO_CONNECTION:
                commands = list(
                    (
                        await session.execute(
                            select(CommandRow).where(
                                key_match, CommandRow.connection == record.connection
                            )
                        )
                    )
                    .scalars()
                    .all()
                )
            outcomes = list(
                (
                    await session.execute(
                        select(OutcomeRow).where(
                            OutcomeRow.tenant == record.tenant,
                            OutcomeRow.entity == record.entity,
                            OutcomeRow.st_id == record.st_id,
                            OutcomeRow.connection == record.connection,
                        )
                    )
                )
                .scalars()
                .all()
            )
        items = (
            [event_json(e) for e in events]
            + [rejection_json(r) for r in rejections]
            + [command_json(c) for c in commands]
            + [outcome_json(o) for o in outcomes]
        )
        order = {"event": 0, "rejection": 0, "command": 1, "outcome": 2}
        items.sort(key=lambda item: (item["at"], order[item["kind"]]))
        return {
            "record": record_json(record),
            "events": [i for i in items if i["kind"] == "event"],
            "rejections": [i for i in items if i["kind"] == "rejection"],
            "commands": [i for i in items if i["kind"] == "command"],
            "outcomes": [i for i in items if i["kind"] == "outcome"],
            "trail": items,
        }


def create_app(db: AuditDb, js: JetStreamContext | None = None) -> FastAPI:
    app = FastAPI(title="ml-connector audit", version="0.1.0")
    queries = RecordQueries(db)

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


# --- server-rendered pages (no external assets; every value goes through html.escape) ---

_STYLE = """
body{font-family:system-ui,sans-serif;margin:1.5rem;color:#222}
table{border-collapse:collapse;width:100%}td,th{border-bottom:1px solid #ddd;padding:.35rem .5rem;
text-align:left;vertical-align:top;font-size:.9rem}th{background:#f5f5f5}
.st{color:#fff;border-radius:.6rem;padding:.1rem .5rem;font-size:.8rem}
pre{background:#f7f7f7;padding:.5rem;overflow-x:auto;white-space:pre-wrap;font-size:.8rem}
form input,form select{margin-right:.5rem}.hint{color:#555;font-style:italic}
"""


def _e(value: object) -> str:
    return html.escape("" if value is None else str(value))


def _badge(status: str) -> str:
    colour = COLOURS.get(status, "#616161")
    return f'<span class="st" style="background:{colour}">{_e(status)}</span>'


def _page(title: str, body: str) -> str:
    return (
        f"<!doctype html><html><head><meta charset='utf-8'><title>{_e(title)}</title>"
        f"<style>{_STYLE}</style></head><body>{body}</body></html>"
    )


def _or_dash(value: object) -> object:
    return "-" if value is None else value


def _summary_text(summary: dict[str, Any]) -> str:
    return ", ".join(f"{k}: {v}" for k, v in summary.items())


def render_dashboard(rows: list[dict[str, Any]], filters: dict[str, str]) -> str:
    options = "".join(
        f"<option value='{_e(s)}'{' selected' if filters['status'] == s else ''}>{_e(s)}</option>"
        for s in ("", *STATUSES)
    )
    form = (
        "<form method='get' action='/'>"
        f"connection <input name='connection' value='{_e(filters['connection'])}'>"
        f"entity <input name='entity' value='{_e(filters['entity'])}'>"
        f"ServiceTitan id <input name='st_id' value='{_e(filters['st_id'])}' size='10'>"
        f"status <select name='status'>{options}</select>"
        "<button type='submit'>Filter</button></form>"
    )
    body_rows = "".join(
        "<tr>"
        f"<td><a href='/records/{row['id']}'>{row['id']}</a></td>"
        f"<td>{_e(row['connection'] or '-')}</td><td>{_e(row['tenant'])}</td>"
        f"<td>{_e(row['entity'])}</td><td>{_e(_or_dash(row['st_id']))}</td>"
        f"<td>{_e(_summary_text(row['summary']))}</td><td>{_badge(row['status'])}</td>"
        f"<td>{_e(row['qb_id'] or '')}</td>"
        f"<td>{_e(row['message'] or '')}"
        f"{'<div class=hint>' + _e(row['hint']) + '</div>' if row['hint'] else ''}</td>"
        f"<td>{_e(row['updated_at'])}</td></tr>"
        for row in rows
    )
    table = (
        "<table><tr><th>#</th><th>connection</th><th>tenant</th><th>entity</th>"
        "<th>ServiceTitan id</th><th>summary</th><th>status</th><th>QuickBooks id</th>"
        f"<th>message</th><th>updated</th></tr>{body_rows}</table>"
    )
    counts: dict[str, int] = {}
    for row in rows:
        counts[row["status"]] = counts.get(row["status"], 0) + 1
    tally = " ".join(f"{_badge(s)} {n}" for s, n in sorted(counts.items()))
    api = "/api/records?" + urlencode({k: v for k, v in filters.items() if v})
    return _page(
        "ml-connector audit",
        f"<h1>ml-connector audit</h1>{form}<p>{tally}"
        f" &middot; <a href='{_e(api)}'>JSON</a></p>{table}",
    )


def render_trail(found: dict[str, Any]) -> str:
    record = found["record"]
    parts = [
        f"<p><a href='/'>&larr; all records</a></p><h1>{_e(record['entity'])} "
        f"{_e(record['st_id'] if record['st_id'] is not None else '(id unreadable)')} "
        f"{_badge(record['status'])}</h1>",
        f"<p>tenant {_e(record['tenant'])} &middot; connection "
        f"{_e(record['connection'] or '-')} &middot; QuickBooks id "
        f"{_e(record['qb_id'] or '-')} &middot; {_e(_summary_text(record['summary']))}</p>",
    ]
    if record["message"]:
        parts.append(f"<p><b>{_e(record['message'])}</b></p>")
    if record["hint"]:
        parts.append(f"<p class='hint'>{_e(record['hint'])}</p>")
    for item in found["trail"]:
        if item["kind"] == "event":
            parts.append(
                f"<h3>{_e(item['at'])} event {_e(item['msg_id'])} ({_e(item['source'])})</h3>"
            )
        elif item["kind"] == "rejection":
            parts.append(
                f"<h3>{_e(item['at'])} rejected {_badge('rejected')}</h3>"
                f"<p>{_e(item['error'])}</p>"
                f"<div>ServiceTitan JSON</div><pre>{_e(json.dumps(item['raw'], indent=2))}</pre>"
            )
        elif item["kind"] == "command":
            parts.append(
                f"<h3>{_e(item['at'])} command {_e(item['command_id'])} "
                f"{_e(item['request_type'])}</h3><pre>{_e(item['qbxml'])}</pre>"
            )
            if item["lookup_qbxml"]:
                parts.append(f"<div>lookup</div><pre>{_e(item['lookup_qbxml'])}</pre>")
        else:
            code = "" if item["status_code"] is None else f" status {item['status_code']}"
            parts.append(
                f"<h3>{_e(item['at'])} outcome #{_e(item['attempt'])} "
                f"{_badge(item['status'])}{_e(code)} {_e(item['qb_id'] or '')}</h3>"
                f"<p>{_e(item['status_message'] or '')}</p>"
                + (f"<p class='hint'>{_e(item['hint'])}</p>" if item["hint"] else "")
                + (f"<pre>{_e(item['request_qbxml'])}</pre>" if item["request_qbxml"] else "")
                + (f"<pre>{_e(item['response_qbxml'])}</pre>" if item["response_qbxml"] else "")
            )
    return _page(f"record {record['id']}", "".join(parts))
