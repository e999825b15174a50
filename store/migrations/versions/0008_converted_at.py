"""When an enrollment reached its goal, for the time-to-goal distribution.

Revision ID: 0008
Revises: 0007
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("enrollments", sa.Column("converted_at", sa.DateTime(timezone=True)))


def downgrade() -> None:
    op.drop_column("enrollments", "converted_at")
