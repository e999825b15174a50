"""Quiet hours held by the interpreter, on the time-skipping server: the enrollment waits in a `Wait`
like any other, signals reach the interpreter during the night, and the send goes out at the window's end.

Records `tests/histories/interpreter_quiet_hours_hold.json` (JOURNEYS_REFRESH_HISTORIES=1), the replay
fixture of the `interpreter-quiet-hours-v1` path; `quiet_hours_hold.json` keeps the shell's older hold.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

from temporalio.api.enums.v1 import EventType
from temporalio.testing import WorkflowEnvironment

from devstack import SmtpSink
from domain.events import EventRecord
from domain.payloads import EventSignal
from tests.conftest import ApiClientFor, RunWorker, result_skipping_time
from tests.integration.test_enrollment_workflow import save_history
from tests.support import MAIL, TRIGGER, awaiting, enroll, handle_of, live, local_activities, publish
from workflows.enrollment import INTERPRETER_QUIET_HOURS_PATCH, QUIET_HOURS_PATCH


def night_then_wait_for_purchase(quiet: dict[str, str]) -> dict[str, Any]:
    """A mail sent at night, then a wait for a purchase (matched: thanks, timeout: nudge)."""
    return {
        "name": "Quiet hours",
        "nodes": [
            TRIGGER,
            {"id": "night", "type": "SEND", "name": "night", "config": dict(MAIL)},
            {
                "id": "await",
                "type": "WAIT_FOR_EVENT",
                "name": "Await purchase",
                "config": {"event": "purchase", "timeout": "1 day"},
            },
            {"id": "thanks", "type": "END"},
            {"id": "nudge", "type": "EXIT"},
        ],
        "edges": [
            {"sourceNodeId": "start", "targetNodeId": "night"},
            {"sourceNodeId": "night", "targetNodeId": "await"},
            {"sourceNodeId": "await", "targetNodeId": "thanks", "label": "matched"},
            {"sourceNodeId": "await", "targetNodeId": "nudge", "label": "timeout"},
        ],
        "settings": {"timezone": "UTC", "quietHours": quiet},
    }


def patch_ids(events: list[Any]) -> list[str]:
    return [
        json.loads(payload.data)["id"]
        for e in events
        if e.event_type == EventType.EVENT_TYPE_MARKER_RECORDED
        and e.marker_recorded_event_attributes.marker_name == "core_patch"
        for payload in e.marker_recorded_event_attributes.details["patch-data"].payloads
    ]


async def test_the_interpreter_holds_a_night_send_in_a_wait_that_signals_reach(
    api_client_for: ApiClientFor,
    own_time_skipping_env: WorkflowEnvironment,
    run_worker: RunWorker,
    smtp_sink: SmtpSink,
) -> None:
    client = own_time_skipping_env.client
    # Quiet hours (UTC) that started two minutes ago on the server's clock and end three hours later.
    now = (await own_time_skipping_env.get_current_time()).astimezone(UTC)
    window_start = (now - timedelta(minutes=2)).replace(second=0, microsecond=0)
    window_end = window_start + timedelta(hours=3)
    quiet = {"start": window_start.strftime("%H:%M"), "end": window_end.strftime("%H:%M")}
    async with api_client_for(client) as http, run_worker(client):
        journey_id = await publish(http, night_then_wait_for_purchase(quiet))
        await enroll(http, journey_id, "owl")
        handle = handle_of(client, journey_id, "owl")
        await awaiting(handle, "quiet_hours")
        held = await live(handle)
        # Bought during the night: the interpreter buffers it, and the wait after the send takes it.
        purchase = EventRecord(id="night-purchase", name="purchase", timestamp=datetime.now(UTC))
        await handle.signal("event", EventSignal(event=purchase))
        result = await result_skipping_time(own_time_skipping_env, handle)
        after = await live(handle)
        events = list((await handle.fetch_history()).events)
        await save_history(handle, "interpreter_quiet_hours_hold")

    assert (held.current_node_id, held.waiting_until) == ("night", window_end)
    assert result["status"] == "COMPLETED"
    assert after.path == ["start", "night", "await", "thanks"], "the night's purchase was not lost"
    assert patch_ids(events).count(INTERPRETER_QUIET_HOURS_PATCH) == 1
    assert QUIET_HOURS_PATCH not in patch_ids(events), "the shell did not hold it"
    assert any(e.event_type == EventType.EVENT_TYPE_TIMER_FIRED for e in events)
    # The send is a local activity (workflows/enrollment.py, LEAN_PATCH): its marker is its trace. Its
    # request is not in the history; only the shell's older hold (quiet_hours_hold.json) put quiet
    # hours on it.
    [(sent, _)] = [
        (e, data) for e, data in local_activities(events) if data["activity_type"] == "send_message"
    ]
    # On the time-skipping clock: the send was done only once the window had ended.
    assert sent.event_time.ToDatetime(tzinfo=UTC) >= window_end
    assert len([m for m in smtp_sink.messages() if "owl@example.com" in m.rcpt_tos]) == 1
