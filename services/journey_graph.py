"""A journey's graph with its live counts: one version laid out (`domain.layout`) and, on every node and
edge, what journey analytics counts for that version — the console's picture of a journey."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from domain.definition import JourneyDefinition
from domain.layout import Box, Layout, Route, layered_layout
from domain.nodes import kind_of
from services.analytics import AnalyticsService
from services.journeys import JourneyService, definition_of
from services.uow import UnitOfWork


@dataclass(frozen=True)
class NodeCounts:
    active: int = 0
    entered: int = 0
    completed: int = 0
    exited: int = 0
    failed: int = 0
    sent: int = 0
    suppressed: int = 0


@dataclass(frozen=True)
class GraphNode:
    box: Box
    type: str
    name: str
    counts: NodeCounts


@dataclass(frozen=True)
class GraphEdge:
    route: Route
    count: int
    share: float | None


@dataclass(frozen=True)
class JourneyGraph:
    journey_id: uuid.UUID
    name: str
    status: str
    version: int | None  # None: the draft of a journey never published
    versions: list[int]
    layout: Layout
    nodes: list[GraphNode]
    edges: list[GraphEdge]


class JourneyGraphService:
    def __init__(self, uow: UnitOfWork) -> None:
        self._journeys = JourneyService(uow)
        self._analytics = AnalyticsService(uow)

    async def graph(
        self,
        tenant_id: str,
        journey_id: uuid.UUID,
        version: int | None,
        start: datetime | None,
        end: datetime | None,
    ) -> JourneyGraph:
        """Version `version` (default: the live one; a journey never published shows its draft, with no
        counts). A version the journey does not have is a 404."""
        row = await self._journeys.get(tenant_id, journey_id)
        shown = version if version is not None else (row.version or None)
        if shown is None:
            definition = definition_of(row)
        else:
            stored = await self._journeys.version(tenant_id, journey_id, shown)
            definition = JourneyDefinition.model_validate(stored.definition)
        layout = layered_layout(definition)
        counted = None
        if shown is not None:
            counted = await self._analytics.journey(tenant_id, journey_id, shown, start, end)
        stats = {n.node_id: n for n in counted.nodes} if counted else {}
        branch_counts = {(b.node_id, b.label): b.count for b in counted.branches} if counted else {}
        by_id = {node.id: node for node in definition.nodes}
        nodes: list[GraphNode] = []
        for box in layout.boxes:
            node = by_id[box.node_id]
            found = stats.get(node.id)
            counts = NodeCounts()
            if found is not None:
                counts = NodeCounts(
                    active=found.in_progress,
                    entered=found.entered,
                    completed=found.completed,
                    exited=found.exited,
                    failed=found.failed,
                    sent=found.sent,
                    suppressed=found.suppressed,
                )
            nodes.append(GraphNode(box, node.type, node.name or node.type, counts))
        completed = {graph_node.box.node_id: graph_node.counts.completed for graph_node in nodes}
        counts_of_edge: list[int] = []
        for route in layout.routes:
            # A branching node's edges carry the visits that left by their label (none counted yet: 0);
            # any other node's one edge carries its completed visits.
            if kind_of(by_id[route.source]).branching:
                counts_of_edge.append(branch_counts.get((route.source, route.label), 0))
            else:
                counts_of_edge.append(completed.get(route.source, 0))
        leaving: dict[str, int] = {}
        for route, count in zip(layout.routes, counts_of_edge, strict=True):
            leaving[route.source] = leaving.get(route.source, 0) + count
        edges = [
            GraphEdge(route, count, count / leaving[route.source] if leaving[route.source] else None)
            for route, count in zip(layout.routes, counts_of_edge, strict=True)
        ]
        return JourneyGraph(
            journey_id=row.id,
            name=row.name,
            status=row.status,
            version=shown,
            versions=list(range(1, row.version + 1)),
            layout=layout,
            nodes=nodes,
            edges=edges,
        )
