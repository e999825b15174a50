"""GOAL_CHECK: `yes` when the journey goal has been reached, else `no`.

An `attribute_match` goal not yet reached may be met by a trait: the node reads the profile first (the
interpreter converts the enrollment on any profile read that meets it). Other goals are decided by
events the enrollment already received, so the node passes straight through.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Literal

from pydantic import Field

from domain.nodes.base import EmptyConfig, NodeBase, NodeKind, Run
from domain.rules import GoalCheck, StepDecision

if TYPE_CHECKING:
    from domain.interpreter import ProfileRead


class GoalCheckNode(NodeBase):
    type: Literal["GOAL_CHECK"]
    config: EmptyConfig = Field(default_factory=EmptyConfig)


class GoalCheckKind(NodeKind[GoalCheckNode]):
    node_class = GoalCheckNode
    fixed_labels = ("yes", "no")

    def enter(self, node: GoalCheckNode, run: Run, now: datetime) -> str | None:
        goal = run.definition.goal
        if not run.state.converted and goal is not None and goal.type == "attribute_match":
            run.block("profile")
            return None
        return _check(run, now)

    def on_profile_read(self, node: GoalCheckNode, run: Run, read: ProfileRead) -> str | None:
        return _check(run, read.now)


def _check(run: Run, now: datetime) -> str:
    branch = "yes" if run.state.converted else "no"
    goal = run.definition.goal
    check = GoalCheck(goal_type=None if goal is None else goal.type, converted=run.state.converted)
    run.close(now, status="COMPLETED", branch=branch, decision=StepDecision(branch=branch, goal=check))
    return branch


GOAL_CHECK = GoalCheckKind()
