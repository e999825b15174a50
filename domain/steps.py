"""The steps view: a journey graph shown, and edited, as an ordered list of steps.

A *step* is a node plus pointers to the steps that follow it:

- `stepNumber` is the 1-based position of the node in `definition.nodes`; the node list order IS the
  step order. The TRIGGER is a step like any other (normally step 1).
- `config` is the node's config, camelCase, with None values left out.
- Edge labels map to pointers per node, by the labels it leaves by (`domain.nodes.labels`). A branch
  listed in the config (a SPLIT's `config.splits`, a multi-branch CONDITION's `config.branches`) shows as
  `config.<list>[i].nextStepId` next to its `key` (null when the branch has no edge). The other labels
  are the top-level pointers: one label is `nextStepId`; two are `nextStepYesId` and `nextStepNoId`, in
  order:

  ================================  ==================  ====================  ==========================
  node                              `nextStepId`        `nextStepYesId`       `nextStepNoId`
  ================================  ==================  ====================  ==========================
  TRIGGER, SEND, WAIT, UPDATE       label `next`        —                     —
  CONDITION (yes/no: `rules`)       —                   label `yes`           label `no`
  CONDITION (`branches`)            label `else`        —                     —
  GOAL_CHECK                        —                   label `yes`           label `no`
  WAIT_FOR_EVENT                    —                   label `matched`       label `timeout`
  SPLIT                             —                   —                     —
  EXIT/END                          —                   —                     —
  ================================  ==================  ====================  ==========================

  A pointer a node does not have is refused unless it is null (a step read from the view can be sent
  back as it is).

The view shows, for each pointer, the first edge with that label; edges a node cannot have (a draft
may hold them until publish-time validation refuses it) are not shown. For a valid graph the view is
lossless: `from_steps(to_steps(d))` gives back `d.nodes` and `d.edges` in canonical order — by source
node order, then the node's label order (`labels(node)`: `next`; `yes`, `no`; `matched`, `timeout`; a
SPLIT's keys in config order; a multi-branch CONDITION's keys in config order, then `else`).

The edit operations (`add_step`, `update_step`, `delete_step`, `reorder_steps`) return a new definition
and never mutate theirs. They keep references intact (no pointer to an unknown step) but do not enforce
the graph rules: a draft may be incomplete between edits, and publish-time validation
(`domain.validation`) is what refuses an invalid graph.
"""

from __future__ import annotations

import enum
from collections import Counter
from collections.abc import Mapping, Sequence
from itertools import pairwise
from typing import Any, Final

from pydantic import Field, TypeAdapter, ValidationError

from domain.definition import (
    MAX_CONFIG_BYTES,
    MAX_EDGES,
    MAX_NODES,
    ConditionNode,
    Edge,
    JourneyDefinition,
    Node,
    Position,
    TriggerNode,
)
from domain.errors import ConflictError, FieldIssue, InvalidInputError, NotFoundError
from domain.nodes import REGISTRY, NodeType, labels
from domain.wire import WireModel

StepType = NodeType

NEXT_STEP_ID: Final = "nextStepId"
NEXT_STEP_YES_ID: Final = "nextStepYesId"
NEXT_STEP_NO_ID: Final = "nextStepNoId"


# The config lists whose entries are branches (`{key, ...}`), each shown with its own `nextStepId`.
_LISTED_BRANCHES: Final[Mapping[str, str]] = {"SPLIT": "splits", "CONDITION": "branches"}


def _pointer_fields(own_labels: Sequence[str]) -> dict[str, str]:
    """The top-level pointer field each of these labels shows as (one: `nextStepId`; two: yes/no)."""
    if not own_labels:
        return {}
    if len(own_labels) == 1:
        return {NEXT_STEP_ID: own_labels[0]}
    if len(own_labels) == 2:
        return {NEXT_STEP_YES_ID: own_labels[0], NEXT_STEP_NO_ID: own_labels[1]}
    raise ValueError(f"the steps view has no pointer fields for labels {list(own_labels)}")


