"""Events, customer identifiers, segments and segment assignments.

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB, UUID

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Append-only: one row per accepted event; `outcome` is the first answer, returned again on a resend.
    op.create_table(
        "events",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), primary_key=True),
        sa.Column("tenant_id", sa.String(64), nullable=False),
        sa.Column("message_id", sa.String(200), nullable=False),
        sa.Column("type", sa.String(16), nullable=False),
        sa.Column("customer_id", sa.String(256), nullable=False),
        sa.Column("user_id", sa.String(256)),
        sa.Column("anonymous_id", sa.String(256)),
        sa.Column("session_id", sa.String(256)),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("properties", JSONB(), nullable=False, server_default="{}"),
        sa.Column("traits", JSONB(), nullable=False, server_default="{}"),
        sa.Column("context", JSONB(), nullable=False, server_default="{}"),
        sa.Column("timestamp", sa.DateTime(timezone=True), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.Column("outcome", JSONB()),
        sa.UniqueConstraint("tenant_id", "message_id", name="uq_events_message_id"),
    )
    op.create_index("ix_events_customer_received", "events", ["tenant_id", "customer_id", "received_at"])
    op.create_index("ix_events_customer_name", "events", ["tenant_id", "customer_id", "name", "id"])

    op.create_table(
        "customer_identifiers",
        sa.Column("tenant_id", sa.String(64), primary_key=True),
        sa.Column("kind", sa.String(32), primary_key=True),
        sa.Column("value", sa.String(256), primary_key=True),
        sa.Column("customer_id", sa.String(256), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.CheckConstraint(
            "kind IN ('userId', 'anonymousId', 'email', 'phone', 'cookie', 'externalContactId')",
            name="ck_customer_identifiers_kind",
        ),
    )
    op.create_index("ix_customer_identifiers_customer", "customer_identifiers", ["tenant_id", "customer_id"])

    op.create_table(
        "segments",
        sa.Column("id", UUID(as_uuid=True), primary_key=True),
        sa.Column("tenant_id", sa.String(64), nullable=False),
        sa.Column("display_name", sa.String(200), nullable=False),
        sa.Column("description", sa.Text()),
        sa.Column("color", sa.String(16)),
        sa.Column("scope", sa.String(16), nullable=False),
        sa.Column("is_active", sa.Boolean(), nullable=False, server_default=sa.true()),
        sa.Column("version", sa.Integer(), nullable=False, server_default="1"),
        sa.Column("should_display_to_agent", sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.Column("context", JSONB(), nullable=False, server_default='{"patterns": []}'),
        sa.Column("journey", JSONB(), nullable=False, server_default='{"patterns": []}'),
        sa.Column("assignment_expiration_days", sa.Integer()),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.CheckConstraint("scope IN ('Session', 'Customer')", name="ck_segments_scope"),
    )
    op.create_index("ix_segments_tenant_created", "segments", ["tenant_id", "created_at"])

    op.create_table(
        "segment_assignments",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), primary_key=True),
        sa.Column("tenant_id", sa.String(64), nullable=False),
        sa.Column(
            "segment_id",
            UUID(as_uuid=True),
            sa.ForeignKey("segments.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("customer_id", sa.String(256), nullable=False),
        sa.Column("session_id", sa.String(256)),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("assigned_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expiration_date", sa.DateTime(timezone=True)),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.CheckConstraint("state IN ('Assigned', 'Unassigned')", name="ck_segment_assignments_state"),
    )
    # One assignment per (segment, customer) for customer scope, per (segment, customer, session) else.
    op.create_index(
        "uq_segment_assignments_customer",
        "segment_assignments",
        ["tenant_id", "segment_id", "customer_id"],
        unique=True,
        postgresql_where=sa.text("session_id IS NULL"),
    )
    op.create_index(
        "uq_segment_assignments_session",
        "segment_assignments",
        ["tenant_id", "segment_id", "customer_id", "session_id"],
        unique=True,
        postgresql_where=sa.text("session_id IS NOT NULL"),
    )
    op.create_index(
        "ix_segment_assignments_customer", "segment_assignments", ["tenant_id", "customer_id", "id"]
    )
    op.create_index(
        "ix_segment_assignments_session",
        "segment_assignments",
        ["tenant_id", "session_id", "id"],
        postgresql_where=sa.text("session_id IS NOT NULL"),
    )
    op.create_index(
        "ix_segment_assignments_members",
        "segment_assignments",
        ["tenant_id", "segment_id", "state", "customer_id"],
    )


def downgrade() -> None:
    op.drop_table("segment_assignments")
    op.drop_table("segments")
    op.drop_table("customer_identifiers")
    op.drop_table("events")
