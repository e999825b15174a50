"""Hypothesis strategies for journey definitions: valid graphs, and graphs with one known fault.

`valid_definitions()` builds a DAG in node order: one TRIGGER first, then random steps, each entered by
at least one still-unlinked branch of an earlier step (so every step is reachable from the TRIGGER), and a
terminal EXIT/END last that takes whatever branches are still unlinked. Edges come out shuffled.

`invalid_definitions()` draws a valid one and applies one corruption; it returns the definition and the
loc prefix (`("nodes", i)` or `("edges", i)`) of the node or edge at fault.
"""

from __future__ import annotations

from itertools import pairwise
from typing import Any, get_args

from hypothesis import strategies as st
from hypothesis.strategies import DrawFn

from domain.definition import (
    Channel,
    ConditionConfig,
    Edge,
    JourneyDefinition,
    Node,
    Position,
    ProfileUpdate,
    SendConfig,
    SplitBranch,
    SplitConfig,
    SplitNode,
    TriggerConfig,
    UpdateConfig,
    WaitConfig,
    WaitForEventConfig,
    WaitUntilTime,
    WaitUntilTrait,
)
from domain.nodes import REGISTRY, kind_of, labels
from domain.nodes.condition import ELSE, ConditionBranch
from domain.rules import Operator, Rule

Loc = tuple[str | int, ...]

# Every node type but the TRIGGER, from the node registry (domain.nodes).
STEP_TYPES = [t for t in REGISTRY if t != "TRIGGER"]
# Types that end the journey (no outgoing labels): EXIT and END.
_TERMINAL_TYPES = [t for t in STEP_TYPES if REGISTRY[t].fixed_labels == ()]
_NON_TERMINAL_TYPES = [t for t in STEP_TYPES if t not in _TERMINAL_TYPES]
# Types with the one label `next` (SEND, WAIT, UPDATE): the steps of a linear chain.
_NEXT_ONLY_TYPES = [t for t in STEP_TYPES if REGISTRY[t].fixed_labels == ("next",)]


@st.composite
def node_id_lists(draw: DrawFn, size: int) -> list[str]:
    """`size` distinct ids using every character class the id pattern allows, not sorted like the nodes
    (7 is coprime with 31, so `i * 7 % 31` is a scramble, for up to 31 ids)."""
    assert size <= 31
    prefix = draw(st.sampled_from(["n", "step_", "Flow.v2:", "x-"]))
    return [f"{prefix}{i * 7 % 31}" for i in range(size)]


_words = st.text(alphabet="abcdefghijklmnopqrstuvwxyz_.", min_size=1, max_size=12)
_fields = (
    st.sampled_from(["traits.plan", "traits.age", "email", "properties.total", "lastEmailOpenAt"]) | _words
)
_json_scalars = (
    st.none()
    | st.booleans()
    | st.integers(-(10**12), 10**12)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=10)
)
# None inside lists and objects too: the steps view leaves out None *fields*, never None *values*.
json_values = st.recursive(
    _json_scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
    max_leaves=3,
)
# Up to 52 weeks: definitions refuse durations beyond 366 days.
durations = st.builds(
    "{} {}".format, st.integers(1, 52), st.sampled_from(["minutes", "hours", "days", "weeks", "s"])
) | st.sampled_from(["PT30M", "P1DT2H", "P2W", "PT1.5S"])
rules = st.builds(Rule, field=_fields, operator=st.sampled_from(get_args(Operator)), value=json_values)
positions = st.none() | st.builds(
    Position,
    x=st.floats(allow_nan=False, allow_infinity=False, width=32),
    y=st.floats(allow_nan=False, allow_infinity=False, width=32),
)
names = st.sampled_from(["", "Welcome email", "Check if opened", "Grüße ✓"]) | st.text(max_size=8)
# Keys that are also edge labels elsewhere ("next", "yes") must not confuse anything.
split_keys = st.sampled_from(["a", "b", "control", "variant_b", "next", "yes", "timeout"]) | st.text(
    alphabet="abcdefghijklmnopqrstuvwxyz0123456789_", min_size=1, max_size=8
)


