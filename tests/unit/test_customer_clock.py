"""The customer's clock, without any server: time-window arithmetic (across midnight, days, DST), the
customer's zone against the journey's, an unusable zone ignored with a reason, and the interpreter's
SEND holds on the `customer_clock` path (profile read once, window holds, a new zone recomputing)."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from domain.definition import JourneyDefinition
from domain.events import EventRecord
from domain.interpreter import (
    AnyCommand,
    AnyInput,
    CustomerClock,
    EventReceived,
    ExitRequested,
    JourneyState,
    ProfileRead,
    ReadProfile,
    RecordStep,
    SendFinished,
    SendMessage,
    Started,
    TimeReached,
    TraitsChanged,
    Wait,
    customer_clock_matters,
    initial_state,
    step,
)
from domain.nodes.send import SendWindow
from domain.schedule import in_window, send_hold_end, weekday_number, window_opening
from domain.validation import validate_for_publish

UTC_ZONE = ZoneInfo("UTC")
PARIS = ZoneInfo("Europe/Paris")
KARACHI = ZoneInfo("Asia/Karachi")  # UTC+5, no DST
TRIGGER = {"id": "t", "type": "TRIGGER", "config": {"triggerType": "MANUAL"}}
EXIT = {"id": "x", "type": "EXIT"}
NIGHTS = {"start": "21:00", "end": "08:00"}


def at(day: int, hour: int, minute: int = 0) -> datetime:
    """An instant in January 2026 (UTC): day 5 is a Monday."""
    return datetime(2026, 1, day, hour, minute, tzinfo=UTC)


# ---- window arithmetic ---------------------------------------------------------------------------


def test_a_same_day_window_holds_from_its_start_until_its_end() -> None:
    assert not in_window(at(5, 8, 59), [], "09:00", "17:00", UTC_ZONE)
    assert in_window(at(5, 9, 0), [], "09:00", "17:00", UTC_ZONE)
    assert not in_window(at(5, 17, 0), [], "09:00", "17:00", UTC_ZONE), "the end is not inside"
    assert window_opening(at(5, 7), [], "09:00", "17:00", UTC_ZONE) == at(5, 9)
    assert window_opening(at(5, 18), [], "09:00", "17:00", UTC_ZONE) == at(6, 9), "tomorrow's opening"
    assert window_opening(at(5, 10), [], "09:00", "17:00", UTC_ZONE) == at(5, 10), "inside: now"


def test_a_window_across_midnight_belongs_to_the_day_it_opened() -> None:
    friday_only = [5]  # 2026-01-09 is a Friday
    assert in_window(at(9, 23), friday_only, "22:00", "06:00", UTC_ZONE)
    assert in_window(at(10, 5), friday_only, "22:00", "06:00", UTC_ZONE), "Saturday 05:00: Friday's window"
    assert not in_window(at(9, 5), friday_only, "22:00", "06:00", UTC_ZONE), "Friday 05:00: Thursday's"
    assert not in_window(at(10, 23), friday_only, "22:00", "06:00", UTC_ZONE)
    # From Friday 05:00 the next opening is Friday 22:00; from Saturday 07:00, next Friday's.
    assert window_opening(at(9, 5), friday_only, "22:00", "06:00", UTC_ZONE) == at(9, 22)
    assert window_opening(at(10, 7), friday_only, "22:00", "06:00", UTC_ZONE) == at(16, 22)


def test_days_only_windows_are_whole_days_and_names_mean_iso_numbers() -> None:
    weekend = [6, 7]
    assert in_window(at(10, 0), weekend, None, None, UTC_ZONE)
    assert window_opening(at(5, 12), weekend, None, None, UTC_ZONE) == at(10, 0), "Saturday's midnight"
    assert [weekday_number(d) for d in ("mon", "Monday", "SUN", 3, "7", "noday", 8, True)] == [
        1,
        1,
        7,
        3,
        7,
        None,
        None,
        None,
    ]
    window = SendWindow.model_validate({"days": ["friday", "Mon", 1, "tue"], "from": "09:00", "to": "17:00"})
    assert window.days == [1, 2, 5] and window.model_dump(by_alias=True)["from"] == "09:00"


def test_windows_and_opening_follow_the_local_clock_across_dst() -> None:
    # Europe/Paris springs forward on 2026-03-29 at 02:00 (CET) to 03:00 (CEST).
    before = datetime(2026, 3, 29, 0, 0, tzinfo=UTC)  # 01:00 CET
    # A window opening at 02:30 (a wall time that does not exist that day) opens when the clock jumps.
    assert window_opening(before, [], "02:30", "05:00", PARIS) == datetime(2026, 3, 29, 1, 0, tzinfo=UTC)
    # A 09:00-17:00 window opens at 08:00 UTC before the change and 07:00 UTC after it.
    assert window_opening(datetime(2026, 3, 28, 20, tzinfo=UTC), [], "09:00", "17:00", PARIS) == datetime(
        2026, 3, 29, 7, 0, tzinfo=UTC
    )
    # Falling back (2026-10-25, 03:00 CEST -> 02:00 CET): 16:30 local is 15:30 UTC that day.
    assert in_window(datetime(2026, 10, 25, 15, 30, tzinfo=UTC), [7], "09:00", "17:00", PARIS)
    assert not in_window(datetime(2026, 10, 25, 16, 0, tzinfo=UTC), [7], "09:00", "17:00", PARIS)


def test_quiet_hours_and_a_window_combine_into_the_first_instant_satisfying_both() -> None:
    weekdays = ([1, 2, 3, 4, 5], "07:00", "10:00")
    # Friday 23:00: quiet until Saturday 08:00, but the window is on weekdays: Monday 08:00 (07:00 is quiet).
    assert send_hold_end(at(9, 23), UTC_ZONE, quiet=("21:00", "08:00"), window=weekdays) == at(12, 8)
    assert send_hold_end(at(6, 9), UTC_ZONE, quiet=("21:00", "08:00"), window=weekdays) is None, "go now"
    assert send_hold_end(at(6, 12), UTC_ZONE, window=weekdays) == at(7, 7)
    assert send_hold_end(at(6, 22), UTC_ZONE, quiet=("21:00", "08:00")) == at(7, 8)
    # A window wholly inside the quiet hours (refused at publish) falls back to the window alone.
    assert send_hold_end(at(6, 12), UTC_ZONE, quiet=("21:00", "08:00"), window=([], "22:00", "23:00")) == at(
        6, 22
    )


# ---- the customer's zone ---------------------------------------------------------------------------


def test_the_customers_zone_wins_when_valid_and_an_unusable_one_is_ignored_with_a_reason() -> None:
    assert CustomerClock.of("Asia/Karachi").zone("UTC") == (KARACHI, None)
    assert CustomerClock.of(None).zone("Europe/Paris") == (PARIS, None), "no trait: the journey's, silently"
    zone, why = CustomerClock.of("Mars/Base").zone("UTC")
    assert zone == UTC_ZONE and why == "timezone 'Mars/Base' is not an IANA zone; used the journey's UTC"
    zone, why = CustomerClock.of(5).zone("Europe/Paris")
    assert zone == PARIS and why == "timezone '5' is not an IANA zone; used the journey's Europe/Paris"
    assert CustomerClock.of("../../etc/passwd").valid is False


# ---- the interpreter on the customer's clock --------------------------------------------------------


def chain(*nodes: dict[str, Any], **extra: Any) -> JourneyDefinition:
    edges = [{"sourceNodeId": a["id"], "targetNodeId": b["id"]} for a, b in itertools.pairwise(nodes)]
    return JourneyDefinition.model_validate({"nodes": list(nodes), "edges": edges, **extra})


def send(node_id: str, window: dict[str, Any] | None = None) -> dict[str, Any]:
    config: dict[str, Any] = {"channel": "EMAIL", "subject": "s", "body": "b"}
    if window is not None:
        config["window"] = window
    return {"id": node_id, "type": "SEND", "name": f"mail {node_id}", "config": config}


def run(
    definition: JourneyDefinition, *inputs: AnyInput, state: JourneyState | None = None
) -> tuple[JourneyState, list[AnyCommand]]:
    state = state or initial_state("e1", "j1", "c1")
    commands: list[AnyCommand] = []
    for item in inputs:
        state, commands = step(definition, state, item, customer_clock=True)
    return state, commands


def read(node_id: str, now: datetime, **traits: Any) -> ProfileRead:
    return ProfileRead(node_id=node_id, visit=1, now=now, traits=traits)


def sent(node_id: str, now: datetime) -> SendFinished:
    return SendFinished(node_id=node_id, visit=1, now=now, outcome="sent")


def details(commands: list[AnyCommand]) -> dict[str, str | None]:
    return {
        c.record.node_id: c.record.detail
        for c in commands
        if isinstance(c, RecordStep) and c.record.completed_at is not None
    }


# Quiet 21:00-08:00: at 17:00 UTC it is 17:00 in UTC (outside) and 22:00 in Karachi (inside).
EVENING = at(5, 17)
KARACHI_MORNING = at(6, 3)  # 08:00 in Karachi


def test_quiet_hours_hold_a_customer_in_karachi_while_a_customer_in_utc_gets_the_send_at_once() -> None:
    journey = chain(TRIGGER, send("s"), EXIT, settings={"timezone": "UTC", "quietHours": NIGHTS})
    state, commands = run(journey, Started(now=EVENING))
    assert isinstance(commands[-1], ReadProfile), "the zone is read before a send that needs one"

    utc, commands = run(journey, read("s", EVENING, timezone="UTC"), state=state)
    assert isinstance(commands[-1], SendMessage) and utc.customer_clock == CustomerClock.of("UTC")

    karachi, commands = run(journey, read("s", EVENING, timezone="Asia/Karachi"), state=state)
    assert commands[-1] == Wait(
        until=KARACHI_MORNING, label=f"mail s · quiet hours until {KARACHI_MORNING.isoformat()}"
    )
    assert (karachi.awaiting, karachi.waiting_until, karachi.current_node_id) == (
        "quiet_hours",
        KARACHI_MORNING,
        "s",
    )
    karachi, commands = run(journey, TimeReached(now=KARACHI_MORNING), state=karachi)
    assert isinstance(commands[-1], SendMessage)


def test_the_zone_is_read_once_and_later_sends_use_it() -> None:
    journey = chain(TRIGGER, send("a"), send("b"), EXIT, settings={"timezone": "UTC", "quietHours": NIGHTS})
    state, _ = run(journey, Started(now=at(5, 12)), read("a", at(5, 12), timezone="Asia/Karachi"))
    state, commands = run(journey, sent("a", at(5, 17)), state=state)
    assert not any(isinstance(c, ReadProfile) for c in commands)
    assert isinstance(commands[-1], Wait) and state.waiting_until == KARACHI_MORNING


def test_an_unusable_zone_uses_the_journeys_and_the_step_says_why() -> None:
    journey = chain(TRIGGER, send("s"), EXIT, settings={"timezone": "UTC", "quietHours": NIGHTS})
    state, commands = run(journey, Started(now=EVENING), read("s", EVENING, timezone="Mars/Base"))
    assert isinstance(commands[-1], SendMessage), "17:00 UTC is outside the journey's quiet hours"
    state, commands = run(journey, sent("s", EVENING), state=state)
    assert details(commands)["s"] == "sent; timezone 'Mars/Base' is not an IANA zone; used the journey's UTC"
    assert state.status == "COMPLETED"


def test_a_wait_until_with_an_unusable_zone_records_why() -> None:
    wait = {"id": "w", "type": "WAIT", "name": "w", "config": {"until": {"time": "09:00"}}}
    journey = chain(TRIGGER, wait, EXIT, settings={"timezone": "Europe/Paris"})
    state, commands = run(journey, Started(now=at(5, 12)), read("w", at(5, 12), timezone="Nowhere/City"))
    assert commands[-1] == Wait(until=at(6, 8), label="w · time")
    state, commands = run(journey, TimeReached(now=at(6, 8)), state=state)
    assert (
        details(commands)["w"]
        == "timezone 'Nowhere/City' is not an IANA zone; used the journey's Europe/Paris"
    )


def test_outside_its_window_a_send_holds_until_the_next_opening_in_the_customers_zone() -> None:
    journey = chain(TRIGGER, send("s", {"days": ["mon", "tue"], "from": "09:00", "to": "12:00"}), EXIT)
    assert customer_clock_matters(journey)
    # Monday 12:00 UTC is 17:00 in Karachi: past Monday's window; Tuesday 09:00 Karachi is 04:00 UTC.
    state, commands = run(journey, Started(now=at(5, 12)), read("s", at(5, 12), timezone="Asia/Karachi"))
    opening = at(6, 4)
    assert commands[-1] == Wait(until=opening, label=f"mail s · time window until {opening.isoformat()}")
    assert (state.awaiting, state.waiting_until) == ("window", opening)
    state, commands = run(journey, TimeReached(now=opening), state=state)
    assert isinstance(commands[-1], SendMessage)


def test_an_exit_during_a_window_hold_ends_the_enrollment_unsent() -> None:
    journey = chain(TRIGGER, send("s", {"from": "09:00", "to": "10:00"}), EXIT)
    held, _ = run(journey, Started(now=at(5, 12)), read("s", at(5, 12)))
    state, commands = run(journey, ExitRequested(now=at(5, 13), reason="exited by API"), state=held)
    assert state.status == "EXITED" and not any(isinstance(c, SendMessage) for c in commands)


def test_a_new_zone_during_the_hold_recomputes_it() -> None:
    journey = chain(TRIGGER, send("s"), EXIT, settings={"timezone": "UTC", "quietHours": NIGHTS})
    held, _ = run(journey, Started(now=EVENING), read("s", EVENING, timezone="Asia/Karachi"))
    assert held.waiting_until == KARACHI_MORNING

    # An identify moving the customer to New York (12:00 there): the hold is over, the send goes.
    identify = EventRecord(
        id="i1", type="identify", name="identify", traits={"timezone": "America/New_York"}, timestamp=EVENING
    )
    moved, commands = run(journey, EventReceived(now=EVENING, event=identify), state=held)
    assert isinstance(commands[-1], SendMessage) and moved.awaiting == "send"

    # A profile update to Asia/Tokyo (02:00 there): held until 08:00 Tokyo = 23:00 UTC.
    tokyo, commands = run(journey, TraitsChanged(now=EVENING, traits={"timezone": "Asia/Tokyo"}), state=held)
    assert isinstance(commands[-1], Wait) and tokyo.waiting_until == at(5, 23)
    # A group call's traits are the group's: no change.
    group = identify.model_copy(update={"id": "g1", "type": "group", "name": "group"})
    same, commands = run(journey, EventReceived(now=EVENING, event=group), state=held)
    assert same.waiting_until == KARACHI_MORNING


def test_without_the_customer_clock_the_journeys_zone_and_no_window_as_before() -> None:
    journey = chain(TRIGGER, send("s", {"from": "09:00", "to": "10:00"}), EXIT)
    state, commands = step(journey, initial_state("e1"), Started(now=at(5, 12)))
    assert isinstance(commands[-1], SendMessage) and state.customer_clock is None
    plain = chain(TRIGGER, send("s"), EXIT)
    assert not customer_clock_matters(plain)


# ---- publish ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("window", "loc", "message"),
    [
        ({"from": "9:00", "to": "17:00"}, ("from",), "'9:00' is not a local time"),
        ({"from": "09:00", "to": "24:00"}, ("to",), "'24:00' is not a local time"),
        ({"days": ["mon", "someday"]}, ("days", 1), "unknown day 'someday'"),
        ({"days": [0]}, ("days", 0), "unknown day 0"),
        ({"from": "09:00"}, ("to",), "needs both"),
        ({"from": "09:00", "to": "09:00"}, ("to",), "an empty window"),
    ],
)
def test_a_bad_window_is_refused_at_publish_naming_its_field(
    window: dict[str, Any], loc: tuple[str | int, ...], message: str
) -> None:
    journey = chain(TRIGGER, send("s", window), EXIT)
    issues = validate_for_publish(journey)
    assert [(i.loc, message in i.msg) for i in issues] == [(("nodes", 1, "config", "window", *loc), True)], (
        issues
    )


def test_a_window_across_midnight_is_published_but_one_inside_the_quiet_hours_is_not() -> None:
    assert validate_for_publish(chain(TRIGGER, send("s", {"from": "22:00", "to": "06:00"}), EXIT)) == []
    inside = chain(
        TRIGGER, send("s", {"from": "22:00", "to": "23:00"}), EXIT, settings={"quietHours": NIGHTS}
    )
    [issue] = validate_for_publish(inside)
    assert issue.loc == ("nodes", 1, "config", "window") and "never go" in issue.msg
    overlapping = chain(
        TRIGGER, send("s", {"from": "07:00", "to": "09:00"}), EXIT, settings={"quietHours": NIGHTS}
    )
    assert validate_for_publish(overlapping) == []


def test_the_clock_survives_continue_as_new() -> None:
    state = initial_state("e1").model_copy(update={"customer_clock": CustomerClock.of("Asia/Karachi")})
    again = JourneyState.model_validate(state.model_dump(mode="json"))
    assert again.customer_clock == CustomerClock(timezone="Asia/Karachi", valid=True)
