"""CONDITION: `yes` or `no` by rules over fresh traits, the last event and segment membership.

Entering it reads the profile (traits are read when the node is reached, never cached). Rules see the
traits at top level and under `traits`, segment ids under `segments` (`segments contains vip`), and the
enrollment's last event under `event` (`event.properties.plan`).
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Literal

from pydantic import Field

from domain.nodes.base import NodeBase, NodeKind, Run
from domain.rules import Rule, evaluate_rules
from domain.wire import WireModel

if TYPE_CHECKING:
    from domain.interpreter import ProfileRead


class ConditionConfig(WireModel):
    combinator: Literal["AND", "OR"] = "AND"
    rules: list[Rule] = Field(min_length=1)


class ConditionNode(NodeBase):
    type: Literal["CONDITION"]
    config: ConditionConfig


class ConditionKind(NodeKind[ConditionNode]):
    node_class = ConditionNode
    fixed_labels = ("yes", "no")

    def enter(self, node: ConditionNode, run: Run, now: datetime) -> str | None:
        run.block("profile")
        return None

    def on_profile_read(self, node: ConditionNode, run: Run, read: ProfileRead) -> str | None:
        # Late: domain.events imports domain.definition, which imports this module.
        from domain.events import event_document

        last_event = run.state.last_event
        document = {
            **read.traits,
            "traits": read.traits,
            "segments": read.segments,
            "event": event_document(last_event) if last_event else {},
        }
        branch = "yes" if evaluate_rules(node.config.rules, document, node.config.combinator) else "no"
        run.close(read.now, status="COMPLETED", branch=branch)
        return branch


CONDITION = ConditionKind()
