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

Node semantics (SPEC §5, §7), each in its node type's module under `domain.nodes`, which this
module reaches through `domain.nodes.kind_of` (exhaustive over the node union: a node type without
behaviour fails type checking, it cannot silently follow `next`):
- TRIGGER: entry, passes through.
- SEND: one message; outcome `sent`/`suppressed` continue, `failed` follows `onFailure` (fail|skip).
  Entered inside the quiet hours or outside its time `window`, both read in the customer's clock (the
  `timezone` trait, read once and kept in `JourneyState.customer_clock`; else the journey's zone), it
  first waits for the first instant outside the one and inside the other (a `Wait`, under the goal
  deadline like any other), then sends; a new `timezone` trait during the hold recomputes it.
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
Across nodes, here: the goal (event, page_visit, attribute_match, flow_completed) marks the enrollment
converted and exits it if `exitOnConversion`; its deadline passing unconverted exits it as
abandoned; an exit-criteria event exits it at once, even mid-wait; pause holds it before its next
step until resume; exit ends it.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated, Any, Literal

from pydantic import Field

from domain.actions import (
    EnrollmentAction,
    VersionMove,
    action_refusal,
    moving_node,
    version_move_refusal,
)
from domain.context import ContextEvent, JourneyRef, context_document, why_unresolved
from domain.definition import JourneyDefinition, Node
from domain.events import (
    EventRecord,
    exit_criteria_met,
    goal_reached_by_event,
    goal_reached_by_traits,
)
from domain.nodes import kind_of
from domain.nodes.base import Awaiting as Awaiting
from domain.nodes.base import CustomerClock as CustomerClock
from domain.nodes.base import EnrollmentStatus as EnrollmentStatus
from domain.nodes.base import StepStatus as StepStatus
from domain.nodes.base import UnexpectedInputError as UnexpectedInputError
from domain.nodes.base import idempotency_key as idempotency_key
from domain.nodes.send import SendMessage as SendMessage
from domain.nodes.send import SendNode, send_zone
from domain.nodes.split import split_bucket as split_bucket
from domain.nodes.update import UpdateProfile as UpdateProfile
from domain.nodes.wait import WaitNode
from domain.rules import StepDecision, WaitCheck
from domain.wire import WireModel

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
    # How the step decided or what it waited on until when (`domain.rules.StepDecision`), for operators.
    # Left out of the payload when there is none (a worker from before it reads the record), and out of
    # equality: an explanation, never a behaviour, so comparing command lists (the enrollment workflow
    # does, to know whether a patch changes anything) compares what the interpreter does.
    decision: StepDecision | None = Field(default=None, exclude_if=lambda value: value is None)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, StepRecord):
            return NotImplemented
        return self.model_dump(exclude={"decision"}) == other.model_dump(exclude={"decision"})

    __hash__ = None  # type: ignore[assignment]


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
    # The enrollment context (`domain.context`): the entry event, the last event a WAIT_FOR_EVENT
    # matched, and the journey's name and version (its id is `journey_id`).
    entry: ContextEvent | None = None
    matched_event: ContextEvent | None = None
    journey_name: str = ""
    journey_version: int = 0
    # The customer's `timezone` trait as last seen (None: not yet read); see `domain.nodes.send`.
    customer_clock: CustomerClock | None = None

    def context(self) -> dict[str, Any]:
        """`entry`, `event` and `journey` as templates and rules read them."""
        journey = JourneyRef(id=self.journey_id, name=self.journey_name, version=self.journey_version)
        return context_document(self.entry, self.matched_event, journey)

    def unresolved_reason(self, path: str, node_id: str) -> str:
        """Why `path` stops the step at `node_id`, as operators read it."""
        why = why_unresolved(path, self.entry, self.matched_event)
        return f"{node_id}: {path!r} does not resolve in this enrollment's context" + (
            f" ({why})" if why else ""
        )


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


class TraitsChanged(WireModel):
    """The customer's profile changed outside an event (a profile update): the traits that changed."""

    kind: Literal["traits_changed"] = "traits_changed"
    now: datetime
    traits: dict[str, Any] = Field(default_factory=dict)


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


class ActionRequested(WireModel):
    """An operator's action on this enrollment (`domain.actions`); one that no longer applies is ignored
    (the shell answers the operator with `action_refusal`)."""

    kind: Literal["action_requested"] = "action_requested"
    now: datetime
    action: EnrollmentAction


