"""Conditions on traits and event properties: one rule model and its evaluation."""

from __future__ import annotations

import json
import re
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


# ---- how rules decided (a step's decision record, read by operators in the enrollment's timeline) ----

MAX_RECORDED_RULES = 50
MAX_RECORDED_TEXT = 120
MAX_RECORDED_ITEMS = 10
_EMAIL = re.compile(r"^([^@\s]+)@([^@\s]+\.[^@\s]+)$")
_PHONE = re.compile(r"^\+?[\d\s().\-]{7,24}$")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}")


def mask_text(text: str) -> str:
    """An email address or phone number shown without identifying the customer (`a***@example.com`,
    `+44******89`); any other text as it is."""
    email = _EMAIL.match(text)
    if email:
        return f"{email.group(1)[:1]}***@{email.group(2)}"
    digits = [c for c in text if c.isdigit()]
    if _PHONE.match(text) and not _DATE.match(text) and 7 <= len(digits) <= 15:
        plus = "+" if text.startswith("+") else ""
        return f"{plus}{''.join(digits[:2])}{'*' * (len(digits) - 4)}{''.join(digits[-2:])}"
    return text


def recorded_value(value: Any) -> Any:
    """A rule's value as a decision records it: small (long text and lists cut, nested data as short JSON
    text), with email addresses and phone numbers masked."""
    if value is None or isinstance(value, bool | int | float):
        return value
    if isinstance(value, str):
        masked = mask_text(value)
        return masked if len(masked) <= MAX_RECORDED_TEXT else masked[:MAX_RECORDED_TEXT] + "…"
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, list | tuple) and all(
        item is None or isinstance(item, str | bool | int | float) for item in value
    ):
        items = [recorded_value(item) for item in value[:MAX_RECORDED_ITEMS]]
        return [*items, "…"] if len(value) > MAX_RECORDED_ITEMS else items
    try:
        text = json.dumps(value, default=str, sort_keys=True)
    except (TypeError, ValueError):
        text = repr(value)
    return recorded_value(text)


class RuleCheck(WireModel):
    """One rule as it was evaluated: what it compared and what came out."""

    field: str
    operator: str
    expected: Any = None
    value_from: str | None = None
    actual: Any = None
    missing: bool = False  # the field is absent from what the rule read
    result: bool


def check_rule(
    rule: Rule, document: Mapping[str, Any], context: Mapping[str, Any] | None = None
) -> RuleCheck:
    """Evaluate one rule and record how (a `valueFrom` that does not resolve is recorded as not met)."""
    expected = rule.value if rule.value_from is None else lookup(context or {}, rule.value_from)
    actual = lookup(document, rule.field)
    try:
        result = evaluate_rule(rule, document, context)
    except UnresolvedValueError:
        result = False
    return RuleCheck(
        field=rule.field,
        operator=rule.operator,
        expected=None if expected is _MISSING else recorded_value(expected),
        value_from=rule.value_from,
        actual=None if actual is _MISSING else recorded_value(actual),
        missing=actual is _MISSING,
        result=result,
    )


def check_rules(
    rules: list[Rule], document: Mapping[str, Any], context: Mapping[str, Any] | None = None, *, limit: int
) -> list[RuleCheck]:
    """How each of the first `limit` rules decided."""
    return [check_rule(rule, document, context) for rule in rules[: max(limit, 0)]]


class BranchCheck(WireModel):
    """One branch of a multi-branch CONDITION as it was evaluated (in order, up to the first match)."""

    key: str
    combinator: Literal["AND", "OR"]
    matched: bool
    rules: list[RuleCheck]


class SplitWeight(WireModel):
    key: str
    percentage: float


class SplitCheck(WireModel):
    """A SPLIT's choice: the customer's place in [0, 100) and the branches' percentages."""

    bucket: float
    weights: list[SplitWeight]


class GoalCheck(WireModel):
    goal_type: str | None
    converted: bool


class WaitCheck(WireModel):
    """What a step waited on until when, and the zone a local time was read in (None: not a local time)."""

    awaiting: str
    until: datetime
    zone: str | None = None


class StepDecision(WireModel):
    """How a step decided, for operators (the enrollment's timeline): a CONDITION's rules (`rules` for
    yes/no, `branches` for multi-branch), a SPLIT's bucket, a GOAL_CHECK's goal, or what a step waited on.
    An explanation only: it never changes what the interpreter does, and it is kept small (values cut,
    emails and phone numbers masked, at most MAX_RECORDED_RULES rules)."""

    branch: str | None = None
    combinator: Literal["AND", "OR"] | None = None
    rules: list[RuleCheck] | None = None
    branches: list[BranchCheck] | None = None
    split: SplitCheck | None = None
    goal: GoalCheck | None = None
    wait: WaitCheck | None = None
    truncated: bool = False

    def stored(self) -> dict[str, Any]:
        """As JSON, without the parts this step has no use for (a rule's null values stay)."""
        return {k: v for k, v in self.model_dump(mode="json").items() if v is not None}
