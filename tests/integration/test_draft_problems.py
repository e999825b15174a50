"""A draft may stay incomplete, but every journey answer says whether it could be published, and why
not: `publishable` and `problems` — the very items publish would answer in its 422."""

from __future__ import annotations

import copy
from typing import Any

import httpx

from tests.conftest import ApiClientFor
from tests.journey_examples import welcome_journey


def broken_journey() -> dict[str, Any]:
    """The welcome journey with a second TRIGGER and an edge to a node that does not exist."""
    body = welcome_journey("Broken")
    body["nodes"].append(
        {"id": "again", "type": "TRIGGER", "name": "Second", "config": {"triggerType": "MANUAL"}}
    )
    body["edges"].append({"sourceNodeId": "welcome", "targetNodeId": "nowhere", "label": "next"})
    return body


async def publish_errors(http: httpx.AsyncClient, journey_id: str) -> list[dict[str, Any]]:
    response = await http.post(f"/v1/journeys/{journey_id}/publish")
    assert response.status_code == 422, response.text
    errors: list[dict[str, Any]] = response.json()["errors"]
    return errors


async def test_a_broken_draft_is_created_and_says_what_publish_will_answer(
    api_client_for: ApiClientFor,
) -> None:
    async with api_client_for(None) as http:
        created = await http.post("/v1/journeys", json=broken_journey())
        assert created.status_code == 201, created.text
        journey = created.json()
        assert journey["publishable"] is False
        messages = [p["msg"] for p in journey["problems"]]
        assert any("exactly one TRIGGER" in m for m in messages), messages
        assert any("unknown node 'nowhere'" in m for m in messages), messages

        path = f"/v1/journeys/{journey['id']}"
        assert await publish_errors(http, journey["id"]) == journey["problems"]
        assert (await http.get(path)).json()["problems"] == journey["problems"]
        listed = (await http.get("/v1/journeys")).json()["data"]
        assert [j["problems"] for j in listed if j["id"] == journey["id"]] == [journey["problems"]]
        patched = (await http.patch(path, json={"description": "still broken"})).json()
        assert patched["publishable"] is False and patched["problems"] == journey["problems"]


async def test_a_good_draft_is_publishable_with_no_problems(api_client_for: ApiClientFor) -> None:
    async with api_client_for(None) as http:
        journey = (await http.post("/v1/journeys", json=welcome_journey())).json()
        assert journey["publishable"] is True and journey["problems"] == []
        path = f"/v1/journeys/{journey['id']}"
        published = (await http.post(f"{path}/publish")).json()
        assert published["status"] == "PUBLISHED"
        assert published["publishable"] is True and published["problems"] == []
        paused = (await http.post(f"{path}/pause")).json()
        assert paused["publishable"] is True and paused["problems"] == []
        for listed in (await http.get("/v1/journeys")).json()["data"]:
            assert listed["publishable"] is (listed["problems"] == [])


async def test_canvas_saves_answer_the_problems_of_what_they_saved(api_client_for: ApiClientFor) -> None:
    async with api_client_for(None) as http:
        journey = (await http.post("/v1/journeys", json=welcome_journey())).json()
        path = f"/v1/journeys/{journey['id']}"
        broken = broken_journey()
        saved = await http.put(f"{path}/canvas", json={"nodes": broken["nodes"], "edges": broken["edges"]})
        assert saved.status_code == 200, saved.text
        assert saved.json()["publishable"] is False
        assert saved.json()["problems"] == await publish_errors(http, journey["id"])

        # Unreachable node and a missing outgoing edge: other rules, the same agreement.
        dangling = copy.deepcopy(welcome_journey())
        dangling["edges"] = dangling["edges"][:1]
        saved = await http.put(
            f"{path}/canvas", json={"nodes": dangling["nodes"], "edges": dangling["edges"]}
        )
        assert saved.json()["publishable"] is False
        assert saved.json()["problems"] == await publish_errors(http, journey["id"])

        good = welcome_journey()
        fixed = await http.put(f"{path}/canvas", json={"nodes": good["nodes"], "edges": good["edges"]})
        assert fixed.json()["publishable"] is True and fixed.json()["problems"] == []
        assert (await http.post(f"{path}/publish")).status_code == 200


async def test_a_schedule_trigger_that_cannot_run_is_a_problem_as_publish_says(
    api_client_for: ApiClientFor,
) -> None:
    async with api_client_for(None) as http:
        body = welcome_journey("Scheduled")
        body["nodes"][0]["config"] = {
            "triggerType": "SCHEDULE",
            "cron": "every morning",
            "segmentId": "00000000-0000-0000-0000-000000000000",
        }
        journey = (await http.post("/v1/journeys", json=body)).json()
        assert journey["publishable"] is False
        assert [p["loc"] for p in journey["problems"]] == [
            ["nodes", 0, "config", "cron"],
            ["nodes", 0, "config", "segmentId"],
        ]
        assert await publish_errors(http, journey["id"]) == journey["problems"]


async def test_step_edits_are_judged_like_the_rest(api_client_for: ApiClientFor) -> None:
    async with api_client_for(None) as http:
        journey = (await http.post("/v1/journeys", json=welcome_journey())).json()
        path = f"/v1/journeys/{journey['id']}"
        added = await http.post(f"{path}/steps", json={"type": "WAIT", "config": {"duration": "1 day"}})
        assert added.status_code == 201, added.text
        assert (await http.get(path)).json()["problems"] == []
        # Deleting the EXIT leaves the WAIT before it without a way on.
        assert (await http.delete(f"{path}/steps/done")).status_code == 204
        after = (await http.get(path)).json()
        assert after["publishable"] is False
        assert [p["msg"] for p in after["problems"]] == [
            f"WAIT node {added.json()['id']!r} is missing outgoing edge(s): next"
        ]
        assert after["problems"] == await publish_errors(http, journey["id"])
