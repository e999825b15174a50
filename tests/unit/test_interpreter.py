"""The interpreter, node by node and signal by signal, without any server."""

from __future__ import annotations

import itertools
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from domain.definition import JourneyDefinition
from domain.events import EventRecord
from domain.interpreter import (
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
    TimeReached,
    UnexpectedInputError,
    UpdateProfile,
    Wait,
    initial_state,
    step,
)
from tests.journey_examples import welcome_journey

T0 = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)  # a Monday
TRIGGER = {"id": "t", "type": "TRIGGER", "config": {"triggerType": "MANUAL"}}
EXIT = {"id": "x", "type": "EXIT"}


def chain(*nodes: dict[str, Any], **extra: Any) -> JourneyDefinition:
    edges = [{"sourceNodeId": a["id"], "targetNodeId": b["id"]} for a, b in itertools.pairwise(nodes)]
    return JourneyDefinition.model_validate({"nodes": list(nodes), "edges": edges, **extra})


def graph(nodes: list[dict[str, Any]], edges: list[tuple[str, str, str]], **extra: Any) -> JourneyDefinition:
    return JourneyDefinition.model_validate(
        {
            "nodes": nodes,
            "edges": [{"sourceNodeId": s, "targetNodeId": t, "label": label} for s, t, label in edges],
            **extra,
        }
    )


def send(node_id: str, on_failure: str = "fail") -> dict[str, Any]:
    config = {"channel": "EMAIL", "subject": "s", "body": "b", "onFailure": on_failure}
    return {"id": node_id, "type": "SEND", "name": f"mail {node_id}", "config": config}


def wait(node_id: str, **config: Any) -> dict[str, Any]:
    return {"id": node_id, "type": "WAIT", "name": f"wait {node_id}", "config": config}


def event(event_id: str, name: str = "purchase", at: datetime = T0, **properties: Any) -> EventRecord:
    return EventRecord(id=event_id, name=name, properties=properties, timestamp=at)


def start(definition: JourneyDefinition, customer: str = "c1") -> tuple[JourneyState, list[AnyCommand]]:
    return step(definition, initial_state("e1", "j1", customer), Started(now=T0))


def feed(
    definition: JourneyDefinition, state: JourneyState, *inputs: AnyInput
) -> tuple[JourneyState, list[AnyCommand]]:
    commands: list[AnyCommand] = []
    for item in inputs:
        state, commands = step(definition, state, item)
    return state, commands


def blocking(commands: list[AnyCommand]) -> AnyCommand:
    return commands[-1]


def records(commands: list[AnyCommand]) -> list[tuple[str, str, str | None]]:
    return [
        (c.record.node_id, c.record.status, c.record.branch) for c in commands if isinstance(c, RecordStep)
    ]


# ---- TRIGGER, SEND, EXIT -----------------------------------------------------------------------


def test_trigger_send_exit_sends_then_completes() -> None:
    journey = JourneyDefinition.model_validate({k: welcome_journey()[k] for k in ("nodes", "edges")})
    state, commands = start(journey)
    assert records(commands) == [("start", "COMPLETED", None), ("welcome", "ACTIVE", None)]
    send_command = blocking(commands)
    assert isinstance(send_command, SendMessage) and send_command.idempotency_key == "e1:welcome:1"

    later = T0 + timedelta(seconds=2)
    state, commands = feed(
        journey, state, SendFinished(node_id="welcome", visit=1, now=later, outcome="sent")
    )
    assert records(commands) == [("welcome", "COMPLETED", None), ("done", "COMPLETED", None)]
    assert isinstance(commands[-1], Finish) and commands[-1].status == "COMPLETED"
    assert state.status == "COMPLETED" and state.path == ["start", "welcome", "done"]


def test_failed_send_fails_the_enrollment_by_default() -> None:
    journey = chain(TRIGGER, send("s"), EXIT)
    state, _ = start(journey)
    state, commands = feed(
        journey, state, SendFinished(node_id="s", visit=1, now=T0, outcome="failed", error="no email")
    )
    finish = commands[-1]
    assert isinstance(finish, Finish) and finish.status == "FAILED" and finish.reason == "no email"


def test_failed_send_with_skip_policy_moves_on() -> None:
    journey = chain(TRIGGER, send("s", on_failure="skip"), EXIT)
    state, _ = start(journey)
    state, commands = feed(
        journey, state, SendFinished(node_id="s", visit=1, now=T0, outcome="failed", error="x")
    )
    assert records(commands)[0] == ("s", "SKIPPED", None)
    assert state.status == "COMPLETED"


