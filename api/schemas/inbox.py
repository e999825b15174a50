"""In-app inbox messages as the API shows them."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import TYPE_CHECKING

from api.schemas.common import ApiModel

if TYPE_CHECKING:
    from store.rows import InboxMessageRow


class InboxMessageOut(ApiModel):
    id: uuid.UUID
    customer_id: str
    journey_id: uuid.UUID | None
    enrollment_id: uuid.UUID | None
    node_id: str | None
    content_id: str | None
    content_type: str | None
    subject: str | None
    body: str | None
    created_at: datetime
    read_at: datetime | None

    @classmethod
    def build(cls, row: InboxMessageRow) -> InboxMessageOut:
        return cls(
            id=row.id,
            customer_id=row.customer_id,
            journey_id=row.journey_id,
            enrollment_id=row.enrollment_id,
            node_id=row.node_id,
            content_id=row.content_id,
            content_type=row.content_type,
            subject=row.subject,
            body=row.body,
            created_at=row.created_at,
            read_at=row.read_at,
        )
