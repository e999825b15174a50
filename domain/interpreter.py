"""The journey interpreter: a pure function from (definition, state, input) to (state, commands).

It decides *what* happens next; the enrollment workflow carries the commands out (activities,
timers) and feeds their outcome back as the next input. Nothing here does I/O or reads a clock:
time arrives inside the inputs, so the same inputs always give the same commands, which is what
makes Temporal replays of an enrollment exact.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import Field

from domain.definition import (
    ExitNode,
    JourneyDefinition,
    Node,
    SendConfig,
    SendNode,
    TriggerNode,
    WaitNode,
)
from domain.durations import parse_duration
from domain.wire import WireModel

EnrollmentStatus = Literal["ACTIVE", "COMPLETED", "EXITED", "FAILED"]
StepStatus = Literal["ACTIVE", "COMPLETED", "FAILED", "SKIPPED"]

# Nodes entered in one step without blocking; validation forbids wait-free cycles, this is the
# belt to that brace so a bad definition fails the enrollment instead of spinning a worker.
MAX_NODES_PER_STEP = 500
PATH_LIMIT = 200


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

    schema_version: int = 1
    enrollment_id: str
    status: EnrollmentStatus = "ACTIVE"
    current_node_id: str | None = None
    waiting_until: datetime | None = None
    visits: dict[str, int] = Field(default_factory=dict)
    path: list[str] = Field(default_factory=list)
    converted: bool = False
    completed_at: datetime | None = None
    # The open step (entered, not yet left), so its record can be closed when it completes.
    open_step: StepRecord | None = None


# ---- inputs ------------------------------------------------------------------------------------


class Started(WireModel):
    kind: Literal["started"] = "started"
    now: datetime


class SendFinished(WireModel):
    kind: Literal["send_finished"] = "send_finished"
    node_id: str
    visit: int
    now: datetime
    outcome: Literal["sent", "suppressed", "failed"]
    error: str | None = None


class TimerFired(WireModel):
    kind: Literal["timer_fired"] = "timer_fired"
    node_id: str
    visit: int
    now: datetime


Input = Annotated[Started | SendFinished | TimerFired, Field(discriminator="kind")]


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


class StartTimer(WireModel):
    kind: Literal["start_timer"] = "start_timer"
    node_id: str
    node_name: str
    visit: int
    until: datetime


class Finish(WireModel):
    kind: Literal["finish"] = "finish"
    status: EnrollmentStatus
    at: datetime
    reason: str | None = None


Command = Annotated[RecordStep | SendMessage | StartTimer | Finish, Field(discriminator="kind")]


class UnexpectedInputError(ValueError):
    """The input does not belong to the step the enrollment is on (a bug in the shell)."""


def idempotency_key(enrollment_id: str, node_id: str, visit: int) -> str:
    return f"{enrollment_id}:{node_id}:{visit}"


def initial_state(enrollment_id: str) -> JourneyState:
    return JourneyState(enrollment_id=enrollment_id)


def step(
    definition: JourneyDefinition, state: JourneyState, event: Started | SendFinished | TimerFired
) -> tuple[JourneyState, list[Command]]:
    """Apply one input; return the new state and the commands to carry out, in order."""
    state = state.model_copy(deep=True)
    commands: list[Command] = []
    if state.status != "ACTIVE":
        return state, commands

    if isinstance(event, Started):
        _enter(definition, state, definition.trigger().id, event.now, commands)
    elif isinstance(event, SendFinished):
        _expect_open(state, event.node_id, event.visit)
        node = definition.node(event.node_id)
        assert isinstance(node, SendNode)
        if event.outcome == "failed" and node.config.on_failure == "fail":
            _close(state, event.now, commands, status="FAILED", detail=event.error)
            _finish(state, "FAILED", event.now, commands, reason=event.error)
        else:
            status: StepStatus = "SKIPPED" if event.outcome == "failed" else "COMPLETED"
            _close(state, event.now, commands, status=status, detail=event.error or event.outcome)
            _follow(definition, state, node, "next", event.now, commands)
    elif isinstance(event, TimerFired):
        _expect_open(state, event.node_id, event.visit)
        node = definition.node(event.node_id)
        state.waiting_until = None
        _close(state, event.now, commands, status="COMPLETED")
        _follow(definition, state, node, "next", event.now, commands)
    return state, commands


def _expect_open(state: JourneyState, node_id: str, visit: int) -> None:
    open_step = state.open_step
    if open_step is None or open_step.node_id != node_id or open_step.visit != visit:
        raise UnexpectedInputError(f"no open step {node_id}#{visit}")


def _follow(
    definition: JourneyDefinition,
    state: JourneyState,
    node: Node,
    label: str,
    now: datetime,
    commands: list[Command],
) -> None:
    target = definition.next_node_id(node.id, label)
    if target is None:
        # A published graph always has the edge; a missing one ends the enrollment plainly.
        _finish(state, "COMPLETED", now, commands, reason=f"no {label!r} edge from {node.id}")
        return
    _enter(definition, state, target, now, commands)


def _enter(
    definition: JourneyDefinition,
    state: JourneyState,
    node_id: str,
    now: datetime,
    commands: list[Command],
) -> None:
    """Enter nodes one after another until one must wait for the outside world or the end."""
    for _ in range(MAX_NODES_PER_STEP):
        node = definition.node(node_id)
        visit = state.visits.get(node_id, 0) + 1
        state.visits[node_id] = visit
        state.current_node_id = node_id
        state.path = ([*state.path, node_id])[-PATH_LIMIT:]
        state.open_step = StepRecord(
            node_id=node_id,
            node_type=node.type,
            name=node.name or node.type,
            visit=visit,
            status="ACTIVE",
            started_at=now,
        )

        if isinstance(node, TriggerNode):
            _close(state, now, commands, status="COMPLETED")
        elif isinstance(node, SendNode):
            commands.append(RecordStep(record=state.open_step))
            commands.append(
                SendMessage(
                    node_id=node.id,
                    node_name=node.name or node.type,
                    visit=visit,
                    idempotency_key=idempotency_key(state.enrollment_id, node.id, visit),
                    config=node.config,
                )
            )
            return
        elif isinstance(node, WaitNode) and node.config.duration is not None:
            until = now + parse_duration(node.config.duration)
            state.waiting_until = until
            commands.append(RecordStep(record=state.open_step))
            commands.append(
                StartTimer(node_id=node.id, node_name=node.name or "Wait", visit=visit, until=until)
            )
            return
        elif isinstance(node, ExitNode):
            _close(state, now, commands, status="COMPLETED")
            _finish(state, "COMPLETED", now, commands)
            return
        else:
            reason = f"{node.type} node {node.id!r} is not supported by this engine version"
            _close(state, now, commands, status="FAILED", detail=reason)
            _finish(state, "FAILED", now, commands, reason=reason)
            return

        next_id = definition.next_node_id(node.id, "next")
        if next_id is None:
            _finish(state, "COMPLETED", now, commands, reason=f"no 'next' edge from {node.id}")
            return
        node_id = next_id

    _finish(state, "FAILED", now, commands, reason="too many steps without a wait")


def _close(
    state: JourneyState,
    now: datetime,
    commands: list[Command],
    *,
    status: StepStatus,
    detail: str | None = None,
    branch: str | None = None,
) -> None:
    if state.open_step is None:
        return
    closed = state.open_step.model_copy(
        update={"status": status, "completed_at": now, "detail": detail, "branch": branch}
    )
    commands.append(RecordStep(record=closed))
    state.open_step = None


def _finish(
    state: JourneyState,
    status: EnrollmentStatus,
    now: datetime,
    commands: list[Command],
    reason: str | None = None,
) -> None:
    state.status = status
    state.completed_at = now
    state.waiting_until = None
    commands.append(Finish(status=status, at=now, reason=reason))