def _listed_keys(node: Node) -> tuple[str, list[str]] | None:
    """The config list holding `node`'s listed branches and their keys, in config order (None: none)."""
    field = _LISTED_BRANCHES.get(node.type)
    if field is None:
        return None
    branches = getattr(node.config, field)
    if branches is None:  # a yes/no CONDITION has no `branches`
        return None
    return field, [branch.key for branch in branches]


def _pointer_labels(node: Node) -> dict[str, str]:
    """Which edge label each top-level pointer field of `node` stands for: its labels not listed in its
    config (see the module docstring)."""
    listed = _listed_keys(node)
    keys = set(listed[1]) if listed else set()
    return _pointer_fields([label for label in dict.fromkeys(labels(node)) if label not in keys])


def _type_pointer_labels(step_type: str) -> dict[str, str] | None:
    """The pointer fields every node of `step_type` has; None when they depend on its config."""
    fixed = REGISTRY[step_type].fixed_labels
    return None if fixed is None else _pointer_fields(fixed)


# Fail at import, not on a request, when a node type has fixed labels the view has no pointer fields for.
_TYPE_POINTER_LABELS: Final = {tag: _type_pointer_labels(tag) for tag in REGISTRY}

_NODE: Final = TypeAdapter[Node](Node)


class Step(WireModel):
    """One node of the graph seen as a step, with pointers to its successors."""

    id: str
    step_number: int = Field(ge=1)
    type: StepType
    name: str
    config: dict[str, Any]
    next_step_id: str | None = None
    next_step_yes_id: str | None = None
    next_step_no_id: str | None = None
    position: Position | None = None


class StepInput(WireModel):
    """A step as a client writes it. `type` is checked by `from_steps`, so an unknown one is reported
    at its step (`("steps", i, "type")`) rather than as a parse failure of the whole list."""

    id: str
    type: str
    name: str = ""
    config: dict[str, Any] = Field(default_factory=dict)
    next_step_id: str | None = None
    next_step_yes_id: str | None = None
    next_step_no_id: str | None = None
    position: Position | None = None


class Unset(enum.Enum):
    """Marks an `update_step` argument the caller did not give (None is a value there: it removes)."""

    UNSET = "UNSET"


UNSET: Final = Unset.UNSET


def branch_labels(node: Node) -> list[str]:
    """The outgoing edge labels a node has, in canonical order; the first is its primary branch."""
    return labels(node)


def to_steps(definition: JourneyDefinition) -> list[Step]:
    """Every node as a step, in node order (see the module docstring for the mapping)."""
    first_target: dict[tuple[str, str], str] = {}
    for edge in definition.edges:
        first_target.setdefault((edge.source_node_id, edge.label), edge.target_node_id)

    steps: list[Step] = []
    for number, node in enumerate(definition.nodes, start=1):
        pointer = {
            field: first_target.get((node.id, label)) for field, label in _pointer_labels(node).items()
        }
        config = node.config.model_dump(mode="json", by_alias=True, exclude_none=True)
        if isinstance(node, ConditionNode) and node.config.branches is not None:
            # The yes/no form's fields, at their defaults beside `branches`, would only be noise.
            config.pop("rules", None)
            config.pop("combinator", None)
        listed = _listed_keys(node)
        if listed is not None:
            field, keys = listed
            for shown, key in zip(config[field], keys, strict=True):
                shown[NEXT_STEP_ID] = first_target.get((node.id, key))
        steps.append(
            Step(
                id=node.id,
                step_number=number,
                type=node.type,
                name=node.name,
                config=config,
                next_step_id=pointer.get(NEXT_STEP_ID),
                next_step_yes_id=pointer.get(NEXT_STEP_YES_ID),
                next_step_no_id=pointer.get(NEXT_STEP_NO_ID),
                position=node.position,
            )
        )
    return steps


def node_from_step(step: StepInput) -> Node:
    """The node a step describes, validated by the real node models.

    Raises InvalidInputError with locs relative to the step (`("type",)`, `("config", ...)`, `("id",)`).
    Pointers are edges, not node data, and are not read here: neither the top-level `nextStep*Id` nor a
    listed branch's `nextStepId` (`config.splits[i]`, `config.branches[i]`: removed before the config is
    validated).
    """
    if step.type not in REGISTRY:
        known = ", ".join(REGISTRY)
        raise InvalidInputError([FieldIssue(("type",), f"unknown step type {step.type!r}; one of: {known}")])
    config, _ = _strip_branch_pointers(step.type, step.config)
    return _validate_node(
        {"id": step.id, "type": step.type, "name": step.name, "config": config, "position": step.position}
    )


