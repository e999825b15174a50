"""The console's journey layout (`domain.layout`): left to right, no overlaps, loops drawn back below."""

from __future__ import annotations

from itertools import combinations, pairwise

import pytest

from domain.definition import JourneyDefinition
from domain.layout import Layout, layered_layout
from tests.journey_examples import welcome_journey
from tests.unit.test_interpreter import TRIGGER, graph, split_journey, wait, wait_for_purchase


def looping() -> JourneyDefinition:
    """A reminder loop: wait, check, and back to the wait until the goal is reached."""
    return graph(
        [
            TRIGGER,
            wait("w", duration="1 day"),
            {"id": "g", "type": "GOAL_CHECK"},
            {"id": "done", "type": "EXIT"},
        ],
        [("t", "w", "next"), ("w", "g", "next"), ("g", "done", "yes"), ("g", "w", "no")],
        goal={"type": "event", "config": {"eventName": "purchase"}},
    )


def shapes() -> list[JourneyDefinition]:
    welcome = welcome_journey()
    return [
        JourneyDefinition.model_validate({k: welcome[k] for k in ("nodes", "edges")}),
        split_journey(),
        wait_for_purchase(),
        looping(),
    ]


def boxes_of(layout: Layout) -> dict[str, tuple[float, float, float, float]]:
    return {b.node_id: (b.x, b.y, b.x + b.width, b.y + b.height) for b in layout.boxes}


@pytest.mark.parametrize("definition", shapes())
def test_every_node_has_a_box_inside_the_drawing_and_none_overlap(definition: JourneyDefinition) -> None:
    layout = layered_layout(definition)
    boxes = boxes_of(layout)
    assert set(boxes) == {node.id for node in definition.nodes}
    for left, top, right, bottom in boxes.values():
        assert 0 <= left < right <= layout.width and 0 <= top < bottom <= layout.height
    for (a, (al, at, ar, ab)), (b, (bl, bt, br, bb)) in combinations(boxes.items(), 2):
        assert ar <= bl or br <= al or ab <= bt or bb <= at, f"{a} overlaps {b}"


@pytest.mark.parametrize("definition", shapes())
def test_edges_run_left_to_right_from_port_to_port_except_loops(definition: JourneyDefinition) -> None:
    layout = layered_layout(definition)
    layer = {b.node_id: b.layer for b in layout.boxes}
    boxes = boxes_of(layout)
    assert len(layout.routes) == len(definition.edges)
    for route in layout.routes:
        (start_x, start_y), (end_x, end_y) = route.points[0], route.points[-1]
        assert start_x == boxes[route.source][2], "leaves the source's right side"
        assert boxes[route.source][1] < start_y < boxes[route.source][3]
        assert (end_x, end_y) == (
            boxes[route.target][0],
            (boxes[route.target][1] + boxes[route.target][3]) / 2,
        )
        if route.loop:
            assert layer[route.target] <= layer[route.source]
            assert max(y for _, y in route.points) > max(b[3] for b in boxes.values()), "drawn below"
        else:
            assert layer[route.target] > layer[route.source]


def test_the_trigger_is_first_branches_share_a_layer_and_loops_are_found() -> None:
    split = layered_layout(split_journey())
    layer = {b.node_id: b.layer for b in split.boxes}
    assert layer == {"t": 0, "s": 1, "ea": 2, "eb": 2, "eh": 2}
    ports = [route.points[0][1] for route in split.routes if route.source == "s"]
    assert len(set(ports)) == 3, "each branch leaves by its own port"
    loop = layered_layout(looping())
    assert [(r.source, r.target) for r in loop.routes if r.loop] == [("g", "w")]
    assert layered_layout(looping()) == loop, "deterministic"


def test_an_edge_across_layers_goes_around_the_nodes_between() -> None:
    """CONDITION yes → WAIT → SEND → EXIT, no → EXIT: the 'no' edge spans three layers."""
    definition = graph(
        [
            TRIGGER,
            {
                "id": "c",
                "type": "CONDITION",
                "config": {"rules": [{"field": "plan", "operator": "eq", "value": "pro"}]},
            },
            wait("w", duration="1 day"),
            {"id": "s", "type": "SEND", "config": {"channel": "EMAIL", "subject": "s", "body": "b"}},
            {"id": "x", "type": "EXIT"},
        ],
        [("t", "c", "next"), ("c", "w", "yes"), ("w", "s", "next"), ("s", "x", "next"), ("c", "x", "no")],
    )
    layout = layered_layout(definition)
    boxes = boxes_of(layout)
    for route in layout.routes:
        for (x1, y1), (x2, y2) in pairwise(route.points):
            assert x1 == x2 or y1 == y2, "segments are horizontal or vertical"
            for node_id, (left, top, right, bottom) in boxes.items():
                if node_id in (route.source, route.target):
                    continue
                crosses_x = min(x1, x2) < right and max(x1, x2) > left
                crosses_y = min(y1, y2) < bottom and max(y1, y2) > top
                assert not (crosses_x and crosses_y), f"{route.source}→{route.target} runs through {node_id}"
    assert {b.node_id for b in layout.boxes} == {"t", "c", "w", "s", "x"}, "slots are not nodes"
