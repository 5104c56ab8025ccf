"""Reconciliation: per connection, entity and day, what ServiceTitan has against what QuickBooks
confirmed, and the records that make up any difference.

- ServiceTitan's side: the connection's records (and its tenant's records no connection has
  taken yet) whose newest version is active, by the record's own date (invoice, payment or
  bill date), with ServiceTitan's total of that version.
- QuickBooks' side: the records QuickBooks holds (last posting outcome "posted" or "differs",
  not voided since), with the total QuickBooks read back from its answer
  (`Outcome.amounts["total"]`). A posting the gateway did not read back counts with the amount
  sent and is counted in `not_read_back`.

Amounts are integer cents inside and decimal dollars ("408.05") in the JSON.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import ColumnElement, and_, case, func, or_, select

from mlconnector.audit.db import AuditDb
from mlconnector.audit.queries import LIST_ORDER, dollars, record_json
from mlconnector.audit.tables import NO_CONNECTION, RecordRow

# Entities with an amount and a date: what an accountant reconciles.
RECONCILED = ("invoice", "payment", "bill")
MAX_DAYS = 366


class ReconcileError(ValueError):
    """A reconciliation that cannot be made as asked (bad range, unknown entity)."""


@dataclass
class Figures:
    """Counts and totals (cents) of one entity over one day or the whole range."""

    st_count: int = 0
    st_total: int = 0
    qb_count: int = 0
    qb_total: int = 0
    not_read_back: int = 0

    def add(self, other: Figures) -> None:
        self.st_count += other.st_count
        self.st_total += other.st_total
        self.qb_count += other.qb_count
        self.qb_total += other.qb_total
        self.not_read_back += other.not_read_back

    def json(self) -> dict[str, Any]:
        return {
            "st_count": self.st_count,
            "st_total": dollars(self.st_total),
            "qb_count": self.qb_count,
            "qb_total": dollars(self.qb_total),
            "difference_count": self.st_count - self.qb_count,
            "difference_total": dollars(self.st_total - self.qb_total),
            "not_read_back": self.not_read_back,
            "matches": self.st_count == self.qb_count and self.st_total == self.qb_total,
        }


@dataclass
class Reconciliation:
    """Figures of one connection over [date_from, date_to]: per entity, and per day."""

    connection: str
    tenant: str | None
    date_from: dt.date
    date_to: dt.date
    entities: dict[str, Figures] = field(default_factory=dict)
    days: dict[dt.date, dict[str, Figures]] = field(default_factory=dict)

    def json(self) -> dict[str, Any]:
        return {
            "connection": self.connection,
            "tenant": self.tenant,
            "date_from": self.date_from.isoformat(),
            "date_to": self.date_to.isoformat(),
            "entities": [{"entity": e, **f.json()} for e, f in self.entities.items()],
            "days": [
                {
                    "date": day.isoformat(),
                    "entities": [{"entity": e, **f.json()} for e, f in by_entity.items()],
                }
                for day, by_entity in sorted(self.days.items())
            ],
            "matches": all(f.json()["matches"] for f in self.entities.values()),
        }


def check_range(date_from: dt.date, date_to: dt.date) -> None:
    """ReconcileError for a range that ends before it starts or spans more than MAX_DAYS."""
    if date_to < date_from:
        raise ReconcileError(
            f"the range ends ({date_to}) before it starts ({date_from}); swap the two dates"
        )
    if (date_to - date_from).days >= MAX_DAYS:
        raise ReconcileError(f"reconcile at most {MAX_DAYS} days at a time")


def _scope(connection: str, tenant: str | None) -> ColumnElement[bool]:
    """The connection's records, and its tenant's records no connection has taken yet."""
    if tenant is None:
        return RecordRow.connection == connection
    return and_(
        RecordRow.connection.in_([connection, NO_CONNECTION]),
        or_(RecordRow.connection == connection, RecordRow.tenant == tenant),
    )


_IN_QB = and_(RecordRow.qb_state == "posted", RecordRow.connection != NO_CONNECTION)


async def tenant_of(db: AuditDb, connection: str) -> str | None:
    """The tenant a connection's records belong to (None: it has none yet)."""
    async with db.sessions() as session:
        found = await session.scalar(
            select(RecordRow.tenant).where(RecordRow.connection == connection).limit(1)
        )
    return None if found is None else str(found)