def from_steps(steps: Sequence[StepInput]) -> tuple[list[Node], list[Edge]]:
    """The nodes (in step order) and edges (in canonical order) a list of steps describes.

    Every problem is reported at once, each at `("steps", index, ...)`. The graph rules (one TRIGGER,
    every branch linked, ...) are not checked here: that is publish-time validation.
    """
    known_ids = {step.id for step in steps}
    first_index: dict[str, int] = {}
    issues: list[FieldIssue] = []
    nodes: list[Node] = []
    edges: list[Edge] = []
    for index, step in enumerate(steps):
        at: tuple[str | int, ...] = ("steps", index)
        if step.id in first_index:
            issues.append(
                FieldIssue((*at, "id"), f"duplicate step id {step.id!r} (also step {first_index[step.id]})")
            )
        first_index.setdefault(step.id, index)
        node: Node | None = None
        node_issues: list[FieldIssue] = []
        try:
            node = node_from_step(step)
        except InvalidInputError as exc:
            node_issues = exc.issues
        for issue in [*_pointer_issues(step, node, known_ids), *node_issues]:
            issues.append(FieldIssue((*at, *issue.loc), issue.msg))
        if node is not None:
            nodes.append(node)
            edges.extend(_edges_of(node, step))
    if len(steps) > MAX_NODES:
        issues.append(FieldIssue(("steps",), f"a journey has at most {MAX_NODES} steps, not {len(steps)}"))
    if len(edges) > MAX_EDGES:
        issues.append(FieldIssue(("steps",), f"the steps make {len(edges)} links; the limit is {MAX_EDGES}"))
    if issues:
        raise InvalidInputError(issues)
    return nodes, edges


def add_step(
    definition: JourneyDefinition, node: Node, *, after_step_id: str | None, branch: str | None = None
) -> JourneyDefinition:
    """Insert `node` after `after_step_id`, both in step order and in the flow.

    The edge leaving `after_step_id` by `branch` (default: its primary branch — `next`, `yes`, `matched`
    or the first key of a SPLIT or multi-branch CONDITION) is re-pointed to the new node, whose primary
    branch takes over its old target. On a WAIT_FOR_EVENT, `branch` may also be named `yes`/`no` as in
    the steps view. The new node's other branches start unlinked; an EXIT/END added mid-flow detaches
    what followed it.

    With `after_step_id=None` the step goes before the EXIT/END that ends the main path (the primary
    branches followed from the TRIGGER); when that path does not end in one, the step is appended and
    linked from the path's last step if that step's primary branch is free.
    """
    if any(existing.id == node.id for existing in definition.nodes):
        raise InvalidInputError([FieldIssue(("id",), f"a step with id {node.id!r} already exists")])
    if isinstance(node, TriggerNode) and any(isinstance(n, TriggerNode) for n in definition.nodes):
        raise ConflictError("this journey already has a TRIGGER step; a journey has exactly one")
    if len(definition.nodes) >= MAX_NODES:
        raise ConflictError(f"a journey has at most {MAX_NODES} steps")

    if after_step_id is not None:
        after_index = _index_of(definition, after_step_id)
        after = definition.nodes[after_index]
        label = _branch_label(after, branch)
        return _splice(definition, node, insert_at=after_index + 1, source_id=after.id, label=label)

    path = _main_path(definition)
    if len(path) >= 2 and not branch_labels(path[-1]):  # it ends in an EXIT/END
        before_exit = path[-2]
        exit_index = next(i for i, n in enumerate(definition.nodes) if n is path[-1])
        return _splice(
            definition,
            node,
            insert_at=exit_index,
            source_id=before_exit.id,
            label=branch_labels(before_exit)[0],
        )
    edges = list(definition.edges)
    if path:
        last = path[-1]
        primary = branch_labels(last)[0]  # an EXIT only ends a path that has at least two steps
        if definition.next_node_id(last.id, primary) is None:
            edges.append(Edge(source_node_id=last.id, target_node_id=node.id, label=primary))
    return _with(definition, nodes=[*definition.nodes, node], edges=edges)


