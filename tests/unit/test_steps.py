"""The steps view of a journey graph: round trip by property, and each edit operation by example."""

from __future__ import annotations

import json
from itertools import pairwise
from typing import Any

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from pydantic import TypeAdapter

from domain.definition import JourneyDefinition, Node
from domain.errors import ConflictError, InvalidInputError, NotFoundError
from domain.steps import (
    StepInput,
    add_step,
    branch_labels,
    delete_step,
    from_steps,
    reorder_steps,
    to_steps,
    update_step,
)
from domain.validation import validate_graph
from tests.strategies import STEP_TYPES, linear_definitions, nodes_of_type, outgoing_labels, valid_definitions

NODE: TypeAdapter[Node] = TypeAdapter(Node)
Triple = tuple[str, str, str]


# --- building blocks ------------------------------------------------------------------------------------


def trigger(node_id: str = "t") -> dict[str, Any]:
    return {"id": node_id, "type": "TRIGGER", "name": "Entry", "config": {"triggerType": "MANUAL"}}


def send(node_id: str, name: str = "") -> dict[str, Any]:
    return {
        "id": node_id,
        "type": "SEND",
        "name": name,
        "config": {"channel": "EMAIL", "templateId": f"tpl_{node_id}"},
    }


def condition(node_id: str) -> dict[str, Any]:
    rules = [{"field": "lastEmailOpenAt", "operator": "isNotNull"}]
    return {"id": node_id, "type": "CONDITION", "config": {"rules": rules}}


def tiers(node_id: str, *keys: str) -> dict[str, Any]:
    """A multi-branch CONDITION: one branch per key, evaluated in order, `else` for no match."""
    branches = [
        {"key": key, "rules": [{"field": "lifetimeSpend", "operator": "gte", "value": 10 ** (3 - i)}]}
        for i, key in enumerate(keys)
    ]
    return {"id": node_id, "type": "CONDITION", "config": {"branches": branches}}


def tiered() -> JourneyDefinition:
    """t → c; c gold→ g, silver→ s, bronze→ x, else→ x; g → x; s → x"""
    return journey(
        [trigger(), tiers("c", "gold", "silver", "bronze"), send("g"), send("s"), exit_()],
        [
            ("t", "c"),
            ("c", "x", "else"),
            ("c", "g", "gold"),
            ("c", "x", "bronze"),
            ("c", "s", "silver"),
            ("g", "x"),
            ("s", "x"),
        ],
    )


def wait_for_event(node_id: str) -> dict[str, Any]:
    return {"id": node_id, "type": "WAIT_FOR_EVENT", "config": {"event": "purchase", "timeout": "3 days"}}


def split(node_id: str, *keys: str) -> dict[str, Any]:
    share = 100 / len(keys)
    return {
        "id": node_id,
        "type": "SPLIT",
        "config": {"splits": [{"key": k, "percentage": share} for k in keys]},
    }


def exit_(node_id: str = "x") -> dict[str, Any]:
    return {"id": node_id, "type": "EXIT"}


def journey(nodes: list[dict[str, Any]], edges: list[tuple[str, str] | Triple]) -> JourneyDefinition:
    return JourneyDefinition.model_validate(
        {
            "nodes": nodes,
            "edges": [
                {"sourceNodeId": e[0], "targetNodeId": e[1], "label": e[2] if len(e) == 3 else "next"}
                for e in edges
            ],
        }
    )


def node(body: dict[str, Any]) -> Node:
    return NODE.validate_python(body)


def triples(definition: JourneyDefinition) -> list[Triple]:
    return [(e.source_node_id, e.target_node_id, e.label) for e in definition.edges]


def order(definition: JourneyDefinition) -> list[str]:
    return [n.id for n in definition.nodes]


def chain() -> JourneyDefinition:
    """t → a → b → x"""
    return journey([trigger(), send("a"), send("b"), exit_()], [("t", "a"), ("a", "b"), ("b", "x")])


def branching() -> JourneyDefinition:
    """t → c; c yes→ a → x; c no→ b → x"""
    return journey(
        [trigger(), condition("c"), send("a"), send("b"), exit_()],
        [("t", "c"), ("c", "a", "yes"), ("c", "b", "no"), ("a", "x"), ("b", "x")],
    )


def as_wire_input(definition: JourneyDefinition) -> list[StepInput]:
    """The steps as a client gets them and sends them back, through JSON text (stepNumber is read-only)."""
    return [
        StepInput.model_validate(json.loads(step.model_dump_json(exclude={"step_number"})))
        for step in to_steps(definition)
    ]


