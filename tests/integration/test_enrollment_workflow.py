"""EnrollmentWorkflow on the time-skipping server, driven through the API as a client would."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import httpx
from temporalio.client import WorkflowHandle
from temporalio.testing import WorkflowEnvironment

from devstack import SmtpSink
from tests.conftest import ApiClientFor, RunWorker, result_skipping_time

HISTORIES = Path(__file__).resolve().parent.parent / "histories"


def drip_journey() -> dict[str, Any]:
    """Mail, wait 3 days, mail again: a long journey the time-skipping server finishes at once."""
    mail = {"channel": "EMAIL", "subject": "Hello {{ traits.firstName }}", "body": "Day {{ traits.day }}"}
    return {
        "name": "Drip",
        "nodes": [
            {"id": "start", "type": "TRIGGER"},
            {"id": "first", "type": "SEND", "name": "First mail", "config": dict(mail)},
            {"id": "pause", "type": "WAIT", "name": "Three days", "config": {"duration": "3 days"}},
            {"id": "second", "type": "SEND", "name": "Second mail", "config": dict(mail)},
            {"id": "end", "type": "EXIT"},
        ],
        "edges": [
            {"sourceNodeId": "start", "targetNodeId": "first"},
            {"sourceNodeId": "first", "targetNodeId": "pause"},
            {"sourceNodeId": "pause", "targetNodeId": "second"},
            {"sourceNodeId": "second", "targetNodeId": "end"},
        ],
    }


async def enroll(http: httpx.AsyncClient, journey: dict[str, Any], customer: str) -> dict[str, Any]:
    created = (await http.post("/v1/journeys", json=journey)).json()
    assert (await http.post(f"/v1/journeys/{created['id']}/publish")).status_code == 200
    response = await http.post(f"/v1/journeys/{created['id']}/enrollments", json={"customerId": customer})
    assert response.status_code == 201, response.text
    enrollment: dict[str, Any] = response.json()
    return enrollment


async def save_history(handle: WorkflowHandle[Any, Any], name: str) -> None:
    """Refresh the replay fixtures with JOURNEYS_REFRESH_HISTORIES=1 (after a deliberate change)."""
    if os.environ.get("JOURNEYS_REFRESH_HISTORIES") == "1":
        history = await handle.fetch_history()
        (HISTORIES / f"{name}.json").write_text(history.to_json())


async def test_thirty_day_style_waits_finish_in_seconds(
    api_client_for: ApiClientFor,
    time_skipping_env: WorkflowEnvironment,
    run_worker: RunWorker,
    smtp_sink: SmtpSink,
) -> None:
    client = time_skipping_env.client
    async with api_client_for(client) as http, run_worker(client):
        await http.put(
            "/v1/customers/c1", json={"traits": {"email": "c1@example.com", "firstName": "Cy", "day": 1}}
        )
        enrollment = await enroll(http, drip_journey(), "c1")
        rows = (await http.get(f"/v1/journeys/{enrollment['journeyId']}/enrollments")).json()
        assert [row["id"] for row in rows["data"]] == [enrollment["id"]]

        detail = (
            await http.get(f"/v1/journeys/{enrollment['journeyId']}/enrollments/{enrollment['id']}")
        ).json()
        handle = client.get_workflow_handle(detail["temporalUrl"].rsplit("/", 1)[-1].replace("%3A", ":"))
        result = await result_skipping_time(time_skipping_env, handle)
        assert result["status"] == "COMPLETED"

        detail = (
            await http.get(f"/v1/journeys/{enrollment['journeyId']}/enrollments/{enrollment['id']}")
        ).json()
        await save_history(handle, "send_wait_send")

    assert detail["status"] == "COMPLETED"
    steps = {s["stepId"]: s for s in detail["steps"]}
    assert set(steps) == {"start", "first", "pause", "second", "end"}
    assert all(s["status"] == "COMPLETED" for s in steps.values())
    # The wait really took three (skipped) days of workflow time.
    waited = _seconds_between(steps["pause"]["startedAt"], steps["pause"]["completedAt"])
    assert waited >= 3 * 86400
    assert len([m for m in smtp_sink.messages() if "c1@example.com" in m.rcpt_tos]) == 2


async def test_send_without_address_follows_failure_policy(
    api_client_for: ApiClientFor, time_skipping_env: WorkflowEnvironment, run_worker: RunWorker
) -> None:
    client = time_skipping_env.client
    journey = drip_journey()
    journey["nodes"][1]["config"]["onFailure"] = "skip"
    async with api_client_for(client) as http, run_worker(client):
        await http.put("/v1/customers/nomail", json={"traits": {"firstName": "No", "day": 1}})
        enrollment = await enroll(http, journey, "nomail")
        path = f"/v1/journeys/{enrollment['journeyId']}/enrollments/{enrollment['id']}"
        workflow_id = (await http.get(path)).json()["temporalUrl"].rsplit("/", 1)[-1].replace("%3A", ":")
        handle = client.get_workflow_handle(workflow_id)
        result = await result_skipping_time(time_skipping_env, handle)
        await save_history(handle, "send_failure_policies")
        detail = (await http.get(path)).json()
        messages = (await http.get("/v1/messages?status=failed")).json()

    # First send skipped (policy skip), second send failed the enrollment (policy fail, the default).
    assert result["status"] == "FAILED" and detail["status"] == "FAILED"
    statuses = {s["stepId"]: s["status"] for s in detail["steps"]}
    assert statuses == {"start": "COMPLETED", "first": "SKIPPED", "pause": "COMPLETED", "second": "FAILED"}
    assert messages["meta"]["total"] == 2
    assert all("no `email` trait" in m["error"] for m in messages["data"])


def _seconds_between(start: str, end: str) -> float:
    from datetime import datetime

    return (datetime.fromisoformat(end) - datetime.fromisoformat(start)).total_seconds()
