"""Customer events as the engine sees them, and the matching rules journeys apply to them."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, Literal

from pydantic import Field

from domain.definition import ExitCriteria, GoalConfig
from domain.rules import Rule, evaluate_rules, lookup, unresolved_paths
from domain.wire import WireModel

EventType = Literal["track", "identify", "page", "screen", "group", "alias"]
# Calls other than track answer to triggers, waits and goals by their type (`page`, `identify`, …).
NAMED_BY_TYPE: frozenset[str] = frozenset({"page", "identify", "screen", "group", "alias"})


class EventRecord(WireModel):
    """One customer event (a Segment-spec call: track, identify, page, screen, group, alias), as
    delivered to an enrollment."""

    id: str = Field(min_length=1, max_length=200, description="messageId: the dedup key")
    type: EventType = "track"
    name: str = Field(
        default="", max_length=200, description="The track event's name; 'page'/'identify' else"
    )
    properties: dict[str, Any] = Field(default_factory=dict)
    traits: dict[str, Any] = Field(default_factory=dict)
    timestamp: datetime


def event_document(event: EventRecord) -> dict[str, Any]:
    """What rules about an event see: properties at top level and under `properties`."""
    return {
        **event.properties,
        "properties": event.properties,
        "traits": event.traits,
        "event": event.name,
        "type": event.type,
    }


def matches(
    event: EventRecord, name: str, rules: Sequence[Rule], context: Mapping[str, Any] | None = None
) -> bool:
    """A named event whose properties satisfy every rule (`page` matches page events); a rule's
    `valueFrom` reads `context` (the caller has checked that its paths resolve)."""
    by_type = name in NAMED_BY_TYPE
    named = event.type == name if by_type else (event.type == "track" and event.name == name)
    return named and evaluate_rules(list(rules), event_document(event), "AND", context)


def exit_criteria_met(
    criteria: ExitCriteria | None, event: EventRecord, context: Mapping[str, Any] | None = None
) -> str | None:
    """The exit event's name when this event exits the enrollment, else None. An exit rule whose
    `valueFrom` does not resolve in the enrollment's context does not match (it is not a step to fail)."""
    if criteria is None:
        return None
    for exit_event in criteria.events:
        if unresolved_paths(exit_event.rules, context or {}):
            continue
        if matches(event, exit_event.event, exit_event.rules, context):
            return exit_event.event
    return None


def goal_reached_by_event(goal: GoalConfig | None, event: EventRecord) -> bool:
    if goal is None:
        return False
    target = goal.config
    if goal.type == "event":
        return bool(target.event_name) and event.type == "track" and event.name == target.event_name
    if goal.type == "page_visit":
        url = event.properties.get("url") or event.properties.get("path") or ""
        return event.type == "page" and bool(target.url) and str(target.url) in str(url)
    if goal.type == "flow_completed":
        return (
            event.type == "track"
            and event.name == "flow_completed"
            and (target.flow_id is None or event.properties.get("flowId") == target.flow_id)
        )
    return bool(event.traits) and goal_reached_by_traits(goal, event.traits)


def goal_reached_by_traits(goal: GoalConfig | None, traits: Mapping[str, Any]) -> bool:
    if goal is None or goal.type != "attribute_match" or not goal.config.field:
        return False
    return bool(lookup(traits, goal.config.field) == goal.config.value)
