"""Initial schema: journeys and versions, customers, enrollments and step history, messages, templates.

Revision ID: 0001
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB, UUID

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def _timestamps() -> list[sa.Column[object]]:
    return [
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
    ]


def upgrade() -> None:
    op.create_table(
        "journeys",
        sa.Column("id", UUID(as_uuid=True), primary_key=True),
        sa.Column("tenant_id", sa.String(64), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("description", sa.Text()),
        sa.Column("site_id", sa.String(128)),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("trigger_type", sa.String(16)),
        sa.Column("draft", JSONB(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("published_at", sa.DateTime(timezone=True)),
        *_timestamps(),
    )
    op.create_index("ix_journeys_tenant_status", "journeys", ["tenant_id", "status"])
    op.create_index("ix_journeys_tenant_created", "journeys", ["tenant_id", "created_at"])

    op.create_table(
        "journey_versions",
        sa.Column(
            "journey_id",
            UUID(as_uuid=True),
            sa.ForeignKey("journeys.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("version", sa.Integer(), primary_key=True),
        sa.Column("tenant_id", sa.String(64), nullable=False),
        sa.Column("definition", JSONB(), nullable=False),
        sa.Column("published_at", sa.DateTime(timezone=True), nullable=False),
    )

    op.create_table(
        "customers",
        sa.Column("tenant_id", sa.String(64), primary_key=True),
        sa.Column("id", sa.String(256), primary_key=True),
        sa.Column("traits", JSONB(), nullable=False, server_default="{}"),
        sa.Column("identifiers", JSONB(), nullable=False, server_default="{}"),
        *_timestamps(),
    )

    op.create_table(
        "enrollments",
        sa.Column("id", UUID(as_uuid=True), primary_key=True),
        sa.Column("tenant_id", sa.String(64), nullable=False),
        sa.Column(
            "journey_id",
            UUID(as_uuid=True),
            sa.ForeignKey("journeys.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("customer_id", sa.String(256), nullable=False),
        sa.Column("entry_number", sa.Integer(), nullable=False),
        sa.Column("workflow_id", sa.String(400), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("converted", sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.Column("current_step_id", sa.String(64)),
        sa.Column("waiting_until", sa.DateTime(timezone=True)),
        sa.Column("enrolled_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("completed_at", sa.DateTime(timezone=True)),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.UniqueConstraint(
            "tenant_id", "journey_id", "customer_id", "entry_number", name="uq_enrollments_entry"
        ),
    )
    op.create_index("ix_enrollments_journey_status", "enrollments", ["tenant_id", "journey_id", "status"])
    op.create_index("ix_enrollments_customer", "enrollments", ["tenant_id", "customer_id"])

    op.create_table(
        "enrollment_steps",
        sa.Column(
            "enrollment_id",
            UUID(as_uuid=True),
            sa.ForeignKey("enrollments.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("node_id", sa.String(64), primary_key=True),
        sa.Column("visit", sa.Integer(), primary_key=True),
        sa.Column("tenant_id", sa.String(64), nullable=False),
        sa.Column("node_type", sa.String(32), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("branch", sa.String(64)),
        sa.Column("detail", sa.Text()),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("completed_at", sa.DateTime(timezone=True)),
    )

    op.create_table(
        "messages",
        sa.Column("id", UUID(as_uuid=True), primary_key=True),
        sa.Column("tenant_id", sa.String(64), nullable=False),
        sa.Column("idempotency_key", sa.String(400), nullable=False),
        sa.Column("journey_id", UUID(as_uuid=True)),
        sa.Column("enrollment_id", UUID(as_uuid=True)),
        sa.Column("node_id", sa.String(64)),
        sa.Column("customer_id", sa.String(256)),
        sa.Column("channel", sa.String(16), nullable=False),
        sa.Column("recipient", sa.Text()),
        sa.Column("subject", sa.Text()),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("error", sa.Text()),
        sa.Column("provider_message_id", sa.Text()),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.Column("sent_at", sa.DateTime(timezone=True)),
        sa.UniqueConstraint("tenant_id", "idempotency_key", name="uq_messages_idempotency_key"),
    )
    op.create_index("ix_messages_tenant_created", "messages", ["tenant_id", "created_at"])

    op.create_table(
        "templates",
        sa.Column("id", UUID(as_uuid=True), primary_key=True),
        sa.Column("tenant_id", sa.String(64), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("channel", sa.String(16), nullable=False),
        sa.Column("subject", sa.Text()),
        sa.Column("body", sa.Text(), nullable=False),
        *_timestamps(),
    )
    op.create_index("ix_templates_tenant", "templates", ["tenant_id", "created_at"])


def downgrade() -> None:
    for table in (
        "templates",
        "messages",
        "enrollment_steps",
        "enrollments",
        "customers",
        "journey_versions",
        "journeys",
    ):
        op.drop_table(table)
