"""JourneyControlWorkflow: carries one lifecycle instruction to every running enrollment of a journey.

Durable and out of the request path: the API commits the status change and starts this; it pages
through the journey's ACTIVE enrollments and signals each page, however many there are.
"""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy

with workflow.unsafe.imports_passed_through():
    from domain.payloads import (
        JOURNEY_CONTROL_WORKFLOW,
        JourneyControlInput,
        SignalBatchRequest,
        SignalBatchResult,
    )

SIGNAL_ENROLLMENTS = "signal_enrollments"
PAGE_SIZE = 500


@workflow.defn(name=JOURNEY_CONTROL_WORKFLOW)
class JourneyControlWorkflow:
    @workflow.run
    async def run(self, input: JourneyControlInput) -> int:
        signalled: int = 0
        cursor: str | None = None
        while True:
            workflow.set_current_details(f"{input.instruction}: {signalled} enrollments signalled")
            result = await workflow.execute_activity(
                SIGNAL_ENROLLMENTS,
                SignalBatchRequest(
                    tenant_id=input.tenant_id,
                    journey_id=input.journey_id,
                    instruction=input.instruction,
                    after_enrollment_id=cursor,
                    batch_size=PAGE_SIZE,
                ),
                result_type=SignalBatchResult,
                start_to_close_timeout=timedelta(minutes=2),
                heartbeat_timeout=timedelta(seconds=30),
                retry_policy=RetryPolicy(maximum_interval=timedelta(seconds=30)),
                summary=f"{input.instruction} page after {cursor or 'start'}",
            )
            signalled += int(result.signalled)
            if result.last_enrollment_id is None or result.signalled < PAGE_SIZE:
                return signalled
            cursor = result.last_enrollment_id
