"""classifier: classification details, model-version metadata, example provenance, person role

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-28 10:12:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    with op.batch_alter_table("classification", schema=None) as batch_op:
        batch_op.add_column(sa.Column("details", sa.JSON(), server_default="{}", nullable=False))

    with op.batch_alter_table("classifier_model", schema=None) as batch_op:
        batch_op.add_column(sa.Column("label_sets", sa.JSON(), server_default="{}", nullable=False))
        batch_op.add_column(
            sa.Column("encoder_name", sa.String(length=200), server_default="", nullable=False)
        )
        batch_op.add_column(
            sa.Column("embedding_dim", sa.Integer(), server_default="0", nullable=False)
        )
        batch_op.add_column(
            sa.Column("tree_fingerprint", sa.String(length=64), server_default="", nullable=False)
        )
        batch_op.add_column(sa.Column("decision", sa.JSON(), server_default="{}", nullable=False))

    with op.batch_alter_table("person", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("role", sa.String(length=100), server_default="", nullable=False)
        )

    # Examples stored before this revision keep an empty text hash: only re-imports are
    # compared by it, and no release wrote examples before.
    with op.batch_alter_table("training_example", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("created_by", sa.String(length=320), server_default="", nullable=False)
        )
        batch_op.add_column(
            sa.Column("text_sha256", sa.String(length=64), server_default="", nullable=False)
        )
        batch_op.add_column(
            sa.Column("origin", sa.String(length=300), server_default="", nullable=False)
        )
        batch_op.create_index(
            batch_op.f("ix_training_example_text_sha256"), ["text_sha256"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_training_example_ticket_id"), ["ticket_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("training_example", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_training_example_ticket_id"))
        batch_op.drop_index(batch_op.f("ix_training_example_text_sha256"))
        batch_op.drop_column("origin")
        batch_op.drop_column("text_sha256")
        batch_op.drop_column("created_by")

    with op.batch_alter_table("person", schema=None) as batch_op:
        batch_op.drop_column("role")

    with op.batch_alter_table("classifier_model", schema=None) as batch_op:
        batch_op.drop_column("decision")
        batch_op.drop_column("tree_fingerprint")
        batch_op.drop_column("embedding_dim")
        batch_op.drop_column("encoder_name")
        batch_op.drop_column("label_sets")

    with op.batch_alter_table("classification", schema=None) as batch_op:
        batch_op.drop_column("details")
