"""Analytics: `step_rollups_daily`, the step rollup at the grain of a day; enrollments by end time.

The same cells as `step_rollups` (0007) with the UTC day of the step's start (`bucket_day`, midnight
UTC) in place of its hour, maintained by the projection in the transactions that maintain the hourly
cells. An aggregates query then reads whole days here and only the hours at the ragged ends of its
buckets from the hourly table. Backfilled from the hourly cells, which hold the same sums.

`ix_enrollments_tenant_ended` serves the enrollment metrics counted when an enrollment ended
(nCompleted, nExited, nFailed).

Revision ID: 0011
Revises: 0010
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import UUID

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "step_rollups_daily",
        sa.Column("tenant_id", sa.String(64), primary_key=True),
        sa.Column("journey_id", UUID(as_uuid=True), primary_key=True),
        sa.Column("version", sa.Integer(), primary_key=True),
        sa.Column("node_id", sa.String(64), primary_key=True),
        sa.Column("node_type", sa.String(32), primary_key=True),
        sa.Column("bucket_day", sa.DateTime(timezone=True), primary_key=True),
        sa.Column("status", sa.String(16), primary_key=True),
        sa.Column("branch", sa.String(64), primary_key=True),
        sa.Column("count", sa.BigInteger(), nullable=False, server_default="0"),
        sa.Column("duration_count", sa.BigInteger(), nullable=False, server_default="0"),
        sa.Column("duration_sum_ms", sa.BigInteger(), nullable=False, server_default="0"),
        sa.Column("duration_min_ms", sa.BigInteger()),
        sa.Column("duration_max_ms", sa.BigInteger()),
    )
    op.execute(
        """
        INSERT INTO step_rollups_daily (tenant_id, journey_id, version, node_id, node_type, bucket_day,
                                        status, branch, count, duration_count, duration_sum_ms,
                                        duration_min_ms, duration_max_ms)
        SELECT tenant_id, journey_id, version, node_id, node_type,
               date_trunc('day', bucket_hour AT TIME ZONE 'UTC') AT TIME ZONE 'UTC', status, branch,
               sum(count), sum(duration_count), sum(duration_sum_ms), min(duration_min_ms),
               max(duration_max_ms)
        FROM step_rollups
        GROUP BY 1, 2, 3, 4, 5, 6, 7, 8
        """
    )
    op.create_index("ix_step_rollups_daily_tenant_bucket", "step_rollups_daily", ["tenant_id", "bucket_day"])
    op.create_index(
        "ix_enrollments_tenant_ended",
        "enrollments",
        ["tenant_id", "completed_at"],
        postgresql_where=sa.text("completed_at IS NOT NULL"),
    )


def downgrade() -> None:
    op.drop_index("ix_enrollments_tenant_ended", table_name="enrollments")
    op.drop_index("ix_step_rollups_daily_tenant_bucket", table_name="step_rollups_daily")
    op.drop_table("step_rollups_daily")
