"""Long histories: on a dev server that suggests continuing as new after a dozen events, an
enrollment continues as new at its waits and a lifecycle change continues as new between pages —
and neither loses, repeats or forgets anything on the way."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
import pytest_asyncio
from temporalio.client import Client, WorkflowExecutionStatus
from temporalio.service import RPCError
from temporalio.testing import WorkflowEnvironment

from devstack import SmtpSink
from domain.payloads import JOURNEY_CONTROL_WORKFLOW, JourneyControlInput
from plumbing.settings import Settings
from tests.conftest import ApiClientFor, RunWorker, start_dev_server
from tests.support import END, MAIL, TENANT, TRIGGER, awaiting, chain, enroll, eventually, handle_of, publish

pytestmark = pytest.mark.e2e

SUGGEST_AFTER_EVENTS = 12


@pytest_asyncio.fixture(scope="module")
async def short_history_env() -> AsyncIterator[WorkflowEnvironment]:
    env = await start_dev_server(
        "--dynamic-config-value", f"limit.historyCount.suggestContinueAsNew={SUGGEST_AFTER_EVENTS}"
    )
    yield env
    await env.shutdown()


async def runs_of(client: Client, workflow_id: str) -> list[WorkflowExecutionStatus | None]:
    return [run.status async for run in client.list_workflows(f'WorkflowId = "{workflow_id}"')]


def step(node_id: str, subject: str) -> dict[str, Any]:
    return {"id": node_id, "type": "SEND", "config": {**MAIL, "subject": subject}}


def nap(node_id: str) -> dict[str, Any]:
    return {"id": node_id, "type": "WAIT", "config": {"duration": "1 second"}}


async def test_an_enrollment_continues_as_new_at_its_waits(
    short_history_env: WorkflowEnvironment,
    api_client_for: ApiClientFor,
    run_worker: RunWorker,
    smtp_sink: SmtpSink,
) -> None:
    client = short_history_env.client
    # Entered by an event: its context (`entry`) must reach the last run's send.
    by_event = {**TRIGGER, "config": {"triggerType": "EVENT", "event": "went_long"}}
    nodes = [by_event, step("s1", "one"), nap("w1"), step("s2", "two"), nap("w2"), step("s3", "three")]
    last = step("s4", "four {{ entry.properties.tag }}")
    async with api_client_for(client) as http, run_worker(client):
        journey_id = await publish(http, chain(*nodes, nap("w3"), last, END))
        profile = {"email": "long@example.com", "firstName": "Lo"}
        await http.put("/v1/customers/long", json={"traits": profile})
        entry = {"type": "track", "userId": "long", "event": "went_long", "properties": {"tag": "kept"}}
        assert (await http.post("/v1/events", json=entry)).json()["enrolled"] == 1
        handle = handle_of(client, journey_id, "long")

        async def started() -> bool:  # the dispatcher starts it from the outbox, just after the 202
            try:
                await handle.describe()
            except RPCError:
                return False
            return True

        await eventually(started)
        result = await handle.result()
        assert result["status"] == "COMPLETED"

        detail = await http.get(f"/v1/journeys/{journey_id}/enrollments?status=COMPLETED")
        assert detail.json()["meta"]["total"] == 1

        async def continued() -> bool:
            statuses = await runs_of(client, handle.id)
            return statuses.count(WorkflowExecutionStatus.CONTINUED_AS_NEW) >= 1

        await eventually(continued)
    subjects = sorted(message.subject for message in smtp_sink.messages())
    assert subjects == ["four kept", "one", "three", "two"], "each send once, the context across the runs"


async def test_a_lifecycle_change_continues_as_new_between_pages(
    short_history_env: WorkflowEnvironment,
    api_client_for: ApiClientFor,
    run_worker: RunWorker,
    settings: Settings,
) -> None:
    client = short_history_env.client
    customers = [f"page-{i:02d}" for i in range(12)]
    async with api_client_for(client) as http, run_worker(client):
        journey_id = await publish(
            http, chain(TRIGGER, {"id": "nap", "type": "WAIT", "config": {"duration": "1 hour"}}, END)
        )
        for customer in customers:
            await enroll(http, journey_id, customer)
        for customer in customers:
            await awaiting(handle_of(client, journey_id, customer), "time")

        control_id = f"journey-control:{TENANT}:{journey_id}:test"
        signalled = await client.execute_workflow(
            JOURNEY_CONTROL_WORKFLOW,
            # One page of two per activity (stream_seconds=0), so the history grows page by page.
            JourneyControlInput(
                tenant_id=TENANT, journey_id=journey_id, instruction="exit", page_size=2, stream_seconds=0
            ),
            id=control_id,
            task_queue=settings.temporal_task_queue,
            result_type=int,
        )
        assert signalled == len(customers), "the count survives the continued runs"
        for customer in customers:
            result = await handle_of(client, journey_id, customer).result()
            assert result["status"] == "EXITED"

        async def continued() -> bool:
            statuses = await runs_of(client, control_id)
            return statuses.count(WorkflowExecutionStatus.CONTINUED_AS_NEW) >= 2

        await eventually(continued)
