"""A careless edit of EnrollmentWorkflow (a timer before the first activity, no `workflow.patched`).

Its own module because the workflow sandbox re-imports the module a workflow lives in.
"""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from domain.payloads import ENROLLMENT_WORKFLOW, EnrollmentInput, EnrollmentResult


@workflow.defn(name=ENROLLMENT_WORKFLOW)
class ReorderedEnrollmentWorkflow:
    @workflow.run
    async def run(self, input: EnrollmentInput) -> EnrollmentResult:
        await workflow.sleep(timedelta(seconds=1))
        return EnrollmentResult(status="COMPLETED", converted=False, completed_at=None)
