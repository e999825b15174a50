"""Test customers: `enrollments.test`, and entries unique per (…, test, entry number).

`POST /v1/journeys/{id}/tests` runs a journey (its draft, or a published version) for real for chosen
customers, as enrollments flagged `test`: kept out of totals, analytics, aggregates and the rollups,
and out of the entry rules of real entries. A test enrollment numbers its entries on its own, so the
unique constraint gains `test`: a customer's first test run and first real entry are both number 1.

Adding a NOT NULL column with a constant default rewrites no rows; the unique index is rebuilt.
Downgrading deletes the test enrollments (their steps go with them) before the old constraint returns.

Revision ID: 0018
Revises: 0017
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("enrollments", sa.Column("test", sa.Boolean(), nullable=False, server_default=sa.false()))
    op.drop_constraint("uq_enrollments_entry", "enrollments", type_="unique")
    op.create_unique_constraint(
        "uq_enrollments_entry",
        "enrollments",
        ["tenant_id", "journey_id", "customer_id", "entry_key", "test", "entry_number"],
    )


def downgrade() -> None:
    op.execute("DELETE FROM enrollments WHERE test")
    op.drop_constraint("uq_enrollments_entry", "enrollments", type_="unique")
    op.create_unique_constraint(
        "uq_enrollments_entry",
        "enrollments",
        ["tenant_id", "journey_id", "customer_id", "entry_key", "entry_number"],
    )
    op.drop_column("enrollments", "test")