def test_outcome_for_a_step_that_is_not_open_is_refused() -> None:
    journey = chain(TRIGGER, send("s"), EXIT)
    state, _ = start(journey)
    with pytest.raises(UnexpectedInputError):
        step(journey, state, SendFinished(node_id="s", visit=2, now=T0, outcome="sent"))
    with pytest.raises(UnexpectedInputError):
        step(journey, state, ProfileRead(node_id="s", visit=1, now=T0))


def test_a_finished_enrollment_ignores_further_input_and_state_is_not_mutated() -> None:
    journey = chain(TRIGGER, EXIT)
    before = initial_state("e")
    snapshot = before.model_dump()
    state, _ = step(journey, before, Started(now=T0))
    assert before.model_dump() == snapshot
    again, commands = step(journey, state, EventReceived(now=T0, event=event("e1")))
    assert commands == [] and again == state


# ---- WAIT --------------------------------------------------------------------------------------


def test_wait_duration_blocks_until_its_deadline() -> None:
    journey = chain(TRIGGER, wait("w", duration="3 days"), EXIT)
    state, commands = start(journey)
    timer = blocking(commands)
    assert isinstance(timer, Wait) and timer.until == T0 + timedelta(days=3)
    assert state.waiting_until == T0 + timedelta(days=3)

    state, commands = feed(journey, state, TimeReached(now=T0 + timedelta(days=1)))
    assert blocking(commands) == timer, "woken early: the same wait again"
    state, commands = feed(journey, state, TimeReached(now=T0 + timedelta(days=3)))
    assert state.status == "COMPLETED" and state.waiting_until is None


def test_wait_until_local_time_uses_the_customers_zone_then_the_journeys() -> None:
    journey = chain(
        TRIGGER, wait("w", until={"time": "09:00"}), EXIT, settings={"timezone": "America/New_York"}
    )
    state, commands = start(journey)
    assert isinstance(blocking(commands), ReadProfile)

    tokyo, cmds = feed(
        journey, state, ProfileRead(node_id="w", visit=1, now=T0, traits={"timezone": "Asia/Tokyo"})
    )
    assert blocking(cmds) == Wait(until=datetime(2026, 1, 6, 0, 0, tzinfo=UTC), label="wait w · time")
    assert tokyo.waiting_until == datetime(2026, 1, 6, 0, 0, tzinfo=UTC)  # 09:00 JST

    _, cmds = feed(
        journey, state, ProfileRead(node_id="w", visit=1, now=T0, traits={"timezone": "Not/AZone"})
    )
    timer = blocking(cmds)
    assert isinstance(timer, Wait) and timer.until == datetime(2026, 1, 5, 14, 0, tzinfo=UTC)  # 09:00 EST


def test_wait_until_weekday() -> None:
    journey = chain(TRIGGER, wait("w", until={"time": "10:00", "weekdays": [5]}), EXIT)
    state, _ = start(journey)
    _, cmds = feed(journey, state, ProfileRead(node_id="w", visit=1, now=T0, traits={}))
    timer = blocking(cmds)
    assert isinstance(timer, Wait) and timer.until == datetime(2026, 1, 9, 10, 0, tzinfo=UTC)  # Friday


def test_wait_until_a_date_trait_with_offset_and_without_the_trait() -> None:
    journey = chain(TRIGGER, wait("w", untilTrait={"field": "renewalDate", "offset": "-1 day"}), EXIT)
    state, _ = start(journey)
    _, cmds = feed(
        journey,
        state,
        ProfileRead(node_id="w", visit=1, now=T0, traits={"renewalDate": "2026-02-01T12:00:00Z"}),
    )
    timer = blocking(cmds)
    assert isinstance(timer, Wait) and timer.until == datetime(2026, 1, 31, 12, 0, tzinfo=UTC)

    done, cmds = feed(journey, state, ProfileRead(node_id="w", visit=1, now=T0, traits={}))
    assert done.status == "COMPLETED"
    first_record = next(c.record for c in cmds if isinstance(c, RecordStep))
    assert first_record.detail == "date trait missing or unusable"


# ---- WAIT_FOR_EVENT ----------------------------------------------------------------------------


