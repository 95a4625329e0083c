"""Who did what: scoped API keys, the owner of each prediction and who labelled it; pictures that
retention may drop; uploads on the page logged as their own source.

New nullable columns and a new table: rows logged before keep no owner (only an admin sees them),
and their labels name no labeller (so retraining does not trust them unless the model agreed).
The source check gains 'upload' (the page's uploads; its drawings stay 'web'). Rows logged before
keep 'web' for both: which of them were uploads was never recorded.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

SOURCES_BEFORE = "source IN ('web', 'api')"
SOURCES = "source IN ('web', 'api', 'upload')"


def upgrade() -> None:
    with op.batch_alter_table("predictions") as batch:
        batch.add_column(sa.Column("owner", sa.String(100), nullable=True))
        batch.add_column(sa.Column("labelled_by", sa.String(100), nullable=True))
        batch.alter_column("model_input", existing_type=sa.LargeBinary(), nullable=True)
        batch.drop_constraint("ck_predictions_source", type_="check")
        batch.create_check_constraint("ck_predictions_source", SOURCES)
    op.create_index("ix_predictions_owner_created_at", "predictions", ["owner", "created_at"])
    op.create_table(
        "api_keys",
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("token_sha256", sa.String(64), nullable=False),
        sa.Column("scopes", sa.String(64), nullable=False),
        sa.Column("trusted", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("name", name="pk_api_keys"),
        sa.UniqueConstraint("token_sha256", name="uq_api_keys_token_sha256"),
    )


def downgrade() -> None:
    op.drop_table("api_keys")
    op.drop_index("ix_predictions_owner_created_at", table_name="predictions")
    # Pruned rows have no picture to give back: they cannot fit the older schema, so they go.
    op.execute("DELETE FROM predictions WHERE model_input IS NULL")
    # The older schema knows no 'upload': an upload was a page prediction, logged as 'web' then.
    op.execute("UPDATE predictions SET source = 'web' WHERE source = 'upload'")
    with op.batch_alter_table("predictions") as batch:
        batch.drop_constraint("ck_predictions_source", type_="check")
        batch.create_check_constraint("ck_predictions_source", SOURCES_BEFORE)
        batch.alter_column("model_input", existing_type=sa.LargeBinary(), nullable=False)
        batch.drop_column("labelled_by")
        batch.drop_column("owner")