# --- the view, by property ------------------------------------------------------------------------------


@settings(max_examples=200, deadline=None)
@given(valid_definitions())
def test_the_view_round_trips_numbers_steps_in_node_order_and_orders_edges_canonically(
    definition: JourneyDefinition,
) -> None:
    nodes, edges = from_steps(as_wire_input(definition))

    assert nodes == definition.nodes
    position = {n.id: i for i, n in enumerate(definition.nodes)}

    def canonical(edge: Triple) -> tuple[int, int]:
        source = definition.nodes[position[edge[0]]]
        return position[edge[0]], outgoing_labels(source).index(edge[2])

    assert [(e.source_node_id, e.target_node_id, e.label) for e in edges] == sorted(
        triples(definition), key=canonical
    )
    rebuilt = definition.model_copy(update={"nodes": nodes, "edges": edges})
    assert to_steps(rebuilt) == to_steps(definition)

    assert [(s.step_number, s.id, s.type) for s in to_steps(definition)] == [
        (i, n.id, n.type) for i, n in enumerate(definition.nodes, start=1)
    ]
    for each in definition.nodes:
        assert branch_labels(each) == outgoing_labels(each)


@settings(max_examples=200, deadline=None)
@given(st.sampled_from(["TRIGGER", *STEP_TYPES]).flatmap(lambda t: nodes_of_type(t, "only", rich=True)))
def test_any_single_step_round_trips_with_all_its_content(each: Node) -> None:
    # Graph-wide properties use plain contents for speed; this one covers every config field and value.
    definition = JourneyDefinition(nodes=[each])
    assert from_steps(as_wire_input(definition)) == ([each], [])


# --- the view, by example -------------------------------------------------------------------------------


def test_pointers_by_type_and_split_branches_in_config() -> None:
    definition = journey(
        [trigger(), wait_for_event("w"), split("s", "a", "b"), condition("c"), send("m"), exit_()],
        [
            ("t", "w"),
            ("w", "s", "matched"),
            ("w", "x", "timeout"),
            ("s", "c", "a"),
            ("s", "m", "b"),
            ("c", "m", "yes"),
            ("c", "x", "no"),
            ("m", "x"),
        ],
    )
    dumped = [step.model_dump(mode="json") for step in to_steps(definition)]

    assert dumped[0] == {
        "id": "t",
        "stepNumber": 1,
        "type": "TRIGGER",
        "name": "Entry",
        "config": {"triggerType": "MANUAL", "rules": []},
        "nextStepId": "w",
        "nextStepYesId": None,
        "nextStepNoId": None,
        "position": None,
    }
    assert (dumped[1]["nextStepYesId"], dumped[1]["nextStepNoId"]) == ("s", "x")  # matched / timeout
    assert dumped[2]["config"] == {
        "splits": [
            {"key": "a", "percentage": 50.0, "nextStepId": "c"},
            {"key": "b", "percentage": 50.0, "nextStepId": "m"},
        ]
    }
    assert (dumped[2]["nextStepId"], dumped[2]["nextStepYesId"]) == (None, None)
    assert (dumped[3]["nextStepYesId"], dumped[3]["nextStepNoId"]) == ("m", "x")
    assert dumped[3]["nextStepId"] is None and "branches" not in dumped[3]["config"]  # the yes/no form
    # camelCase, and None fields left out: only what was said about the send
    assert dumped[4]["config"] == {"channel": "EMAIL", "templateId": "tpl_m", "onFailure": "fail"}
    assert dumped[5]["nextStepId"] is None


