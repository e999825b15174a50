"""The A/B readout's order: nodes in path order, each node's branches in its label order."""

from __future__ import annotations

from domain.definition import JourneyDefinition
from domain.step_order import nodes_in_path_order
from services.analytics import branch_readout
from store.repositories.journey_analytics import BranchConversionCounts

_SEND = {"channel": "EMAIL", "subject": "Hi", "body": "x"}
_RULES = {"rules": [{"field": "plan", "operator": "eq", "value": "pro"}]}

# start → loop-check (CONDITION) —no→ wait → back to loop-check; —yes→ ab (SPLIT, keys b then a)
# → a-mail / b-mail → done. The edges are listed out of order; `orphan` is reached by no edge.
DEFINITION = JourneyDefinition.model_validate(
    {
        "nodes": [
            {
                "id": "orphan",
                "type": "SPLIT",
                "config": {"splits": [{"key": "x", "percentage": 50}, {"key": "y", "percentage": 50}]},
            },
            {"id": "done", "type": "END"},
            {"id": "a-mail", "type": "SEND", "config": _SEND},
            {"id": "b-mail", "type": "SEND", "config": _SEND},
            {
                "id": "ab",
                "type": "SPLIT",
                "name": "A/B",
                "config": {"splits": [{"key": "b", "percentage": 50}, {"key": "a", "percentage": 50}]},
            },
            {"id": "wait", "type": "WAIT", "config": {"duration": "P1D"}},
            {"id": "loop-check", "type": "CONDITION", "config": _RULES},
            {"id": "start", "type": "TRIGGER"},
        ],
        "edges": [
            {"sourceNodeId": "a-mail", "targetNodeId": "done"},
            {"sourceNodeId": "ab", "targetNodeId": "a-mail", "label": "a"},
            {"sourceNodeId": "ab", "targetNodeId": "b-mail", "label": "b"},
            {"sourceNodeId": "b-mail", "targetNodeId": "done"},
            {"sourceNodeId": "wait", "targetNodeId": "loop-check"},
            {"sourceNodeId": "loop-check", "targetNodeId": "wait", "label": "no"},
            {"sourceNodeId": "loop-check", "targetNodeId": "ab", "label": "yes"},
            {"sourceNodeId": "start", "targetNodeId": "loop-check"},
        ],
    }
)


def test_path_order_is_breadth_first_from_the_trigger_in_label_order() -> None:
    assert nodes_in_path_order(DEFINITION) == [
        "start",
        "loop-check",
        "ab",  # `yes` before `no`, though the `no` edge is listed first
        "wait",
        "b-mail",  # the split's keys are b, a
        "a-mail",
        "done",
        "orphan",  # reached by no edge: last, in definition order
    ]


def test_the_readout_fills_untaken_branches_and_keeps_what_the_draft_lost() -> None:
    counted = [
        BranchConversionCounts("ab", "SPLIT", "ab", "a", 4, 1),
        BranchConversionCounts("ab", "SPLIT", "ab", "old-key", 2, 2),  # a key the draft renamed
        BranchConversionCounts("gone", "CONDITION", "Gone", "yes", 3, 0),  # a node the draft removed
        BranchConversionCounts("loop-check", "CONDITION", "CONDITION", "no", 5, 1),
    ]
    readout = [
        (b.node_id, b.node_name, b.branch, b.enrolled, b.converted, b.rate)
        for b in branch_readout(DEFINITION, counted)
    ]
    assert readout == [
        ("loop-check", "CONDITION", "yes", 0, 0, 0.0),
        ("loop-check", "CONDITION", "no", 5, 1, 0.2),
        ("ab", "A/B", "b", 0, 0, 0.0),
        ("ab", "A/B", "a", 4, 1, 0.25),
        ("ab", "A/B", "old-key", 2, 2, 1.0),
        ("orphan", "SPLIT", "x", 0, 0, 0.0),
        ("orphan", "SPLIT", "y", 0, 0, 0.0),
        ("gone", "Gone", "yes", 3, 0, 0.0),
    ]
