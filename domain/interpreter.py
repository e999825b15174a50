"""The journey interpreter: a pure function from (definition, state, input) to (state, commands).

It decides *what* happens next; the enrollment workflow carries the commands out (activities,
timers, waits for signals) and feeds their outcome back as the next input. Nothing here does I/O
or reads a clock: time arrives inside the inputs, so the same inputs always give the same
commands, which is what makes Temporal replays of an enrollment exact.

One rule keeps the shell simple: after any input, an active enrollment's command list ends with
exactly one *blocking* command — the effect it now waits on (a send, a profile read or update, or
a `Wait` for a signal or a deadline). An input that does not concern that effect (an event, a
pause, a duplicate) is absorbed and the same blocking command is issued again, so the shell may
feed signals at any point between effects.

Node semantics (SPEC §5, §7):
- TRIGGER: entry, passes through.
- SEND: one message; outcome `sent`/`suppressed` continue, `failed` follows `onFailure` (fail|skip).
- WAIT: `duration`, or `until` a local time (customer's `timezone` trait, else the journey's), or
  `untilTrait` (a date trait ± offset; a missing or past date continues at once).
- WAIT_FOR_EVENT: `matched` on the first matching event since entry (events that arrived earlier
  in the enrollment are buffered, so an early event is not lost), `timeout` when the time is up.
- CONDITION: rules over fresh traits (read when the node is reached), the last event
  (`event.properties.x`) and segment membership (`segments` contains an id); bare fields are traits.
- SPLIT: sticky per customer — the branch comes from a hash of (journey, node, customer).
- UPDATE: profile updates, applied once per (enrollment, node, visit).
- GOAL_CHECK: `yes` when the journey goal has been reached.
- EXIT / END: the enrollment is COMPLETED.
Across nodes: the goal (event, page_visit, attribute_match, flow_completed) marks the enrollment
converted and exits it if `exitOnConversion`; its deadline passing unconverted exits it as
abandoned; an exit-criteria event exits it at once, even mid-wait; pause holds it before its next
step until resume; exit ends it.
"""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta
from typing import Annotated, Any, Literal

from pydantic import Field

from domain.definition import (
    ConditionNode,
    ExitNode,
    GoalCheckNode,
    JourneyDefinition,
    Node,
    ProfileUpdate,
    SendConfig,
    SendNode,
    SplitNode,
    TriggerNode,
    UpdateNode,
    WaitForEventNode,
    WaitNode,
)
from domain.durations import parse_duration
from domain.events import (
    EventRecord,
    event_document,
    exit_criteria_met,
    goal_reached_by_event,
    goal_reached_by_traits,
    matches,
)
from domain.rules import evaluate_rules
from domain.schedule import next_local_time, resolve_zone, until_trait
from domain.wire import WireModel

EnrollmentStatus = Literal["ACTIVE", "COMPLETED", "EXITED", "FAILED"]
StepStatus = Literal["ACTIVE", "COMPLETED", "FAILED", "SKIPPED", "EXITED"]
Awaiting = Literal["send", "profile", "update", "time", "event", "resume"]

# Nodes entered in one step without blocking; validation forbids wait-free cycles, this is the
# belt to that brace so a bad definition fails the enrollment instead of spinning a worker.
MAX_NODES_PER_STEP = 500
PATH_LIMIT = 200
SEEN_EVENTS_LIMIT = 500
BUFFERED_EVENTS_LIMIT = 50


class StepRecord(WireModel):
    """One visit of one node: the unit of step history."""

    node_id: str
    node_type: str
    name: str
    visit: int
    status: StepStatus
    started_at: datetime
    completed_at: datetime | None = None
    branch: str | None = None
    detail: str | None = None