def wait_for_purchase() -> JourneyDefinition:
    return graph(
        [
            TRIGGER,
            {
                "id": "wfe",
                "type": "WAIT_FOR_EVENT",
                "name": "Await purchase",
                "config": {
                    "event": "purchase",
                    "rules": [{"field": "amount", "operator": "gte", "value": 10}],
                    "timeout": "2 days",
                },
            },
            {"id": "thanks", "type": "END"},
            {"id": "nudge", "type": "EXIT"},
        ],
        [("t", "wfe", "next"), ("wfe", "thanks", "matched"), ("wfe", "nudge", "timeout")],
    )


def test_wait_for_event_matched() -> None:
    journey = wait_for_purchase()
    state, commands = start(journey)
    assert blocking(commands) == Wait(until=T0 + timedelta(days=2), label="Await purchase · event purchase")
    state, commands = feed(journey, state, EventReceived(now=T0, event=event("small", amount=5)))
    assert state.status == "ACTIVE", "rules not met: keep waiting"
    state, commands = feed(journey, state, EventReceived(now=T0, event=event("big", amount=25)))
    assert ("wfe", "COMPLETED", "matched") in records(commands)
    assert state.status == "COMPLETED" and state.path[-1] == "thanks"


def test_wait_for_event_times_out() -> None:
    journey = wait_for_purchase()
    state, _ = start(journey)
    state, commands = feed(journey, state, TimeReached(now=T0 + timedelta(days=2)))
    assert ("wfe", "COMPLETED", "timeout") in records(commands) and state.path[-1] == "nudge"


def test_an_early_event_is_not_lost() -> None:
    journey = graph(
        [TRIGGER, wait("w", duration="1 hour"), *wait_for_purchase().model_dump(by_alias=True)["nodes"][1:]],
        [("t", "w", "next"), ("w", "wfe", "next"), ("wfe", "thanks", "matched"), ("wfe", "nudge", "timeout")],
    )
    state, _ = start(journey)
    state, _ = feed(journey, state, EventReceived(now=T0, event=event("early", amount=50)))
    assert [e.id for e in state.buffered_events] == ["early"]
    state, commands = feed(journey, state, TimeReached(now=T0 + timedelta(hours=1)))
    assert ("wfe", "COMPLETED", "matched") in records(commands) and state.status == "COMPLETED"


def test_duplicate_events_count_once() -> None:
    journey = wait_for_purchase()
    state, _ = start(journey)
    state, _ = feed(journey, state, EventReceived(now=T0, event=event("dup", amount=1)))
    again, commands = feed(journey, state, EventReceived(now=T0, event=event("dup", amount=1)))
    assert again.seen_event_ids.count("dup") == 1 and isinstance(blocking(commands), Wait)


# ---- CONDITION, SPLIT, UPDATE, GOAL_CHECK ------------------------------------------------------


def condition(rules: list[dict[str, Any]], combinator: str = "AND") -> JourneyDefinition:
    return graph(
        [
            TRIGGER,
            {"id": "c", "type": "CONDITION", "config": {"combinator": combinator, "rules": rules}},
            {"id": "y", "type": "END"},
            {"id": "n", "type": "EXIT"},
        ],
        [("t", "c", "next"), ("c", "y", "yes"), ("c", "n", "no")],
    )


@pytest.mark.parametrize(
    ("rules", "traits", "segments", "branch"),
    [
        ([{"field": "engagementScore", "operator": "gte", "value": 70}], {"engagementScore": 80}, [], "yes"),
        (
            [{"field": "traits.engagementScore", "operator": "gte", "value": 70}],
            {"engagementScore": 60},
            [],
            "no",
        ),
        ([{"field": "segments", "operator": "contains", "value": "vip"}], {}, ["vip"], "yes"),
        ([{"field": "segments", "operator": "contains", "value": "vip"}], {}, [], "no"),
        ([{"field": "plan", "operator": "in", "value": ["pro", "team"]}], {"plan": "team"}, [], "yes"),
        ([{"field": "lastEmailOpenAt", "operator": "isNotNull"}], {}, [], "no"),
    ],
)
def test_condition_on_fresh_traits_and_segments(
    rules: list[dict[str, Any]], traits: dict[str, Any], segments: list[str], branch: str
) -> None:
    journey = condition(rules)
    state, commands = start(journey)
    assert isinstance(blocking(commands), ReadProfile)
    state, commands = feed(
        journey, state, ProfileRead(node_id="c", visit=1, now=T0, traits=traits, segments=segments)
    )
    assert ("c", "COMPLETED", branch) in records(commands)


