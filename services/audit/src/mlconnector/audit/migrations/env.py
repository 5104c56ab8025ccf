"""Alembic environment of the audit database.

Run by `mlconnector.audit.schema.upgrade` on a connection it hands over in
`config.attributes["connection"]`; there is no alembic.ini and no URL here. Developers make a
new revision with `alembic -c services/audit/alembic.ini revision -m "..."` (see that file).
"""

from __future__ import annotations

from alembic import context

from mlconnector.audit.tables import Base

connection = context.config.attributes.get("connection")
if connection is None:  # pragma: no cover - only through schema.upgrade
    raise RuntimeError("the audit migrations run through mlconnector.audit.schema.upgrade")

context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    # SQLite cannot ALTER a constraint: such revisions copy the table (batch mode).
    render_as_batch=connection.dialect.name == "sqlite",
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
