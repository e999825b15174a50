"""MigrationWorkflow: moves a journey's in-flight enrollments from one version to another, page by page.

Durable and out of the request path: the API records the migration and starts this; each page is listed
by one activity (its enrollments recorded in this history) and moved by another (the `migrate` Update to
each), which writes the totals so far to the migration's row. A run whose history Temporal suggests
continuing continues as new between pages, carrying the cursor and the totals. The end (COMPLETED, or
FAILED when the migration cannot go on) is written by a last activity.
"""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError

with workflow.unsafe.imports_passed_through():
    from domain.payloads import (
        LIST_MIGRATION_PAGE,
        MIGRATION_WORKFLOW,
        MOVE_ENROLLMENTS,
        RECORD_MIGRATION,
        MigrationCounts,
        MigrationInput,
        MigrationPage,
        MigrationPageRequest,
        MigrationRecord,
        MigrationStatus,
        MoveRequest,
        MoveResult,
    )

# Transient failures (the database, Temporal) are retried until they pass; a business failure (the
# target version is gone) is raised non-retryable and ends the migration as FAILED.
RETRY = RetryPolicy(initial_interval=timedelta(seconds=1), maximum_interval=timedelta(seconds=30))
LIST_TIMEOUT = timedelta(minutes=1)
# A page's Updates: each enrollment answers within seconds, CONCURRENCY at a time; a lost worker is
# noticed by the missing heartbeat, and the page is moved again elsewhere.
MOVE_TIMEOUT = timedelta(minutes=10)
MOVE_HEARTBEAT = timedelta(seconds=15)
RECORD_TIMEOUT = timedelta(seconds=30)


@workflow.defn(name=MIGRATION_WORKFLOW)
class MigrationWorkflow:
    @workflow.run
    async def run(self, input: MigrationInput) -> MigrationRecord:
        counts = input.counts
        cursor = input.after_enrollment_id
        try:
            while True:
                if workflow.info().is_continue_as_new_suggested():
                    workflow.continue_as_new(
                        input.model_copy(update={"after_enrollment_id": cursor, "counts": counts})
                    )
                workflow.set_current_details(
                    f"v{input.from_version} → v{input.to_version}: {counts.moved} moved, "
                    f"{counts.skipped} skipped, {counts.failed} failed"
                )
                page = await workflow.execute_activity(
                    LIST_MIGRATION_PAGE,
                    MigrationPageRequest(
                        tenant_id=input.tenant_id,
                        journey_id=input.journey_id,
                        version=input.from_version,
                        after_enrollment_id=cursor,
                        limit=input.page_size,
                    ),
                    result_type=MigrationPage,
                    start_to_close_timeout=LIST_TIMEOUT,
                    retry_policy=RETRY,
                    summary=f"list page after {cursor or 'start'}",
                )
                if page.workflow_ids:
                    moved = await workflow.execute_activity(
                        MOVE_ENROLLMENTS,
                        MoveRequest(
                            tenant_id=input.tenant_id,
                            journey_id=input.journey_id,
                            migration_id=input.migration_id,
                            from_version=input.from_version,
                            to_version=input.to_version,
                            node_map=input.node_map,
                            workflow_ids=page.workflow_ids,
                            before=counts,
                        ),
                        result_type=MoveResult,
                        start_to_close_timeout=MOVE_TIMEOUT,
                        heartbeat_timeout=MOVE_HEARTBEAT,
                        retry_policy=RETRY,
                        summary=f"move {len(page.workflow_ids)} enrollments",
                    )
                    counts = moved.counts
                if page.last_enrollment_id is None or len(page.workflow_ids) < input.page_size:
                    break
                cursor = page.last_enrollment_id
        except ActivityError as error:
            return await self._record(input, "FAILED", counts, _reason(error))
        return await self._record(input, "COMPLETED", counts)

    async def _record(
        self,
        input: MigrationInput,
        status: MigrationStatus,
        counts: MigrationCounts,
        error: str | None = None,
    ) -> MigrationRecord:
        record = MigrationRecord(
            tenant_id=input.tenant_id,
            migration_id=input.migration_id,
            status=status,
            counts=counts,
            error=error,
        )
        workflow.set_current_details(
            f"**{status}**: {counts.moved} moved, {counts.skipped} skipped, {counts.failed} failed"
        )
        await workflow.execute_activity(
            RECORD_MIGRATION,
            record,
            start_to_close_timeout=RECORD_TIMEOUT,
            retry_policy=RETRY,
            summary=f"record {status}",
        )
        return record


def _reason(error: ActivityError) -> str:
    cause = error.cause
    return cause.message if isinstance(cause, ApplicationError) else str(cause or error)
