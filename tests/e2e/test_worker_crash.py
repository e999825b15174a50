"""Fault test: a real worker process SIGKILLed mid-send, five times, while 200 enrollments run.

Each kill is proved to land inside a send: the SMTP relay holds one chosen message — received in full,
never answered — and the worker is killed only once that send is in flight (the activity started on
its first attempt, the message row claimed `queued`, the relay still waiting on the sender). After the
restart that send is retried: the relay saw the dead attempt's connection drop, the history records
the send activity completing on a later attempt, and the message is delivered exactly once, with the
Message-ID the interrupted attempt carried. Across all enrollments nothing is lost, and every duplicate
delivery (a kill after the relay's answer, before the activity's) carries the Message-ID of the first.
"""

from __future__ import annotations

import asyncio
from collections import Counter, defaultdict
from typing import IO, Any

import httpx
import pytest
from temporalio.api.enums.v1 import EventType, PendingActivityState
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

from devstack import ReceivedMessage
from plumbing.settings import Settings
from tests.conftest import ApiClientFor
from tests.support import HeldSend, HoldingSmtp, WorkerProcess, eventually, handle_of, worker_environment

pytestmark = pytest.mark.e2e

ENROLLMENTS = 200
KILLS = 5
TRIES = 8  # victims per kill, at most, until one's send is caught on its first attempt
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


async def send_attempts(client: Client, journey_id: str, customer: str) -> list[int]:
    """The attempt each send activity of the enrollment completed on, in node order (Temporal records
    a retried activity's ActivityTaskStarted once, with its final attempt number)."""
    history = await handle_of(client, journey_id, customer).fetch_history()
    sends = {
        event.event_id
        for event in history.events
        if event.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED
        and event.activity_task_scheduled_event_attributes.activity_type.name == SEND_ACTIVITY
    }
    return [
        event.activity_task_started_event_attributes.attempt
        for event in history.events
        if event.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_STARTED
        and event.activity_task_started_event_attributes.scheduled_event_id in sends
    ]


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
                pending = [
                    (p.activity_type.name, p.state, p.attempt, p.last_failure.message)
                    for p in description.raw_description.pending_activities
                ]
                stuck.append(f"{enrollment['customerId']} {status} {description.status} {pending}")
    return f"not all completed: {counts}; " + "; ".join(stuck)


async def kill_mid_send(
    http: httpx.AsyncClient,
    client: Client,
    relay: HoldingSmtp,
    worker: WorkerProcess,
    journey_id: str,
    victims: list[str],
) -> tuple[str, HeldSend]:
    """Enroll a victim, hold its first email at the relay, prove that send is in flight, SIGKILL the
    worker, restart it, and wait until the retried send has delivered. A victim whose held email came
    from a later attempt (the first timed out on a starved machine) is released and another tried:
    only a first attempt leaves no doubt which attempt the kill cut."""
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
        pending = (await handle_of(client, journey_id, victim).describe()).raw_description.pending_activities
        in_flight = [(p.activity_type.name, p.state, p.attempt) for p in pending]
        if in_flight == [(SEND_ACTIVITY, PendingActivityState.PENDING_ACTIVITY_STATE_STARTED, 1)]:
            break
        relay.release()  # answered 451: that attempt fails and is retried like any other
    else:
        raise AssertionError(f"in {TRIES} tries no first attempt of a send was caught in flight")

    # In flight: Temporal sees the send activity started on its first attempt (checked above), the
    # message row is claimed and not delivered, and the relay still waits on a connected sender.
    row = await message_row(http, victim, key)
    assert row is not None and row["status"] == "queued", row
    assert not any(m.rcpt_tos == [address] for m in relay.delivered())
    assert not hold.sender_gone.is_set(), "the sender hung up before the kill"

    worker.kill()

    async def cut() -> bool:  # the kill closed the socket the send was waiting on
        return hold.sender_gone.is_set()

    await eventually(cut, timeout=10, what="the held sender's connection closing")
    worker.start()

    async def redelivered() -> bool:  # after Temporal's start-to-close timeout, another attempt sends
        row = await message_row(http, victim, key)
        return row is not None and row["status"] == "sent"

    await eventually(redelivered, timeout=120, interval=0.2, what=f"{victim}'s first email resent")
    return victim, hold


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
                attempts = {v: await send_attempts(dev_env.client, journey_id, v) for v, _ in kills}
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

    # Each interrupted send was retried — its first attempt died with the worker and delivered nothing
    # (the relay never answered it) — and delivered under the Message-ID that attempt had put on the
    # wire: exactly once when the first retry completed it. (On a starved machine a retry can outlive
    # its 15 s start-to-close timeout and overlap the next; each later attempt then sends at most once.)
    deliveries = Counter((m.rcpt_tos[0], m.subject) for m in delivered)
    for victim, hold in kills:
        completed_on = attempts[victim][0]
        assert completed_on >= 2, (victim, attempts[victim])
        copies = deliveries[(f"{victim}@example.com", "first")]
        assert copies == 1 if completed_on == 2 else 1 <= copies < completed_on, (
            victim,
            copies,
            completed_on,
        )
        assert by_send[(f"{victim}@example.com", "first")] == {hold.message.message_id}
    duplicates = len(delivered) - len(expected)
    print(
        f"\n{KILLS} SIGKILLs, each mid-send ({len(victims)} victims tried); {len(expected)} messages, "
        f"{duplicates} duplicate deliveries (same Message-ID)"
    )
