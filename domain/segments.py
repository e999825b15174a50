"""Segments (Genesys JourneySegment): the patterns that put a customer in one, and how they match.

A segment's `journey.patterns` describe events: a customer is assigned when, for EVERY pattern, at
least `count` of their stored events are named `eventName` and satisfy every criterion (a criterion
looks at the event's properties; `key` may be dotted, e.g. `cart.total`, and `properties.`, `traits.`
and `context.` prefixes reach those parts). `context.patterns` look at the triggering event's
`context` (page, campaign, user agent, …); when present, one of them must match too.
Pure: no clock, no I/O.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Literal

from pydantic import Field

from domain.rules import lookup
from domain.wire import WireModel

SegmentScope = Literal["Session", "Customer"]
AssignmentState = Literal["Assigned", "Unassigned"]
IdentifierKind = Literal["userId", "anonymousId", "email", "phone", "cookie", "externalContactId"]
IDENTIFIER_KINDS: tuple[IdentifierKind, ...] = (
    "userId",
    "anonymousId",
    "email",
    "phone",
    "cookie",
    "externalContactId",
)

CriterionOperator = Literal[
    "equal",
    "notEqual",
    "contains",
    "notContains",
    "containsAny",
    "containsAll",
    "notContainsAny",
    "notContainsAll",
    "startsWith",
    "endsWith",
    "greaterThan",
    "greaterThanOrEqualTo",
    "lessThan",
    "lessThanOrEqualTo",
]
_NEGATED: dict[str, str] = {
    "notEqual": "equal",
    "notContains": "containsAny",
    "notContainsAny": "containsAny",
    "notContainsAll": "containsAll",
}
_MISSING = lookup({}, "absent")  # the sentinel `lookup` answers for an absent key


class Criterion(WireModel):
    key: str = Field(min_length=1, max_length=200)
    values: list[str] = Field(min_length=1, max_length=50)
    operator: CriterionOperator = "equal"
    should_ignore_case: bool = False


class ContextCriterion(Criterion):
    entity_type: str | None = Field(
        default=None, max_length=64, description="Genesys: `visit`, kept as given"
    )


class JourneyPattern(WireModel):
    criteria: list[Criterion] = Field(default_factory=list, max_length=20)
    count: int = Field(default=1, ge=1, le=1000, description="How many matching events assign the segment")
    stream_type: str | None = Field(default=None, max_length=64, description="Kept as given (e.g. Web)")
    session_type: str | None = Field(default=None, max_length=64, description="Kept as given (e.g. web)")
    event_name: str = Field(min_length=1, max_length=200, description="track `event`; `page` for page events")


class ContextPattern(WireModel):
    criteria: list[ContextCriterion] = Field(min_length=1, max_length=20)


class JourneyPatterns(WireModel):
    patterns: list[JourneyPattern] = Field(default_factory=list, max_length=20)


class ContextPatterns(WireModel):
    patterns: list[ContextPattern] = Field(default_factory=list, max_length=20)


def event_fields(
    properties: Mapping[str, Any], traits: Mapping[str, Any], context: Mapping[str, Any]
) -> dict[str, Any]:
    """What criteria keys read: properties at the top level, and each part under its own name."""
    return {**properties, "properties": properties, "traits": traits, "context": context}


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    try:
        return float(str(value))
    except ValueError:
        return None


def _candidates(actual: Any) -> list[Any]:
    if isinstance(actual, list | tuple):
        return list(actual)
    return [actual]


def _ordered(actual: Any, expected: str, operator: str) -> bool:
    left, right = _number(actual), _number(expected)
    pair: tuple[Any, Any] = (
        (left, right) if left is not None and right is not None else (_text(actual), expected)
    )
    if operator == "greaterThan":
        return bool(pair[0] > pair[1])
    if operator == "greaterThanOrEqualTo":
        return bool(pair[0] >= pair[1])
    if operator == "lessThan":
        return bool(pair[0] < pair[1])
    return bool(pair[0] <= pair[1])


def _positive(operator: str, actual: Any, values: Sequence[str], ignore_case: bool) -> bool:
    def norm(text: str) -> str:
        return text.casefold() if ignore_case else text

    wanted = [norm(v) for v in values]
    texts = [norm(_text(a)) for a in _candidates(actual) if a is not None]
    if operator == "equal":
        numbers = [_number(a) for a in _candidates(actual)]
        return any(t in wanted for t in texts) or any(
            n is not None and n == _number(v) for n in numbers for v in values
        )
    if operator in ("contains", "containsAny"):
        return any(w in t for w in wanted for t in texts)
    if operator == "containsAll":
        return all(any(w in t for t in texts) for w in wanted)
    if operator == "startsWith":
        return any(t.startswith(w) for w in wanted for t in texts)
    if operator == "endsWith":
        return any(t.endswith(w) for w in wanted for t in texts)
    # Ordering compares with the first value (numbers as numbers, anything else as text).
    return any(_ordered(a, values[0], operator) for a in _candidates(actual) if a is not None)


def criterion_matches(criterion: Criterion, fields: Mapping[str, Any]) -> bool:
    """An absent key satisfies only the negated operators (notEqual, notContains…)."""
    actual = lookup(fields, criterion.key)
    negated = criterion.operator in _NEGATED
    if actual is _MISSING or actual is None:
        return negated
    operator = _NEGATED.get(criterion.operator, criterion.operator)
    matched = _positive(operator, actual, criterion.values, criterion.should_ignore_case)
    return not matched if negated else matched


def pattern_matches(pattern: JourneyPattern, event_name: str, fields: Mapping[str, Any]) -> bool:
    return event_name == pattern.event_name and all(criterion_matches(c, fields) for c in pattern.criteria)


def context_matches(patterns: Sequence[ContextPattern], context: Mapping[str, Any]) -> bool:
    """No context patterns: anything goes; else one pattern whose every criterion matches."""
    return not patterns or any(all(criterion_matches(c, context) for c in p.criteria) for p in patterns)
