"""The customer's clock on the real stack (time-skipping Temporal, PostgreSQL, the SMTP sink): quiet hours
and SEND time windows read in the customer's `timezone` trait, held sends visible through the API, an exit
during a hold, and a new zone (an identify, a profile update) recomputing a hold.

Records `tests/histories/customer_clock_quiet_hours.json` and `customer_clock_zone_change.json`
(JOURNEYS_REFRESH_HISTORIES=1), the replay fixtures of the `customer-clock-v1` path.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from temporalio.api.enums.v1 import EventType
from temporalio.client import WorkflowHandle
from temporalio.testing import WorkflowEnvironment

from devstack import SmtpSink
from tests.conftest import ApiClientFor, RunWorker, result_skipping_time
from tests.integration.test_enrollment_workflow import save_history
from tests.integration.test_quiet_hours_hold import patch_ids
from tests.support import (
    MAIL,
    TRIGGER,
    awaiting,
    enroll,
    eventually,
    handle_of,
    live,
    local_activities,
    publish,
)
from workflows.enrollment import CUSTOMER_CLOCK_PATCH

KARACHI = "Asia/Karachi"  # UTC+5, no DST
BANGKOK = "Asia/Bangkok"  # UTC+7, no DST


def one_send(window: dict[str, Any] | None = None, quiet: dict[str, str] | None = None) -> dict[str, Any]:
    config: dict[str, Any] = dict(MAIL)
    if window is not None:
        config["window"] = window
    settings: dict[str, Any] = {"timezone": "UTC"}
    if quiet is not None:
        settings["quietHours"] = quiet
    return {
        "name": "Customer's clock",
        "nodes": [
            TRIGGER,
            {"id": "mail", "type": "SEND", "name": "mail", "config": config},
            {"id": "end", "type": "EXIT"},
        ],
        "edges": [
            {"sourceNodeId": "start", "targetNodeId": "mail"},
            {"sourceNodeId": "mail", "targetNodeId": "end"},
        ],
        "settings": settings,
    }


def wall(moment: datetime) -> str:
    return moment.strftime("%H:%M")


def mails_to(smtp_sink: SmtpSink, customer: str) -> int:
    return len([m for m in smtp_sink.messages() if f"{customer}@example.com" in m.rcpt_tos])


async def listed(http: httpx.AsyncClient, journey_id: str, customer: str) -> dict[str, Any]:
    rows = (await http.get(f"/v1/journeys/{journey_id}/enrollments")).json()["data"]
    [row] = [r for r in rows if r["customerId"] == customer]
    return dict(row)


async def held_in_api(
    http: httpx.AsyncClient, journey_id: str, customer: str, until: datetime
) -> dict[str, Any]:
    """The listing shows the hold (the projection), and so does the detail route; returns the detail."""

    async def shown() -> dict[str, Any] | None:
        row = await listed(http, journey_id, customer)
        return row if row["waitingUntil"] is not None else None

    row = await eventually(shown, what=f"{customer}'s hold in the enrollment listing")
    assert (row["currentStepId"], row["status"]) == ("mail", "ACTIVE")
    assert datetime.fromisoformat(row["waitingUntil"]) == until
    detail: dict[str, Any] = (await http.get(f"/v1/journeys/{journey_id}/enrollments/{row['id']}")).json()
    assert (detail["currentStepId"], datetime.fromisoformat(detail["waitingUntil"])) == ("mail", until)
    assert [(s["stepId"], s["status"]) for s in detail["steps"]][-1] == ("mail", "ACTIVE")
    return detail


async def ended(handle: WorkflowHandle[Any, Any]) -> str:
    """The enrollment's status once it has ended (polled: no time skipping, so holds do not run out)."""

    async def status() -> str | None:
        view = await live(handle)
        return None if view.status == "ACTIVE" else view.status

    return await eventually(status, what=f"{handle.id} ended")


async def test_quiet_hours_hold_a_customer_in_karachi_while_a_customer_in_utc_gets_the_send_at_once(
    api_client_for: ApiClientFor,
    own_time_skipping_env: WorkflowEnvironment,
    run_worker: RunWorker,
    smtp_sink: SmtpSink,
) -> None:
    client = own_time_skipping_env.client
    now = (await own_time_skipping_env.get_current_time()).astimezone(UTC)
    # Quiet hours that began two minutes ago on Karachi's clock and last three hours: the same wall
    # times lie five hours ahead on UTC's clock, so a customer in UTC is outside them.
    karachi_now = now + timedelta(hours=5)
    start = (karachi_now - timedelta(minutes=2)).replace(second=0, microsecond=0)
    quiet = {"start": wall(start), "end": wall(start + timedelta(hours=3))}
    quiet_end = (start - timedelta(hours=5) + timedelta(hours=3)).replace(tzinfo=UTC)
    async with api_client_for(client) as http, run_worker(client):
        journey_id = await publish(http, one_send(quiet=quiet))
        await enroll(http, journey_id, "lahore", timezone=KARACHI)
        await enroll(http, journey_id, "greenwich", timezone="UTC")
        greenwich = handle_of(client, journey_id, "greenwich")
        karachi = handle_of(client, journey_id, "lahore")
        await awaiting(karachi, "quiet_hours")
        assert await ended(greenwich) == "COMPLETED", "the UTC customer's mail went at once"
        assert mails_to(smtp_sink, "greenwich") == 1 and mails_to(smtp_sink, "lahore") == 0
        assert (await live(karachi)).waiting_until == quiet_end
        await held_in_api(http, journey_id, "lahore", quiet_end)

        result = await result_skipping_time(own_time_skipping_env, karachi)
        events = list((await karachi.fetch_history()).events)
        await save_history(karachi, "customer_clock_quiet_hours")

    assert result["status"] == "COMPLETED"
    assert patch_ids(events).count(CUSTOMER_CLOCK_PATCH) == 1
    kinds = [data["activity_type"] for _, data in local_activities(events)]
    assert kinds.index("read_profile") < kinds.index("send_message"), "the zone was read before the send"
    [(sent, _)] = [(e, d) for e, d in local_activities(events) if d["activity_type"] == "send_message"]
    assert sent.event_time.ToDatetime(tzinfo=UTC) >= quiet_end, "sent only once Karachi's night was over"
    assert any(e.event_type == EventType.EVENT_TYPE_TIMER_FIRED for e in events)
    assert mails_to(smtp_sink, "lahore") == 1


