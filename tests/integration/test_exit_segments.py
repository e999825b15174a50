"""Exit criteria on segments: leaving a segment (unassigned, or expired) exits the enrollment at once,
even mid-wait, on real PostgreSQL and a real Temporal dev server (API, dispatcher and worker)."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import httpx
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.client import WorkflowHandle
from temporalio.testing import WorkflowEnvironment

from services.segment_exits import SegmentExitSweeper
from tests.conftest import ApiClientFor, RunWorker
from tests.integration.test_api_contract import assert_problem
from tests.integration.test_draft_problems import publish_errors
from tests.integration.test_events import post_event, track
from tests.integration.test_segments import assign, create_segment
from tests.support import MAIL, awaiting, chain, eventually, handle_of, live, publish

SIGNED_UP = {"id": "start", "type": "TRIGGER", "config": {"triggerType": "EVENT", "event": "signed_up"}}
LONG_WAIT = {"id": "w", "type": "WAIT", "name": "Ten days", "config": {"duration": "10 days"}}
LATE = {"id": "late", "type": "SEND", "name": "late", "config": dict(MAIL)}
END = {"id": "end", "type": "EXIT"}


def leaving_journey(*segment_ids: str) -> dict[str, Any]:
    return chain(
        SIGNED_UP, LONG_WAIT, LATE, END, name="Exit on leaving", exitCriteria={"segments": list(segment_ids)}
    )


async def expire_now(sessions: async_sessionmaker[AsyncSession], customer_id: str, segment_id: str) -> None:
    """The customer's assignment expires this instant (no request happens when one does)."""
    async with sessions() as session, session.begin():
        changed = await session.execute(
            text(
                "UPDATE segment_assignments SET expiration_date = clock_timestamp()"
                " WHERE customer_id = :c AND segment_id = :s AND state = 'Assigned'"
            ),
            {"c": customer_id, "s": uuid.UUID(segment_id)},
        )
        assert getattr(changed, "rowcount", 0) == 1


async def enrollment_of(http: httpx.AsyncClient, journey_id: str, customer: str) -> dict[str, Any]:
    listed = (await http.get(f"/v1/journeys/{journey_id}/enrollments?limit=50")).json()["data"]
    [summary] = [e for e in listed if e["customerId"] == customer]
    detail: dict[str, Any] = (await http.get(f"/v1/journeys/{journey_id}/enrollments/{summary['id']}")).json()
    return detail


async def exited(http: httpx.AsyncClient, journey_id: str, customer: str) -> dict[str, Any]:
    """The enrollment's projection once it says EXITED (the workflow writes it as it ends)."""

    async def check() -> dict[str, Any] | None:
        detail = await enrollment_of(http, journey_id, customer)
        return detail if detail["status"] == "EXITED" else None

    return await eventually(check, what=f"{customer}'s enrollment EXITED")


async def ended(handle: WorkflowHandle[Any, Any]) -> dict[str, Any]:
    """The workflow's result; its WAIT lasts ten days, so only an exit ends it within the test."""
    result: dict[str, Any] = await asyncio.wait_for(handle.result(), timeout=30)
    return result


