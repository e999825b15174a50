"""JourneyControlWorkflow: carries one lifecycle instruction to every running enrollment of a journey.

Durable and out of the request path: the API commits the status change and starts this; it pages
through the journey's ACTIVE enrollments and signals them, however many there are. Each activity reads
page after page for about `stream_seconds` (the next page while one is signalled) and answers with its
cursor, so the history grows by one activity per half minute of signalling, not one per page.
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
# Patch: a run whose history Temporal suggests continuing continues as new between pages (carrying
# the cursor and the count), so a journey with millions of enrollments stays under the history limit.
CONTINUE_AS_NEW_PATCH = "control-continue-as-new-v1"


@workflow.defn(name=JOURNEY_CONTROL_WORKFLOW)
class JourneyControlWorkflow:
    @workflow.run
    async def run(self, input: JourneyControlInput) -> int:
        signalled = input.signalled
        cursor = input.after_enrollment_id
        while True:
            # Asked only when suggested, so runs that never grow that long record no marker.
            if workflow.info().is_continue_as_new_suggested() and workflow.patched(CONTINUE_AS_NEW_PATCH):
                workflow.continue_as_new(
                    input.model_copy(update={"after_enrollment_id": cursor, "signalled": signalled})
                )
            workflow.set_current_details(f"{input.instruction}: {signalled} enrollments signalled")
            result = await workflow.execute_activity(
                SIGNAL_ENROLLMENTS,
                SignalBatchRequest(
                    tenant_id=input.tenant_id,
                    journey_id=input.journey_id,
                    instruction=input.instruction,
                    after_enrollment_id=cursor,
                    batch_size=input.page_size,
                    stream_seconds=input.stream_seconds,
                ),
                result_type=SignalBatchResult,
                start_to_close_timeout=timedelta(minutes=2),
                heartbeat_timeout=timedelta(seconds=30),
                retry_policy=RetryPolicy(maximum_interval=timedelta(seconds=30)),
                summary=f"{input.instruction} page after {cursor or 'start'}",
            )
            signalled += int(result.signalled)
            # Answers recorded before streaming said "last page" by a short one.
            done = result.done
            if done is None:
                done = result.last_enrollment_id is None or result.signalled < input.page_size
            if done:
                return signalled
            cursor = result.last_enrollment_id
