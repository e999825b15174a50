"""Helpers the engine and end-to-end tests share: publishing, enrolling, waiting on live state."""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import subprocess
import sys
import threading
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from types import TracebackType
from typing import IO, Any, TypeVar

import httpx
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session
from temporalio.api.enums.v1 import EventType
from temporalio.api.history.v1 import HistoryEvent
from temporalio.client import Client, WorkflowExecutionStatus, WorkflowHandle

from devstack import ReceivedMessage, SmtpSink, find_free_port
from devstack.smtp_sink import parse_message
from domain.ids import enrollment_workflow_id
from domain.payloads import EnrollmentStateView
from plumbing.settings import Settings

TENANT = "acme"  # the tenant of `api_client_for`'s default token
TRIGGER = {"id": "start", "type": "TRIGGER"}
END = {"id": "end", "type": "EXIT"}
MAIL = {"channel": "EMAIL", "subject": "Hi {{ traits.firstName }}", "body": "Hello"}
T = TypeVar("T")


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


async def eventually(
    check: Callable[[], Awaitable[T | None]], timeout: float = 15, *, interval: float = 0.05, what: str = ""
) -> T:
    """Poll a condition held by another process or thread (a workflow's query, an HTTP answer, a row),
    not an in-process event: call `check` every `interval` seconds until it answers something truthy,
    and return that answer (a bool, or the value the caller wanted, e.g. the listing that showed it).

    After `timeout` seconds a TimeoutError names what was awaited (`what`, else the check's name) and
    the last answer."""
    last: object = None
    try:
        async with asyncio.timeout(timeout):
            while True:
                answer = await check()
                if answer:
                    return answer
                last = answer
                await asyncio.sleep(interval)
    except TimeoutError:
        name = what or getattr(check, "__name__", "the condition")
        raise TimeoutError(f"{name} did not hold within {timeout} s; last answer: {last!r:.500}") from None


def local_activities(events: Iterable[HistoryEvent]) -> list[tuple[HistoryEvent, dict[str, Any]]]:
    """Each local activity's marker, in history order, with what it records (`activity_type`,
    `attempt`, ...). A local activity leaves nothing else in the history: its marker is written with
    the workflow task that saw it complete, so the marker's time is when the effect was done."""
    return [
        (event, json.loads(event.marker_recorded_event_attributes.details["data"].payloads[0].data))
        for event in events
        if event.event_type == EventType.EVENT_TYPE_MARKER_RECORDED
        and event.marker_recorded_event_attributes.marker_name == "core_local_activity"
    ]


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


async def moved_on(handle: WorkflowHandle[Any, Any], what: str) -> None:
    """Until the enrollment no longer awaits `what` (or has ended): a signal sent through the dispatch
    outbox has landed. Call before `result_skipping_time`, lest the server skip over a timer first."""

    async def check() -> bool:
        if (await handle.describe()).status != WorkflowExecutionStatus.RUNNING:
            return True
        return (await live(handle)).awaiting != what

    await eventually(check)


def worker_environment(
    database_url: str,
    temporal_address: str,
    settings: Settings,
    smtp_sink: SmtpSink | HoldingSmtp,
    **extra: str,
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
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:  # a graceful shutdown stuck on an activity
                self.kill()


@dataclass
class HeldSend:
    """A message the relay received in full and never answered: its sender is mid-send."""

    message: ReceivedMessage
    # Set when the sender's connection went away while it waited for the answer (killed, or timed out).
    sender_gone: threading.Event = field(default_factory=threading.Event)
    released: threading.Event = field(default_factory=threading.Event)


class HoldingSmtp:
    """An SMTP relay for crash tests, on a real socket. It accepts and keeps mail like the dev sink,
    except the next message matching what `hold_next` armed: that one is read in full (DATA) and then
    gets no answer, so its sender stays mid-send — claimed, not delivered — until the test kills it.
    A held message is never delivered: its sender never sees the 250."""

    def __init__(self, host: str = "127.0.0.1") -> None:
        self.host = host
        self.port = 0
        self._lock = threading.Lock()
        self._delivered: list[ReceivedMessage] = []
        self._held: list[HeldSend] = []
        self._armed: Callable[[ReceivedMessage], bool] | None = None
        self._controller: Controller | None = None

    def __enter__(self) -> HoldingSmtp:
        self.port = find_free_port(self.host)
        self._controller = Controller(self, hostname=self.host, port=self.port, enable_SMTPUTF8=True)
        self._controller.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.release()
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    def release(self) -> None:
        """Answer every held message (451: not delivered), so a live sender can move on."""
        for held in self.held():
            held.released.set()

    def hold_next(self, matching: Callable[[ReceivedMessage], bool]) -> None:
        """Hold the next message `matching` accepts (once); every other message is delivered."""
        with self._lock:
            self._armed = matching

    def delivered(self) -> list[ReceivedMessage]:
        with self._lock:
            return list(self._delivered)

    def held(self) -> list[HeldSend]:
        with self._lock:
            return list(self._held)

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:  # aiosmtpd hook
        content = envelope.original_content or envelope.content or b""
        raw = content if isinstance(content, bytes) else content.encode()
        message = parse_message(raw, envelope.mail_from or "", list(envelope.rcpt_tos), datetime.now(UTC))
        with self._lock:
            if self._armed is None or not self._armed(message):
                self._delivered.append(message)
                return "250 Message accepted for delivery"
            self._armed = None
            held = HeldSend(message)
            self._held.append(held)
        try:
            # aiosmtpd cancels this handler when the client's connection closes.
            while not held.released.is_set():  # noqa: ASYNC110 — released from the test's thread
                await asyncio.sleep(0.02)
        except asyncio.CancelledError:
            held.sender_gone.set()
            raise
        return "451 4.3.0 held by the test and not delivered"
