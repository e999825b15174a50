"""Pause(all) holds in-flight enrollments through their journey's control state, not a signal each
(JOURNEY_CONTROL_PATCH in workflows/enrollment.py, `read_journey_control` in activities/control.py).

Records `tests/histories/journey_control_hold.json` (with JOURNEYS_REFRESH_HISTORIES=1), which
tests/replay/test_replay.py replays with every other saved history.
"""

from __future__ import annotations

import dataclasses
import json
import uuid
from datetime import timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.api.enums.v1 import EventType
from temporalio.client import Client
from temporalio.testing import ActivityEnvironment, WorkflowEnvironment

from activities.control import ControlActivities
from devstack import SmtpSink
from domain.lifecycle import LifecycleAction
from domain.payloads import SIGNAL_EXIT, SignalBatchRequest, SignalBatchResult
from services.journeys import JourneyService
from services.uow import UnitOfWork
from tests.conftest import ApiClientFor, RunWorker, result_skipping_time
from tests.integration.test_enrollment_workflow import save_history
from tests.support import (
    END,
    MAIL,
    TENANT,
    TRIGGER,
    awaiting,
    chain,
    enroll,
    handle_of,
    live,
    local_activities,
    publish,
)
from workflows.enrollment import JOURNEY_CONTROL_PATCH, LEAN_PATCH

NAP_THEN_SEND = chain(
    TRIGGER,
    {"id": "nap", "type": "WAIT", "name": "nap", "config": {"duration": "1 hour"}},
    {"id": "after", "type": "SEND", "name": "after", "config": dict(MAIL)},
    END,
)


def patch_ids(events: Any) -> list[str]:
    return [
        json.loads(payload.data)["id"]
        for e in events
        if e.event_type == EventType.EVENT_TYPE_MARKER_RECORDED
        and e.marker_recorded_event_attributes.marker_name == "core_patch"
        for payload in e.marker_recorded_event_attributes.details["patch-data"].payloads
    ]


async def transition_quietly(
    sessions: async_sessionmaker[AsyncSession], journey_id: str, action: LifecycleAction
) -> None:
    """The lifecycle change with no control workflow behind it: no enrollment gets a signal."""
    async with sessions() as session:
        uow = UnitOfWork(session)
        await JourneyService(uow, control=None).transition(TENANT, uuid.UUID(journey_id), action)
        await uow.commit()