def test_steps_in_the_public_api_shape_build_the_graph() -> None:
    steps = [
        StepInput.model_validate(body)
        for body in [
            {"id": "step_0", "type": "TRIGGER", "config": {"triggerType": "MANUAL"}, "nextStepId": "step_1"},
            {
                "id": "step_1",
                "type": "SEND",
                "name": "Welcome Email",
                "config": {"channel": "EMAIL", "templateId": "welcome_email"},
                "nextStepId": "step_3",
            },
            {
                "id": "step_3",
                "type": "CONDITION",
                "name": "Check if opened",
                "config": {"rules": [{"field": "lastEmailOpenAt", "operator": "isNotNull"}]},
                "nextStepYesId": "step_ab",
                "nextStepNoId": "done",
            },
            {
                "id": "step_ab",
                "type": "SPLIT",
                "config": {
                    "splits": [
                        {"key": "a", "percentage": 50, "nextStepId": "done"},
                        {"key": "b", "percentage": 50, "nextStepId": "done"},
                    ]
                },
            },
            {"id": "done", "type": "END"},
        ]
    ]
    nodes, edges = from_steps(steps)
    definition = JourneyDefinition(nodes=nodes, edges=edges)

    assert order(definition) == ["step_0", "step_1", "step_3", "step_ab", "done"]
    assert triples(definition) == [
        ("step_0", "step_1", "next"),
        ("step_1", "step_3", "next"),
        ("step_3", "step_ab", "yes"),
        ("step_3", "done", "no"),
        ("step_ab", "done", "a"),
        ("step_ab", "done", "b"),
    ]
    assert validate_graph(definition) == []


def test_a_multi_branch_condition_shows_its_branches_in_config_and_else_as_next_step_id() -> None:
    definition = tiered()
    definition = definition.model_copy(  # bronze unlinked: its pointer is null, not left out
        update={"edges": [e for e in definition.edges if e.label != "bronze"]}
    )
    step = to_steps(definition)[1].model_dump(mode="json")

    assert [(b["key"], b["nextStepId"]) for b in step["config"]["branches"]] == [
        ("gold", "g"),
        ("silver", "s"),
        ("bronze", None),
    ]
    assert step["config"]["branches"][0]["rules"] == [
        {"field": "lifetimeSpend", "operator": "gte", "value": 1000}
    ]
    assert (step["nextStepId"], step["nextStepYesId"], step["nextStepNoId"]) == ("x", None, None)
    assert set(step["config"]) == {"branches"}, "the yes/no form's defaults are not shown beside branches"


def test_multi_branch_condition_steps_build_its_edges_in_label_order() -> None:
    condition_step = tiers("c", "gold", "silver", "bronze")
    for branch, target in zip(condition_step["config"]["branches"], ["g", "s", "x"], strict=True):
        branch["nextStepId"] = target
    steps = [
        StepInput.model_validate(body)
        for body in [
            {**trigger(), "nextStepId": "c"},
            {**condition_step, "nextStepId": "x", "nextStepYesId": None, "nextStepNoId": None},
            {**send("g"), "nextStepId": "x"},
            {**send("s"), "nextStepId": "x"},
            exit_(),
        ]
    ]
    nodes, edges = from_steps(steps)
    definition = JourneyDefinition(nodes=nodes, edges=edges)

    assert triples(definition) == [
        ("t", "c", "next"),
        ("c", "g", "gold"),
        ("c", "s", "silver"),
        ("c", "x", "bronze"),
        ("c", "x", "else"),
        ("g", "x", "next"),
        ("s", "x", "next"),
    ]
    assert validate_graph(definition) == []
    assert nodes[1] == tiered().nodes[1]  # the branch pointers are not config


def test_a_multi_branch_condition_has_no_yes_or_no_pointer() -> None:
    bad = tiers("c", "gold")
    bad["config"]["branches"][0]["nextStepId"] = "ghost"
    with pytest.raises(InvalidInputError) as error:
        from_steps(
            [
                StepInput.model_validate(trigger()),
                StepInput.model_validate({**bad, "nextStepYesId": "t", "nextStepNoId": None}),
            ]
        )
    assert issue_locs(error) == {
        ("steps", 1, "nextStepYesId"),
        ("steps", 1, "config", "branches", 0, "nextStepId"),
    }
    message = next(i.msg for i in error.value.issues if i.loc[-1] == "nextStepYesId")
    assert "config.branches[].nextStepId" in message and "nextStepId ('else')" in message


def issue_locs(error: pytest.ExceptionInfo[InvalidInputError]) -> set[tuple[str | int, ...]]:
    return {issue.loc for issue in error.value.issues}


