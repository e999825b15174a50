"""POST /v1/events: triggers, signals to running enrollments, dedup, identity, limits."""

from __future__ import annotations

from typing import Any

import httpx
from temporalio.testing import WorkflowEnvironment

from tests.conftest import ApiClientFor, RunWorker, result_skipping_time
from tests.integration.test_api_contract import assert_problem
from tests.support import awaiting, handle_of, moved_on, publish

ONBOARDING: dict[str, Any] = {
    "name": "Onboarding",
    "goalConfig": {"type": "event", "config": {"eventName": "upgraded"}},
    "nodes": [
        {
            "id": "start",
            "type": "TRIGGER",
            "config": {
                "triggerType": "EVENT",
                "event": "signed_up",
                "rules": [{"field": "plan", "operator": "in", "value": ["free", "trial"]}],
            },
        },
        {
            "id": "await",
            "type": "WAIT_FOR_EVENT",
            "name": "Await purchase",
            "config": {"event": "purchase", "timeout": "3 days"},
        },
        {"id": "goal", "type": "GOAL_CHECK"},
        {"id": "done", "type": "END"},
        {"id": "out", "type": "EXIT"},
    ],
    "edges": [
        {"sourceNodeId": "start", "targetNodeId": "await"},
        {"sourceNodeId": "await", "targetNodeId": "goal", "label": "matched"},
        {"sourceNodeId": "await", "targetNodeId": "out", "label": "timeout"},
        {"sourceNodeId": "goal", "targetNodeId": "done", "label": "yes"},
        {"sourceNodeId": "goal", "targetNodeId": "out", "label": "no"},
    ],
}


def track(user: str | None, event: str, message_id: str | None = None, **properties: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"type": "track", "event": event, "properties": properties}
    if user is not None:
        body["userId"] = user
    if message_id is not None:
        body["messageId"] = message_id
    return body


async def post_event(http: httpx.AsyncClient, body: dict[str, Any]) -> dict[str, Any]:
    response = await http.post("/v1/events", json=body)
    assert response.status_code == 202, response.text
    result: dict[str, Any] = response.json()
    return result


def simple_journey(name: str, event: str, *, allow_anonymous: bool = False) -> dict[str, Any]:
    return {
        "name": name,
        "settings": {"allowAnonymous": allow_anonymous},
        "nodes": [
            {"id": "start", "type": "TRIGGER", "config": {"triggerType": "EVENT", "event": event}},
            {"id": "hold", "type": "WAIT", "config": {"duration": "1 day"}},
            {"id": "end", "type": "EXIT"},
        ],
        "edges": [
            {"sourceNodeId": "start", "targetNodeId": "hold"},
            {"sourceNodeId": "hold", "targetNodeId": "end"},
        ],
    }


async def test_an_event_triggers_signals_and_converts_an_enrollment(
    api_client_for: ApiClientFor, time_skipping_env: WorkflowEnvironment, run_worker: RunWorker
) -> None:
    client = time_skipping_env.client
    async with api_client_for(client) as http, run_worker(client):
        journey_id = await publish(http, ONBOARDING)
        refused = await post_event(http, track("big-co", "signed_up", plan="enterprise"))
        assert refused["enrolled"] == 0, "the trigger's rules do not match"
        other_name = await post_event(http, track("ada", "logged_in", plan="free"))
        assert other_name["enrolled"] == 0

        started = await post_event(http, track("ada", "signed_up", "m-1", plan="free"))
        assert started == {
            "messageId": "m-1",
            "customerId": "ada",
            "enrolled": 1,
            "signalled": 0,
            "segmentsChanged": 0,
            "duplicate": False,
        }
        handle = handle_of(client, journey_id, "ada")
        await awaiting(handle, "event")

        converted = await post_event(http, track("ada", "upgraded"))
        assert converted["enrolled"] == 0 and converted["signalled"] == 1
        released = await post_event(http, track("ada", "purchase", amount=30))
        assert released["signalled"] == 1
        await moved_on(handle, "event")
        result = await result_skipping_time(time_skipping_env, handle)

        listed = (await http.get(f"/v1/journeys/{journey_id}/enrollments")).json()
        mine = (await http.get("/v1/customers/ada/enrollments?status=COMPLETED")).json()
    assert result["status"] == "COMPLETED" and result["converted"] is True
    assert listed["meta"]["total"] == 1, "big-co never entered"
    assert mine["meta"]["total"] == 1 and mine["data"][0]["journeyId"] == journey_id


async def test_the_same_event_three_times_enrolls_once(
    api_client_for: ApiClientFor, time_skipping_env: WorkflowEnvironment
) -> None:
    async with api_client_for(time_skipping_env.client) as http:
        journey_id = await publish(http, simple_journey("Once", "signed_up"))
        event = track("bo", "signed_up", "dup-1")
        first = await post_event(http, event)
        second = await post_event(http, event)
        third = await post_event(http, {**event, "properties": {"changed": True}})
        batch = await http.post("/v1/events/batch", json={"batch": [event, track("bo", "other", "dup-2")]})
        enrollments = (await http.get(f"/v1/journeys/{journey_id}/enrollments")).json()
    assert first["enrolled"] == 1 and first["duplicate"] is False
    assert second == {**first, "duplicate": True}
    assert third == {**first, "duplicate": True}
    assert batch.status_code == 202, batch.text
    assert batch.json()["accepted"] == 1 and batch.json()["duplicates"] == 1
    assert batch.json()["results"][0] == {**first, "duplicate": True}
    assert enrollments["meta"]["total"] == 1


