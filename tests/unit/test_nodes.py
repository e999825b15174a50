"""The node registry: every node type of the definition's union has one behaviour, and the facts everyone
reads from it (labels, branching, waiting) are the spec's."""

from __future__ import annotations

from typing import Any, get_args

import pytest
from pydantic import TypeAdapter

from domain.definition import JourneyDefinition, Node
from domain.nodes import BRANCHING_TYPES, KINDS, REGISTRY, NodeType, kind_of, labels
from domain.steps import StepType

NODE: TypeAdapter[Node] = TypeAdapter(Node)
UNION_CLASSES = get_args(get_args(Node)[0])  # Node is Annotated[A | B | ..., discriminator]

# One valid node per type: the table the assertions below walk.
SAMPLES: dict[str, dict[str, Any]] = {
    "TRIGGER": {},
    "SEND": {"channel": "EMAIL", "templateId": "welcome"},
    "WAIT": {"duration": "1 day"},
    "WAIT_FOR_EVENT": {"event": "purchase", "timeout": "2 days"},
    "CONDITION": {"rules": [{"field": "plan", "value": "pro"}]},
    "SPLIT": {"splits": [{"key": "a", "percentage": 60}, {"key": "b", "percentage": 40}]},
    "UPDATE": {"updates": [{"field": "stage", "value": "onboarded"}]},
    "GOAL_CHECK": {},
    "EXIT": {},
    "END": {},
}


def sample(node_type: str) -> Node:
    return NODE.validate_python({"id": "n", "type": node_type, "config": SAMPLES[node_type]})


def test_every_node_class_of_the_union_has_one_kind_and_every_kind_a_class_in_the_union() -> None:
    assert sorted(k.node_class.__name__ for k in KINDS) == sorted(c.__name__ for c in UNION_CLASSES)
    assert len({id(k) for k in KINDS}) == len(KINDS)


def test_every_node_type_has_a_registry_entry_and_every_entry_is_a_node_type() -> None:
    union_types = {tag for cls in UNION_CLASSES for tag in get_args(cls.model_fields["type"].annotation)}
    assert set(REGISTRY) == union_types
    assert set(get_args(NodeType)) == union_types
    assert set(get_args(StepType)) == union_types
    assert set(SAMPLES) == union_types


@pytest.mark.parametrize("node_type", sorted(SAMPLES))
def test_the_registry_and_the_exhaustive_dispatch_agree(node_type: str) -> None:
    node = sample(node_type)
    assert kind_of(node) is REGISTRY[node_type]
    assert isinstance(node, REGISTRY[node_type].node_class)


# The label table, written out: the spec every reader of `labels` (validation, the steps view, the
# interpreter's edges, the strategies) now shares.
@pytest.mark.parametrize(
    ("node_type", "expected"),
    [
        ("TRIGGER", ["next"]),
        ("SEND", ["next"]),
        ("WAIT", ["next"]),
        ("UPDATE", ["next"]),
        ("CONDITION", ["yes", "no"]),
        ("GOAL_CHECK", ["yes", "no"]),
        ("WAIT_FOR_EVENT", ["matched", "timeout"]),
        ("SPLIT", ["a", "b"]),
        ("EXIT", []),
        ("END", []),
    ],
)
def test_labels_by_node_type(node_type: str, expected: list[str]) -> None:
    assert labels(sample(node_type)) == expected


def test_split_labels_are_its_keys_in_config_order() -> None:
    split = NODE.validate_python(
        {
            "id": "s",
            "type": "SPLIT",
            "config": {"splits": [{"key": k, "percentage": 25} for k in ("z", "next", "a", "yes")]},
        }
    )
    assert labels(split) == ["z", "next", "a", "yes"]


def test_branching_and_waiting_types() -> None:
    assert frozenset({"CONDITION", "SPLIT", "WAIT_FOR_EVENT", "GOAL_CHECK"}) == BRANCHING_TYPES
    assert {t for t, kind in REGISTRY.items() if kind.waits_for_time} == {"WAIT", "WAIT_FOR_EVENT"}


def test_split_publish_rules_live_with_the_split() -> None:
    split = NODE.validate_python(
        {
            "id": "s",
            "type": "SPLIT",
            "config": {"splits": [{"key": "a", "percentage": 50}, {"key": "a", "percentage": 40}]},
        }
    )
    assert kind_of(split).issues(split) == [
        (("config", "splits"), "percentages sum to 90, not 100"),
        (("config", "splits"), "split keys must be unique"),
    ]
    assert all(kind_of(sample(t)).issues(sample(t)) == [] for t in SAMPLES)


def test_the_definition_reexports_the_node_models() -> None:
    # Code across the tree imports node and config models from domain.definition.
    definition = JourneyDefinition.model_validate(
        {"nodes": [{"id": t.lower(), "type": t, "config": c} for t, c in SAMPLES.items()]}
    )
    assert [type(n) for n in definition.nodes] == [REGISTRY[t].node_class for t in SAMPLES]