def test_from_steps_names_every_bad_step_at_once() -> None:
    steps = [
        StepInput(id="t", type="TRIGGER", next_step_id="ghost"),
        StepInput(id="s", type="SEND", config={"channel": "FAX", "templateId": "x"}),
        StepInput(id="s", type="SEND", config={"channel": "SMS", "templateId": "x"}),
        StepInput(id="q", type="QUIZ"),
        StepInput(id="c", type="CONDITION", config={"rules": [{"field": "f"}]}, next_step_no_id="nope"),
        StepInput(id="e", type="EXIT", next_step_yes_id="t"),
        StepInput(
            id="p",
            type="SPLIT",
            config={
                "splits": [
                    {"key": "a", "percentage": 50, "nextStepId": "t"},
                    {"key": "b", "percentage": 50, "nextStepId": "zz"},
                ]
            },
        ),
    ]
    with pytest.raises(InvalidInputError) as error:
        from_steps(steps)
    assert issue_locs(error) == {
        ("steps", 0, "nextStepId"),
        ("steps", 1, "config", "channel"),
        ("steps", 2, "id"),
        ("steps", 3, "type"),
        ("steps", 4, "nextStepNoId"),
        ("steps", 5, "nextStepYesId"),
        ("steps", 6, "config", "splits", 1, "nextStepId"),
    }


def test_a_send_step_cannot_carry_a_yes_pointer() -> None:
    with pytest.raises(InvalidInputError) as error:
        from_steps(
            [
                StepInput(id="t", type="TRIGGER"),
                StepInput(
                    id="s", type="SEND", config={"channel": "SMS", "templateId": "x"}, next_step_yes_id="t"
                ),
            ]
        )
    [issue] = error.value.issues
    assert issue.loc == ("steps", 1, "nextStepYesId")
    assert "nextStepId" in issue.msg


def test_a_config_rule_error_is_located_in_the_config() -> None:
    with pytest.raises(InvalidInputError) as error:
        from_steps([StepInput(id="s", type="SEND", config={"channel": "EMAIL"})])
    assert issue_locs(error) == {
        ("steps", 0, "config")
    }  # "needs templateId or body" is about the whole config


# --- add -----------------------------------------------------------------------------------------------


def test_add_in_the_middle_of_a_chain() -> None:
    before = chain()
    snapshot = before.model_dump()
    after = add_step(before, node(send("n")), after_step_id="a")

    assert order(after) == ["t", "a", "n", "b", "x"]
    assert sorted(triples(after)) == sorted(
        [("t", "a", "next"), ("a", "n", "next"), ("n", "b", "next"), ("b", "x", "next")]
    )
    assert validate_graph(after) == []
    assert before.model_dump() == snapshot


def test_add_on_a_conditions_no_branch() -> None:
    after = add_step(branching(), node(send("n")), after_step_id="c", branch="no")

    assert order(after) == ["t", "c", "n", "a", "b", "x"]
    assert after.next_node_id("c", "no") == "n"
    assert after.next_node_id("n") == "b"
    assert after.next_node_id("c", "yes") == "a"
    assert validate_graph(after) == []


def test_add_a_condition_links_its_yes_branch_and_leaves_no_for_later() -> None:
    after = add_step(chain(), node(condition("c")), after_step_id="a")
    assert (after.next_node_id("a"), after.next_node_id("c", "yes"), after.next_node_id("c", "no")) == (
        "c",
        "b",
        None,
    )


def test_add_on_a_wait_for_events_branch_by_its_steps_name() -> None:
    definition = journey(
        [trigger(), wait_for_event("w"), send("a"), exit_()],
        [("t", "w"), ("w", "a", "matched"), ("w", "x", "timeout"), ("a", "x")],
    )
    after = add_step(definition, node(send("n")), after_step_id="w", branch="no")
    assert (after.next_node_id("w", "timeout"), after.next_node_id("n")) == ("n", "x")


def test_add_on_a_multi_branch_conditions_key_or_else() -> None:
    on_silver = add_step(tiered(), node(send("n")), after_step_id="c", branch="silver")
    assert (on_silver.next_node_id("c", "silver"), on_silver.next_node_id("n")) == ("n", "s")

    on_else = add_step(tiered(), node(send("n")), after_step_id="c", branch="else")
    assert (on_else.next_node_id("c", "else"), on_else.next_node_id("n")) == ("n", "x")

    by_default = add_step(tiered(), node(send("n")), after_step_id="c")
    assert by_default.next_node_id("c", "gold") == "n"  # the first key is the primary branch
    for after in (on_silver, on_else, by_default):
        assert validate_graph(after) == []

    with pytest.raises(ConflictError, match="has no 'yes' branch"):  # yes/no name no branch here
        add_step(tiered(), node(send("n")), after_step_id="c", branch="yes")
    keyed_yes = journey(
        [trigger(), tiers("c", "no", "yes"), exit_()],
        [("t", "c"), ("c", "x", "no"), ("c", "x", "yes"), ("c", "x", "else")],
    )
    after = add_step(keyed_yes, node(send("n")), after_step_id="c", branch="yes")  # a key is itself
    assert (after.next_node_id("c", "yes"), after.next_node_id("c", "no")) == ("n", "x")