async def test_identify_merges_traits_and_records_identifiers(api_client_for: ApiClientFor) -> None:
    async with api_client_for(None) as http:
        await http.put("/v1/customers/u1", json={"traits": {"firstName": "Ada", "plan": "free"}})
        await post_event(
            http, {"type": "identify", "userId": "u1", "traits": {"plan": "pro", "email": "Ada@Example.com"}}
        )
        customer = (await http.get("/v1/customers/u1")).json()
    assert customer["traits"] == {"firstName": "Ada", "plan": "pro", "email": "Ada@Example.com"}
    assert customer["identifiers"]["userId"] == ["u1"]
    assert customer["identifiers"]["email"] == ["ada@example.com"]
    assert customer["identifiers"]["anonymousId"] == []


async def test_an_anonymous_id_is_merged_into_the_user_id(api_client_for: ApiClientFor) -> None:
    async with api_client_for(None) as http:
        seen = await post_event(http, {"type": "page", "anonymousId": "a-1", "properties": {"url": "/x"}})
        await post_event(
            http, {"type": "identify", "anonymousId": "a-1", "traits": {"color": "blue", "plan": "free"}}
        )
        anonymous = (await http.get("/v1/customers/anon-a-1")).json()
        await http.put("/v1/customers/u2", json={"traits": {"plan": "pro"}})
        await post_event(
            http, {"type": "identify", "userId": "u2", "anonymousId": "a-1", "traits": {"name": "Bo"}}
        )
        known = (await http.get("/v1/customers/u2")).json()
        later = await post_event(http, {"type": "track", "anonymousId": "a-1", "event": "clicked"})
    assert seen["customerId"] == "anon-a-1" and anonymous["traits"]["color"] == "blue"
    assert known["traits"] == {"color": "blue", "plan": "pro", "name": "Bo"}, "anonymous traits go under"
    assert known["identifiers"]["anonymousId"] == ["a-1"] and known["identifiers"]["userId"] == ["u2"]
    assert later["customerId"] == "u2"


async def test_anonymous_events_enter_only_journeys_that_allow_them(
    api_client_for: ApiClientFor, time_skipping_env: WorkflowEnvironment
) -> None:
    async with api_client_for(time_skipping_env.client) as http:
        await publish(http, simple_journey("Known only", "viewed"))
        open_to_all = await publish(http, simple_journey("Anyone", "viewed", allow_anonymous=True))
        anonymous = await post_event(http, {"type": "track", "anonymousId": "a-7", "event": "viewed"})
        known = await post_event(http, track("u7", "viewed"))
        entered = (await http.get(f"/v1/journeys/{open_to_all}/enrollments")).json()
    assert anonymous["enrolled"] == 1 and known["enrolled"] == 2
    assert {e["customerId"] for e in entered["data"]} == {"anon-a-7", "u7"}


async def test_page_events_match_page_triggers(
    api_client_for: ApiClientFor, time_skipping_env: WorkflowEnvironment
) -> None:
    async with api_client_for(time_skipping_env.client) as http:
        await publish(http, simple_journey("Pages", "page"))
        page = await post_event(http, {"type": "page", "userId": "u8", "name": "Home"})
        tracked = await post_event(http, track("u9", "page"))
    assert page["enrolled"] == 1 and tracked["enrolled"] == 0


async def test_size_limits_are_413_and_bad_items_422(api_client_for: ApiClientFor) -> None:
    small = track("u1", "x")
    async with api_client_for(None) as http:
        too_many = await http.post("/v1/events/batch", json={"batch": [small] * 501})
        big_item = await http.post(
            "/v1/events/batch", json={"batch": [small, track("u1", "x", blob="y" * 33 * 1024)]}
        )
        big_event = await http.post("/v1/events", json=track("u1", "x", blob="y" * 33 * 1024))
        huge_batch = await http.post(
            "/v1/events/batch", json={"batch": [track("u1", "x", blob="y" * 20_000) for _ in range(30)]}
        )
        malformed = await http.post(
            "/v1/events/batch", json={"batch": [small, {"type": "track", "userId": "u1", "evnt": "x"}]}
        )
        unknown_type = await http.post("/v1/events", json={"type": "teleport", "userId": "u1"})
        nobody = await http.post("/v1/events", json={"type": "track", "event": "x"})
        nameless = await http.post("/v1/events", json={"type": "track", "userId": "u1"})
        accepted = await http.post("/v1/events/batch", json={"batch": [small, small]})
    for response in (too_many, big_item, big_event, huge_batch):
        assert_problem(response, 413)
    assert "501" in too_many.json()["detail"] and "batch[1]" in big_item.json()["detail"]
    locs = [e["loc"] for e in assert_problem(malformed, 422)["errors"]]  # type: ignore[union-attr]
    assert ["body", "batch", 1, "evnt"] in locs
    assert ["body", "type"] in [e["loc"] for e in assert_problem(unknown_type, 422)["errors"]]  # type: ignore[union-attr]
    assert "userId" in assert_problem(nobody, 422)["detail"]  # type: ignore[operator]
    assert "event" in assert_problem(nameless, 422)["detail"]  # type: ignore[operator]
    assert accepted.status_code == 202 and accepted.json()["accepted"] == 2, (
        "no messageId: never deduplicated"
    )


async def test_posting_events_needs_the_event_scope(api_client_for: ApiClientFor) -> None:
    async with api_client_for(None, scopes=["journey:journey:view"]) as http:
        assert_problem(await http.post("/v1/events", json=track("u1", "x")), 403)
        assert_problem(await http.post("/v1/events/batch", json={"batch": [track("u1", "x")]}), 403)
