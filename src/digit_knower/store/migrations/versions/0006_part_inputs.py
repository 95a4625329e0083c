"""Every digit's picture for a prediction of several digits, not only the first one's.

One new nullable column, `part_inputs`: the 28x28 picture the model saw of each digit, left to
right, 784 bytes each. Rows logged before keep none (their other digits' pictures were never
kept), and neither do predictions of one digit: `model_input` is their picture. The check allows
only whole pictures, and NULL (a CHECK passes when its expression is unknown). A downgrade drops
the column: every row keeps its first picture, as before.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("predictions") as batch:
        batch.add_column(sa.Column("part_inputs", sa.LargeBinary(), nullable=True))
        batch.create_check_constraint(
            "ck_predictions_part_inputs_784", "length(part_inputs) > 0 AND length(part_inputs) % 784 = 0"
        )


def downgrade() -> None:
    with op.batch_alter_table("predictions") as batch:
        batch.drop_constraint("ck_predictions_part_inputs_784", type_="check")
        batch.drop_column("part_inputs")
