"""How branching steps decide, as their step records say (the enrollment's timeline reads them)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from domain.definition import JourneyDefinition
from domain.interpreter import (
    AnyCommand,
    JourneyState,
    ProfileRead,
    RecordStep,
    Started,
    StepRecord,
    initial_state,
    step,
)
from domain.rules import StepDecision, mask_text, recorded_value
from tests.unit.test_interpreter import EXIT, T0, TRIGGER, graph, start, wait


def decided(commands: list[AnyCommand], node_id: str) -> StepRecord:
    [record] = [
        c.record
        for c in commands
        if isinstance(c, RecordStep) and c.record.node_id == node_id and c.record.completed_at is not None
    ]
    return record


def condition(config: dict[str, Any], labels: list[str]) -> JourneyDefinition:
    ends = [{"id": f"end-{label}", "type": "END"} for label in labels]
    return graph(
        [TRIGGER, {"id": "c", "type": "CONDITION", "config": config}, *ends],
        [("t", "c", "next"), *[("c", f"end-{label}", label) for label in labels]],
    )


def read(journey: JourneyDefinition, traits: dict[str, Any], state: JourneyState | None = None) -> StepRecord:
    state = state or start(journey)[0]
    _, commands = step(journey, state, ProfileRead(node_id="c", visit=1, now=T0, traits=traits))
    return decided(commands, "c")


def test_a_condition_names_each_rule_with_expected_and_actual_values_masking_emails_and_phones() -> None:
    rules = [
        {"field": "plan", "operator": "eq", "value": "pro"},
        {"field": "email", "operator": "startsWith", "value": "bob.smith@"},
        {"field": "phone", "operator": "exists"},
        {"field": "spend", "operator": "gte", "value": 100},
    ]
    journey = condition({"rules": rules}, ["yes", "no"])
    traits = {"plan": "free", "email": "bob.smith@example.com", "phone": "+44 7700 900189", "spend": 250}
    record = read(journey, traits)
    assert record.branch == "no"
    decision = record.decision
    assert decision is not None and decision.branch == "no" and decision.combinator == "AND"
    assert decision.rules is not None
    checks = [(r.field, r.operator, r.expected, r.actual, r.result) for r in decision.rules]
    assert checks == [
        ("plan", "eq", "pro", "free", False),
        ("email", "startsWith", "bob.smith@", "b***@example.com", True),
        ("phone", "exists", None, "+44********89", True),
        ("spend", "gte", 100, 250, True),
    ]
    stored = decision.stored()
    assert "bob.smith@example" not in str(stored) and "7700" not in str(stored)
    assert stored["rules"][0] == {
        "field": "plan",
        "operator": "eq",
        "expected": "pro",
        "valueFrom": None,
        "actual": "free",
        "missing": False,
        "result": False,
    }
    assert set(stored) == {"branch", "combinator", "rules", "truncated"}


def test_a_missing_field_and_a_value_from_the_context_are_recorded() -> None:
    rules = [
        {"field": "tier", "operator": "eq", "value": "gold"},
        {"field": "country", "operator": "eq", "valueFrom": "journey.name"},
    ]
    journey = condition({"rules": rules, "combinator": "OR"}, ["yes", "no"])
    state = initial_state("e1", "j1", "c1", journey_name="UK")
    state, _ = step(journey, state, Started(now=T0))
    record = read(journey, {"country": "UK"}, state)
    assert record.branch == "yes" and record.decision is not None and record.decision.rules is not None
    tier, country = record.decision.rules
    assert (tier.missing, tier.actual, tier.result) == (True, None, False)
    assert (country.value_from, country.expected, country.actual, country.result) == (
        "journey.name",
        "UK",
        "UK",
        True,
    )


def test_a_multi_branch_condition_records_the_branches_up_to_the_one_taken() -> None:
    branches = [
        {"key": "gold", "rules": [{"field": "spend", "operator": "gte", "value": 1000}]},
        {"key": "silver", "rules": [{"field": "spend", "operator": "gte", "value": 100}]},
        {"key": "bronze", "rules": [{"field": "spend", "operator": "gte", "value": 10}]},
    ]
    journey = condition({"branches": branches}, ["gold", "silver", "bronze", "else"])
    decision = read(journey, {"spend": 250}).decision
    assert decision is not None and decision.branch == "silver" and decision.branches is not None
    assert [(b.key, b.matched, [r.actual for r in b.rules]) for b in decision.branches] == [
        ("gold", False, [250]),
        ("silver", True, [250]),
    ]
    none = read(journey, {"spend": 1}).decision
    assert none is not None and none.branch == "else" and none.branches is not None
    assert [b.key for b in none.branches] == ["gold", "silver", "bronze"]


def test_a_split_records_its_bucket_and_weights() -> None:
    splits = [{"key": "a", "percentage": 50}, {"key": "b", "percentage": 50}]
    journey = graph(
        [
            TRIGGER,
            {"id": "s", "type": "SPLIT", "config": {"splits": splits}},
            EXIT,
            {"id": "x2", "type": "END"},
        ],
        [("t", "s", "next"), ("s", "x", "a"), ("s", "x2", "b")],
    )
    _, commands = start(journey)
    record = decided(commands, "s")
    assert record.decision is not None and record.decision.split is not None
    split = record.decision.split
    assert [(w.key, w.percentage) for w in split.weights] == [("a", 50), ("b", 50)]
    assert record.branch == ("a" if split.bucket < 50 else "b") == record.decision.branch


def test_a_goal_check_records_the_goal() -> None:
    goal = {"type": "event", "config": {"eventName": "purchase"}}
    journey = graph(
        [TRIGGER, {"id": "g", "type": "GOAL_CHECK"}, EXIT, {"id": "x2", "type": "END"}],
        [("t", "g", "next"), ("g", "x", "yes"), ("g", "x2", "no")],
        goal=goal,
    )
    _, commands = start(journey)
    decision = decided(commands, "g").decision
    assert decision is not None and decision.goal is not None
    assert (decision.branch, decision.goal.goal_type, decision.goal.converted) == ("no", "event", False)


def test_a_wait_records_its_deadline_and_a_local_time_its_zone() -> None:
    journey = graph([TRIGGER, wait("w", duration="PT1H"), EXIT], [("t", "w", "next"), ("w", "x", "next")])
    _, commands = start(journey)
    [active] = [c.record for c in commands if isinstance(c, RecordStep) and c.record.node_id == "w"]
    assert active.decision is not None and active.decision.wait is not None
    assert (active.decision.wait.until, active.decision.wait.zone) == (T0 + timedelta(hours=1), None)
    local = graph(
        [TRIGGER, wait("w", until={"time": "18:00"}), EXIT],
        [("t", "w", "next"), ("w", "x", "next")],
        settings={"timezone": "Europe/Paris"},
    )
    state, _ = start(local)
    state, _ = step(
        local,
        state,
        ProfileRead(node_id="w", visit=1, now=T0, traits={"timezone": "America/New_York"}),
        customer_clock=True,
    )
    assert state.open_step is not None and state.open_step.decision is not None
    assert state.open_step.decision.wait is not None
    assert state.open_step.decision.wait.zone == "America/New_York"


def test_a_decision_is_an_explanation_not_part_of_what_a_step_is() -> None:
    """Command lists are compared (the workflow's patches): records differing only in it are equal."""
    record = StepRecord(node_id="c", node_type="CONDITION", name="c", visit=1, status="ACTIVE", started_at=T0)
    explained = record.model_copy(update={"decision": StepDecision(branch="yes")})
    assert record == explained and RecordStep(record=record) == RecordStep(record=explained)
    assert record != record.model_copy(update={"status": "COMPLETED"})
    assert "decision" not in record.model_dump(), "absent, so a worker from before reads the record"


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("a@example.com", "a***@example.com"),
        ("alice.smith@example.co.uk", "a***@example.co.uk"),
        ("+44 7700 900189", "+44********89"),
        ("07700900189", "07*******89"),
        ("gold", "gold"),
        ("2026-01-05", "2026-01-05"),
        ("2026-01-05T09:00:00Z", "2026-01-05T09:00:00Z"),
        ("12.50", "12.50"),
    ],
)
def test_emails_and_phone_numbers_are_masked(text: str, shown: str) -> None:
    assert mask_text(text) == shown


def test_recorded_values_stay_small() -> None:
    assert recorded_value("x" * 1000) == "x" * 120 + "…"
    assert recorded_value(list(range(50))) == [*range(10), "…"]
    nested = recorded_value({"a": {"b": ["c@example.com"] * 40}})
    assert isinstance(nested, str) and len(nested) <= 121