async def test_a_window_holds_until_it_opens_and_a_new_zone_or_an_exit_acts_at_once(
    api_client_for: ApiClientFor,
    own_time_skipping_env: WorkflowEnvironment,
    run_worker: RunWorker,
    smtp_sink: SmtpSink,
) -> None:
    client = own_time_skipping_env.client
    now = (await own_time_skipping_env.get_current_time()).astimezone(UTC)
    # A window opening 110 minutes from now on Karachi's clock, 70 minutes long: closed in Karachi now,
    # open in Bangkok (two hours ahead of Karachi).
    opens = (now + timedelta(hours=5, minutes=110)).replace(second=0, microsecond=0)
    window = {"from": wall(opens), "to": wall(opens + timedelta(minutes=70))}
    opening = (opens - timedelta(hours=5)).replace(tzinfo=UTC)
    async with api_client_for(client) as http, run_worker(client):
        journey_id = await publish(http, one_send(window=window))
        handles: dict[str, WorkflowHandle[Any, Any]] = {}
        for customer in ("by-identify", "by-profile", "leaves"):
            await enroll(http, journey_id, customer, timezone=KARACHI)
            handles[customer] = handle_of(client, journey_id, customer)
        for customer, handle in handles.items():
            await awaiting(handle, "window")
            assert (await live(handle)).waiting_until == opening
            await held_in_api(http, journey_id, customer, opening)

        # Exited during the hold: the enrollment ends at once, unsent.
        exited = await http.delete(f"/v1/journeys/{journey_id}/enrollments/leaves")
        assert exited.status_code == 204, exited.text
        assert await ended(handles["leaves"]) == "EXITED"

        # An identify moving the customer to Bangkok: inside the window there, the send goes now.
        identify = {"type": "identify", "userId": "by-identify", "traits": {"timezone": BANGKOK}}
        assert (await http.post("/v1/events", json=identify)).status_code in (200, 202)
        assert await ended(handles["by-identify"]) == "COMPLETED"

        # A profile update does the same, through its own signal.
        patched = await http.patch("/v1/customers/by-profile", json={"traits": {"timezone": BANGKOK}})
        assert patched.status_code == 200, patched.text
        assert await ended(handles["by-profile"]) == "COMPLETED"
        sent_at = await own_time_skipping_env.get_current_time()
        events = list((await handles["by-identify"].fetch_history()).events)
        await save_history(handles["by-identify"], "customer_clock_zone_change")

    assert sent_at < opening, "the sends did not wait for Karachi's window"
    assert (mails_to(smtp_sink, "by-identify"), mails_to(smtp_sink, "by-profile")) == (1, 1)
    assert mails_to(smtp_sink, "leaves") == 0
    assert patch_ids(events).count(CUSTOMER_CLOCK_PATCH) == 1
    assert not any(e.event_type == EventType.EVENT_TYPE_TIMER_FIRED for e in events), "no hold ran out"


async def test_a_bad_window_is_a_422_at_publish_naming_its_field(api_client_for: ApiClientFor) -> None:
    async with api_client_for(None) as http:
        created = await http.post(
            "/v1/journeys", json=one_send(window={"days": ["mon", "someday"], "from": "9am", "to": "17:00"})
        )
        assert created.status_code == 201, created.text
        assert created.json()["publishable"] is False
        response = await http.post(f"/v1/journeys/{created.json()['id']}/publish")
        across_midnight = await http.post(
            "/v1/journeys", json=one_send(window={"days": ["FRI"], "from": "22:00", "to": "06:00"})
        )
    assert response.status_code == 422, response.text
    errors = {tuple(e["loc"]): e["msg"] for e in response.json()["errors"]}
    assert set(errors) == {
        ("nodes", 1, "config", "window", "days", 1),
        ("nodes", 1, "config", "window", "from"),
    }
    assert "unknown day 'someday'" in errors[("nodes", 1, "config", "window", "days", 1)]
    body = across_midnight.json()
    assert body["publishable"] is True, body["problems"]
    [mail] = [n for n in body["nodes"] if n["id"] == "mail"]
    assert mail["config"]["window"] == {"days": [5], "from": "22:00", "to": "06:00"}
