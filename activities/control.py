"""Reaching every running enrollment of a journey: pause (hold), resume (release), archive (exit)."""

from __future__ import annotations

import asyncio
import uuid

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio import activity
from temporalio.client import Client
from temporalio.service import RPCError, RPCStatusCode

from domain.payloads import (
    SIGNAL_EXIT,
    SIGNAL_PAUSE,
    SIGNAL_RESUME,
    ControlSignal,
    SignalBatchRequest,
    SignalBatchResult,
)
from store.repositories.enrollments import EnrollmentRepository

SIGNAL_ENROLLMENTS = "signal_enrollments"
SIGNAL_FOR = {"hold": SIGNAL_PAUSE, "release": SIGNAL_RESUME, "exit": SIGNAL_EXIT}
REASON_FOR = {"hold": "journey paused", "release": "journey resumed", "exit": "journey archived"}
CONCURRENCY = 64


class ControlActivities:
    def __init__(self, sessions: async_sessionmaker[AsyncSession], client: Client) -> None:
        self._sessions = sessions
        self._client = client

    @activity.defn(name=SIGNAL_ENROLLMENTS)
    async def signal_enrollments(self, request: SignalBatchRequest) -> SignalBatchResult:
        """Signal one page of the journey's ACTIVE enrollments (the projection lists them)."""
        after = uuid.UUID(request.after_enrollment_id) if request.after_enrollment_id else None
        async with self._sessions() as session:
            rows = await EnrollmentRepository(session).active_page(
                request.tenant_id, uuid.UUID(request.journey_id), after=after, limit=request.batch_size
            )
        signal = SIGNAL_FOR[request.instruction]
        payload = ControlSignal(reason=REASON_FOR[request.instruction])
        gate = asyncio.Semaphore(CONCURRENCY)

        async def deliver(workflow_id: str) -> None:
            async with gate:
                try:
                    await self._client.get_workflow_handle(workflow_id).signal(signal, payload)
                except RPCError as error:
                    # Already finished (its final projection is still in flight): nothing to reach.
                    if error.status != RPCStatusCode.NOT_FOUND:
                        raise

        await asyncio.gather(*(deliver(row.workflow_id) for row in rows))
        activity.heartbeat(len(rows))
        return SignalBatchResult(signalled=len(rows), last_enrollment_id=str(rows[-1].id) if rows else None)
