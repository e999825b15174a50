"""Segments (SPEC §8, Genesys seeds 002/003): definitions, assignments, and assignment by events.

- Every change to a segment bumps its `version`; a PATCH carrying `version` must name the current one.
- An assignment is Assigned or Unassigned, optionally until an `expirationDate` (set from the segment's
  `assignmentExpirationDays` when assigned by events); past that date it reads as Unassigned.
- Entering a segment (absent, Unassigned or expired → Assigned; by an event or through the API) enters
  the customer into every published journey whose AUDIENCE trigger names the segment.
- Leaving one (unassigned through the API, or expired) exits the customer's ACTIVE enrollments whose
  version lists it in `exitCriteria.segments` (`services.segment_exits`).
- Events assign: see `domain.segments` for how patterns match. Only active segments are evaluated, and
  only for a customer who is not already in the segment; Session-scoped segments count the events of
  the event's session and assign that session.
"""

from __future__ import annotations

import base64
import binascii
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from domain.errors import ConflictError, FieldIssue, InvalidInputError, NotFoundError
from domain.segments import (
    AssignmentState,
    ContextPatterns,
    JourneyPattern,
    JourneyPatterns,
    context_matches,
    event_fields,
    pattern_matches,
)
from services.entries import JourneyEntries
from services.identity import CustomerIdentity
from services.segment_exits import SegmentExits
from services.temporal import EnrollmentGateway
from services.uow import UnitOfWork
from store.repositories.events import EventRepository
from store.repositories.pagination import Page, PageRequest
from store.repositories.segments import (
    AssignmentRepository,
    AssignmentView,
    SegmentRepository,
    is_current,
)
from store.rows import EnrollmentRow, SegmentRow

MUTABLE_FIELDS = frozenset(
    {
        "display_name",
        "description",
        "color",
        "is_active",
        "should_display_to_agent",
        "context",
        "journey",
        "assignment_expiration_days",
    }
)


@dataclass(frozen=True)
class NewSegment:
    display_name: str
    description: str | None
    color: str | None
    scope: str
    is_active: bool
    should_display_to_agent: bool
    context: ContextPatterns
    journey: JourneyPatterns
    assignment_expiration_days: int | None


@dataclass(frozen=True)
class AssignmentFilter:
    scope: str | None = None
    state: str | None = None
    after: str | None = None
    limit: int = 20


@dataclass(frozen=True)
class AssignmentItem:
    segment_id: uuid.UUID
    display_name: str
    scope: str
    state: AssignmentState  # as read now: an expired assignment is Unassigned
    assigned_at: datetime
    expiration_date: datetime | None
    customer_id: str
    session_id: str | None


@dataclass(frozen=True)
class AssignmentPage:
    items: list[AssignmentItem]
    next_cursor: str | None


@dataclass(frozen=True)
class AssignmentChange:
    segment_id: str
    state: str
    expiration_date: datetime | None


