"""ORM rows. The schema itself is owned by the Alembic migrations in `store/migrations`."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, Boolean, DateTime, ForeignKey, Integer, String, Text, func
from sqlalchemy.dialects.postgresql import JSONB, UUID
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Row(DeclarativeBase):
    pass


class JourneyRow(Row):
    __tablename__ = "journeys"

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str | None] = mapped_column(Text)
    site_id: Mapped[str | None] = mapped_column(String(128))
    status: Mapped[str] = mapped_column(String(16))
    trigger_type: Mapped[str | None] = mapped_column(String(16))
    draft: Mapped[dict[str, Any]] = mapped_column(JSONB)
    version: Mapped[int] = mapped_column(Integer, default=0)
    published_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    pause_mode: Mapped[str | None] = mapped_column(String(8))
    status_changed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class JourneyVersionRow(Row):
    __tablename__ = "journey_versions"

    journey_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("journeys.id", ondelete="CASCADE"), primary_key=True
    )
    version: Mapped[int] = mapped_column(Integer, primary_key=True)
    tenant_id: Mapped[str] = mapped_column(String(64))
    definition: Mapped[dict[str, Any]] = mapped_column(JSONB)
    published_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class CustomerRow(Row):
    __tablename__ = "customers"

    tenant_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    id: Mapped[str] = mapped_column(String(256), primary_key=True)
    traits: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict)
    identifiers: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class EnrollmentRow(Row):
    __tablename__ = "enrollments"

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(String(64))
    journey_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("journeys.id", ondelete="CASCADE")
    )
    version: Mapped[int] = mapped_column(Integer)
    customer_id: Mapped[str] = mapped_column(String(256))
    entry_number: Mapped[int] = mapped_column(Integer)
    workflow_id: Mapped[str] = mapped_column(String(400))
    status: Mapped[str] = mapped_column(String(16))
    converted: Mapped[bool] = mapped_column(Boolean, default=False)
    current_step_id: Mapped[str | None] = mapped_column(String(64))
    waiting_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    enrolled_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    completed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    exit_reason: Mapped[str | None] = mapped_column(Text)
    converted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    entry_message_id: Mapped[str | None] = mapped_column(String(200))
    # Keyed entries (migration 0012): the key value ('' when unkeyed) and the trigger path it was read at.
    entry_key: Mapped[str] = mapped_column(Text, server_default="")
    entry_key_path: Mapped[str | None] = mapped_column(Text)
    # A test customer's run (migration 0018): kept out of totals, analytics, aggregates and entry rules.
    test: Mapped[bool] = mapped_column(Boolean, server_default="false", default=False)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class EnrollmentStepRow(Row):
    __tablename__ = "enrollment_steps"

    enrollment_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("enrollments.id", ondelete="CASCADE"), primary_key=True
    )
    node_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    visit: Mapped[int] = mapped_column(Integer, primary_key=True)
    tenant_id: Mapped[str] = mapped_column(String(64))
    node_type: Mapped[str] = mapped_column(String(32))
    name: Mapped[str] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(16))
    branch: Mapped[str | None] = mapped_column(String(64))
    detail: Mapped[str | None] = mapped_column(Text)
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    completed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # How the step decided, or what it waited on (`domain.rules.StepDecision` as JSON); see migration 0014.
    decision: Mapped[dict[str, Any] | None] = mapped_column(JSONB)


class MessageRow(Row):
    __tablename__ = "messages"

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(String(64))
    idempotency_key: Mapped[str] = mapped_column(String(400))
    journey_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    enrollment_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    node_id: Mapped[str | None] = mapped_column(String(64))
    customer_id: Mapped[str | None] = mapped_column(String(256))
    channel: Mapped[str] = mapped_column(String(16))
    recipient: Mapped[str | None] = mapped_column(Text)
    subject: Mapped[str | None] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16))
    error: Mapped[str | None] = mapped_column(Text)
    provider_message_id: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    sent_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # Why it was suppressed: unsubscribed, not_opted_in, bounced, complained, frequency_cap.
    reason: Mapped[str | None] = mapped_column(String(32))
    subscription_group_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    transactional: Mapped[bool] = mapped_column(Boolean, server_default="false")


class TemplateRow(Row):
    __tablename__ = "templates"

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(200))
    channel: Mapped[str] = mapped_column(String(16))
    subject: Mapped[str | None] = mapped_column(Text)
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class ProfileUpdateLogRow(Row):
    """One applied UPDATE step, so a retried activity never applies it twice."""

    __tablename__ = "profile_update_log"

    tenant_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    idempotency_key: Mapped[str] = mapped_column(String(400), primary_key=True)
    customer_id: Mapped[str] = mapped_column(String(256))
    applied_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class ActionTargetRow(Row):
    """Where a SEND goes: a webhook endpoint or a provider account, with its settings."""

    __tablename__ = "action_targets"

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(200))
    channel: Mapped[str] = mapped_column(String(16))
    settings: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict)
    service_level: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    short_abandon_threshold: Mapped[int | None] = mapped_column(Integer)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    disabled_reason: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class InboxMessageRow(Row):
    """One in-app message in a customer's inbox (an IN_APP send), read or not."""

    __tablename__ = "inbox_messages"

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(String(64))
    customer_id: Mapped[str] = mapped_column(String(256))
    journey_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    enrollment_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    node_id: Mapped[str | None] = mapped_column(String(64))
    idempotency_key: Mapped[str] = mapped_column(String(400))
    content_id: Mapped[str | None] = mapped_column(Text)
    content_type: Mapped[str | None] = mapped_column(Text)
    subject: Mapped[str | None] = mapped_column(Text)
    body: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    read_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class EventRow(Row):
    """One accepted customer event (append-only); `outcome` is the first answer, kept for resends."""

    __tablename__ = "events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)  # a BIGINT identity in the schema
    tenant_id: Mapped[str] = mapped_column(String(64))
    message_id: Mapped[str] = mapped_column(String(200))
    type: Mapped[str] = mapped_column(String(16))
    customer_id: Mapped[str] = mapped_column(String(256))
    user_id: Mapped[str | None] = mapped_column(String(256))
    anonymous_id: Mapped[str | None] = mapped_column(String(256))
    session_id: Mapped[str | None] = mapped_column(String(256))
    name: Mapped[str] = mapped_column(String(200))
    properties: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict)
    traits: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict)
    context: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict)
    timestamp: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    received_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    outcome: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    source_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    # Segment fields the engine does not read (integrations, sentAt, originalTimestamp, _metadata, …).
    extra: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict)


