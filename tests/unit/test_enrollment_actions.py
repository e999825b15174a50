"""Operator actions and version moves in the pure interpreter (`domain.actions`, `domain.interpreter`)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from domain.actions import (
    EnrollmentAction,
    VersionMove,
    action_problems,
    action_refusal,
    version_move_refusal,
)
from domain.definition import JourneyDefinition
from domain.interpreter import (
    ActionRequested,
    SendFinished,
    SendMessage,
    TimeReached,
    VersionMoved,
    Wait,
)
from tests.unit.test_interpreter import (
    EXIT,
    T0,
    TRIGGER,
    blocking,
    chain,
    feed,
    records,
    send,
    start,
    wait,
    wait_for_purchase,
)

LATER = T0 + timedelta(hours=1)


def act(name: str, **fields: object) -> ActionRequested:
    return ActionRequested(now=LATER, action=EnrollmentAction.model_validate({"action": name, **fields}))


def drip() -> JourneyDefinition:
    return chain(TRIGGER, wait("w", duration="3 days"), send("s"), EXIT)


def test_skip_wait_continues_now_and_set_wait_moves_the_deadline() -> None:
    journey = drip()
    state, _ = start(journey)
    assert state.waiting_until == T0 + timedelta(days=3)
    moved, commands = feed(journey, state, act("setWait", until=(T0 + timedelta(days=1)).isoformat()))
    assert moved.waiting_until == T0 + timedelta(days=1)
    assert blocking(commands) == Wait(until=T0 + timedelta(days=1), label="wait w · time")
    assert records(commands) == [("w", "ACTIVE", None)], "the step's record carries the new deadline"
    _, commands = feed(journey, moved, TimeReached(now=T0 + timedelta(days=1)))
    assert isinstance(blocking(commands), SendMessage), "the new deadline is the one that counts"

    skipped, commands = feed(journey, state, act("skipWait"))
    assert ("w", "COMPLETED", None) in records(commands)
    assert isinstance(blocking(commands), SendMessage) and skipped.current_node_id == "s"


def test_skip_wait_takes_the_timeout_branch_of_a_wait_for_event() -> None:
    journey = wait_for_purchase()
    state, _ = start(journey)
    state, commands = feed(journey, state, act("skipWait"))
    assert ("wfe", "COMPLETED", "timeout") in records(commands) and state.path[-1] == "nudge"


def test_refusals_say_why() -> None:
    journey = drip()
    state, commands = start(journey)
    waiting, _ = feed(journey, state, act("skipWait"))
    assert isinstance(blocking(_), SendMessage)
    refusal = action_refusal(journey, waiting, EnrollmentAction(action="skipWait"))
    assert refusal == "skipWait: the enrollment is not waiting; it is sending at 's'"
    assert action_refusal(journey, state, EnrollmentAction(action="resume")) == "the enrollment is not paused"
    paused, _ = feed(journey, state, act("pause"))
    assert (
        action_refusal(journey, paused, EnrollmentAction(action="pause"))
        == "the enrollment is already paused"
    )
    done, _ = feed(journey, waiting, SendFinished(node_id="s", visit=1, now=LATER, outcome="sent"))
    assert done.status == "COMPLETED"
    assert (
        action_refusal(journey, done, EnrollmentAction(action="exit"))
        == "the enrollment has ended (COMPLETED)"
    )
    # A refused action fed anyway changes nothing (the shell answers it; the interpreter ignores it).
    again, commands = feed(journey, waiting, act("skipWait"))
    assert again == waiting and records(commands) == []


@pytest.mark.parametrize(
    ("fields", "problem"),
    [
        ({"action": "setWait"}, ("until", "setWait needs `until`, an ISO 8601 time with a zone")),
        (
            {"action": "setWait", "until": "2026-12-01T09:00:00"},
            ("until", "`until` needs a zone offset (e.g. 2026-12-01T09:00:00Z)"),
        ),
        ({"action": "moveTo"}, ("nodeId", "moveTo needs `nodeId`, a node of the enrollment's version")),
        ({"action": "moveTo", "nodeId": "nope"}, ("nodeId", "no node 'nope' in this version of the journey")),
        (
            {"action": "moveTo", "nodeId": "t"},
            ("nodeId", "'t' is the trigger; an enrollment cannot re-enter it"),
        ),
    ],
)
def test_problems_name_the_field(fields: dict[str, object], problem: tuple[str, str]) -> None:
    assert action_problems(drip(), EnrollmentAction.model_validate(fields)) == [problem]


def test_move_to_leaves_the_open_step_skipped_and_a_paused_enrollment_stays_held() -> None:
    journey = drip()
    state, _ = start(journey)
    moved, commands = feed(journey, state, act("moveTo", nodeId="x"))
    assert records(commands)[0] == ("w", "SKIPPED", None) and moved.status == "COMPLETED"
    paused, _ = feed(journey, state, act("pause"), TimeReached(now=T0 + timedelta(days=3)))
    assert paused.awaiting == "resume" and paused.held_node_id == "s"
    held, commands = feed(journey, paused, act("moveTo", nodeId="x"))
    assert held.held_node_id == "x" and held.status == "ACTIVE"
    resumed, _ = feed(journey, held, act("resume"))
    assert resumed.status == "COMPLETED" and resumed.path[-1] == "x"


def test_exit_action_ends_with_the_operators_reason() -> None:
    journey = drip()
    state, _ = start(journey)
    ended, _ = feed(journey, state, act("exit", reason="asked to stop"))
    assert ended.status == "EXITED" and ended.exit_reason == "asked to stop"
    ended, _ = feed(journey, state, act("exit"))
    assert ended.exit_reason == "exited by an operator"


def v2() -> JourneyDefinition:
    fixed = send("s2")
    fixed["config"]["subject"] = "fixed"
    return chain(TRIGGER, wait("w2", duration="5 days"), fixed, EXIT)


def move(node_map: dict[str, str]) -> VersionMove:
    return VersionMove(migration_id="m1", from_version=1, to_version=2, definition=v2(), node_map=node_map)


def test_a_version_move_keeps_a_waits_deadline_and_runs_the_new_version() -> None:
    journey = drip()
    state, _ = start(journey)
    moved, commands = feed(journey, state, VersionMoved(now=LATER, version=1, move=move({"w": "w2"})))
    assert moved.journey_version == 2 and moved.current_node_id == "w2"
    assert moved.waiting_until == T0 + timedelta(days=3), "the WAIT mapped to a WAIT keeps its deadline"
    assert records(commands) == [("w", "SKIPPED", None), ("w2", "ACTIVE", None)]
    assert moved.visits == {"t": 1, "w": 1, "w2": 1}
    # From here on the new definition decides: the send is v2's.
    _, commands = feed(v2(), moved, TimeReached(now=T0 + timedelta(days=3)))
    command = blocking(commands)
    assert isinstance(command, SendMessage) and command.config.subject == "fixed"


def test_a_version_move_refusals() -> None:
    journey = drip()
    state, _ = start(journey)
    assert version_move_refusal(state, 1, move({})) == "its node 'w' is not mapped"
    assert version_move_refusal(state, 2, move({"w": "w2"})) == "already on version 2"
    assert version_move_refusal(state, 3, move({"w": "w2"})) == "on version 3, not 1"
    assert version_move_refusal(state, 1, move({"w": "zz"})) == "no node 'zz' in this version of the journey"
    unchanged, commands = feed(journey, state, VersionMoved(now=LATER, version=1, move=move({})))
    assert unchanged == state and records(commands) == []