def encode_cursor(assignment_id: int) -> str:
    return base64.urlsafe_b64encode(f"a:{assignment_id}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> int:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        prefix, _, number = raw.partition(":")
        if prefix != "a":
            raise ValueError(raw)
        return int(number)
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise InvalidInputError([FieldIssue(("query", "after"), "not a cursor this API gave out")]) from None


def _item(view: AssignmentView, now: datetime) -> AssignmentItem:
    row = view.assignment
    return AssignmentItem(
        segment_id=row.segment_id,
        display_name=view.display_name,
        scope=view.scope,
        state="Assigned" if is_current(row, now) else "Unassigned",
        assigned_at=row.assigned_at,
        expiration_date=row.expiration_date,
        customer_id=row.customer_id,
        session_id=row.session_id,
    )


def expiration_for(segment: SegmentRow, now: datetime) -> datetime | None:
    days = segment.assignment_expiration_days
    return now + timedelta(days=days) if days else None


class SegmentService:
    def __init__(self, uow: UnitOfWork) -> None:
        self._uow = uow
        self._segments = SegmentRepository(uow.session)

    async def get(self, tenant_id: str, segment_id: uuid.UUID, *, for_update: bool = False) -> SegmentRow:
        row = await self._segments.get(tenant_id, segment_id, for_update=for_update)
        if row is None:
            raise NotFoundError("segment", str(segment_id))
        return row

    async def search(
        self,
        tenant_id: str,
        page: PageRequest,
        *,
        is_active: bool | None = None,
        ids: Sequence[uuid.UUID] | None = None,
        order: Sequence[tuple[str, bool]] = (),
    ) -> Page[SegmentRow]:
        return await self._segments.search(tenant_id, page, is_active=is_active, ids=ids, order=order)

    async def create(self, tenant_id: str, new: NewSegment) -> SegmentRow:
        now = datetime.now(UTC)
        row = SegmentRow(
            id=uuid.uuid4(),
            tenant_id=tenant_id,
            display_name=new.display_name,
            description=new.description,
            color=new.color,
            scope=new.scope,
            is_active=new.is_active,
            version=1,
            should_display_to_agent=new.should_display_to_agent,
            context=new.context.model_dump(mode="json"),
            journey=new.journey.model_dump(mode="json"),
            assignment_expiration_days=new.assignment_expiration_days,
            created_at=now,
            updated_at=now,
        )
        await self._segments.add(row)
        return row

    async def update(
        self, tenant_id: str, segment_id: uuid.UUID, changes: dict[str, Any], *, expected_version: int | None
    ) -> SegmentRow:
        """Partial update; the version goes up by one on every change (and must match when given)."""
        row = await self.get(tenant_id, segment_id, for_update=True)
        if expected_version is not None and expected_version != row.version:
            raise ConflictError(
                f"segment {segment_id} is at version {row.version}, not {expected_version}; re-read it first"
            )
        for name, value in changes.items():
            if name not in MUTABLE_FIELDS:
                continue
            if isinstance(value, ContextPatterns | JourneyPatterns):
                value = value.model_dump(mode="json")
            setattr(row, name, value)
        row.version += 1
        row.updated_at = datetime.now(UTC)
        await self._uow.session.flush()
        return row

    async def delete(self, tenant_id: str, segment_id: uuid.UUID) -> None:
        """Refused (409) while a journey that is not archived names the segment; assignments go with it."""
        row = await self.get(tenant_id, segment_id, for_update=True)
        journey = await self._segments.journey_using(tenant_id, segment_id)
        if journey is not None:
            raise ConflictError(
                f"segment {segment_id} is used by journey {journey.id} ({journey.name!r}); "
                "change that journey's trigger or exit criteria, or archive it first"
            )
        await self._segments.delete(row)


class AssignmentService:
    """Reading and changing assignments; entering a segment enters its AUDIENCE journeys.

    The workflow starts entries cause go to the unit of work, which runs them after commit, many at
    a time (or hands them to the event ingestion that holds them for its outbox).
    """

    def __init__(self, uow: UnitOfWork, gateway: EnrollmentGateway) -> None:
        self._uow = uow
        self._segments = SegmentRepository(uow.session)
        self._assignments = AssignmentRepository(uow.session)
        self._events = EventRepository(uow.session)
        self._identity = CustomerIdentity(uow)
        self._entries = JourneyEntries(uow, gateway)
        self._exits = SegmentExits(uow.session)
        self._evaluated: dict[str, list[tuple[SegmentRow, JourneyPatterns, ContextPatterns]]] = {}
        # Enrollments started because a customer entered a segment, in this unit of work.
        self.entered: list[EnrollmentRow] = []

    # ---- reading ------------------------------------------------------------------------------

    async def for_customer(
        self, tenant_id: str, id_type: str, identifier: str, query: AssignmentFilter
    ) -> AssignmentPage:
        customer_id = await self._identity.resolve(tenant_id, id_type, identifier)
        return await self._page(tenant_id, query, customer_id=customer_id)

    async def for_session(self, tenant_id: str, session_id: str, query: AssignmentFilter) -> AssignmentPage:
        return await self._page(tenant_id, query, session_id=session_id)

    async def for_external_contact(
        self, tenant_id: str, external_id: str, query: AssignmentFilter
    ) -> AssignmentPage:
        customer_id = await self._identity.resolve(tenant_id, "externalContactId", external_id)
        return await self._page(tenant_id, query, customer_id=customer_id)

    async def _page(
        self,
        tenant_id: str,
        query: AssignmentFilter,
        *,
        customer_id: str | None = None,
        session_id: str | None = None,
    ) -> AssignmentPage:
        now = datetime.now(UTC)
        views = await self._assignments.page(
            tenant_id,
            now,
            customer_id=customer_id,
            session_id=session_id,
            scope=query.scope,
            state=query.state,
            after=decode_cursor(query.after) if query.after else None,
            limit=query.limit,
        )
        more = len(views) > query.limit
        views = views[: query.limit]
        cursor = encode_cursor(views[-1].assignment.id) if more and views else None
        return AssignmentPage([_item(v, now) for v in views], cursor)

    # ---- changing -----------------------------------------------------------------------------

    async def update_external_contact(
        self, tenant_id: str, external_id: str, changes: Sequence[AssignmentChange]
    ) -> list[AssignmentItem]:
        """Assign, unassign, or update the expiry (Genesys postJourneyExternalcontactSegments)."""
        now = datetime.now(UTC)
        segments = await self._checked_segments(tenant_id, changes, now)
        customer_id = await self._identity.external_contact(tenant_id, external_id)
        anonymous = await self._identity.is_anonymous(tenant_id, customer_id)
        items: list[AssignmentItem] = []
        for change, segment in zip(changes, segments, strict=True):
            if change.state == "Assigned":
                await self.assign(
                    tenant_id,
                    segment,
                    customer_id,
                    None,
                    now,
                    change.expiration_date or expiration_for(segment, now),
                    anonymous=anonymous,
                    update_expiry=change.expiration_date is not None,
                )
            else:
                current = await self._assignments.get(tenant_id, segment.id, customer_id, for_update=True)
                if current is not None and current.state == "Assigned":
                    await self._assignments.change(current.id, {"state": "Unassigned", "updated_at": now})
                    # Leaving now, or having left when it expired (then the sweep may have exited
                    # them already: the exit's request id is the same, so Temporal takes it once).
                    left_at = now if is_current(current, now) else current.expiration_date or now
                    await self._exits.on_leave(tenant_id, customer_id, segment, left_at, now)
            row = await self._assignments.get(tenant_id, segment.id, customer_id)
            if row is not None:
                items.append(_item(AssignmentView(row, segment.display_name, segment.scope), now))
        return items

    async def _checked_segments(
        self, tenant_id: str, changes: Sequence[AssignmentChange], now: datetime
    ) -> list[SegmentRow]:
        issues: list[FieldIssue] = []
        segments: list[SegmentRow] = []
        seen: set[str] = set()
        for index, change in enumerate(changes):
            where = ("body", index)
            if change.segment_id in seen:
                issues.append(FieldIssue((*where, "segmentId"), "the same segment appears twice"))
            seen.add(change.segment_id)
            try:
                segment = await self._segments.get(tenant_id, uuid.UUID(change.segment_id))
            except ValueError:
                segment = None
            if segment is None:
                issues.append(FieldIssue((*where, "segmentId"), f"unknown segment {change.segment_id!r}"))
                continue
            if segment.scope == "Session":
                issues.append(
                    FieldIssue(
                        (*where, "segmentId"), "a Session-scoped segment is assigned per session by events"
                    )
                )
            if change.state == "Unassigned" and change.expiration_date is not None:
                issues.append(FieldIssue((*where, "expirationDate"), "only an Assigned segment expires"))
            if change.expiration_date is not None and change.expiration_date <= now:
                issues.append(FieldIssue((*where, "expirationDate"), "must be in the future"))
            if change.state == "Assigned" and not segment.is_active:
                issues.append(FieldIssue((*where, "segmentId"), "the segment is not active"))
            segments.append(segment)
        if issues:
            raise InvalidInputError(issues)
        return segments

    async def assign(
        self,
        tenant_id: str,
        segment: SegmentRow,
        customer_id: str,
        session_id: str | None,
        now: datetime,
        expiration: datetime | None,
        *,
        anonymous: bool,
        update_expiry: bool = False,
    ) -> bool:
        """Assign; True when the customer entered the segment now (then its AUDIENCE journeys start).

        Already in it: nothing changes, except the expiry when `update_expiry`.
        """
        values = {
            "tenant_id": tenant_id,
            "segment_id": segment.id,
            "customer_id": customer_id,
            "session_id": session_id,
            "state": "Assigned",
            "assigned_at": now,
            "expiration_date": expiration,
            "updated_at": now,
        }
        if await self._assignments.insert_if_absent(values) is None:
            current = await self._assignments.get(
                tenant_id, segment.id, customer_id, session_id, for_update=True
            )
            assert current is not None
            if is_current(current, now):
                if update_expiry:
                    await self._assignments.change(
                        current.id, {"expiration_date": expiration, "updated_at": now}
                    )
                return False
            if current.state == "Assigned" and current.expiration_date is not None:
                # It expired, and the customer is back before the sweep (services.segment_exits) saw
                # the leave: exit what that leave ended now, before the assignment forgets it.
                await self._exits.on_leave(tenant_id, customer_id, segment, current.expiration_date, now)
            await self._assignments.change(
                current.id,
                {"state": "Assigned", "assigned_at": now, "expiration_date": expiration, "updated_at": now},
            )
        self.entered.extend(
            await self._entries.on_segment_entry(tenant_id, customer_id, segment.id, anonymous=anonymous)
        )
        return True

    # ---- assignment by events -----------------------------------------------------------------

    async def evaluate_event(
        self,
        tenant_id: str,
        customer_id: str,
        session_id: str | None,
        event_name: str,
        fields: dict[str, Any],
        context: dict[str, Any],
        *,
        anonymous: bool,
    ) -> int:
        """Re-evaluate the segments this event can change (stored first); how many the customer entered."""
        now = datetime.now(UTC)
        entered = 0
        for segment, journey, context_patterns in await self._evaluable(tenant_id):
            if journey.patterns:
                relevant = any(pattern_matches(p, event_name, fields) for p in journey.patterns)
            else:
                relevant = bool(context_patterns.patterns)
            if not relevant or not context_matches(context_patterns.patterns, context):
                continue
            session = session_id if segment.scope == "Session" else None
            if segment.scope == "Session" and session is None:
                continue
            current = await self._assignments.get(tenant_id, segment.id, customer_id, session)
            if current is not None and is_current(current, now):
                continue
            if not await self._satisfied(tenant_id, customer_id, session, journey.patterns):
                continue
            if await self.assign(
                tenant_id,
                segment,
                customer_id,
                session,
                now,
                expiration_for(segment, now),
                anonymous=anonymous,
            ):
                entered += 1
        return entered

    async def evaluates_events(self, tenant_id: str) -> bool:
        """Whether any active segment of the tenant can be entered by events (read once per unit)."""
        return bool(await self._evaluable(tenant_id))

    async def _evaluable(self, tenant_id: str) -> list[tuple[SegmentRow, JourneyPatterns, ContextPatterns]]:
        if tenant_id not in self._evaluated:
            self._evaluated[tenant_id] = [
                (
                    row,
                    JourneyPatterns.model_validate(row.journey),
                    ContextPatterns.model_validate(row.context),
                )
                for row in await self._segments.active_with_patterns(tenant_id)
            ]
        return self._evaluated[tenant_id]

    async def _satisfied(
        self, tenant_id: str, customer_id: str, session_id: str | None, patterns: Sequence[JourneyPattern]
    ) -> bool:
        """Every pattern has at least `count` matching stored events (of the session, when scoped)."""
        for pattern in patterns:
            found = 0
            for row in await self._events.named_for_customer(
                tenant_id, customer_id, pattern.event_name, session_id=session_id
            ):
                if pattern_matches(pattern, row.name, event_fields(row.properties, row.traits, row.context)):
                    found += 1
                    if found >= pattern.count:
                        break
            if found < pattern.count:
                return False
        return True
