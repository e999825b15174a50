"""In-app inbox, and the index frequency caps count on.

`inbox_messages`: one row per IN_APP send (unique per tenant and idempotency key, so a retried send
writes once), read or unread. `ix_messages_tenant_customer_created`: a customer's recent messages, which
the send activity counts against the journey's frequency caps (and the delivery log filters on).

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import UUID

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "inbox_messages",
        sa.Column("id", UUID(as_uuid=True), primary_key=True),
        sa.Column("tenant_id", sa.String(64), nullable=False),
        sa.Column("customer_id", sa.String(256), nullable=False),
        sa.Column("journey_id", UUID(as_uuid=True)),
        sa.Column("enrollment_id", UUID(as_uuid=True)),
        sa.Column("node_id", sa.String(64)),
        sa.Column("idempotency_key", sa.String(400), nullable=False),
        sa.Column("content_id", sa.Text()),
        sa.Column("content_type", sa.Text()),
        sa.Column("subject", sa.Text()),
        sa.Column("body", sa.Text()),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.Column("read_at", sa.DateTime(timezone=True)),
        sa.UniqueConstraint("tenant_id", "idempotency_key", name="uq_inbox_messages_idempotency_key"),
    )
    op.create_index(
        "ix_inbox_messages_tenant_customer_created",
        "inbox_messages",
        ["tenant_id", "customer_id", "created_at"],
    )
    op.create_index(
        "ix_messages_tenant_customer_created", "messages", ["tenant_id", "customer_id", "created_at"]
    )


def downgrade() -> None:
    op.drop_index("ix_messages_tenant_customer_created", table_name="messages")
    op.drop_index("ix_inbox_messages_tenant_customer_created", table_name="inbox_messages")
    op.drop_table("inbox_messages")
