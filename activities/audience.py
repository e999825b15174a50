"""Scheduled audience entry: enroll one page of a SCHEDULE journey's segment members."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio import activity

from domain.audience import ENROLL_AUDIENCE_PAGE, AudiencePageRequest, AudiencePageResult
from domain.definition import JourneyDefinition
from domain.lifecycle import accepts_entries
from services.entries import JourneyEntries
from services.identity import CustomerIdentity
from services.live_journeys import LiveVersion
from services.schedules import scheduled_trigger
from services.temporal import EnrollmentGateway
from services.uow import UnitOfWork
from store.repositories.journeys import JourneyRepository
from store.repositories.segments import AssignmentRepository


class AudienceActivities:
    def __init__(self, sessions: async_sessionmaker[AsyncSession], gateway: EnrollmentGateway) -> None:
        self._sessions = sessions
        self._gateway = gateway

    @activity.defn(name=ENROLL_AUDIENCE_PAGE)
    async def enroll_audience_page(self, request: AudiencePageRequest) -> AudiencePageResult:
        """One transaction per page; the workflow starts run after its commit, 16 at a time.

        The journey's live version is read and parsed once per page and handed to every entry.

        A retried page does not enroll a member twice while their enrollment is still open (entry is
        idempotent); the entry rules (re-entry, cooldown) decide for members whose enrollment ended.
        """
        journey_id = uuid.UUID(request.journey_id)
        async with self._sessions() as session:
            uow = UnitOfWork(session)
            journey = await JourneyRepository(session).get(request.tenant_id, journey_id)
            version = (
                await JourneyRepository(session).get_version(journey_id, journey.version)
                if journey is not None and journey.version
                else None
            )
            if journey is None or version is None or not accepts_entries(journey.status):
                return AudiencePageResult(members=0, enrolled=0, last_customer_id=None, proceed=False)
            definition = JourneyDefinition.model_validate(version.definition)
            scheduled = scheduled_trigger(definition)
            if scheduled is None or not scheduled[1].segment_id:
                return AudiencePageResult(members=0, enrolled=0, last_customer_id=None, proceed=False)
            try:
                segment_id = uuid.UUID(scheduled[1].segment_id)
            except ValueError:
                return AudiencePageResult(members=0, enrolled=0, last_customer_id=None, proceed=False)
            members = await AssignmentRepository(session).member_page(
                request.tenant_id,
                segment_id,
                datetime.now(UTC),
                after=request.after_customer_id,
                limit=request.batch_size,
            )
            entries = JourneyEntries(uow, self._gateway)
            identity = CustomerIdentity(uow)
            live = LiveVersion(journey_id, version.version, journey.name, definition)
            enrolled = 0
            for customer_id in members:
                anonymous = await identity.is_anonymous(request.tenant_id, customer_id)
                if await entries.enter(request.tenant_id, live, customer_id, anonymous=anonymous) is not None:
                    enrolled += 1
            await uow.commit()
        activity.heartbeat(len(members))
        return AudiencePageResult(
            members=len(members), enrolled=enrolled, last_customer_id=members[-1] if members else None
        )