def test_add_without_a_place_goes_before_the_exit_ending_the_main_path() -> None:
    after = add_step(chain(), node(send("n")), after_step_id=None)

    assert order(after) == ["t", "a", "b", "n", "x"]
    assert (after.next_node_id("b"), after.next_node_id("n")) == ("n", "x")
    assert validate_graph(after) == []


def test_add_without_a_place_follows_primary_branches() -> None:
    after = add_step(branching(), node(send("n")), after_step_id=None)
    # main path t → c -yes→ a → x; the `no` branch b → x still enters the exit directly
    assert order(after) == ["t", "c", "a", "b", "n", "x"]
    assert (after.next_node_id("a"), after.next_node_id("n"), after.next_node_id("b")) == ("n", "x", "x")


def test_add_without_a_place_appends_to_an_open_path() -> None:
    definition = journey([trigger(), send("a")], [("t", "a")])
    after = add_step(definition, node(send("n")), after_step_id=None)
    assert order(after) == ["t", "a", "n"]
    assert after.next_node_id("a") == "n"


def test_add_without_a_place_does_not_steal_a_taken_branch() -> None:
    definition = journey([trigger(), send("a")], [("t", "a"), ("a", "nowhere")])
    after = add_step(definition, node(send("n")), after_step_id=None)
    assert order(after) == ["t", "a", "n"]
    assert triples(after) == triples(definition)


def test_add_without_a_place_on_a_looping_main_path_appends_unlinked() -> None:
    wait = {"id": "w", "type": "WAIT", "config": {"duration": "1 day"}}
    definition = journey([trigger(), wait, send("a")], [("t", "w"), ("w", "a"), ("a", "w")])
    after = add_step(definition, node(send("n")), after_step_id=None)
    assert order(after) == ["t", "w", "a", "n"]
    assert triples(after) == triples(definition)


def test_add_refusals() -> None:
    with pytest.raises(NotFoundError):
        add_step(chain(), node(send("n")), after_step_id="ghost")
    with pytest.raises(ConflictError, match="ends the journey"):
        add_step(chain(), node(send("n")), after_step_id="x")
    with pytest.raises(ConflictError, match="has no 'yes' branch"):
        add_step(chain(), node(send("n")), after_step_id="a", branch="yes")
    with pytest.raises(ConflictError, match="TRIGGER"):
        add_step(chain(), node(trigger("t2")), after_step_id="a")
    with pytest.raises(InvalidInputError) as error:
        add_step(chain(), node(send("b")), after_step_id="a")
    assert issue_locs(error) == {("id",)}


@settings(max_examples=100, deadline=None)  # an edit on top of the round trip's graphs: fewer suffice
@given(valid_definitions(), st.data())
def test_adding_a_send_on_any_branch_keeps_a_valid_graph_valid(
    definition: JourneyDefinition, data: st.DataObject
) -> None:
    anchor = data.draw(st.sampled_from([n for n in definition.nodes if outgoing_labels(n)]))
    branch = data.draw(st.sampled_from(outgoing_labels(anchor)))
    new_id = "added" + "_" * max(len(n.id) for n in definition.nodes)  # longer than every id, so unused
    snapshot = definition.model_dump()

    after = add_step(definition, node(send(new_id)), after_step_id=anchor.id, branch=branch)

    assert validate_graph(after) == []
    expected_order = order(definition)
    expected_order.insert(expected_order.index(anchor.id) + 1, new_id)
    assert order(after) == expected_order
    assert after.next_node_id(anchor.id, branch) == new_id
    assert after.next_node_id(new_id) == definition.next_node_id(anchor.id, branch)
    assert definition.model_dump() == snapshot


# --- update --------------------------------------------------------------------------------------------


def test_rename_changes_only_the_name() -> None:
    before = chain()
    after = update_step(before, "a", name="Welcome")

    assert after.node("a").name == "Welcome"
    assert after.node("a").config == before.node("a").config
    assert triples(after) == triples(before)
    assert before.node("a").name == ""


