"""Analytics: `step_rollups`, exact counters the projection maintains with every step write.

One row per (tenant, journey, version, node, node type, UTC hour of the step's start, status, branch):
`count` step visits in that cell, and over the closed ones (completed_at set) `duration_count`,
`duration_sum_ms`, `duration_min_ms`, `duration_max_ms`. Counts and sums are exact (moved between cells
when a step changes status or branch); min/max are over everything ever recorded in the cell, since an
extreme cannot be taken back out. `branch` is '' for no branch (primary keys refuse NULL).

Revision ID: 0007
Revises: 0006
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import UUID

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "step_rollups",
        sa.Column("tenant_id", sa.String(64), primary_key=True),
        sa.Column("journey_id", UUID(as_uuid=True), primary_key=True),
        sa.Column("version", sa.Integer(), primary_key=True),
        sa.Column("node_id", sa.String(64), primary_key=True),
        sa.Column("node_type", sa.String(32), primary_key=True),
        sa.Column("bucket_hour", sa.DateTime(timezone=True), primary_key=True),
        sa.Column("status", sa.String(16), primary_key=True),
        sa.Column("branch", sa.String(64), primary_key=True),
        sa.Column("count", sa.BigInteger(), nullable=False, server_default="0"),
        sa.Column("duration_count", sa.BigInteger(), nullable=False, server_default="0"),
        sa.Column("duration_sum_ms", sa.BigInteger(), nullable=False, server_default="0"),
        sa.Column("duration_min_ms", sa.BigInteger()),
        sa.Column("duration_max_ms", sa.BigInteger()),
    )
    op.create_index("ix_step_rollups_tenant_bucket", "step_rollups", ["tenant_id", "bucket_hour"])
    op.create_index(
        "ix_enrollments_tenant_journey_enrolled", "enrollments", ["tenant_id", "journey_id", "enrolled_at"]
    )
    op.create_index("ix_messages_tenant_journey_node", "messages", ["tenant_id", "journey_id", "node_id"])


def downgrade() -> None:
    op.drop_index("ix_messages_tenant_journey_node", table_name="messages")
    op.drop_index("ix_enrollments_tenant_journey_enrolled", table_name="enrollments")
    op.drop_index("ix_step_rollups_tenant_bucket", table_name="step_rollups")
    op.drop_table("step_rollups")
