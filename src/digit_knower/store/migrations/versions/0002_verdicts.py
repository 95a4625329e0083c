"""The reader's verdict and the digits it read, on every prediction.

Both columns are nullable: rows logged before this revision keep no verdict, and stay valid.
The check allows NULL too (a CHECK passes when its expression is unknown). The stats index gains
the verdict, so that the live statistics, which count verdicts apart, still come from it alone.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

Json = sa.JSON().with_variant(JSONB(), "postgresql")


def upgrade() -> None:
    with op.batch_alter_table("predictions") as batch:
        batch.add_column(sa.Column("verdict", sa.String(16), nullable=True))
        batch.add_column(sa.Column("digits", Json, nullable=True))
        batch.create_check_constraint(
            "ck_predictions_verdict", "verdict IN ('digit', 'unsure', 'not_a_digit', 'several_digits')"
        )
    op.drop_index("ix_predictions_stats", table_name="predictions")
    op.create_index(
        "ix_predictions_stats", "predictions", ["model_version", "true_label", "digit", "verdict"]
    )


def downgrade() -> None:
    op.drop_index("ix_predictions_stats", table_name="predictions")
    op.create_index("ix_predictions_stats", "predictions", ["model_version", "true_label", "digit"])
    with op.batch_alter_table("predictions") as batch:
        batch.drop_constraint("ck_predictions_verdict", type_="check")
        batch.drop_column("digits")
        batch.drop_column("verdict")
