"""process: the SLA clock on the ticket, once-only escalation markers, closure by "solved"

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-28 09:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | None = None
depends_on: str | None = None

_TIMESTAMPS = (
    "first_response_warn_at",
    "resolution_warn_at",
    "sla_paused_at",
    "sla_resumed_at",
    "first_response_warned_at",
    "first_response_escalated_at",
    "resolution_warned_at",
    "resolution_escalated_at",
    "group_notified_at",
)


def upgrade() -> None:
    with op.batch_alter_table("ticket", schema=None) as batch_op:
        batch_op.add_column(sa.Column("sla_priority", sa.String(length=4), nullable=True))
        for name in _TIMESTAMPS:
            batch_op.add_column(sa.Column(name, sa.DateTime(), nullable=True))
        batch_op.add_column(
            sa.Column("sla_paused_seconds", sa.Integer(), server_default="0", nullable=False)
        )
        batch_op.add_column(
            sa.Column("closed_by_solved", sa.Boolean(), server_default=sa.false(), nullable=False)
        )
        batch_op.create_index("ix_ticket_status_resolved", ["status", "resolved_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("ticket", schema=None) as batch_op:
        batch_op.drop_index("ix_ticket_status_resolved")
        batch_op.drop_column("closed_by_solved")
        batch_op.drop_column("sla_paused_seconds")
        for name in reversed(_TIMESTAMPS):
            batch_op.drop_column(name)
        batch_op.drop_column("sla_priority")
