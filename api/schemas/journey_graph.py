"""A journey's graph, laid out, with live counts on every node and edge."""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING

from pydantic import Field

from api.schemas.common import ApiModel

if TYPE_CHECKING:
    from services.journey_graph import JourneyGraph


class NodeCountsOut(ApiModel):
    active: int = Field(description="Customers at this node now (its step visits still open)")
    entered: int
    completed: int
    exited: int
    failed: int = Field(description="Visits that failed or were skipped")
    sent: int = Field(description="SEND: messages sent")
    suppressed: int = Field(description="SEND: messages suppressed")


class GraphNodeOut(ApiModel):
    id: str
    type: str
    name: str
    layer: int = Field(description="Column, from the left (0: the trigger)")
    x: float = Field(description="Left edge of the node's box, in pixels")
    y: float = Field(description="Top edge of the node's box, in pixels")
    width: float
    height: float
    counts: NodeCountsOut


class GraphEdgeOut(ApiModel):
    source: str
    target: str
    label: str
    count: int = Field(description="Visits of the source that left by this edge")
    share: float | None = Field(description="count ÷ all visits that left the source (null: none left)")
    loop: bool = Field(description="The edge leads back (drawn below the graph)")
    points: list[tuple[float, float]] = Field(description="The edge's polyline, source port to target port")


class JourneyGraphOut(ApiModel):
    journey_id: uuid.UUID
    name: str
    status: str
    version: int | None = Field(description="The version drawn; null: the draft of a journey never published")
    versions: list[int] = Field(description="Every published version")
    width: float
    height: float
    nodes: list[GraphNodeOut]
    edges: list[GraphEdgeOut]

    @classmethod
    def build(cls, graph: JourneyGraph) -> JourneyGraphOut:
        return cls(
            journey_id=graph.journey_id,
            name=graph.name,
            status=graph.status,
            version=graph.version,
            versions=graph.versions,
            width=graph.layout.width,
            height=graph.layout.height,
            nodes=[
                GraphNodeOut(
                    id=node.box.node_id,
                    type=node.type,
                    name=node.name,
                    layer=node.box.layer,
                    x=node.box.x,
                    y=node.box.y,
                    width=node.box.width,
                    height=node.box.height,
                    counts=NodeCountsOut(**vars(node.counts)),
                )
                for node in graph.nodes
            ],
            edges=[
                GraphEdgeOut(
                    source=edge.route.source,
                    target=edge.route.target,
                    label=edge.route.label,
                    count=edge.count,
                    share=edge.share,
                    loop=edge.route.loop,
                    points=edge.route.points,
                )
                for edge in graph.edges
            ],
        )
