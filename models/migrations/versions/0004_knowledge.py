"""knowledge: passages with snippets and model keys, suggestion runs, requester eligibility

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-27 21:58:45.127226
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import models.base

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.create_table(
        "suggestion_run",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("ticket_id", sa.Integer(), nullable=False),
        sa.Column("fit_confidence", sa.Double(), nullable=False),
        sa.Column("requester_fit_confidence", sa.Double(), nullable=False),
        sa.Column("threshold", sa.Double(), nullable=False),
        sa.Column("eligible_count", sa.Integer(), nullable=False),
        sa.Column("knowledge_version", sa.Integer(), nullable=False),
        sa.Column("model", sa.String(length=200), nullable=False),
        sa.Column("query_key", sa.String(length=64), nullable=False),
        sa.Column("category", sa.String(length=100), nullable=True),
        sa.Column("category_confidence", sa.Double(), nullable=False),
        sa.Column("created_at", models.base.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["ticket_id"], ["ticket.id"], name=op.f("fk_suggestion_run_ticket_id_ticket")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_suggestion_run")),
    )
    with op.batch_alter_table("suggestion_run", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_suggestion_run_ticket_id"), ["ticket_id"], unique=False
        )

    with op.batch_alter_table("article", schema=None) as batch_op:
        batch_op.add_column(sa.Column("editor_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("published_at", models.base.UTCDateTime(), nullable=True))
        batch_op.create_foreign_key(
            batch_op.f("fk_article_editor_id_person"), "person", ["editor_id"], ["id"]
        )

    with op.batch_alter_table("article_version", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("created_by", sa.String(length=320), server_default="", nullable=False)
        )

    # Existing attachments get their article's creation time: added as NULL, filled, then
    # required (a server default of "now" would be local time on some PostgreSQL servers).
    with op.batch_alter_table("article_attachment", schema=None) as batch_op:
        batch_op.add_column(sa.Column("size", sa.Integer(), server_default="0", nullable=False))
        batch_op.add_column(
            sa.Column("created_by", sa.String(length=320), server_default="", nullable=False)
        )
        batch_op.add_column(sa.Column("created_at", models.base.UTCDateTime(), nullable=True))
    op.execute(
        "UPDATE article_attachment SET created_at = "
        "(SELECT article.created_at FROM article WHERE article.id = article_attachment.article_id)"
    )
    with op.batch_alter_table("article_attachment", schema=None) as batch_op:
        batch_op.alter_column("created_at", existing_type=models.base.UTCDateTime(), nullable=False)

    with op.batch_alter_table("article_example", schema=None) as batch_op:
        batch_op.add_column(sa.Column("suggestion_id", sa.Integer(), nullable=True))
        batch_op.add_column(
            sa.Column("model", sa.String(length=200), server_default="", nullable=False)
        )
        batch_op.add_column(
            sa.Column("created_by", sa.String(length=320), server_default="", nullable=False)
        )
        batch_op.create_index(
            batch_op.f("ix_article_example_suggestion_id"), ["suggestion_id"], unique=False
        )
        batch_op.create_foreign_key(
            batch_op.f("fk_article_example_suggestion_id_suggestion"),
            "suggestion",
            ["suggestion_id"],
            ["id"],
        )

    # Passages written before this revision have no model key: the matcher re-embeds them in
    # memory until `deskmail kb reindex` stores them properly.
    with op.batch_alter_table("passage", schema=None) as batch_op:
        batch_op.add_column(sa.Column("snippet", sa.Text(), server_default="", nullable=False))
        batch_op.add_column(
            sa.Column("is_title", sa.Boolean(), server_default=sa.false(), nullable=False)
        )
        batch_op.add_column(
            sa.Column("model", sa.String(length=200), server_default="", nullable=False)
        )

    with op.batch_alter_table("suggestion", schema=None) as batch_op:
        batch_op.add_column(sa.Column("run_id", sa.Integer(), nullable=True))
        batch_op.add_column(
            sa.Column(
                "eligible_for_requester", sa.Boolean(), server_default=sa.false(), nullable=False
            )
        )
        batch_op.create_index(batch_op.f("ix_suggestion_run_id"), ["run_id"], unique=False)
        batch_op.create_foreign_key(
            batch_op.f("fk_suggestion_run_id_suggestion_run"), "suggestion_run", ["run_id"], ["id"]
        )


def downgrade() -> None:
    with op.batch_alter_table("suggestion", schema=None) as batch_op:
        batch_op.drop_constraint(
            batch_op.f("fk_suggestion_run_id_suggestion_run"), type_="foreignkey"
        )
        batch_op.drop_index(batch_op.f("ix_suggestion_run_id"))
        batch_op.drop_column("eligible_for_requester")
        batch_op.drop_column("run_id")

    with op.batch_alter_table("passage", schema=None) as batch_op:
        batch_op.drop_column("model")
        batch_op.drop_column("is_title")
        batch_op.drop_column("snippet")

    with op.batch_alter_table("article_example", schema=None) as batch_op:
        batch_op.drop_constraint(
            batch_op.f("fk_article_example_suggestion_id_suggestion"), type_="foreignkey"
        )
        batch_op.drop_index(batch_op.f("ix_article_example_suggestion_id"))
        batch_op.drop_column("created_by")
        batch_op.drop_column("model")
        batch_op.drop_column("suggestion_id")

    with op.batch_alter_table("article_attachment", schema=None) as batch_op:
        batch_op.drop_column("created_at")
        batch_op.drop_column("created_by")
        batch_op.drop_column("size")

    with op.batch_alter_table("article_version", schema=None) as batch_op:
        batch_op.drop_column("created_by")

    with op.batch_alter_table("article", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("fk_article_editor_id_person"), type_="foreignkey")
        batch_op.drop_column("published_at")
        batch_op.drop_column("editor_id")

    with op.batch_alter_table("suggestion_run", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_suggestion_run_ticket_id"))

    op.drop_table("suggestion_run")