class VersionMoved(WireModel):
    """A migration moves the enrollment onto another version of its journey (`domain.actions.VersionMove`):
    from here on it runs `move.definition`. One that no longer applies is ignored."""

    kind: Literal["version_moved"] = "version_moved"
    now: datetime
    version: int
    move: VersionMove


AnyInput = (
    Started
    | Resumed
    | SendFinished
    | ProfileRead
    | ProfileUpdated
    | TimeReached
    | EventReceived
    | TraitsChanged
    | PauseRequested
    | ResumeRequested
    | ExitRequested
    | ActionRequested
    | VersionMoved
)
# The same union, parseable: the `kind` field says which input a payload is.
Input = Annotated[AnyInput, Field(discriminator="kind")]


# ---- commands ----------------------------------------------------------------------------------


class RecordStep(WireModel):
    kind: Literal["record_step"] = "record_step"
    record: StepRecord


class ReadProfile(WireModel):
    kind: Literal["read_profile"] = "read_profile"
    node_id: str
    node_name: str
    visit: int


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


# SendMessage and UpdateProfile are their nodes' own commands (domain.nodes.send, domain.nodes.update).
AnyCommand = RecordStep | SendMessage | ReadProfile | UpdateProfile | Wait | Finish
Command = Annotated[AnyCommand, Field(discriminator="kind")]
BLOCKING = (SendMessage, ReadProfile, UpdateProfile, Wait)
# What an open step may wait on until a deadline (`step_deadline`); anything else waits without one.
_TIMED: tuple[Awaiting, ...] = ("time", "event", "quiet_hours", "window")
# What holds a step on the customer's clock (a new `timezone` trait recomputes it).
_CLOCKED: tuple[Awaiting, ...] = ("quiet_hours", "window")


def initial_state(
    enrollment_id: str,
    journey_id: str = "",
    customer_id: str = "",
    *,
    journey_name: str = "",
    journey_version: int = 0,
) -> JourneyState:
    return JourneyState(
        enrollment_id=enrollment_id,
        journey_id=journey_id,
        customer_id=customer_id,
        journey_name=journey_name,
        journey_version=journey_version,
    )


def step(
    definition: JourneyDefinition,
    state: JourneyState,
    event: AnyInput,
    *,
    hold_quiet_hours: bool = True,
    legacy_context: bool = False,
    customer_clock: bool = False,
) -> tuple[JourneyState, list[AnyCommand]]:
    """Apply one input; return the new state and the commands to carry out, in order.

    `hold_quiet_hours=False` leaves a SEND inside the journey's quiet hours to the caller, as the
    enrollment workflow did before the interpreter held them (histories recorded then replay so).
    `legacy_context=True` has CONDITION rules read what they read before the enrollment context
    (`event` the last event received, no `entry`/`journey`), for histories recorded then.
    `customer_clock=True` reads quiet hours and SEND windows in the customer's clock (`domain.nodes.send`)
    and records why an unusable `timezone` trait was ignored; the enrollment workflow asks for it behind
    its `customer-clock-v1` patch. Without it, quiet hours are read in the journey's zone only and SEND
    windows do not hold, as before the customer's clock (histories recorded then replay so).
    """
    state = _fresh(state)
    commands: list[AnyCommand] = []
    if state.status != "ACTIVE":
        return state, commands
    machine = _Machine(
        definition,
        state,
        commands,
        hold_quiet_hours=hold_quiet_hours,
        legacy_context=legacy_context,
        customer_clock=customer_clock,
    )
    machine.apply(event)
    if state.status == "ACTIVE" and not any(isinstance(c, BLOCKING) for c in commands):
        # The machine's definition: a version move switched it.
        commands.append(blocking_command(machine.definition, state))
    return state, commands


def _fresh(state: JourneyState) -> JourneyState:
    """A copy of `state` the machine may change without touching the caller's: the machine replaces
    every field it changes (lists, events, the customer's clock, a step's decision) rather than changing
    it in place, but for the visit counts and the open step's `detail`, which are copied here. A full deep
    copy costs more than the rest of a step (the simulator takes thousands of steps a second)."""
    copied = state.model_copy()
    copied.visits = dict(state.visits)
    if state.open_step is not None:
        copied.open_step = state.open_step.model_copy()
    return copied


