"""Fault test: a real worker process SIGKILLed mid-send, five times, while 200 enrollments run.

Sends are local activities (workflows/enrollment.py, LEAN_PATCH): the server schedules no activity, the
worker runs the send inside the workflow task that asked for it and records a marker when that task
completes. Each kill is proved to land inside a send: the SMTP relay holds one chosen message — received
in full, never answered — and the worker is killed only once that send is in flight (no activity on the
server, the workflow task running it started on its first attempt and no marker of the send yet, the
message row claimed `queued`, the relay still waiting on the sender). After the restart that send is run
again: the relay saw the dead attempt's connection drop, the history records the killed worker's
workflow task lost (timed out) and the send's marker written by a worker started after the kill, and
the message is delivered exactly once when that first run again completed it, with the Message-ID the
interrupted attempt carried. Across all enrollments nothing is lost, and every duplicate delivery (a
kill after the relay's answer, before the send's record) carries the Message-ID of the first.
"""

from __future__ import annotations

import asyncio
from collections import Counter, defaultdict
from dataclasses import dataclass
from typing import IO, Any

import httpx
import pytest
from temporalio.api.enums.v1 import EventType, PendingWorkflowTaskState
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

from devstack import ReceivedMessage
from plumbing.settings import Settings
from tests.conftest import ApiClientFor
from tests.support import (
    HeldSend,
    HoldingSmtp,
    WorkerProcess,
    eventually,
    handle_of,
    local_activities,
    worker_environment,
)

pytestmark = pytest.mark.e2e

ENROLLMENTS = 200
KILLS = 5
TRIES = 8  # victims per kill, at most, until one's send is caught in the first workflow task to run it
SEND_ACTIVITY = "send_message"
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


async def add_customer(http: httpx.AsyncClient, customer: str) -> httpx.Response:
    traits = {"email": f"{customer}@example.com", "firstName": customer}
    return await http.put(f"/v1/customers/{customer}", json={"traits": traits})


async def message_row(http: httpx.AsyncClient, customer: str, key: str) -> dict[str, Any] | None:
    listed = (await http.get("/v1/messages", params={"customerId": customer, "limit": 200})).json()
    rows = [row for row in listed["data"] if row["idempotencyKey"] == key]
    assert len(rows) <= 1, rows
    return rows[0] if rows else None


LOST_TASKS = (EventType.EVENT_TYPE_WORKFLOW_TASK_TIMED_OUT, EventType.EVENT_TYPE_WORKFLOW_TASK_FAILED)


@dataclass(frozen=True)
class SendRecord:
    """How the history records an enrollment's first send (a local activity)."""

    attempt: int | None  # the attempt its marker records, counted in the workflow task that wrote it
    recorded_by: str | None  # the identity (`pid@host`) of the worker whose workflow task wrote it
    lost_by: list[str]  # who started each workflow task lost (timed out, failed) before it: each ran the send


async def first_send(client: Client, journey_id: str, customer: str) -> SendRecord:
    events = list((await handle_of(client, journey_id, customer).fetch_history()).events)
    started_by = {
        e.event_id: e.workflow_task_started_event_attributes.identity
        for e in events
        if e.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_STARTED
    }
    completed_by = {
        e.event_id: e.workflow_task_completed_event_attributes.identity
        for e in events
        if e.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED
    }
    sends = [(e, data) for e, data in local_activities(events) if data["activity_type"] == SEND_ACTIVITY]
    until = sends[0][0].event_id if sends else events[-1].event_id + 1
    lost = []
    for e in events:
        if e.event_type in LOST_TASKS and e.event_id < until:
            attributes = (
                e.workflow_task_timed_out_event_attributes
                if e.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_TIMED_OUT
                else e.workflow_task_failed_event_attributes
            )
            if attributes.started_event_id:  # started (a sticky task nobody picked up ran nothing)
                lost.append(started_by[attributes.started_event_id])
    if not sends:
        return SendRecord(attempt=None, recorded_by=None, lost_by=lost)
    marker, data = sends[0]
    recorded_by = completed_by[marker.marker_recorded_event_attributes.workflow_task_completed_event_id]
    return SendRecord(attempt=data["attempt"], recorded_by=recorded_by, lost_by=lost)


def pid_of(identity: str | None) -> int | None:
    return int(identity.split("@", 1)[0]) if identity else None