def test_config_is_validated_against_the_step_type() -> None:
    with pytest.raises(InvalidInputError) as error:
        update_step(chain(), "a", config={"channel": "FAX", "templateId": "x"})
    assert issue_locs(error) == {("config", "channel")}
    with pytest.raises(InvalidInputError) as error:
        update_step(chain(), "a", name="n" * 201)
    assert issue_locs(error) == {("name",)}


def test_config_limits_hold_and_a_null_config_is_refused_not_crashed_on() -> None:
    with pytest.raises(InvalidInputError) as error:
        update_step(chain(), "a", config={"channel": "SMS", "body": "x" * 20_000})
    assert issue_locs(error) == {("config",)}
    definition = journey(
        [trigger(), split("s", "a", "b"), exit_()], [("t", "s"), ("s", "x", "a"), ("s", "x", "b")]
    )
    with pytest.raises(InvalidInputError) as error:
        update_step(definition, "s", config=None)  # type: ignore[arg-type]  # what a PATCH with null sends
    assert issue_locs(error) == {("config",)}


def test_config_is_replaced_whole() -> None:
    after = update_step(chain(), "a", config={"channel": "SMS", "body": "Hi"})
    assert to_steps(after)[1].config == {
        "channel": "SMS",
        "body": "Hi",
        "onFailure": "fail",
    }  # templateId gone


def test_pointers_re_point_create_and_remove_edges() -> None:
    definition = chain()
    repointed = update_step(definition, "a", next_step_id="x")
    assert triples(repointed) == [("t", "a", "next"), ("a", "x", "next"), ("b", "x", "next")]  # in place

    removed = update_step(definition, "a", next_step_id=None)
    assert triples(removed) == [("t", "a", "next"), ("b", "x", "next")]

    created = update_step(removed, "a", next_step_id="b")
    assert sorted(triples(created)) == sorted(triples(definition))


def test_wait_for_event_yes_and_no_pointers_are_matched_and_timeout() -> None:
    definition = journey(
        [trigger(), wait_for_event("w"), send("a"), exit_()],
        [("t", "w"), ("w", "a", "matched"), ("w", "x", "timeout"), ("a", "x")],
    )
    after = update_step(definition, "w", next_step_yes_id="x", next_step_no_id="a")
    assert (after.next_node_id("w", "matched"), after.next_node_id("w", "timeout")) == ("x", "a")


def test_pointer_refusals_name_the_field() -> None:
    with pytest.raises(InvalidInputError) as error:
        update_step(chain(), "a", next_step_id="ghost")
    assert issue_locs(error) == {("nextStepId",)}
    with pytest.raises(InvalidInputError) as error:
        update_step(chain(), "a", next_step_yes_id="b")
    assert issue_locs(error) == {("nextStepYesId",)}
    assert "nextStepYesId" in error.value.detail
    with pytest.raises(NotFoundError):
        update_step(chain(), "ghost", name="x")


def test_a_null_pointer_the_type_lacks_is_accepted_as_is() -> None:
    # A step read from the view carries all three pointers; sending it back must work.
    definition = chain()
    assert triples(update_step(definition, "a", next_step_yes_id=None, next_step_no_id=None)) == triples(
        definition
    )


def test_split_config_update_sets_branch_edges_and_drops_removed_keys() -> None:
    definition = journey(
        [trigger(), split("s", "a", "b"), send("m"), exit_()],
        [("t", "s"), ("s", "m", "a"), ("s", "x", "b"), ("m", "x")],
    )
    config = {
        "splits": [
            {"key": "a", "percentage": 30},  # no pointer: keeps its edge
            {"key": "c", "percentage": 70, "nextStepId": "x"},  # b is gone, c is new
        ]
    }
    after = update_step(definition, "s", config=config)
    assert sorted(triples(after)) == sorted(
        [("t", "s", "next"), ("s", "m", "a"), ("s", "x", "c"), ("m", "x", "next")]
    )
    assert validate_graph(after) == []

    with pytest.raises(InvalidInputError) as error:
        update_step(
            definition,
            "s",
            config={
                "splits": [{"key": "a", "percentage": 50, "nextStepId": "zz"}, {"key": "b", "percentage": 50}]
            },
        )
    assert issue_locs(error) == {("config", "splits", 0, "nextStepId")}


