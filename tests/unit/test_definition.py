"""Definition parsing, durations, graph validation and PII-safe ids."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from pydantic import ValidationError

from domain.definition import JourneyDefinition
from domain.durations import parse_duration
from domain.ids import customer_key, enrollment_id, enrollment_workflow_id
from domain.validation import validate_for_publish
from tests.journey_examples import welcome_journey


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("30 minutes", timedelta(minutes=30)),
        ("2 hours", timedelta(hours=2)),
        ("3 days", timedelta(days=3)),
        ("1 week", timedelta(weeks=1)),
        ("1 second", timedelta(seconds=1)),
        ("PT30M", timedelta(minutes=30)),
        ("P1DT2H", timedelta(days=1, hours=2)),
        ("P2W", timedelta(weeks=2)),
    ],
)
def test_durations(text: str, expected: timedelta) -> None:
    assert parse_duration(text) == expected


@pytest.mark.parametrize("text", ["", "soon", "3 fortnights", "P", "PT"])
def test_bad_durations_are_refused(text: str) -> None:
    with pytest.raises(ValueError):
        parse_duration(text)


def graph(body: dict[str, Any]) -> JourneyDefinition:
    return JourneyDefinition.model_validate({"nodes": body["nodes"], "edges": body["edges"]})


def test_the_welcome_journey_is_publishable() -> None:
    assert validate_for_publish(graph(welcome_journey())) == []


def test_edge_to_unknown_node_names_the_edge() -> None:
    body = welcome_journey()
    body["edges"][1]["targetNodeId"] = "nowhere"
    issues = validate_for_publish(graph(body))
    assert ("edges", 1, "targetNodeId") in [i.loc for i in issues]


def test_unreachable_node_and_missing_edge_are_named() -> None:
    body = welcome_journey()
    body["edges"].pop()  # welcome → done gone: welcome lacks `next`, done is unreachable
    locs = {i.loc for i in validate_for_publish(graph(body))}
    assert ("nodes", 1) in locs and ("nodes", 2) in locs


def test_two_triggers_are_refused() -> None:
    body = welcome_journey()
    body["nodes"].append({"id": "t2", "type": "TRIGGER"})
    assert any("exactly one TRIGGER" in i.msg for i in validate_for_publish(graph(body)))


def test_wrong_label_for_node_type_is_refused() -> None:
    body = welcome_journey()
    body["edges"][0]["label"] = "yes"
    issues = validate_for_publish(graph(body))
    assert any(i.loc == ("edges", 0, "label") for i in issues)


def test_unknown_node_type_and_unknown_config_field_fail_parsing() -> None:
    body = welcome_journey()
    body["nodes"][1]["type"] = "TELEPORT"
    with pytest.raises(ValidationError):
        graph(body)
    body = welcome_journey()
    body["nodes"][1]["config"]["colour"] = "red"
    with pytest.raises(ValidationError):
        graph(body)


def test_customer_ids_that_look_like_pii_are_hashed() -> None:
    assert customer_key("cust-42") == "cust-42"
    for pii in ("ada@example.com", "+44 20 7946 0958", "5551234567"):
        key = customer_key(pii)
        assert key.startswith("h-") and pii not in key
    assert customer_key("ada@example.com") == customer_key("ada@example.com")
    wid = enrollment_workflow_id("acme", "j1", "ada@example.com", 1)
    assert "@" not in wid and wid.startswith("enrollment:acme:j1:h-")


def test_enrollment_ids_are_deterministic_per_entry() -> None:
    first = enrollment_id("acme", "j1", "c1", 1)
    assert first == enrollment_id("acme", "j1", "c1", 1)
    assert first != enrollment_id("acme", "j1", "c1", 2)
    assert first != enrollment_id("other", "j1", "c1", 1)