async def unfinished(http: httpx.AsyncClient, client: Client, journey_id: str) -> str:
    """Why not everything completed: enrollments by status, and where a few unfinished ones are."""
    path = f"/v1/journeys/{journey_id}/enrollments"
    counts = {}
    stuck: list[str] = []
    for status in ("ACTIVE", "COMPLETED", "EXITED", "FAILED"):
        listed = (await http.get(path, params={"status": status, "limit": 5})).json()
        counts[status] = listed["meta"]["total"]
        if status != "COMPLETED":
            for enrollment in listed["data"]:
                description = await handle_of(client, journey_id, enrollment["customerId"]).describe()
                raw = description.raw_description
                pending = [
                    (p.activity_type.name, p.state, p.attempt, p.last_failure.message)
                    for p in raw.pending_activities
                ]
                task = raw.pending_workflow_task
                task_state = (
                    PendingWorkflowTaskState.Name(task.state)
                    if raw.HasField("pending_workflow_task")
                    else None
                )
                stuck.append(
                    f"{enrollment['customerId']} {status} {description.status} {pending} "
                    f"task {task_state} attempt {task.attempt}"
                )
    return f"not all completed: {counts}; " + "; ".join(stuck)


async def kill_mid_send(
    http: httpx.AsyncClient,
    client: Client,
    relay: HoldingSmtp,
    worker: WorkerProcess,
    journey_id: str,
    victims: list[str],
) -> tuple[str, HeldSend, int]:
    """Enroll a victim, hold its first email at the relay, prove that send is in flight, SIGKILL the
    worker, restart it, and wait until the send run again has delivered; the killed worker's pid. A
    victim whose send is not in the first workflow task to run it (one timed out on a starved machine)
    is released and another tried: only a first run leaves no doubt which run the kill cut."""
    for _ in range(TRIES):
        victim = f"victim-{len(victims)}"
        victims.append(victim)
        address = f"{victim}@example.com"

        def first_email(message: ReceivedMessage, to: str = address) -> bool:
            return message.rcpt_tos == [to] and message.subject == "first"

        relay.hold_next(first_email)
        assert (await add_customer(http, victim)).status_code == 200
        entered = await http.post(f"/v1/journeys/{journey_id}/enrollments", json={"customerId": victim})
        assert entered.status_code == 201, entered.text
        key = f"{entered.json()['id']}:first:1"

        async def held(to: str = address) -> HeldSend | None:
            return next((h for h in relay.held() if h.message.rcpt_tos == [to]), None)

        hold = await eventually(held, timeout=120, what=f"{victim}'s first email at the relay")
        # A local activity is invisible to the server but for the workflow task it runs in: no activity
        # scheduled, the task started (held by the worker) on its first attempt, the send not recorded,
        # and no earlier task that ran it lost.
        description = (await handle_of(client, journey_id, victim).describe()).raw_description
        task = description.pending_workflow_task
        record = await first_send(client, journey_id, victim)
        in_flight = (
            list(description.pending_activities) == []
            and description.HasField("pending_workflow_task")
            and (task.state, task.attempt)
            == (PendingWorkflowTaskState.PENDING_WORKFLOW_TASK_STATE_STARTED, 1)
            and record == SendRecord(attempt=None, recorded_by=None, lost_by=[])
        )
        if in_flight:
            break
        relay.release()  # answered 451: that attempt fails and is retried like any other
    else:
        raise AssertionError(f"in {TRIES} tries no first attempt of a send was caught in flight")

    # In flight: Temporal sees the send's workflow task started on its first attempt and the send not
    # recorded (checked above), the message row is claimed and not delivered, and the relay still waits
    # on a connected sender.
    row = await message_row(http, victim, key)
    assert row is not None and row["status"] == "queued", row
    assert not any(m.rcpt_tos == [address] for m in relay.delivered())
    assert not hold.sender_gone.is_set(), "the sender hung up before the kill"

    assert worker.process is not None
    killed = worker.process.pid
    worker.kill()

    async def cut() -> bool:  # the kill closed the socket the send was waiting on
        return hold.sender_gone.is_set()

    await eventually(cut, timeout=10, what="the held sender's connection closing")
    worker.start()

    async def redelivered() -> bool:  # after the workflow task's timeout, the send runs again and sends
        row = await message_row(http, victim, key)
        return row is not None and row["status"] == "sent"

    await eventually(redelivered, timeout=120, interval=0.2, what=f"{victim}'s first email resent")
    return victim, hold, killed


