"""CSV for spreadsheets: any filtered list of records, and a reconciliation.

Amounts are plain decimal dollars ("1234.56"), dates ISO, times local to the record's
connection ("2024-05-02 07:00:02 CDT"); the first line names the columns.
"""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from typing import Any

from mlconnector.audit.pages.layout import STATUS_WORDS
from mlconnector.audit.queries import record_json
from mlconnector.audit.tables import RecordRow

RECORD_COLUMNS = (
    "record id",
    "connection",
    "type",
    "ServiceTitan id",
    "date",
    "reference",
    "customer / vendor",
    "amount",
    "status",
    "QuickBooks id",
    "QuickBooks amount",
    "message",
    "what to do",
    "updated",
)


def _line(values: Iterable[Any]) -> str:
    out = io.StringIO()
    csv.writer(out).writerow(["" if v is None else v for v in values])
    return out.getvalue()


async def records_csv(
    rows: AsyncIterator[RecordRow], local_time: Callable[[RecordRow], Awaitable[str]]
) -> AsyncIterator[str]:
    """The header, then one line per record as `rows` yields them."""
    yield _line(RECORD_COLUMNS)
    async for row in rows:
        record = record_json(row)
        yield _line(
            (
                record["id"],
                record["connection"],
                record["entity"],
                record["st_id"],
                record["date"],
                record["reference"],
                record["party"],
                record["amount"],
                STATUS_WORDS.get(record["status"], record["status"]),
                record["qb_id"],
                record["qb_amount"],
                record["message"],
                record["hint"],
                await local_time(row),
            )
        )


def reconcile_csv(result: dict[str, Any], records: list[dict[str, Any]]) -> str:
    """Per entity and per day, then the records that make up the differences."""
    head = (
        "date",
        "type",
        "ServiceTitan count",
        "ServiceTitan total",
        "QuickBooks count",
        "QuickBooks total",
        "difference count",
        "difference total",
        "not read back",
    )
    lines = [
        _line(
            (
                "connection",
                result["connection"],
                "from",
                result["date_from"],
                "to",
                result["date_to"],
            )
        ),
        _line(head),
    ]

    def figures(label: str, f: dict[str, Any]) -> str:
        return _line(
            (
                label,
                f["entity"],
                f["st_count"],
                f["st_total"],
                f["qb_count"],
                f["qb_total"],
                f["difference_count"],
                f["difference_total"],
                f["not_read_back"],
            )
        )

    lines.extend(figures("all", f) for f in result["entities"])
    for day in result["days"]:
        lines.extend(figures(day["date"], f) for f in day["entities"])
    if records:
        lines.append(_line(()))
        lines.append(
            _line(
                (
                    "record id",
                    "type",
                    "date",
                    "reference",
                    "customer / vendor",
                    "ServiceTitan amount",
                    "QuickBooks amount",
                    "difference",
                    "why",
                    "status",
                )
            )
        )
        lines.extend(
            _line(
                (
                    r["id"],
                    r["entity"],
                    r["date"],
                    r["reference"],
                    r["party"],
                    r["amount"],
                    r["qb_amount"],
                    r["difference"],
                    r["reason"],
                    STATUS_WORDS.get(r["status"], r["status"]),
                )
            )
            for r in records
        )
    return "".join(lines)
