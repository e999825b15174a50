"""Prometheus endpoints of a real worker process and of the API: the Temporal SDK's metrics and the
product's own, with the figures the run must have produced."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import IO

import httpx
import pytest
from temporalio.testing import WorkflowEnvironment

from api.app import create_app
from api.resources import AppResources
from devstack import SmtpSink, find_free_port
from plumbing.settings import Settings
from tests.conftest import TEST_JWT_SECRET, token_for
from tests.support import MAIL, TRIGGER, WorkerProcess, chain, enroll, eventually, worker_environment

pytestmark = pytest.mark.e2e

_SAMPLE = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$")
_LABEL = re.compile(r'(\w+)="((?:[^"\\]|\\.)*)"')

Samples = list[tuple[str, dict[str, str], float]]


async def scrape(address: str) -> Samples:
    async with httpx.AsyncClient() as http:
        response = await http.get(f"http://{address}/metrics")
    assert response.status_code == 200
    samples: Samples = []
    for line in response.text.splitlines():
        if line.startswith("#") or not line.strip():
            continue
        match = _SAMPLE.match(line)
        assert match is not None, f"not Prometheus text format: {line!r}"
        name, labels, value = match.groups()
        samples.append((name, dict(_LABEL.findall(labels or "")), float(value)))
    return samples


def total(samples: Samples, name: str, **labels: str) -> float:
    return sum(
        value
        for sample, held, value in samples
        if sample == name and all(held.get(k) == v for k, v in labels.items())
    )


@asynccontextmanager
async def api_with_metrics(settings: Settings, database_url: str) -> AsyncIterator[httpx.AsyncClient]:
    """The app as `journeys api` builds it: its own Temporal client on its own runtime."""
    resources = AppResources.from_settings(settings, database_url=database_url, jwt_secret=TEST_JWT_SECRET)
    transport = httpx.ASGITransport(app=create_app(resources))
    headers = {"Authorization": f"Bearer {token_for('acme')}"}
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://api", headers=headers) as http:
            yield http
    finally:
        await resources.close()


async def test_worker_and_api_serve_sdk_and_product_metrics(
    dev_env: WorkflowEnvironment,
    settings: Settings,
    database_url: str,
    smtp_sink: SmtpSink,
    worker_log: IO[bytes],
) -> None:
    temporal_address = dev_env.client.service_client.config.target_host
    worker_metrics = f"127.0.0.1:{find_free_port()}"
    api_metrics = f"127.0.0.1:{find_free_port()}"
    api_settings = settings.model_copy(
        update={"temporal_address": temporal_address, "metrics_address": api_metrics}
    )
    worker = WorkerProcess(
        worker_environment(
            database_url,
            temporal_address,
            settings,
            smtp_sink,
            JOURNEYS_METRICS_ADDRESS=worker_metrics,
        ),
        worker_log,
    )
    worker.start()
    try:
        async with api_with_metrics(api_settings, database_url) as http:
            send = {"id": "hello", "type": "SEND", "config": {**MAIL, "subject": "hello"}}
            created = await http.post(
                "/v1/journeys", json=chain(TRIGGER, send, {"id": "end", "type": "EXIT"})
            )
            journey_id = created.json()["id"]
            assert (await http.post(f"/v1/journeys/{journey_id}/publish")).status_code == 200
            for customer in ("m-1", "m-2", "m-3"):
                await enroll(http, journey_id, customer)
            # No email: the send is refused without retry and the enrollment fails (the default policy).
            await http.put("/v1/customers/m-4", json={"traits": {"firstName": "D"}})
            assert (
                await http.post(f"/v1/journeys/{journey_id}/enrollments", json={"customerId": "m-4"})
            ).status_code == 201
            event = {"type": "track", "userId": "m-1", "event": "Opened", "messageId": "evt-m-1"}
            assert (await http.post("/v1/events", json=event)).status_code == 202
            assert (await http.post("/v1/events", json=event)).status_code == 202  # a duplicate
            batch = {"batch": [{"type": "identify", "userId": "m-2", "traits": {"plan": "pro"}}]}
            assert (await http.post("/v1/events/batch", json=batch)).status_code == 202

            async def none_active() -> bool:
                listed = await http.get(f"/v1/journeys/{journey_id}/enrollments?status=ACTIVE&limit=1")
                return bool(listed.json()["meta"]["total"] == 0)

            await eventually(none_active, timeout=60, interval=0.2)
            api = await scrape(api_metrics)
        # Finished enrollments are counted before their final projection write lands.
        worker_samples = await scrape(worker_metrics)
    finally:
        worker.stop()

    assert total(worker_samples, "journeys_enrollments_started_total") == 4
    assert total(worker_samples, "journeys_enrollments_ended_total", status="COMPLETED") == 3
    assert total(worker_samples, "journeys_enrollments_ended_total", status="FAILED") == 1
    assert total(worker_samples, "journeys_steps_total", node_type="SEND", status="COMPLETED") == 3
    assert total(worker_samples, "journeys_steps_total", node_type="SEND", status="FAILED") == 1
    assert total(worker_samples, "journeys_sends_total", channel="EMAIL", status="sent") == 3
    assert total(worker_samples, "journeys_sends_total", channel="EMAIL", status="failed") == 1
    assert total(worker_samples, "journeys_send_duration_seconds_count", channel="EMAIL") == 4
    # The SDK's own, labelled with the task queue and the process's component tag.
    queue = settings.temporal_task_queue
    assert total(worker_samples, "temporal_workflow_completed_total", task_queue=queue) >= 3
    assert total(worker_samples, "temporal_workflow_task_execution_latency_count", component="worker") > 0
    assert len(smtp_sink.messages()) == 3

    enrollments_route = "/v1/journeys/{journeyId}/enrollments"
    assert (
        total(api, "journeys_http_requests_total", method="POST", route=enrollments_route, status="201") == 4
    )
    assert (
        total(api, "journeys_http_request_duration_seconds_count", method="POST", route=enrollments_route)
        == 4
    )
    assert total(api, "journeys_events_ingested_total", type="track", outcome="accepted") == 1
    assert total(api, "journeys_events_ingested_total", type="track", outcome="duplicate") == 1
    assert total(api, "journeys_events_ingested_total", type="identify", outcome="accepted") == 1
    assert total(api, "journeys_event_ingest_duration_seconds_count", request="batch") == 1
    assert total(api, "temporal_request_total", component="api") > 0, "the API's Temporal client"
