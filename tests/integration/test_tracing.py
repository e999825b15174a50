"""Tracing end to end: the real app and worker export OTLP/HTTP to a fake collector on a socket.

The API and the worker are wired exactly as `journeys api` / `journeys worker` wire them (the app from
`AppResources.from_settings` + `create_app`, the worker's client from `connect_client` with
`temporal_interceptors`), each with its own service name, on the Temporal dev server.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from temporalio.testing import WorkflowEnvironment

from devstack import SmtpSink
from plumbing import tracing
from plumbing.codec import data_converter
from plumbing.settings import Settings
from services.temporal import connect_client
from tests.conftest import ApiClientFor, RunWorker
from tests.support import END, MAIL, TRIGGER, chain, enroll, handle_of, publish
from tests.support_logs import json_lines_at_info
from tests.support_otlp import FakeCollector, ReceivedSpan, fake_collector

CUSTOMER = "ann@example.com"  # a customer id that is PII: it must not reach any span


@pytest.fixture
def collector() -> Iterator[FakeCollector]:
    with fake_collector() as running:
        yield running
        tracing.shutdown()  # this test's providers: flushed (while the collector listens), stopped


@pytest.fixture
def settings(settings: Settings, collector: FakeCollector, dev_env: WorkflowEnvironment) -> Settings:
    return settings.model_copy(
        update={
            "otlp_endpoint": collector.url,
            "temporal_address": dev_env.client.service_client.config.target_host,
        }
    )


def one(spans: list[ReceivedSpan], name: str, **attributes: Any) -> ReceivedSpan:
    found = [
        s for s in spans if s.name == name and all(s.attributes.get(k) == v for k, v in attributes.items())
    ]
    assert len(found) == 1, (name, attributes, [(s.service, s.name) for s in spans])
    return found[0]


async def test_a_request_and_the_enrollment_it_starts_are_one_trace(
    settings: Settings,
    collector: FakeCollector,
    api_client_for: ApiClientFor,
    run_worker: RunWorker,
    smtp_sink: SmtpSink,
) -> None:
    worker_client = await connect_client(
        settings.temporal_address,
        settings.temporal_namespace,
        data_converter(settings),
        interceptors=tracing.temporal_interceptors(settings, tracing.WORKER_SERVICE),
    )
    send = {"id": "hello", "type": "SEND", "name": "hello", "config": dict(MAIL)}
    with json_lines_at_info() as lines:
        async with api_client_for(None) as http, run_worker(worker_client):
            journey_id = await publish(http, chain(TRIGGER, send, END))
            assert (await http.get("/health")).status_code == 200
            await enroll(http, journey_id, CUSTOMER, email=CUSTOMER)
            result = await handle_of(worker_client, journey_id, CUSTOMER).result()
    assert result["status"] == "COMPLETED", result
    assert len(smtp_sink.messages()) == 1

    assert tracing.force_flush()
    spans = collector.received()
    assert collector.refused == []

    route = "/v1/journeys/{journeyId}/enrollments"
    server = one(spans, f"POST {route}")
    assert server.is_server and server.service == tracing.API_SERVICE
    assert server.parent_span_id == ""  # the trace begins at the request
    start = one(spans, "StartWorkflow:EnrollmentWorkflow")
    assert (start.service, start.parent_span_id) == (tracing.API_SERVICE, server.span_id)
    run = one(spans, "RunWorkflow:EnrollmentWorkflow")
    activity = one(spans, "RunActivity:send_message")
    assert run.service == activity.service == tracing.WORKER_SERVICE
    assert {s.trace_id for s in (server, start, run, activity)} == {server.trace_id}

    # Logs join the trace: the request's access line and the enrollment's start line carry its ids.
    (access,) = lines.where(logger="journeys.access", method="POST", route=route)
    assert (access["trace_id"], access["span_id"]) == (server.trace_id, server.span_id)
    (started,) = lines.where(logger="services.temporal", journey_id=journey_id)
    assert started["trace_id"] == server.trace_id

    # /health is not traced; no span names the customer (their id is an email address).
    assert not [s for s in spans if "health" in s.name or s.attributes.get("http.target") == "/health"]
    leaks = [
        (s.name, k, v)
        for s in spans
        for k, v in s.attributes.items()
        if isinstance(v, str) and ("ann@" in v or "ann%40" in v)
    ]
    assert leaks == []
