"""Delivery log entries."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import TYPE_CHECKING

from pydantic import Field

from api.schemas.common import ApiModel
from domain.consent import SuppressionReason as SuppressionReason

if TYPE_CHECKING:
    from store.rows import MessageRow


class MessageOut(ApiModel):
    id: uuid.UUID
    idempotency_key: str
    journey_id: uuid.UUID | None
    enrollment_id: uuid.UUID | None
    node_id: str | None
    customer_id: str | None
    channel: str
    recipient: str | None
    subject: str | None
    status: str
    error: str | None
    reason: str | None = Field(
        description="Why a suppressed message was not sent: unsubscribed, not_opted_in (an OPT_IN group "
        "the customer has not joined), bounced, complained (the address is on the suppression list), "
        "frequency_cap; null otherwise"
    )
    subscription_group_id: uuid.UUID | None = Field(
        description="The subscription group the send was judged under; null for a transactional send "
        "(and a WEBHOOK send naming none)"
    )
    transactional: bool = Field(
        description="A transactional send (a receipt, a password reset): outside subscription groups, "
        "no unsubscribe link"
    )
    provider_message_id: str | None
    created_at: datetime
    sent_at: datetime | None

    @classmethod
    def build(cls, row: MessageRow) -> MessageOut:
        return cls(
            id=row.id,
            idempotency_key=row.idempotency_key,
            journey_id=row.journey_id,
            enrollment_id=row.enrollment_id,
            node_id=row.node_id,
            customer_id=row.customer_id,
            channel=row.channel,
            recipient=row.recipient,
            subject=row.subject,
            status=row.status,
            error=row.error,
            reason=row.reason,
            subscription_group_id=row.subscription_group_id,
            transactional=row.transactional,
            provider_message_id=row.provider_message_id,
            created_at=row.created_at,
            sent_at=row.sent_at,
        )