async def test_leaving_an_exit_segment_exits_the_enrollment_mid_wait(
    api_client_for: ApiClientFor,
    dev_env: WorkflowEnvironment,
    run_worker: RunWorker,
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    client = dev_env.client
    customers = ("ada", "bob", "carol", "dave", "eve")
    async with api_client_for(client) as http, run_worker(client):
        vip = await create_segment(http, displayName="VIP", journey={"patterns": [{"eventName": "vip_seen"}]})
        other = await create_segment(http, displayName="Other")
        journey_id = await publish(http, leaving_journey(vip["id"]))
        for customer in customers:
            identify = {
                "type": "identify",
                "userId": customer,
                "traits": {"email": f"{customer}@example.com", "externalContactId": f"crm-{customer}"},
            }
            await post_event(http, identify)
            assert (await post_event(http, track(customer, "vip_seen")))["segmentsChanged"] == 1
        # Eve's membership ends before she enters the journey: that leave is not one of hers to exit.
        await expire_now(sessions, "eve", vip["id"])
        for customer in customers:
            assert (await post_event(http, track(customer, "signed_up")))["enrolled"] == 1
        handles: dict[str, WorkflowHandle[Any, Any]] = {
            c: handle_of(client, journey_id, c) for c in customers
        }
        for handle in handles.values():
            await awaiting(handle, "time")

        # Unassigned through the API (another segment's leave changes nothing).
        await assign(http, "crm-ada", {"segmentId": other["id"], "state": "Assigned"})
        await assign(http, "crm-ada", {"segmentId": other["id"], "state": "Unassigned"})
        await assign(http, "crm-ada", {"segmentId": vip["id"], "state": "Unassigned"})
        ada = await ended(handles["ada"])
        ada_detail = await exited(http, journey_id, "ada")

        # Expired, and assigned again by an event before any sweep saw it: the event's ingestion exits.
        await expire_now(sessions, "dave", vip["id"])
        back = await post_event(http, track("dave", "vip_seen"))
        dave = await ended(handles["dave"])

        # Expired, and nothing else happens: the sweep finds it (Carol only: Eve left before entering,
        # Dave is back in the segment, Ada's leave was already carried out, Bob is still in).
        await expire_now(sessions, "carol", vip["id"])
        sweeper = SegmentExitSweeper(sessions)
        swept = await sweeper.sweep_once()
        carol = await ended(handles["carol"])
        await exited(http, journey_id, "carol")
        await exited(http, journey_id, "dave")
        swept_again = await sweeper.sweep_once()

        bob_live, eve_live = await live(handles["bob"]), await live(handles["eve"])
        bob_row = await enrollment_of(http, journey_id, "bob")
        eve_row = await enrollment_of(http, journey_id, "eve")

    for result in (ada, dave, carol):
        assert result["status"] == "EXITED" and result["reason"] == "left segment VIP", result
    wait_step = [s for s in ada_detail["steps"] if s["stepId"] == "w"]
    assert [(s["status"], s["detail"]) for s in wait_step] == [("EXITED", "left segment VIP")]
    assert back["segmentsChanged"] == 1, "Dave entered the segment again"
    assert swept == 1 and swept_again == 0
    assert bob_live.awaiting == "time" and bob_row["status"] == "ACTIVE", "Bob is still in the segment"
    assert eve_live.awaiting == "time" and eve_row["status"] == "ACTIVE", "Eve left before she entered"


async def test_publish_names_each_exit_segment_that_is_not_the_tenants(api_client_for: ApiClientFor) -> None:
    async with api_client_for(None) as http:
        vip = await create_segment(http, displayName="VIP")
        unknown = str(uuid.uuid4())
        created = await http.post("/v1/journeys", json=leaving_journey(vip["id"].upper(), unknown, "nope"))
        assert created.status_code == 201, created.text
        journey = created.json()
        path = f"/v1/journeys/{journey['id']}"
        errors = await publish_errors(http, journey["id"])

        # A draft naming the segment in its exit criteria keeps it from being deleted.
        assert_problem(await http.delete(f"/v1/segments/{vip['id']}"), 409)

        fixed = await http.patch(path, json={"exitCriteria": {"segments": [vip["id"]]}})
        published = await http.post(f"{path}/publish")
    async with api_client_for(None, tenant="globex") as globex:
        elsewhere = (await globex.post("/v1/journeys", json=leaving_journey(vip["id"]))).json()

    assert journey["publishable"] is False
    assert [p["loc"] for p in journey["problems"]] == [
        ["exitCriteria", "segments", 1],
        ["exitCriteria", "segments", 2],
    ]
    assert unknown in journey["problems"][0]["msg"] and "'nope'" in journey["problems"][1]["msg"]
    assert errors == journey["problems"]
    assert journey["exitCriteria"]["segments"][0] == vip["id"], "kept in canonical form"
    assert fixed.json()["publishable"] is True and fixed.json()["problems"] == []
    assert published.status_code == 200, published.text
    assert [p["loc"] for p in elsewhere["problems"]] == [["exitCriteria", "segments", 0]], (
        "another tenant's segment is unknown"
    )