def update_step(
    definition: JourneyDefinition,
    step_id: str,
    *,
    name: str | Unset = UNSET,
    config: Mapping[str, Any] | Unset = UNSET,
    next_step_id: str | Unset | None = UNSET,
    next_step_yes_id: str | Unset | None = UNSET,
    next_step_no_id: str | Unset | None = UNSET,
) -> JourneyDefinition:
    """Change what is given, keep the rest.

    `config` replaces the whole config and is validated against the step's type (issues at
    `("config", ...)`). A pointer re-points, creates (a target) or removes (None) the edge it stands for;
    a pointer the step does not have (with its new config, when one is given) is refused unless it is
    None (so a step read from the view can be sent back as it is). A listed branch's `nextStepId`
    (`config.splits[i]`, `config.branches[i]`) sets that branch's edge when the key is present. A new
    config of a SPLIT or CONDITION also removes the edges by labels the step no longer has: keys no
    longer in the config, and `yes`/`no` or `else` when a CONDITION changes form.
    """
    index = _index_of(definition, step_id)
    node = definition.nodes[index]
    known_ids = {n.id for n in definition.nodes}
    issues: list[FieldIssue] = []

    updated = node
    valid = True
    branch_pointers: dict[int, object] = {}
    if not (isinstance(name, Unset) and isinstance(config, Unset)):
        new_config: object = node.config
        if not isinstance(config, Unset):
            new_config = config
            if isinstance(config, Mapping):
                new_config, branch_pointers = _strip_branch_pointers(node.type, config)
        fields = {
            "id": node.id,
            "type": node.type,
            "name": node.name if isinstance(name, Unset) else name,
            "config": new_config,
            "position": node.position,
        }
        try:
            updated = _validate_node(fields)
        except InvalidInputError as exc:
            issues.extend(exc.issues)
            valid = False

    # With an invalid new config the step's pointers are unknown when its config makes them.
    fields_of_step = _pointer_labels(updated) if valid else _TYPE_POINTER_LABELS[node.type]
    pointer_changes: list[tuple[str, str | None]] = []
    for field, target in (
        (NEXT_STEP_ID, next_step_id),
        (NEXT_STEP_YES_ID, next_step_yes_id),
        (NEXT_STEP_NO_ID, next_step_no_id),
    ):
        if isinstance(target, Unset):
            continue
        label = fields_of_step.get(field) if fields_of_step is not None else None
        if fields_of_step is not None and label is None:
            if target is not None:
                issues.append(FieldIssue((field,), _no_such_pointer(updated, field)))
        elif target is not None and target not in known_ids:
            issues.append(FieldIssue((field,), f"unknown step {target!r}"))
        elif label is not None:
            pointer_changes.append((label, target))
    issues.extend(_branch_pointer_issues(node.type, branch_pointers, known_ids))
    if issues:
        raise InvalidInputError(issues)

    edges = list(definition.edges)
    if not isinstance(config, Unset) and REGISTRY[node.type].fixed_labels is None:
        kept = set(labels(updated))
        edges = [e for e in edges if e.source_node_id != step_id or e.label in kept]
        listed = _listed_keys(updated)
        keys = listed[1] if listed is not None else []  # branch pointers came from that valid list
        for branch_index, branch_target in branch_pointers.items():
            # _branch_pointer_issues let through only step ids and None
            edges = _set_edge(
                edges, step_id, keys[branch_index], branch_target if isinstance(branch_target, str) else None
            )
    for label, target in pointer_changes:
        edges = _set_edge(edges, step_id, label, target)
    nodes = list(definition.nodes)
    nodes[index] = updated
    return _with(definition, nodes=nodes, edges=edges)