def test_condition_on_the_trigger_events_properties() -> None:
    journey = condition([{"field": "event.properties.plan", "operator": "eq", "value": "pro"}])
    trigger = EventRecord(id="sig", name="signup", properties={"plan": "pro"}, timestamp=T0)
    state, _ = step(journey, initial_state("e", "j", "c"), Started(now=T0, trigger_event=trigger))
    _, commands = feed(journey, state, ProfileRead(node_id="c", visit=1, now=T0))
    assert ("c", "COMPLETED", "yes") in records(commands)


def split_journey() -> JourneyDefinition:
    splits = [
        {"key": "a", "percentage": 50},
        {"key": "b", "percentage": 30},
        {"key": "hold", "percentage": 20},
    ]
    return graph(
        [
            TRIGGER,
            {"id": "s", "type": "SPLIT", "config": {"splits": splits}},
            {"id": "ea", "type": "END"},
            {"id": "eb", "type": "END"},
            {"id": "eh", "type": "EXIT"},
        ],
        [("t", "s", "next"), ("s", "ea", "a"), ("s", "eb", "b"), ("s", "eh", "hold")],
    )


def test_split_is_sticky_per_customer() -> None:
    journey = split_journey()
    first, _ = start(journey, customer="cust-7")
    again, _ = start(journey, customer="cust-7")
    assert first.path == again.path


def test_split_proportions_within_two_percent_over_10000_runs() -> None:
    journey = split_journey()
    branches = Counter(start(journey, customer=f"customer-{i}")[0].path[-1] for i in range(10_000))
    assert abs(branches["ea"] / 10_000 - 0.50) <= 0.02
    assert abs(branches["eb"] / 10_000 - 0.30) <= 0.02
    assert abs(branches["eh"] / 10_000 - 0.20) <= 0.02


def test_update_is_keyed_and_a_failure_fails_the_enrollment() -> None:
    update = {
        "id": "u",
        "type": "UPDATE",
        "config": {"updates": [{"field": "score", "action": "increment", "value": 5}]},
    }
    journey = chain(TRIGGER, update, EXIT)
    state, commands = start(journey)
    command = blocking(commands)
    assert isinstance(command, UpdateProfile) and command.idempotency_key == "e1:u:1"
    ok, _ = feed(journey, state, ProfileUpdated(node_id="u", visit=1, now=T0))
    assert ok.status == "COMPLETED"
    failed, _ = feed(journey, state, ProfileUpdated(node_id="u", visit=1, now=T0, error="not a number"))
    assert failed.status == "FAILED"


def goal_check(goal: dict[str, Any]) -> JourneyDefinition:
    return graph(
        [
            TRIGGER,
            wait("w", duration="1 day"),
            {"id": "g", "type": "GOAL_CHECK"},
            {"id": "won", "type": "END"},
            {"id": "lost", "type": "EXIT"},
        ],
        [("t", "w", "next"), ("w", "g", "next"), ("g", "won", "yes"), ("g", "lost", "no")],
        goal=goal,
    )


def test_goal_check_after_an_event_goal() -> None:
    journey = goal_check({"type": "event", "config": {"eventName": "purchase"}})
    state, _ = start(journey)
    converted, _ = feed(journey, state, EventReceived(now=T0, event=event("p1")))
    assert converted.converted and converted.status == "ACTIVE"
    converted, commands = feed(journey, converted, TimeReached(now=T0 + timedelta(days=1)))
    assert ("g", "COMPLETED", "yes") in records(commands)
    unconverted, commands = feed(journey, state, TimeReached(now=T0 + timedelta(days=1)))
    assert ("g", "COMPLETED", "no") in records(commands) and not unconverted.converted


def test_goal_check_on_an_attribute_goal_reads_the_profile() -> None:
    journey = goal_check({"type": "attribute_match", "config": {"field": "plan", "value": "pro"}})
    state, _ = start(journey)
    state, commands = feed(journey, state, TimeReached(now=T0 + timedelta(days=1)))
    assert isinstance(blocking(commands), ReadProfile)
    state, commands = feed(journey, state, ProfileRead(node_id="g", visit=1, now=T0, traits={"plan": "pro"}))
    assert state.converted and ("g", "COMPLETED", "yes") in records(commands)


