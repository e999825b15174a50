"""End to end with the real SDKs: segment-analytics-python and rudder-sdk-python, pointed at the app
served over real HTTP (uvicorn, a real socket), changed in nothing but their host and write key, gzip on.

What they send (read from their source): `POST {host}/v1/batch`, `Authorization: Basic
base64(writeKey:)`, `Content-Encoding: gzip`, a body `{"batch": [...], "sentAt", "writeKey"?}` whose
calls carry `context.library`, `integrations`, `messageId`, `timestamp` — and RudderStack's identify
puts its traits only in `context.traits`, and marks every call `channel: "server"`.

Then the whole way: the events are stored for the source, the traits land on the customers, and with
the Temporal dev server, a worker and the outbox dispatcher running, a published EVENT-triggered
journey enters each customer and its email arrives in the SMTP sink.
"""

from __future__ import annotations

import asyncio
import json
import threading
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest
import uvicorn
from rudderstack.analytics.client import Client as RudderClient
from segment.analytics.client import Client as SegmentClient
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.testing import WorkflowEnvironment

from api.app import create_app
from api.resources import AppResources
from devstack import SmtpSink, find_free_port
from plumbing.settings import Settings
from services.dispatcher import Dispatcher
from services.temporal import EnrollmentGateway, TemporalConnection
from store.db import create_engine
from tests.conftest import TEST_DISPATCHER, TEST_JWT_SECRET, RunWorker, token_for
from tests.support import eventually

pytestmark = pytest.mark.e2e

WELCOME_JOURNEY = {
    "name": "Welcome, from the SDKs",
    "nodes": [
        {
            "id": "start",
            "type": "TRIGGER",
            "config": {
                "triggerType": "EVENT",
                "event": "Signed Up",
                "rules": [{"field": "plan", "operator": "eq", "value": "trial"}],
            },
        },
        {
            "id": "welcome",
            "type": "SEND",
            "config": {"channel": "EMAIL", "subject": "Welcome, {{ traits.firstName }}!", "body": "Hi."},
        },
        {"id": "done", "type": "EXIT"},
    ],
    "edges": [
        {"sourceNodeId": "start", "targetNodeId": "welcome"},
        {"sourceNodeId": "welcome", "targetNodeId": "done"},
    ],
}


@asynccontextmanager
async def served(settings: Settings, database_url: str) -> AsyncIterator[str]:
    """The app as `journeys api` runs it (its own resources, closed on shutdown), served by uvicorn
    on a free port from a background thread; yields its base URL."""
    resources = AppResources.from_settings(settings, database_url=database_url, jwt_secret=TEST_JWT_SECRET)
    app = create_app(resources, close_resources_on_shutdown=True)
    port = find_free_port()
    # log_config=None: uvicorn leaves the process's logging as it is (other tests read it).
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None))
    thread = threading.Thread(target=server.run, name="uvicorn", daemon=True)
    thread.start()
    try:

        async def started() -> bool:  # the server runs in another thread
            return bool(server.started)

        await eventually(started, timeout=15, interval=0.02)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await asyncio.to_thread(thread.join, 15)


@asynccontextmanager
async def dispatching(settings: Settings, database_url: str, env: WorkflowEnvironment) -> AsyncIterator[None]:
    """The outbox dispatcher, in process, carrying the events' starts and signals to Temporal."""
    engine = create_engine(database_url, pool_size=5)
    connection = TemporalConnection(
        env.client.service_client.config.target_host, env.client.namespace, client=env.client
    )
    gateway = EnrollmentGateway(connection, settings.temporal_task_queue, settings.temporal_ui_url)
    try:
        async with Dispatcher(engine, gateway, config=TEST_DISPATCHER).running():
            yield
    finally:
        await engine.dispose()


def send_with_segment(host: str, write_key: str, errors: list[str]) -> None:
    client = SegmentClient(
        write_key,
        host=host,
        gzip=True,
        max_retries=1,
        on_error=lambda error, _batch: errors.append(f"segment: {error!r}"),
    )
    client.identify("ada", {"email": "ada@example.com", "firstName": "Ada"})
    client.track("ada", "Signed Up", {"plan": "trial"})
    client.flush()
    client.join()


