"""Graph rules a journey must satisfy to be published (SPEC §5). Each issue names its node or edge."""

from __future__ import annotations

from collections import defaultdict

from domain.context import VALUE_ROOTS
from domain.definition import ConditionNode, JourneyDefinition, Node, TriggerNode, WaitForEventNode
from domain.errors import FieldIssue
from domain.nodes import kind_of, labels
from domain.nodes.send import SendNode, window_issues
from domain.rules import Rule
from domain.schedule import is_wall_time


def expected_labels(node: Node) -> set[str]:
    """The outgoing edge labels a node of this type must have, exactly (its kind's, `domain.nodes`)."""
    return set(labels(node))


def validate_graph(definition: JourneyDefinition) -> list[FieldIssue]:
    issues: list[FieldIssue] = []
    index_of: dict[str, int] = {}
    for i, node in enumerate(definition.nodes):
        if node.id in index_of:
            issues.append(FieldIssue(("nodes", i, "id"), f"duplicate node id {node.id!r}"))
        index_of.setdefault(node.id, i)

    triggers = [i for i, n in enumerate(definition.nodes) if isinstance(n, TriggerNode)]
    if len(triggers) != 1:
        loc: tuple[str | int, ...] = ("nodes", triggers[1]) if len(triggers) > 1 else ("nodes",)
        issues.append(FieldIssue(loc, f"exactly one TRIGGER node is required, found {len(triggers)}"))

    outgoing: dict[str, list[tuple[int, str, str]]] = defaultdict(list)
    for i, edge in enumerate(definition.edges):
        if edge.source_node_id not in index_of:
            issues.append(FieldIssue(("edges", i, "sourceNodeId"), f"unknown node {edge.source_node_id!r}"))
            continue
        if edge.target_node_id not in index_of:
            issues.append(FieldIssue(("edges", i, "targetNodeId"), f"unknown node {edge.target_node_id!r}"))
            continue
        if isinstance(definition.nodes[index_of[edge.target_node_id]], TriggerNode):
            issues.append(FieldIssue(("edges", i, "targetNodeId"), "no edge may enter the TRIGGER"))
        outgoing[edge.source_node_id].append((i, edge.label, edge.target_node_id))

    for node in definition.nodes:
        i = index_of[node.id]
        expected = expected_labels(node)
        seen: set[str] = set()
        for edge_index, label, _target in outgoing[node.id]:
            if label not in expected:
                allowed = ", ".join(sorted(expected)) or "none (terminal node)"
                issues.append(
                    FieldIssue(
                        ("edges", edge_index, "label"),
                        f"{node.type} node {node.id!r} cannot have a {label!r} edge; allowed: {allowed}",
                    )
                )
            elif label in seen:
                issues.append(
                    FieldIssue(("edges", edge_index, "label"), f"second {label!r} edge from {node.id!r}")
                )
            seen.add(label)
        missing = expected - seen
        if missing:
            issues.append(
                FieldIssue(
                    ("nodes", i),
                    f"{node.type} node {node.id!r} is missing outgoing edge(s): {', '.join(sorted(missing))}",
                )
            )
        issues.extend(FieldIssue(("nodes", i, *loc), msg) for loc, msg in kind_of(node).issues(node))

    issues.extend(_value_from_issues(definition))
    issues.extend(_windows_in_quiet_hours(definition))
    if len(triggers) == 1:
        issues.extend(_reachability(definition, index_of, outgoing))
    issues.extend(_cycles_without_wait(definition, index_of, outgoing))
    return issues


def validate_for_publish(definition: JourneyDefinition) -> list[FieldIssue]:
    issues = validate_graph(definition)
    if len(definition.nodes) < 2:
        issues.append(FieldIssue(("nodes",), "a journey needs at least one step after its TRIGGER"))
    return issues


def _reachability(
    definition: JourneyDefinition,
    index_of: dict[str, int],
    outgoing: dict[str, list[tuple[int, str, str]]],
) -> list[FieldIssue]:
    start = definition.trigger().id
    reached = {start}
    frontier = [start]
    while frontier:
        current = frontier.pop()
        for _, _, target in outgoing[current]:
            if target not in reached:
                reached.add(target)
                frontier.append(target)
    return [
        FieldIssue(("nodes", index_of[n.id]), f"node {n.id!r} is not reachable from the TRIGGER")
        for n in definition.nodes
        if n.id not in reached
    ]