async def test_killing_the_worker_mid_send_loses_no_enrollment_and_no_message(
    api_client_for: ApiClientFor,
    dev_env: WorkflowEnvironment,
    settings: Settings,
    database_url: str,
    worker_log: IO[bytes],
) -> None:
    customers = [f"crash-{i:03d}" for i in range(ENROLLMENTS)]
    victims: list[str] = []  # every customer enrolled to be held, whether or not a kill caught it
    with HoldingSmtp() as relay:
        env = worker_environment(
            database_url,
            dev_env.client.service_client.config.target_host,
            settings,
            relay,
            # Longer than any hold: only the kill, not the SMTP client's timeout, cuts a held send.
            JOURNEYS_SMTP_TIMEOUT_SECONDS="60",
        )
        worker = WorkerProcess(env, worker_log)
        try:
            async with api_client_for(dev_env.client) as http:
                journey_id = (await http.post("/v1/journeys", json=JOURNEY)).json()["id"]
                assert (await http.post(f"/v1/journeys/{journey_id}/publish")).status_code == 200
                await bounded([add_customer(http, c) for c in customers])
                worker.start()
                entries = await bounded(
                    [
                        http.post(f"/v1/journeys/{journey_id}/enrollments", json={"customerId": c})
                        for c in customers
                    ]
                )
                assert all(r.status_code == 201 for r in entries)

                kills = [
                    await kill_mid_send(http, dev_env.client, relay, worker, journey_id, victims)
                    for _ in range(KILLS)
                ]

                async def all_completed() -> bool:
                    listed = await http.get(f"/v1/journeys/{journey_id}/enrollments?status=COMPLETED&limit=1")
                    return bool(listed.json()["meta"]["total"] == ENROLLMENTS + len(victims))

                try:
                    await eventually(all_completed, timeout=300, interval=0.5)
                except TimeoutError:
                    raise AssertionError(await unfinished(http, dev_env.client, journey_id)) from None
                log_entries = (await http.get("/v1/messages?status=sent&limit=1")).json()["meta"]["total"]
                records = {v: await first_send(dev_env.client, journey_id, v) for v, _, _ in kills}
        finally:
            relay.release()
            worker.stop()
        delivered = relay.delivered()

    everyone = customers + victims
    assert log_entries == 2 * len(everyone), "one delivery-log row per (enrollment, send)"

    by_send: dict[tuple[str, str], set[str]] = defaultdict(set)
    for message in delivered:
        (recipient,) = message.rcpt_tos
        by_send[(recipient, message.subject)].add(message.message_id)
    expected = {(f"{c}@example.com", s) for c in everyone for s in ("first", "second")}
    assert set(by_send) == expected, "every message arrived"
    assert all(len(ids) == 1 for ids in by_send.values()), "any duplicate carries the same Message-ID"

    # Each interrupted send was run again — the run the kill cut died with the worker's workflow task and
    # delivered nothing (the relay never answered it) — by a worker started after the kill, and delivered
    # under the Message-ID the cut run had put on the wire: exactly once when the first run after the
    # kill completed it on its first attempt. (On a starved machine an attempt can outlive its 15 s
    # start-to-close timeout and be retried, or a later workflow task be lost too; each later attempt
    # then sends at most once, under the same Message-ID.)
    deliveries = Counter((m.rcpt_tos[0], m.subject) for m in delivered)
    for victim, hold, killed in kills:
        record = records[victim]
        assert record.attempt is not None, (victim, record)
        assert killed in [pid_of(identity) for identity in record.lost_by], (victim, killed, record)
        assert pid_of(record.recorded_by) != killed, (victim, killed, record)
        copies = deliveries[(f"{victim}@example.com", "first")]
        if len(record.lost_by) == 1:
            assert copies == 1 if record.attempt == 1 else 1 <= copies <= record.attempt, (
                victim,
                copies,
                record,
            )
        else:
            assert copies >= 1, (victim, copies, record)
        assert by_send[(f"{victim}@example.com", "first")] == {hold.message.message_id}
    duplicates = len(delivered) - len(expected)
    print(
        f"\n{KILLS} SIGKILLs, each mid-send ({len(victims)} victims tried); {len(expected)} messages, "
        f"{duplicates} duplicate deliveries (same Message-ID)"
    )
