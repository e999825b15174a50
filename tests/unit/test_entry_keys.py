"""Keyed entries in the domain: the key an event enters with, which calls reach a keyed enrollment,
the ids a keyed entry gets (unkeyed ids unchanged), and the trigger's publish rule."""

from __future__ import annotations

import hashlib
import re
from datetime import UTC, datetime
from typing import Any

import pytest
from pydantic import TypeAdapter, ValidationError

from domain.definition import Node
from domain.entry_keys import MAX_ENTRY_KEY_LENGTH, entry_key_of, reaches
from domain.events import EventRecord, event_document
from domain.ids import enrollment_id, enrollment_workflow_id
from domain.nodes import kind_of

NODE: TypeAdapter[Node] = TypeAdapter(Node)
JOURNEY = "3f0b7c3e-1d2a-4c5b-8e9f-0a1b2c3d4e5f"


def event(properties: dict[str, Any], traits: dict[str, Any] | None = None) -> EventRecord:
    return EventRecord(
        id="m-1",
        name="Cart Abandoned",
        properties=properties,
        traits=traits or {},
        timestamp=datetime(2025, 1, 1, tzinfo=UTC),
    )


# ---- ids ------------------------------------------------------------------------------------------


def test_unkeyed_ids_are_the_ones_enrollments_had_before_keys_existed() -> None:
    # Computed before keyed entries existed: running enrollments and their retries keep these ids.
    assert (
        enrollment_workflow_id("acme", JOURNEY, "ada@example.com", 2)
        == "enrollment:acme:3f0b7c3e-1d2a-4c5b-8e9f-0a1b2c3d4e5f:h-b5fc85e55755f9e0d030:2"
    )
    assert enrollment_id("acme", JOURNEY, "ada@example.com", 2) == "5498bad0-e26c-50ef-853e-25d190a36d6f"
    assert enrollment_id("acme", JOURNEY, "cust-1", 1) == "fa72aa00-4e1c-5bd2-a49f-01827c03dcce"
    assert enrollment_workflow_id("acme", JOURNEY, "cust-1", 1, "") == f"enrollment:acme:{JOURNEY}:cust-1:1"


def test_a_keyed_entry_has_its_own_ids_with_the_key_hashed() -> None:
    cart_a = enrollment_workflow_id("acme", JOURNEY, "cust-1", 1, "cart-A")
    digest = hashlib.sha256(b"cart-A").hexdigest()[:16]
    assert cart_a == f"enrollment:acme:{JOURNEY}:cust-1:k-{digest}:1"
    assert "cart-A" not in cart_a
    ids = {enrollment_id("acme", JOURNEY, "cust-1", 1, key) for key in ("", "cart-A", "cart-B", "cart-a")}
    workflow_ids = {
        enrollment_workflow_id("acme", JOURNEY, "cust-1", 1, key) for key in ("", "cart-A", "cart-B")
    }
    assert len(ids) == 4 and len(workflow_ids) == 3
    assert enrollment_id("acme", JOURNEY, "cust-1", 1, "cart-A") == enrollment_id(
        "acme", JOURNEY, "cust-1", 1, "cart-A"
    ), "a retried keyed entry finds itself"
    assert enrollment_id("acme", JOURNEY, "cust-1", 2, "cart-A") != enrollment_id(
        "acme", JOURNEY, "cust-1", 1, "cart-A"
    )


def test_a_key_that_is_personal_data_never_reaches_the_workflow_id() -> None:
    workflow_id = enrollment_workflow_id("acme", JOURNEY, "ada@example.com", 1, "ada@example.com")
    assert "@" not in workflow_id and "ada" not in workflow_id
    assert re.fullmatch(rf"enrollment:acme:{JOURNEY}:h-[0-9a-f]{{20}}:k-[0-9a-f]{{16}}:1", workflow_id)


