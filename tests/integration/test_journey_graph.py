"""GET /v1/journeys/{id}/graph on the real stack: the layout, live counts at each node, edge shares."""

from __future__ import annotations

from typing import Any

from temporalio.testing import WorkflowEnvironment

from tests.conftest import ApiClientFor, RunWorker
from tests.support import enroll, eventually, publish


def split_to_waits() -> dict[str, Any]:
    """TRIGGER → SPLIT 50/50 → (WAIT 1 day | WAIT 1 day) → EXIT."""
    nodes = [
        {"id": "start", "type": "TRIGGER", "name": "Manual", "config": {"triggerType": "MANUAL"}},
        {
            "id": "ab",
            "type": "SPLIT",
            "name": "A/B",
            "config": {"splits": [{"key": "a", "percentage": 50}, {"key": "b", "percentage": 50}]},
        },
        {"id": "wa", "type": "WAIT", "name": "A waits", "config": {"duration": "1 day"}},
        {"id": "wb", "type": "WAIT", "name": "B waits", "config": {"duration": "1 day"}},
        {"id": "done", "type": "EXIT", "name": "Done"},
    ]
    edges = [
        ("start", "ab", "next"),
        ("ab", "wa", "a"),
        ("ab", "wb", "b"),
        ("wa", "done", "next"),
        ("wb", "done", "next"),
    ]
    return {
        "name": "Graph",
        "nodes": nodes,
        "edges": [{"sourceNodeId": s, "targetNodeId": t, "label": label} for s, t, label in edges],
    }


async def test_live_counts_and_shares_follow_the_enrollments(
    api_client_for: ApiClientFor, dev_env: WorkflowEnvironment, run_worker: RunWorker
) -> None:
    async with api_client_for(dev_env.client) as http, run_worker(dev_env.client):
        journey_id = await publish(http, split_to_waits())
        enrollments = [(await enroll(http, journey_id, f"g{i}"))["id"] for i in range(6)]

        async def graph() -> dict[str, Any]:
            response = await http.get(f"/v1/journeys/{journey_id}/graph")
            assert response.status_code == 200, response.text
            body: dict[str, Any] = response.json()
            return body

        async def all_waiting() -> dict[str, Any] | None:
            body = await graph()
            active = {n["id"]: n["counts"]["active"] for n in body["nodes"]}
            split = sum(e["count"] for e in body["edges"] if e["source"] == "ab")
            return body if active["wa"] + active["wb"] == 6 and split == 6 else None

        body = await eventually(all_waiting, timeout=30, what="six enrollments waiting")
        assert (body["version"], body["versions"], body["status"]) == (1, [1], "PUBLISHED")
        nodes = {n["id"]: n for n in body["nodes"]}
        assert [nodes[i]["layer"] for i in ("start", "ab", "wa", "wb", "done")] == [0, 1, 2, 2, 3]
        assert nodes["start"]["counts"]["completed"] == 6 and nodes["ab"]["counts"]["entered"] == 6
        split = {e["label"]: e for e in body["edges"] if e["source"] == "ab"}
        assert split["a"]["count"] + split["b"]["count"] == 6
        assert split["a"]["count"] == nodes["wa"]["counts"]["active"]
        assert abs(split["a"]["share"] + split["b"]["share"] - 1) < 1e-9
        waits = [e for e in body["edges"] if e["target"] == "done"]
        assert all(e["count"] == 0 and e["share"] is None for e in waits), "nobody has left a wait yet"

        # One moves on (an operator skips its wait): the node it left counts one fewer.
        at_a = nodes["wa"]["counts"]["active"]
        mover = None
        for enrollment_id in enrollments:
            detail = (await http.get(f"/v1/journeys/{journey_id}/enrollments/{enrollment_id}")).json()
            if detail["currentStepId"] == ("wa" if at_a else "wb"):
                mover = enrollment_id
                break
        assert mover is not None
        skipped = await http.post(
            f"/v1/journeys/{journey_id}/enrollments/{mover}/actions", json={"action": "skipWait"}
        )
        assert skipped.status_code == 200, skipped.text
        left = "wa" if at_a else "wb"

        async def moved() -> dict[str, Any] | None:
            body = await graph()
            node = next(n for n in body["nodes"] if n["id"] == left)
            return body if node["counts"]["completed"] == 1 else None

        body = await eventually(moved, timeout=30, what="one enrollment moved on")
        node = next(n for n in body["nodes"] if n["id"] == left)
        assert node["counts"]["active"] == (at_a or 6) - 1
        edge = next(e for e in body["edges"] if e["source"] == left)
        assert (edge["count"], edge["share"]) == (1, 1.0)

        assert (await http.get(f"/v1/journeys/{journey_id}/graph", params={"version": 9})).status_code == 404
    async with api_client_for(None, tenant="other") as other:
        hidden = await other.get(f"/v1/journeys/{journey_id}/graph")
        assert hidden.status_code == 404


async def test_a_draft_never_published_is_drawn_without_counts(api_client_for: ApiClientFor) -> None:
    async with api_client_for(None) as http:
        created = await http.post("/v1/journeys", json=split_to_waits())
        assert created.status_code == 201, created.text
        body = (await http.get(f"/v1/journeys/{created.json()['id']}/graph")).json()
        assert (body["version"], body["versions"]) == (None, [])
        assert {n["id"] for n in body["nodes"]} == {"start", "ab", "wa", "wb", "done"}
        assert all(not any(n["counts"].values()) for n in body["nodes"])
