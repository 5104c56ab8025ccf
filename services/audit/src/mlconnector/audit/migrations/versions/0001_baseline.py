"""Baseline: the schema audit made before migrations (create_all, then ALTER TABLE).

A database made by that code has these tables and no alembic_version: this revision leaves
its tables as they are and only adds what the oldest of them lacked (outcomes.difference). A new
database gets the same tables, so that every database reaches the next revision the same way.

Revision ID: 0001
Revises:
Create Date: 2026-11-20
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from mlconnector.audit.tables import UtcDateTime

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def _create_legacy_tables() -> None:
    op.create_table(
        "records",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("tenant", sa.String(64), nullable=False),
        sa.Column("connection", sa.String(64), nullable=False),
        sa.Column("entity", sa.String(16), nullable=False),
        sa.Column("st_id", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("status_at", UtcDateTime(), nullable=False),
        sa.Column("qb_id", sa.String(64), nullable=True),
        sa.Column("message", sa.Text(), nullable=True),
        sa.Column("hint", sa.Text(), nullable=True),
        sa.Column("summary", sa.JSON(), nullable=False),
        sa.Column("updated_at", UtcDateTime(), nullable=False),
        sa.UniqueConstraint("tenant", "connection", "entity", "st_id", name="uq_records_key"),
    )
    op.create_index("ix_records_updated_at", "records", ["updated_at"])
    op.create_index("ix_records_status", "records", ["status"])
    op.create_table(
        "events",
        sa.Column("msg_id", sa.String(300), primary_key=True),
        sa.Column("event_id", sa.String(300), nullable=False),
        sa.Column("tenant", sa.String(64), nullable=False),
        sa.Column("entity", sa.String(16), nullable=False),
        sa.Column("st_id", sa.Integer(), nullable=False),
        sa.Column("version", sa.String(100), nullable=False),
        sa.Column("source", sa.String(16), nullable=False),
        sa.Column("stream_seq", sa.Integer(), nullable=True),
        sa.Column("received_at", UtcDateTime(), nullable=False),
        sa.Column("event", sa.JSON(), nullable=False),
    )
    op.create_index("ix_events_key", "events", ["tenant", "entity", "st_id"])
    op.create_table(
        "rejections",
        sa.Column("rejection_id", sa.String(300), primary_key=True),
        sa.Column("tenant", sa.String(64), nullable=False),
        sa.Column("entity", sa.String(16), nullable=False),
        sa.Column("st_id", sa.Integer(), nullable=True),
        sa.Column("record_st_id", sa.Integer(), nullable=False),
        sa.Column("error", sa.Text(), nullable=False),
        sa.Column("raw", sa.JSON(), nullable=False),
        sa.Column("stream_seq", sa.Integer(), nullable=True),
        sa.Column("received_at", UtcDateTime(), nullable=False),
    )
    op.create_index("ix_rejections_key", "rejections", ["tenant", "entity", "record_st_id"])
    op.create_table(
        "commands",
        sa.Column("command_id", sa.String(100), primary_key=True),
        sa.Column("connection", sa.String(64), nullable=False),
        sa.Column("tenant", sa.String(64), nullable=False),
        sa.Column("entity", sa.String(16), nullable=False),
        sa.Column("st_id", sa.Integer(), nullable=False),
        sa.Column("event_id", sa.String(300), nullable=False),
        sa.Column("request_type", sa.String(64), nullable=False),
        sa.Column("qbxml", sa.Text(), nullable=False),
        sa.Column("lookup_qbxml", sa.Text(), nullable=True),
        sa.Column("refs", sa.JSON(), nullable=False),
        sa.Column("summary", sa.Text(), nullable=False),
        sa.Column("stream_seq", sa.Integer(), nullable=True),
        sa.Column("created_at", UtcDateTime(), nullable=False),
    )
    op.create_index("ix_commands_key", "commands", ["connection", "entity", "st_id"])
    op.create_table(
        "outcomes",
        sa.Column("outcome_id", sa.String(120), primary_key=True),
        sa.Column("command_id", sa.String(100), nullable=False),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column("connection", sa.String(64), nullable=False),
        sa.Column("tenant", sa.String(64), nullable=False),
        sa.Column("entity", sa.String(16), nullable=False),
        sa.Column("st_id", sa.Integer(), nullable=False),
        sa.Column("event_id", sa.String(300), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("qb_id", sa.String(64), nullable=True),
        sa.Column("status_code", sa.Integer(), nullable=True),
        sa.Column("status_severity", sa.String(16), nullable=True),
        sa.Column("status_message", sa.Text(), nullable=True),
        sa.Column("hint", sa.Text(), nullable=True),
        sa.Column("request_qbxml", sa.Text(), nullable=True),
        sa.Column("response_qbxml", sa.Text(), nullable=True),
        sa.Column("difference", sa.JSON(), nullable=True),
        sa.Column("at", UtcDateTime(), nullable=False),
    )
    op.create_index("ix_outcomes_command_id", "outcomes", ["command_id"])
    op.create_index("ix_outcomes_key", "outcomes", ["connection", "entity", "st_id"])
    op.create_table(
        "qb_changes",
        sa.Column("change_id", sa.String(200), primary_key=True),
        sa.Column("connection", sa.String(64), nullable=False),
        sa.Column("entity", sa.String(16), nullable=False),
        sa.Column("list_id", sa.String(64), nullable=False),
        sa.Column("edit_sequence", sa.String(32), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.Column("at", UtcDateTime(), nullable=False),
    )


def upgrade() -> None:
    inspector = sa.inspect(op.get_bind())
    if not inspector.has_table("records"):
        _create_legacy_tables()
        return
    # Made by create_all: the first release's outcomes had no difference column.
    if "difference" not in {c["name"] for c in inspector.get_columns("outcomes")}:
        op.add_column("outcomes", sa.Column("difference", sa.JSON(), nullable=True))


def downgrade() -> None:
    for table in ("qb_changes", "outcomes", "commands", "rejections", "events", "records"):
        op.drop_table(table)