class CustomerIdentifierRow(Row):
    """One way to recognise a customer: userId, anonymousId, email, phone, cookie, externalContactId."""

    __tablename__ = "customer_identifiers"

    tenant_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    kind: Mapped[str] = mapped_column(String(32), primary_key=True)
    value: Mapped[str] = mapped_column(String(256), primary_key=True)
    customer_id: Mapped[str] = mapped_column(String(256))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class SegmentRow(Row):
    """A segment (Genesys JourneySegment): who belongs is decided by event patterns or by the API."""

    __tablename__ = "segments"

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(String(64))
    display_name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str | None] = mapped_column(Text)
    color: Mapped[str | None] = mapped_column(String(16))
    scope: Mapped[str] = mapped_column(String(16))
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    version: Mapped[int] = mapped_column(Integer, default=1)
    should_display_to_agent: Mapped[bool] = mapped_column(Boolean, default=False)
    context: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict)
    journey: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict)
    assignment_expiration_days: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class SegmentAssignmentRow(Row):
    """A customer's (or a session's) membership of a segment; expired reads as Unassigned."""

    __tablename__ = "segment_assignments"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)  # a BIGINT identity in the schema
    tenant_id: Mapped[str] = mapped_column(String(64))
    segment_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("segments.id", ondelete="CASCADE")
    )
    customer_id: Mapped[str] = mapped_column(String(256))
    session_id: Mapped[str | None] = mapped_column(String(256))
    state: Mapped[str] = mapped_column(String(16))
    assigned_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    expiration_date: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class _StepCounters:
    """What both rollup grains hold per cell: the key but its time bucket, and the exact counters."""

    tenant_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    journey_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    version: Mapped[int] = mapped_column(Integer, primary_key=True)
    node_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    node_type: Mapped[str] = mapped_column(String(32), primary_key=True)
    status: Mapped[str] = mapped_column(String(16), primary_key=True)
    branch: Mapped[str] = mapped_column(String(64), primary_key=True)
    count: Mapped[int] = mapped_column(BigInteger, default=0)
    duration_count: Mapped[int] = mapped_column(BigInteger, default=0)
    duration_sum_ms: Mapped[int] = mapped_column(BigInteger, default=0)
    duration_min_ms: Mapped[int | None] = mapped_column(BigInteger)
    duration_max_ms: Mapped[int | None] = mapped_column(BigInteger)


class StepRollupRow(_StepCounters, Row):
    """Exact step counters per (journey, version, node, UTC hour, status, branch); see migration 0007."""

    __tablename__ = "step_rollups"

    bucket_hour: Mapped[datetime] = mapped_column(DateTime(timezone=True), primary_key=True)


class StepRollupDailyRow(_StepCounters, Row):
    """The `step_rollups` cells summed per UTC day (migration 0011): same key, `bucket_day` for the hour."""

    __tablename__ = "step_rollups_daily"

    bucket_day: Mapped[datetime] = mapped_column(DateTime(timezone=True), primary_key=True)


