"""What an enrollment's timeline reads besides its steps: its messages, the customer's events in its time
span, and the audit rows of operator actions on it (reads only)."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import ColumnElement, and_, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from store.rows import AuditRow, EventRow, MessageRow

MAX_MESSAGES = 200
MAX_EVENTS = 200
MAX_ACTIONS = 100
MUTATING = ("POST", "PUT", "PATCH", "DELETE")
# Journey-wide actions that reach every in-flight enrollment of the journey.
JOURNEY_ACTIONS = ("pause", "resume", "archive", "unpublish")


class TimelineRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def messages(self, tenant_id: str, enrollment_id: uuid.UUID) -> list[MessageRow]:
        """The enrollment's messages, oldest first (at most MAX_MESSAGES)."""
        rows = await self._session.scalars(
            select(MessageRow)
            .where(MessageRow.enrollment_id == enrollment_id, MessageRow.tenant_id == tenant_id)
            .order_by(MessageRow.created_at, MessageRow.id)
            .limit(MAX_MESSAGES)
        )
        return list(rows)

    async def events(
        self,
        tenant_id: str,
        customer_id: str,
        *,
        since: datetime,
        until: datetime | None,
        entry_message_id: str | None,
    ) -> list[EventRow]:
        """The customer's events received while the enrollment ran (its entry event too), oldest first (at
        most MAX_EVENTS): the events the enrollment was signalled with."""
        in_span: list[ColumnElement[bool]] = [EventRow.received_at >= since]
        if until is not None:
            in_span.append(EventRow.received_at <= until)
        span = and_(*in_span)
        matches = span if entry_message_id is None else or_(span, EventRow.message_id == entry_message_id)
        rows = await self._session.scalars(
            select(EventRow)
            .where(EventRow.tenant_id == tenant_id, EventRow.customer_id == customer_id, matches)
            .order_by(EventRow.received_at, EventRow.id)
            .limit(MAX_EVENTS)
        )
        return list(rows)

    async def actions(
        self,
        tenant_id: str,
        journey_id: uuid.UUID,
        enrollment_id: uuid.UUID,
        customer_id: str,
        *,
        since: datetime,
        until: datetime | None,
    ) -> list[AuditRow]:
        """Audit rows of requests about this enrollment, oldest first (at most MAX_ACTIONS): any mutating
        request under `/v1/journeys/{id}/enrollments/{enrollmentId}` since it began, and while it ran the
        exit of its customer (`DELETE /v1/journeys/{id}/enrollments/{customerId}`) and the journey's pause,
        resume, archive and unpublish. The audit log keeps the path, and an action's `detail`."""
        journey = f"/v1/journeys/{journey_id}"
        own = or_(
            AuditRow.path == f"{journey}/enrollments/{enrollment_id}",
            AuditRow.path.startswith(f"{journey}/enrollments/{enrollment_id}/", autoescape=True),
        )
        # Requests about the customer or the journey count while the enrollment ran; those naming the
        # enrollment itself count whenever they came (an exit is logged just after it ended the enrollment;
        # an action refused because it had ended is still about it).
        shared = or_(
            and_(AuditRow.method == "DELETE", AuditRow.path == f"{journey}/enrollments/{customer_id}"),
            AuditRow.path.in_([f"{journey}/{verb}" for verb in JOURNEY_ACTIONS]),
        )
        about = or_(own, shared if until is None else and_(shared, AuditRow.at <= until))
        conditions: list[ColumnElement[bool]] = [
            AuditRow.tenant_id == tenant_id,
            AuditRow.at >= since,
            AuditRow.method.in_(MUTATING),
            about,
        ]
        rows = await self._session.scalars(
            select(AuditRow).where(*conditions).order_by(AuditRow.at, AuditRow.id).limit(MAX_ACTIONS)
        )
        return list(rows)
