"""A journey's graph laid out left to right, for the console (and anyone drawing a journey).

A layered layout in the manner of Sugiyama, small enough to read: edges that close a loop (back to a node
on the way from the trigger) are set aside, every other edge points to a later layer (a node's layer is
its longest path from a source), an edge across several layers gets a slot of its own in each layer
between (so it runs around the nodes there), nodes within a layer are ordered by the mean position of
their neighbours over a few sweeps to keep crossings down, and coordinates follow from layer and rank. Edges
leave a node's right side (one port per outgoing edge, in the node's label order) and enter the next
node's left side; a loop's edge runs back below the drawing. Pure and deterministic: the same definition
always draws the same picture.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from itertools import pairwise

from domain.definition import JourneyDefinition
from domain.nodes import labels
from domain.step_order import nodes_in_path_order

NODE_WIDTH = 184
NODE_HEIGHT = 92
LAYER_GAP = 84
RANK_GAP = 40
MARGIN = 24
LOOP_GAP = 18
SWEEPS = 4

Point = tuple[float, float]


@dataclass(frozen=True)
class Box:
    node_id: str
    layer: int
    x: float
    y: float
    width: float = NODE_WIDTH
    height: float = NODE_HEIGHT


@dataclass(frozen=True)
class Route:
    source: str
    target: str
    label: str
    points: list[Point]
    loop: bool = False


@dataclass(frozen=True)
class Layout:
    width: float
    height: float
    boxes: list[Box]
    routes: list[Route]


def layered_layout(definition: JourneyDefinition) -> Layout:
    order = nodes_in_path_order(definition)
    position = {node_id: i for i, node_id in enumerate(order)}
    label_rank = {node.id: {label: i for i, label in enumerate(labels(node))} for node in definition.nodes}
    edges = sorted(
        (e for e in definition.edges if e.source_node_id in position and e.target_node_id in position),
        key=lambda e: (position[e.source_node_id], label_rank[e.source_node_id].get(e.label, 99)),
    )
    loops = _loop_edges(order, [(e.source_node_id, e.target_node_id) for e in edges])
    forward = [
        (e.source_node_id, e.target_node_id)
        for e in edges
        if (e.source_node_id, e.target_node_id) not in loops
    ]
    layer = _layers(order, forward)
    # An edge across several layers runs through a slot of its own in each layer between (a virtual node
    # the ordering places like any other), so it is drawn around the nodes there, never through them.
    slots: dict[int, list[str]] = {}
    placed = list(order)
    chained: list[tuple[str, str]] = []
    for i, edge in enumerate(edges):
        pair = (edge.source_node_id, edge.target_node_id)
        if pair in loops:
            continue
        span = layer[pair[1]] - layer[pair[0]]
        virtual = [f"\x00{i}:{k}" for k in range(1, span)]
        for k, slot in enumerate(virtual, start=1):
            layer[slot] = layer[pair[0]] + k
            placed.append(slot)
        chain = [pair[0], *virtual, pair[1]]
        chained.extend(pairwise(chain))
        slots[i] = virtual
    ranks = _ranks(placed, layer, chained)

    depth = max((len(nodes) for nodes in ranks.values()), default=1)
    column = depth * NODE_HEIGHT + (depth - 1) * RANK_GAP
    boxes: dict[str, Box] = {}
    for index, nodes in ranks.items():
        height = len(nodes) * NODE_HEIGHT + (len(nodes) - 1) * RANK_GAP
        top = MARGIN + (column - height) / 2
        for rank, node_id in enumerate(nodes):
            x = MARGIN + index * (NODE_WIDTH + LAYER_GAP)
            boxes[node_id] = Box(node_id, index, x, top + rank * (NODE_HEIGHT + RANK_GAP))

    outgoing: dict[str, list[int]] = defaultdict(list)
    for i, edge in enumerate(edges):
        outgoing[edge.source_node_id].append(i)
    bottom = MARGIN + column
    routes: list[Route] = []
    loop_count = 0
    for i, edge in enumerate(edges):
        source, target = boxes[edge.source_node_id], boxes[edge.target_node_id]
        ports = outgoing[edge.source_node_id]
        port_y = source.y + source.height * (ports.index(i) + 1) / (len(ports) + 1)
        end: Point = (target.x, target.y + target.height / 2)
        if (edge.source_node_id, edge.target_node_id) in loops:
            loop_count += 1
            below = bottom + LOOP_GAP * loop_count
            start: Point = (source.x + source.width, port_y)
            points = [
                start,
                (start[0] + LAYER_GAP / 3, port_y),
                (start[0] + LAYER_GAP / 3, below),
                (target.x - LAYER_GAP / 3, below),
                (target.x - LAYER_GAP / 3, end[1]),
                end,
            ]
            routes.append(Route(edge.source_node_id, edge.target_node_id, edge.label, points, loop=True))
            continue
        bend = source.x + source.width + LAYER_GAP / 2
        points = [(source.x + source.width, port_y), (bend, port_y)]
        for slot in slots.get(i, []):
            through = boxes[slot]
            middle = through.y + through.height / 2
            bend = through.x + through.width + LAYER_GAP / 2
            points += [(points[-1][0], middle), (bend, middle)]
        points += [(bend, end[1]), end]
        routes.append(Route(edge.source_node_id, edge.target_node_id, edge.label, points))
    layers = max(layer.values(), default=0) + 1
    width = 2 * MARGIN + layers * NODE_WIDTH + (layers - 1) * LAYER_GAP
    height = bottom + MARGIN + LOOP_GAP * loop_count
    return Layout(width, height, [boxes[node_id] for node_id in order], routes)


def _loop_edges(order: list[str], edges: list[tuple[str, str]]) -> set[tuple[str, str]]:
    """Edges that lead back to a node still on the depth-first way from where the search began."""
    successors: dict[str, list[str]] = defaultdict(list)
    for source, target in edges:
        successors[source].append(target)
    state: dict[str, int] = {}  # 1: on the way, 2: done
    loops: set[tuple[str, str]] = set()
    for root in order:
        if root in state:
            continue
        stack: list[tuple[str, int]] = [(root, 0)]
        state[root] = 1
        while stack:
            node, index = stack.pop()
            if index < len(successors[node]):
                stack.append((node, index + 1))
                target = successors[node][index]
                if state.get(target) == 1:
                    loops.add((node, target))
                elif target not in state:
                    state[target] = 1
                    stack.append((target, 0))
            else:
                state[node] = 2
    return loops


def _layers(order: list[str], forward: list[tuple[str, str]]) -> dict[str, int]:
    """Longest path from a source over the forward edges (a DAG), so every edge points right."""
    predecessors: dict[str, list[str]] = defaultdict(list)
    indegree = {node_id: 0 for node_id in order}
    successors: dict[str, list[str]] = defaultdict(list)
    for source, target in forward:
        predecessors[target].append(source)
        successors[source].append(target)
        indegree[target] += 1
    layer: dict[str, int] = {}
    ready = [node_id for node_id in order if indegree[node_id] == 0]
    while ready:
        node_id = ready.pop(0)
        layer[node_id] = max((layer[p] + 1 for p in predecessors[node_id]), default=0)
        for target in successors[node_id]:
            indegree[target] -= 1
            if indegree[target] == 0:
                ready.append(target)
    return layer


def _ranks(order: list[str], layer: dict[str, int], forward: list[tuple[str, str]]) -> dict[int, list[str]]:
    """Each layer's nodes top to bottom: path order first, then barycentre sweeps right and left."""
    ranks: dict[int, list[str]] = defaultdict(list)
    for node_id in order:
        ranks[layer[node_id]].append(node_id)
    neighbours_before: dict[str, list[str]] = defaultdict(list)
    neighbours_after: dict[str, list[str]] = defaultdict(list)
    for source, target in forward:
        neighbours_before[target].append(source)
        neighbours_after[source].append(target)
    count = max(ranks, default=0) + 1
    for sweep in range(SWEEPS):
        rightward = sweep % 2 == 0
        indexes = range(1, count) if rightward else range(count - 2, -1, -1)
        neighbours = neighbours_before if rightward else neighbours_after
        for index in indexes:
            place = {node_id: i for nodes in ranks.values() for i, node_id in enumerate(nodes)}
            current = ranks[index]
            centre: dict[str, float] = {}
            for i, node_id in enumerate(current):
                near = [place[n] for n in neighbours[node_id] if n in place]
                centre[node_id] = sum(near) / len(near) if near else float(i)
            ranks[index] = sorted(current, key=lambda node_id: (centre[node_id], current.index(node_id)))
    return dict(sorted(ranks.items()))
