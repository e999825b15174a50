"""The order an enrollment walked its steps in, when the clock cannot tell.

Nodes that take no time (TRIGGER, CONDITION, SPLIT, UPDATE_PROFILE …) are entered in the same instant,
so start time alone leaves them tied; their id is no order at all. Within a tie, a step comes after the
step it was reached from: the journey's edges give the order.
"""

from __future__ import annotations

from collections import defaultdict, deque
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Protocol, TypeVar

from domain.definition import Edge, JourneyDefinition
from domain.nodes import labels


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


def nodes_in_path_order(definition: JourneyDefinition) -> list[str]:
    """Node ids breadth-first from the TRIGGER along the edges, each node's edges in its label order; a
    loop back is not followed twice, and nodes no edge reaches (a draft may have them) come last, in
    definition order. (`in_path_order` orders *steps* by time; nodes have no time to go by.)"""
    rank = {node.id: {label: i for i, label in enumerate(labels(node))} for node in definition.nodes}
    out: dict[str, list[tuple[int, int, str]]] = defaultdict(list)
    for position, edge in enumerate(definition.edges):
        labels_of = rank.get(edge.source_node_id, {})
        out[edge.source_node_id].append(
            (labels_of.get(edge.label, len(labels_of)), position, edge.target_node_id)
        )
    seen: dict[str, None] = {}
    queue = deque(node.id for node in definition.nodes if node.type == "TRIGGER")
    while queue:
        node_id = queue.popleft()
        if node_id in seen or node_id not in rank:
            continue
        seen[node_id] = None
        queue.extend(target for _, _, target in sorted(out[node_id]))
    seen.update((node.id, None) for node in definition.nodes if node.id not in seen)
    return list(seen)
