"""64-bit ServiceTitan ids; what people read as columns; reconciliation amounts; indexes for
every filter + order the API offers; Web Connector sessions and ServiceTitan feed reports.

Existing records get their new columns from the summary they already carry.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-20
"""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal, InvalidOperation
from typing import Any

import sqlalchemy as sa
from alembic import op

from mlconnector.audit.search import search_words
from mlconnector.audit.tables import RECORD_LIST_INDEXES, UtcDateTime, WordText

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

# (table, column) holding a ServiceTitan id or a stream sequence: BIGINT on PostgreSQL
# (SQLite's INTEGER is 64-bit already).
WIDENED = (
    ("records", "id"),
    ("records", "st_id"),
    ("events", "st_id"),
    ("events", "stream_seq"),
    ("rejections", "st_id"),
    ("rejections", "record_st_id"),
    ("rejections", "stream_seq"),
    ("commands", "st_id"),
    ("commands", "stream_seq"),
    ("outcomes", "st_id"),
)


def _widen_postgresql() -> None:
    bind = op.get_bind()
    for table, column in WIDENED:
        op.alter_column(table, column, type_=sa.BigInteger(), existing_type=sa.Integer())
    sequence = bind.execute(sa.text("SELECT pg_get_serial_sequence('records', 'id')")).scalar()
    if sequence:
        op.execute(f"ALTER SEQUENCE {sequence} AS bigint")


