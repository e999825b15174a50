"""End to end: POST /v1/events → EVENT-triggered journey on the dev server → SMTP socket."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from temporalio.testing import WorkflowEnvironment

from devstack import SmtpSink
from tests.conftest import RunWorker
from tests.support import eventually

pytestmark = pytest.mark.e2e

SIGNED_UP_JOURNEY = {
    "name": "Signed up",
    "nodes": [
        {
            "id": "start",
            "type": "TRIGGER",
            "config": {
                "triggerType": "EVENT",
                "event": "signed_up",
                "rules": [{"field": "plan", "operator": "eq", "value": "trial"}],
            },
        },
        {
            "id": "welcome",
            "type": "SEND",
            "name": "Welcome email",
            "config": {
                "channel": "EMAIL",
                "subject": "Welcome, {{ traits.firstName }}!",
                "body": "Trial on.",
            },
        },
        {"id": "done", "type": "EXIT"},
    ],
    "edges": [
        {"sourceNodeId": "start", "targetNodeId": "welcome"},
        {"sourceNodeId": "welcome", "targetNodeId": "done"},
    ],
}


async def test_a_posted_event_enrolls_and_the_email_arrives(
    api_client: httpx.AsyncClient, dev_env: WorkflowEnvironment, run_worker: RunWorker, smtp_sink: SmtpSink
) -> None:
    http = api_client
    created = await http.post("/v1/journeys", json=SIGNED_UP_JOURNEY)
    assert created.status_code == 201, created.text
    journey_id = created.json()["id"]
    assert (await http.post(f"/v1/journeys/{journey_id}/publish")).status_code == 200

    async with run_worker(dev_env.client):
        identified = await http.post(
            "/v1/events",
            json={
                "type": "identify",
                "userId": "grace",
                "traits": {"email": "grace@example.com", "firstName": "Grace"},
            },
        )
        assert identified.status_code == 202, identified.text
        posted = await http.post(
            "/v1/events",
            json={
                "type": "track",
                "userId": "grace",
                "event": "signed_up",
                "properties": {"plan": "trial"},
                "messageId": "e2e-signup-1",
            },
        )
        assert posted.status_code == 202, posted.text
        assert posted.json()["enrolled"] == 1

        mail = await smtp_sink.wait_for(lambda m: "grace@example.com" in m.rcpt_tos, timeout=20)

        async def completed() -> dict[str, Any] | None:
            listed: dict[str, Any] = (await http.get(f"/v1/journeys/{journey_id}/enrollments")).json()
            return listed if listed["data"] and listed["data"][0]["status"] == "COMPLETED" else None

        listed = await eventually(completed, timeout=20, interval=0.1)

    assert mail.subject == "Welcome, Grace!"
    assert listed["meta"]["total"] == 1 and listed["data"][0]["customerId"] == "grace"
    messages = (await http.get(f"/v1/messages?journeyId={journey_id}")).json()
    assert [m["status"] for m in messages["data"]] == ["sent"]