@st.composite
def trigger_configs(draw: DrawFn) -> TriggerConfig:
    kind = draw(st.sampled_from(["MANUAL", "EVENT", "AUDIENCE", "SCHEDULE"]))
    return TriggerConfig(
        trigger_type=kind,
        event=draw(_words) if kind == "EVENT" else draw(st.none() | _words),
        rules=draw(st.lists(rules, max_size=2)),
        segment_id=draw(_words) if kind == "AUDIENCE" else None,
        cron="0 9 * * 1" if kind == "SCHEDULE" else None,
    )


@st.composite
def send_configs(draw: DrawFn) -> SendConfig:
    channel = draw(st.sampled_from(get_args(Channel)))
    content = draw(st.sampled_from(["template", "inline", "content"]))
    template_id = draw(_words) if content == "template" else None
    needs_subject = channel == "EMAIL" and template_id is None
    return SendConfig(
        channel=channel,
        template_id=template_id,
        body=draw(st.text(min_size=1, max_size=30)) if content == "inline" else None,
        content_id=draw(_words) if content == "content" else None,
        content_type=draw(st.none() | st.sampled_from(["email", "sms"])),
        subject=draw(st.text(min_size=1, max_size=20))
        if needs_subject
        else draw(st.none() | st.text(max_size=20)),
        action_target_id=draw(st.none() | _words),
        on_failure=draw(st.sampled_from(["skip", "fail"])),
    )


@st.composite
def wait_configs(draw: DrawFn) -> WaitConfig:
    kind = draw(st.sampled_from(["duration", "until", "until_trait"]))
    if kind == "duration":
        return WaitConfig(duration=draw(durations))
    if kind == "until":
        hour, minute = draw(st.integers(0, 23)), draw(st.integers(0, 59))
        weekdays = draw(st.lists(st.integers(1, 7), max_size=3, unique=True))
        return WaitConfig(until=WaitUntilTime(time=f"{hour:02d}:{minute:02d}", weekdays=weekdays))
    return WaitConfig(until_trait=WaitUntilTrait(field=draw(_fields), offset=draw(st.none() | durations)))


# A multi-branch CONDITION's keys: like a SPLIT's, but `else` is the edge of no match (refused as a key).
condition_keys = split_keys.filter(lambda key: key != ELSE)


@st.composite
def multi_branch_condition_configs(draw: DrawFn, *, rich: bool = True) -> ConditionConfig:
    """The multi-branch form: `branches` with unique keys; `rich=False` gives each branch one fixed rule
    (the keys shape the graph, so they stay generated)."""
    keys = draw(st.lists(condition_keys, min_size=1, max_size=4, unique=True))
    if not rich:
        return ConditionConfig(
            branches=[ConditionBranch(key=key, rules=[Rule(field="traits.tier", value=key)]) for key in keys]
        )
    return ConditionConfig(
        branches=[
            ConditionBranch(
                key=key,
                combinator=draw(st.sampled_from(["AND", "OR"])),
                rules=draw(st.lists(rules, min_size=1, max_size=2)),
            )
            for key in keys
        ]
    )


@st.composite
def split_configs(draw: DrawFn) -> SplitConfig:
    keys = draw(st.lists(split_keys, min_size=2, max_size=4, unique=True))
    cuts = sorted(draw(st.lists(st.integers(0, 100), min_size=len(keys) - 1, max_size=len(keys) - 1)))
    bounds = [0, *cuts, 100]
    return SplitConfig(
        splits=[
            SplitBranch(key=key, percentage=hi - lo)
            for key, (lo, hi) in zip(keys, pairwise(bounds), strict=True)
        ]
    )