def _cycles_without_wait(
    definition: JourneyDefinition,
    index_of: dict[str, int],
    outgoing: dict[str, list[tuple[int, str, str]]],
) -> list[FieldIssue]:
    """A loop must pass through a node that waits for time (WAIT, WAIT_FOR_EVENT), or an enrollment
    would spin forever."""
    waiting = {n.id for n in definition.nodes if kind_of(n).waits_for_time}
    white, grey, black = 0, 1, 2
    colour = {n.id: white for n in definition.nodes}
    issues: list[FieldIssue] = []

    def visit(node_id: str) -> None:
        colour[node_id] = grey
        for edge_index, _, target in outgoing[node_id]:
            if target in waiting or target not in colour:
                continue
            if colour[target] == grey:
                issues.append(
                    FieldIssue(
                        ("edges", edge_index),
                        f"cycle through {target!r} has no WAIT or WAIT_FOR_EVENT",
                    )
                )
            elif colour[target] == white:
                visit(target)
        colour[node_id] = black

    for node in definition.nodes:
        if node.id not in waiting and colour[node.id] == white:
            visit(node.id)
    return issues


def _value_from_issues(definition: JourneyDefinition) -> list[FieldIssue]:
    """`valueFrom` only where an enrollment context exists, and only from roots it has there."""
    issues: list[FieldIssue] = []

    def check(rules: list[Rule], at: tuple[str | int, ...], roots: tuple[str, ...]) -> None:
        for j, rule in enumerate(rules):
            if rule.value_from is None:
                continue
            root = rule.value_from.split(".", 1)[0]
            where = (*at, j, "valueFrom")
            if not roots:
                issues.append(
                    FieldIssue(where, "valueFrom is for CONDITION, WAIT_FOR_EVENT and exit criteria rules")
                )
            elif root not in roots:
                known = ", ".join(roots)
                issues.append(FieldIssue(where, f"unknown context root {root!r}; one of: {known}"))

    in_events = tuple(r for r in VALUE_ROOTS if r != "traits")  # an event rule reads no profile
    for i, node in enumerate(definition.nodes):
        at: tuple[str | int, ...] = ("nodes", i, "config")
        if isinstance(node, ConditionNode):
            check(node.config.rules, (*at, "rules"), VALUE_ROOTS)
            for b, branch in enumerate(node.config.branches or []):
                check(branch.rules, (*at, "branches", b, "rules"), VALUE_ROOTS)
        elif isinstance(node, WaitForEventNode):
            check(node.config.rules, (*at, "rules"), in_events)
        elif isinstance(node, TriggerNode):
            check(node.config.rules, (*at, "rules"), ())
    if definition.exit_criteria is not None:
        for e, exit_event in enumerate(definition.exit_criteria.events):
            check(exit_event.rules, ("exitCriteria", "events", e, "rules"), in_events)
    return issues


_MINUTES_A_DAY = 24 * 60


def _daily_minutes(start: str, end: str) -> set[int]:
    """The minutes of the day a daily `start`-`end` stretch covers (start after end: across midnight)."""
    first = int(start[:2]) * 60 + int(start[3:])
    last = int(end[:2]) * 60 + int(end[3:])
    if first <= last:
        return set(range(first, last))
    return set(range(first, _MINUTES_A_DAY)) | set(range(last))


def _windows_in_quiet_hours(definition: JourneyDefinition) -> list[FieldIssue]:
    """A SEND window wholly inside the journey's quiet hours would never open (by wall clock; days do not
    matter, quiet hours hold every day)."""
    quiet = definition.settings.quiet_hours
    if quiet is None or quiet.start == quiet.end:
        return []
    quiet_minutes = _daily_minutes(quiet.start, quiet.end)
    issues: list[FieldIssue] = []
    for i, node in enumerate(definition.nodes):
        window = node.config.window if isinstance(node, SendNode) else None
        if window is None or window_issues(window):
            continue  # none, or its own issues say what is wrong first
        if window.from_ is None or window.to is None:
            minutes = set(range(_MINUTES_A_DAY))
        elif is_wall_time(window.from_) and is_wall_time(window.to):
            minutes = _daily_minutes(window.from_, window.to)
        else:
            continue
        if minutes <= quiet_minutes:
            issues.append(
                FieldIssue(
                    ("nodes", i, "config", "window"),
                    f"the window lies wholly inside the journey's quiet hours ({quiet.start}-{quiet.end}): "
                    "the send would never go",
                )
            )
    return issues
