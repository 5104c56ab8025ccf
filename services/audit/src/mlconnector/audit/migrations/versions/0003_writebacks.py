"""What st-ingest wrote back to ServiceTitan (WriteBack on `st.writeback.>`): one row per
message, shown on the record's trail.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from mlconnector.audit.tables import UtcDateTime

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "st_writebacks",
        sa.Column("write_id", sa.String(400), primary_key=True),
        sa.Column("connection", sa.String(64), nullable=False),
        sa.Column("tenant", sa.String(64), nullable=False),
        sa.Column("entity", sa.String(16), nullable=False),
        sa.Column("st_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("action", sa.String(32), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("qb_id", sa.String(64), nullable=True),
        sa.Column("source_id", sa.String(200), nullable=False),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column("max_attempts", sa.Integer(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("at", UtcDateTime(), nullable=False),
    )
    op.create_index("ix_st_writebacks_key", "st_writebacks", ["tenant", "entity", "st_id"])


def downgrade() -> None:
    raise NotImplementedError("the audit database is not downgraded; restore a backup instead")
