"""Engine support: why an enrollment ended, and the ledger that makes profile updates apply once.

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("enrollments", sa.Column("exit_reason", sa.Text()))
    op.create_table(
        "profile_update_log",
        sa.Column("tenant_id", sa.String(64), primary_key=True),
        sa.Column("idempotency_key", sa.String(400), primary_key=True),
        sa.Column("customer_id", sa.String(256), nullable=False),
        sa.Column("applied_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
    )


def downgrade() -> None:
    op.drop_table("profile_update_log")
    op.drop_column("enrollments", "exit_reason")
