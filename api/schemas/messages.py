"""Delivery log entries."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import TYPE_CHECKING

from api.schemas.common import ApiModel

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
            provider_message_id=row.provider_message_id,
            created_at=row.created_at,
            sent_at=row.sent_at,
        )