_RICH_CONFIGS: dict[str, st.SearchStrategy[Any]] = {
    "TRIGGER": trigger_configs(),
    "SEND": send_configs(),
    "WAIT": wait_configs(),
    "WAIT_FOR_EVENT": st.builds(
        WaitForEventConfig, event=_words, rules=st.lists(rules, max_size=2), timeout=durations
    ),
    "CONDITION": st.builds(
        ConditionConfig,
        combinator=st.sampled_from(["AND", "OR"]),
        rules=st.lists(rules, min_size=1, max_size=3),
    )
    | multi_branch_condition_configs(),
    "SPLIT": split_configs(),
    "UPDATE": st.builds(
        UpdateConfig,
        updates=st.lists(
            st.builds(
                ProfileUpdate,
                field=_fields,
                action=st.sampled_from(["set", "unset", "add", "remove", "increment"]),
                value=json_values,
            ),
            min_size=1,
            max_size=3,
        ),
    ),
}
# A few fixed configs per type: graph-shaped properties need many nodes fast, not varied content.
# A SPLIT's keys shape the graph, so they stay generated.
_PLAIN_CONFIGS: dict[str, st.SearchStrategy[Any]] = {
    "TRIGGER": st.sampled_from(
        [
            TriggerConfig(),
            TriggerConfig(trigger_type="EVENT", event="signed_up"),
            TriggerConfig(trigger_type="AUDIENCE", segment_id="vip"),
        ]
    ),
    "SEND": st.sampled_from(
        [
            SendConfig(channel="EMAIL", template_id="welcome_email"),
            SendConfig(channel="EMAIL", subject="Hi", body="Hello {{ traits.firstName }}", on_failure="skip"),
            SendConfig(channel="SMS", body="Hi"),
        ]
    ),
    "WAIT": st.sampled_from(
        [WaitConfig(duration="2 days"), WaitConfig(until=WaitUntilTime(time="09:00", weekdays=[1, 5]))]
    ),
    "WAIT_FOR_EVENT": st.sampled_from(
        [
            WaitForEventConfig(event="purchase", timeout="3 days"),
            WaitForEventConfig(
                event="click", rules=[Rule(field="url", operator="contains", value="x")], timeout="PT1H"
            ),
        ]
    ),
    "CONDITION": st.sampled_from(
        [
            ConditionConfig(rules=[Rule(field="lastEmailOpenAt", operator="isNotNull")]),
            ConditionConfig(
                combinator="OR",
                rules=[Rule(field="traits.plan", value="pro"), Rule(field="age", operator="gt", value=30)],
            ),
        ]
    )
    | multi_branch_condition_configs(rich=False),
    "SPLIT": split_configs(),
    "UPDATE": st.sampled_from(
        [UpdateConfig(updates=[ProfileUpdate(field="traits.stage", value="onboarded")])]
    ),
}
_PLAIN_NAMES = st.sampled_from(["", "Welcome email", "Grüße ✓"])
_PLAIN_POSITIONS = st.sampled_from([None, Position(x=120, y=-40.5)])


@st.composite
def nodes_of_type(draw: DrawFn, node_type: str, node_id: str, *, rich: bool = True) -> Node:
    """A node with a valid config; `rich=False` picks from a few fixed contents (much faster)."""
    configs = _RICH_CONFIGS if rich else _PLAIN_CONFIGS
    fields: dict[str, Any] = {"id": node_id, "type": node_type, "name": draw(names if rich else _PLAIN_NAMES)}
    if node_type in configs:
        fields["config"] = draw(configs[node_type])
    fields["position"] = draw(positions if rich else _PLAIN_POSITIONS)
    node: Node = REGISTRY[node_type].node_class(**fields)
    return node


def outgoing_labels(node: Node) -> list[str]:
    """The labels a node of this type must have: its node type's, from `domain.nodes` (the table itself
    is pinned, written out, in tests/unit/test_nodes.py)."""
    return labels(node)