class AuditRow(Row):
    """One mutating /v1 request by an authenticated caller: who, what, the outcome; see migration 0009."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)  # a BIGINT identity in the schema
    tenant_id: Mapped[str] = mapped_column(String(64))
    subject: Mapped[str] = mapped_column(String(256))
    method: Mapped[str] = mapped_column(String(16))
    path: Mapped[str] = mapped_column(String(2048))
    status_code: Mapped[int] = mapped_column(Integer)
    request_id: Mapped[str] = mapped_column(String(128))
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    # What the request asked for when the path does not say it (an enrollment action); see migration 0015.
    detail: Mapped[dict[str, Any] | None] = mapped_column(JSONB, nullable=True)


class SourceRow(Row):
    """An event source: its write key is stored only as a SHA-256 hash."""

    __tablename__ = "sources"

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(200))
    key_hash: Mapped[str] = mapped_column(String(64))
    key_hint: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class EventRejectionRow(Row):
    """An event of a batch that was skipped, and why."""

    __tablename__ = "event_rejections"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    tenant_id: Mapped[str] = mapped_column(String(64))
    source_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    batch_index: Mapped[int] = mapped_column(Integer)
    message_id: Mapped[str | None] = mapped_column(String(200))
    code: Mapped[str] = mapped_column(String(32))
    reason: Mapped[str] = mapped_column(Text)
    excerpt: Mapped[str] = mapped_column(Text)
    received_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class OutboxRow(Row):
    """A workflow start or signal an event caused, waiting for (or done by) the dispatcher."""

    __tablename__ = "dispatch_outbox"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    tenant_id: Mapped[str] = mapped_column(String(64))
    customer_id: Mapped[str] = mapped_column(String(256))
    kind: Mapped[str] = mapped_column(String(16))
    workflow_id: Mapped[str] = mapped_column(String(400))
    request_id: Mapped[str] = mapped_column(String(300))
    payload: Mapped[dict[str, Any]] = mapped_column(JSONB)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    available_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    dispatched_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    failed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    outcome: Mapped[str | None] = mapped_column(String(16))


class SubscriptionGroupRow(Row):
    __tablename__ = "subscription_groups"

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(200))
    channel: Mapped[str] = mapped_column(String(16))
    type: Mapped[str] = mapped_column(String(8))  # OPT_IN | OPT_OUT
    is_default: Mapped[bool] = mapped_column(Boolean, server_default="false")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class CustomerSubscriptionRow(Row):
    __tablename__ = "customer_subscriptions"

    tenant_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    customer_id: Mapped[str] = mapped_column(String(256), primary_key=True)
    group_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("subscription_groups.id", ondelete="CASCADE"), primary_key=True
    )
    subscribed: Mapped[bool] = mapped_column(Boolean)
    source: Mapped[str] = mapped_column(String(32))  # api | identify | unsubscribe_link | preferences
    changed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class SuppressionRow(Row):
    __tablename__ = "suppressions"

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(String(64))
    channel: Mapped[str] = mapped_column(String(16))
    address: Mapped[str] = mapped_column(Text)  # normalized (an email: as `_recipient` normalizes it)
    reason: Mapped[str] = mapped_column(String(32))  # bounced | complained
    message_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    detail: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class DeliveryEventRow(Row):
    __tablename__ = "delivery_events"

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(String(64))
    dedupe_key: Mapped[str] = mapped_column(String(400))
    type: Mapped[str] = mapped_column(String(16))  # bounce | complaint | delivered | opened | clicked
    message_id: Mapped[uuid.UUID | None] = mapped_column(
        UUID(as_uuid=True), ForeignKey("messages.id", ondelete="SET NULL")
    )
    journey_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    node_id: Mapped[str | None] = mapped_column(String(64))
    outcome: Mapped[str] = mapped_column(String(200))
    occurred_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    received_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class TenantSettingsRow(Row):
    __tablename__ = "tenant_settings"

    tenant_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    delivery_events_secret: Mapped[str | None] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class MigrationRow(Row):
    """A migration of a journey's in-flight enrollments between versions; see migration 0016."""

    __tablename__ = "journey_migrations"

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(String(64))
    journey_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("journeys.id", ondelete="CASCADE")
    )
    from_version: Mapped[int] = mapped_column(Integer)
    to_version: Mapped[int] = mapped_column(Integer)
    node_map: Mapped[dict[str, str]] = mapped_column(JSONB)
    status: Mapped[str] = mapped_column(String(16))  # RUNNING | COMPLETED | FAILED
    moved: Mapped[int] = mapped_column(Integer, default=0)
    skipped: Mapped[int] = mapped_column(Integer, default=0)
    failed: Mapped[int] = mapped_column(Integer, default=0)
    subject: Mapped[str] = mapped_column(String(256))  # who asked (the token's subject)
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    completed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class SimulationRow(Row):
    """A simulation of a journey over a cohort: the request and, once played, its result; see 0017."""

    __tablename__ = "simulations"

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(String(64))
    journey_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
    version: Mapped[int | None] = mapped_column(Integer)  # None: the draft
    request: Mapped[dict[str, Any]] = mapped_column(JSONB)
    status: Mapped[str] = mapped_column(String(16))  # RUNNING | COMPLETED | FAILED
    customers: Mapped[int] = mapped_column(Integer)
    result: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    completed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
