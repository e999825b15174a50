"""Journey node types: one module each, holding everything its type means.

A node type's module (`send.py`, `wait.py`, ...) holds its config model and node model, the commands
it alone issues (SEND's `SendMessage`, UPDATE's `UpdateProfile`), and its `NodeKind`
(`domain.nodes.base`): the edge labels it leaves by, its publish rules beyond the config model, what it
blocks on, and how the interpreter enters it and resumes it. Everything else reads those facts from
here: the definition's `Node` union (`domain.definition`), graph validation (`domain.validation`), the
steps view (`domain.steps`), the interpreter (`domain.interpreter`), analytics' branching node types
and the test strategies.

Adding a node type:
1. Write `domain/nodes/<type>.py`: the config model, `class XNode(NodeBase)` with `type: Literal["X"]`
   and `config`, and `class XKind(NodeKind[XNode])` with `node_class = XNode`, its `fixed_labels` (or
   a `labels()` override when the config makes them), `enter()` and the `on_*` hooks for what it
   blocks on; end with `X = XKind()`. Copy the closest existing module.
2. Register it below: the `Node` union, `NodeType`, `KINDS`, and a `case` in `kind_of` (mypy strict
   fails on the `assert_never` until the case is there; `tests/unit/test_nodes.py` fails until the
   union, `NodeType` and `KINDS` agree).
3. Tests: the interpreter's behaviour in `tests/unit/test_interpreter.py`, and a config strategy in
   `tests/strategies.py` (`_RICH_CONFIGS`, `_PLAIN_CONFIGS`).
A new blocking effect (a command the workflow must carry out) also needs its activity and a branch in
`workflows/enrollment.py`; a change to what existing nodes ask of Temporal must be patched there.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any, Final, Literal, TypeVar, assert_never

from pydantic import Field

from domain.nodes.base import NodeBase, NodeKind
from domain.nodes.condition import CONDITION, ConditionNode
from domain.nodes.exit import EXIT, ExitNode
from domain.nodes.goal_check import GOAL_CHECK, GoalCheckNode
from domain.nodes.send import SEND, SendNode
from domain.nodes.split import SPLIT, SplitNode
from domain.nodes.trigger import TRIGGER, TriggerNode
from domain.nodes.update import UPDATE, UpdateNode
from domain.nodes.wait import WAIT, WaitNode
from domain.nodes.wait_for_event import WAIT_FOR_EVENT, WaitForEventNode

Node = Annotated[
    TriggerNode
    | SendNode
    | WaitNode
    | WaitForEventNode
    | ConditionNode
    | SplitNode
    | UpdateNode
    | GoalCheckNode
    | ExitNode,
    Field(discriminator="type"),
]
# Every node `type` value, for models that name a type without holding a node (the steps view).
NodeType = Literal[
    "TRIGGER", "SEND", "WAIT", "WAIT_FOR_EVENT", "CONDITION", "SPLIT", "UPDATE", "GOAL_CHECK", "EXIT", "END"
]

KINDS: Final[tuple[NodeKind[Any], ...]] = (
    TRIGGER,
    SEND,
    WAIT,
    WAIT_FOR_EVENT,
    CONDITION,
    SPLIT,
    UPDATE,
    GOAL_CHECK,
    EXIT,
)
# node type → its behaviour; EXIT and END are one kind.
REGISTRY: Final[Mapping[str, NodeKind[Any]]] = {tag: kind for kind in KINDS for tag in kind.types}
# Types whose nodes choose between edges (their steps record the branch taken).
BRANCHING_TYPES: Final = frozenset(tag for tag, kind in REGISTRY.items() if kind.branching)

N = TypeVar("N", bound=NodeBase)


def _paired(kind: NodeKind[N], node: N) -> NodeKind[Any]:
    """`kind` once the type checker has seen it is the kind of `node`'s class."""
    return kind


def kind_of(node: Node) -> NodeKind[Any]:
    """The behaviour of `node`'s type. Exhaustive: a node type without a case fails type checking."""
    match node:
        case TriggerNode():
            return _paired(TRIGGER, node)
        case SendNode():
            return _paired(SEND, node)
        case WaitNode():
            return _paired(WAIT, node)
        case WaitForEventNode():
            return _paired(WAIT_FOR_EVENT, node)
        case ConditionNode():
            return _paired(CONDITION, node)
        case SplitNode():
            return _paired(SPLIT, node)
        case UpdateNode():
            return _paired(UPDATE, node)
        case GoalCheckNode():
            return _paired(GOAL_CHECK, node)
        case ExitNode():
            return _paired(EXIT, node)
        case _:
            assert_never(node)


def labels(node: Node) -> list[str]:
    """The outgoing edge labels `node` must have, exactly, in canonical order; the first is its primary."""
    return kind_of(node).labels(node)