def customer_clock_matters(definition: JourneyDefinition) -> bool:
    """Whether the customer's clock can change anything `step` decides for this journey (quiet hours, a
    SEND window, a WAIT `until` or `untilTrait`); when it cannot, `customer_clock` makes no difference."""
    if definition.settings.quiet_hours is not None:
        return True
    return any(
        (isinstance(node, SendNode) and node.config.window is not None)
        or (isinstance(node, WaitNode) and node.config.duration is None)
        for node in definition.nodes
    )


def blocking_command(definition: JourneyDefinition, state: JourneyState) -> AnyCommand:
    """What an active enrollment waits on right now, derived from its state alone."""
    open_step = state.open_step
    if open_step is not None and state.awaiting in ("send", "profile", "update"):
        node = definition.node(open_step.node_id)
        if state.awaiting == "profile":
            return ReadProfile(node_id=node.id, node_name=node.name or node.type, visit=open_step.visit)
        effect = kind_of(node).effect(node, state)
        if not isinstance(effect, SendMessage | UpdateProfile):
            raise TypeError(f"{node.type} node {node.id!r} answered {effect!r} for its effect")
        return effect
    deadlines = [d for d in (_step_deadline(state), _goal_deadline(state)) if d is not None]
    return Wait(until=min(deadlines) if deadlines else None, label=_wait_label(definition, state))


def _step_deadline(state: JourneyState) -> datetime | None:
    return state.step_deadline if state.awaiting in _TIMED else None


def _goal_deadline(state: JourneyState) -> datetime | None:
    return None if state.converted or state.abandoned else state.goal_deadline


def _wait_label(definition: JourneyDefinition, state: JourneyState) -> str:
    if state.awaiting == "resume":
        return f"paused before {state.held_node_id}"
    if state.open_step is None:
        return "waiting"
    node = definition.node(state.open_step.node_id)
    return f"{node.name or node.type} · {kind_of(node).wait_label(node, state)}"


