"""JourneyScheduleWorkflow: one cron tick of a SCHEDULE journey, enrolling its segment's members.

Started by the journey's Temporal schedule (`services.schedules`); pages through the trigger segment's
Assigned members with the `enroll_audience_page` activity until the segment is exhausted or the
journey stops taking entries. Each entry goes through the entry rules (re-entry, cooldown).
"""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy

with workflow.unsafe.imports_passed_through():
    from domain.audience import (
        ENROLL_AUDIENCE_PAGE,
        JOURNEY_SCHEDULE_WORKFLOW,
        AudiencePageRequest,
        AudiencePageResult,
        ScheduledEntryInput,
    )

PAGE_SIZE = 200


@workflow.defn(name=JOURNEY_SCHEDULE_WORKFLOW)
class JourneyScheduleWorkflow:
    @workflow.run
    async def run(self, input: ScheduledEntryInput) -> int:
        enrolled = 0
        members = 0
        cursor: str | None = None
        while True:
            workflow.set_current_details(f"{members} members seen, {enrolled} enrolled")
            result = await workflow.execute_activity(
                ENROLL_AUDIENCE_PAGE,
                AudiencePageRequest(
                    tenant_id=input.tenant_id,
                    journey_id=input.journey_id,
                    after_customer_id=cursor,
                    batch_size=PAGE_SIZE,
                ),
                result_type=AudiencePageResult,
                start_to_close_timeout=timedelta(minutes=5),
                retry_policy=RetryPolicy(maximum_interval=timedelta(seconds=30)),
                summary=f"enroll members after {cursor or 'start'}",
            )
            enrolled += int(result.enrolled)
            members += int(result.members)
            if not result.proceed or result.last_customer_id is None or result.members < PAGE_SIZE:
                return enrolled
            cursor = result.last_customer_id
