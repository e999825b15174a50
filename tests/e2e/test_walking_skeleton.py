"""SPEC step 6, all real: HTTP API → Temporal dev server → worker → SMTP socket → projections."""

from __future__ import annotations

import httpx
import pytest
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

from devstack import SmtpSink
from tests.conftest import RunWorker
from tests.journey_examples import welcome_journey
from tests.support import eventually

pytestmark = pytest.mark.e2e


async def _wait_for_status(
    http: httpx.AsyncClient, path: str, status: str, timeout: float = 20
) -> dict[str, object]:
    async def reached() -> dict[str, object] | None:
        body: dict[str, object] = (await http.get(path)).json()
        return body if body.get("status") == status else None

    return await eventually(reached, timeout=timeout, interval=0.1, what=f"{path} {status}")


async def test_manual_enrollment_sends_email_and_completes(
    api_client: httpx.AsyncClient, dev_env: WorkflowEnvironment, run_worker: RunWorker, smtp_sink: SmtpSink
) -> None:
    http = api_client
    response = await http.put(
        "/v1/customers/cust-42", json={"traits": {"email": "ada@example.com", "firstName": "Ada"}}
    )
    assert response.status_code == 200, response.text

    created = await http.post("/v1/journeys", json=welcome_journey())
    assert created.status_code == 201, created.text
    journey = created.json()
    assert journey["status"] == "DRAFT" and journey["_count"] == {"nodes": 3, "edges": 2, "enrollments": 0}

    published = await http.post(f"/v1/journeys/{journey['id']}/publish")
    assert published.status_code == 200, published.text
    assert published.json()["status"] == "PUBLISHED" and published.json()["version"] == 1

    async with run_worker(dev_env.client):
        enrolled = await http.post(
            f"/v1/journeys/{journey['id']}/enrollments", json={"customerId": "cust-42"}
        )
        assert enrolled.status_code == 201, enrolled.text
        enrollment = enrolled.json()
        assert enrollment["status"] == "ACTIVE" and enrollment["version"] == 1

        mail = await smtp_sink.wait_for(lambda m: "ada@example.com" in m.rcpt_tos, timeout=20)
        assert mail.subject == "Welcome, Ada!"
        assert "Hi Ada, thanks for joining." in mail.text_body

        detail_path = f"/v1/journeys/{journey['id']}/enrollments/{enrollment['id']}"
        detail = await _wait_for_status(http, detail_path, "COMPLETED")

    assert detail["status"] == "COMPLETED", detail
    assert detail["completedAt"] is not None
    steps = detail["steps"]
    assert isinstance(steps, list)
    assert [(s["stepId"], s["status"]) for s in steps] == [
        ("start", "COMPLETED"),
        ("welcome", "COMPLETED"),
        ("done", "COMPLETED"),
    ]
    assert all(s["startedAt"] and s["completedAt"] for s in steps)
    assert "/workflows/" in str(detail["temporalUrl"])

    messages = (await http.get("/v1/messages")).json()
    assert messages["meta"]["total"] == 1
    [message] = messages["data"]
    assert message["status"] == "sent"
    assert message["recipient"] == "ada@example.com"
    assert message["providerMessageId"] == mail.message_id
    assert message["idempotencyKey"] == f"{enrollment['id']}:welcome:1"

    totals = (await http.get(f"/v1/journeys/{journey['id']}")).json()["totals"]
    assert totals["enrolled"] == 1 and totals["completed"] == 1

    # Operators see readable ids, the summary and search attributes — and no PII.
    workflow_id = await _describe_workflow_id(dev_env.client, journey["id"])
    assert workflow_id.startswith("enrollment:acme:") and "ada@example.com" not in workflow_id


async def _describe_workflow_id(client: Client, journey_id: str) -> str:
    async def listed() -> list[str]:  # visibility is eventually consistent
        return [w.id async for w in client.list_workflows(f"JourneyId = '{journey_id}'")]

    ids = await eventually(listed, timeout=5, interval=0.1)
    assert len(ids) == 1
    return ids[0]
