"""Keyed entries (`entryKey` on an EVENT trigger) through the API, as a client sends events: one
enrollment per customer and key value, in parallel; entry rules per key; an event with a key value
signals only the enrollment of that key, one without signals them all; keys never reach Temporal.

Real PostgreSQL, the Temporal dev server, a worker, and the outbox dispatcher the API client runs.
"""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.api.enums.v1 import EventType
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

from domain.payloads import EventSignal
from store.rows import EnrollmentRow, OutboxRow
from tests.conftest import ApiClientFor, RunWorker
from tests.integration.test_draft_problems import publish_errors
from tests.support import awaiting, eventually, publish

CUSTOMER = "shopper-1"
CART_A, CART_B, CART_C = "cart-7f3a", "cart-91bd", "cart-c0de"
_ids = itertools.count()


def abandoned_cart(**settings: Any) -> dict[str, Any]:
    """On `Cart Abandoned`, one enrollment per cartId waits up to an hour for `Order Completed`."""
    return {
        "name": "Abandoned cart",
        "settings": settings,
        "nodes": [
            {
                "id": "start",
                "type": "TRIGGER",
                "config": {
                    "triggerType": "EVENT",
                    "event": "Cart Abandoned",
                    "entryKey": "properties.cartId",
                },
            },
            {
                "id": "await",
                "type": "WAIT_FOR_EVENT",
                "config": {"event": "Order Completed", "timeout": "1 hour"},
            },
            {"id": "bought", "type": "END"},
            {"id": "gave-up", "type": "EXIT"},
        ],
        "edges": [
            {"sourceNodeId": "start", "targetNodeId": "await"},
            {"sourceNodeId": "await", "targetNodeId": "bought", "label": "matched"},
            {"sourceNodeId": "await", "targetNodeId": "gave-up", "label": "timeout"},
        ],
    }


def track(event: str, **properties: Any) -> dict[str, Any]:
    return {
        "type": "track",
        "userId": CUSTOMER,
        "event": event,
        "properties": properties,
        "messageId": f"m-{next(_ids)}",
    }


async def post(http: httpx.AsyncClient, body: dict[str, Any]) -> dict[str, Any]:
    response = await http.post("/v1/events", json=body)
    assert response.status_code == 202, response.text
    answer: dict[str, Any] = response.json()
    return answer


async def listed(http: httpx.AsyncClient, journey_id: str, status: str | None = None) -> list[dict[str, Any]]:
    query = f"?status={status}" if status else ""
    response = await http.get(f"/v1/journeys/{journey_id}/enrollments{query}")
    assert response.status_code == 200, response.text
    data: list[dict[str, Any]] = response.json()["data"]
    return data


async def signals_of(client: Client, workflow_id: str) -> list[str]:
    """The ids of the events signalled to a workflow, in Temporal's order."""
    history = await client.get_workflow_handle(workflow_id).fetch_history()
    found: list[str] = []
    for event in history.events:
        if event.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED:
            attributes = event.workflow_execution_signaled_event_attributes
            if attributes.signal_name != "event":
                continue
            [signal] = await client.data_converter.decode(attributes.input.payloads, [EventSignal])
            found.append(signal.event.id)
    return found


async def rows(sessions: async_sessionmaker[AsyncSession]) -> dict[str, EnrollmentRow]:
    """The enrollments by key value ('' for unkeyed ones; the latest entry of each key)."""
    async with sessions() as session:
        found = (await session.scalars(select(EnrollmentRow).order_by(EnrollmentRow.entry_number))).all()
    return {row.entry_key: row for row in found}