def delete_step(definition: JourneyDefinition, step_id: str) -> JourneyDefinition:
    """Remove a step and its edges; every edge that entered it now enters its primary successor
    (or is removed when it had none). What only its other branches led to is left unreachable."""
    node = definition.nodes[_index_of(definition, step_id)]
    if isinstance(node, TriggerNode):
        raise ConflictError(f"the TRIGGER step {step_id!r} cannot be deleted: every journey starts with one")
    labels = branch_labels(node)
    successor = definition.next_node_id(step_id, labels[0]) if labels else None
    if successor == step_id:  # a self-loop is no successor to hand over
        successor = None

    edges: list[Edge] = []
    for edge in definition.edges:
        if edge.source_node_id == step_id:
            continue
        if edge.target_node_id == step_id:
            if successor is not None:
                edges.append(edge.model_copy(update={"target_node_id": successor}))
            continue
        edges.append(edge)
    nodes = [n for n in definition.nodes if n.id != step_id]
    return _with(definition, nodes=nodes, edges=edges)


def reorder_steps(definition: JourneyDefinition, step_ids: Sequence[str]) -> JourneyDefinition:
    """Put the steps in the order of `step_ids`, which must name every step exactly once, TRIGGER first.

    A single linear chain (every step has at most one outgoing edge, labelled `next`, and one path from
    the TRIGGER runs through all steps) is re-linked to follow the new order — even when that moves its
    EXIT/END before the end, which publish-time validation then reports. In any other graph (branches,
    several paths, unlinked steps) only the order (`stepNumber`) changes and the edges are kept.
    """
    node_ids = list(dict.fromkeys(n.id for n in definition.nodes))
    known = set(node_ids)
    counts = Counter(step_ids)
    missing = [i for i in node_ids if i not in counts]
    unknown = [i for i in counts if i not in known]
    duplicated = [i for i, count in counts.items() if count > 1]
    issues = [
        FieldIssue(("stepIds",), f"{what}: {', '.join(map(repr, ids))}")
        for what, ids in (
            ("missing", missing),
            ("unknown steps", unknown),
            ("listed more than once", duplicated),
        )
        if ids
    ]
    if issues:
        raise InvalidInputError(issues)

    rank = {step_id: i for i, step_id in enumerate(step_ids)}
    nodes = sorted(definition.nodes, key=lambda n: rank[n.id])
    has_trigger = any(isinstance(n, TriggerNode) for n in nodes)
    if has_trigger and not isinstance(nodes[0], TriggerNode):
        trigger_id = next(n.id for n in nodes if isinstance(n, TriggerNode))
        raise ConflictError(f"the TRIGGER step {trigger_id!r} must stay first")

    if _is_linear_chain(definition):
        edges = [Edge(source_node_id=a.id, target_node_id=b.id, label="next") for a, b in pairwise(nodes)]
    else:
        edges = list(definition.edges)
    return _with(definition, nodes=nodes, edges=edges)


# --- helpers -------------------------------------------------------------------------------------------


def _with(definition: JourneyDefinition, *, nodes: list[Node], edges: list[Edge]) -> JourneyDefinition:
    """The definition with new nodes and edges, checked against the definition's own limits (node and
    edge counts, config size): a draft stored beyond them could not be loaded again. Unchanged parts are
    shared with the old definition (model instances pass through validation as they are), never mutated."""
    fields = {name: getattr(definition, name) for name in JourneyDefinition.model_fields}
    try:
        return JourneyDefinition.model_validate({**fields, "nodes": nodes, "edges": edges})
    except ValidationError as exc:
        raise InvalidInputError(
            [FieldIssue(tuple(e["loc"]), e["msg"]) for e in exc.errors(include_url=False)]
        ) from None


def _validate_node(fields: Mapping[str, object]) -> Node:
    try:
        node = _NODE.validate_python(fields)
    except ValidationError as exc:
        tag = fields["type"]
        issues = []
        for error in exc.errors(include_url=False):
            loc = tuple(error["loc"])
            if loc and loc[0] == tag:  # the union's discriminator; the caller's loc is the node itself
                loc = loc[1:]
            issues.append(FieldIssue(loc, error["msg"]))
        raise InvalidInputError(issues) from None
    size = len(node.config.model_dump_json())  # measured as JourneyDefinition measures it
    if size > MAX_CONFIG_BYTES:
        raise InvalidInputError(
            [FieldIssue(("config",), f"config is {size} bytes; the limit is {MAX_CONFIG_BYTES}")]
        )
    return node