def test_multi_branch_config_update_sets_branch_edges_and_drops_removed_keys() -> None:
    config = {
        "branches": [
            {"key": "gold", "rules": [{"field": "plan", "value": "gold"}], "nextStepId": "s"},  # re-pointed
            {"key": "silver", "rules": [{"field": "plan", "value": "silver"}]},  # no pointer: keeps its edge
            {"key": "platinum", "rules": [{"field": "plan", "value": "pt"}], "nextStepId": "g"},  # new
        ]  # bronze is gone
    }
    after = update_step(tiered(), "c", config=config)

    assert sorted(e for e in triples(after) if e[0] == "c") == sorted(
        [("c", "s", "gold"), ("c", "s", "silver"), ("c", "g", "platinum"), ("c", "x", "else")]
    )
    assert validate_graph(after) == []
    shown = to_steps(after)[1]
    assert [(b["key"], b["nextStepId"]) for b in shown.config["branches"]] == [
        ("gold", "s"),
        ("silver", "s"),
        ("platinum", "g"),
    ]

    repointed = update_step(after, "c", next_step_id="g")  # nextStepId is the else edge
    assert repointed.next_node_id("c", "else") == "g"

    with pytest.raises(InvalidInputError) as error:
        update_step(tiered(), "c", next_step_yes_id="g")
    assert issue_locs(error) == {("nextStepYesId",)}
    assert triples(update_step(tiered(), "c", next_step_yes_id=None, next_step_no_id=None)) == triples(
        tiered()
    )
    with pytest.raises(InvalidInputError) as error:
        update_step(tiered(), "c", config={"branches": [{**config["branches"][0], "nextStepId": "zz"}]})
    assert issue_locs(error) == {("config", "branches", 0, "nextStepId")}


def test_a_condition_changing_form_drops_the_edges_of_its_old_form() -> None:
    yes_no = branching()  # c yes→ a, no→ b
    branches = [{"key": "gold", "rules": [{"field": "plan", "value": "gold"}], "nextStepId": "a"}]

    to_branches = update_step(yes_no, "c", config={"branches": branches}, next_step_id="b")
    assert [e for e in triples(to_branches) if e[0] == "c"] == [("c", "a", "gold"), ("c", "b", "else")]
    assert validate_graph(to_branches) == []

    with pytest.raises(InvalidInputError) as error:  # the new form has no yes pointer
        update_step(yes_no, "c", config={"branches": branches}, next_step_yes_id="a")
    assert issue_locs(error) == {("nextStepYesId",)}

    back = update_step(
        to_branches, "c", config={"rules": [{"field": "plan", "value": "gold"}]}, next_step_yes_id="a"
    )
    assert [e for e in triples(back) if e[0] == "c"] == [("c", "a", "yes")]  # no `no` edge yet
    # publishing says so: c lacks its `no` edge, and b is no longer reachable
    assert {issue.loc for issue in validate_graph(back)} == {("nodes", 1), ("nodes", 3)}

    with pytest.raises(InvalidInputError) as error:  # an invalid new config: its pointers are unknown
        update_step(yes_no, "c", config={"branches": []}, next_step_id="ghost")
    assert issue_locs(error) == {("config", "branches"), ("nextStepId",)}


# --- delete --------------------------------------------------------------------------------------------


def test_delete_relinks_the_neighbours() -> None:
    before = chain()
    after = delete_step(before, "a")
    assert order(after) == ["t", "b", "x"]
    assert triples(after) == [("t", "b", "next"), ("b", "x", "next")]
    assert validate_graph(after) == []
    assert order(before) == ["t", "a", "b", "x"]


def test_delete_hands_every_entering_edge_to_the_successor() -> None:
    definition = journey(
        [trigger(), condition("c"), send("m"), exit_()],
        [("t", "c"), ("c", "m", "yes"), ("c", "m", "no"), ("m", "x")],
    )
    after = delete_step(definition, "m")
    assert triples(after) == [("t", "c", "next"), ("c", "x", "yes"), ("c", "x", "no")]


def test_delete_a_condition_keeps_its_yes_side() -> None:
    after = delete_step(branching(), "c")
    assert triples(after) == [("t", "a", "next"), ("a", "x", "next"), ("b", "x", "next")]
    assert [i.loc for i in validate_graph(after)] == [("nodes", 2)]  # b is now unreachable, and said so


def test_delete_a_multi_branch_condition_keeps_its_first_branch() -> None:
    after = delete_step(tiered(), "c")
    assert triples(after) == [("t", "g", "next"), ("g", "x", "next"), ("s", "x", "next")]