class JourneyState(WireModel):
    """Everything an enrollment remembers between inputs; carried across continue-as-new."""

    schema_version: int = 2
    enrollment_id: str
    journey_id: str = ""
    customer_id: str = ""
    status: EnrollmentStatus = "ACTIVE"
    current_node_id: str | None = None
    waiting_until: datetime | None = None
    visits: dict[str, int] = Field(default_factory=dict)
    path: list[str] = Field(default_factory=list)
    converted: bool = False
    converted_at: datetime | None = None
    abandoned: bool = False
    completed_at: datetime | None = None
    exit_reason: str | None = None
    # The open step (entered, not yet left) and what it waits on.
    open_step: StepRecord | None = None
    awaiting: Awaiting | None = None
    step_deadline: datetime | None = None
    paused: bool = False
    held_node_id: str | None = None
    goal_deadline: datetime | None = None
    seen_event_ids: list[str] = Field(default_factory=list)
    buffered_events: list[EventRecord] = Field(default_factory=list)
    last_event: EventRecord | None = None


# ---- inputs ------------------------------------------------------------------------------------


class Started(WireModel):
    kind: Literal["started"] = "started"
    now: datetime
    trigger_event: EventRecord | None = None


class Resumed(WireModel):
    """After continue-as-new: nothing happened, re-issue what the enrollment waits on."""

    kind: Literal["resumed"] = "resumed"
    now: datetime


class SendFinished(WireModel):
    kind: Literal["send_finished"] = "send_finished"
    node_id: str
    visit: int
    now: datetime
    outcome: Literal["sent", "suppressed", "failed"]
    error: str | None = None


class ProfileRead(WireModel):
    kind: Literal["profile_read"] = "profile_read"
    node_id: str
    visit: int
    now: datetime
    traits: dict[str, Any] = Field(default_factory=dict)
    segments: list[str] = Field(default_factory=list)


class ProfileUpdated(WireModel):
    kind: Literal["profile_updated"] = "profile_updated"
    node_id: str
    visit: int
    now: datetime
    error: str | None = None


class TimeReached(WireModel):
    """A `Wait` ran out: some deadline (the step's or the goal's) may have passed."""

    kind: Literal["time_reached"] = "time_reached"
    now: datetime


class EventReceived(WireModel):
    kind: Literal["event_received"] = "event_received"
    now: datetime
    event: EventRecord


class PauseRequested(WireModel):
    kind: Literal["pause_requested"] = "pause_requested"
    now: datetime


class ResumeRequested(WireModel):
    kind: Literal["resume_requested"] = "resume_requested"
    now: datetime


class ExitRequested(WireModel):
    kind: Literal["exit_requested"] = "exit_requested"
    now: datetime
    reason: str = "exited"


AnyInput = (
    Started
    | Resumed
    | SendFinished
    | ProfileRead
    | ProfileUpdated
    | TimeReached
    | EventReceived
    | PauseRequested
    | ResumeRequested
    | ExitRequested
)
# The same union, parseable: the `kind` field says which input a payload is.
Input = Annotated[AnyInput, Field(discriminator="kind")]


# ---- commands ----------------------------------------------------------------------------------


class RecordStep(WireModel):
    kind: Literal["record_step"] = "record_step"
    record: StepRecord


class SendMessage(WireModel):
    kind: Literal["send_message"] = "send_message"
    node_id: str
    node_name: str
    visit: int
    idempotency_key: str
    config: SendConfig


class ReadProfile(WireModel):
    kind: Literal["read_profile"] = "read_profile"
    node_id: str
    node_name: str
    visit: int


class UpdateProfile(WireModel):
    kind: Literal["update_profile"] = "update_profile"
    node_id: str
    node_name: str
    visit: int
    idempotency_key: str
    updates: list[ProfileUpdate]


class Wait(WireModel):
    """Block until a signal arrives or `until` passes (None: no deadline, signals only)."""

    kind: Literal["wait"] = "wait"
    until: datetime | None
    label: str


class Finish(WireModel):
    kind: Literal["finish"] = "finish"
    status: EnrollmentStatus
    at: datetime
    reason: str | None = None


