"""The order an enrollment walked its steps in, when the clock cannot tell.

Nodes that take no time (TRIGGER, CONDITION, SPLIT, UPDATE_PROFILE …) are entered in the same instant,
so start time alone leaves them tied; their id is no order at all. Within a tie, a step comes after the
step it was reached from: the journey's edges give the order.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Protocol, TypeVar

from domain.definition import Edge


class VisitedStep(Protocol):
    @property
    def node_id(self) -> str: ...
    @property
    def visit(self) -> int: ...
    @property
    def started_at(self) -> datetime: ...


StepT = TypeVar("StepT", bound=VisitedStep)


def in_path_order(steps: Iterable[StepT], edges: Sequence[Edge]) -> list[StepT]:
    """Steps by start time; steps started in the same instant in the order the edges lead through them."""
    successors: dict[str, set[str]] = defaultdict(set)
    for edge in edges:
        successors[edge.source_node_id].add(edge.target_node_id)
    by_instant: dict[datetime, list[StepT]] = defaultdict(list)
    for step in steps:
        by_instant[step.started_at].append(step)
    ordered: list[StepT] = []
    for instant in sorted(by_instant):
        ordered.extend(_walk(by_instant[instant], successors))
    return ordered


def _walk(tied: list[StepT], successors: dict[str, set[str]]) -> list[StepT]:
    """Kahn's order over the edges among the tied steps; a loop (or no edge) falls back to visit, id."""
    tied = sorted(tied, key=lambda s: (s.visit, s.node_id))
    if len(tied) < 2:
        return tied
    nodes = {step.node_id for step in tied}
    incoming = {node: 0 for node in nodes}
    for node in nodes:
        for target in successors[node] & nodes:
            if target != node:
                incoming[target] += 1
    placed: list[StepT] = []
    remaining = list(tied)
    while remaining:
        ready = next((s for s in remaining if incoming[s.node_id] == 0), remaining[0])
        remaining.remove(ready)
        placed.append(ready)
        if not any(s.node_id == ready.node_id for s in remaining):
            for target in successors[ready.node_id] & nodes:
                if target != ready.node_id:
                    incoming[target] -= 1
    return placed
