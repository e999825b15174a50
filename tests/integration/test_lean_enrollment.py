"""The lean enrollment (LEAN_PATCH in workflows/enrollment.py): sends and projection writes run as local
activities, so an enrollment schedules no activity on the server and records one patch marker.

Records `tests/histories/lean_send_wait_send.json` and `lean_reference.json` (with
JOURNEYS_REFRESH_HISTORIES=1, this file only: the older histories stay as they were recorded), which
tests/replay/test_replay.py replays with every other saved history.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.api.enums.v1 import EventType
from temporalio.client import WorkflowHistory
from temporalio.testing import WorkflowEnvironment

from activities.channels import message_id_for
from bench.reference import reference_journey
from devstack import ReceivedMessage, SmtpSink
from plumbing.settings import Settings
from store.repositories.enrollments import EnrollmentRepository
from tests.conftest import ApiClientFor, RunWorker, result_skipping_time
from tests.integration.test_enrollment_workflow import HISTORIES, drip_journey, save_history
from tests.support import (
    END,
    TENANT,
    TRIGGER,
    HeldSend,
    HoldingSmtp,
    chain,
    enroll,
    eventually,
    handle_of,
    local_activities,
    publish,
)
from workflows.enrollment import JOURNEY_CONTROL_PATCH, LEAN_PATCH, LOCAL_STORE_PATCH

# Issue 14's target for the reference journey (SEND → WAIT 1 s → CONDITION → SEND → EXIT).
EVENTS_TARGET = 16


def patch_ids(events: Any) -> list[str]:
    return [
        json.loads(payload.data)["id"]
        for e in events
        if e.event_type == EventType.EVENT_TYPE_MARKER_RECORDED
        and e.marker_recorded_event_attributes.marker_name == "core_patch"
        for payload in e.marker_recorded_event_attributes.details["patch-data"].payloads
    ]


def local_types(events: Any) -> list[str]:
    return [data["activity_type"] for _, data in local_activities(events)]


def scheduled_activities(events: Any) -> list[str]:
    return [
        e.activity_task_scheduled_event_attributes.activity_type.name
        for e in events
        if e.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED
    ]


async def test_the_reference_journey_runs_on_local_activities_within_the_event_budget(
    api_client_for: ApiClientFor,
    own_time_skipping_env: WorkflowEnvironment,
    run_worker: RunWorker,
    smtp_sink: SmtpSink,
) -> None:
    client = own_time_skipping_env.client
    async with api_client_for(client) as http, run_worker(client):
        journey_id = await publish(http, {"name": "Reference", **reference_journey()})
        pro = await enroll(http, journey_id, "pro", plan="pro")
        free = await enroll(http, journey_id, "free", plan="free")
        results = {}
        events = {}
        details = {}
        for customer, enrollment in (("pro", pro), ("free", free)):
            handle = handle_of(client, journey_id, customer)
            results[customer] = await result_skipping_time(own_time_skipping_env, handle)
            events[customer] = list((await handle.fetch_history()).events)
            path = f"/v1/journeys/{journey_id}/enrollments/{enrollment['id']}"
            details[customer] = (await http.get(path)).json()
        await save_history(handle_of(client, journey_id, "pro"), "lean_reference")

    assert results["pro"]["status"] == results["free"]["status"] == "COMPLETED"
    # The projection saw every step, though no write of its own went through the server.
    assert [s["stepId"] for s in details["pro"]["steps"]] == [
        "start",
        "welcome",
        "pause",
        "engaged",
        "follow",
        "end",
    ]
    assert [s["stepId"] for s in details["free"]["steps"]] == ["start", "welcome", "pause", "engaged", "end"]
    assert all(s["status"] == "COMPLETED" for d in details.values() for s in d["steps"])
    assert details["pro"]["status"] == details["free"]["status"] == "COMPLETED"

    for customer, history in events.items():
        assert scheduled_activities(history) == [], f"{customer}: every effect ran as a local activity"
        assert patch_ids(history) == [LEAN_PATCH], (
            f"{customer}: one patch marker, LOCAL_STORE_PATCH not asked"
        )
    assert local_types(events["pro"]) == [
        "send_message",  # welcome, carrying the first step records
        "read_profile",  # the CONDITION, after the 1 s wait (too short to write the projection first)
        "send_message",  # follow-up
        "record_progress",  # the final write
    ]
    assert local_types(events["free"]) == [
        "send_message",
        "read_profile",
        "record_progress",
    ]
    counts = {customer: len(history) for customer, history in events.items()}
    assert max(counts.values()) <= EVENTS_TARGET, counts  # 16 and 15 (the old path: 26 and 20)

    mails = {m.subject: m for m in smtp_sink.messages() if "pro@example.com" in m.rcpt_tos}
    assert set(mails) == {"Welcome A", "Still there, A?"}
    assert mails["Welcome A"].message_id == message_id_for(f"{pro['id']}:welcome:1")
    assert len([m for m in smtp_sink.messages() if "free@example.com" in m.rcpt_tos]) == 1


async def test_a_long_wait_writes_the_projection_locally_before_its_timer(
    api_client_for: ApiClientFor,
    own_time_skipping_env: WorkflowEnvironment,
    run_worker: RunWorker,
    smtp_sink: SmtpSink,
) -> None:
    client = own_time_skipping_env.client
    async with api_client_for(client) as http, run_worker(client):
        journey_id = await publish(http, drip_journey())
        await enroll(http, journey_id, "drip", day=1)
        handle = handle_of(client, journey_id, "drip")
        result = await result_skipping_time(own_time_skipping_env, handle)
        history = list((await handle.fetch_history()).events)
        await save_history(handle, "lean_send_wait_send")

    assert result["status"] == "COMPLETED"
    assert scheduled_activities(history) == []
    # Deliberately one more patch and one more marker than the lean path alone (issue 16, bulk changes):
    # the end of the three-day wait moves the enrollment on to the second send, so it first reads its
    # journey's control state (paused with mode all?), once (JOURNEY_CONTROL_PATCH). A pause holds every
    # such enrollment that way, without a signal each. The saved history below predates it (see
    # test_the_lean_histories_are_saved_for_replay) and still replays without the read.
    assert patch_ids(history) == [LEAN_PATCH, JOURNEY_CONTROL_PATCH]
    assert local_types(history) == [
        "send_message",
        "record_progress",  # the three-day wait shows in the projection while it runs
        "read_journey_control",
        "send_message",
        "record_progress",
    ]
    kinds = [e.event_type for e in history]
    # The write before the wait and its timer left in one workflow task: marker, then timer.
    marker = [i for i, k in enumerate(kinds) if k == EventType.EVENT_TYPE_MARKER_RECORDED][2]
    assert kinds[marker + 1] == EventType.EVENT_TYPE_TIMER_STARTED
    assert len([m for m in smtp_sink.messages() if "drip@example.com" in m.rcpt_tos]) == 2


async def test_a_transient_failure_retries_the_local_send_under_the_same_message_id(
    api_client_for: ApiClientFor,
    dev_env: WorkflowEnvironment,
    run_worker: RunWorker,
    settings: Settings,
) -> None:
    client = dev_env.client
    with HoldingSmtp() as relay:
        settings.smtp_port = relay.port

        def welcome(message: ReceivedMessage) -> bool:
            return message.rcpt_tos == ["flaky@example.com"]

        relay.hold_next(welcome)
        async with api_client_for(client) as http, run_worker(client):
            journey_id = await publish(http, drip_journey())
            enrollment = await enroll(http, journey_id, "flaky", day=1)
            handle = handle_of(client, journey_id, "flaky")

            async def held() -> bool:
                return bool(relay.held())

            await eventually(held, timeout=30, what="the first email held at the relay")
            relay.release()  # 451: transient, the local activity retries after its backoff

            async def delivered() -> list[ReceivedMessage]:
                return [m for m in relay.delivered() if m.rcpt_tos == ["flaky@example.com"]]

            [mail] = await eventually(delivered, timeout=30, what="the retried email delivered")

            async def recorded() -> list[Any]:  # the send's marker, once its workflow task completed
                events = list((await handle.fetch_history()).events)
                return events if "send_message" in local_types(events) else []

            history = await eventually(recorded, timeout=30, what="the send's marker")
            await handle.terminate("the test saw what it needed")  # the drip's second mail is days away

    [held_send] = relay.held()
    key = f"{enrollment['id']}:first:1"
    assert mail.message_id == held_send.message.message_id == message_id_for(key)
    [send] = [data for _, data in local_activities(history) if data["activity_type"] == "send_message"]
    assert send["attempt"] == 2, send  # the marker records the attempt that completed
    assert scheduled_activities(history) == []


async def test_step_records_wait_for_the_next_write_unless_they_are_late(
    api_client_for: ApiClientFor,
    dev_env: WorkflowEnvironment,
    run_worker: RunWorker,
    settings: Settings,
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    # Effects between two waits run in one workflow task within seconds, so their step records wait for
    # the write before the next long wait or the final one; records older than the tolerance (10 s of
    # workflow time, which moves with each workflow task: a task running a slow local activity is
    # renewed every ~8 s) ride on the next effect, as they used to on every one. Here the first send is
    # held until its attempt times out (15 s) and is retried.
    mail = {"channel": "EMAIL", "body": "Hello"}
    first = {"id": "first", "type": "SEND", "config": {**mail, "subject": "first"}}
    second = {"id": "second", "type": "SEND", "config": {**mail, "subject": "second"}}
    client = dev_env.client
    with HoldingSmtp() as relay:
        settings.smtp_port = relay.port
        settings.smtp_timeout_seconds = 30  # only the test's release ends a held send

        def subject(wanted: str) -> Callable[[ReceivedMessage], bool]:
            return lambda message: message.subject == wanted

        async def held(wanted: str) -> HeldSend | None:
            return next((h for h in relay.held() if h.message.subject == wanted), None)

        async def projected(enrollment_id: str) -> dict[str, str]:
            # Read from the store: the API's detail also queries the workflow, which answers only once
            # the workflow task running the held send ends.
            async with sessions() as session:
                rows = await EnrollmentRepository(session).steps(TENANT, uuid.UUID(enrollment_id))
            return {row.node_id: row.status for row in rows}

        relay.hold_next(subject("first"))
        async with api_client_for(client) as http, run_worker(client):
            journey_id = await publish(http, chain(TRIGGER, first, second, END))
            enrollment = await enroll(http, journey_id, "late")
            await eventually(lambda: held("first"), timeout=30, what="the first email held")
            during_first = await projected(enrollment["id"])
            # The held attempt times out after 15 s; the retry, a second later, delivers the first email.
            relay.hold_next(subject("second"))
            await eventually(lambda: held("second"), timeout=40, what="the second email held")
            during_second = await projected(enrollment["id"])
            relay.release()
            result = await handle_of(client, journey_id, "late").result()
            final = await projected(enrollment["id"])

    assert during_first == {}, "a fresh send carries no step records"
    assert during_second == {"start": "COMPLETED", "first": "COMPLETED", "second": "ACTIVE"}, during_second
    assert result["status"] == "COMPLETED"
    assert final == {"start": "COMPLETED", "first": "COMPLETED", "second": "COMPLETED", "end": "COMPLETED"}


async def test_an_update_that_cannot_apply_fails_the_step_not_the_workflow(
    api_client_for: ApiClientFor,
    own_time_skipping_env: WorkflowEnvironment,
    run_worker: RunWorker,
) -> None:
    # A local activity's non-retryable failure reaches the workflow unwrapped (no ActivityError): the
    # lean path still feeds it to the interpreter as the step's error, as an ordinary activity's.
    update = {
        "id": "bump",
        "type": "UPDATE",
        "config": {"updates": [{"field": "score", "action": "increment", "value": 5}]},
    }
    client = own_time_skipping_env.client
    async with api_client_for(client) as http, run_worker(client):
        journey_id = await publish(http, chain(TRIGGER, update, END))
        enrollment = await enroll(http, journey_id, "wordy", score="many")
        handle = handle_of(client, journey_id, "wordy")
        result = await result_skipping_time(own_time_skipping_env, handle)
        detail = (await http.get(f"/v1/journeys/{journey_id}/enrollments/{enrollment['id']}")).json()
        history = list((await handle.fetch_history()).events)

    assert result["status"] == "FAILED", result
    assert history[-1].event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED
    steps = {s["stepId"]: s for s in detail["steps"]}
    assert steps["bump"]["status"] == "FAILED" and detail["status"] == "FAILED"
    assert local_types(history) == ["update_profile", "record_progress"]


@pytest.mark.parametrize("name", ["lean_send_wait_send", "lean_reference"])
def test_the_lean_histories_are_saved_for_replay(name: str) -> None:
    path = HISTORIES / f"{name}.json"
    history = WorkflowHistory.from_json(name, Path(path).read_text())
    # As recorded (before JOURNEY_CONTROL_PATCH: a refreshed lean_send_wait_send also has it).
    assert patch_ids(history.events)[0] == LEAN_PATCH
    assert set(patch_ids(history.events)) <= {LEAN_PATCH, JOURNEY_CONTROL_PATCH}
    assert LOCAL_STORE_PATCH not in patch_ids(history.events)
    assert scheduled_activities(history.events) == []
    assert set(local_types(history.events)) >= {
        "send_message",
        "record_progress",
    }
