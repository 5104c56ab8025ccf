"""The record filters the API, the dashboard, CSV export and "retry all failed" share.

Each filter matches an index that ends with the lists' order (tables.RECORD_LIST_INDEXES).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, replace
from typing import Any

from sqlalchemy import ColumnElement, false, select, tuple_

from mlconnector.audit.search import prefix_range, words_of
from mlconnector.audit.tables import NO_CONNECTION, RecordRow, RecordWordRow

ENTITIES = ("invoice", "payment", "bill", "customer", "vendor")
# Record statuses, in the order people look for them ("superseded" is only ever an outcome's:
# the record shows the attempt that replaced it).
STATUSES = (
    "failed",
    "differs",
    "waiting",
    "retrying",
    "pending",
    "rejected",
    "changed",
    "posted",
    "voided",
)


@dataclass(frozen=True)
class RecordFilter:
    """Which records: every field None matches all.

    `since`/`until`: last change (UTC, until exclusive). `date_from`/`date_to`: the record's
    own date in ServiceTitan (invoice, payment or bill date), both inclusive. `q`: words
    people type, each the start of a word of the reference (invoice number, payment or bill
    reference), of the customer or vendor name, or the ServiceTitan id; any case (search.py).
    """

    tenant: str | None = None
    connection: str | None = None
    entity: str | None = None
    st_id: int | None = None
    status: str | None = None
    since: dt.datetime | None = None
    until: dt.datetime | None = None
    date_from: dt.date | None = None
    date_to: dt.date | None = None
    q: str | None = None

    def with_status(self, status: str | None) -> RecordFilter:
        return replace(self, status=status)

    def conditions(self) -> list[ColumnElement[bool]]:
        where: list[ColumnElement[bool]] = []
        if self.tenant:
            where.append(RecordRow.tenant == self.tenant)
        if self.connection:
            where.append(RecordRow.connection == self.connection)
        if self.entity:
            where.append(RecordRow.entity == self.entity)
        if self.st_id is not None:
            where.append(RecordRow.st_id == self.st_id)
        if self.status:
            where.append(RecordRow.status == self.status)
        if self.since:
            where.append(RecordRow.updated_at >= self.since)
        if self.until:
            where.append(RecordRow.updated_at < self.until)
        if self.date_from:
            where.append(RecordRow.doc_date >= self.date_from)
        if self.date_to:
            where.append(RecordRow.doc_date <= self.date_to)
        if self.q and self.q.strip():
            terms = words_of(self.q)
            if not terms:
                where.append(false())  # only punctuation: no record has such a word
            for term in terms:
                low, high = prefix_range(term)
                where.append(
                    tuple_(RecordRow.tenant, RecordRow.entity, RecordRow.st_id).in_(
                        select(
                            RecordWordRow.tenant, RecordWordRow.entity, RecordWordRow.st_id
                        ).where(RecordWordRow.word >= low, RecordWordRow.word < high)
                    )
                )
        return where

    def params(self) -> dict[str, str]:
        """The filter as query parameters (links keep it across pages, CSV and retry)."""
        values: dict[str, Any] = {
            "tenant": self.tenant,
            "connection": self.connection,
            "entity": self.entity,
            "st_id": self.st_id,
            "status": self.status,
            "since": self.since.isoformat() if self.since else None,
            "until": self.until.isoformat() if self.until else None,
            "date_from": self.date_from.isoformat() if self.date_from else None,
            "date_to": self.date_to.isoformat() if self.date_to else None,
            "q": self.q,
        }
        return {k: str(v) for k, v in values.items() if v not in (None, "")}

    @property
    def is_empty(self) -> bool:
        return not self.params()


def connection_or_none(connection: str) -> str | None:
    """A record's connection for people: None while no connection has taken it."""
    return None if connection == NO_CONNECTION else connection