def test_delete_a_step_without_successor_removes_the_entering_edges() -> None:
    after = delete_step(chain(), "x")
    assert triples(after) == [("t", "a", "next"), ("a", "b", "next")]


def test_delete_refusals() -> None:
    with pytest.raises(ConflictError, match="TRIGGER"):
        delete_step(chain(), "t")
    with pytest.raises(NotFoundError):
        delete_step(chain(), "ghost")


@settings(max_examples=100, deadline=None)  # an edit on top of the round trip's graphs: fewer suffice
@given(valid_definitions(), st.data())
def test_deleting_a_step_hands_its_entering_edges_to_its_primary_successor(
    definition: JourneyDefinition, data: st.DataObject
) -> None:
    victim = data.draw(st.sampled_from(definition.nodes[1:]))
    labels = outgoing_labels(victim)
    successor = definition.next_node_id(victim.id, labels[0]) if labels else None

    after = delete_step(definition, victim.id)

    assert order(after) == [i for i in order(definition) if i != victim.id]
    kept = [e for e in triples(definition) if victim.id not in e[:2]]
    handed_over = [
        (s, successor, label) for s, t, label in triples(definition) if t == victim.id and successor
    ]
    assert sorted(triples(after)) == sorted(kept + handed_over)
    if labels == ["next"]:  # nothing hangs off another branch, so nothing is orphaned
        assert validate_graph(after) == []


# --- reorder -------------------------------------------------------------------------------------------


def test_reorder_relinks_a_linear_chain() -> None:
    after = reorder_steps(chain(), ["t", "b", "a", "x"])
    assert order(after) == ["t", "b", "a", "x"]
    assert triples(after) == [("t", "b", "next"), ("b", "a", "next"), ("a", "x", "next")]
    assert validate_graph(after) == []


def test_reorder_moving_the_exit_up_relinks_anyway_and_validation_says_so() -> None:
    after = reorder_steps(chain(), ["t", "x", "a", "b"])
    assert triples(after) == [("t", "x", "next"), ("x", "a", "next"), ("a", "b", "next")]
    assert {i.loc for i in validate_graph(after)} >= {("edges", 1, "label"), ("nodes", 3)}


def test_reorder_of_a_branching_graph_changes_only_the_order() -> None:
    before = branching()
    after = reorder_steps(before, ["t", "b", "x", "c", "a"])
    assert order(after) == ["t", "b", "x", "c", "a"]
    assert [s.step_number for s in to_steps(after) if s.id == "c"] == [4]
    assert triples(after) == triples(before)


def test_reorder_needs_a_permutation_of_every_step() -> None:
    with pytest.raises(InvalidInputError) as error:
        reorder_steps(chain(), ["t", "a", "a", "ghost"])
    assert issue_locs(error) == {("stepIds",)}
    detail = error.value.detail
    assert (
        "missing: 'b', 'x'" in detail
        and "unknown steps: 'ghost'" in detail
        and "more than once: 'a'" in detail
    )


def test_reorder_keeps_the_trigger_first() -> None:
    with pytest.raises(ConflictError, match="TRIGGER"):
        reorder_steps(chain(), ["a", "t", "b", "x"])


@settings(max_examples=100, deadline=None)  # an edit on top of the round trip's graphs: fewer suffice
@given(linear_definitions(), st.data())
def test_any_reorder_of_a_linear_chain_is_a_chain_in_the_new_order(
    definition: JourneyDefinition, data: st.DataObject
) -> None:
    rest = data.draw(st.permutations(order(definition)[1:]))
    new_order = [order(definition)[0], *rest]

    after = reorder_steps(definition, new_order)

    assert order(after) == new_order
    assert triples(after) == [(a, b, "next") for a, b in pairwise(new_order)]
    assert sorted(after.nodes, key=lambda n: n.id) == sorted(definition.nodes, key=lambda n: n.id)


@settings(max_examples=100, deadline=None)  # an edit on top of the round trip's graphs: fewer suffice
@given(valid_definitions(), st.data())
def test_any_reorder_of_a_branching_graph_keeps_its_edges(
    definition: JourneyDefinition, data: st.DataObject
) -> None:
    assume(any(len(outgoing_labels(n)) > 1 for n in definition.nodes))
    rest = data.draw(st.permutations(order(definition)[1:]))

    after = reorder_steps(definition, [order(definition)[0], *rest])

    assert order(after) == [order(definition)[0], *rest]
    assert after.edges == definition.edges
    assert validate_graph(after) == []
