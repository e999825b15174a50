"""JSON log lines from the real app and the real worker carry the request's and the enrollment's ids."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator

import pytest
from temporalio.testing import WorkflowEnvironment

from tests.conftest import ApiClientFor, RunWorker
from tests.support import END, MAIL, TENANT, TRIGGER, chain, enroll, handle_of, publish
from tests.support_logs import JsonLines, json_lines_at_info


@pytest.fixture
def json_lines() -> Iterator[JsonLines]:
    with json_lines_at_info() as captured:
        yield captured


async def test_request_lines_carry_the_request_id_tenant_and_path_ids(
    api_client_for: ApiClientFor, json_lines: JsonLines
) -> None:
    async with api_client_for(None) as http:
        created = await http.post("/v1/journeys", json=chain(TRIGGER, END))
        assert created.status_code == 201, created.text
        journey_id = created.json()["id"]
        got = await http.get(f"/v1/journeys/{journey_id}", headers={"X-Request-Id": "abc"})
        published = await http.post(f"/v1/journeys/{journey_id}/publish", headers={"X-Request-Id": "pub-1"})
        enrollment_id = str(uuid.uuid4())
        missing = await http.get(f"/v1/journeys/{journey_id}/enrollments/{enrollment_id}")
        anonymous = await http.get("/v1/journeys", headers={"Authorization": ""})
        health = await http.get("/health")
    assert (got.status_code, published.status_code, missing.status_code) == (200, 200, 404)
    assert anonymous.status_code == 401
    assert health.status_code in (200, 503)  # 503: no Temporal behind this app, which is fine here
    assert got.headers["x-request-id"] == "abc"

    (access,) = json_lines.where(logger="journeys.access", request_id="abc")
    assert access["tenant_id"] == TENANT and access["journey_id"] == journey_id
    assert (access["method"], access["route"], access["status"]) == ("GET", "/v1/journeys/{journeyId}", 200)
    assert access["path"] == f"/v1/journeys/{journey_id}" and access["duration_ms"] >= 0
    assert "enrollment_id" not in access

    # The id AuditLog generated and echoed is the one the lines carry: one id per request.
    (creation,) = json_lines.where(logger="journeys.access", method="POST", route="/v1/journeys")
    assert creation["request_id"] == created.headers["x-request-id"] and creation["status"] == 201

    (lifecycle,) = json_lines.where(logger="services.journeys", request_id="pub-1")
    assert lifecycle["level"] == "INFO" and "DRAFT -> PUBLISHED" in lifecycle["message"]
    assert (lifecycle["tenant_id"], lifecycle["journey_id"]) == (TENANT, journey_id)

    (not_found,) = json_lines.where(logger="journeys.access", status=404)
    assert (not_found["journey_id"], not_found["enrollment_id"]) == (journey_id, enrollment_id)

    (refused,) = json_lines.where(logger="journeys.access", status=401)
    assert "tenant_id" not in refused and refused["request_id"] == anonymous.headers["x-request-id"]
    assert json_lines.where(logger="journeys.access", path="/health") == []  # probes: DEBUG only


async def test_an_activity_line_carries_the_enrollment_it_serves(
    api_client_for: ApiClientFor,
    time_skipping_env: WorkflowEnvironment,
    run_worker: RunWorker,
    json_lines: JsonLines,
) -> None:
    client = time_skipping_env.client
    customer = "bob@example.com"  # an id that is PII: no line may contain it
    send = {"id": "hello", "type": "SEND", "name": "hello", "config": dict(MAIL)}
    async with api_client_for(client) as http, run_worker(client):
        journey_id = await publish(http, chain(TRIGGER, send, END))
        enrollment = await enroll(http, journey_id, customer, email=None)  # nowhere to send to
        handle = handle_of(client, journey_id, customer)
        result = await handle.result()
    assert result["status"] == "FAILED", result

    (failed,) = [
        line
        for line in json_lines.where(logger="temporalio.activity", activity_type="send_message")
        if line["message"].startswith("send failed: InvalidRecipient")
    ]
    assert failed["level"] == "WARNING"
    assert failed["tenant_id"] == TENANT
    assert (failed["journey_id"], failed["enrollment_id"]) == (journey_id, enrollment["id"])
    assert failed["workflow_id"] == handle.id

    (started,) = json_lines.where(logger="services.temporal", enrollment_id=enrollment["id"])
    assert started["level"] == "INFO" and started["message"].startswith("enrollment workflow")
    assert started["journey_id"] == journey_id and started["request_id"]

    # (httpx's lines are this test's own client; configure_logging keeps httpx at WARNING anyway.)
    service_lines = [line for line in json_lines.all() if line["logger"] not in ("httpx", "httpcore")]
    assert [line for line in service_lines if customer in json.dumps(line)] == []
