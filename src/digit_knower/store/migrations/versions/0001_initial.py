"""Initial schema: model_versions and predictions.

Revision ID: 0001
Revises:
Create Date: 2026-11-26
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

Json = sa.JSON().with_variant(JSONB(), "postgresql")


def upgrade() -> None:
    op.create_table(
        "model_versions",
        sa.Column("version", sa.String(64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("architecture", sa.String(200), nullable=True),
        sa.Column("parameters", sa.Integer(), nullable=True),
        sa.Column("test_accuracy", sa.Float(), nullable=True),
        sa.Column("val_accuracy", sa.Float(), nullable=True),
        sa.Column("per_class_accuracy", Json, nullable=True),
        sa.Column("hyperparameters", Json, nullable=True),
        sa.Column("train_seconds", sa.Float(), nullable=True),
        sa.Column("data_sha256", Json, nullable=True),
        sa.Column("card", Json, nullable=False),
        sa.Column("registered_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.PrimaryKeyConstraint("version", name="pk_model_versions"),
    )
    op.create_table(
        "predictions",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("source", sa.String(8), nullable=False),
        sa.Column("model_version", sa.String(64), nullable=False),
        sa.Column("digit", sa.SmallInteger(), nullable=False),
        sa.Column("confidence", sa.Float(), nullable=False),
        sa.Column("probabilities", Json, nullable=False),
        sa.Column("model_input", sa.LargeBinary(), nullable=False),
        sa.Column("latency_ms", sa.Float(), nullable=False),
        sa.Column("true_label", sa.SmallInteger(), nullable=True),
        sa.Column("labelled_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint("digit BETWEEN 0 AND 9", name="ck_predictions_digit_0_9"),
        sa.CheckConstraint("true_label BETWEEN 0 AND 9", name="ck_predictions_true_label_0_9"),
        sa.CheckConstraint("source IN ('web', 'api')", name="ck_predictions_source"),
        sa.CheckConstraint("confidence BETWEEN 0 AND 1", name="ck_predictions_confidence_0_1"),
        sa.CheckConstraint("latency_ms >= 0", name="ck_predictions_latency_ms"),
        sa.CheckConstraint("length(model_input) = 784", name="ck_predictions_model_input_784"),
        sa.CheckConstraint(
            "(true_label IS NULL) = (labelled_at IS NULL)", name="ck_predictions_labelled_at_with_label"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_predictions"),
    )
    op.create_index("ix_predictions_created_at", "predictions", ["created_at"])
    op.create_index(
        "ix_predictions_labelled_created_at",
        "predictions",
        ["created_at"],
        postgresql_where=sa.text("true_label IS NOT NULL"),
        sqlite_where=sa.text("true_label IS NOT NULL"),
    )
    op.create_index("ix_predictions_stats", "predictions", ["model_version", "true_label", "digit"])


def downgrade() -> None:
    op.drop_table("predictions")
    op.drop_table("model_versions")
