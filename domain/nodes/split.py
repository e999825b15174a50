"""SPLIT: one branch per `splits[]` entry, labelled by its `key`, chosen by percentage.

The choice is sticky per customer: it comes from a hash of (journey, node, customer), so a re-entry
lands on the same branch. Percentages must sum to 100 and keys be unique to publish.
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import Literal

from pydantic import Field

from domain.nodes.base import Loc, NodeBase, NodeKind, Run
from domain.rules import SplitCheck, SplitWeight, StepDecision
from domain.wire import WireModel


class SplitBranch(WireModel):
    key: str = Field(min_length=1, max_length=64)
    percentage: float = Field(ge=0, le=100)


class SplitConfig(WireModel):
    splits: list[SplitBranch] = Field(min_length=2)


class SplitNode(NodeBase):
    type: Literal["SPLIT"]
    config: SplitConfig


def split_bucket(journey_id: str, node_id: str, customer_id: str) -> float:
    """A customer's stable place in [0, 100) for one SPLIT node: re-entries land on the same branch."""
    digest = hashlib.sha256(f"{journey_id}:{node_id}:{customer_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64 * 100


class SplitKind(NodeKind[SplitNode]):
    node_class = SplitNode
    fixed_labels = None

    def labels(self, node: SplitNode) -> list[str]:
        return list(dict.fromkeys(branch.key for branch in node.config.splits))

    def issues(self, node: SplitNode) -> list[tuple[Loc, str]]:
        issues: list[tuple[Loc, str]] = []
        total = sum(branch.percentage for branch in node.config.splits)
        if abs(total - 100) > 1e-9:
            issues.append((("config", "splits"), f"percentages sum to {total:g}, not 100"))
        keys = [branch.key for branch in node.config.splits]
        if len(set(keys)) != len(keys):
            issues.append((("config", "splits"), "split keys must be unique"))
        return issues

    def enter(self, node: SplitNode, run: Run, now: datetime) -> str | None:
        bucket = split_bucket(run.state.journey_id, node.id, run.state.customer_id)
        branch = node.config.splits[-1].key
        cumulative = 0.0
        for candidate in node.config.splits:
            cumulative += candidate.percentage
            if bucket < cumulative:
                branch = candidate.key
                break
        weights = [SplitWeight(key=b.key, percentage=b.percentage) for b in node.config.splits]
        decision = StepDecision(branch=branch, split=SplitCheck(bucket=round(bucket, 4), weights=weights))
        run.close(now, status="COMPLETED", branch=branch, decision=decision)
        return branch


SPLIT = SplitKind()
