"""Connection health: is the Web Connector calling, what needs the office, what went wrong last.

Sources: the gateway's SessionReport per Web Connector contact (wc_sessions), st-ingest's
FeedReport per ServiceTitan feed (st_feeds), and the records' statuses.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import func, select, union_all

from mlconnector.audit.db import AuditDb
from mlconnector.audit.directory import ConnectionInfo
from mlconnector.audit.localtime import ago, local
from mlconnector.audit.tables import NO_CONNECTION, FeedRow, RecordRow, SessionRow

# Record statuses that need nobody yet / need someone (counted per connection).
COUNTED = ("pending", "waiting", "failed", "differs", "rejected")
SESSION_RESULTS = {
    "ok": "synced",
    "none": "nothing to do",
    "error": "error",
    "refused": "refused (user name or password)",
}


async def _latest_session(db: AuditDb, connection: str, errors_only: bool) -> SessionRow | None:
    query = select(SessionRow).where(SessionRow.connection == connection)
    if errors_only:
        query = query.where(SessionRow.result.in_(("error", "refused")))
    async with db.sessions() as session:
        return (await session.scalars(query.order_by(SessionRow.ended_at.desc()).limit(1))).first()


async def _counts(db: AuditDb, connection: str, tenant: str | None) -> dict[str, int]:
    """Records per status of the connection; a tenant's records no connection has taken yet
    count as pending."""
    counts = dict.fromkeys(COUNTED, 0)
    async with db.sessions() as session:
        for status, n in (
            await session.execute(
                select(RecordRow.status, func.count())
                .where(RecordRow.connection == connection, RecordRow.status.in_(COUNTED))
                .group_by(RecordRow.status)
            )
        ).all():
            counts[status] = int(n)
        if tenant is not None:
            unclaimed = await session.scalar(
                select(func.count()).where(
                    RecordRow.connection == NO_CONNECTION,
                    RecordRow.tenant == tenant,
                    RecordRow.status == "pending",
                )
            )
            counts["pending"] += int(unclaimed or 0)
    return counts


# Record statuses only an outcome sets, i.e. only a Web Connector session.
FROM_SESSIONS = (
    "posted",
    "failed",
    "waiting",
    "retrying",
    "changed",
    "superseded",
    "voided",
    "differs",
)


async def _last_answer(db: AuditDb, connection: str) -> dt.datetime | None:
    """When QuickBooks last answered for the connection, from its records: a gateway that does
    not report sessions (SessionReport) still shows that the Web Connector calls."""
    # One index seek per status ((connection, status, updated_at) ends where the newest is);
    # status_at and updated_at are set together.
    newest = union_all(
        *(
            select(func.max(RecordRow.updated_at).label("at")).where(
                RecordRow.connection == connection, RecordRow.status == status
            )
            for status in FROM_SESSIONS
        )
    ).subquery()
    async with db.sessions() as session:
        found = await session.scalar(select(func.max(newest.c.at)))
    if isinstance(found, str):  # SQLite: max() over a union loses the column's type
        found = dt.datetime.fromisoformat(found)
    if not isinstance(found, dt.datetime):
        return None
    return found if found.tzinfo else found.replace(tzinfo=dt.UTC)


async def _last_failed(db: AuditDb, connection: str) -> RecordRow | None:
    async with db.sessions() as session:
        return (
            await session.scalars(
                select(RecordRow)
                .where(RecordRow.connection == connection, RecordRow.status == "failed")
                .order_by(RecordRow.updated_at.desc(), RecordRow.id.desc())
                .limit(1)
            )
        ).first()


async def _feeds(db: AuditDb, tenant: str) -> list[FeedRow]:
    """The newest report of each of the tenant's feeds."""
    async with db.sessions() as session:
        newest = (
            select(FeedRow.entity, func.max(FeedRow.at).label("at"))
            .where(FeedRow.tenant == tenant)
            .group_by(FeedRow.entity)
            .subquery()
        )
        return list(
            (
                await session.scalars(
                    select(FeedRow)
                    .join(newest, (FeedRow.entity == newest.c.entity) & (FeedRow.at == newest.c.at))
                    .where(FeedRow.tenant == tenant)
                    .order_by(FeedRow.entity)
                )
            ).all()
        )


def _record_error_text(record: RecordRow) -> str:
    what = f"{record.entity} {record.reference or record.st_id}"
    text = f"{what}: {record.message or 'failed'}"
    return f"{text} {record.hint}" if record.hint else text


