"""A migration's side effects: list a page of enrollments, move them (the `migrate` Update), record it.

Crash safety: the page's enrollments are listed by one activity and recorded in the workflow's history
before any is moved, so a move retried after a lost worker reaches the same enrollments again; each
Update carries the migration's id as its update id (Temporal answers a repeated id on the same run with
the first outcome), and an enrollment that says it is "already on version N" (moved by this migration in
an earlier run of its workflow) counts as moved: every enrollment is counted once, and moved once.
Totals are written as absolute numbers (`before` + the page), so a page written twice writes the same.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio import activity
from temporalio.exceptions import ApplicationError

from domain.actions import VersionMove
from domain.definition import JourneyDefinition
from domain.errors import ConflictError, DependencyUnavailableError
from domain.payloads import (
    LIST_MIGRATION_PAGE,
    MOVE_ENROLLMENTS,
    RECORD_MIGRATION,
    UPDATE_MIGRATE,
    MigrationCounts,
    MigrationPage,
    MigrationPageRequest,
    MigrationRecord,
    MoveRequest,
    MoveResult,
)
from services.temporal import EnrollmentGateway
from store.repositories.journeys import JourneyRepository
from store.repositories.migrations import MigrationRepository

# Updates in flight at once per page.
CONCURRENCY = 32
# How long one enrollment has to answer before it counts as failed (an enrollment whose workflow tasks
# cannot run must not hold the migration; an Update already admitted may still apply later).
UPDATE_TIMEOUT_SECONDS = 60.0
# How often a page being moved tells the server it is alive (the workflow's heartbeat timeout is longer).
HEARTBEAT_SECONDS = 2.0
# The ApplicationError type of a migration that cannot go on (its target version is gone).
MIGRATION_FAILED = "MigrationFailed"

logger = logging.getLogger(__name__)


def move_update_id(migration_id: str) -> str:
    return f"migration:{migration_id}"


class MigrationActivities:
    def __init__(self, sessions: async_sessionmaker[AsyncSession], gateway: EnrollmentGateway) -> None:
        self._sessions = sessions
        self._gateway = gateway

    @activity.defn(name=LIST_MIGRATION_PAGE)
    async def list_migration_page(self, request: MigrationPageRequest) -> MigrationPage:
        """The next page of the version's ACTIVE enrollments (the projection lists them)."""
        after = uuid.UUID(request.after_enrollment_id) if request.after_enrollment_id else None
        async with self._sessions() as session:
            rows = await MigrationRepository(session).active_page(
                request.tenant_id,
                uuid.UUID(request.journey_id),
                request.version,
                after=after,
                limit=request.limit,
            )
        return MigrationPage(
            workflow_ids=[row.workflow_id for row in rows],
            last_enrollment_id=str(rows[-1].id) if rows else None,
        )

    @activity.defn(name=MOVE_ENROLLMENTS)
    async def move_enrollments(self, request: MoveRequest) -> MoveResult:
        """Send the `migrate` Update to each enrollment of the page, CONCURRENCY at a time, and write the
        totals so far to the migration's row. Temporal unreachable: the page fails and is retried."""
        move = await self._move(request)
        gate = asyncio.Semaphore(CONCURRENCY)
        update_id = move_update_id(request.migration_id)
        already = f"already on version {request.to_version}"

        async def reach(workflow_id: str) -> str:
            async with gate:
                try:
                    async with asyncio.timeout(UPDATE_TIMEOUT_SECONDS):
                        await self._gateway.update(workflow_id, UPDATE_MIGRATE, move, update_id=update_id)
                except ConflictError as refusal:
                    return "moved" if refusal.detail == already else "skipped"
                except DependencyUnavailableError:
                    raise
                except Exception as error:  # noqa: BLE001 — it did not answer: counted, the page goes on
                    logger.warning(
                        "migration %s: %s did not move: %r", request.migration_id, workflow_id, error
                    )
                    return "failed"
                return "moved"

        beat = asyncio.create_task(_heartbeat())
        try:
            outcomes = await asyncio.gather(*(reach(workflow_id) for workflow_id in request.workflow_ids))
        finally:
            beat.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await beat
        page = MigrationCounts(
            moved=outcomes.count("moved"), skipped=outcomes.count("skipped"), failed=outcomes.count("failed")
        )
        counts = request.before.plus(page)
        async with self._sessions() as session, session.begin():
            await MigrationRepository(session).record_progress(
                request.tenant_id,
                uuid.UUID(request.migration_id),
                moved=counts.moved,
                skipped=counts.skipped,
                failed=counts.failed,
            )
        return MoveResult(counts=counts)

    @activity.defn(name=RECORD_MIGRATION)
    async def record_migration(self, record: MigrationRecord) -> None:
        """The migration's end on its row (a second write changes nothing: only a RUNNING row ends)."""
        async with self._sessions() as session, session.begin():
            await MigrationRepository(session).finish(
                record.tenant_id,
                uuid.UUID(record.migration_id),
                status=record.status,
                moved=record.counts.moved,
                skipped=record.counts.skipped,
                failed=record.counts.failed,
                error=record.error,
            )

    async def _move(self, request: MoveRequest) -> VersionMove:
        """The Update's input: the target version's definition as published, with the journey's name."""
        journey_id = uuid.UUID(request.journey_id)
        async with self._sessions() as session:
            journeys = JourneyRepository(session)
            journey = await journeys.get(request.tenant_id, journey_id)
            version = await journeys.get_version(journey_id, request.to_version)
            if journey is None or version is None:
                raise ApplicationError(
                    f"version {request.to_version} of journey {request.journey_id} no longer exists",
                    type=MIGRATION_FAILED,
                    non_retryable=True,
                )
            return VersionMove(
                migration_id=request.migration_id,
                from_version=request.from_version,
                to_version=request.to_version,
                journey_name=journey.name,
                definition=JourneyDefinition.model_validate(version.definition),
                node_map=request.node_map,
            )


async def _heartbeat() -> None:
    while True:
        activity.heartbeat()
        await asyncio.sleep(HEARTBEAT_SECONDS)
