"""Segments (Genesys shape), assignments by events and by API, AUDIENCE and SCHEDULE journeys."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.client import ScheduleActionStartWorkflow
from temporalio.service import RPCError
from temporalio.testing import WorkflowEnvironment

from domain.audience import JOURNEY_SCHEDULE_WORKFLOW, ScheduledEntryInput, journey_schedule_id
from plumbing.settings import Settings
from tests.conftest import ApiClientFor, RunWorker
from tests.integration.test_api_contract import assert_problem
from tests.integration.test_events import post_event, track
from tests.support import publish

SHOES = {
    "displayName": "Shoe lovers",
    "description": "Looked at shoes twice",
    "color": "#ff8800",
    "journey": {
        "patterns": [
            {
                "eventName": "viewed_product",
                "count": 2,
                "streamType": "Web",
                "sessionType": "web",
                "criteria": [
                    {"key": "category", "values": ["Shoes"], "operator": "equal", "shouldIgnoreCase": True},
                    {"key": "price.amount", "values": ["20"], "operator": "greaterThan"},
                ],
            }
        ]
    },
}


def audience_journey(segment_id: str, name: str = "Audience") -> dict[str, Any]:
    return {
        "name": name,
        "nodes": [
            {
                "id": "start",
                "type": "TRIGGER",
                "config": {"triggerType": "AUDIENCE", "segmentId": segment_id},
            },
            {"id": "hold", "type": "WAIT", "config": {"duration": "1 day"}},
            {"id": "end", "type": "EXIT"},
        ],
        "edges": [
            {"sourceNodeId": "start", "targetNodeId": "hold"},
            {"sourceNodeId": "hold", "targetNodeId": "end"},
        ],
    }


def schedule_journey(segment_id: str | None, cron: str = "0 9 * * *") -> dict[str, Any]:
    journey = audience_journey(segment_id or "x", name="Weekly")
    journey["nodes"][0]["config"] = {"triggerType": "SCHEDULE", "cron": cron}
    if segment_id is not None:
        journey["nodes"][0]["config"]["segmentId"] = segment_id
    return journey


async def create_segment(http: httpx.AsyncClient, **body: Any) -> dict[str, Any]:
    response = await http.post("/v1/segments", json={"displayName": "Segment", **body})
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


async def assign(
    http: httpx.AsyncClient, contact: str, *items: dict[str, Any], status: int = 200
) -> dict[str, Any]:
    response = await http.post(f"/v1/externalcontacts/{contact}/segments", json=list(items))
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()
    return body


async def test_segment_crud_filters_sorting_and_versions(api_client_for: ApiClientFor) -> None:
    async with api_client_for(None) as http:
        shoes = await create_segment(http, **SHOES)
        hats = await create_segment(http, displayName="Hat lovers", scope="Session", isActive=False)
        bags = await create_segment(http, displayName="Bag lovers", assignmentExpirationDays=7)
        assert shoes["version"] == 1 and shoes["scope"] == "Customer" and shoes["isActive"] is True
        assert shoes["journey"]["patterns"][0]["criteria"][0]["shouldIgnoreCase"] is True
        assert (await http.get(f"/v1/segments/{shoes['id']}")).json() == shoes

        by_name = (await http.get("/v1/segments?sortBy=name")).json()
        by_name_desc = (await http.get("/v1/segments?sortBy=-name&limit=2")).json()
        active = (await http.get("/v1/segments?isActive=true&sortBy=createdAt")).json()
        chosen = (await http.get(f"/v1/segments?segmentIds={hats['id']},{bags['id']},nonsense")).json()
        assert [s["displayName"] for s in by_name["data"]] == ["Bag lovers", "Hat lovers", "Shoe lovers"]
        assert [s["displayName"] for s in by_name_desc["data"]] == ["Shoe lovers", "Hat lovers"]
        assert by_name_desc["meta"] == {"total": 3, "page": 1, "limit": 2, "totalPages": 2}
        assert [s["id"] for s in active["data"]] == [shoes["id"], bags["id"]]
        assert {s["id"] for s in chosen["data"]} == {hats["id"], bags["id"]}
        assert_problem(await http.get("/v1/segments?sortBy=color"), 422)

        patched = await http.patch(f"/v1/segments/{shoes['id']}", json={"isActive": False, "version": 1})
        assert patched.status_code == 200, patched.text
        assert patched.json()["version"] == 2 and patched.json()["isActive"] is False
        again = await http.patch(f"/v1/segments/{shoes['id']}", json={"description": None})
        assert again.json()["version"] == 3 and again.json()["description"] is None
        assert_problem(
            await http.patch(f"/v1/segments/{shoes['id']}", json={"color": "red", "version": 3}), 422
        )
        assert_problem(
            await http.patch(f"/v1/segments/{shoes['id']}", json={"isActive": True, "version": 1}), 409
        )
        assert_problem(await http.patch(f"/v1/segments/{shoes['id']}", json={"scope": "Session"}), 422)
        bad_operator = {
            "journey": {
                "patterns": [
                    {"eventName": "x", "criteria": [{"key": "k", "values": ["v"], "operator": "like"}]}
                ]
            }
        }
        assert_problem(await http.post("/v1/segments", json={"displayName": "x", **bad_operator}), 422)

        journey = (await http.post("/v1/journeys", json=audience_journey(bags["id"]))).json()
        assert_problem(await http.delete(f"/v1/segments/{bags['id']}"), 409)
        await http.delete(f"/v1/journeys/{journey['id']}")  # a never-published draft: deleted
        assert (await http.delete(f"/v1/segments/{bags['id']}")).status_code == 204
        assert_problem(await http.get(f"/v1/segments/{bags['id']}"), 404)
        assert_problem(await http.get("/v1/segments/not-a-uuid"), 404)

    async with api_client_for(None, tenant="globex") as globex:
        assert_problem(await globex.get(f"/v1/segments/{shoes['id']}"), 404)
        assert_problem(await globex.patch(f"/v1/segments/{shoes['id']}", json={"isActive": True}), 404)
        assert_problem(await globex.delete(f"/v1/segments/{shoes['id']}"), 404)
        assert (await globex.get("/v1/segments")).json()["meta"]["total"] == 0

    async with api_client_for(None, scopes=["journey:segment:view"]) as viewer:
        assert (await viewer.get("/v1/segments")).status_code == 200
        assert_problem(await viewer.post("/v1/segments", json={"displayName": "x"}), 403)
        assert_problem(await viewer.patch(f"/v1/segments/{shoes['id']}", json={"isActive": True}), 403)
        assert_problem(await viewer.delete(f"/v1/segments/{shoes['id']}"), 403)
        assert_problem(await viewer.get("/v1/customers/userId/u1/segments"), 403)
    async with api_client_for(None, scopes=["journey:segmentassignment:add"]) as assigner:
        assert_problem(await assigner.get("/v1/segments"), 403)
        assert_problem(
            await assigner.post(
                "/v1/externalcontacts/c1/segments", json=[{"segmentId": shoes["id"], "state": "Unassigned"}]
            ),
            403,
        )


async def test_a_pattern_assigns_after_the_second_matching_event_and_starts_the_audience_journey(
    api_client_for: ApiClientFor, time_skipping_env: WorkflowEnvironment
) -> None:
    async with api_client_for(time_skipping_env.client) as http:
        segment = await create_segment(http, **SHOES)
        journey_id = await publish(http, audience_journey(segment["id"]))
        first = await post_event(http, track("u1", "viewed_product", category="shoes", price={"amount": 30}))
        cheap = await post_event(http, track("u1", "viewed_product", category="SHOES", price={"amount": 5}))
        hats = await post_event(http, track("u1", "viewed_product", category="hats", price={"amount": 50}))
        other = await post_event(http, track("u2", "viewed_product", category="Shoes", price={"amount": 50}))
        before = (await http.get("/v1/customers/userId/u1/segments")).json()
        second = await post_event(http, track("u1", "viewed_product", category="Shoes", price={"amount": 25}))
        third = await post_event(http, track("u1", "viewed_product", category="Shoes", price={"amount": 25}))
        after = (await http.get("/v1/customers/userId/u1/segments?assignmentState=Assigned")).json()
        enrollments = (await http.get(f"/v1/journeys/{journey_id}/enrollments")).json()
    for response in (first, cheap, hats, other):
        assert response["segmentsChanged"] == 0 and response["enrolled"] == 0
    assert before["data"] == []
    assert second["segmentsChanged"] == 1 and second["enrolled"] == 1
    assert third["segmentsChanged"] == 0 and third["enrolled"] == 0, "already in the segment"
    [item] = after["data"]
    assert item["segment"] == {"id": segment["id"], "displayName": "Shoe lovers", "scope": "Customer"}
    assert item["state"] == "Assigned" and item["expirationDate"] is None and item["customerId"] == "u1"
    assert [e["customerId"] for e in enrollments["data"]] == ["u1"]


async def test_assignments_by_identifier_session_and_external_contact_with_cursor_paging(
    api_client_for: ApiClientFor,
) -> None:
    async with api_client_for(None) as http:
        manual = [await create_segment(http, displayName=f"Manual {i}") for i in range(3)]
        visits = await create_segment(
            http,
            displayName="Visited pricing",
            scope="Session",
            journey={
                "patterns": [
                    {
                        "eventName": "page",
                        "criteria": [{"key": "url", "values": ["/pricing"], "operator": "endsWith"}],
                    }
                ]
            },
        )
        await assign(http, "crm-1", *({"segmentId": s["id"], "state": "Assigned"} for s in manual))
        first = (await http.get("/v1/externalcontacts/crm-1/segments?limit=2")).json()
        rest = (
            await http.get(f"/v1/externalcontacts/crm-1/segments?limit=2&after={first['meta']['next']}")
        ).json()
        by_type = (await http.get("/v1/customers/externalContactId/crm-1/segments")).json()

        page = {
            "type": "page",
            "anonymousId": "a-9",
            "sessionId": "s-1",
            "properties": {"url": "https://x.io/pricing"},
        }
        entered = await post_event(http, page)
        no_session = await post_event(http, {**page, "sessionId": None, "messageId": "p-2"})
        session = (await http.get("/v1/sessions/s-1/segments")).json()
        anonymous = (await http.get("/v1/customers/anonymousId/a-9/segments?segmentScope=Session")).json()
        customer_scoped = (
            await http.get("/v1/customers/anonymousId/a-9/segments?segmentScope=Customer")
        ).json()
        other_session = (await http.get("/v1/sessions/s-2/segments")).json()

        assert_problem(await http.get("/v1/customers/userId/nobody/segments"), 404)
        assert_problem(await http.get("/v1/customers/passport/x/segments"), 422)
        assert_problem(await http.get("/v1/externalcontacts/crm-1/segments?after=garbage"), 422)
    assert [i["segment"]["id"] for i in first["data"]] == [manual[0]["id"], manual[1]["id"]]
    assert first["meta"]["next"] and first["meta"]["limit"] == 2
    assert [i["segment"]["id"] for i in rest["data"]] == [manual[2]["id"]] and rest["meta"]["next"] is None
    assert [i["segment"]["id"] for i in by_type["data"]] == [s["id"] for s in manual]
    assert all(i["customerId"] == "ext-crm-1" for i in by_type["data"])
    assert entered["segmentsChanged"] == 1 and no_session["segmentsChanged"] == 0
    [item] = session["data"]
    assert (
        item["segment"]["id"] == visits["id"] and item["sessionId"] == "s-1" and item["state"] == "Assigned"
    )
    assert anonymous["data"] == session["data"] and customer_scoped["data"] == []
    assert other_session["data"] == []


async def test_external_contacts_assign_unassign_update_expiry_and_expired_reads_unassigned(
    api_client_for: ApiClientFor,
    time_skipping_env: WorkflowEnvironment,
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    soon = datetime.now(UTC) + timedelta(days=3)
    later = datetime.now(UTC) + timedelta(days=30)
    async with api_client_for(time_skipping_env.client) as http:
        vip = await create_segment(http, displayName="VIP", assignmentExpirationDays=10)
        churn = await create_segment(http, displayName="Churn risk")
        journey_id = await publish(http, audience_journey(vip["id"]))

        assigned = await assign(
            http,
            "crm-7",
            {"segmentId": vip["id"], "state": "Assigned"},
            {"segmentId": churn["id"], "state": "Assigned", "expirationDate": soon.isoformat()},
        )
        default_expiry = datetime.fromisoformat(assigned["data"][0]["expirationDate"])
        assert timedelta(days=9) < default_expiry - datetime.now(UTC) <= timedelta(days=10)
        assert datetime.fromisoformat(assigned["data"][1]["expirationDate"]) == soon

        extended = await assign(
            http,
            "crm-7",
            {"segmentId": churn["id"], "state": "Assigned", "expirationDate": later.isoformat()},
        )
        assert datetime.fromisoformat(extended["data"][0]["expirationDate"]) == later
        assert extended["data"][0]["assignedAt"] == assigned["data"][1]["assignedAt"], (
            "an update, not a new entry"
        )
        removed = await assign(http, "crm-7", {"segmentId": churn["id"], "state": "Unassigned"})
        assert removed["data"][0]["state"] == "Unassigned"

        await assign(
            http,
            "crm-7",
            {"segmentId": "00000000-0000-0000-0000-000000000000", "state": "Assigned"},
            status=422,
        )
        past = (datetime.now(UTC) - timedelta(days=1)).isoformat()
        await assign(
            http, "crm-7", {"segmentId": vip["id"], "state": "Assigned", "expirationDate": past}, status=422
        )
        await assign(http, "crm-7", {"segmentId": vip["id"], "state": "Maybe"}, status=422)

        enrolled_once = (await http.get("/v1/customers/ext-crm-7/enrollments")).json()
        unassigned = (await http.get("/v1/externalcontacts/crm-7/segments?assignmentState=Unassigned")).json()

        async with sessions() as session, session.begin():
            await session.execute(
                text(
                    "UPDATE segment_assignments SET expiration_date = now() - interval '1 minute'"
                    " WHERE segment_id = :s"
                ),
                {"s": uuid.UUID(vip["id"])},
            )
        expired = (await http.get("/v1/externalcontacts/crm-7/segments")).json()
        still_assigned = (
            await http.get("/v1/externalcontacts/crm-7/segments?assignmentState=Assigned")
        ).json()
        back = await assign(http, "crm-7", {"segmentId": vip["id"], "state": "Assigned"})
        journey_enrollments = (await http.get(f"/v1/journeys/{journey_id}/enrollments")).json()
    assert enrolled_once["meta"]["total"] == 1 and enrolled_once["data"][0]["journeyId"] == journey_id
    assert [i["segment"]["id"] for i in unassigned["data"]] == [churn["id"]]
    assert {i["segment"]["id"]: i["state"] for i in expired["data"]} == {
        vip["id"]: "Unassigned",
        churn["id"]: "Unassigned",
    }
    assert still_assigned["data"] == []
    assert back["data"][0]["state"] == "Assigned", "re-entering after expiry"
    # Re-entry is off for the audience journey: entering the segment again does not enroll twice.
    assert journey_enrollments["meta"]["total"] == 1


async def test_a_schedule_journey_keeps_a_temporal_schedule_and_its_workflow_enrolls_members(
    api_client_for: ApiClientFor,
    dev_env: WorkflowEnvironment,
    run_worker: RunWorker,
    settings: Settings,
) -> None:
    client = dev_env.client
    async with api_client_for(client) as http, run_worker(client):
        members = await create_segment(http, displayName="Weekly digest")
        created = await http.post("/v1/journeys", json=schedule_journey(None))
        missing = assert_problem(await http.post(f"/v1/journeys/{created.json()['id']}/publish"), 422)
        assert ["nodes", 0, "config", "segmentId"] in [e["loc"] for e in missing["errors"]]  # type: ignore[union-attr]
        bad_cron = (
            await http.post("/v1/journeys", json=schedule_journey(members["id"], cron="every day"))
        ).json()
        assert_problem(await http.post(f"/v1/journeys/{bad_cron['id']}/publish"), 422)

        for contact in ("c-1", "c-2", "c-3"):
            await assign(http, contact, {"segmentId": members["id"], "state": "Assigned"})
        await assign(http, "c-3", {"segmentId": members["id"], "state": "Unassigned"})
        journey_id = await publish(http, schedule_journey(members["id"]))
        schedule = client.get_schedule_handle(journey_schedule_id("acme", journey_id))
        described = await schedule.describe()
        [calendar] = described.schedule.spec.calendars  # the server turns the cron into a calendar
        assert [(r.start, r.end) for r in calendar.hour] == [(9, 9)]
        assert described.schedule.spec.time_zone_name == "UTC"
        assert isinstance(described.schedule.action, ScheduleActionStartWorkflow)
        assert described.schedule.action.workflow == JOURNEY_SCHEDULE_WORKFLOW

        await http.post(f"/v1/journeys/{journey_id}/pause", json={"mode": "entry"})
        with pytest.raises(RPCError):
            await schedule.describe()
        await http.post(f"/v1/journeys/{journey_id}/resume")
        await schedule.describe()

        run = await client.start_workflow(
            JOURNEY_SCHEDULE_WORKFLOW,
            ScheduledEntryInput(tenant_id="acme", journey_id=journey_id),
            id=f"test-scheduled-entry-{uuid.uuid4()}",
            task_queue=settings.temporal_task_queue,
        )
        enrolled = await asyncio.wait_for(run.result(), timeout=20)
        again = await client.execute_workflow(
            JOURNEY_SCHEDULE_WORKFLOW,
            ScheduledEntryInput(tenant_id="acme", journey_id=journey_id),
            id=f"test-scheduled-entry-{uuid.uuid4()}",
            task_queue=settings.temporal_task_queue,
            execution_timeout=timedelta(seconds=20),
        )
        entered = (await http.get(f"/v1/journeys/{journey_id}/enrollments")).json()
        await http.post(f"/v1/journeys/{journey_id}/archive")
        with pytest.raises(RPCError):
            await schedule.describe()
    assert enrolled == 2 and again == 0, "the second tick finds them already in the journey"
    assert sorted(e["customerId"] for e in entered["data"]) == ["ext-c-1", "ext-c-2"]
