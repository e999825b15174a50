"""Fault test: a real worker process SIGKILLed mid-run, five times. Nothing is lost, and every
duplicate delivery carries the Message-ID of the first, so the receiver can recognise it."""

from __future__ import annotations

import asyncio
from collections import defaultdict
from typing import IO, Any

import httpx
import pytest
from temporalio.testing import WorkflowEnvironment

from devstack import SmtpSink
from plumbing.settings import Settings
from tests.conftest import ApiClientFor
from tests.support import WorkerProcess, worker_environment

pytestmark = pytest.mark.e2e

ENROLLMENTS = 200
KILLS = 5
MAIL = {"channel": "EMAIL", "body": "Hello {{ traits.firstName }}"}
JOURNEY = {
    "name": "Crash test",
    "nodes": [
        {"id": "start", "type": "TRIGGER"},
        {"id": "first", "type": "SEND", "config": {**MAIL, "subject": "first"}},
        {"id": "pause", "type": "WAIT", "config": {"duration": "1 second"}},
        {"id": "second", "type": "SEND", "config": {**MAIL, "subject": "second"}},
        {"id": "end", "type": "EXIT"},
    ],
    "edges": [
        {"sourceNodeId": "start", "targetNodeId": "first"},
        {"sourceNodeId": "first", "targetNodeId": "pause"},
        {"sourceNodeId": "pause", "targetNodeId": "second"},
        {"sourceNodeId": "second", "targetNodeId": "end"},
    ],
}


async def bounded(calls: list[Any], limit: int = 20) -> list[httpx.Response]:
    gate = asyncio.Semaphore(limit)

    async def run(call: Any) -> httpx.Response:
        async with gate:
            response: httpx.Response = await call
            return response

    return await asyncio.gather(*(run(c) for c in calls))


async def test_killing_the_worker_loses_no_enrollment_and_no_message(
    api_client_for: ApiClientFor,
    dev_env: WorkflowEnvironment,
    settings: Settings,
    database_url: str,
    smtp_sink: SmtpSink,
    worker_log: IO[bytes],
) -> None:
    env = worker_environment(
        database_url, dev_env.client.service_client.config.target_host, settings, smtp_sink
    )
    worker = WorkerProcess(env, worker_log)
    try:
        async with api_client_for(dev_env.client) as http:
            journey_id = (await http.post("/v1/journeys", json=JOURNEY)).json()["id"]
            assert (await http.post(f"/v1/journeys/{journey_id}/publish")).status_code == 200
            customers = [f"crash-{i:03d}" for i in range(ENROLLMENTS)]
            await bounded(
                [
                    http.put(
                        f"/v1/customers/{c}",
                        json={"traits": {"email": f"{c}@example.com", "firstName": c}},
                    )
                    for c in customers
                ]
            )
            worker.start()
            entries = await bounded(
                [
                    http.post(f"/v1/journeys/{journey_id}/enrollments", json={"customerId": c})
                    for c in customers
                ]
            )
            assert all(r.status_code == 201 for r in entries)

            for _ in range(KILLS):
                await asyncio.sleep(1.0)
                worker.kill()
                worker.start()

            completed = 0
            async with asyncio.timeout(180):
                while completed < ENROLLMENTS:
                    await asyncio.sleep(0.5)
                    listed = await http.get(f"/v1/journeys/{journey_id}/enrollments?status=COMPLETED&limit=1")
                    completed = listed.json()["meta"]["total"]
            log_entries = (await http.get("/v1/messages?status=sent&limit=1")).json()["meta"]["total"]
    finally:
        worker.stop()

    assert completed == ENROLLMENTS
    assert log_entries == 2 * ENROLLMENTS, "one delivery-log row per (enrollment, send)"

    by_send: dict[tuple[str, str], set[str]] = defaultdict(set)
    for message in smtp_sink.messages():
        (recipient,) = message.rcpt_tos
        by_send[(recipient, message.subject)].add(message.message_id)
    expected = {(f"{c}@example.com", s) for c in customers for s in ("first", "second")}
    assert set(by_send) == expected, "every message arrived"
    assert all(len(ids) == 1 for ids in by_send.values()), "any duplicate carries the same Message-ID"
    duplicates = len(smtp_sink.messages()) - len(expected)
    print(
        f"\n{KILLS} SIGKILLs, {len(expected)} messages, {duplicates} duplicate deliveries (same Message-ID)"
    )
