"""MigrationWorkflow on its own (time-skipping Temporal, the project's worker, PostgreSQL): pages through the
version's ACTIVE enrollments with a cursor, counts an enrollment whose workflow is gone as skipped and
writes the totals to the migration's row; a target version that no longer exists ends it FAILED with why.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from sqlalchemy import delete
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.testing import WorkflowEnvironment

from domain.payloads import MIGRATION_WORKFLOW, MigrationInput, MigrationRecord
from plumbing.settings import Settings
from services.migrations import migration_workflow_id
from store.rows import EnrollmentRow, JourneyVersionRow, MigrationRow
from tests.conftest import ApiClientFor, RunWorker
from tests.e2e.test_migrations import publish_both
from tests.support import TENANT


async def migration_of(
    sessions: async_sessionmaker[AsyncSession], journey_id: str, *, ghosts: int
) -> tuple[uuid.UUID, list[uuid.UUID]]:
    """A RUNNING migration row, and `ghosts` ACTIVE enrollments of version 1 whose workflows never ran."""
    migration_id = uuid.uuid4()
    ids = [uuid.uuid4() for _ in range(ghosts)]
    async with sessions() as session, session.begin():
        session.add(
            MigrationRow(
                id=migration_id,
                tenant_id=TENANT,
                journey_id=uuid.UUID(journey_id),
                from_version=1,
                to_version=2,
                node_map={"w": "day"},
                status="RUNNING",
                moved=0,
                skipped=0,
                failed=0,
                subject="test",
            )
        )
        for n, enrollment_id in enumerate(ids):
            session.add(
                EnrollmentRow(
                    id=enrollment_id,
                    tenant_id=TENANT,
                    journey_id=uuid.UUID(journey_id),
                    version=1,
                    customer_id=f"ghost-{n}",
                    entry_number=1,
                    workflow_id=f"enrollment:{TENANT}:{journey_id}:ghost-{n}:1",
                    status="ACTIVE",
                    converted=False,
                    current_step_id="w",
                    enrolled_at=datetime.now(UTC),
                )
            )
    return migration_id, ids


async def run_migration(
    env: WorkflowEnvironment, settings: Settings, payload: MigrationInput
) -> MigrationRecord:
    result: MigrationRecord = await env.client.execute_workflow(
        MIGRATION_WORKFLOW,
        payload,
        id=migration_workflow_id(TENANT, payload.migration_id),
        task_queue=settings.temporal_task_queue,
        result_type=MigrationRecord,
    )
    return result


async def test_pages_with_a_cursor_and_counts_vanished_enrollments_as_skipped(
    api_client_for: ApiClientFor,
    own_time_skipping_env: WorkflowEnvironment,
    run_worker: RunWorker,
    settings: Settings,
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    async with api_client_for(None) as http:
        journey_id = await publish_both(http)
    migration_id, _ = await migration_of(sessions, journey_id, ghosts=5)
    payload = MigrationInput(
        tenant_id=TENANT,
        journey_id=journey_id,
        migration_id=str(migration_id),
        from_version=1,
        to_version=2,
        node_map={"w": "day"},
        page_size=2,
    )
    async with run_worker(own_time_skipping_env.client):
        record = await run_migration(own_time_skipping_env, settings, payload)
    assert (record.status, record.counts.moved, record.counts.skipped, record.counts.failed) == (
        "COMPLETED",
        0,
        5,
        0,
    ), "three pages of 2, 2 and 1: each ghost reached once"
    async with sessions() as session:
        row = await session.get(MigrationRow, migration_id)
        assert row is not None
        assert (row.status, row.moved, row.skipped, row.failed, row.error) == ("COMPLETED", 0, 5, 0, None)
        assert row.completed_at is not None
    history = [
        event.activity_task_scheduled_event_attributes.activity_type.name
        async for event in own_time_skipping_env.client.get_workflow_handle(
            migration_workflow_id(TENANT, migration_id)
        ).fetch_history_events()
        if event.HasField("activity_task_scheduled_event_attributes")
    ]
    assert history == ["list_migration_page", "move_enrollments"] * 3 + ["record_migration"]


async def test_a_target_version_that_is_gone_ends_the_migration_failed_with_why(
    api_client_for: ApiClientFor,
    own_time_skipping_env: WorkflowEnvironment,
    run_worker: RunWorker,
    settings: Settings,
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    async with api_client_for(None) as http:
        journey_id = await publish_both(http)
    migration_id, _ = await migration_of(sessions, journey_id, ghosts=1)
    async with sessions() as session, session.begin():
        await session.execute(
            delete(JourneyVersionRow).where(
                JourneyVersionRow.journey_id == uuid.UUID(journey_id), JourneyVersionRow.version == 2
            )
        )
    payload = MigrationInput(
        tenant_id=TENANT,
        journey_id=journey_id,
        migration_id=str(migration_id),
        from_version=1,
        to_version=2,
        node_map={"w": "day"},
    )
    async with run_worker(own_time_skipping_env.client):
        record = await run_migration(own_time_skipping_env, settings, payload)
    assert record.status == "FAILED"
    assert record.error == f"version 2 of journey {journey_id} no longer exists"
    async with sessions() as session:
        row = await session.get(MigrationRow, migration_id)
        assert row is not None and (row.status, row.error) == ("FAILED", record.error)
