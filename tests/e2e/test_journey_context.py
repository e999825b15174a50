"""Journeys that carry their context, end to end through the API, the dispatcher and a real worker.

The abandoned cart: two carts of one customer are two enrollments at once; the order of one cart releases
only that cart's enrollment (a WAIT_FOR_EVENT rule with `valueFrom` the entry event); the other times out
after its hour (on the time-skipping server) and its email names that cart's product. A three-tier
multi-branch CONDITION routes each customer to their tier, and analytics counts the branches.
"""

from __future__ import annotations

import itertools
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import httpx
import pytest
from temporalio.client import WorkflowHandle
from temporalio.testing import WorkflowEnvironment

from devstack import SmtpSink
from tests.conftest import ApiClientFor, RunWorker, result_skipping_time
from tests.journey_examples import abandoned_cart_journey, tiers_journey
from tests.support import eventually, publish

pytestmark = pytest.mark.e2e
HISTORIES = Path(__file__).resolve().parent.parent / "histories"
_ids = itertools.count()


def track(user: str, name: str, **properties: Any) -> dict[str, Any]:
    return {
        "type": "track",
        "userId": user,
        "event": name,
        "properties": properties,
        "messageId": f"ctx-{next(_ids)}",
        "timestamp": datetime.now(UTC).isoformat(),
    }


async def post(http: httpx.AsyncClient, event: dict[str, Any]) -> dict[str, Any]:
    response = await http.post("/v1/events", json=event)
    assert response.status_code == 202, response.text
    body: dict[str, Any] = response.json()
    return body


async def save_history(handle: WorkflowHandle[Any, Any], name: str) -> None:
    """Refresh the replay fixtures with JOURNEYS_REFRESH_HISTORIES=1 (after a deliberate change)."""
    if os.environ.get("JOURNEYS_REFRESH_HISTORIES") == "1":
        (HISTORIES / f"{name}.json").write_text((await handle.fetch_history()).to_json())


def handle_for(env: WorkflowEnvironment, detail: dict[str, Any]) -> WorkflowHandle[Any, Any]:
    return env.client.get_workflow_handle(unquote(detail["temporalUrl"].rsplit("/", 1)[-1]))


