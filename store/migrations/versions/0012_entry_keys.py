"""Keyed entries: `enrollments.entry_key` and `entry_key_path`; entries unique per key.

An EVENT trigger with `entryKey` enrolls a customer once per distinct key value (an abandoned cart per
`cartId`), so the entry's uniqueness moves from (tenant, journey, customer, entry number) to (tenant,
journey, customer, entry key, entry number), entry numbers counting per key. `entry_key` is '' for an
unkeyed entry (every enrollment before this revision), so uniqueness holds for them as before.
`entry_key_path` is the trigger's path the key was read at (NULL when unkeyed): ingestion compares a
call's value at that path with the key to decide whether the call signals the enrollment, and it reads
both with the customer's ACTIVE enrollments, in the one query it makes.

Adding a NOT NULL column with a constant default rewrites no rows; the unique index is rebuilt.
Downgrading fails while a customer has two keyed enrollments with the same entry number in a journey.

Revision ID: 0012
Revises: 0011
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("enrollments", sa.Column("entry_key", sa.Text(), nullable=False, server_default=""))
    op.add_column("enrollments", sa.Column("entry_key_path", sa.Text()))
    op.drop_constraint("uq_enrollments_entry", "enrollments", type_="unique")
    op.create_unique_constraint(
        "uq_enrollments_entry",
        "enrollments",
        ["tenant_id", "journey_id", "customer_id", "entry_key", "entry_number"],
    )


def downgrade() -> None:
    op.drop_constraint("uq_enrollments_entry", "enrollments", type_="unique")
    op.create_unique_constraint(
        "uq_enrollments_entry", "enrollments", ["tenant_id", "journey_id", "customer_id", "entry_number"]
    )
    op.drop_column("enrollments", "entry_key_path")
    op.drop_column("enrollments", "entry_key")
