"""End to end on the dev server: event sources drive journeys through POST /v1/events.

An event enrolls a customer (posted three times, it enrolls once), a later event releases the
WAIT_FOR_EVENT, segment membership steers a CONDITION, a goal event converts the enrollment; a
segment pattern assigns another customer and enrolls them in an AUDIENCE journey whose email arrives.
"""

from __future__ import annotations

import itertools
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from temporalio.testing import WorkflowEnvironment

from devstack import SmtpSink
from tests.conftest import RunWorker
from tests.support import eventually, publish

pytestmark = pytest.mark.e2e
_ids = itertools.count()


def track(user: str, name: str, message_id: str | None = None, **properties: Any) -> dict[str, Any]:
    return {
        "type": "track",
        "userId": user,
        "event": name,
        "properties": properties,
        "messageId": message_id or f"m-{next(_ids)}",
        "timestamp": datetime.now(UTC).isoformat(),
    }


async def post(http: httpx.AsyncClient, event: dict[str, Any]) -> dict[str, Any]:
    response = await http.post("/v1/events", json=event)
    assert response.status_code == 202, response.text
    body: dict[str, Any] = response.json()
    return body


def trial_journey(vip_segment: str) -> dict[str, Any]:
    mail = {"channel": "EMAIL", "body": "Hello {{ traits.firstName }}"}
    return {
        "name": "Trial",
        "goalConfig": {"type": "event", "config": {"eventName": "subscribed"}, "exitOnConversion": True},
        "nodes": [
            {
                "id": "start",
                "type": "TRIGGER",
                "config": {
                    "triggerType": "EVENT",
                    "event": "trial_started",
                    "rules": [{"field": "plan", "operator": "eq", "value": "pro"}],
                },
            },
            {"id": "welcome", "type": "SEND", "config": {**mail, "subject": "Welcome"}},
            {
                "id": "activation",
                "type": "WAIT_FOR_EVENT",
                "config": {"event": "activated", "timeout": "1 day"},
            },
            {
                "id": "vip",
                "type": "CONDITION",
                "config": {"rules": [{"field": "segments", "operator": "contains", "value": vip_segment}]},
            },
            {"id": "vip-mail", "type": "SEND", "config": {**mail, "subject": "VIP tips"}},
            {"id": "cool-off", "type": "WAIT", "config": {"duration": "1 day"}},
            {"id": "end", "type": "END"},
        ],
        "edges": [
            {"sourceNodeId": "start", "targetNodeId": "welcome"},
            {"sourceNodeId": "welcome", "targetNodeId": "activation"},
            {"sourceNodeId": "activation", "targetNodeId": "vip", "label": "matched"},
            {"sourceNodeId": "activation", "targetNodeId": "end", "label": "timeout"},
            {"sourceNodeId": "vip", "targetNodeId": "vip-mail", "label": "yes"},
            {"sourceNodeId": "vip", "targetNodeId": "cool-off", "label": "no"},
            {"sourceNodeId": "vip-mail", "targetNodeId": "cool-off"},
            {"sourceNodeId": "cool-off", "targetNodeId": "end"},
        ],
    }


def audience_journey(segment_id: str) -> dict[str, Any]:
    return {
        "name": "Pricing visitors",
        "nodes": [
            {
                "id": "start",
                "type": "TRIGGER",
                "config": {"triggerType": "AUDIENCE", "segmentId": segment_id},
            },
            {
                "id": "offer",
                "type": "SEND",
                "config": {
                    "channel": "EMAIL",
                    "subject": "An offer for {{ traits.firstName }}",
                    "body": "10% off",
                },
            },
            {"id": "end", "type": "EXIT"},
        ],
        "edges": [
            {"sourceNodeId": "start", "targetNodeId": "offer"},
            {"sourceNodeId": "offer", "targetNodeId": "end"},
        ],
    }


