"""Journey lifecycle details: pause mode and when the status last changed.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("journeys", sa.Column("pause_mode", sa.String(8)))
    op.add_column("journeys", sa.Column("status_changed_at", sa.DateTime(timezone=True)))
    op.create_index("ix_journeys_tenant_trigger", "journeys", ["tenant_id", "trigger_type"])


def downgrade() -> None:
    op.drop_index("ix_journeys_tenant_trigger", table_name="journeys")
    op.drop_column("journeys", "status_changed_at")
    op.drop_column("journeys", "pause_mode")
