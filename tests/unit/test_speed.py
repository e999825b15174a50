"""domain.speed: a test run's waits shortened by a factor, calendar waits left alone."""

from __future__ import annotations

import itertools
from typing import Any

import pytest

from domain.definition import JourneyDefinition
from domain.durations import parse_duration
from domain.nodes.wait import WaitNode
from domain.nodes.wait_for_event import WaitForEventNode
from domain.speed import hastened, hastened_duration


def journey() -> JourneyDefinition:
    nodes: list[dict[str, Any]] = [
        {"id": "start", "type": "TRIGGER", "config": {"triggerType": "MANUAL"}},
        {"id": "hour", "type": "WAIT", "config": {"duration": "1 hour"}},
        {"id": "short", "type": "WAIT", "config": {"duration": "10 seconds"}},
        {"id": "nine", "type": "WAIT", "config": {"until": {"time": "09:00"}}},
        {"id": "birthday", "type": "WAIT", "config": {"untilTrait": {"field": "birthday"}}},
        {"id": "buy", "type": "WAIT_FOR_EVENT", "config": {"event": "purchase", "timeout": "2 days"}},
        {"id": "done", "type": "EXIT"},
    ]
    order = [n["id"] for n in nodes]
    edges = [{"sourceNodeId": a, "targetNodeId": b, "label": "next"} for a, b in itertools.pairwise(order)]
    edges[-1]["label"] = "matched"
    return JourneyDefinition.model_validate({"nodes": nodes, "edges": edges})


def waits(definition: JourneyDefinition) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for node in definition.nodes:
        if isinstance(node, WaitNode):
            found[node.id] = node.config.duration or node.config.until or node.config.until_trait
        elif isinstance(node, WaitForEventNode):
            found[node.id] = node.config.timeout
    return found


def test_every_duration_and_timeout_is_divided_by_the_speed() -> None:
    fast = hastened(journey(), 60)
    got = waits(fast)
    assert parse_duration(got["hour"]).total_seconds() == 60
    assert parse_duration(got["buy"]).total_seconds() == 2 * 86400 / 60


def test_never_below_one_second() -> None:
    got = waits(hastened(journey(), 3600))
    assert parse_duration(got["hour"]).total_seconds() == 1
    assert parse_duration(got["short"]).total_seconds() == 1
    assert hastened_duration("1 second", 3600) == "1 seconds"


def test_local_time_and_date_trait_waits_are_unchanged() -> None:
    original, fast = waits(journey()), waits(hastened(journey(), 100))
    assert fast["nine"] == original["nine"]
    assert fast["birthday"] == original["birthday"]


def test_the_original_is_untouched_and_speed_one_is_the_same_journey() -> None:
    definition = journey()
    before = definition.model_dump()
    hastened(definition, 500)
    assert definition.model_dump() == before
    assert hastened(definition, 1).model_dump() == before


def test_the_copy_still_validates_and_keeps_milliseconds() -> None:
    fast = hastened(journey(), 7)
    JourneyDefinition.model_validate(fast.model_dump(by_alias=True))
    assert parse_duration(waits(fast)["hour"]).total_seconds() == pytest.approx(3600 / 7, abs=0.001)


@pytest.mark.parametrize("speed", [0, -1, 3601])
def test_speed_out_of_range_is_refused(speed: int) -> None:
    with pytest.raises(ValueError, match="speed"):
        hastened(journey(), speed)
