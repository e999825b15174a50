"""Profile activities: read fresh traits (and segment membership), apply UPDATE steps once."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio import activity
from temporalio.exceptions import ApplicationError

from domain.payloads import ProfileReadRequest, ProfileSnapshot, ProfileUpdateRequest, ProfileUpdateResult
from domain.profile import ProfileUpdateError, apply_updates
from store.repositories.customers import CustomerRepository
from store.repositories.enrollments import EnrollmentRepository
from store.repositories.segments import AssignmentRepository

READ_PROFILE = "read_profile"
UPDATE_PROFILE = "update_profile"


class ProfileActivities:
    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    @activity.defn(name=READ_PROFILE)
    async def read_profile(self, request: ProfileReadRequest) -> ProfileSnapshot:
        async with self._sessions() as session, session.begin():
            if request.progress is not None:
                await EnrollmentRepository(session).apply_progress(request.progress)
            traits = await CustomerRepository(session).traits(request.tenant_id, request.customer_id)
            segments = await AssignmentRepository(session).assigned_segment_ids(
                request.tenant_id, request.customer_id, datetime.now(UTC)
            )
        return ProfileSnapshot(traits=traits or {}, segments=segments)

    @activity.defn(name=UPDATE_PROFILE)
    async def update_profile(self, request: ProfileUpdateRequest) -> ProfileUpdateResult:
        async with self._sessions() as session, session.begin():
            if request.progress is not None:
                await EnrollmentRepository(session).apply_progress(request.progress)
            customers = CustomerRepository(session)
            traits = await customers.traits_for_update(request.tenant_id, request.customer_id)
            # Claimed in the same transaction as the write: a retry after a commit finds the claim.
            if not await customers.claim_update(
                request.tenant_id, request.customer_id, request.idempotency_key
            ):
                return ProfileUpdateResult(applied=False)
            try:
                updated = apply_updates(traits, request.updates)
            except ProfileUpdateError as exc:
                raise ApplicationError(str(exc), type="ProfileUpdateError", non_retryable=True) from exc
            await customers.set_traits(request.tenant_id, request.customer_id, updated)
        return ProfileUpdateResult(applied=True)
