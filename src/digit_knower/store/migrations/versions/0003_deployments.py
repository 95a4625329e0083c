"""Which model serves: the deployments table, a history of promotions and rollbacks.

A new table only: every existing row stays as it is. With no deployment yet, every process
serves its own shipped model, as before this revision.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "deployments",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.Column("action", sa.String(8), nullable=False),
        sa.Column("version", sa.String(64), nullable=False),
        sa.Column("previous_version", sa.String(64), nullable=True),
        sa.Column("by", sa.String(100), nullable=False),
        sa.Column("reason", sa.String(500), nullable=False),
        sa.CheckConstraint("action IN ('promote', 'rollback')", name="ck_deployments_action"),
        sa.ForeignKeyConstraint(
            ["version"], ["model_versions.version"], name="fk_deployments_version_model_versions"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_deployments"),
    )


def downgrade() -> None:
    op.drop_table("deployments")
