"""Steps entered in the same instant are listed in the order the journey's edges lead through them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from domain.definition import Edge
from domain.step_order import in_path_order

T0 = datetime(2026, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class Visit:
    node_id: str
    visit: int
    started_at: datetime


def _edges(*pairs: tuple[str, str]) -> list[Edge]:
    return [Edge(source_node_id=a, target_node_id=b) for a, b in pairs]


def test_a_tie_follows_the_edges_not_the_ids() -> None:
    # Ids sort "a-send" < "b-check" < "z-trigger": the opposite of the path.
    steps = [Visit("a-send", 1, T0), Visit("b-check", 1, T0), Visit("z-trigger", 1, T0)]
    ordered = in_path_order(steps, _edges(("z-trigger", "b-check"), ("b-check", "a-send")))
    assert [s.node_id for s in ordered] == ["z-trigger", "b-check", "a-send"]


def test_time_comes_first() -> None:
    later = T0 + timedelta(seconds=1)
    steps = [Visit("trigger", 1, later), Visit("send", 1, T0)]
    ordered = in_path_order(steps, _edges(("trigger", "send")))
    assert [s.node_id for s in ordered] == ["send", "trigger"]


def test_a_loop_in_one_instant_falls_back_to_visits() -> None:
    steps = [Visit("b", 2, T0), Visit("a", 1, T0), Visit("b", 1, T0), Visit("a", 2, T0)]
    ordered = in_path_order(steps, _edges(("a", "b"), ("b", "a")))
    assert sorted((s.node_id, s.visit) for s in ordered) == [("a", 1), ("a", 2), ("b", 1), ("b", 2)]
    assert ordered[0] == Visit("a", 1, T0)


def test_unconnected_ties_keep_a_stable_order() -> None:
    steps = [Visit("y", 1, T0), Visit("x", 1, T0)]
    assert [s.node_id for s in in_path_order(steps, [])] == ["x", "y"]
