"""What an operator may do to one running enrollment, and when each action applies (one home).

Two kinds of steering, both carried to the enrollment workflow as validated Temporal Updates:

- `EnrollmentAction` (`skipWait`, `setWait`, `moveTo`, `exit`, `pause`, `resume`): one operator, one
  enrollment. `action_problems` says what is wrong with the request itself whatever the enrollment's state
  (an unknown node: the API's 422); `action_refusal` says why it does not apply to the enrollment now
  (skipping a wait while it sends, resuming what is not paused, anything on an ended enrollment: 409).
- `VersionMove`: a migration moving the enrollment from one version of its journey to another at the node
  its current node maps to (`version_move_refusal`).

The workflow's Update validator asks these before anything is written to history, and the interpreter asks
them again when it applies the request (the enrollment may have moved on in between); what each action then
does to the enrollment is the interpreter's (`domain.interpreter`), with the node's own part in its kind
(`NodeKind.on_skip`).
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Literal, get_args

from pydantic import Field

from domain.definition import JourneyDefinition, TriggerNode
from domain.wire import WireModel

if TYPE_CHECKING:
    from domain.interpreter import JourneyState

ActionName = Literal["skipWait", "setWait", "moveTo", "exit", "pause", "resume"]
ACTION_NAMES: tuple[str, ...] = get_args(ActionName)
MAX_REASON = 500
# What an open step may be waiting on when an operator skips it (a wait, an event's timeout, a send's hold).
SKIPPABLE = ("time", "event", "quiet_hours", "window")
# Waits whose deadline an operator may move: a WAIT's and a WAIT_FOR_EVENT's (a hold follows the clock).
MOVABLE_DEADLINES = ("time", "event")
_DOING = {"send": "sending", "profile": "reading the profile", "update": "updating the profile"}


class EnrollmentAction(WireModel):
    """The `action` Update's one input (also what `temporal workflow update execute --name action` takes)."""

    schema_version: int = 1
    action: ActionName
    # setWait: the wait's new deadline (timezone-aware; a past instant ends the wait now).
    until: datetime | None = None
    # moveTo: a node of the enrollment's version.
    node_id: str | None = None
    reason: str | None = Field(default=None, max_length=MAX_REASON)
    # Who asked (the API's principal), for the workflow's history.
    actor: str | None = Field(default=None, max_length=256)


class VersionMove(WireModel):
    """The `migrate` Update's one input: continue on `to_version` at the node the current one maps to."""

    schema_version: int = 1
    migration_id: str
    from_version: int
    to_version: int
    journey_name: str = ""
    definition: JourneyDefinition
    node_map: dict[str, str]


def action_problems(definition: JourneyDefinition, action: EnrollmentAction) -> list[tuple[str, str]]:
    """What is wrong with the request whatever the enrollment's state: (field, message)."""
    problems: list[tuple[str, str]] = []
    if action.action == "setWait":
        if action.until is None:
            problems.append(("until", "setWait needs `until`, an ISO 8601 time with a zone"))
        elif action.until.tzinfo is None:
            problems.append(("until", "`until` needs a zone offset (e.g. 2026-12-01T09:00:00Z)"))
    if action.action == "moveTo":
        if action.node_id is None:
            problems.append(("nodeId", "moveTo needs `nodeId`, a node of the enrollment's version"))
        else:
            problem = target_problem(definition, action.node_id)
            if problem is not None:
                problems.append(("nodeId", problem))
    return problems


def target_problem(definition: JourneyDefinition, node_id: str) -> str | None:
    """Why an enrollment cannot continue from `node_id` of `definition`, or None."""
    try:
        node = definition.node(node_id)
    except KeyError:
        return f"no node {node_id!r} in this version of the journey"
    if isinstance(node, TriggerNode):
        return f"{node_id!r} is the trigger; an enrollment cannot re-enter it"
    return None


def action_refusal(
    definition: JourneyDefinition, state: JourneyState, action: EnrollmentAction
) -> str | None:
    """Why `action` does not apply to the enrollment now (None: it applies)."""
    problems = action_problems(definition, action)
    if problems:
        return problems[0][1]
    if state.status != "ACTIVE":
        return f"the enrollment has ended ({state.status})"
    name = action.action
    if name in ("skipWait", "setWait"):
        if state.awaiting == "resume":
            return f"the enrollment is paused before {state.held_node_id!r}; resume it first"
        if state.open_step is None or state.awaiting not in SKIPPABLE:
            return _not_waiting(state, name)
        if name == "setWait" and state.awaiting not in MOVABLE_DEADLINES:
            return (
                f"{state.open_step.node_id!r} holds a send until its {_hold(state)} allows it; "
                "skipWait sends now, setWait applies to a WAIT or a WAIT_FOR_EVENT"
            )
    if name == "pause" and state.paused:
        return "the enrollment is already paused"
    if name == "resume" and not state.paused:
        return "the enrollment is not paused"
    return None


def version_move_refusal(state: JourneyState, version: int, move: VersionMove) -> str | None:
    """Why the enrollment (on `version`) does not move now (None: it moves)."""
    if state.status != "ACTIVE":
        return f"the enrollment has ended ({state.status})"
    if version == move.to_version:
        return f"already on version {move.to_version}"
    if version != move.from_version:
        return f"on version {version}, not {move.from_version}"
    current = moving_node(state)
    if current is None:
        return "the enrollment has not reached a node yet"
    target = move.node_map.get(current)
    if target is None:
        return f"its node {current!r} is not mapped"
    return target_problem(move.definition, target)


def moving_node(state: JourneyState) -> str | None:
    """The node a move maps from: where the enrollment is, or the node a pause holds it before."""
    if state.awaiting == "resume":
        return state.held_node_id
    return state.open_step.node_id if state.open_step is not None else None


def _not_waiting(state: JourneyState, name: str) -> str:
    open_step = state.open_step
    if open_step is None or state.awaiting is None:
        return f"{name}: the enrollment is not waiting"
    doing = _DOING.get(state.awaiting, f"waiting on {state.awaiting}")
    return f"{name}: the enrollment is not waiting; it is {doing} at {open_step.node_id!r}"


def _hold(state: JourneyState) -> str:
    return "time window" if state.awaiting == "window" else "quiet hours"