@st.composite
def valid_definitions(
    draw: DrawFn, min_nodes: int = 2, max_nodes: int = 25, *, rich: bool = False
) -> JourneyDefinition:
    """A valid graph; node contents are plain unless `rich` (see `nodes_of_type`)."""
    size = draw(st.integers(min_nodes, max_nodes))
    ids = draw(node_id_lists(size))
    nodes: list[Node] = [draw(nodes_of_type("TRIGGER", ids[0], rich=rich))]
    unlinked: list[tuple[str, str]] = [(ids[0], "next")]  # (source id, label) of branches without a target
    edges: list[Edge] = []
    for position in range(1, size):
        last = position == size - 1
        if last:
            node_type = draw(st.sampled_from(_TERMINAL_TYPES))
        else:
            # A terminal step here must leave at least one branch open for the steps still to come.
            node_type = draw(st.sampled_from(STEP_TYPES if len(unlinked) >= 2 else _NON_TERMINAL_TYPES))
        node = draw(nodes_of_type(node_type, ids[position], rich=rich))
        if last:
            entering = list(range(len(unlinked)))
        else:
            # A run of open branches (cyclically from a drawn start): two draws, where a random subset
            # would take one per branch.
            most = len(unlinked) if outgoing_labels(node) else len(unlinked) - 1
            count, start = draw(st.integers(1, most)), draw(st.integers(0, len(unlinked) - 1))
            entering = [(start + offset) % len(unlinked) for offset in range(count)]
        for slot in sorted(entering, reverse=True):
            source_id, label = unlinked.pop(slot)
            edges.append(Edge(source_node_id=source_id, target_node_id=node.id, label=label))
        unlinked.extend((node.id, label) for label in outgoing_labels(node))
        nodes.append(node)
    assert not unlinked
    return JourneyDefinition(nodes=nodes, edges=draw(st.permutations(edges)))


@st.composite
def linear_definitions(draw: DrawFn, min_nodes: int = 2, max_nodes: int = 12) -> JourneyDefinition:
    """TRIGGER → single-`next` steps → EXIT/END, edges in chain order."""
    size = draw(st.integers(min_nodes, max_nodes))
    ids = draw(node_id_lists(size))
    middle = [draw(st.sampled_from(_NEXT_ONLY_TYPES)) for _ in range(size - 2)]
    types = ["TRIGGER", *middle, draw(st.sampled_from(_TERMINAL_TYPES))]
    nodes = [draw(nodes_of_type(t, i, rich=False)) for t, i in zip(types, ids, strict=True)]
    edges = [Edge(source_node_id=a, target_node_id=b) for a, b in pairwise(ids)]
    return JourneyDefinition(nodes=nodes, edges=edges)


# --- corruptions: each returns the corrupted definition and the loc prefix of what is at fault ---------


def _fresh_id(definition: JourneyDefinition, stem: str) -> str:
    taken = {n.id for n in definition.nodes}
    candidate = stem
    while candidate in taken:
        candidate += "_"
    return candidate


def _edge_to_unknown_node(draw: DrawFn, d: JourneyDefinition) -> tuple[JourneyDefinition, Loc]:
    index = draw(st.integers(0, len(d.edges) - 1))
    edges = list(d.edges)
    edges[index] = edges[index].model_copy(update={"target_node_id": _fresh_id(d, "nowhere")})
    return d.model_copy(update={"edges": edges}), ("edges", index)


def _removed_required_edge(draw: DrawFn, d: JourneyDefinition) -> tuple[JourneyDefinition, Loc]:
    index = draw(st.integers(0, len(d.edges) - 1))
    source = d.edges[index].source_node_id
    edges = [e for i, e in enumerate(d.edges) if i != index]
    return d.model_copy(update={"edges": edges}), ("nodes", [n.id for n in d.nodes].index(source))


def _extra_edge_with_wrong_label(draw: DrawFn, d: JourneyDefinition) -> tuple[JourneyDefinition, Loc]:
    # Source before target, so the extra edge closes no cycle (which would be a second fault).
    source_index = draw(st.integers(0, len(d.nodes) - 2))
    target_index = draw(st.integers(source_index + 1, len(d.nodes) - 1))
    source = d.nodes[source_index]
    vocabulary = ["next", "yes", "no", "matched", "timeout", "else", "a", "b", "control", "elsewhere"]
    label = draw(st.sampled_from([w for w in vocabulary if w not in outgoing_labels(source)]))
    at = draw(st.integers(0, len(d.edges)))
    extra = Edge(source_node_id=source.id, target_node_id=d.nodes[target_index].id, label=label)
    return d.model_copy(update={"edges": [*d.edges[:at], extra, *d.edges[at:]]}), ("edges", at)