async def test_each_cart_is_its_own_enrollment_and_an_order_releases_only_its_cart(
    api_client_for: ApiClientFor,
    dev_env: WorkflowEnvironment,
    run_worker: RunWorker,
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    client = dev_env.client
    async with api_client_for(client) as http, run_worker(client):
        journey_id = await publish(http, abandoned_cart())
        first = await post(http, track("Cart Abandoned", cartId=CART_A, productName="Boots"))
        second = await post(http, track("Cart Abandoned", cartId=CART_B, productName="Hat"))
        assert (first["enrolled"], second["enrolled"]) == (1, 1), "two carts, two enrollments"
        assert second["signalled"] == 0, "cart A's enrollment does not hear cart B's abandonment"

        enrollments = await listed(http, journey_id, "ACTIVE")
        assert sorted((e["entryKey"], e["entryNumber"], e["customerId"]) for e in enrollments) == [
            (CART_A, 1, CUSTOMER),
            (CART_B, 1, CUSTOMER),
        ]
        by_key = await rows(sessions)
        a, b = by_key[CART_A], by_key[CART_B]
        for row in (a, b):
            assert row.entry_key_path == "properties.cartId"
            assert CART_A not in row.workflow_id and CART_B not in row.workflow_id
            assert ":k-" in row.workflow_id
        assert a.workflow_id != b.workflow_id
        detail = (await http.get(f"/v1/journeys/{journey_id}/enrollments/{a.id}")).json()
        assert detail["entryKey"] == CART_A and CART_A not in detail["temporalUrl"]
        handle_a, handle_b = (
            client.get_workflow_handle(a.workflow_id),
            client.get_workflow_handle(b.workflow_id),
        )
        await awaiting(handle_a, "event")
        await awaiting(handle_b, "event")

        # The same cart again while its enrollment runs: no second one (it hears the event instead).
        again = await post(http, track("Cart Abandoned", cartId=CART_A, productName="Boots"))
        assert (again["enrolled"], again["signalled"]) == (0, 1)
        # No cartId: enters nothing, and reaches every cart's enrollment.
        keyless = await post(http, track("Cart Abandoned", productName="Socks"))
        assert (keyless["enrolled"], keyless["signalled"]) == (0, 2)
        newsletter = await post(http, track("Newsletter Opened"))
        assert newsletter["signalled"] == 2

        order = await post(http, track("Order Completed", cartId=CART_A, total=120))
        assert (order["enrolled"], order["signalled"]) == (0, 1)
        result = await handle_a.result()
        assert result["status"] == "COMPLETED"

        await awaiting(handle_b, "event")
        heard_a, heard_b = await signals_of(client, a.workflow_id), await signals_of(client, b.workflow_id)
        assert heard_a == [
            again["messageId"],
            keyless["messageId"],
            newsletter["messageId"],
            order["messageId"],
        ]
        assert heard_b == [keyless["messageId"], newsletter["messageId"]], "cart B never heard cart A's order"

        # Cart A ended and re-entry is off: that key enters no more; a new cart still does.
        repeat = await post(http, track("Cart Abandoned", cartId=CART_A))
        third = await post(http, track("Cart Abandoned", cartId=CART_C))
        assert (repeat["enrolled"], third["enrolled"]) == (0, 1)
        assert repeat["signalled"] == 0, "cart A's enrollment has ended; cart B's has another key"
        assert third["signalled"] == 0

        # Exiting the customer by API exits every cart of theirs still open.
        c = (await rows(sessions))[CART_C]
        await awaiting(client.get_workflow_handle(c.workflow_id), "event")
        exited = await http.delete(f"/v1/journeys/{journey_id}/enrollments/{CUSTOMER}")
        assert exited.status_code == 204, exited.text
        results = [await client.get_workflow_handle(r.workflow_id).result() for r in (b, c)]
        assert [r["status"] for r in results] == ["EXITED", "EXITED"]

        async def all_ended() -> list[dict[str, Any]] | None:
            found = await listed(http, journey_id)
            return found if all(e["status"] != "ACTIVE" for e in found) else None

        final = await eventually(all_ended, what="every enrollment ended in the projection")
    assert sorted((e["entryKey"], e["status"]) for e in final) == [
        (CART_A, "COMPLETED"),
        (CART_B, "EXITED"),
        (CART_C, "EXITED"),
    ]


async def test_reentry_and_cooldown_count_per_key(
    api_client_for: ApiClientFor, dev_env: WorkflowEnvironment, sessions: async_sessionmaker[AsyncSession]
) -> None:
    # No worker: the workflows are started (and stay queued); this test is about who enters.
    async with api_client_for(dev_env.client) as http:
        journey_id = await publish(http, abandoned_cart(allowReentry=True, reentryCooldown="1 day"))
        assert (await post(http, track("Cart Abandoned", cartId=CART_A)))["enrolled"] == 1
        # As the projection records an enrollment that ended a moment ago.
        async with sessions() as session, session.begin():
            await session.execute(
                update(EnrollmentRow).values(status="COMPLETED", completed_at=datetime.now(UTC))
            )
        in_cooldown = await post(http, track("Cart Abandoned", cartId=CART_A))
        other_cart = await post(http, track("Cart Abandoned", cartId=CART_B))
        assert (in_cooldown["enrolled"], other_cart["enrolled"]) == (0, 1)

        async with sessions() as session, session.begin():
            await session.execute(
                update(EnrollmentRow)
                .where(EnrollmentRow.entry_key == CART_A)
                .values(completed_at=datetime.now(UTC) - timedelta(days=2))
            )
        # Cooldown passed: cart A enters again, as entry 2 of its key, beside cart B's entry 1.
        # Both in one batch, with a keyless call between that enters nothing.
        batch = await http.post(
            "/v1/events/batch",
            json={
                "batch": [
                    track("Cart Abandoned", cartId=CART_A),
                    track("Cart Abandoned"),
                    track("Cart Abandoned", cartId=CART_A),
                ]
            },
        )
        assert batch.status_code == 202, batch.text
        assert [r["enrolled"] for r in batch.json()["results"]] == [1, 0, 0]

        manual = await http.post(f"/v1/journeys/{journey_id}/enrollments", json={"customerId": CUSTOMER})
        assert manual.status_code == 201, manual.text
        assert manual.json()["entryKey"] is None and manual.json()["entryNumber"] == 1

        enrollments = await listed(http, journey_id)
    assert sorted((e["entryKey"] or "", e["entryNumber"], e["status"]) for e in enrollments) == [
        ("", 1, "ACTIVE"),
        (CART_A, 1, "COMPLETED"),
        (CART_A, 2, "ACTIVE"),
        (CART_B, 1, "ACTIVE"),
    ]
    by_key = await rows(sessions)
    assert by_key[CART_A].workflow_id.endswith(":2") and by_key[""].entry_key_path is None
    async with sessions() as session:
        starts = (await session.scalars(select(OutboxRow.workflow_id).where(OutboxRow.kind == "start"))).all()
    # The event entries' starts (the manual entry starts its workflow itself, after its commit).
    assert len(starts) == 3 and not any(CART_A in w or CART_B in w for w in starts)


async def test_an_entry_key_belongs_on_an_event_trigger(api_client_for: ApiClientFor) -> None:
    async with api_client_for(None) as http:
        body = abandoned_cart()
        body["nodes"][0]["config"] = {"triggerType": "MANUAL", "entryKey": "properties.cartId"}
        journey = (await http.post("/v1/journeys", json=body)).json()
        assert journey["publishable"] is False
        errors = await publish_errors(http, journey["id"])
        assert [e["loc"] for e in errors] == [["nodes", 0, "config", "entryKey"]]

        malformed = abandoned_cart()
        malformed["nodes"][0]["config"]["entryKey"] = "properties..cartId"
        refused = await http.post("/v1/journeys", json=malformed)
        assert refused.status_code == 422, refused.text
        assert refused.headers["content-type"].startswith("application/problem+json")
        assert "entryKey" in refused.json()["errors"][0]["loc"]
