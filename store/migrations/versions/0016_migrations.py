"""`journey_migrations`: moving a journey's in-flight enrollments from one version to another.

One row per real run of `POST /v1/journeys/{id}/migrations` (a dry run writes nothing): the versions,
the node map, who asked (`subject`), and its progress as absolute counters (`moved`, `skipped`, `failed`)
that the MigrationWorkflow's activities overwrite page after page (a retried page writes the same totals
again), `status` RUNNING → COMPLETED | FAILED, and `error` when it failed.

A new table: no existing row is touched.

Revision ID: 0016
Revises: 0015
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB, UUID

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "journey_migrations",
        sa.Column("id", UUID(as_uuid=True), primary_key=True),
        sa.Column("tenant_id", sa.String(64), nullable=False),
        sa.Column(
            "journey_id",
            UUID(as_uuid=True),
            sa.ForeignKey("journeys.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("from_version", sa.Integer(), nullable=False),
        sa.Column("to_version", sa.Integer(), nullable=False),
        sa.Column("node_map", JSONB(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("moved", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("skipped", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("failed", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("subject", sa.String(256), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.Column("completed_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_index(
        "ix_journey_migrations_journey", "journey_migrations", ["tenant_id", "journey_id", "created_at"]
    )


def downgrade() -> None:
    op.drop_index("ix_journey_migrations_journey", table_name="journey_migrations")
    op.drop_table("journey_migrations")