async def test_a_paused_journey_holds_enrollments_that_wake_without_a_pause_signal(
    api_client_for: ApiClientFor,
    own_time_skipping_env: WorkflowEnvironment,
    run_worker: RunWorker,
    smtp_sink: SmtpSink,
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    client = own_time_skipping_env.client
    customers = ["quiet-0", "quiet-1", "quiet-2"]
    async with api_client_for(client) as http, run_worker(client):
        journey_id = await publish(http, NAP_THEN_SEND)
        enrollments = [await enroll(http, journey_id, customer) for customer in customers]
        handles = [handle_of(client, journey_id, c) for c in customers]
        for handle in handles:
            await awaiting(handle, "time")

        await transition_quietly(sessions, journey_id, "pause")  # paused (mode all), nobody signalled
        await own_time_skipping_env.sleep(timedelta(hours=2))  # every nap ends
        for handle in handles:
            await awaiting(handle, "resume")
        states = [await live(handle) for handle in handles]
        held_history = list((await handles[0].fetch_history()).events)
        assert smtp_sink.messages() == [], "held before the send"
        detail = (await http.get(f"/v1/journeys/{journey_id}/enrollments/{enrollments[0]['id']}")).json()

        # Resume through the API: its control workflow signals `resume` to every enrollment.
        resumed = await http.post(f"/v1/journeys/{journey_id}/resume")
        assert resumed.status_code == 200, resumed.text
        results = [await result_skipping_time(own_time_skipping_env, handle) for handle in handles]
        await save_history(handles[0], "journey_control_hold")

    assert all(state.paused and state.current_node_id == "nap" for state in states), states
    signals = [
        e.workflow_execution_signaled_event_attributes.signal_name
        for e in held_history
        if e.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED
    ]
    assert signals == [], "held by reading the journey's state, not by a signal"
    assert patch_ids(held_history) == [LEAN_PATCH, JOURNEY_CONTROL_PATCH]
    kinds = [data["activity_type"] for _, data in local_activities(held_history)]
    assert kinds.count("read_journey_control") == 1, kinds
    steps = {s["stepId"]: s["status"] for s in detail["steps"]}
    assert steps == {"start": "COMPLETED", "nap": "COMPLETED"}, "the projection shows the nap over, no send"
    assert detail["status"] == "ACTIVE"

    assert [r["status"] for r in results] == ["COMPLETED"] * 3
    assert len(smtp_sink.messages()) == 3, "resume released every one"


async def test_an_enrollment_moving_on_soon_after_its_start_reads_nothing(
    api_client_for: ApiClientFor,
    own_time_skipping_env: WorkflowEnvironment,
    run_worker: RunWorker,
) -> None:
    # A wait of a second between two steps: what the enrollment knew at its start is still good
    # (CONTROL_FRESH_FOR), so no read and no marker; a step an hour later reads once.
    client = own_time_skipping_env.client
    body = chain(
        TRIGGER,
        {"id": "blink", "type": "WAIT", "name": "blink", "config": {"duration": "1 second"}},
        {"id": "nap", "type": "WAIT", "name": "nap", "config": {"duration": "1 hour"}},
        END,
    )
    async with api_client_for(client) as http, run_worker(client):
        journey_id = await publish(http, body)
        await enroll(http, journey_id, "brisk")
        handle = handle_of(client, journey_id, "brisk")
        result = await result_skipping_time(own_time_skipping_env, handle)
        events = list((await handle.fetch_history()).events)
    assert result["status"] == "COMPLETED"
    kinds = [data["activity_type"] for _, data in local_activities(events)]
    assert kinds == ["record_progress", "read_journey_control", "record_progress"], kinds


class _Handle:
    def __init__(self, sent: list[tuple[str, str]], workflow_id: str) -> None:
        self._sent, self._id = sent, workflow_id

    async def signal(self, name: str, payload: object) -> None:
        self._sent.append((self._id, name))


class _Client:
    """Records signals instead of sending them."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, str]] = []

    def get_workflow_handle(self, workflow_id: str) -> _Handle:
        return _Handle(self.sent, workflow_id)


async def test_signalling_streams_pages_and_a_retry_picks_up_after_the_last_whole_page(
    api_client_for: ApiClientFor,
    own_time_skipping_env: WorkflowEnvironment,
    run_worker: RunWorker,
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    client = own_time_skipping_env.client
    customers = [f"stream-{i}" for i in range(7)]
    async with api_client_for(client) as http, run_worker(client):
        journey_id = await publish(http, NAP_THEN_SEND)
        for customer in customers:
            await enroll(http, journey_id, customer)
        for customer in customers:
            await awaiting(handle_of(client, journey_id, customer), "time")
        for customer in customers:  # leave nothing running on the shared server
            await handle_of(client, journey_id, customer).terminate("the test needed only the rows")

    fake = _Client()
    activities = ControlActivities(sessions, _as_client(fake), concurrency=3)
    heartbeats: list[Any] = []
    env = ActivityEnvironment()
    env.on_heartbeat = lambda *details: heartbeats.append(details)
    request = SignalBatchRequest(
        tenant_id=TENANT, journey_id=journey_id, instruction="exit", batch_size=2, stream_seconds=30
    )
    result: SignalBatchResult = await env.run(activities.signal_enrollments, request)
    assert (result.signalled, result.done) == (7, True)
    assert sorted(fake.sent) == sorted((handle_of(client, journey_id, c).id, SIGNAL_EXIT) for c in customers)
    assert heartbeats[-1] == (result.last_enrollment_id, 7)
    cursor_after_four = next(details[0] for details in heartbeats if details[1] == 4)

    # A retry resumes from the heartbeat: the three after the second whole page, nothing twice.
    retry = ControlActivities(sessions, _as_client(resumed := _Client()), concurrency=3)
    env = ActivityEnvironment()
    env.info = dataclasses.replace(env.info, heartbeat_details=[cursor_after_four, 4])
    again: SignalBatchResult = await env.run(retry.signal_enrollments, request)
    assert (again.signalled, again.done, len(resumed.sent)) == (7, True, 3)

    # A zero-second stream reads one page and says there is more.
    one: SignalBatchResult = await ActivityEnvironment().run(
        ControlActivities(sessions, _as_client(_Client())).signal_enrollments,
        request.model_copy(update={"stream_seconds": 0.0}),
    )
    assert (one.signalled, one.done) == (2, False)


def _as_client(fake: _Client) -> Client:
    return fake  # type: ignore[return-value]
