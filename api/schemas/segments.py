"""Segment and segment assignment bodies (Genesys JourneySegment / SegmentAssignment shapes)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from pydantic import Field, field_validator

from api.schemas.common import ApiModel, PatchModel
from domain.errors import FieldIssue, InvalidInputError
from domain.segments import AssignmentState, ContextPatterns, JourneyPatterns, SegmentScope
from services.segments import AssignmentChange, NewSegment

if TYPE_CHECKING:
    from services.segments import AssignmentItem, AssignmentPage
    from store.rows import SegmentRow

COLOR = r"^#[0-9A-Fa-f]{6}$"
MAX_EXPIRATION_DAYS = 3650
PATTERNS_DESCRIPTION = (
    "`journey.patterns`: the customer is assigned when, for every pattern, `count` of their events are "
    "named `eventName` (a track `event`; `page` for page calls) and meet every criterion "
    "(`key` on the event's properties, dotted for nested ones; operators equal, notEqual, contains, "
    "notContains, containsAny, containsAll, notContainsAny, notContainsAll, startsWith, endsWith, "
    "greaterThan, greaterThanOrEqualTo, lessThan, lessThanOrEqualTo; `values` are alternatives)."
)


class SegmentCreate(ApiModel):
    display_name: str = Field(min_length=1, max_length=200)
    description: str | None = Field(default=None, max_length=2000)
    color: str | None = Field(default=None, pattern=COLOR, description="#RRGGBB")
    scope: SegmentScope = "Customer"
    is_active: bool = True
    should_display_to_agent: bool = False
    context: ContextPatterns = Field(
        default_factory=ContextPatterns,
        description="`patterns`: one must match the triggering event's `context` (if any are given)",
    )
    journey: JourneyPatterns = Field(default_factory=JourneyPatterns, description=PATTERNS_DESCRIPTION)
    assignment_expiration_days: int | None = Field(default=None, ge=1, le=MAX_EXPIRATION_DAYS)

    def to_new(self) -> NewSegment:
        return NewSegment(
            display_name=self.display_name,
            description=self.description,
            color=self.color,
            scope=self.scope,
            is_active=self.is_active,
            should_display_to_agent=self.should_display_to_agent,
            context=self.context,
            journey=self.journey,
            assignment_expiration_days=self.assignment_expiration_days,
        )


class SegmentPatch(PatchModel):
    """Partial update; `scope` cannot change. `version`, when given, must be the current one (else 409).
    Null clears `description`, `color` and `assignmentExpirationDays`."""

    NOT_NULL = frozenset({"display_name", "is_active", "should_display_to_agent", "context", "journey"})

    version: int | None = Field(default=None, ge=1)
    display_name: str | None = Field(default=None, min_length=1, max_length=200)
    description: str | None = Field(default=None, max_length=2000)
    color: str | None = Field(default=None, pattern=COLOR)
    is_active: bool | None = None
    should_display_to_agent: bool | None = None
    context: ContextPatterns | None = None
    journey: JourneyPatterns | None = Field(default=None, description=PATTERNS_DESCRIPTION)
    assignment_expiration_days: int | None = Field(default=None, ge=1, le=MAX_EXPIRATION_DAYS)

    def changes(self) -> dict[str, Any]:
        changes = self.sent()
        changes.pop("version", None)
        if not changes:
            raise InvalidInputError([FieldIssue(("body",), "nothing to change")])
        return changes


class SegmentOut(ApiModel):
    id: uuid.UUID
    display_name: str
    description: str | None
    color: str | None
    scope: str
    is_active: bool
    version: int
    should_display_to_agent: bool
    context: ContextPatterns
    journey: JourneyPatterns
    assignment_expiration_days: int | None
    created_at: datetime
    updated_at: datetime
    self_uri: str

    @classmethod
    def build(cls, row: SegmentRow) -> SegmentOut:
        return cls(
            id=row.id,
            display_name=row.display_name,
            description=row.description,
            color=row.color,
            scope=row.scope,
            is_active=row.is_active,
            version=row.version,
            should_display_to_agent=row.should_display_to_agent,
            context=ContextPatterns.model_validate(row.context),
            journey=JourneyPatterns.model_validate(row.journey),
            assignment_expiration_days=row.assignment_expiration_days,
            created_at=row.created_at,
            updated_at=row.updated_at,
            self_uri=f"/v1/segments/{row.id}",
        )


class SegmentRefOut(ApiModel):
    id: uuid.UUID
    display_name: str
    scope: str


class AssignmentOut(ApiModel):
    segment: SegmentRefOut
    state: AssignmentState = Field(description="Unassigned also once `expirationDate` has passed")
    expiration_date: datetime | None
    assigned_at: datetime
    customer_id: str
    session_id: str | None

    @classmethod
    def build(cls, item: AssignmentItem) -> AssignmentOut:
        return cls(
            segment=SegmentRefOut(id=item.segment_id, display_name=item.display_name, scope=item.scope),
            state=item.state,
            expiration_date=item.expiration_date,
            assigned_at=item.assigned_at,
            customer_id=item.customer_id,
            session_id=item.session_id,
        )


class CursorMeta(ApiModel):
    limit: int
    after: str | None = Field(description="The cursor this page was asked from")
    next: str | None = Field(description="Pass as `after` for the next page; null on the last one")


class AssignmentPageOut(ApiModel):
    data: list[AssignmentOut]
    meta: CursorMeta

    @classmethod
    def build(cls, page: AssignmentPage, *, limit: int, after: str | None) -> AssignmentPageOut:
        return cls(
            data=[AssignmentOut.build(i) for i in page.items],
            meta=CursorMeta(limit=limit, after=after, next=page.next_cursor),
        )


class AssignmentUpdateIn(ApiModel):
    segment_id: str = Field(min_length=1, max_length=64)
    state: AssignmentState
    expiration_date: datetime | None = Field(
        default=None, description="Assigned only; default: the segment's assignmentExpirationDays, if any"
    )

    @field_validator("expiration_date")
    @classmethod
    def _aware(cls, value: datetime | None) -> datetime | None:
        return value.replace(tzinfo=UTC) if value is not None and value.tzinfo is None else value

    def to_change(self) -> AssignmentChange:
        return AssignmentChange(
            segment_id=self.segment_id, state=self.state, expiration_date=self.expiration_date
        )


class AssignmentListOut(ApiModel):
    data: list[AssignmentOut]
