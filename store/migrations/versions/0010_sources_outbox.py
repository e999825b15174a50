"""Event sources (write keys), rejected events, the dispatch outbox, and what events keep.

Revision ID: 0010
Revises: 0009
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB, UUID

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # A source's write key is shown once; only its SHA-256 is kept (the key is 256 random bits).
    op.create_table(
        "sources",
        sa.Column("id", UUID(as_uuid=True), primary_key=True),
        sa.Column("tenant_id", sa.String(64), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("key_hash", sa.String(64), nullable=False, unique=True),
        sa.Column("key_hint", sa.String(16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.Column("revoked_at", sa.DateTime(timezone=True)),
    )
    op.create_index("ix_sources_tenant", "sources", ["tenant_id", "created_at"])

    # Events of a batch that were skipped, with the reason, for the source's operator to read.
    op.create_table(
        "event_rejections",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), primary_key=True),
        sa.Column("tenant_id", sa.String(64), nullable=False),
        sa.Column("source_id", UUID(as_uuid=True)),
        sa.Column("batch_index", sa.Integer(), nullable=False),
        sa.Column("message_id", sa.String(200)),
        sa.Column("code", sa.String(32), nullable=False),  # too_deep, missing_event, … (the metric label)
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("excerpt", sa.Text(), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
    )
    op.create_index("ix_event_rejections_source", "event_rejections", ["tenant_id", "source_id", "id"])

    # Events keep the Segment fields the engine does not read (integrations, sentAt, _metadata, …).
    op.add_column("events", sa.Column("source_id", UUID(as_uuid=True)))
    op.add_column("events", sa.Column("extra", JSONB(), nullable=False, server_default="{}"))
    # The event an enrollment entered with: a lost workflow is restarted with it (the reconciler).
    op.add_column("enrollments", sa.Column("entry_message_id", sa.String(200)))

    # Workflow starts and signals events cause, written in the event's transaction, drained by the
    # dispatcher in id order per customer.
    op.create_table(
        "dispatch_outbox",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), primary_key=True),
        sa.Column("tenant_id", sa.String(64), nullable=False),
        sa.Column("customer_id", sa.String(256), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("workflow_id", sa.String(400), nullable=False),
        sa.Column("request_id", sa.String(300), nullable=False),
        sa.Column("payload", JSONB(), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            nullable=False,
            server_default=sa.text("clock_timestamp()"),
        ),
        sa.Column("available_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.Column("attempts", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("last_error", sa.Text()),
        sa.Column("dispatched_at", sa.DateTime(timezone=True)),
        sa.Column("failed_at", sa.DateTime(timezone=True)),
        sa.Column("outcome", sa.String(16)),
    )
    op.create_index(
        "ix_dispatch_outbox_pending",
        "dispatch_outbox",
        ["id"],
        postgresql_where=sa.text("dispatched_at IS NULL AND failed_at IS NULL"),
    )
    op.create_index(
        "ix_dispatch_outbox_customer_pending",
        "dispatch_outbox",
        ["tenant_id", "customer_id", "id"],
        postgresql_where=sa.text("dispatched_at IS NULL AND failed_at IS NULL"),
    )
    op.create_index("ix_dispatch_outbox_workflow", "dispatch_outbox", ["workflow_id", "id"])


def downgrade() -> None:
    op.drop_table("dispatch_outbox")
    op.drop_column("enrollments", "entry_message_id")
    op.drop_column("events", "extra")
    op.drop_column("events", "source_id")
    op.drop_table("event_rejections")
    op.drop_table("sources")