# ---- goal, deadline, exit criteria -------------------------------------------------------------


def long_wait(**extra: Any) -> JourneyDefinition:
    return chain(TRIGGER, wait("w", duration="30 days"), EXIT, **extra)


def test_goal_event_converts_and_exits_when_configured() -> None:
    journey = long_wait(goal={"type": "event", "config": {"eventName": "purchase"}, "exitOnConversion": True})
    state, _ = start(journey)
    state, commands = feed(journey, state, EventReceived(now=T0 + timedelta(hours=1), event=event("p")))
    assert state.converted and state.status == "EXITED" and state.exit_reason == "goal reached"
    assert ("w", "EXITED", None) in records(commands)


def test_page_visit_and_flow_completed_goals() -> None:
    page = long_wait(goal={"type": "page_visit", "config": {"url": "/pricing"}})
    state, _ = start(page)
    visit = EventRecord(
        id="pv", type="page", name="page", properties={"url": "https://x.io/pricing"}, timestamp=T0
    )
    assert feed(page, state, EventReceived(now=T0, event=visit))[0].converted
    flow = long_wait(goal={"type": "flow_completed", "config": {"flowId": "flow_abc"}})
    state, _ = start(flow)
    done = event("fc", name="flow_completed", flowId="flow_abc")
    assert feed(flow, state, EventReceived(now=T0, event=done))[0].converted
    other = event("fc2", name="flow_completed", flowId="other")
    assert not feed(flow, state, EventReceived(now=T0, event=other))[0].converted


def test_goal_deadline_passing_abandons_the_enrollment_mid_wait() -> None:
    journey = long_wait(goal={"type": "event", "config": {"eventName": "purchase"}, "deadline": 7})
    state, commands = start(journey)
    timer = blocking(commands)
    assert isinstance(timer, Wait) and timer.until == T0 + timedelta(days=7), "wakes at the goal deadline"
    state, commands = feed(journey, state, TimeReached(now=T0 + timedelta(days=7)))
    assert state.status == "EXITED" and state.abandoned and "abandoned" in (state.exit_reason or "")


def test_goal_met_before_deadline_keeps_going() -> None:
    journey = long_wait(goal={"type": "event", "config": {"eventName": "purchase"}, "deadline": 7})
    state, _ = start(journey)
    state, commands = feed(journey, state, EventReceived(now=T0 + timedelta(days=2), event=event("p")))
    timer = blocking(commands)
    assert state.converted and isinstance(timer, Wait) and timer.until == T0 + timedelta(days=30)
    state, _ = feed(journey, state, TimeReached(now=T0 + timedelta(days=30)))
    assert state.status == "COMPLETED" and state.converted


def test_exit_criteria_exit_at_once_mid_wait() -> None:
    criteria = {
        "events": [{"event": "unsubscribe", "rules": [{"field": "list", "operator": "eq", "value": "all"}]}]
    }
    journey = long_wait(exitCriteria=criteria)
    state, _ = start(journey)
    state, _ = feed(
        journey, state, EventReceived(now=T0, event=event("u1", name="unsubscribe", list="weekly"))
    )
    assert state.status == "ACTIVE"
    state, commands = feed(
        journey, state, EventReceived(now=T0, event=event("u2", name="unsubscribe", list="all"))
    )
    assert state.status == "EXITED" and state.exit_reason == "exit criteria: unsubscribe"
    assert isinstance(commands[-1], Finish) and commands[-1].status == "EXITED"


# ---- pause, resume, exit, continue-as-new ------------------------------------------------------


def test_pause_holds_before_the_next_step_and_resume_releases() -> None:
    journey = chain(TRIGGER, wait("w", duration="1 day"), send("s"), EXIT)
    state, _ = start(journey)
    state, commands = feed(journey, state, PauseRequested(now=T0))
    assert isinstance(blocking(commands), Wait), "the current wait runs on"
    state, commands = feed(journey, state, TimeReached(now=T0 + timedelta(days=1)))
    assert blocking(commands) == Wait(until=None, label="paused before s")
    assert not any(isinstance(c, SendMessage) for c in commands)
    assert state.awaiting == "resume" and state.held_node_id == "s"
    state, commands = feed(journey, state, ResumeRequested(now=T0 + timedelta(days=2)))
    assert isinstance(blocking(commands), SendMessage)