# ---- the key an event enters with -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("properties", "key"),
    [
        ({"cartId": "A-1"}, "A-1"),
        ({"cartId": 42}, "42"),
        ({"cartId": 4.5}, "4.5"),
        ({"cartId": True}, "true"),
        ({"cartId": 0}, "0"),
        ({"cartId": "x" * MAX_ENTRY_KEY_LENGTH}, "x" * MAX_ENTRY_KEY_LENGTH),
        ({}, None),
        ({"cartId": None}, None),
        ({"cartId": ""}, None),
        ({"cartId": {"id": 1}}, None),
        ({"cartId": [1, 2]}, None),
        ({"cartId": "x" * (MAX_ENTRY_KEY_LENGTH + 1)}, None),
    ],
)
def test_the_key_is_the_value_at_the_path_as_text(properties: dict[str, Any], key: str | None) -> None:
    assert entry_key_of("properties.cartId", event(properties)) == key
    assert entry_key_of("cartId", event(properties)) == key, "properties are also at the top level"


def test_the_path_reads_nested_properties_and_traits() -> None:
    record = event({"cart": {"id": "C-9"}}, traits={"accountId": 7})
    assert entry_key_of("properties.cart.id", record) == "C-9"
    assert entry_key_of("traits.accountId", record) == "7"
    assert entry_key_of("properties.cart.missing", record) is None


# ---- which calls reach a keyed enrollment ---------------------------------------------------------


@pytest.mark.parametrize(
    ("properties", "heard"),
    [
        ({"cartId": "A"}, True),
        ({"cartId": "B"}, False),
        ({}, True),
        ({"cartId": None}, True),
        ({"cartId": ""}, True),
        ({"cartId": {"id": "A"}}, False),
        ({"other": "A"}, True),
    ],
)
def test_a_call_reaches_the_enrollment_of_its_key_or_all_without_one(
    properties: dict[str, Any], heard: bool
) -> None:
    assert reaches("properties.cartId", "A", event_document(event(properties))) is heard


def test_a_number_and_its_text_are_the_same_key() -> None:
    key = entry_key_of("properties.cartId", event({"cartId": 42}))
    assert key == "42"
    assert reaches("properties.cartId", key, event_document(event({"cartId": "42"})))
    assert not reaches("properties.cartId", key, event_document(event({"cartId": 43})))


# ---- the trigger ----------------------------------------------------------------------------------


def trigger(config: dict[str, Any]) -> Node:
    return NODE.validate_python({"id": "start", "type": "TRIGGER", "config": config})


def test_entry_key_is_read_from_the_wire_on_an_event_trigger() -> None:
    node = trigger({"triggerType": "EVENT", "event": "Cart Abandoned", "entryKey": "properties.cartId"})
    assert node.config.entry_key == "properties.cartId"  # type: ignore[union-attr]
    assert kind_of(node).issues(node) == []
    assert trigger({"triggerType": "EVENT", "event": "x"}).config.entry_key is None  # type: ignore[union-attr]


@pytest.mark.parametrize("trigger_type", ["MANUAL", "AUDIENCE", "SCHEDULE"])
def test_an_entry_key_on_another_trigger_is_a_publish_problem_at_its_field(trigger_type: str) -> None:
    config: dict[str, Any] = {"triggerType": trigger_type, "entryKey": "properties.cartId"}
    config |= {"AUDIENCE": {"segmentId": "s-1"}, "SCHEDULE": {"cron": "0 9 * * *"}}.get(trigger_type, {})
    node = trigger(config)
    [(loc, message)] = kind_of(node).issues(node)
    assert loc == ("config", "entryKey")
    assert trigger_type in message and "EVENT" in message


@pytest.mark.parametrize("path", ["", ".cartId", "properties.", "properties..cartId", "x" * 201])
def test_a_malformed_entry_key_path_is_refused(path: str) -> None:
    with pytest.raises(ValidationError) as refused:
        trigger({"triggerType": "EVENT", "event": "x", "entryKey": path})
    assert refused.value.errors()[0]["loc"][-1] == "entryKey"