def _index_of(definition: JourneyDefinition, step_id: str) -> int:
    for index, node in enumerate(definition.nodes):
        if node.id == step_id:
            return index
    raise NotFoundError("step", step_id)


def _no_such_pointer(node: Node, field: str) -> str:
    fields = [f"{name} ({label!r})" for name, label in _pointer_labels(node).items()]
    listed = _listed_keys(node)
    if listed is not None:
        also = f", and {' and '.join(fields)}" if fields else ""
        return (
            f"a {node.type} step with config.{listed[0]} has no {field}: its branches are "
            f"config.{listed[0]}[].nextStepId{also}"
        )
    if fields:
        return f"a {node.type} step has no {field}; it has {' and '.join(fields)}"
    return f"a {node.type} step ends the journey: it has no {field}"


def _strip_branch_pointers(
    step_type: str, config: Mapping[str, Any]
) -> tuple[dict[str, Any], dict[int, object]]:
    """A config without its listed branches' `nextStepId`s (`config.splits[i]`, `config.branches[i]`),
    and those pointers by branch index. A type without listed branches keeps its config as it is."""
    field = _LISTED_BRANCHES.get(step_type)
    branches = config.get(field) if field is not None else None
    if field is None or not isinstance(branches, list):
        return dict(config), {}
    stripped: list[object] = []
    pointers: dict[int, object] = {}
    for index, branch in enumerate(branches):
        if isinstance(branch, Mapping) and NEXT_STEP_ID in branch:
            pointers[index] = branch[NEXT_STEP_ID]
            branch = {key: value for key, value in branch.items() if key != NEXT_STEP_ID}
        stripped.append(branch)
    return {**config, field: stripped}, pointers


def _branch_pointer_issues(
    step_type: str, pointers: Mapping[int, object], known_ids: set[str]
) -> list[FieldIssue]:
    """Listed branches' pointers (from `_strip_branch_pointers`) that are not null or a known step."""
    issues = []
    for index, target in pointers.items():
        loc = ("config", _LISTED_BRANCHES[step_type], index, NEXT_STEP_ID)
        if target is not None and not isinstance(target, str):
            issues.append(FieldIssue(loc, "must be a step id or null"))
        elif target is not None and target not in known_ids:
            issues.append(FieldIssue(loc, f"unknown step {target!r}"))
    return issues


def _pointers_of(step: StepInput) -> dict[str, str | None]:
    return {
        NEXT_STEP_ID: step.next_step_id,
        NEXT_STEP_YES_ID: step.next_step_yes_id,
        NEXT_STEP_NO_ID: step.next_step_no_id,
    }


def _pointer_issues(step: StepInput, node: Node | None, known_ids: set[str]) -> list[FieldIssue]:
    """Pointers to unknown steps or that the step does not have (locs relative to the step). `node` is
    the step's node, None when it is invalid: then only the targets are checked of a type whose config
    makes its pointers (SPLIT, CONDITION)."""
    if step.type not in REGISTRY:  # the unknown type is reported by node_from_step
        return []
    fields = _pointer_labels(node) if node is not None else _TYPE_POINTER_LABELS[step.type]
    issues = []
    for field, target in _pointers_of(step).items():
        if target is None:
            continue
        if fields is not None and field not in fields:
            assert node is not None  # fields of a type are known for fixed labels, which make a node
            issues.append(FieldIssue((field,), _no_such_pointer(node, field)))
        elif target not in known_ids:
            issues.append(FieldIssue((field,), f"unknown step {target!r}"))
    issues.extend(
        _branch_pointer_issues(step.type, _strip_branch_pointers(step.type, step.config)[1], known_ids)
    )
    return issues