def test_exit_while_paused_or_mid_send() -> None:
    journey = chain(TRIGGER, wait("w", duration="1 day"), send("s"), EXIT)
    state, _ = start(journey)
    held, _ = feed(journey, state, PauseRequested(now=T0), TimeReached(now=T0 + timedelta(days=1)))
    exited, commands = feed(journey, held, ExitRequested(now=T0, reason="journey archived"))
    assert exited.status == "EXITED" and exited.exit_reason == "journey archived"

    sending, _ = feed(journey, state, TimeReached(now=T0 + timedelta(days=1)))
    exited, commands = feed(journey, sending, ExitRequested(now=T0, reason="exited by API"))
    assert ("s", "EXITED", None) in records(commands) and exited.status == "EXITED"


def test_a_signal_between_effects_reissues_the_pending_effect() -> None:
    journey = chain(TRIGGER, send("s"), EXIT)
    state, commands = start(journey)
    pending = blocking(commands)
    state, commands = feed(journey, state, EventReceived(now=T0, event=event("x")))
    assert commands == [pending]
    state, commands = feed(journey, state, PauseRequested(now=T0))
    assert commands == [pending], "the running send completes; the pause holds the next step"
    state, commands = feed(journey, state, SendFinished(node_id="s", visit=1, now=T0, outcome="sent"))
    assert state.awaiting == "resume" and state.held_node_id == "x"


def test_resumed_after_continue_as_new_reissues_the_wait() -> None:
    journey = long_wait()
    state, commands = start(journey)
    again, reissued = feed(journey, state, Resumed(now=T0 + timedelta(days=3)))
    assert reissued == [blocking(commands)] and again == state


# ---- quiet hours ---------------------------------------------------------------------------------

PARIS_NIGHTS = {"timezone": "Europe/Paris", "quietHours": {"start": "21:00", "end": "08:00"}}
NIGHT = datetime(2026, 1, 5, 22, 30, tzinfo=UTC)  # 23:30 in Paris: quiet
MORNING = datetime(2026, 1, 6, 7, 0, tzinfo=UTC)  # 08:00 in Paris: the window's end


def start_at(definition: JourneyDefinition, now: datetime) -> tuple[JourneyState, list[AnyCommand]]:
    return step(definition, initial_state("e1", "j1", "c1"), Started(now=now))


def test_a_send_inside_quiet_hours_waits_for_their_end_then_sends() -> None:
    journey = chain(TRIGGER, send("s"), EXIT, settings=PARIS_NIGHTS)
    state, commands = start_at(journey, NIGHT)
    assert records(commands) == [("t", "COMPLETED", None), ("s", "ACTIVE", None)]
    hold = Wait(until=MORNING, label=f"mail s · quiet hours until {MORNING.isoformat()}")
    assert commands[-1] == hold and not any(isinstance(c, SendMessage) for c in commands)
    assert state.awaiting == "quiet_hours" and state.waiting_until == MORNING

    state, commands = feed(journey, state, TimeReached(now=MORNING - timedelta(minutes=1)))
    assert commands == [hold], "woken early: the same hold again"

    state, commands = feed(journey, state, TimeReached(now=MORNING))
    assert len(commands) == 1, "the step stays the one recorded at entry"
    send_command = commands[0]
    assert isinstance(send_command, SendMessage) and send_command.idempotency_key == "e1:s:1"
    assert state.awaiting == "send" and state.waiting_until is None

    state, commands = feed(journey, state, SendFinished(node_id="s", visit=1, now=MORNING, outcome="sent"))
    [sent] = [c.record for c in commands if isinstance(c, RecordStep) and c.record.node_id == "s"]
    assert (sent.status, sent.started_at, sent.completed_at) == ("COMPLETED", NIGHT, MORNING)
    assert state.status == "COMPLETED"


def test_a_send_outside_quiet_hours_sends_at_once() -> None:
    journey = chain(TRIGGER, send("s"), EXIT, settings=PARIS_NIGHTS)
    state, commands = start_at(journey, T0)  # 10:00 in Paris
    assert isinstance(blocking(commands), SendMessage) and state.awaiting == "send"


def test_quiet_hours_are_read_on_the_journeys_clock() -> None:
    # 22:30 UTC is quiet in Paris, but 17:30 in New York.
    journey = chain(TRIGGER, send("s"), EXIT, settings={**PARIS_NIGHTS, "timezone": "America/New_York"})
    _, commands = start_at(journey, NIGHT)
    assert isinstance(blocking(commands), SendMessage)