class _Machine:
    """One application of one input; mutates the (already copied) state and appends commands.

    What crosses nodes lives here (the goal and its deadline, exit criteria, pause, the event buffer,
    following edges); what a node type does when entered or resumed is its kind's (`domain.nodes`),
    reached through `kind_of`, which covers the node union exhaustively. This is the `Run` a kind acts on.
    """

    def __init__(
        self,
        definition: JourneyDefinition,
        state: JourneyState,
        commands: list[AnyCommand],
        *,
        hold_quiet_hours: bool,
        legacy_context: bool = False,
        customer_clock: bool = False,
    ) -> None:
        self.definition = definition
        self.state = state
        self.commands = commands
        self.holds_quiet_hours = hold_quiet_hours
        self.legacy_context = legacy_context
        self.customer_clock = customer_clock

    # ---- dispatch -----------------------------------------------------------------------------

    def apply(self, event: AnyInput) -> None:
        if isinstance(event, Started):
            self._started(event)
        elif isinstance(event, SendFinished):
            node = self._expect("send", event.node_id, event.visit)
            self._leave(node, kind_of(node).on_send_finished(node, self, event), event.now)
        elif isinstance(event, ProfileRead):
            self._profile_read(event)
        elif isinstance(event, ProfileUpdated):
            node = self._expect("update", event.node_id, event.visit)
            self._leave(node, kind_of(node).on_profile_updated(node, self, event), event.now)
        elif isinstance(event, TimeReached):
            self._time_reached(event.now)
        elif isinstance(event, EventReceived):
            self._event_received(event.event, event.now)
        elif isinstance(event, TraitsChanged):
            self._traits_changed(event.traits, event.now)
        elif isinstance(event, PauseRequested):
            self.state.paused = True
        elif isinstance(event, ResumeRequested):
            self._resume(event.now)
        elif isinstance(event, ExitRequested):
            self._exit(event.now, event.reason)
        elif isinstance(event, ActionRequested):
            self._act(event.action, event.now)
        elif isinstance(event, VersionMoved):
            self._move_version(event)
        # Resumed: nothing happened; the caller re-issues the blocking command.

    # ---- inputs -------------------------------------------------------------------------------

    def _started(self, event: Started) -> None:
        goal = self.definition.goal
        if goal is not None and goal.deadline is not None:
            self.state.goal_deadline = event.now + timedelta(days=goal.deadline)
        if event.trigger_event is not None:
            self._remember(event.trigger_event)
            self.state.entry = ContextEvent.of(event.trigger_event)
        self._enter(self.definition.trigger().id, event.now)

    def _profile_read(self, event: ProfileRead) -> None:
        node = self._expect("profile", event.node_id, event.visit)
        if self.customer_clock:
            self.state.customer_clock = CustomerClock.of(event.traits.get("timezone"))
        if goal_reached_by_traits(self.definition.goal, event.traits) and self._convert(event.now):
            return
        self._leave(node, kind_of(node).on_profile_read(node, self, event), event.now)

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
        self._leave(node, kind_of(node).on_time_reached(node, self, now), now)

    def _event_received(self, event: EventRecord, now: datetime) -> None:
        state = self.state
        if event.id in state.seen_event_ids:
            return
        self._remember(event)
        exit_event = exit_criteria_met(self.definition.exit_criteria, event, state.context())
        if exit_event is not None:
            self._exit(now, f"exit criteria: {exit_event}")
            return
        if goal_reached_by_event(self.definition.goal, event) and self._convert(now):
            return
        if event.type != "group":  # a group call's traits are the group's
            self._traits_changed(event.traits, now)
        if state.awaiting == "event" and state.open_step is not None:
            node = self.definition.node(state.open_step.node_id)
            label = kind_of(node).on_event(node, self, event, now)
            if label is not None:
                self._leave(node, label, now)
                return
        state.buffered_events = [*state.buffered_events, event][-BUFFERED_EVENTS_LIMIT:]

    def _traits_changed(self, traits: dict[str, Any], now: datetime) -> None:
        """A `timezone` trait (an identify, any call's traits, a profile update) moves the customer's clock;
        a step held on it is recomputed."""
        state = self.state
        if not self.customer_clock or "timezone" not in traits:
            return
        state.customer_clock = CustomerClock.of(traits["timezone"])
        if state.awaiting in _CLOCKED and state.open_step is not None:
            node = self.definition.node(state.open_step.node_id)
            self._leave(node, kind_of(node).on_clock_changed(node, self, now), now)

    def _resume(self, now: datetime) -> None:
        state = self.state
        state.paused = False
        if state.awaiting == "resume" and state.held_node_id is not None:
            held, state.held_node_id, state.awaiting = state.held_node_id, None, None
            self._enter(held, now)

    def _exit(self, now: datetime, reason: str) -> None:
        self.close(now, status="EXITED", detail=reason)
        self.finish("EXITED", now, reason=reason)

    def _act(self, action: EnrollmentAction, now: datetime) -> None:
        state = self.state
        if action_refusal(self.definition, state, action) is not None:
            return
        name = action.action
        if name == "exit":
            self._exit(now, action.reason or "exited by an operator")
        elif name == "pause":
            state.paused = True
        elif name == "resume":
            self._resume(now)
        elif name == "setWait":
            assert action.until is not None and state.awaiting is not None and state.open_step is not None
            self.wait_on(state.awaiting, action.until)
            self.commands.append(RecordStep(record=state.open_step))
        elif name == "skipWait":
            assert state.open_step is not None
            node = self.definition.node(state.open_step.node_id)
            self._leave(node, kind_of(node).on_skip(node, self, now), now)
        else:  # moveTo
            assert action.node_id is not None
            self._continue_at(action.node_id, now, f"moved to {action.node_id!r} by an operator")

    def _move_version(self, event: VersionMoved) -> None:
        """Continue on another version at the mapped node, keeping the context, visits, goal deadline, and
        a WAIT's (or a WAIT_FOR_EVENT's) deadline when it maps to a node of the same type."""
        state, move, now = self.state, event.move, event.now
        if version_move_refusal(state, event.version, move) is not None:
            return
        current = moving_node(state)
        assert current is not None
        target_id = move.node_map[current]
        kept: tuple[Awaiting, datetime] | None = None
        target = move.definition.node(target_id)
        if (
            state.open_step is not None
            and state.awaiting in ("time", "event")
            and state.step_deadline is not None
            and self.definition.node(current).type == target.type
        ):
            kept = (state.awaiting, state.step_deadline)
        detail = f"moved to version {move.to_version} at {target_id!r} (migration {move.migration_id})"
        if state.open_step is not None:
            self.close(now, status="SKIPPED", detail=detail)
        self.definition = move.definition
        state.journey_version = move.to_version
        if move.journey_name:
            state.journey_name = move.journey_name
        if state.awaiting == "resume":
            state.held_node_id = target_id
            return
        if kept is not None and isinstance(target, WaitNode):
            # The same wait on the new version: same deadline, no profile read for a local time again.
            self._open(target, now)
            self.block(*kept)
            return
        self._enter(target_id, now)
        if kept is not None and state.awaiting == kept[0] and state.open_step is not None:
            # A WAIT_FOR_EVENT entered afresh (its rules may take a buffered event) keeps the old timeout.
            self.wait_on(*kept)
            self.commands.append(RecordStep(record=state.open_step))

    def _continue_at(self, node_id: str, now: datetime, detail: str) -> None:
        """Leave the open step (SKIPPED) and continue from `node_id`; a paused enrollment stays held, now
        before `node_id`."""
        state = self.state
        if state.awaiting == "resume":
            state.held_node_id = node_id
            return
        if state.open_step is not None:
            self.close(now, status="SKIPPED", detail=detail)
        self._enter(node_id, now)

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

    def _leave(self, node: Node, label: str | None, now: datetime) -> None:
        """Follow `label` out of `node`; None: the node still waits, or the enrollment ended."""
        if label is None:
            return
        target = self.definition.next_node_id(node.id, label)
        if target is None:
            # A published graph always has the edge; a missing one ends the enrollment plainly.
            self.finish("COMPLETED", now, reason=f"no {label!r} edge from {node.id}")
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
            label = kind_of(node).enter(node, self, now)
            if label is None:
                return
            next_id = self.definition.next_node_id(node.id, label)
            if next_id is None:
                self.finish("COMPLETED", now, reason=f"no {label!r} edge from {node.id}")
                return
            node_id = next_id
        self.finish("FAILED", now, reason="too many steps without a wait")

    # ---- the moves a node kind makes (domain.nodes.base.Run) ---------------------------------

    def block(self, awaiting: Awaiting, deadline: datetime | None = None) -> None:
        """The open step now waits on something outside: record it as ACTIVE."""
        assert self.state.open_step is not None
        self.wait_on(awaiting, deadline)
        self.commands.append(RecordStep(record=self.state.open_step))

    def wait_on(self, awaiting: Awaiting, deadline: datetime | None = None) -> None:
        state = self.state
        state.awaiting = awaiting
        state.step_deadline = deadline
        state.waiting_until = deadline
        open_step = state.open_step
        if deadline is not None and open_step is not None:
            # The step's record says until when it waits, and in which zone a local time was read.
            wait = WaitCheck(awaiting=awaiting, until=deadline, zone=self._wait_zone(open_step, awaiting))
            state.open_step = open_step.model_copy(update={"decision": StepDecision(wait=wait)})

    def _wait_zone(self, open_step: StepRecord, awaiting: Awaiting) -> str | None:
        """The zone a hold or a local-time WAIT was read in; None for a plain duration or timeout."""
        node = self.definition.node(open_step.node_id)
        local = awaiting in _CLOCKED or (isinstance(node, WaitNode) and node.config.duration is None)
        return send_zone(self)[0].key if local else None

    def close(
        self,
        now: datetime,
        *,
        status: StepStatus,
        detail: str | None = None,
        branch: str | None = None,
        decision: StepDecision | None = None,
    ) -> None:
        state = self.state
        if state.open_step is None:
            return
        update: dict[str, Any] = {"status": status, "completed_at": now, "detail": detail, "branch": branch}
        if decision is not None:  # else what the step waited on, if it waited, stays on its record
            update["decision"] = decision
        closed = state.open_step.model_copy(update=update)
        self.commands.append(RecordStep(record=closed))
        state.open_step = None
        state.awaiting = None
        state.step_deadline = None
        state.waiting_until = None

    def finish(self, status: EnrollmentStatus, now: datetime, reason: str | None = None) -> None:
        state = self.state
        state.status = status
        state.completed_at = now
        state.waiting_until = None
        state.exit_reason = reason
        state.awaiting = None
        self.commands.append(Finish(status=status, at=now, reason=reason))
