"""EnrollmentWorkflow: one per enrollment, a thin executor of the interpreter's commands.

The interpreter (pure, in `domain`) decides; this shell runs activities and waits, feeds their
outcomes and the signals it receives back, keeps the projection batch, and tells operators where
the enrollment is. Nothing here reads the clock, the network or the disk except through
Temporal's APIs.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError, FailureError
from temporalio.exceptions import TimeoutError as ActivityTimeoutError

with workflow.unsafe.imports_passed_through():
    from domain.actions import EnrollmentAction, VersionMove, action_refusal, version_move_refusal
    from domain.events import EventRecord
    from domain.interpreter import (
        ActionRequested,
        AnyCommand,
        AnyInput,
        EventReceived,
        ExitRequested,
        Finish,
        JourneyState,
        PauseRequested,
        ProfileRead,
        ProfileUpdated,
        ReadProfile,
        RecordStep,
        Resumed,
        ResumeRequested,
        SendFinished,
        SendMessage,
        Started,
        StepRecord,
        TimeReached,
        TraitsChanged,
        UnexpectedInputError,
        UpdateProfile,
        VersionMoved,
        Wait,
        customer_clock_matters,
        initial_state,
        step,
    )
    from domain.metrics import ENROLLMENTS_ENDED, ENROLLMENTS_STARTED, STEPS
    from domain.payloads import (
        ENROLLMENT_WORKFLOW,
        SIGNAL_EVENT,
        SIGNAL_EXIT,
        SIGNAL_PAUSE,
        SIGNAL_RESUME,
        SIGNAL_TRAITS,
        UPDATE_ACTION,
        UPDATE_MIGRATE,
        ControlSignal,
        EnrollmentInput,
        EnrollmentResult,
        EnrollmentSnapshot,
        EnrollmentStateView,
        EventSignal,
        JourneyControl,
        JourneyControlRequest,
        ProfileReadRequest,
        ProfileSnapshot,
        ProfileUpdateRequest,
        ProfileUpdateResult,
        ProgressBatch,
        SendRequest,
        SendResult,
        TraitsSignal,
    )
    from domain.schedule import quiet_hours_end, resolve_zone

# Activity names (the activities live in another package; workflows reference them by name).
SEND_MESSAGE = "send_message"
RECORD_PROGRESS = "record_progress"
READ_PROFILE = "read_profile"
UPDATE_PROFILE = "update_profile"
READ_JOURNEY_CONTROL = "read_journey_control"

SEND_START_TO_CLOSE = timedelta(seconds=15)
# Transient failures (SMTP down, timeouts) retry with backoff for up to a day, then the step fails.
SEND_SCHEDULE_TO_CLOSE = timedelta(days=1)
SEND_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=1),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(minutes=5),
)
# Profile reads and writes and projections must land eventually: retried without limit.
STORE_START_TO_CLOSE = timedelta(seconds=15)
# Patch: profile reads/updates and the final projection write run as local activities (short,
# idempotent database work: no server round trip, one marker event instead of three), and a wait
# shorter than the tolerance below does not write the projection first (it would show the step
# at most that late). Histories recorded before this patch replay through the old path.
LOCAL_STORE_PATCH = "local-store-activities-v1"
PROJECTION_LAG_TOLERANCE = timedelta(seconds=10)
# Patch: a send that falls inside the journey's quiet hours waits for the window's end (a timer that
# signals interrupt). Histories recorded before it replay without the hold.
QUIET_HOURS_PATCH = "quiet-hours-v1"
# Patch: the interpreter holds such a send itself (a `Wait` until the window's end, under the goal
# deadline, carried out like any wait), and the send request no longer carries the quiet hours.
# Asked only when the interpreter holds a send, so enrollments that never meet quiet hours record no
# marker. Histories recorded before it replay with the shell's hold (QUIET_HOURS_PATCH, in `_send`).
INTERPRETER_QUIET_HOURS_PATCH = "interpreter-quiet-hours-v1"
# Patch: CONDITION rules read the enrollment context (`domain.context`); see `_step`.
ENROLLMENT_CONTEXT_PATCH = "enrollment-context-v1"
# Patch: the customer's clock. Quiet hours and SEND windows are read in the customer's `timezone` trait
# (a SEND that needs it reads the profile first, once per enrollment), a SEND outside its window holds,
# and a step says why an unusable zone was ignored. Asked only when the interpreter decides differently
# with it than without (`_step`), so enrollments it changes nothing for record no marker; histories from
# before it replay with quiet hours in the journey's zone.
CUSTOMER_CLOCK_PATCH = "customer-clock-v1"
# Patch: the lean enrollment. Sends run as local activities (the same `send_message` activity, request,
# idempotency key and retry horizon: a day, with the same backoff; a backoff longer than the SDK's local
# retry threshold becomes a workflow timer) and every projection write is a local activity, the one
# before a long wait included: an enrollment costs no activity round trips through the server, only
# markers, and its effects between two waits run in one workflow task. Asked first wherever it changes
# a decision (`_lean`); LOCAL_STORE_PATCH is asked only when this one is False, so a new enrollment
# records this marker alone, and histories from before it replay through their old paths.
LEAN_PATCH = "lean-enrollment-v1"
# Patch: the journey's control state. Before a wait's end (a timer, or a signal) moves the enrollment on
# to another node, it reads whether its journey is paused with mode `all` (`read_journey_control`, a local
# activity answering from a per-worker cache of about a second) and, if so, holds before that node as a
# `pause` signal would have made it: a pause reaches every enrollment within seconds without a signal
# each (the control workflow's signals still follow, as a nudge). Asked only when a read is due, so an
# enrollment that only sleeps, absorbs events or moves on right after its start records no marker;
# histories from before it replay without the reads.
JOURNEY_CONTROL_PATCH = "journey-control-read-v1"
# What the enrollment knows of its journey's control state stays good for this long of workflow time:
# its start (the journey took the entry, so it was live) and each read count, so a step this soon after
# one needs no read (a WAIT of a second between two sends costs nothing). A pause therefore holds every
# enrollment within this plus the worker's cache time (JOURNEYS_CONTROL_CACHE_SECONDS) of its request.
# It decides where histories recorded under JOURNEY_CONTROL_PATCH read: changing it needs a new patch id.
CONTROL_FRESH_FOR = timedelta(seconds=3)
CONTROL_READ_START_TO_CLOSE = timedelta(seconds=5)
# A local activity's failure reaches the workflow as it was raised (an ApplicationError, or a timeout),
# not wrapped in an ActivityError as an ordinary activity's is.
LOCAL_FAILURES = (ApplicationError, ActivityTimeoutError)
# The ApplicationError type an Update is refused with (in its validator, or when it is applied).
ACTION_REFUSED = "ActionRefused"
STORE_RETRY = RetryPolicy(
    initial_interval=timedelta(milliseconds=200),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(seconds=30),
)


@dataclass
class _Inbound:
    """A signal or an Update not yet fed to the interpreter. `payload`: the event, the changed traits, the
    action or the version move; `ticket`: the Update waiting for its answer."""

    name: str
    payload: EventRecord | dict[str, Any] | EnrollmentAction | VersionMove | None = None
    reason: str | None = None
    ticket: int | None = None


@workflow.defn(name=ENROLLMENT_WORKFLOW)
class EnrollmentWorkflow:
    @workflow.init
    def __init__(self, input: EnrollmentInput) -> None:
        self._input = input
        self._state = input.state or initial_state(
            input.enrollment_id,
            input.journey_id,
            input.customer_id,
            journey_name=input.journey_name,
            journey_version=input.version,
        )
        # Step records not yet written to the projection; they ride on the next activity (on the lean
        # path, once they are due: `_carried`), and since when the oldest has waited.
        self._pending: list[StepRecord] = []
        self._stale_since: datetime | None = None
        self._last_written: EnrollmentSnapshot | None = None
        # Signals and Updates not yet fed to the interpreter, in arrival order.
        self._signals: list[_Inbound] = []
        # Updates taken from the queue, not yet applied: (ticket, why it is refused or None).
        self._taken: list[tuple[int, str | None]] = []
        # Updates applied: ticket -> why it was refused (None: applied).
        self._answers: dict[int, str | None] = {}
        self._tickets = 0
        # CUSTOMER_CLOCK_PATCH's answer once asked (None: not yet needed); True outright for a journey
        # where the customer's clock changes nothing.
        self._customer_clock: bool | None = None if customer_clock_matters(input.definition) else True
        # Set when this run replays a history from before INTERPRETER_QUIET_HOURS_PATCH: the shell holds
        # sends in quiet hours, as it did then.
        self._shell_holds_quiet_hours = False
        # When the enrollment last knew its journey's control state (JOURNEY_CONTROL_PATCH): its start,
        # then each read; None in a run continued as new, whose first step after a wait reads it.
        self._control_known_at: datetime | None = None

    # ---- signals and query --------------------------------------------------------------------

    @workflow.signal(name=SIGNAL_EVENT)
    def event(self, signal: EventSignal) -> None:
        self._signals.append(_Inbound(SIGNAL_EVENT, signal.event))

    # Control signals take an optional ControlSignal: an operator's bare `temporal workflow signal
    # --name pause` (no input) must not fail the workflow task over a missing argument.
    @workflow.signal(name=SIGNAL_PAUSE)
    def pause(self, signal: ControlSignal | None = None) -> None:
        self._signals.append(_Inbound(SIGNAL_PAUSE, reason=signal.reason if signal is not None else None))

    @workflow.signal(name=SIGNAL_RESUME)
    def resume(self, signal: ControlSignal | None = None) -> None:
        self._signals.append(_Inbound(SIGNAL_RESUME, reason=signal.reason if signal is not None else None))

    @workflow.signal(name=SIGNAL_EXIT)
    def exit(self, signal: ControlSignal | None = None) -> None:
        self._signals.append(_Inbound(SIGNAL_EXIT, reason=signal.reason if signal is not None else None))

    @workflow.signal(name=SIGNAL_TRAITS)
    def traits(self, signal: TraitsSignal) -> None:
        self._signals.append(_Inbound(SIGNAL_TRAITS, dict(signal.traits)))

    # ---- Updates: an operator's action, a migration's move (validated before anything is written) ----

    @workflow.update(name=UPDATE_ACTION)
    async def act(self, action: EnrollmentAction) -> EnrollmentStateView:
        return await self._answered(_Inbound(UPDATE_ACTION, action))

    @act.validator
    def _validate_action(self, action: EnrollmentAction) -> None:
        _refuse(action_refusal(self._input.definition, self._state, action))

    @workflow.update(name=UPDATE_MIGRATE)
    async def migrate(self, move: VersionMove) -> EnrollmentStateView:
        return await self._answered(_Inbound(UPDATE_MIGRATE, move))

    @migrate.validator
    def _validate_move(self, move: VersionMove) -> None:
        _refuse(version_move_refusal(self._state, self._input.version, move))

    async def _answered(self, inbound: _Inbound) -> EnrollmentStateView:
        """Queue the Update with the signals (in arrival order) and answer once the loop has fed it: the
        enrollment's state then, or the refusal when it no longer applied (the enrollment moved on)."""
        self._tickets += 1
        ticket = inbound.ticket = self._tickets
        self._signals.append(inbound)
        await workflow.wait_condition(lambda: ticket in self._answers)
        _refuse(self._answers.pop(ticket))
        return self.state()

    @workflow.query(name="state")
    def state(self) -> EnrollmentStateView:
        state = self._state
        return EnrollmentStateView(
            enrollment_id=self._input.enrollment_id,
            journey_id=self._input.journey_id,
            version=self._input.version,
            status=state.status,
            current_node_id=state.current_node_id,
            waiting_until=state.waiting_until,
            converted=state.converted,
            path=state.path,
            paused=state.paused,
            awaiting=state.awaiting,
            goal_deadline=state.goal_deadline,
            exit_reason=state.exit_reason,
        )

    # ---- the loop -----------------------------------------------------------------------------

    @workflow.run
    async def run(self, input: EnrollmentInput) -> EnrollmentResult:
        # The meter records nothing while replaying, so a counted transition is counted once.
        meter = workflow.metric_meter()
        steps = meter.create_counter(STEPS, "Steps finished, by node type and status")
        first: AnyInput
        if input.state is None:
            meter.create_counter(ENROLLMENTS_STARTED, "Enrollments started").add(1)
            first = Started(now=workflow.now(), trigger_event=input.trigger_event)
            self._control_known_at = workflow.now()
        else:
            first = Resumed(now=workflow.now())
        self._state, commands = self._step(first)
        while True:
            blocking: AnyCommand | None = None
            for command in commands:
                if isinstance(command, RecordStep):
                    if self._stale_since is None:
                        self._stale_since = workflow.now()
                    self._pending.append(command.record)
                    if command.record.completed_at is not None:
                        steps.add(1, {"node_type": command.record.node_type, "status": command.record.status})
                elif isinstance(command, Finish):
                    meter.create_counter(ENROLLMENTS_ENDED, "Enrollments ended, by status").add(
                        1, {"status": command.status}
                    )
                    workflow.set_current_details(f"**{command.status}**" + _reason(command.reason))
                    await self._write_progress(final=True)
                    # An Update that ended it (an operator's exit) answers before the run closes.
                    await workflow.wait_condition(workflow.all_handlers_finished)
                    return EnrollmentResult(
                        status=command.status,
                        converted=self._state.converted,
                        completed_at=command.at,
                        reason=command.reason,
                    )
                else:
                    blocking = command
            self._describe()
            # Signals first: an exit or an event never waits behind the next effect.
            # A signal or a wait's end (not an effect's outcome) may move the enrollment on to another
            # node: the journey's control state is consulted first.
            if self._signals:
                outcome = self._take_signal()
                await self._consult_journey(outcome)
            elif isinstance(blocking, Wait):
                outcome = await self._wait(blocking)
                await self._consult_journey(outcome)
            elif isinstance(blocking, SendMessage):
                outcome = await self._send(blocking)
            elif isinstance(blocking, ReadProfile):
                outcome = await self._read_profile(blocking)
            elif isinstance(blocking, UpdateProfile):
                outcome = await self._update_profile(blocking)
            else:
                raise ApplicationError("the interpreter returned nothing to wait on", non_retryable=True)
            self._state, commands = self._step(outcome)
            if isinstance(outcome, VersionMoved):
                self._adopt(outcome.move)
            self._answer_taken()

    def _answer_taken(self) -> None:
        """Answer the Updates fed to the interpreter since the last step (their handlers run at the loop's
        next await, and read the state as it is then)."""
        for ticket, refusal in self._taken:
            self._answers[ticket] = refusal
        self._taken.clear()

    def _adopt(self, move: VersionMove) -> None:
        """Run the version a migration moved the enrollment to: its definition from here on (the projection,
        sends' destinations and a continue-as-new read `version`)."""
        if self._customer_clock is True and not customer_clock_matters(self._input.definition):
            # True only because the old version had no use for the customer's clock: ask again.
            self._customer_clock = None if customer_clock_matters(move.definition) else True
        self._input = self._input.model_copy(
            update={
                "definition": move.definition,
                "version": move.to_version,
                "journey_name": move.journey_name or self._input.journey_name,
            }
        )

    def _step(self, outcome: AnyInput) -> tuple[JourneyState, list[AnyCommand]]:
        definition = self._input.definition
        state, commands = step(
            definition, self._state, outcome, customer_clock=self._customer_clock is not False
        )
        if self._customer_clock is None:
            # The customer's clock. Asked only when it changes what the interpreter decides (a profile
            # read before a send, a hold in another zone or for a window, a step's detail), so only such
            # enrollments record the marker; histories from before it replay without it.
            try:
                before: tuple[JourneyState, list[AnyCommand]] | None = step(
                    definition, self._state, outcome, customer_clock=False
                )
            except UnexpectedInputError:  # an input only the clock's path expects (its profile read)
                before = None
            if before is None or before[1] != commands:
                self._customer_clock = workflow.patched(CUSTOMER_CLOCK_PATCH)
                if not self._customer_clock:
                    if before is None:
                        raise ApplicationError("a history without the customer's clock read a send's zone")
                    state, commands = before
        clock = self._customer_clock is not False
        if isinstance(outcome, ProfileRead):
            # A CONDITION decides here. Asked only when its rules read the context differently from
            # before it (`event` the last matched event, `entry`, `journey`), so only such enrollments
            # record the marker; histories from before it replay with what rules read then.
            legacy = step(definition, self._state, outcome, legacy_context=True, customer_clock=clock)
            if legacy[1] != commands and not workflow.patched(ENROLLMENT_CONTEXT_PATCH):
                state, commands = legacy
        if state.awaiting == "quiet_hours" and not workflow.patched(INTERPRETER_QUIET_HOURS_PATCH):
            # Recorded before the interpreter held sends: the same input without its hold (the
            # interpreter is pure, so asking again is free); `_send` holds the send instead.
            self._shell_holds_quiet_hours = True
            state, commands = step(
                definition, self._state, outcome, hold_quiet_hours=False, customer_clock=clock
            )
        return state, commands

    # ---- the journey's control state ----------------------------------------------------------

    async def _consult_journey(self, outcome: AnyInput) -> None:
        """Before feeding a signal or a wait's end that moves the enrollment on to another node: if its
        journey now holds every enrollment (paused, mode `all`), pause first, so it holds before that node.
        Never un-pauses: a hold by an operator stays until a `resume` signal."""
        state = self._state
        if state.paused:
            return  # holds before any node already, or this input is the resume that releases it
        known = self._control_known_at
        if known is not None and workflow.now() - known < CONTROL_FRESH_FOR:
            return
        if not self._enters_node(outcome) or not workflow.patched(JOURNEY_CONTROL_PATCH):
            return
        self._control_known_at = workflow.now()
        control: JourneyControl = await workflow.execute_local_activity(
            READ_JOURNEY_CONTROL,
            JourneyControlRequest(tenant_id=self._input.tenant_id, journey_id=self._input.journey_id),
            result_type=JourneyControl,
            start_to_close_timeout=CONTROL_READ_START_TO_CLOSE,
            # The database is needed for the step anyway (its projection): retried until it answers.
            retry_policy=STORE_RETRY,
            summary="read the journey's control state",
        )
        if control.held and not self._state.paused:
            self._state, _ = self._step(PauseRequested(now=workflow.now()))

    def _enters_node(self, outcome: AnyInput) -> bool:
        """Whether feeding `outcome` enters another node (the interpreter is pure: asking is free)."""
        try:
            after, _ = step(
                self._input.definition, self._state, outcome, customer_clock=self._customer_clock is not False
            )
        except UnexpectedInputError:
            return False
        return after.visits != self._state.visits

    # ---- carrying out commands ----------------------------------------------------------------

    def _take_signal(self) -> AnyInput:
        inbound = self._signals.pop(0)
        name, event, reason = inbound.name, inbound.payload, inbound.reason
        now = workflow.now()
        if inbound.ticket is not None:
            # An Update: judged again now (the enrollment may have moved on since its validator ran); a
            # refused one changes nothing.
            if isinstance(event, EnrollmentAction):
                refusal = action_refusal(self._input.definition, self._state, event)
                answer: AnyInput = ActionRequested(now=now, action=event)
            else:
                assert isinstance(event, VersionMove)
                refusal = version_move_refusal(self._state, self._input.version, event)
                answer = VersionMoved(now=now, version=self._input.version, move=event)
            # Answered once the loop has applied it (`_answer_taken`): its answer is the state after it.
            self._taken.append((inbound.ticket, refusal))
            return Resumed(now=now) if refusal is not None else answer
        if name == SIGNAL_EVENT and isinstance(event, EventRecord):
            return EventReceived(now=now, event=event)
        if name == SIGNAL_TRAITS and isinstance(event, dict):
            return TraitsChanged(now=now, traits=event)
        if name == SIGNAL_PAUSE:
            return PauseRequested(now=now)
        if name == SIGNAL_RESUME:
            return ResumeRequested(now=now)
        return ExitRequested(now=now, reason=reason or "exited")

    async def _send(self, command: SendMessage) -> AnyInput:
        settings = self._input.definition.settings
        if self._shell_holds_quiet_hours:
            held = await self._hold_for_quiet_hours(command)
            if held is not None:
                return held
        batch = self._carried()
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
            frequency_caps=settings.frequency_caps,
            rate_limit=settings.rate_limit,
            context={**command.context, "journey": self._journey_context()},
            # The send reads the node's destination as stored now (an activity input: no new command).
            version=self._input.version,
        )
        if self._shell_holds_quiet_hours and settings.quiet_hours is not None:
            # As histories from before INTERPRETER_QUIET_HOURS_PATCH recorded it (the activity ignores it).
            request.quiet_hours, request.timezone = settings.quiet_hours, settings.timezone
        summary = f"send {command.config.channel} · {command.node_name}"
        try:
            # Local on the lean path: a worker lost mid-send runs it again from the last workflow task
            # (the idempotency key settles a send that landed, and gives a repeated email the same
            # Message-ID).
            result: SendResult = await self._effect(
                SEND_MESSAGE,
                request,
                SendResult,
                summary,
                local=self._lean(),
                start_to_close=SEND_START_TO_CLOSE,
                schedule_to_close=SEND_SCHEDULE_TO_CLOSE,
                retry=SEND_RETRY,
            )
        except (ActivityError, *LOCAL_FAILURES) as error:
            # The batch may not have landed; upserts are idempotent, so it stays for the next write.
            return SendFinished(
                node_id=command.node_id,
                visit=command.visit,
                now=workflow.now(),
                outcome="failed",
                error=_failure(error),
            )
        self._written(batch)
        return SendFinished(
            node_id=command.node_id,
            visit=command.visit,
            now=workflow.now(),
            outcome=result.outcome,
            error=result.error,
        )

    async def _hold_for_quiet_hours(self, command: SendMessage) -> AnyInput | None:
        """The shell's quiet-hours hold, for histories from before INTERPRETER_QUIET_HOURS_PATCH: an
        input to feed instead of sending (a signal, or the goal deadline), or None to send now."""
        settings = self._input.definition.settings
        quiet = settings.quiet_hours
        if quiet is not None:
            # Quiet hours are read in the journey's time zone: the customer's `timezone` trait is not
            # known here without a profile read, which would cost every send an activity.
            now = workflow.now()
            until = quiet_hours_end(now, quiet.start, quiet.end, resolve_zone(None, settings.timezone))
            # Asked only when a hold is due, so sends outside quiet hours record no marker.
            if until is not None and workflow.patched(QUIET_HOURS_PATCH):
                state = self._state
                goal_deadline = None if state.converted or state.abandoned else state.goal_deadline
                wake = until if goal_deadline is None else min(until, goal_deadline)
                label = f"quiet hours until {until.isoformat()}"
                workflow.set_current_details(f"At *{command.node_name}* (SEND) · {label}")
                changed = bool(self._pending) or self._snapshot() != self._last_written
                if changed and wake - now > PROJECTION_LAG_TOLERANCE:
                    await self._write_progress()
                # Signals end the hold: an exit or a matching exit event during the night must not
                # wait for the morning (and then send anyway); the send is re-issued and held again.
                remaining = wake - workflow.now()
                if remaining > timedelta(0):
                    try:
                        await workflow.wait_condition(
                            lambda: bool(self._signals),
                            timeout=remaining,
                            timeout_summary=f"{label} · {command.node_name}",
                        )
                    except TimeoutError:
                        pass
                    else:
                        return self._take_signal()
                if workflow.now() < until:
                    return TimeReached(now=workflow.now())  # the goal deadline came first
        return None

    async def _read_profile(self, command: ReadProfile) -> ProfileRead:
        batch = self._carried()
        request = ProfileReadRequest(
            tenant_id=self._input.tenant_id, customer_id=self._input.customer_id, progress=batch
        )
        snapshot = await self._store_effect(
            READ_PROFILE,
            request,
            ProfileSnapshot,
            f"read profile · {command.node_name}",
            local=self._lean() or workflow.patched(LOCAL_STORE_PATCH),
        )
        self._written(batch)
        return ProfileRead(
            node_id=command.node_id,
            visit=command.visit,
            now=workflow.now(),
            traits=snapshot.traits,
            segments=snapshot.segments,
        )

    async def _update_profile(self, command: UpdateProfile) -> ProfileUpdated:
        batch = self._carried()
        request = ProfileUpdateRequest(
            tenant_id=self._input.tenant_id,
            customer_id=self._input.customer_id,
            idempotency_key=command.idempotency_key,
            updates=command.updates,
            progress=batch,
        )
        try:
            await self._store_effect(
                UPDATE_PROFILE,
                request,
                ProfileUpdateResult,
                f"update profile · {command.node_name}",
                local=self._lean() or workflow.patched(LOCAL_STORE_PATCH),
            )
        except LOCAL_FAILURES as error:
            if not self._lean():
                raise  # as histories from LOCAL_STORE_PATCH recorded it: the workflow failed
            return ProfileUpdated(
                node_id=command.node_id, visit=command.visit, now=workflow.now(), error=_failure(error)
            )
        except ActivityError as error:
            return ProfileUpdated(
                node_id=command.node_id, visit=command.visit, now=workflow.now(), error=_failure(error)
            )
        self._written(batch)
        return ProfileUpdated(node_id=command.node_id, visit=command.visit, now=workflow.now())

    async def _wait(self, command: Wait) -> AnyInput:
        changed = bool(self._pending) or self._snapshot() != self._last_written
        short = command.until is not None and command.until - workflow.now() <= PROJECTION_LAG_TOLERANCE
        if changed and not (short and (self._lean() or workflow.patched(LOCAL_STORE_PATCH))):
            await self._write_progress()
        if (
            workflow.info().is_continue_as_new_suggested()
            and not self._signals
            and workflow.all_handlers_finished()
        ):
            if self._lean() and (self._pending or self._snapshot() != self._last_written):
                await self._write_progress()  # what a short wait left pending, lest the next run lose it
            workflow.continue_as_new(self._input.model_copy(update={"state": self._state}))
        timeout = None if command.until is None else command.until - workflow.now()
        if timeout is not None and timeout <= timedelta(0):
            return TimeReached(now=workflow.now())
        try:
            await workflow.wait_condition(
                lambda: bool(self._signals), timeout=timeout, timeout_summary=f"wait · {command.label}"
            )
        except TimeoutError:
            return TimeReached(now=workflow.now())
        return self._take_signal()

    async def _write_progress(self, *, final: bool = False) -> None:
        batch = self._progress()
        await self._store_effect(
            RECORD_PROGRESS,
            batch,
            None,
            f"record progress · {self._state.status} at {self._state.current_node_id}",
            # LOCAL_STORE_PATCH evaluated only for the final write, exactly as histories recorded it.
            local=self._lean() or (final and workflow.patched(LOCAL_STORE_PATCH)),
        )
        self._written(batch)

    def _lean(self) -> bool:
        """LEAN_PATCH: recorded (once) where a new enrollment first meets a decision it changes; False
        for the rest of a run replayed from a history without it (the SDK memoizes the answer)."""
        return workflow.patched(LEAN_PATCH)

    async def _store_effect(
        self, name: str, argument: Any, result_type: type[Any] | None, summary: str, *, local: bool
    ) -> Any:
        """Short, idempotent database work (profile, projection)."""
        return await self._effect(
            name,
            argument,
            result_type,
            summary,
            local=local,
            start_to_close=STORE_START_TO_CLOSE,
            schedule_to_close=None,
            retry=STORE_RETRY,
        )

    async def _effect(
        self,
        name: str,
        argument: Any,
        result_type: type[Any] | None,
        summary: str,
        *,
        local: bool,
        start_to_close: timedelta,
        schedule_to_close: timedelta | None,
        retry: RetryPolicy,
    ) -> Any:
        """One effect as a local activity or an ordinary one, with the same options either way."""
        if local:
            return await workflow.execute_local_activity(
                name,
                argument,
                result_type=result_type,
                start_to_close_timeout=start_to_close,
                schedule_to_close_timeout=schedule_to_close,
                retry_policy=retry,
                summary=summary,
            )
        return await workflow.execute_activity(
            name,
            argument,
            result_type=result_type,
            start_to_close_timeout=start_to_close,
            schedule_to_close_timeout=schedule_to_close,
            retry_policy=retry,
            summary=summary,
        )

    def _journey_context(self) -> dict[str, Any]:
        source = self._input
        return {"id": source.journey_id, "name": source.journey_name, "version": source.version}

    # ---- projection bookkeeping ---------------------------------------------------------------

    def _progress(self) -> ProgressBatch:
        return ProgressBatch(enrollment=self._snapshot(), steps=list(self._pending))

    def _carried(self) -> ProgressBatch | None:
        """The batch a send or profile effect carries. On the lean path only once it is due (waiting
        longer than PROJECTION_LAG_TOLERANCE, e.g. after a slow send): the effects between two waits
        run in one workflow task within seconds, so the write before the next long wait, or the final
        one, takes them all in one transaction instead of one per effect."""
        if self._lean() and not (
            self._stale_since is not None and workflow.now() - self._stale_since > PROJECTION_LAG_TOLERANCE
        ):
            return None
        return self._progress()

    def _written(self, batch: ProgressBatch | None) -> None:
        if batch is None:
            return
        self._pending = self._pending[len(batch.steps) :]
        self._last_written = batch.enrollment
        if not self._pending:
            self._stale_since = None

    def _snapshot(self) -> EnrollmentSnapshot:
        source, state = self._input, self._state
        return EnrollmentSnapshot(
            tenant_id=source.tenant_id,
            enrollment_id=source.enrollment_id,
            journey_id=source.journey_id,
            version=source.version,
            customer_id=source.customer_id,
            entry_number=source.entry_number,
            workflow_id=workflow.info().workflow_id,
            status=state.status,
            converted=state.converted,
            current_step_id=state.current_node_id,
            waiting_until=state.waiting_until,
            enrolled_at=source.enrolled_at,
            completed_at=state.completed_at,
            exit_reason=state.exit_reason,
            converted_at=state.converted_at,
            # An activity input, not a command: a history recorded before it replays the same.
            test=source.test,
        )

    def _describe(self) -> None:
        """Current details for operators in the Temporal UI: where the enrollment is and why."""
        state = self._state
        if state.awaiting == "resume":
            details = f"**Paused** before *{state.held_node_id}*"
        elif state.current_node_id is None:
            details = "Starting"
        else:
            node = self._input.definition.node(state.current_node_id)
            details = f"At *{node.name or node.id}* ({node.type})"
            if state.waiting_until is not None:
                details += f" · waiting until {state.waiting_until.isoformat()}"
            elif state.awaiting == "event":
                details += " · waiting for an event"
        if state.converted:
            details += " · converted"
        workflow.set_current_details(details)


def _refuse(refusal: str | None) -> None:
    if refusal is not None:
        raise ApplicationError(refusal, type=ACTION_REFUSED, non_retryable=True)


def _failure(error: FailureError) -> str:
    cause = error.cause if isinstance(error, ActivityError) else error
    return cause.message if isinstance(cause, ApplicationError) else str(cause or error)


def _reason(reason: str | None) -> str:
    return f": {reason}" if reason else ""
