"""The interpreter, node by node, without any server."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from domain.definition import JourneyDefinition
from domain.interpreter import (
    Finish,
    RecordStep,
    SendFinished,
    SendMessage,
    Started,
    StartTimer,
    TimerFired,
    UnexpectedInputError,
    initial_state,
    step,
)
from tests.journey_examples import welcome_journey

T0 = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)


def definition(body: dict[str, Any]) -> JourneyDefinition:
    return JourneyDefinition.model_validate({"nodes": body["nodes"], "edges": body["edges"]})


def chain(*nodes: dict[str, Any]) -> JourneyDefinition:
    edges = [{"sourceNodeId": a["id"], "targetNodeId": b["id"]} for a, b in itertools.pairwise(nodes)]
    return JourneyDefinition.model_validate({"nodes": list(nodes), "edges": edges})


TRIGGER = {"id": "t", "type": "TRIGGER", "config": {"triggerType": "MANUAL"}}
EXIT = {"id": "x", "type": "EXIT"}


def send(node_id: str, on_failure: str = "fail") -> dict[str, Any]:
    return {
        "id": node_id,
        "type": "SEND",
        "name": f"mail {node_id}",
        "config": {"channel": "EMAIL", "subject": "s", "body": "b", "onFailure": on_failure},
    }


def test_trigger_send_exit_runs_send_then_completes() -> None:
    journey = definition(welcome_journey())
    state, commands = step(journey, initial_state("e1"), Started(now=T0))

    assert [type(c) for c in commands] == [RecordStep, RecordStep, SendMessage]
    assert commands[0].record.node_id == "start" and commands[0].record.status == "COMPLETED"
    send_command = commands[-1]
    assert isinstance(send_command, SendMessage)
    assert send_command.idempotency_key == "e1:welcome:1"
    assert state.current_node_id == "welcome" and state.status == "ACTIVE"

    later = T0 + timedelta(seconds=2)
    state, commands = step(
        journey, state, SendFinished(node_id="welcome", visit=1, now=later, outcome="sent")
    )
    assert [type(c) for c in commands] == [RecordStep, RecordStep, Finish]
    closed = commands[0]
    assert isinstance(closed, RecordStep)
    assert closed.record.status == "COMPLETED" and closed.record.completed_at == later
    assert state.status == "COMPLETED" and state.path == ["start", "welcome", "done"]


def test_failed_send_fails_the_enrollment_by_default() -> None:
    journey = chain(TRIGGER, send("s"), EXIT)
    state, _ = step(journey, initial_state("e"), Started(now=T0))
    state, commands = step(
        journey, state, SendFinished(node_id="s", visit=1, now=T0, outcome="failed", error="no email")
    )
    finish = commands[-1]
    assert isinstance(finish, Finish) and finish.status == "FAILED" and finish.reason == "no email"
    assert state.status == "FAILED"


def test_failed_send_with_skip_policy_moves_on() -> None:
    journey = chain(TRIGGER, send("s", on_failure="skip"), EXIT)
    state, _ = step(journey, initial_state("e"), Started(now=T0))
    state, commands = step(
        journey, state, SendFinished(node_id="s", visit=1, now=T0, outcome="failed", error="no email")
    )
    skipped = commands[0]
    assert isinstance(skipped, RecordStep) and skipped.record.status == "SKIPPED"
    assert state.status == "COMPLETED"


def test_wait_duration_starts_a_timer_and_continues_when_it_fires() -> None:
    wait = {"id": "w", "type": "WAIT", "name": "Wait 3 days", "config": {"duration": "3 days"}}
    journey = chain(TRIGGER, wait, EXIT)
    state, commands = step(journey, initial_state("e"), Started(now=T0))
    timer = commands[-1]
    assert isinstance(timer, StartTimer) and timer.until == T0 + timedelta(days=3)
    assert state.waiting_until == T0 + timedelta(days=3)

    state, commands = step(journey, state, TimerFired(node_id="w", visit=1, now=timer.until))
    assert state.status == "COMPLETED" and state.waiting_until is None
    assert isinstance(commands[-1], Finish)


def test_input_for_a_step_that_is_not_open_is_refused() -> None:
    journey = chain(TRIGGER, send("s"), EXIT)
    state, _ = step(journey, initial_state("e"), Started(now=T0))
    with pytest.raises(UnexpectedInputError):
        step(journey, state, SendFinished(node_id="s", visit=2, now=T0, outcome="sent"))


def test_a_finished_enrollment_ignores_further_input() -> None:
    journey = chain(TRIGGER, EXIT)
    state, _ = step(journey, initial_state("e"), Started(now=T0))
    assert state.status == "COMPLETED"
    again, commands = step(journey, state, Started(now=T0))
    assert commands == [] and again == state


def test_step_does_not_mutate_the_state_it_was_given() -> None:
    journey = chain(TRIGGER, send("s"), EXIT)
    before = initial_state("e")
    snapshot = before.model_dump()
    step(journey, before, Started(now=T0))
    assert before.model_dump() == snapshot
