"""`audit_log.detail`: what a request asked for, where the path alone does not say it.

An operator's action on an enrollment (`POST …/enrollments/{id}/actions`) records its action, reason,
`until` and `nodeId` here (and a migration its node map), so the audit log and the enrollment's timeline
say who did what and why. JSONB, NULL for every other request and for rows recorded before this revision.

Adding a nullable column rewrites no rows.

Revision ID: 0015
Revises: 0014
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("audit_log", sa.Column("detail", JSONB(), nullable=True))


def downgrade() -> None:
    op.drop_column("audit_log", "detail")