def _record_columns() -> tuple[sa.Column[Any], ...]:
    """The columns records gain (new objects each call: a Column belongs to one table)."""
    return (
        sa.Column("reference", sa.String(100), nullable=True),
        sa.Column("party", sa.String(200), nullable=True),
        sa.Column("doc_date", sa.Date(), nullable=True),
        sa.Column(
            "amount_cents", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True
        ),
        sa.Column("st_active", sa.Boolean(), nullable=False, server_default=sa.true()),
        sa.Column("version_at", UtcDateTime(), nullable=True),
        sa.Column("search", sa.String(320), nullable=False, server_default=""),
        sa.Column("qb_state", sa.String(16), nullable=True),
        sa.Column(
            "qb_amount_cents", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True
        ),
        sa.Column("qb_amount_read", sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.Column(
            "qb_expected_cents", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True
        ),
        sa.Column("qb_at", UtcDateTime(), nullable=True),
    )


def _cents(value: Any) -> int | None:
    try:
        return int((Decimal(str(value)) * 100).to_integral_value())
    except (InvalidOperation, ValueError, TypeError):
        return None


def _columns_from_summary(entity: str, status: str, summary: dict[str, Any]) -> dict[str, Any]:
    """The new columns of a record written before them, from its summary (writes.py made it:
    invoice {number, customer, date, total}, payment {reference, customer, date, total}, bill
    {reference, vendor, date, total}, customer/vendor {name})."""
    reference = summary.get("number") or summary.get("reference") or None
    party = summary.get("customer") or summary.get("vendor") or summary.get("name") or None
    try:
        doc_date = dt.date.fromisoformat(summary["date"]) if summary.get("date") else None
    except ValueError:
        doc_date = None
    amount = _cents(summary.get("total")) if "total" in summary else None
    # Before read-back amounts, a posted record holds in QuickBooks what was sent.
    in_qb = status in ("posted", "changed")
    return {
        "reference": reference,
        "party": party,
        "doc_date": doc_date,
        "amount_cents": amount,
        "search": " ".join(str(p) for p in (reference, party) if p).lower()[:320],
        "qb_state": "posted" if in_qb else None,
        "qb_amount_cents": amount if in_qb and status == "posted" else None,
        "qb_expected_cents": amount if in_qb and status == "posted" else None,
    }


_KEYS = frozenset(_columns_from_summary("invoice", "pending", {}))


def _backfill_records() -> None:
    bind = op.get_bind()
    records = sa.table(
        "records",
        sa.column("id", sa.BigInteger()),
        sa.column("entity", sa.String()),
        sa.column("status", sa.String()),
        sa.column("summary", sa.JSON()),
        *(sa.column(c.name, c.type) for c in _record_columns()),
    )
    update = (
        records.update()
        .where(records.c.id == sa.bindparam("b_id"))
        .values({name: sa.bindparam(f"b_{name}") for name in _KEYS})
    )
    last = 0
    while True:
        rows = bind.execute(
            sa.select(records.c.id, records.c.entity, records.c.status, records.c.summary)
            .where(records.c.id > last)
            .order_by(records.c.id)
            .limit(2000)
        ).all()
        if not rows:
            return
        params = []
        for row in rows:
            values = _columns_from_summary(row.entity, row.status, row.summary or {})
            params.append({"b_id": row.id, **{f"b_{k}": v for k, v in values.items()}})
        bind.execute(update, params)
        last = rows[-1].id


def _changed_records_posted_totals() -> None:
    """A "changed" record holds in QuickBooks the total of its posted version: its latest
    "changed" outcome says it (difference["total"][0]); without one, it is unknown."""
    bind = op.get_bind()
    changed = bind.execute(
        sa.text(
            "SELECT r.id, o.difference FROM records r JOIN outcomes o "
            "ON o.connection = r.connection AND o.entity = r.entity AND o.st_id = r.st_id "
            "WHERE r.status = 'changed' AND o.status = 'changed' ORDER BY o.at"
        )
    ).all()
    totals: dict[int, int | None] = {}
    for record_id, stored in changed:
        # Text through sa.text on SQLite, already decoded on PostgreSQL.
        difference = json.loads(stored) if isinstance(stored, str) else stored
        pair = (difference or {}).get("total") if isinstance(difference, dict) else None
        if pair and pair[0] is not None:
            totals[record_id] = _cents(pair[0])
    if totals:
        bind.execute(
            sa.text(
                "UPDATE records SET qb_amount_cents = :c, qb_expected_cents = :c WHERE id = :i"
            ),
            [{"c": cents, "i": record_id} for record_id, cents in totals.items()],
        )


def _backfill_words() -> None:
    bind = op.get_bind()
    words = sa.table(
        "record_words",
        sa.column("word", sa.String()),
        sa.column("tenant", sa.String()),
        sa.column("entity", sa.String()),
        sa.column("st_id", sa.BigInteger()),
    )
    rows = bind.execute(
        sa.text("SELECT DISTINCT tenant, entity, st_id, reference, party FROM records")
    ).all()
    found = {
        (word, row.tenant, row.entity, row.st_id)
        for row in rows
        for word in search_words(row.reference, row.party, row.st_id)
    }
    params = [{"word": w, "tenant": t, "entity": e, "st_id": i} for w, t, e, i in found]
    for first in range(0, len(params), 5000):
        bind.execute(words.insert(), params[first : first + 5000])


def upgrade() -> None:
    dialect = op.get_bind().dialect.name
    if dialect == "postgresql":
        _widen_postgresql()
    # Nothing reads outcomes by command id; its random keys cost every write a page.
    op.drop_index("ix_outcomes_command_id", table_name="outcomes")
    op.drop_index("ix_records_updated_at", table_name="records")
    op.drop_index("ix_records_status", table_name="records")
    # SQLite keeps a table's unique constraints in its CREATE TABLE: batch mode copies it.
    with op.batch_alter_table("records") as batch:
        batch.drop_constraint("uq_records_key", type_="unique")
        batch.create_unique_constraint(
            "uq_records_key", ["tenant", "entity", "st_id", "connection"]
        )
        for column in _record_columns():
            batch.add_column(column)
    _backfill_records()
    _changed_records_posted_totals()
    for index in RECORD_LIST_INDEXES:
        op.create_index(str(index.name), "records", [c.name for c in index.columns])

    op.add_column(
        "commands",
        sa.Column(
            "generation",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            nullable=False,
            server_default="0",
        ),
    )
    op.add_column(
        "commands", sa.Column("action", sa.String(16), nullable=False, server_default="post")
    )
    op.add_column("outcomes", sa.Column("amounts", sa.JSON(), nullable=True))
    op.add_column("outcomes", sa.Column("expected", sa.JSON(), nullable=True))
    op.add_column(
        "outcomes",
        sa.Column("prerequisite", sa.Boolean(), nullable=False, server_default=sa.false()),
    )

    op.create_table(
        "record_words",
        sa.Column("word", WordText, primary_key=True),
        sa.Column("tenant", sa.String(64), primary_key=True),
        sa.Column("entity", sa.String(16), primary_key=True),
        sa.Column("st_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), primary_key=True),
        sqlite_with_rowid=False,
    )
    op.create_index("ix_record_words_key", "record_words", ["tenant", "entity", "st_id"])
    _backfill_words()
    op.create_table(
        "wc_sessions",
        sa.Column("report_id", sa.String(200), primary_key=True),
        sa.Column("connection", sa.String(64), nullable=False),
        sa.Column("started_at", UtcDateTime(), nullable=False),
        sa.Column("ended_at", UtcDateTime(), nullable=False),
        sa.Column("result", sa.String(16), nullable=False),
        sa.Column("posted", sa.Integer(), nullable=False),
        sa.Column("failed", sa.Integer(), nullable=False),
        sa.Column("waiting", sa.Integer(), nullable=False),
        sa.Column("retrying", sa.Integer(), nullable=False),
        sa.Column("changed", sa.Integer(), nullable=False),
        sa.Column("hresult", sa.String(32), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("client_version", sa.String(64), nullable=True),
        sa.Column("qbxml_version", sa.String(32), nullable=True),
    )
    op.create_index("ix_wc_sessions_connection_ended", "wc_sessions", ["connection", "ended_at"])
    op.create_table(
        "st_feeds",
        sa.Column("report_id", sa.String(200), primary_key=True),
        sa.Column("tenant", sa.String(64), nullable=False),
        sa.Column("entity", sa.String(32), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("published", sa.Integer(), nullable=False),
        sa.Column("at", UtcDateTime(), nullable=False),
    )
    op.create_index("ix_st_feeds_tenant_at", "st_feeds", ["tenant", "entity", "at"])


def downgrade() -> None:
    raise NotImplementedError("the audit database is not downgraded; restore a backup instead")