async def connection_health(
    db: AuditDb,
    info: ConnectionInfo,
    tenant: str | None,
    now: dt.datetime | None = None,
) -> dict[str, Any]:
    """One connection's health (times UTC ISO and, `*_local`, in its time zone).

    `warnings`: plain sentences; the Web Connector not calling for longer than twice its
    schedule is one, a ServiceTitan feed that is not "ok" another.
    """
    now = now or dt.datetime.now(dt.UTC)
    zone = info.time_zone
    last = await _latest_session(db, info.name, errors_only=False)
    last_bad = await _latest_session(db, info.name, errors_only=True)
    failed = await _last_failed(db, info.name)
    counts = await _counts(db, info.name, tenant)

    warnings: list[str] = []
    overdue_after = dt.timedelta(minutes=2 * info.schedule_minutes)
    answered = await _last_answer(db, info.name) if last is None else None
    if answered is not None and answered.tzinfo is None:  # SQLite keeps no zone
        answered = answered.replace(tzinfo=dt.UTC)
    if last is None and answered is not None:
        if now - answered > overdue_after:
            warnings.append(
                f"QuickBooks has not answered since {local(answered, zone)} "
                f"({ago(answered, now)}; the Web Connector should call every "
                f"{info.schedule_minutes} minutes): check that the office PC is on, QuickBooks "
                "and the Web Connector are open, and Auto-Run is ticked."
            )
    elif last is None:
        warnings.append(
            "The Web Connector has never called for this connection: add its .qwc file "
            f"(mlconnector qwc {info.name}) to the Web Connector on the office PC."
        )
    elif now - last.ended_at > overdue_after:
        warnings.append(
            f"The Web Connector has not called since {local(last.ended_at, zone)} "
            f"({ago(last.ended_at, now)}; it should every {info.schedule_minutes} minutes): "
            "check that the office PC is on, QuickBooks and the Web Connector are open, "
            "and Auto-Run is ticked."
        )

    last_error: dict[str, Any] | None = None
    candidates: list[tuple[dt.datetime, str, str]] = []
    if last_bad is not None:
        text = last_bad.last_error or (
            f"the Web Connector reported {last_bad.hresult}"
            if last_bad.hresult
            else SESSION_RESULTS[last_bad.result]
        )
        candidates.append((last_bad.ended_at, "web connector", text))
    if failed is not None:
        candidates.append((failed.updated_at, "record", _record_error_text(failed)))
    if candidates:
        at, source, text = max(candidates, key=lambda c: c[0])
        last_error = {
            "at": at.isoformat(),
            "at_local": local(at, zone),
            "source": source,
            "text": text,
            "record_id": failed.id if failed is not None and source == "record" else None,
        }

    feeds: list[dict[str, Any]] = []
    if tenant is not None:
        for feed in await _feeds(db, tenant):
            feeds.append(
                {
                    "entity": feed.entity,
                    "state": feed.state,
                    "error": feed.error,
                    "at": feed.at.isoformat(),
                    "at_local": local(feed.at, zone),
                }
            )
            if feed.state != "ok":
                warnings.append(
                    f"ServiceTitan {feed.entity} feed is {feed.state}"
                    + (f": {feed.error}" if feed.error else ".")
                )

    contact: dict[str, Any] | None = None
    if last is not None:
        contact = {
            "at": last.ended_at.isoformat(),
            "at_local": local(last.ended_at, zone),
            "ago": ago(last.ended_at, now),
            "result": last.result,
            "result_text": SESSION_RESULTS[last.result],
            "posted": last.posted,
            "failed": last.failed,
            "error": last.last_error,
        }
    elif answered is not None:
        # No session reports: the last answer QuickBooks gave through it.
        contact = {
            "at": answered.isoformat(),
            "at_local": local(answered, zone),
            "ago": ago(answered, now),
            "result": "answered",
            "result_text": "QuickBooks answered",
            "posted": None,
            "failed": None,
            "error": None,
        }
    seen = last.ended_at if last is not None else answered
    return {
        "connection": info.name,
        "tenant": tenant,
        "known": info.known,
        "time_zone": zone,
        "schedule_minutes": info.schedule_minutes,
        "last_contact": contact,
        "overdue": seen is None or now - seen > overdue_after,
        "counts": counts,
        "last_error": last_error,
        "feeds": feeds,
        "warnings": warnings,
    }