def _edges_of(node: Node, step: StepInput) -> list[Edge]:
    """The edges a (valid) step's pointers stand for, one per label (its first pointer), in the node's
    label order."""
    pointers = _pointers_of(step)
    targets: dict[str, str] = {}
    for field, label in _pointer_labels(node).items():
        target = pointers[field]
        if target is not None:
            targets.setdefault(label, target)
    listed = _listed_keys(node)
    if listed is not None:
        branch_targets = _strip_branch_pointers(node.type, step.config)[1]
        for index, key in enumerate(listed[1]):
            branch_target = branch_targets.get(index)
            if isinstance(branch_target, str):
                targets.setdefault(key, branch_target)
    return [
        Edge(source_node_id=node.id, target_node_id=targets[label], label=label)
        for label in dict.fromkeys(labels(node))
        if label in targets
    ]


def _branch_label(node: Node, branch: str | None) -> str:
    labels = branch_labels(node)
    if not labels:
        raise ConflictError(f"nothing can follow {node.type} step {node.id!r}: it ends the journey")
    if branch is None:
        return labels[0]
    # The steps view calls the two branches of a two-way node yes/no (a WAIT_FOR_EVENT's matched/timeout);
    # a label the node has (a branch key `yes`) is itself.
    pointers = _pointer_labels(node)
    aliases = {"yes": pointers.get(NEXT_STEP_YES_ID), "no": pointers.get(NEXT_STEP_NO_ID)}
    label = branch if branch in labels else aliases.get(branch) or branch
    if label not in labels:
        raise ConflictError(
            f"{node.type} step {node.id!r} has no {branch!r} branch; its branches: {', '.join(labels)}"
        )
    return label


def _set_edge(edges: Sequence[Edge], source_id: str, label: str, target_id: str | None) -> list[Edge]:
    """Make `target_id` the one target of `source_id`'s `label` edge (None: no such edge), in place
    of the first existing one so the other edges keep their positions."""
    result: list[Edge] = []
    placed = target_id is None
    for edge in edges:
        if edge.source_node_id == source_id and edge.label == label:
            if not placed:
                result.append(edge.model_copy(update={"target_node_id": target_id}))
                placed = True
            continue
        result.append(edge)
    if not placed:
        assert target_id is not None
        result.append(Edge(source_node_id=source_id, target_node_id=target_id, label=label))
    return result


def _splice(
    definition: JourneyDefinition, node: Node, *, insert_at: int, source_id: str, label: str
) -> JourneyDefinition:
    old_target = definition.next_node_id(source_id, label)
    nodes = [*definition.nodes[:insert_at], node, *definition.nodes[insert_at:]]
    edges = _set_edge(definition.edges, source_id, label, node.id)
    labels = branch_labels(node)
    if old_target is not None and labels:
        edges.append(Edge(source_node_id=node.id, target_node_id=old_target, label=labels[0]))
    return _with(definition, nodes=nodes, edges=edges)


def _main_path(definition: JourneyDefinition) -> list[Node]:
    """The steps met following primary branches from the TRIGGER, until a step without one, a pointer to
    an unknown step, or a step already met."""
    by_id: dict[str, Node] = {}
    for node in definition.nodes:
        by_id.setdefault(node.id, node)
    trigger = next((n for n in definition.nodes if isinstance(n, TriggerNode)), None)
    if trigger is None:
        return []
    path: list[Node] = [trigger]
    while labels := branch_labels(path[-1]):
        target = definition.next_node_id(path[-1].id, labels[0])
        if target is None or target not in by_id or any(n.id == target for n in path):
            break
        path.append(by_id[target])
    return path


def _is_linear_chain(definition: JourneyDefinition) -> bool:
    nodes = definition.nodes
    ids = {n.id for n in nodes}
    if len(ids) != len(nodes) or len(definition.edges) != len(nodes) - 1:
        return False
    successor: dict[str, str] = {}
    for edge in definition.edges:
        if edge.label != "next" or edge.source_node_id in successor:
            return False
        successor[edge.source_node_id] = edge.target_node_id
    trigger = next((n for n in nodes if isinstance(n, TriggerNode)), None)
    if trigger is None:
        return False
    met = [trigger.id]
    while met[-1] in successor:
        following = successor[met[-1]]
        if following in met or following not in ids:
            return False
        met.append(following)
    return len(met) == len(nodes)