async def test_abandoned_cart_two_carts_at_once(
    api_client_for: ApiClientFor,
    own_time_skipping_env: WorkflowEnvironment,
    run_worker: RunWorker,
    smtp_sink: SmtpSink,
) -> None:
    env = own_time_skipping_env
    async with api_client_for(env.client) as http, run_worker(env.client):
        journey_id = await publish(http, abandoned_cart_journey())
        listing = f"/v1/journeys/{journey_id}/enrollments"
        traits = {"email": "kim@example.com", "firstName": "Kim"}
        assert (await http.put("/v1/customers/kim", json={"traits": traits})).status_code in (200, 201)

        kettle = await post(http, track("kim", "Cart Abandoned", cartId="A-1", productName="Blue Kettle"))
        mug = await post(http, track("kim", "Cart Abandoned", cartId="B-2", productName="Red Mug"))
        again = await post(http, track("kim", "Cart Abandoned", cartId="A-1", productName="Blue Kettle"))
        assert (kettle["enrolled"], mug["enrolled"], again["enrolled"]) == (1, 1, 0)

        rows = (await http.get(listing)).json()["data"]
        by_key = {row["entryKey"]: row for row in rows}
        assert set(by_key) == {"A-1", "B-2"} and {row["status"] for row in rows} == {"ACTIVE"}
        details = {key: (await http.get(f"{listing}/{row['id']}")).json() for key, row in by_key.items()}
        assert details["A-1"]["entryKey"] == "A-1"
        for detail in details.values():
            assert "A-1" not in unquote(detail["temporalUrl"]) and "B-2" not in unquote(detail["temporalUrl"])

        async def waiting(key: str) -> bool:
            detail = (await http.get(f"{listing}/{by_key[key]['id']}")).json()
            return bool(detail["live"] and detail["live"]["currentStepId"] == "order")

        async def completed(key: str) -> bool:
            return bool((await http.get(f"{listing}/{by_key[key]['id']}")).json()["status"] == "COMPLETED")

        await eventually(lambda: waiting("A-1"))
        await eventually(lambda: waiting("B-2"))
        ordered = await post(http, track("kim", "Order Completed", cartId="A-1", total=42))
        assert ordered["signalled"] == 1, "only the enrollment of the same cart"
        # The signal travels through the dispatch outbox: let it land before the clock may skip the hour
        # (time stands still until `result_skipping_time` unlocks it).
        await eventually(lambda: completed("A-1"))

        kettle_handle = handle_for(env, details["A-1"])
        assert (await result_skipping_time(env, kettle_handle))["status"] == "COMPLETED"
        mug_handle = handle_for(env, details["B-2"])
        assert (await result_skipping_time(env, mug_handle))["status"] == "COMPLETED"
        mail = await smtp_sink.wait_for(lambda m: "kim@example.com" in m.rcpt_tos, timeout=20)

        steps = {
            key: [
                (s["stepId"], s["status"], s.get("branch"))
                for s in (await http.get(f"{listing}/{row['id']}")).json()["steps"]
            ]
            for key, row in by_key.items()
        }
        await save_history(kettle_handle, "keyed_cart_matched")
        await save_history(mug_handle, "context_cart_reminder")

    assert mail.subject == "You left Red Mug in your cart"
    assert "Hi Kim, your Red Mug is waiting." in mail.text_body
    assert [m.subject for m in smtp_sink.messages()] == [mail.subject], "no reminder for the ordered cart"
    assert [step[:2] for step in steps["A-1"]] == [
        ("cart", "COMPLETED"),
        ("order", "COMPLETED"),
        ("done", "COMPLETED"),
    ]
    assert ("remind", "COMPLETED") in [step[:2] for step in steps["B-2"]]


async def test_three_tiers_route_each_customer_and_analytics_counts_the_branches(
    api_client_for: ApiClientFor,
    own_time_skipping_env: WorkflowEnvironment,
    run_worker: RunWorker,
    smtp_sink: SmtpSink,
) -> None:
    env = own_time_skipping_env
    spends = {"gia": 5000, "sam": 250, "bea": 20, "ben": 0}
    async with api_client_for(env.client) as http, run_worker(env.client):
        journey_id = await publish(http, tiers_journey())
        handles = []
        for customer, spend in spends.items():
            traits = {"email": f"{customer}@example.com", "firstName": customer.title(), "spend": spend}
            await http.put(f"/v1/customers/{customer}", json={"traits": traits})
            response = await http.post(
                f"/v1/journeys/{journey_id}/enrollments", json={"customerId": customer}
            )
            assert response.status_code == 201, response.text
            detail = (await http.get(f"/v1/journeys/{journey_id}/enrollments/{response.json()['id']}")).json()
            handles.append(handle_for(env, detail))
        for handle in handles:
            assert (await result_skipping_time(env, handle))["status"] == "COMPLETED"
        await save_history(handles[0], "multi_branch_tiers")

        async def all_mailed() -> bool:
            return len(smtp_sink.messages()) >= len(spends)

        await eventually(all_mailed)
        analytics = (await http.get(f"/v1/journeys/{journey_id}/analytics")).json()

    subjects = {m.rcpt_tos[0].split("@")[0]: m.subject for m in smtp_sink.messages()}
    assert subjects == {
        "gia": "Gold offer for Gia",
        "sam": "Silver offer for Sam",
        "bea": "Bronze offer for Bea",
        "ben": "Bronze offer for Ben",
    }
    counts = {b["label"]: b["count"] for b in analytics["branches"] if b["nodeId"] == "tier"}
    assert counts == {"gold": 1, "silver": 1, "else": 2}