async def reconcile(
    db: AuditDb,
    connection: str,
    tenant: str | None,
    date_from: dt.date,
    date_to: dt.date,
) -> Reconciliation:
    """Figures per entity (RECONCILED) and per day of [date_from, date_to] (inclusive)."""
    check_range(date_from, date_to)
    st_active = RecordRow.st_active.is_(True)
    query = (
        select(
            RecordRow.entity,
            RecordRow.doc_date,
            func.sum(case((st_active, 1), else_=0)),
            func.sum(case((st_active, func.coalesce(RecordRow.amount_cents, 0)), else_=0)),
            func.sum(case((_IN_QB, 1), else_=0)),
            func.sum(case((_IN_QB, func.coalesce(RecordRow.qb_amount_cents, 0)), else_=0)),
            func.sum(case((and_(_IN_QB, RecordRow.qb_amount_read.is_(False)), 1), else_=0)),
        )
        .where(
            _scope(connection, tenant),
            RecordRow.entity.in_(RECONCILED),
            RecordRow.doc_date >= date_from,
            RecordRow.doc_date <= date_to,
        )
        .group_by(RecordRow.entity, RecordRow.doc_date)
    )
    result = Reconciliation(connection, tenant, date_from, date_to)
    result.entities = {entity: Figures() for entity in RECONCILED}
    async with db.sessions() as session:
        rows = (await session.execute(query)).all()
    for entity, day, st_count, st_total, qb_count, qb_total, unread in rows:
        figures = Figures(
            int(st_count or 0),
            int(st_total or 0),
            int(qb_count or 0),
            int(qb_total or 0),
            int(unread or 0),
        )
        result.entities[entity].add(figures)
        result.days.setdefault(day, {e: Figures() for e in RECONCILED})[entity].add(figures)
    return result


def difference_reason(row: RecordRow) -> str | None:
    """Why a record makes up part of a difference (None: it matches)."""
    in_qb = row.qb_state == "posted" and row.connection != NO_CONNECTION
    if row.st_active and not in_qb:
        if row.qb_state == "voided":
            return "voided in QuickBooks, active in ServiceTitan"
        return "not in QuickBooks yet"
    if not row.st_active and in_qb:
        return "voided in ServiceTitan, still in QuickBooks"
    if row.st_active and in_qb and (row.qb_amount_cents or 0) != (row.amount_cents or 0):
        return "amount differs"
    return None


async def reconcile_records(
    db: AuditDb,
    connection: str,
    tenant: str | None,
    entity: str,
    date_from: dt.date,
    date_to: dt.date,
    *,
    only_differences: bool = True,
    limit: int = 5000,
) -> list[dict[str, Any]]:
    """The records behind one entity's figures: each with both amounts and, where it makes
    up part of the difference, why (differences first)."""
    check_range(date_from, date_to)
    if entity not in RECONCILED:
        raise ReconcileError(f"reconcile one of {', '.join(RECONCILED)}, not {entity!r}")
    query = (
        select(RecordRow)
        .where(
            _scope(connection, tenant),
            RecordRow.entity == entity,
            RecordRow.doc_date >= date_from,
            RecordRow.doc_date <= date_to,
        )
        .order_by(*LIST_ORDER)
    )
    async with db.sessions() as session:
        rows = (await session.scalars(query)).all()
    found: list[dict[str, Any]] = []
    for row in rows:
        reason = difference_reason(row)
        if only_differences and reason is None:
            continue
        st = row.amount_cents if row.st_active else 0
        qb = row.qb_amount_cents if row.qb_state == "posted" else 0
        found.append(
            {
                **record_json(row),
                "difference": dollars((st or 0) - (qb or 0)),
                "reason": reason,
            }
        )
    found.sort(key=lambda r: r["reason"] is None)  # stable: newest first within each group
    return found[:limit]
