"""Event bodies: Segment-style track, identify and page calls, one at a time or in a batch.

Values are bounded here as on the tracking routes (domain/event_limits.py): nesting, finite numbers,
timestamps UTC can hold. A value out of bounds is a 422 naming the field.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from pydantic import Field, ValidationInfo, field_validator, model_validator

from api.schemas.common import ApiModel
from domain.event_limits import (
    MAX_BATCH_BYTES,
    MAX_BATCH_EVENTS,
    MAX_EVENT_BYTES,
    check_timestamp,
    check_value,
)
from domain.events import EventType
from services.ingestion import IncomingEvent

if TYPE_CHECKING:
    from services.ingestion import EventOutcome

__all__ = ["MAX_BATCH_BYTES", "MAX_BATCH_EVENTS", "MAX_EVENT_BYTES", "EventBatchIn", "EventIn", "EventOut"]


class EventIn(ApiModel):
    """One call. `userId` and/or `anonymousId` says who; a `track` needs `event`."""

    type: EventType = Field(description="track, identify or page")
    user_id: str | None = Field(default=None, min_length=1, max_length=256)
    anonymous_id: str | None = Field(default=None, min_length=1, max_length=200)
    event: str | None = Field(
        default=None, min_length=1, max_length=200, description="The track event's name"
    )
    name: str | None = Field(default=None, max_length=200, description="page: the page's name")
    properties: dict[str, Any] = Field(default_factory=dict)
    traits: dict[str, Any] = Field(default_factory=dict, description="identify: merged into the profile")
    context: dict[str, Any] = Field(
        default_factory=dict,
        description="Segment context (page, campaign, userAgent…), read by context patterns",
    )
    session_id: str | None = Field(
        default=None, min_length=1, max_length=256, description="For Session-scoped segments"
    )
    message_id: str | None = Field(
        default=None, min_length=1, max_length=200, description="The dedup key; generated when absent"
    )
    timestamp: datetime | None = Field(default=None, description="When it happened; default: when received")

    @field_validator("timestamp")
    @classmethod
    def _aware(cls, value: datetime | None) -> datetime | None:
        """Naive means UTC; a time UTC cannot hold (year 1 at +14:00) is refused."""
        return None if value is None else check_timestamp(value)

    @field_validator("properties", "traits", "context")
    @classmethod
    def _bounded(cls, value: dict[str, Any], info: ValidationInfo) -> dict[str, Any]:
        """At most 32 levels deep, finite numbers only (NaN, Infinity, 1e400 are refused)."""
        issue = check_value(value, (info.field_name or "value",))
        if issue is not None:
            raise ValueError(issue.message)
        return value

    @model_validator(mode="after")
    def _who_and_what(self) -> EventIn:
        if self.user_id is None and self.anonymous_id is None:
            raise ValueError("give `userId` or `anonymousId` (or both)")
        if self.type == "track" and self.event is None:
            raise ValueError("a track call needs `event`")
        return self

    def to_incoming(self) -> IncomingEvent:
        return IncomingEvent(
            type=self.type,
            user_id=self.user_id,
            anonymous_id=self.anonymous_id,
            event=self.event,
            name=self.name,
            properties=self.properties,
            traits=self.traits,
            context=self.context,
            session_id=self.session_id,
            message_id=self.message_id,
            timestamp=self.timestamp,
        )


class EventBatchIn(ApiModel):
    batch: list[EventIn] = Field(min_length=1, max_length=MAX_BATCH_EVENTS)


class EventOut(ApiModel):
    message_id: str
    customer_id: str
    enrolled: int = Field(description="Journeys this event entered the customer into")
    signalled: int = Field(description="The customer's running enrollments it was delivered to")
    segments_changed: int = Field(description="Segments the customer entered because of it")
    duplicate: bool = Field(description="true: this messageId was seen before; the first outcome is returned")

    @classmethod
    def build(cls, outcome: EventOutcome) -> EventOut:
        return cls(
            message_id=outcome.message_id,
            customer_id=outcome.customer_id,
            enrolled=outcome.enrolled,
            signalled=outcome.signalled,
            segments_changed=outcome.segments_changed,
            duplicate=outcome.duplicate,
        )


class EventBatchOut(ApiModel):
    results: list[EventOut]
    accepted: int = Field(description="Events stored by this request")
    duplicates: int = Field(description="Events whose messageId was seen before")