def goal_deadline_in_the_morning_quiet() -> JourneyDefinition:
    """Goal deadline a day after entry (Tuesday 09:00 UTC); the send comes at Tuesday 08:00 UTC, inside
    quiet hours that end at 10:00."""
    return chain(
        TRIGGER,
        wait("w", duration="23 hours"),
        send("s"),
        EXIT,
        settings={"timezone": "UTC", "quietHours": {"start": "07:00", "end": "10:00"}},
        goal={"type": "event", "config": {"eventName": "purchase"}, "deadline": 1},
    )


def test_a_goal_deadline_before_the_quiet_hours_end_abandons_the_enrollment_unsent() -> None:
    # The hold wakes at the deadline, which abandons the enrollment as it would in any wait.
    journey = goal_deadline_in_the_morning_quiet()
    state, _ = start_at(journey, T0)
    state, commands = feed(journey, state, TimeReached(now=T0 + timedelta(hours=23)))
    deadline = T0 + timedelta(days=1)
    window_end = datetime(2026, 1, 6, 10, 0, tzinfo=UTC)
    assert blocking(commands) == Wait(
        until=deadline, label=f"mail s · quiet hours until {window_end.isoformat()}"
    )
    assert state.waiting_until == window_end
    state, commands = feed(journey, state, TimeReached(now=deadline))
    assert state.status == "EXITED" and state.abandoned
    assert ("s", "EXITED", None) in records(commands)
    assert not any(isinstance(c, SendMessage) for c in commands)


def test_once_converted_the_goal_deadline_no_longer_cuts_a_quiet_hours_hold_short() -> None:
    journey = goal_deadline_in_the_morning_quiet()
    state, _ = start_at(journey, T0)
    state, _ = feed(journey, state, EventReceived(now=T0 + timedelta(hours=1), event=event("p")))
    assert state.converted
    state, commands = feed(journey, state, TimeReached(now=T0 + timedelta(hours=23)))
    window_end = datetime(2026, 1, 6, 10, 0, tzinfo=UTC)
    timer = blocking(commands)
    assert isinstance(timer, Wait) and timer.until == window_end
    state, commands = feed(journey, state, TimeReached(now=window_end))
    assert isinstance(blocking(commands), SendMessage)


def test_signals_during_a_quiet_hours_hold() -> None:
    journey = chain(TRIGGER, send("s"), send("s2"), EXIT, settings=PARIS_NIGHTS)
    held, commands = start_at(journey, NIGHT)
    hold = blocking(commands)

    absorbed, commands = feed(journey, held, EventReceived(now=NIGHT, event=event("x")))
    assert commands == [hold] and [e.id for e in absorbed.buffered_events] == ["x"]

    exited, commands = feed(journey, held, ExitRequested(now=NIGHT, reason="exited by API"))
    assert exited.status == "EXITED" and ("s", "EXITED", None) in records(commands)
    assert not any(isinstance(c, SendMessage) for c in commands)

    # A pause holds the next step, not the send already entered (as for a send under way).
    paused, commands = feed(journey, held, PauseRequested(now=NIGHT))
    assert commands == [hold]
    paused, commands = feed(journey, paused, TimeReached(now=MORNING))
    assert isinstance(blocking(commands), SendMessage)
    paused, commands = feed(journey, paused, SendFinished(node_id="s", visit=1, now=MORNING, outcome="sent"))
    assert paused.awaiting == "resume" and paused.held_node_id == "s2"


def test_resumed_after_continue_as_new_during_a_quiet_hours_hold_reissues_it() -> None:
    journey = chain(TRIGGER, send("s"), EXIT, settings=PARIS_NIGHTS)
    state, commands = start_at(journey, NIGHT)
    again, reissued = feed(journey, state, Resumed(now=NIGHT + timedelta(hours=1)))
    assert reissued == [blocking(commands)] and again == state


def test_without_the_hold_a_send_in_quiet_hours_is_left_to_the_caller() -> None:
    # How the enrollment workflow replays histories recorded before the interpreter held sends.
    journey = chain(TRIGGER, send("s"), EXIT, settings=PARIS_NIGHTS)
    state, commands = step(journey, initial_state("e1"), Started(now=NIGHT), hold_quiet_hours=False)
    assert isinstance(blocking(commands), SendMessage) and state.awaiting == "send"
