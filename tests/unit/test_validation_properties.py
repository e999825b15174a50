"""Graph validation, by property: generated valid graphs pass, and each planted fault is named where it is."""

from __future__ import annotations

from hypothesis import given, settings

from domain.definition import JourneyDefinition
from domain.validation import validate_graph
from tests.strategies import Loc, invalid_definitions, valid_definitions


@settings(max_examples=200, deadline=None)
@given(valid_definitions())
def test_generated_valid_graphs_have_no_issues(definition: JourneyDefinition) -> None:
    # Also pins the label table: a label validation expects but the generator does not draw (or the
    # reverse) would show up here as a missing or a disallowed edge.
    assert validate_graph(definition) == []


@settings(max_examples=200, deadline=None)
@given(invalid_definitions())
def test_each_planted_fault_is_reported_at_its_node_or_edge(case: tuple[JourneyDefinition, Loc]) -> None:
    definition, prefix = case
    issues = validate_graph(definition)
    assert any(issue.loc[: len(prefix)] == prefix for issue in issues), (prefix, issues)
