"""Conditions on traits and event properties: one rule model and its evaluation."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import Field

from domain.wire import WireModel

Operator = Literal[
    "eq",
    "ne",
    "gt",
    "gte",
    "lt",
    "lte",
    "in",
    "notIn",
    "contains",
    "startsWith",
    "exists",
    "isNull",
    "isNotNull",
    "before",
    "after",
]

_MISSING = object()


class Rule(WireModel):
    field: str
    operator: Operator = "eq"
    value: Any = None
    # Compare with a value from the enrollment's context instead of `value` (`entry.properties.cartId`):
    # in CONDITION, WAIT_FOR_EVENT and exit criteria rules only (`domain.context`).
    value_from: str | None = Field(default=None, min_length=1, max_length=200)


def unresolved_paths(rules: list[Rule], context: Mapping[str, Any]) -> list[str]:
    """The `valueFrom` paths of `rules` that `context` does not have."""
    return [
        r.value_from for r in rules if r.value_from is not None and lookup(context, r.value_from) is _MISSING
    ]


def lookup(document: Mapping[str, Any], dotted_path: str) -> Any:
    """Read `a.b.c` from nested mappings; `_MISSING` when any part is absent."""
    current: Any = document
    for part in dotted_path.split("."):
        if not isinstance(current, Mapping) or part not in current:
            return _MISSING
        current = current[part]
    return current


def _as_datetime(value: Any) -> datetime | None:
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return None
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    return None


def _compare(actual: Any, expected: Any, op: str) -> bool:
    try:
        if op == "gt":
            return bool(actual > expected)
        if op == "gte":
            return bool(actual >= expected)
        if op == "lt":
            return bool(actual < expected)
        return bool(actual <= expected)
    except TypeError:
        return False


class UnresolvedValueError(ValueError):
    """A rule's `valueFrom` names a path its context does not have."""

    def __init__(self, path: str) -> None:
        self.path = path
        super().__init__(path)


def evaluate_rule(rule: Rule, document: Mapping[str, Any], context: Mapping[str, Any] | None = None) -> bool:
    """Whether `document` satisfies `rule`; a `valueFrom` reads its value from `context` and raises
    `UnresolvedValueError` when the path is not there (never compared as a blank)."""
    expected = rule.value
    if rule.value_from is not None:
        expected = lookup(context or {}, rule.value_from)
        if expected is _MISSING:
            raise UnresolvedValueError(rule.value_from)
    actual = lookup(document, rule.field)
    op = rule.operator
    if op == "exists":
        return actual is not _MISSING
    if op == "isNull":
        return actual is _MISSING or actual is None
    if op == "isNotNull":
        return actual is not _MISSING and actual is not None
    if actual is _MISSING:
        return op in ("ne", "notIn")
    if op == "eq":
        return bool(actual == expected)
    if op == "ne":
        return bool(actual != expected)
    if op in ("gt", "gte", "lt", "lte"):
        return _compare(actual, expected, op)
    if op == "in":
        return isinstance(expected, list) and actual in expected
    if op == "notIn":
        return isinstance(expected, list) and actual not in expected
    if op == "contains":
        if isinstance(actual, str):
            return isinstance(expected, str) and expected in actual
        return isinstance(actual, list) and expected in actual
    if op == "startsWith":
        return isinstance(actual, str) and isinstance(expected, str) and actual.startswith(expected)
    left, right = _as_datetime(actual), _as_datetime(expected)
    if left is None or right is None:
        return False
    return left < right if op == "before" else left > right


def evaluate_rules(
    rules: list[Rule],
    document: Mapping[str, Any],
    combinator: Literal["AND", "OR"] = "AND",
    context: Mapping[str, Any] | None = None,
) -> bool:
    if not rules:
        return True
    results = (evaluate_rule(rule, document, context) for rule in rules)
    return all(results) if combinator == "AND" else any(results)
