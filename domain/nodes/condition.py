"""CONDITION: a branch chosen by rules over fresh traits, segment membership and the enrollment's context.

Two forms. Yes/no: `rules` (with `combinator`) leave by `yes` or `no`. Multi-branch: `branches`, each
`{key, combinator, rules}`, evaluated in order; the first that matches is the edge labelled by its key,
none matching is the edge labelled `else`.

Entering it reads the profile (traits are read when the node is reached, never cached). Rules see the
traits at top level and under `traits`, segment ids under `segments` (`segments contains vip`), the entry
event under `entry` (`entry.properties.cartId`), the last event a WAIT_FOR_EVENT matched (else the entry
event) under `event`, and the journey under `journey` (`domain.context`). A rule's `valueFrom` takes its
value from that context; a path the enrollment does not have fails the step and the enrollment, with the
path and the reason, rather than comparing with a blank.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal

from pydantic import Field, model_validator

from domain.nodes.base import Loc, NodeBase, NodeKind, Run
from domain.rules import (
    MAX_RECORDED_RULES,
    BranchCheck,
    Rule,
    StepDecision,
    check_rules,
    evaluate_rules,
    unresolved_paths,
)
from domain.wire import WireModel

if TYPE_CHECKING:
    from domain.interpreter import JourneyState, ProfileRead

ELSE = "else"
MAX_BRANCHES = 20


class ConditionBranch(WireModel):
    key: str = Field(min_length=1, max_length=64)
    combinator: Literal["AND", "OR"] = "AND"
    rules: list[Rule] = Field(min_length=1)


class ConditionConfig(WireModel):
    combinator: Literal["AND", "OR"] = "AND"
    rules: list[Rule] = Field(default_factory=list)
    branches: list[ConditionBranch] | None = Field(default=None, min_length=1, max_length=MAX_BRANCHES)

    @model_validator(mode="after")
    def _one_form(self) -> ConditionConfig:
        if self.branches is None and not self.rules:
            raise ValueError("a CONDITION needs `rules` (yes/no) or `branches` (multi-branch)")
        if self.branches is not None and self.rules:
            raise ValueError("a CONDITION has `rules` (yes/no) or `branches` (multi-branch), not both")
        return self


class ConditionNode(NodeBase):
    type: Literal["CONDITION"]
    config: ConditionConfig


def rule_document(state: JourneyState, traits: dict[str, Any], segments: list[str]) -> dict[str, Any]:
    """What a CONDITION's rules read: traits at top level and under `traits`, segments, the context."""
    return {**traits, "traits": traits, "segments": segments, **state.context()}


def legacy_rule_document(state: JourneyState, traits: dict[str, Any], segments: list[str]) -> dict[str, Any]:
    """What rules read before the enrollment context: `event` the last event received, no `entry`."""
    # Late: domain.events imports domain.definition, which imports this module.
    from domain.events import event_document

    last = state.last_event
    return {**traits, "traits": traits, "segments": segments, "event": event_document(last) if last else {}}


class ConditionKind(NodeKind[ConditionNode]):
    node_class = ConditionNode
    fixed_labels = None

    def labels(self, node: ConditionNode) -> list[str]:
        branches = node.config.branches
        if branches is None:
            return ["yes", "no"]
        return [*dict.fromkeys(branch.key for branch in branches), ELSE]

    def issues(self, node: ConditionNode) -> list[tuple[Loc, str]]:
        issues: list[tuple[Loc, str]] = []
        seen: set[str] = set()
        for index, branch in enumerate(node.config.branches or []):
            if branch.key == ELSE:
                issues.append((("config", "branches", index, "key"), f"{ELSE!r} is the edge of no match"))
            elif branch.key in seen:
                issues.append((("config", "branches", index, "key"), f"duplicate branch key {branch.key!r}"))
            seen.add(branch.key)
        return issues

    def enter(self, node: ConditionNode, run: Run, now: datetime) -> str | None:
        run.block("profile")
        return None

    def on_profile_read(self, node: ConditionNode, run: Run, read: ProfileRead) -> str | None:
        config, state = node.config, run.state
        if run.legacy_context:
            document = legacy_rule_document(state, read.traits, read.segments)
        else:
            document = rule_document(state, read.traits, read.segments)
        every_rule = [rule for branch in config.branches or [] for rule in branch.rules] + config.rules
        missing = unresolved_paths(every_rule, document)
        if missing:
            reason = state.unresolved_reason(missing[0], node.id)
            run.close(read.now, status="FAILED", detail=reason)
            run.finish("FAILED", read.now, reason=reason)
            return None
        if config.branches is None:
            branch = "yes" if evaluate_rules(config.rules, document, config.combinator, document) else "no"
        else:
            branch = next(
                (
                    candidate.key
                    for candidate in config.branches
                    if evaluate_rules(candidate.rules, document, candidate.combinator, document)
                ),
                ELSE,
            )
        run.close(read.now, status="COMPLETED", branch=branch, decision=decision_of(config, document, branch))
        return branch


def decision_of(config: ConditionConfig, document: dict[str, Any], branch: str) -> StepDecision:
    """How the CONDITION decided: each rule's field, operator, expected and actual value and result (for
    multi-branch, the branches in order up to the one taken), and the branch taken."""
    if config.branches is None:
        rules = check_rules(config.rules, document, document, limit=MAX_RECORDED_RULES)
        return StepDecision(
            branch=branch,
            combinator=config.combinator,
            rules=rules,
            truncated=len(config.rules) > len(rules),
        )
    checked: list[BranchCheck] = []
    budget = MAX_RECORDED_RULES
    truncated = False
    for candidate in config.branches:
        rules = check_rules(candidate.rules, document, document, limit=budget)
        budget -= len(rules)
        truncated = truncated or len(candidate.rules) > len(rules)
        matched = candidate.key == branch
        checked.append(
            BranchCheck(key=candidate.key, combinator=candidate.combinator, matched=matched, rules=rules)
        )
        if matched:
            break
    return StepDecision(branch=branch, branches=checked, truncated=truncated)


CONDITION = ConditionKind()