async def test_events_drive_a_journey_end_to_end(
    api_client: httpx.AsyncClient, dev_env: WorkflowEnvironment, run_worker: RunWorker, smtp_sink: SmtpSink
) -> None:
    http = api_client
    vip = (await http.post("/v1/segments", json={"displayName": "VIP"})).json()["id"]
    journey_id = await publish(http, trial_journey(vip))
    enrollments = f"/v1/journeys/{journey_id}/enrollments"

    async with run_worker(dev_env.client):
        identify = {
            "type": "identify",
            "userId": "ada",
            "traits": {"email": "ada@example.com", "firstName": "Ada", "externalContactId": "crm-7"},
            "messageId": "id-1",
            "timestamp": datetime.now(UTC).isoformat(),
        }
        await post(http, identify)
        assigned = await http.post(
            "/v1/externalcontacts/crm-7/segments", json=[{"segmentId": vip, "state": "Assigned"}]
        )
        assert assigned.status_code == 200, assigned.text

        wrong_plan = await post(http, track("ada", "trial_started", plan="free"))
        assert wrong_plan["enrolled"] == 0, "the trigger's property rule must hold"
        started = track("ada", "trial_started", message_id="trial-1", plan="pro")
        first, second, third = [await post(http, started) for _ in range(3)]
        assert first["enrolled"] == 1 and not first["duplicate"]
        assert second["duplicate"] and third["duplicate"] and second["enrolled"] == 1, (
            "the first result, again"
        )
        rows = (await http.get(enrollments)).json()
        assert rows["meta"]["total"] == 1
        enrollment_path = f"{enrollments}/{rows['data'][0]['id']}"

        async def at(step: str) -> bool:
            detail = (await http.get(enrollment_path)).json()
            return bool(detail["live"] and detail["live"]["currentStepId"] == step)

        await eventually(lambda: at("activation"))
        activated = await post(http, track("ada", "activated"))
        assert activated["signalled"] == 1
        await eventually(lambda: at("cool-off"))

        converted = await post(http, track("ada", "subscribed"))
        assert converted["signalled"] == 1

        async def ended() -> bool:
            return bool((await http.get(enrollment_path)).json()["status"] == "EXITED")

        await eventually(ended)
        detail = (await http.get(enrollment_path)).json()

    assert detail["converted"] is True
    assert [s["stepId"] for s in detail["steps"]] == [
        "start",
        "welcome",
        "activation",
        "vip",
        "vip-mail",
        "cool-off",
    ]
    assert {m.subject for m in smtp_sink.messages()} == {"Welcome", "VIP tips"}, (
        "the CONDITION saw the segment"
    )


async def test_a_segment_pattern_assigns_and_enrolls_into_an_audience_journey(
    api_client: httpx.AsyncClient, dev_env: WorkflowEnvironment, run_worker: RunWorker, smtp_sink: SmtpSink
) -> None:
    http = api_client
    pattern = {
        "eventName": "viewed_pricing",
        "count": 2,
        "criteria": [{"key": "plan", "values": ["team"], "operator": "equal", "shouldIgnoreCase": True}],
    }
    segment = await http.post(
        "/v1/segments", json={"displayName": "Pricing visitors", "journey": {"patterns": [pattern]}}
    )
    assert segment.status_code == 201, segment.text
    journey_id = await publish(http, audience_journey(segment.json()["id"]))

    async with run_worker(dev_env.client):
        await post(
            http,
            {
                "type": "identify",
                "userId": "bo",
                "traits": {"email": "bo@example.com", "firstName": "Bo"},
                "messageId": "id-bo",
                "timestamp": datetime.now(UTC).isoformat(),
            },
        )
        once = await post(http, track("bo", "viewed_pricing", plan="Team"))
        twice = await post(http, track("bo", "viewed_pricing", plan="team"))
        assert once["segmentsChanged"] == 0 and twice["segmentsChanged"] == 1 and twice["enrolled"] == 1
        mail = await smtp_sink.wait_for(lambda m: "bo@example.com" in m.rcpt_tos, timeout=20)
        segments = (await http.get("/v1/customers/userId/bo/segments")).json()

    assert mail.subject == "An offer for Bo"
    assert [item["state"] for item in segments["data"]] == ["Assigned"]
    listed = (await http.get(f"/v1/journeys/{journey_id}/enrollments")).json()
    assert [e["customerId"] for e in listed["data"]] == ["bo"]
