"""Alembic environment, driven by `digit_knower.store.schema` (there is no alembic.ini).

The caller hands over an open connection in `config.attributes["connection"]`.
"""

from __future__ import annotations

from alembic import context

from digit_knower.store.tables import Base

connection = context.config.attributes["connection"]
context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    # SQLite cannot ALTER most things; batch mode rebuilds the table instead.
    render_as_batch=connection.dialect.name == "sqlite",
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
