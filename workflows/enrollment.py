"""EnrollmentWorkflow: one per enrollment, a thin executor of the interpreter's commands.

The interpreter (pure, in `domain`) decides; this shell only runs activities and timers,
feeds their outcomes back, keeps the projection batch, and tells operators where it is.
Nothing here reads the clock, the network or the disk except through Temporal's APIs.
"""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError

with workflow.unsafe.imports_passed_through():
    from domain.interpreter import (
        Finish,
        JourneyState,
        RecordStep,
        SendFinished,
        SendMessage,
        Started,
        StartTimer,
        StepRecord,
        TimerFired,
        initial_state,
        step,
    )
    from domain.payloads import (
        ENROLLMENT_WORKFLOW,
        EnrollmentInput,
        EnrollmentResult,
        EnrollmentSnapshot,
        EnrollmentStateView,
        ProgressBatch,
        SendRequest,
        SendResult,
    )

# Activity names (the activities live in another package; workflows reference them by name).
SEND_MESSAGE = "send_message"
RECORD_PROGRESS = "record_progress"

SEND_START_TO_CLOSE = timedelta(seconds=30)
# Transient failures (SMTP down, timeouts) retry with backoff for up to a day, then the step fails.
SEND_SCHEDULE_TO_CLOSE = timedelta(days=1)
SEND_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=1),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(minutes=5),
)
PROJECTION_START_TO_CLOSE = timedelta(seconds=15)
# Projections must land eventually: retried without limit, at most every 30 s.
PROJECTION_RETRY = RetryPolicy(
    initial_interval=timedelta(milliseconds=200),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(seconds=30),
)

Progress = SendFinished | TimerFired


@workflow.defn(name=ENROLLMENT_WORKFLOW)
class EnrollmentWorkflow:
    @workflow.init
    def __init__(self, input: EnrollmentInput) -> None:
        self._input = input
        self._state: JourneyState = input.state or initial_state(input.enrollment_id)
        # Step records not yet written to the projection; they ride on the next activity.
        self._pending: list[StepRecord] = []

    @workflow.run
    async def run(self, input: EnrollmentInput) -> EnrollmentResult:
        definition = input.definition
        outcome: Started | Progress = Started(now=workflow.now())
        while True:
            self._state, commands = step(definition, self._state, outcome)
            next_outcome: Progress | None = None
            for command in commands:
                if isinstance(command, RecordStep):
                    self._pending.append(command.record)
                elif isinstance(command, SendMessage):
                    next_outcome = await self._send(command)
                elif isinstance(command, StartTimer):
                    next_outcome = await self._sleep(command)
                elif isinstance(command, Finish):
                    workflow.set_current_details(f"**{command.status}**" + _reason(command.reason))
                    await self._flush()
                    return EnrollmentResult(
                        status=command.status,
                        converted=self._state.converted,
                        completed_at=command.at,
                    )
            if next_outcome is None:
                raise ApplicationError("the interpreter returned nothing to wait for", non_retryable=True)
            outcome = next_outcome

    @workflow.query(name="state")
    def state(self) -> EnrollmentStateView:
        return EnrollmentStateView(
            enrollment_id=self._input.enrollment_id,
            journey_id=self._input.journey_id,
            version=self._input.version,
            status=self._state.status,
            current_node_id=self._state.current_node_id,
            waiting_until=self._state.waiting_until,
            converted=self._state.converted,
            path=self._state.path,
        )

    async def _send(self, command: SendMessage) -> SendFinished:
        channel = command.config.channel
        workflow.set_current_details(f"Sending **{channel}** at step *{command.node_name}*")
        batch = self._progress()
        request = SendRequest(
            tenant_id=self._input.tenant_id,
            journey_id=self._input.journey_id,
            enrollment_id=self._input.enrollment_id,
            customer_id=self._input.customer_id,
            node_id=command.node_id,
            visit=command.visit,
            idempotency_key=command.idempotency_key,
            config=command.config,
            progress=batch,
        )
        try:
            result = await workflow.execute_activity(
                SEND_MESSAGE,
                request,
                result_type=SendResult,
                start_to_close_timeout=SEND_START_TO_CLOSE,
                schedule_to_close_timeout=SEND_SCHEDULE_TO_CLOSE,
                retry_policy=SEND_RETRY,
                summary=f"send {channel} · {command.node_name}",
            )
        except ActivityError as error:
            # The batch may not have landed; upserts are idempotent, so keep it for the next write.
            cause = error.cause
            reason = cause.message if isinstance(cause, ApplicationError) else str(cause or error)
            return SendFinished(
                node_id=command.node_id,
                visit=command.visit,
                now=workflow.now(),
                outcome="failed",
                error=reason,
            )
        self._delivered(batch)
        return SendFinished(
            node_id=command.node_id,
            visit=command.visit,
            now=workflow.now(),
            outcome=result.outcome,
            error=result.error,
        )

    async def _sleep(self, command: StartTimer) -> TimerFired:
        until = command.until.isoformat()
        workflow.set_current_details(f"Waiting at *{command.node_name}* until {until}")
        await self._flush()
        remaining = command.until - workflow.now()
        if remaining > timedelta(0):
            await workflow.sleep(remaining, summary=f"wait · {command.node_name} until {until}")
        return TimerFired(node_id=command.node_id, visit=command.visit, now=workflow.now())

    async def _flush(self) -> None:
        batch = self._progress()
        await workflow.execute_activity(
            RECORD_PROGRESS,
            batch,
            start_to_close_timeout=PROJECTION_START_TO_CLOSE,
            retry_policy=PROJECTION_RETRY,
            summary=f"record progress · {self._state.status} at {self._state.current_node_id}",
        )
        self._delivered(batch)

    def _progress(self) -> ProgressBatch:
        return ProgressBatch(enrollment=self._snapshot(), steps=list(self._pending))

    def _delivered(self, batch: ProgressBatch) -> None:
        self._pending = self._pending[len(batch.steps) :]

    def _snapshot(self) -> EnrollmentSnapshot:
        source = self._input
        return EnrollmentSnapshot(
            tenant_id=source.tenant_id,
            enrollment_id=source.enrollment_id,
            journey_id=source.journey_id,
            version=source.version,
            customer_id=source.customer_id,
            entry_number=source.entry_number,
            workflow_id=workflow.info().workflow_id,
            status=self._state.status,
            converted=self._state.converted,
            current_step_id=self._state.current_node_id,
            waiting_until=self._state.waiting_until,
            enrolled_at=source.enrolled_at,
            completed_at=self._state.completed_at,
        )


def _reason(reason: str | None) -> str:
    return f": {reason}" if reason else ""
