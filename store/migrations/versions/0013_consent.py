"""Consent and compliant delivery: subscription groups, customers' subscriptions, the suppression list,
delivery events from providers, per-tenant delivery settings, and why a message was suppressed.

- `subscription_groups`: per tenant and channel, OPT_IN or OPT_OUT; at most one default per channel
  (the group a SEND that names none falls in), enforced by a partial unique index.
- `customer_subscriptions`: a customer's explicit state in a group (absent = the group's type decides:
  OPT_OUT sends, OPT_IN does not), with when and by what it changed (`source`).
- `suppressions`: addresses no message goes to (hard bounce, complaint), one row per (tenant, channel,
  address); operators lift them by `id` (an address never travels in a URL).
- `delivery_events`: what providers reported about a message (bounce, complaint, delivered, opened,
  clicked), deduplicated per tenant by `dedupe_key`; an event for an unknown message is kept with
  `message_id` NULL and `outcome` saying it was ignored.
- `tenant_settings`: the per-tenant secret delivery events are signed with.
- `messages.reason`: the machine-readable reason a message was suppressed (`unsubscribed`,
  `not_opted_in`, `bounced`, `complained`, `frequency_cap`), filterable; `messages.subscription_group_id`:
  the group the send was judged under (NULL for transactional sends and channels without groups);
  `messages.transactional`: the send bypassed groups (a receipt, a password reset), shown as such.

Revision ID: 0013
Revises: 0012
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import UUID

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "subscription_groups",
        sa.Column("id", UUID(as_uuid=True), primary_key=True),
        sa.Column("tenant_id", sa.String(64), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("channel", sa.String(16), nullable=False),
        sa.Column("type", sa.String(8), nullable=False),
        sa.Column("is_default", sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.UniqueConstraint("tenant_id", "name", name="uq_subscription_groups_name"),
    )
    op.create_index(
        "uq_subscription_groups_default",
        "subscription_groups",
        ["tenant_id", "channel"],
        unique=True,
        postgresql_where=sa.text("is_default"),
    )
    op.create_table(
        "customer_subscriptions",
        sa.Column("tenant_id", sa.String(64), primary_key=True),
        sa.Column("customer_id", sa.String(256), primary_key=True),
        sa.Column(
            "group_id",
            UUID(as_uuid=True),
            sa.ForeignKey("subscription_groups.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("subscribed", sa.Boolean(), nullable=False),
        sa.Column("source", sa.String(32), nullable=False),
        sa.Column("changed_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
    )
    op.create_index("ix_customer_subscriptions_group", "customer_subscriptions", ["group_id"])
    op.create_table(
        "suppressions",
        sa.Column("id", UUID(as_uuid=True), primary_key=True),
        sa.Column("tenant_id", sa.String(64), nullable=False),
        sa.Column("channel", sa.String(16), nullable=False),
        sa.Column("address", sa.Text(), nullable=False),
        sa.Column("reason", sa.String(32), nullable=False),
        sa.Column("message_id", UUID(as_uuid=True)),
        sa.Column("detail", sa.Text()),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.UniqueConstraint("tenant_id", "channel", "address", name="uq_suppressions_address"),
    )
    op.create_table(
        "delivery_events",
        sa.Column("id", UUID(as_uuid=True), primary_key=True),
        sa.Column("tenant_id", sa.String(64), nullable=False),
        sa.Column("dedupe_key", sa.String(400), nullable=False),
        sa.Column("type", sa.String(16), nullable=False),
        sa.Column("message_id", UUID(as_uuid=True), sa.ForeignKey("messages.id", ondelete="SET NULL")),
        sa.Column("journey_id", UUID(as_uuid=True)),
        sa.Column("node_id", sa.String(64)),
        sa.Column("outcome", sa.String(200), nullable=False),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.UniqueConstraint("tenant_id", "dedupe_key", name="uq_delivery_events_dedupe"),
    )
    op.create_index(
        "ix_delivery_events_journey", "delivery_events", ["tenant_id", "journey_id", "occurred_at"]
    )
    op.create_table(
        "tenant_settings",
        sa.Column("tenant_id", sa.String(64), primary_key=True),
        sa.Column("delivery_events_secret", sa.Text()),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
    )
    op.add_column("messages", sa.Column("reason", sa.String(32)))
    op.add_column("messages", sa.Column("subscription_group_id", UUID(as_uuid=True)))
    op.add_column(
        "messages", sa.Column("transactional", sa.Boolean(), nullable=False, server_default=sa.false())
    )
    op.create_index(
        "ix_messages_reason",
        "messages",
        ["tenant_id", "reason"],
        postgresql_where=sa.text("reason IS NOT NULL"),
    )
    # Delivery events name a message by the provider's id (an email's Message-ID).
    op.create_index("ix_messages_provider_message_id", "messages", ["tenant_id", "provider_message_id"])


def downgrade() -> None:
    op.drop_index("ix_messages_provider_message_id", table_name="messages")
    op.drop_index("ix_messages_reason", table_name="messages")
    op.drop_column("messages", "transactional")
    op.drop_column("messages", "subscription_group_id")
    op.drop_column("messages", "reason")
    op.drop_table("tenant_settings")
    op.drop_index("ix_delivery_events_journey", table_name="delivery_events")
    op.drop_table("delivery_events")
    op.drop_table("suppressions")
    op.drop_index("ix_customer_subscriptions_group", table_name="customer_subscriptions")
    op.drop_table("customer_subscriptions")
    op.drop_index("uq_subscription_groups_default", table_name="subscription_groups")
    op.drop_table("subscription_groups")
