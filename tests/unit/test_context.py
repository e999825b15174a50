"""The enrollment context (entry event, matched event, journey) in the interpreter, rules, templates and
validation; multi-branch CONDITION. No server."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from delivery.rendering import Renderer, TemplateRenderError
from domain.context import MAX_CONTEXT_PROPERTIES_BYTES, ContextEvent
from domain.definition import JourneyDefinition
from domain.interpreter import (
    EventReceived,
    Finish,
    ProfileRead,
    SendMessage,
    Started,
    TimeReached,
    Wait,
    initial_state,
    step,
)
from domain.nodes.send import template_roots
from domain.validation import validate_for_publish
from tests.unit.test_interpreter import T0, TRIGGER, event, graph, records

CART = event("m-cart", "Cart Abandoned", cartId="A", productName="Blue Kettle")
SEND_REMINDER = {
    "id": "remind",
    "type": "SEND",
    "config": {"channel": "EMAIL", "subject": "You left {{ entry.properties.productName }}", "body": "b"},
}


def abandoned_cart(**extra: Any) -> JourneyDefinition:
    order_rule = {"field": "properties.cartId", "operator": "eq", "valueFrom": "entry.properties.cartId"}
    return graph(
        [
            {"id": "t", "type": "TRIGGER", "config": {"triggerType": "EVENT", "event": "Cart Abandoned"}},
            {
                "id": "order",
                "type": "WAIT_FOR_EVENT",
                "config": {"event": "Order Completed", "rules": [order_rule], "timeout": "1 hour"},
            },
            SEND_REMINDER,
            {"id": "x", "type": "EXIT"},
        ],
        [
            ("t", "order", "next"),
            ("order", "x", "matched"),
            ("order", "remind", "timeout"),
            ("remind", "x", "next"),
        ],
        **extra,
    )


def started(definition: JourneyDefinition, trigger: Any = CART) -> Any:
    state = initial_state("e1", "j1", "c1", journey_name="Carts", journey_version=3)
    return step(definition, state, Started(now=T0, trigger_event=trigger))


def test_entry_event_is_carried_and_sends_render_with_it() -> None:
    journey = abandoned_cart()
    state, commands = started(journey)
    assert state.entry is not None and state.entry.properties["productName"] == "Blue Kettle"
    state, commands = step(journey, state, TimeReached(now=T0 + timedelta(hours=1)))
    send = commands[-1]
    assert isinstance(send, SendMessage)
    assert send.context["entry"]["properties"] == {"cartId": "A", "productName": "Blue Kettle"}
    assert (
        send.context["entry"]["messageId"] == "m-cart" and send.context["entry"]["event"] == "Cart Abandoned"
    )
    assert send.context["journey"] == {"id": "j1", "name": "Carts", "version": 3}
    # Until a WAIT_FOR_EVENT matches, `event` is the entry event.
    assert send.context["event"] == send.context["entry"]


def test_wait_for_event_compares_with_the_entry_event() -> None:
    journey = abandoned_cart()
    state, _ = started(journey)
    other = event("m-o1", "Order Completed", cartId="B")
    state, commands = step(journey, state, EventReceived(now=T0, event=other))
    assert isinstance(commands[-1], Wait) and state.current_node_id == "order"
    same = event("m-o2", "Order Completed", cartId="A", total=42)
    state, commands = step(journey, state, EventReceived(now=T0, event=same))
    assert records(commands)[0] == ("order", "COMPLETED", "matched")
    assert isinstance(commands[-1], Finish) and commands[-1].status == "COMPLETED"
    assert state.matched_event is not None and state.matched_event.properties["total"] == 42
    assert state.context()["event"]["messageId"] == "m-o2"


def test_a_value_from_the_enrollment_has_not_fails_the_step_with_the_path() -> None:
    journey = abandoned_cart()
    _state, commands = started(journey, trigger=event("m-x", "Cart Abandoned", productName="Mug"))
    finish = commands[-1]
    assert isinstance(finish, Finish) and finish.status == "FAILED"
    assert finish.reason is not None and "'entry.properties.cartId'" in finish.reason
    assert records(commands)[-1] == ("order", "FAILED", None)


def test_without_an_entry_event_the_reason_says_so() -> None:
    journey = abandoned_cart()
    _state, commands = started(journey, trigger=None)
    finish = commands[-1]
    assert isinstance(finish, Finish) and finish.reason is not None
    assert "did not start from an event" in finish.reason


def test_exit_criteria_may_compare_with_the_entry_event() -> None:
    rule = {"field": "properties.cartId", "operator": "eq", "valueFrom": "entry.properties.cartId"}
    journey = abandoned_cart(exitCriteria={"events": [{"event": "Cart Emptied", "rules": [rule]}]})
    state, _ = started(journey)
    state, _ = step(journey, state, EventReceived(now=T0, event=event("e1", "Cart Emptied", cartId="B")))
    assert state.status == "ACTIVE"
    state, _commands = step(
        journey, state, EventReceived(now=T0, event=event("e2", "Cart Emptied", cartId="A"))
    )
    assert state.status == "EXITED" and state.exit_reason == "exit criteria: Cart Emptied"


def test_context_properties_over_the_bound_are_dropped_and_say_so() -> None:
    big = event("m-big", "Cart Abandoned", cartId="A", blob="x" * MAX_CONTEXT_PROPERTIES_BYTES)
    carried = ContextEvent.of(big)
    assert carried.properties_dropped and carried.properties == {}
    _state, commands = started(abandoned_cart(), trigger=big)
    finish = commands[-1]
    assert isinstance(finish, Finish) and finish.reason is not None and "were not kept" in finish.reason


# ---- CONDITION ---------------------------------------------------------------------------------

TIERS = [
    {"key": "gold", "rules": [{"field": "spend", "operator": "gte", "value": 1000}]},
    {"key": "silver", "rules": [{"field": "spend", "operator": "gte", "value": 100}]},
]


def tiers() -> JourneyDefinition:
    return graph(
        [
            TRIGGER,
            {"id": "c", "type": "CONDITION", "config": {"branches": TIERS}},
            {"id": "g", "type": "EXIT"},
            {"id": "s", "type": "EXIT"},
            {"id": "o", "type": "EXIT"},
        ],
        [("t", "c", "next"), ("c", "g", "gold"), ("c", "s", "silver"), ("c", "o", "else")],
    )


@pytest.mark.parametrize(("spend", "branch"), [(5000, "gold"), (1000, "gold"), (150, "silver"), (10, "else")])
def test_multi_branch_condition_takes_the_first_match_else_else(spend: int, branch: str) -> None:
    journey = tiers()
    assert validate_for_publish(journey) == []
    state, _ = step(journey, initial_state("e1", "j1", "c1"), Started(now=T0))
    state, commands = step(journey, state, ProfileRead(node_id="c", visit=1, now=T0, traits={"spend": spend}))
    assert records(commands)[0] == ("c", "COMPLETED", branch)
    assert state.path[-1] == {"gold": "g", "silver": "s", "else": "o"}[branch]


def test_condition_rules_read_the_entry_event_and_value_from() -> None:
    rules = [
        {"field": "entry.properties.productName", "operator": "startsWith", "value": "Blue"},
        {"field": "favourite", "operator": "eq", "valueFrom": "entry.properties.cartId"},
    ]
    journey = graph(
        [
            {"id": "t", "type": "TRIGGER", "config": {"triggerType": "EVENT", "event": "Cart Abandoned"}},
            {"id": "c", "type": "CONDITION", "config": {"rules": rules}},
            {"id": "y", "type": "EXIT"},
            {"id": "n", "type": "EXIT"},
        ],
        [("t", "c", "next"), ("c", "y", "yes"), ("c", "n", "no")],
    )
    assert validate_for_publish(journey) == []
    state, _ = started(journey)
    _, commands = step(journey, state, ProfileRead(node_id="c", visit=1, now=T0, traits={"favourite": "A"}))
    assert records(commands)[0] == ("c", "COMPLETED", "yes")
    _, commands = step(journey, state, ProfileRead(node_id="c", visit=1, now=T0, traits={"favourite": "B"}))
    assert records(commands)[0] == ("c", "COMPLETED", "no")


def test_legacy_condition_reads_the_last_event_received() -> None:
    rules = [{"field": "event.properties.page", "operator": "eq", "value": "pricing"}]
    journey = graph(
        [
            {"id": "t", "type": "TRIGGER", "config": {"triggerType": "EVENT", "event": "Cart Abandoned"}},
            {"id": "w", "type": "WAIT", "config": {"duration": "1 hour"}},
            {"id": "c", "type": "CONDITION", "config": {"rules": rules}},
            {"id": "y", "type": "EXIT"},
            {"id": "n", "type": "EXIT"},
        ],
        [("t", "w", "next"), ("w", "c", "next"), ("c", "y", "yes"), ("c", "n", "no")],
    )
    state, _ = started(journey)
    state, _ = step(journey, state, EventReceived(now=T0, event=event("p1", "Viewed", page="pricing")))
    state, _ = step(journey, state, TimeReached(now=T0 + timedelta(hours=1)))
    read = ProfileRead(node_id="c", visit=1, now=T0, traits={})
    _, new = step(journey, state, read)
    _, old = step(journey, state, read, legacy_context=True)
    assert records(new)[0][2] == "no" and records(old)[0][2] == "yes"


# ---- validation --------------------------------------------------------------------------------


def test_publish_names_what_is_wrong_with_branches_and_context() -> None:
    bad_rule = {"field": "x", "operator": "eq", "valueFrom": "cart.id"}
    journey = graph(
        [
            {
                "id": "t",
                "type": "TRIGGER",
                "config": {"triggerType": "EVENT", "event": "E", "rules": [bad_rule]},
            },
            {
                "id": "c",
                "type": "CONDITION",
                "config": {
                    "branches": [
                        {"key": "a", "rules": [bad_rule]},
                        {"key": "a", "rules": [{"field": "x", "value": 1}]},
                        {"key": "else", "rules": [{"field": "x", "value": 2}]},
                    ]
                },
            },
            {"id": "x", "type": "EXIT"},
        ],
        [("t", "c", "next"), ("c", "x", "a")],
    )
    issues = {issue.loc: issue.msg for issue in validate_for_publish(journey)}
    assert "valueFrom is for CONDITION" in issues[("nodes", 0, "config", "rules", 0, "valueFrom")]
    assert (
        "unknown context root 'cart'"
        in issues[("nodes", 1, "config", "branches", 0, "rules", 0, "valueFrom")]
    )
    assert "duplicate branch key 'a'" in issues[("nodes", 1, "config", "branches", 1, "key")]
    assert "edge of no match" in issues[("nodes", 1, "config", "branches", 2, "key")]
    assert "missing outgoing edge(s): else" in issues[("nodes", 1)]


def test_a_condition_has_one_form() -> None:
    with pytest.raises(ValueError, match="not both"):
        JourneyDefinition.model_validate(
            {
                "nodes": [
                    {
                        "id": "c",
                        "type": "CONDITION",
                        "config": {"rules": [{"field": "a", "value": 1}], "branches": TIERS},
                    }
                ]
            }
        )


# ---- templates ---------------------------------------------------------------------------------


def test_a_template_path_the_context_lacks_is_named() -> None:
    renderer = Renderer()
    context = {"entry": {"properties": {"cartId": "A"}}, "traits": {}}
    assert renderer.render("Cart {{ entry.properties.cartId }}", context, what="subject") == "Cart A"
    with pytest.raises(TemplateRenderError, match=r"'entry\.properties\.productName' is not defined"):
        renderer.render("You left {{ entry.properties.productName }}", context, what="subject")
    with pytest.raises(TemplateRenderError, match="'event' is not defined"):
        renderer.render(
            "{% for k in entry.properties %}{{ k }}{% endfor %}{{ event.x }}", context, what="body"
        )
    assert template_roots("{% set a = 1 %}{{ a }}{{ entry.x }}{{ cart.y }}") == {"entry", "cart"}


def test_publish_refuses_an_inline_template_reading_an_unknown_root() -> None:
    bad = {"channel": "EMAIL", "subject": "Your {{ cart.id }}", "body": "{{ entry.properties.x }}"}
    journey = graph(
        [TRIGGER, {"id": "m", "type": "SEND", "config": bad}, {"id": "x", "type": "EXIT"}],
        [("t", "m", "next"), ("m", "x", "next")],
    )
    issues = {issue.loc: issue.msg for issue in validate_for_publish(journey)}
    assert issues == {("nodes", 1, "config", "subject"): issues[("nodes", 1, "config", "subject")]}
    assert "unknown variable 'cart'" in issues[("nodes", 1, "config", "subject")]