AnyCommand = RecordStep | SendMessage | ReadProfile | UpdateProfile | Wait | Finish
Command = Annotated[AnyCommand, Field(discriminator="kind")]
BLOCKING = (SendMessage, ReadProfile, UpdateProfile, Wait)


class UnexpectedInputError(ValueError):
    """An effect's outcome that does not belong to the step the enrollment is on (a shell bug)."""


def idempotency_key(enrollment_id: str, node_id: str, visit: int) -> str:
    return f"{enrollment_id}:{node_id}:{visit}"


def initial_state(enrollment_id: str, journey_id: str = "", customer_id: str = "") -> JourneyState:
    return JourneyState(enrollment_id=enrollment_id, journey_id=journey_id, customer_id=customer_id)


def split_bucket(journey_id: str, node_id: str, customer_id: str) -> float:
    """A customer's stable place in [0, 100) for one SPLIT node: re-entries land on the same branch."""
    digest = hashlib.sha256(f"{journey_id}:{node_id}:{customer_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64 * 100


def step(
    definition: JourneyDefinition, state: JourneyState, event: AnyInput
) -> tuple[JourneyState, list[AnyCommand]]:
    """Apply one input; return the new state and the commands to carry out, in order."""
    state = state.model_copy(deep=True)
    commands: list[AnyCommand] = []
    if state.status != "ACTIVE":
        return state, commands
    _Machine(definition, state, commands).apply(event)
    if state.status == "ACTIVE" and not any(isinstance(c, BLOCKING) for c in commands):
        commands.append(blocking_command(definition, state))
    return state, commands


def blocking_command(definition: JourneyDefinition, state: JourneyState) -> AnyCommand:
    """What an active enrollment waits on right now, derived from its state alone."""
    open_step = state.open_step
    if open_step is not None and state.awaiting in ("send", "profile", "update"):
        node = definition.node(open_step.node_id)
        name = node.name or node.type
        if state.awaiting == "send" and isinstance(node, SendNode):
            key = idempotency_key(state.enrollment_id, node.id, open_step.visit)
            return SendMessage(
                node_id=node.id,
                node_name=name,
                visit=open_step.visit,
                idempotency_key=key,
                config=node.config,
            )
        if state.awaiting == "update" and isinstance(node, UpdateNode):
            key = idempotency_key(state.enrollment_id, node.id, open_step.visit)
            return UpdateProfile(
                node_id=node.id,
                node_name=name,
                visit=open_step.visit,
                idempotency_key=key,
                updates=node.config.updates,
            )
        return ReadProfile(node_id=node.id, node_name=name, visit=open_step.visit)
    deadlines = [d for d in (_step_deadline(state), _goal_deadline(state)) if d is not None]
    return Wait(until=min(deadlines) if deadlines else None, label=_wait_label(definition, state))


def _step_deadline(state: JourneyState) -> datetime | None:
    return state.step_deadline if state.awaiting in ("time", "event") else None


def _goal_deadline(state: JourneyState) -> datetime | None:
    return None if state.converted or state.abandoned else state.goal_deadline


def _wait_label(definition: JourneyDefinition, state: JourneyState) -> str:
    if state.awaiting == "resume":
        return f"paused before {state.held_node_id}"
    if state.open_step is None:
        return "waiting"
    node = definition.node(state.open_step.node_id)
    what = "event " + node.config.event if isinstance(node, WaitForEventNode) else "time"
    return f"{node.name or node.type} · {what}"


class _Machine:
    """One application of one input; mutates the (already copied) state and appends commands."""

    def __init__(
        self, definition: JourneyDefinition, state: JourneyState, commands: list[AnyCommand]
    ) -> None:
        self.definition = definition
        self.state = state
        self.commands = commands

    # ---- dispatch -----------------------------------------------------------------------------

    def apply(self, event: AnyInput) -> None:
        if isinstance(event, Started):
            self._started(event)
        elif isinstance(event, SendFinished):
            self._send_finished(event)
        elif isinstance(event, ProfileRead):
            self._profile_read(event)
        elif isinstance(event, ProfileUpdated):
            self._profile_updated(event)
        elif isinstance(event, TimeReached):
            self._time_reached(event.now)
        elif isinstance(event, EventReceived):
            self._event_received(event.event, event.now)
        elif isinstance(event, PauseRequested):
            self.state.paused = True
        elif isinstance(event, ResumeRequested):
            self._resume(event.now)
        elif isinstance(event, ExitRequested):
            self._exit(event.now, event.reason)
        # Resumed: nothing happened; the caller re-issues the blocking command.

    # ---- inputs -------------------------------------------------------------------------------

    def _started(self, event: Started) -> None:
        goal = self.definition.goal
        if goal is not None and goal.deadline is not None:
            self.state.goal_deadline = event.now + timedelta(days=goal.deadline)
        if event.trigger_event is not None:
            self._remember(event.trigger_event)
        self._enter(self.definition.trigger().id, event.now)

    def _send_finished(self, event: SendFinished) -> None:
        node = self._expect("send", event.node_id, event.visit)
        assert isinstance(node, SendNode)
        if event.outcome == "failed" and node.config.on_failure == "fail":
            self._close(event.now, status="FAILED", detail=event.error)
            self._finish("FAILED", event.now, reason=event.error)
            return
        status: StepStatus = "SKIPPED" if event.outcome == "failed" else "COMPLETED"
        self._close(event.now, status=status, detail=event.error or event.outcome)
        self._follow(node, "next", event.now)

    def _profile_read(self, event: ProfileRead) -> None:
        node = self._expect("profile", event.node_id, event.visit)
        now = event.now
        if goal_reached_by_traits(self.definition.goal, event.traits) and self._convert(now):
            return
        if isinstance(node, ConditionNode):
            document = {
                **event.traits,
                "traits": event.traits,
                "segments": event.segments,
                "event": event_document(self.state.last_event) if self.state.last_event else {},
            }
            branch = "yes" if evaluate_rules(node.config.rules, document, node.config.combinator) else "no"
            self._close(now, status="COMPLETED", branch=branch)
            self._follow(node, branch, now)
        elif isinstance(node, GoalCheckNode):
            branch = "yes" if self.state.converted else "no"
            self._close(now, status="COMPLETED", branch=branch)
            self._follow(node, branch, now)
        elif isinstance(node, WaitNode):
            self._start_timed_wait(node, event.traits, now)
        else:
            raise UnexpectedInputError(f"{node.type} node {node.id!r} does not read the profile")

    def _profile_updated(self, event: ProfileUpdated) -> None:
        node = self._expect("update", event.node_id, event.visit)
        if event.error is not None:
            self._close(event.now, status="FAILED", detail=event.error)
            self._finish("FAILED", event.now, reason=event.error)
            return
        self._close(event.now, status="COMPLETED")
        self._follow(node, "next", event.now)

    def _time_reached(self, now: datetime) -> None:
        state = self.state
        goal_deadline = _goal_deadline(state)
        if goal_deadline is not None and now >= goal_deadline:
            state.abandoned = True
            self._exit(now, "goal deadline passed (abandoned)")
            return
        deadline = _step_deadline(state)
        if deadline is None or now < deadline or state.open_step is None:
            return  # woke early or for nothing: keep waiting
        node = self.definition.node(state.open_step.node_id)
        if state.awaiting == "event":
            self._close(now, status="COMPLETED", branch="timeout")
            self._follow(node, "timeout", now)
        else:
            self._close(now, status="COMPLETED")
            self._follow(node, "next", now)

    def _event_received(self, event: EventRecord, now: datetime) -> None:
        state = self.state
        if event.id in state.seen_event_ids:
            return
        self._remember(event)
        exit_event = exit_criteria_met(self.definition.exit_criteria, event)
        if exit_event is not None:
            self._exit(now, f"exit criteria: {exit_event}")
            return
        if goal_reached_by_event(self.definition.goal, event) and self._convert(now):
            return
        if state.awaiting == "event" and state.open_step is not None:
            node = self.definition.node(state.open_step.node_id)
            if isinstance(node, WaitForEventNode) and matches(event, node.config.event, node.config.rules):
                self._close(now, status="COMPLETED", branch="matched", detail=event.id)
                self._follow(node, "matched", now)
                return
        state.buffered_events = [*state.buffered_events, event][-BUFFERED_EVENTS_LIMIT:]

    def _resume(self, now: datetime) -> None:
        state = self.state
        state.paused = False
        if state.awaiting == "resume" and state.held_node_id is not None:
            held, state.held_node_id, state.awaiting = state.held_node_id, None, None
            self._enter(held, now)

    def _exit(self, now: datetime, reason: str) -> None:
        self._close(now, status="EXITED", detail=reason)
        self._finish("EXITED", now, reason=reason)

    # ---- helpers ------------------------------------------------------------------------------

    def _remember(self, event: EventRecord) -> None:
        state = self.state
        state.seen_event_ids = [*state.seen_event_ids, event.id][-SEEN_EVENTS_LIMIT:]
        state.last_event = event

    def _convert(self, now: datetime) -> bool:
        """Mark the goal reached; True when that also ended the enrollment."""
        state = self.state
        if state.converted:
            return False
        state.converted = True
        state.converted_at = now
        goal = self.definition.goal
        if goal is not None and goal.exit_on_conversion:
            self._exit(now, "goal reached")
            return True
        return False

    def _expect(self, awaiting: Awaiting, node_id: str, visit: int) -> Node:
        open_step = self.state.open_step
        if (
            self.state.awaiting != awaiting
            or open_step is None
            or open_step.node_id != node_id
            or open_step.visit != visit
        ):
            raise UnexpectedInputError(f"no open step {node_id}#{visit} awaiting {awaiting}")
        return self.definition.node(node_id)

    def _follow(self, node: Node, label: str, now: datetime) -> None:
        target = self.definition.next_node_id(node.id, label)
        if target is None:
            # A published graph always has the edge; a missing one ends the enrollment plainly.
            self._finish("COMPLETED", now, reason=f"no {label!r} edge from {node.id}")
            return
        self._enter(target, now)

    def _open(self, node: Node, now: datetime) -> StepRecord:
        state = self.state
        visit = state.visits.get(node.id, 0) + 1
        state.visits[node.id] = visit
        state.current_node_id = node.id
        state.path = [*state.path, node.id][-PATH_LIMIT:]
        state.open_step = StepRecord(
            node_id=node.id,
            node_type=node.type,
            name=node.name or node.type,
            visit=visit,
            status="ACTIVE",
            started_at=now,
        )
        return state.open_step

    def _block(self, awaiting: Awaiting, deadline: datetime | None = None) -> None:
        """The open step now waits on something outside: record it as ACTIVE."""
        state = self.state
        assert state.open_step is not None
        state.awaiting = awaiting
        state.step_deadline = deadline
        state.waiting_until = deadline
        self.commands.append(RecordStep(record=state.open_step))

    def _enter(self, node_id: str, now: datetime) -> None:
        """Enter nodes one after another until one must wait for the outside world, or the end."""
        state = self.state
        for _ in range(MAX_NODES_PER_STEP):
            if state.paused:
                state.held_node_id, state.awaiting = node_id, "resume"
                state.waiting_until = None
                return
            node = self.definition.node(node_id)
            self._open(node, now)
            label: str | None = None

            if isinstance(node, TriggerNode):
                label = "next"
            elif isinstance(node, SendNode):
                self._block("send")
                self.commands.append(blocking_command(self.definition, state))
                return
            elif isinstance(node, WaitNode):
                if node.config.duration is not None:
                    self._block("time", now + parse_duration(node.config.duration))
                else:
                    self._block("profile")
                    self.commands.append(blocking_command(self.definition, state))
                return
            elif isinstance(node, WaitForEventNode):
                early = next(
                    (e for e in state.buffered_events if matches(e, node.config.event, node.config.rules)),
                    None,
                )
                if early is None:
                    self._block("event", now + parse_duration(node.config.timeout))
                    return
                state.buffered_events = [e for e in state.buffered_events if e.id != early.id]
                label = "matched"
                self._close(now, status="COMPLETED", branch=label, detail=early.id)
            elif isinstance(node, ConditionNode) or (
                isinstance(node, GoalCheckNode)
                and not state.converted
                and self.definition.goal is not None
                and self.definition.goal.type == "attribute_match"
            ):
                self._block("profile")
                self.commands.append(blocking_command(self.definition, state))
                return
            elif isinstance(node, GoalCheckNode):
                label = "yes" if state.converted else "no"
                self._close(now, status="COMPLETED", branch=label)
            elif isinstance(node, SplitNode):
                label = self._split_branch(node)
                self._close(now, status="COMPLETED", branch=label)
            elif isinstance(node, UpdateNode):
                self._block("update")
                self.commands.append(blocking_command(self.definition, state))
                return
            elif isinstance(node, ExitNode):
                self._close(now, status="COMPLETED")
                self._finish("COMPLETED", now)
                return

            if state.open_step is not None:  # pass-through nodes close here
                self._close(now, status="COMPLETED", branch=None if label == "next" else label)
            next_id = self.definition.next_node_id(node.id, label or "next")
            if next_id is None:
                self._finish("COMPLETED", now, reason=f"no {label!r} edge from {node.id}")
                return
            node_id = next_id
        self._finish("FAILED", now, reason="too many steps without a wait")

    def _start_timed_wait(self, node: WaitNode, traits: dict[str, Any], now: datetime) -> None:
        zone = resolve_zone(_text(traits.get("timezone")), self.definition.settings.timezone)
        config = node.config
        until: datetime | None
        if config.until is not None:
            until = next_local_time(now, config.until.time, config.until.weekdays, zone)
        else:
            assert config.until_trait is not None
            until = until_trait(now, traits.get(config.until_trait.field), config.until_trait.offset, zone)
        if until is None or until <= now:
            detail = "date trait missing or unusable" if until is None else "time already passed"
            self._close(now, status="COMPLETED", detail=detail)
            self._follow(node, "next", now)
            return
        self.state.awaiting = "time"
        self.state.step_deadline = until
        self.state.waiting_until = until

    def _split_branch(self, node: SplitNode) -> str:
        bucket = split_bucket(self.state.journey_id, node.id, self.state.customer_id)
        cumulative = 0.0
        for branch in node.config.splits:
            cumulative += branch.percentage
            if bucket < cumulative:
                return branch.key
        return node.config.splits[-1].key

    def _close(
        self, now: datetime, *, status: StepStatus, detail: str | None = None, branch: str | None = None
    ) -> None:
        state = self.state
        if state.open_step is None:
            return
        closed = state.open_step.model_copy(
            update={"status": status, "completed_at": now, "detail": detail, "branch": branch}
        )
        self.commands.append(RecordStep(record=closed))
        state.open_step = None
        state.awaiting = None
        state.step_deadline = None
        state.waiting_until = None

    def _finish(self, status: EnrollmentStatus, now: datetime, reason: str | None = None) -> None:
        state = self.state
        state.status = status
        state.completed_at = now
        state.waiting_until = None
        state.exit_reason = reason
        state.awaiting = None
        self.commands.append(Finish(status=status, at=now, reason=reason))


def _text(value: object) -> str | None:
    return value if isinstance(value, str) else None