def _second_trigger(draw: DrawFn, d: JourneyDefinition) -> tuple[JourneyDefinition, Loc]:
    at = draw(st.integers(1, len(d.nodes)))
    trigger = draw(nodes_of_type("TRIGGER", _fresh_id(d, "second_trigger"), rich=False))
    # Linked like a real trigger, so the only thing wrong with it is being the second.
    target = draw(st.sampled_from(d.nodes[1:])).id
    edges = [*d.edges, Edge(source_node_id=trigger.id, target_node_id=target)]
    return d.model_copy(update={"nodes": [*d.nodes[:at], trigger, *d.nodes[at:]], "edges": edges}), (
        "nodes",
        at,
    )


def _unreachable_node(draw: DrawFn, d: JourneyDefinition) -> tuple[JourneyDefinition, Loc]:
    at = draw(st.integers(1, len(d.nodes)))
    orphan = draw(nodes_of_type(draw(st.sampled_from(["EXIT", "SEND"])), _fresh_id(d, "orphan"), rich=False))
    edges = list(d.edges)
    if outgoing_labels(orphan):  # complete, so unreachability is its only fault
        edges.append(Edge(source_node_id=orphan.id, target_node_id=draw(st.sampled_from(d.nodes[1:])).id))
    return d.model_copy(update={"nodes": [*d.nodes[:at], orphan, *d.nodes[at:]], "edges": edges}), (
        "nodes",
        at,
    )


def _split_not_summing_to_100(draw: DrawFn, d: JourneyDefinition) -> tuple[JourneyDefinition, Loc]:
    index = draw(st.sampled_from([i for i, n in enumerate(d.nodes) if isinstance(n, SplitNode)]))
    split = d.nodes[index]
    assert isinstance(split, SplitNode)
    branches = list(split.config.splits)
    which = draw(st.integers(0, len(branches) - 1))
    old = int(branches[which].percentage)
    new = draw(st.integers(0, 100).filter(lambda p: p != old))
    branches[which] = SplitBranch(key=branches[which].key, percentage=new)
    nodes = list(d.nodes)
    nodes[index] = split.model_copy(update={"config": SplitConfig(splits=branches)})
    return d.model_copy(update={"nodes": nodes}), ("nodes", index)


def _cycle_candidates(d: JourneyDefinition) -> list[tuple[int, str]]:
    """(edge index, new target) pairs that close a loop with no WAIT/WAIT_FOR_EVENT, chosen so that
    the depth-first search must meet the re-pointed edge as the one closing it: a self-loop, or a step
    pointing back to its only predecessor (which every path to it passes through)."""
    waiting = {n.id for n in d.nodes if kind_of(n).waits_for_time}
    trigger = d.nodes[0].id
    candidates = []
    for index, edge in enumerate(d.edges):
        step = edge.source_node_id
        if step in waiting or step == trigger:
            continue
        candidates.append((index, step))
        predecessors = {e.source_node_id for e in d.edges if e.target_node_id == step}
        if len(predecessors) == 1 and not predecessors & (waiting | {trigger}):
            candidates.append((index, predecessors.pop()))
    return candidates


def _cycle_without_wait(draw: DrawFn, d: JourneyDefinition) -> tuple[JourneyDefinition, Loc]:
    index, target = draw(st.sampled_from(_cycle_candidates(d)))
    edges = list(d.edges)
    edges[index] = edges[index].model_copy(update={"target_node_id": target})
    return d.model_copy(update={"edges": edges}), ("edges", index)


@st.composite
def invalid_definitions(draw: DrawFn) -> tuple[JourneyDefinition, Loc]:
    definition = draw(valid_definitions())
    corruptions = [
        _edge_to_unknown_node,
        _removed_required_edge,
        _extra_edge_with_wrong_label,
        _second_trigger,
        _unreachable_node,
    ]
    if any(isinstance(n, SplitNode) for n in definition.nodes):
        corruptions.append(_split_not_summing_to_100)
    if _cycle_candidates(definition):
        corruptions.append(_cycle_without_wait)
    corrupt = draw(st.sampled_from(corruptions))
    result: tuple[JourneyDefinition, Loc] = corrupt(draw, definition)
    return result
