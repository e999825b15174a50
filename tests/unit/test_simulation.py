"""The simulator (`domain.simulation`): the interpreter played forward over a cohort on a virtual clock."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from domain.definition import JourneyDefinition
from domain.interpreter import ProfileRead, Started, initial_state, step
from domain.nodes.split import split_bucket
from domain.simulation import ScriptedEvent, SimCustomer, SimulationPlan, chosen, percentile, simulate
from tests.unit.test_interpreter import graph

START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def tiers() -> JourneyDefinition:
    """TRIGGER → WAIT 1 day → SEND → WAIT_FOR_EVENT purchase (3 days) → matched: EXIT; timeout: CONDITION
    plan = pro → SPLIT 50/50 → SEND | EXIT."""
    mail = {"channel": "EMAIL", "subject": "s", "body": "b"}
    return graph(
        [
            {"id": "t", "type": "TRIGGER", "config": {"triggerType": "MANUAL"}},
            {"id": "w", "type": "WAIT", "config": {"duration": "1 day"}},
            {"id": "s1", "type": "SEND", "config": mail},
            {"id": "wfe", "type": "WAIT_FOR_EVENT", "config": {"event": "purchase", "timeout": "3 days"}},
            {
                "id": "c",
                "type": "CONDITION",
                "config": {
                    "combinator": "AND",
                    "rules": [{"field": "plan", "operator": "eq", "value": "pro"}],
                },
            },
            {
                "id": "sp",
                "type": "SPLIT",
                "config": {"splits": [{"key": "a", "percentage": 50}, {"key": "b", "percentage": 50}]},
            },
            {"id": "s2", "type": "SEND", "config": mail},
            {"id": "bought", "type": "EXIT"},
            {"id": "free", "type": "EXIT"},
            {"id": "done", "type": "EXIT"},
        ],
        [
            ("t", "w", "next"),
            ("w", "s1", "next"),
            ("s1", "wfe", "next"),
            ("wfe", "bought", "matched"),
            ("wfe", "c", "timeout"),
            ("c", "sp", "yes"),
            ("c", "free", "no"),
            ("sp", "s2", "a"),
            ("sp", "done", "b"),
            ("s2", "done", "next"),
        ],
        goal={"type": "event", "config": {"eventName": "purchase"}},
    )


def plan(horizon: timedelta = timedelta(days=30), **extra: Any) -> SimulationPlan:
    return SimulationPlan(
        definition=tiers(),
        journey_id="j-sim",
        journey_name="Tiers",
        version=1,
        start=START,
        horizon=horizon,
        events=[ScriptedEvent(after=timedelta(days=2), event="purchase", share=0.3)],
        **extra,
    )


def cohort(n: int = 400) -> list[SimCustomer]:
    return [SimCustomer(f"c{i}", {"plan": "pro" if i % 2 else "free"}) for i in range(n)]


def test_every_branch_is_what_the_engine_would_decide_for_each_customer() -> None:
    customers = cohort()
    result = simulate(plan(), customers)
    bought = [c for c in customers if chosen(0.3, 0, c.customer_id)]
    rest = [c for c in customers if not chosen(0.3, 0, c.customer_id)]
    pro = [c for c in rest if c.traits["plan"] == "pro"]
    to_a = [c for c in pro if split_bucket("j-sim", "sp", c.customer_id) < 50]
    assert result.branches[("wfe", "matched")] == len(bought) and 0 < len(bought) < len(customers)
    assert result.branches[("wfe", "timeout")] == len(rest)
    assert (result.branches[("c", "yes")], result.branches[("c", "no")]) == (len(pro), len(rest) - len(pro))
    assert (result.branches[("sp", "a")], result.branches[("sp", "b")]) == (len(to_a), len(pro) - len(to_a))
    assert result.sent["EMAIL"] == len(customers) + len(to_a)
    assert result.converted == len(bought) and set(result.time_to_goal) == {2 * 86400.0}
    assert result.statuses["COMPLETED"] == len(customers) and result.nodes["t"].entered == len(customers)
    assert result.nodes["done"].entered == len(pro)


def test_the_horizon_leaves_customers_where_they_wait() -> None:
    result = simulate(plan(horizon=timedelta(hours=12)), cohort(10))
    assert result.nodes["w"].active_at_horizon == 10 and result.nodes["w"].completed == 0
    assert result.statuses["ACTIVE"] == 10 and result.sent == {}


def test_frequency_caps_count_the_simulated_sends() -> None:
    definition = JourneyDefinition.model_validate(
        {
            **tiers().model_dump(by_alias=True, exclude_none=True),
            "settings": {"frequencyCaps": [{"channel": "EMAIL", "limit": 1, "period": "7 days"}]},
        }
    )
    only_pro = [SimCustomer(f"p{i}", {"plan": "pro"}) for i in range(200)]
    result = simulate(
        plan().__class__(**{**plan().__dict__, "definition": definition, "events": []}), only_pro
    )
    second = result.branches[("sp", "a")]
    assert second > 0 and result.suppressed["EMAIL"] == second and result.sent["EMAIL"] == len(only_pro)


def test_a_step_never_changes_the_state_it_was_given() -> None:
    definition = graph(
        [
            {"id": "t", "type": "TRIGGER", "config": {"triggerType": "MANUAL"}},
            {"id": "w", "type": "WAIT", "config": {"until": {"time": "10:00"}}},
            {"id": "x", "type": "EXIT"},
        ],
        [("t", "w", "next"), ("w", "x", "next")],
    )
    state, _ = step(definition, initial_state("e", "j", "c"), Started(now=START))
    before = state.model_dump()
    read = ProfileRead(node_id="w", visit=1, now=START, traits={"timezone": "Mars/Base"})
    after, _ = step(definition, state, read, customer_clock=True)
    assert after.open_step is not None and after.open_step.detail, "the step says why the zone was ignored"
    assert state.model_dump() == before


def test_percentiles() -> None:
    assert percentile([], 0.5) is None
    assert percentile([1.0, 2.0, 3.0, 4.0], 0.5) == 2.0
    assert percentile([5.0], 0.9) == 5.0
