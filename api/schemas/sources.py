"""Event sources, their refused events, and the tracking API's answer."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import TYPE_CHECKING

from pydantic import Field

from api.schemas.common import ApiModel

if TYPE_CHECKING:
    from services.sources import CreatedSource
    from services.tracking import RejectedCall, TrackingResult
    from store.rows import EventRejectionRow, SourceRow


class SourceCreate(ApiModel):
    name: str = Field(min_length=1, max_length=200, description="What sends through it (a site, an app)")


class SourceOut(ApiModel):
    id: uuid.UUID
    name: str
    key_hint: str = Field(description="The write key's first characters, to recognise it; never the key")
    created_at: datetime
    revoked_at: datetime | None = Field(description="Set when the source was revoked: its key is refused")

    @classmethod
    def build(cls, row: SourceRow) -> SourceOut:
        return cls(
            id=row.id,
            name=row.name,
            key_hint=row.key_hint,
            created_at=row.created_at,
            revoked_at=row.revoked_at,
        )


class SourceCreated(SourceOut):
    write_key: str = Field(
        description="The write key: shown this once, stored only as a hash. Send it as the HTTP Basic "
        "user name (empty password) to the tracking routes (/v1/batch, /v1/track, …)."
    )

    @classmethod
    def of(cls, created: CreatedSource) -> SourceCreated:
        return cls(**SourceOut.build(created.row).model_dump(), write_key=created.write_key)


class RejectionOut(ApiModel):
    id: int
    index: int = Field(description="The event's position in its request (0 for a single call)")
    message_id: str | None
    code: str = Field(description="too_deep, non_finite_number, missing_event, unknown_type, …")
    reason: str = Field(description="What was wrong, naming the field")
    excerpt: str = Field(description="The event as received, cut to ~2 KB, without its write key")
    received_at: datetime

    @classmethod
    def build(cls, row: EventRejectionRow) -> RejectionOut:
        return cls(
            id=row.id,
            index=row.batch_index,
            message_id=row.message_id,
            code=row.code,
            reason=row.reason,
            excerpt=row.excerpt,
            received_at=row.received_at,
        )


class TrackingRejected(ApiModel):
    index: int = Field(description="Position of the skipped event in `batch` (0 for a single call)")
    code: str
    reason: str

    @classmethod
    def build(cls, rejected: RejectedCall) -> TrackingRejected:
        return cls(index=rejected.index, code=rejected.issue.code, reason=rejected.issue.message)


class TrackingOut(ApiModel):
    success: bool = Field(description="Always true on a 200: every readable event was stored")
    accepted: int = Field(description="Events stored by this request")
    duplicates: int = Field(description="Events whose messageId was seen before (stored once)")
    rejected: list[TrackingRejected] = Field(
        description="Events skipped, each with its reason; kept at /v1/sources/{id}/rejections"
    )

    @classmethod
    def build(cls, result: TrackingResult) -> TrackingOut:
        duplicates = sum(1 for outcome in result.outcomes if outcome.duplicate)
        return cls(
            success=True,
            accepted=len(result.outcomes) - duplicates,
            duplicates=duplicates,
            rejected=[TrackingRejected.build(r) for r in result.rejected],
        )
