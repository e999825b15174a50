"""Projection writes: the enrollment row and its step history, for the API and analytics."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio import activity

from domain.payloads import ProgressBatch
from store.repositories.enrollments import EnrollmentRepository

RECORD_PROGRESS = "record_progress"


class ProjectionActivities:
    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    @activity.defn(name=RECORD_PROGRESS)
    async def record_progress(self, batch: ProgressBatch) -> None:
        async with self._sessions() as session, session.begin():
            await EnrollmentRepository(session).apply_progress(batch)