def send_with_rudderstack(host: str, write_key: str, errors: list[str]) -> None:
    client = RudderClient(
        write_key,
        host=host,
        gzip=True,
        max_retries=1,
        on_error=lambda error, _batch: errors.append(f"rudderstack: {error!r}"),
    )
    client.identify("grace", {"email": "grace@example.com", "firstName": "Grace"})
    client.track("grace", "Signed Up", {"plan": "trial"})
    client.flush()
    client.join()


async def stored_events(sessions: async_sessionmaker[AsyncSession]) -> list[dict[str, Any]]:
    async with sessions() as session:
        rows = await session.execute(
            text(
                "SELECT user_id, type, name, properties, traits, context, extra, source_id"
                " FROM events ORDER BY id"
            )
        )
        return [dict(row) for row in rows.mappings()]


async def test_the_segment_and_rudderstack_sdks_send_events_that_run_journeys(
    settings: Settings,
    database_url: str,
    sessions: async_sessionmaker[AsyncSession],
    dev_env: WorkflowEnvironment,
    run_worker: RunWorker,
    smtp_sink: SmtpSink,
) -> None:
    api_settings = settings.model_copy(
        update={"temporal_address": dev_env.client.service_client.config.target_host}
    )
    errors: list[str] = []
    async with (
        served(api_settings, database_url) as base_url,
        httpx.AsyncClient(
            base_url=base_url, headers={"Authorization": f"Bearer {token_for('acme')}"}
        ) as http,
        run_worker(dev_env.client),
        dispatching(settings, database_url, dev_env),
    ):
        source = (await http.post("/v1/sources", json={"name": "Backend"})).json()
        created = await http.post("/v1/journeys", json=WELCOME_JOURNEY)
        assert created.status_code == 201, created.text
        journey_id = created.json()["id"]
        assert (await http.post(f"/v1/journeys/{journey_id}/publish")).status_code == 200

        await asyncio.to_thread(send_with_segment, base_url, source["writeKey"], errors)
        await asyncio.to_thread(send_with_rudderstack, base_url, source["writeKey"], errors)
        assert errors == []

        ada = (await http.get("/v1/customers/ada")).json()
        grace = (await http.get("/v1/customers/grace")).json()
        mails = [
            await smtp_sink.wait_for(lambda m: "ada@example.com" in m.rcpt_tos, timeout=30),
            await smtp_sink.wait_for(lambda m: "grace@example.com" in m.rcpt_tos, timeout=30),
        ]

        async def completed() -> dict[str, Any] | None:
            listed: dict[str, Any] = (await http.get(f"/v1/journeys/{journey_id}/enrollments")).json()
            done = [e for e in listed["data"] if e["status"] == "COMPLETED"]
            return listed if len(done) == 2 else None

        enrollments = await eventually(completed, timeout=30, interval=0.1)
        rejections = (await http.get(f"/v1/sources/{source['id']}/rejections")).json()

    events = await stored_events(sessions)
    assert [(e["user_id"], e["type"]) for e in events] == [
        ("ada", "identify"),
        ("ada", "track"),
        ("grace", "identify"),
        ("grace", "track"),
    ]
    assert {e["source_id"] for e in events} == {uuid.UUID(source["id"])}
    assert all(e["context"]["library"]["name"] == "analytics-python" for e in events)
    assert events[1]["name"] == "Signed Up" and events[1]["properties"] == {"plan": "trial"}
    assert events[2]["traits"] == {"email": "grace@example.com", "firstName": "Grace"}, "from context.traits"
    assert events[2]["extra"]["channel"] == "server" and events[2]["extra"]["integrations"] == {"All": True}
    assert all("sentAt" in e["extra"] for e in events), "the SDKs' sentAt is kept"
    assert source["writeKey"] not in json.dumps(events, default=str)
    assert rejections["meta"]["total"] == 0

    assert ada["traits"] == {"email": "ada@example.com", "firstName": "Ada"}
    assert grace["traits"] == {"email": "grace@example.com", "firstName": "Grace"}
    assert sorted(m.subject for m in mails) == ["Welcome, Ada!", "Welcome, Grace!"]
    assert {e["customerId"] for e in enrollments["data"]} == {"ada", "grace"}
