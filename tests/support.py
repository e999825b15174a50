"""Helpers the engine and end-to-end tests share: publishing, enrolling, waiting on live state."""

from __future__ import annotations

import asyncio
import itertools
import os
import subprocess
import sys
from collections.abc import Awaitable, Callable
from typing import IO, Any

import httpx
from temporalio.client import Client, WorkflowHandle

from devstack import SmtpSink
from domain.ids import enrollment_workflow_id
from domain.payloads import EnrollmentStateView
from plumbing.settings import Settings

TENANT = "acme"  # the tenant of `api_client_for`'s default token
TRIGGER = {"id": "start", "type": "TRIGGER"}
END = {"id": "end", "type": "EXIT"}
MAIL = {"channel": "EMAIL", "subject": "Hi {{ traits.firstName }}", "body": "Hello"}


def chain(*nodes: dict[str, Any], **extra: Any) -> dict[str, Any]:
    """A linear journey body: each node's `next` edge leads to the following one."""
    edges = [{"sourceNodeId": a["id"], "targetNodeId": b["id"]} for a, b in itertools.pairwise(nodes)]
    return {"name": "Engine test", "nodes": list(nodes), "edges": edges, **extra}


async def publish(http: httpx.AsyncClient, body: dict[str, Any]) -> str:
    created = await http.post("/v1/journeys", json=body)
    assert created.status_code == 201, created.text
    journey_id: str = created.json()["id"]
    published = await http.post(f"/v1/journeys/{journey_id}/publish")
    assert published.status_code == 200, published.text
    return journey_id


async def enroll(http: httpx.AsyncClient, journey_id: str, customer: str, **traits: Any) -> dict[str, Any]:
    profile = {"email": f"{customer}@example.com", "firstName": "A", **traits}
    await http.put(f"/v1/customers/{customer}", json={"traits": profile})
    response = await http.post(f"/v1/journeys/{journey_id}/enrollments", json={"customerId": customer})
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


def handle_of(client: Client, journey_id: str, customer: str, entry: int = 1) -> WorkflowHandle[Any, Any]:
    return client.get_workflow_handle(enrollment_workflow_id(TENANT, journey_id, customer, entry))


async def eventually(check: Callable[[], Awaitable[bool]], timeout: float = 15) -> None:
    """Poll a condition held by another process (a workflow's query), not an in-process event."""
    async with asyncio.timeout(timeout):
        while not await check():  # noqa: ASYNC110 — nothing in this process can signal the change
            await asyncio.sleep(0.05)


async def live(handle: WorkflowHandle[Any, Any]) -> EnrollmentStateView:
    view: EnrollmentStateView = await handle.query("state", result_type=EnrollmentStateView)
    return view


async def awaiting(handle: WorkflowHandle[Any, Any], what: str) -> None:
    async def check() -> bool:
        try:
            return (await live(handle)).awaiting == what
        except Exception:  # noqa: BLE001 — not started or no task processed yet
            return False

    await eventually(check)


def worker_environment(
    database_url: str, temporal_address: str, settings: Settings, smtp_sink: SmtpSink, **extra: str
) -> dict[str, str]:
    """The environment of a worker process serving the test's task queue."""
    return {
        **os.environ,
        "JOURNEYS_DATABASE_URL": database_url,
        "JOURNEYS_TEMPORAL_ADDRESS": temporal_address,
        "JOURNEYS_TEMPORAL_TASK_QUEUE": settings.temporal_task_queue,
        "JOURNEYS_SMTP_HOST": "127.0.0.1",
        "JOURNEYS_SMTP_PORT": str(smtp_sink.port),
        "JOURNEYS_DEV_MODE": "true",
        **extra,
    }


class WorkerProcess:
    """`python -m journeys worker`, as production runs it, with its output in a log file."""

    def __init__(self, env: dict[str, str], log: IO[bytes]) -> None:
        self._env = env
        self._log = log
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "journeys", "worker"],
            env=self._env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )

    def kill(self) -> None:
        assert self.process is not None
        self.process.kill()  # SIGKILL: no graceful shutdown, in-flight work is simply gone
        self.process.wait()

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=15)
