"""The authoring examples of the seed APIs (000 Segment, 001 canvas, 004 steps), in our field names,
and the seeds' paging parameters (002 Genesys pageNumber/pageSize, 004 skip/take)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from store.rows import EnrollmentRow
from tests.conftest import ApiClientFor

# 001 "Create Journey": a URL_MATCH trigger is an EVENT trigger on `page` with a URL rule; a CONTENT
# node is a SEND on the IN_APP channel; goalConfig flow_completed with a 7-day deadline.
ONBOARDING_001: dict[str, Any] = {
    "name": "New User Onboarding",
    "siteId": "site_xyz",
    "description": "Guide new users through core features",
    "settings": {"allowAnonymous": True},
    "goalConfig": {"type": "flow_completed", "config": {"flowId": "flow_abc"}, "deadline": 7},
    "nodes": [
        {
            "id": "n1",
            "type": "TRIGGER",
            "config": {
                "triggerType": "EVENT",
                "event": "page",
                "rules": [{"field": "properties.url", "operator": "contains", "value": "/dashboard"}],
            },
            "position": {"x": 0, "y": 0},
        },
        {
            "id": "n2",
            "type": "SEND",
            "config": {"channel": "IN_APP", "contentId": "flow_abc", "contentType": "flow"},
            "position": {"x": 200, "y": 0},
        },
        {"id": "n3", "type": "EXIT"},
    ],
    "edges": [{"sourceNodeId": "n1", "targetNodeId": "n2"}, {"sourceNodeId": "n2", "targetNodeId": "n3"}],
}

# 004 "Create Journey" + its step examples: trigger shorthand with conditions, reentry off, timezone.
MEMBER_004: dict[str, Any] = {
    "name": "New Member Onboarding",
    "description": "Welcome sequence for new members",
    "trigger": {
        "triggerType": "EVENT",
        "event": "scl.member.created",
        "rules": [{"field": "membershipTier", "operator": "in", "value": ["Gold", "Platinum"]}],
    },
    "settings": {"allowReentry": False, "timezone": "Africa/Johannesburg"},
    "steps": [
        {
            "id": "step_1",
            "type": "SEND",
            "name": "Welcome Email",
            "config": {"channel": "EMAIL", "templateId": "welcome_email"},
            "nextStepId": "step_2",
        },
        {
            "id": "step_2",
            "type": "WAIT",
            "name": "Wait 3 days",
            "config": {"duration": "3 days"},
            "nextStepId": "step_3",
        },
        {
            "id": "step_3",
            "type": "CONDITION",
            "name": "Check if opened",
            "config": {"rules": [{"field": "lastEmailOpenAt", "operator": "isNotNull"}]},
            "nextStepYesId": "step_4",
            "nextStepNoId": "step_5",
        },
        {
            "id": "step_4",
            "type": "UPDATE",
            "name": "Tag as Onboarded",
            "config": {"updates": [{"field": "tags", "action": "add", "value": "onboarded"}]},
            "nextStepId": "step_6",
        },
        {
            "id": "step_5",
            "type": "SPLIT",
            "name": "A/B Test",
            "config": {
                "splits": [
                    {"key": "a", "percentage": 50, "nextStepId": "step_6"},
                    {"key": "b", "percentage": 50, "nextStepId": "step_6"},
                ]
            },
        },
        {"id": "step_6", "type": "END", "name": "Done"},
    ],
}


async def test_001_create_get_list_patch_canvas_and_lifecycle(api_client_for: ApiClientFor) -> None:
    async with api_client_for(None) as http:
        created = await http.post("/v1/journeys", json=ONBOARDING_001)
        assert created.status_code == 201, created.text
        journey = created.json()
        assert journey["goalConfig"] == {
            "type": "flow_completed",
            "config": {"eventName": None, "url": None, "field": None, "value": None, "flowId": "flow_abc"},
            "deadline": 7,
            "exitOnConversion": False,
        }
        assert journey["_count"] == {"nodes": 3, "edges": 2, "enrollments": 0}
        assert journey["triggerType"] == "EVENT"
        path = f"/v1/journeys/{journey['id']}"

        # List with page/limit/status/siteId.
        await http.post("/v1/journeys", json={**ONBOARDING_001, "siteId": "other_site", "name": "Other"})
        listed = (await http.get("/v1/journeys?page=1&limit=20&status=DRAFT&siteId=site_xyz")).json()
        assert [j["id"] for j in listed["data"]] == [journey["id"]]
        assert listed["meta"] == {"total": 1, "page": 1, "limit": 20, "totalPages": 1}
        assert (await http.get("/v1/journeys?q=onboarding")).json()["meta"]["total"] == 1

        # Update (partial): only the given fields change.
        patched = (await http.patch(path, json={"description": "Updated"})).json()
        assert patched["description"] == "Updated" and patched["name"] == "New User Onboarding"

        # Save Canvas: atomic replace, ids preserved, nodes without ids get one.
        canvas = {
            "nodes": [
                {
                    "id": "n1",
                    "type": "TRIGGER",
                    "config": {"triggerType": "MANUAL"},
                    "position": {"x": 0, "y": 0},
                },
                {
                    "id": "n2",
                    "type": "SEND",
                    "config": {"channel": "IN_APP", "contentId": "flow_abc"},
                    "position": {"x": 220, "y": 0},
                },
                {"type": "EXIT"},
            ],
            "edges": [
                {"sourceNodeId": "n1", "targetNodeId": "n2", "label": "next"},
                {"sourceNodeId": "n2", "targetNodeId": "exit_3"},
            ],
        }
        saved = (await http.put(f"{path}/canvas", json=canvas)).json()
        assert [n["id"] for n in saved["nodes"]] == ["n1", "n2", "exit_3"]
        assert saved["nodes"][1]["position"] == {"x": 220.0, "y": 0.0}

        # Publish / pause / unpublish / archive (DELETE) / restore.
        assert (await http.post(f"{path}/publish")).json()["status"] == "PUBLISHED"
        assert (await http.post(f"{path}/pause", json={"mode": "entry"})).json()["status"] == "PAUSED"
        assert (await http.post(f"{path}/unpublish")).json()["status"] == "DRAFT"
        assert (await http.delete(path)).json()["status"] == "ARCHIVED"
        restored = (await http.post(f"{path}/restore")).json()
        assert restored["status"] == "DRAFT" and restored["version"] == 1


async def test_004_create_with_steps_and_manage_steps(api_client_for: ApiClientFor) -> None:
    async with api_client_for(None) as http:
        created = await http.post("/v1/journeys", json=MEMBER_004)
        assert created.status_code == 201, created.text
        journey = created.json()
        path = f"/v1/journeys/{journey['id']}"
        assert journey["settings"]["timezone"] == "Africa/Johannesburg"
        assert (
            journey["nodes"][0]["type"] == "TRIGGER"
            and journey["nodes"][0]["config"]["event"] == "scl.member.created"
        )

        detail = (await http.get(f"{path}?include=steps,enrollments")).json()
        assert detail["totals"]["stepsCount"] == 7 and detail["enrollments"] == []
        steps = {s["id"]: s for s in detail["steps"]}
        assert steps["step_3"]["nextStepYesId"] == "step_4" and steps["step_3"]["nextStepNoId"] == "step_5"
        assert [s["nextStepId"] for s in steps["step_5"]["config"]["splits"]] == ["step_6", "step_6"]
        assert (await http.get(f"{path}?include=everything")).status_code == 422

        # Filters: status and triggerType.
        assert (await http.get("/v1/journeys?triggerType=EVENT&status=DRAFT")).json()["meta"]["total"] == 1
        assert (await http.get("/v1/journeys?triggerType=MANUAL")).json()["meta"]["total"] == 0

        # Add Journey Step after step_2.
        added = await http.post(
            f"{path}/steps",
            json={
                "type": "SEND",
                "name": "Follow-up Email",
                "config": {"channel": "EMAIL", "templateId": "followup_email"},
                "afterStepId": "step_2",
            },
        )
        assert added.status_code == 201, added.text
        new_id = added.json()["id"]
        listed = (await http.get(f"{path}/steps")).json()["data"]
        by_id = {s["id"]: s for s in listed}
        assert by_id["step_2"]["nextStepId"] == new_id and by_id[new_id]["nextStepId"] == "step_3"

        # Update Journey Step.
        renamed = await http.patch(
            f"{path}/steps/{new_id}",
            json={"name": "Updated Step Name", "config": {"channel": "EMAIL", "templateId": "new_template"}},
        )
        assert renamed.status_code == 200 and renamed.json()["config"]["templateId"] == "new_template"
        bad = await http.patch(f"{path}/steps/{new_id}", json={"config": {"channel": "FAX"}})
        assert bad.status_code == 422 and bad.json()["errors"][0]["loc"][:2] == ["body", "config"]

        # Delete Journey Step: neighbours re-linked.
        assert (await http.delete(f"{path}/steps/{new_id}")).status_code == 204
        by_id = {s["id"]: s for s in (await http.get(f"{path}/steps")).json()["data"]}
        assert new_id not in by_id and by_id["step_2"]["nextStepId"] == "step_3"
        assert (await http.delete(f"{path}/steps/ghost")).status_code == 404

        # Activate (publish) requires a valid graph; then PATCH of name/description is still allowed.
        published = await http.post(f"{path}/publish")
        assert published.status_code == 200, published.text
        assert (await http.patch(path, json={"name": "Updated Journey Name"})).status_code == 200
        assert (await http.post(f"{path}/pause")).json()["status"] == "PAUSED"
        assert (await http.post(f"{path}/resume")).json()["status"] == "PUBLISHED"
        assert (await http.post(f"{path}/archive")).json()["status"] == "ARCHIVED"


async def test_004_reorder_a_linear_journey(api_client_for: ApiClientFor) -> None:
    body = {
        "name": "Linear",
        "steps": [
            {"id": "step_0", "type": "TRIGGER", "nextStepId": "step_1"},
            {"id": "step_1", "type": "WAIT", "config": {"duration": "1 day"}, "nextStepId": "step_2"},
            {"id": "step_2", "type": "WAIT", "config": {"duration": "2 days"}, "nextStepId": "step_3"},
            {"id": "step_3", "type": "WAIT", "config": {"duration": "3 days"}, "nextStepId": "step_4"},
            {"id": "step_4", "type": "END"},
        ],
    }
    async with api_client_for(None) as http:
        journey = (await http.post("/v1/journeys", json=body)).json()
        path = f"/v1/journeys/{journey['id']}/steps"
        reordered = await http.post(
            f"{path}/reorder", json={"stepIds": ["step_0", "step_1", "step_3", "step_2", "step_4"]}
        )
        assert reordered.status_code == 200, reordered.text
        steps = reordered.json()["data"]
        assert [s["id"] for s in steps] == ["step_0", "step_1", "step_3", "step_2", "step_4"]
        assert [s["stepNumber"] for s in steps] == [1, 2, 3, 4, 5]
        assert [s["nextStepId"] for s in steps] == ["step_1", "step_3", "step_2", "step_4", None]
        missing = await http.post(f"{path}/reorder", json={"stepIds": ["step_0", "step_1"]})
        assert missing.status_code == 422 and missing.json()["errors"][0]["loc"] == ["body", "stepIds"]


async def test_000_definition_replace_status_versions_and_destinations(api_client_for: ApiClientFor) -> None:
    """Segment: create with a definition, Replace Steps, Update Status (PUBLISH, PAUSE_ENTRY, ARCHIVE)
    with versions, Update Destinations."""
    definition = {
        "nodes": [
            {
                "id": "entry_12345",
                "type": "TRIGGER",
                "config": {"triggerType": "AUDIENCE", "segmentId": "seg_1"},
            },
            {"id": "delay_1", "type": "WAIT", "config": {"duration": "PT1H"}},
            {
                "id": "dest_1",
                "type": "SEND",
                "config": {"channel": "WEBHOOK", "actionTargetId": "at_1", "body": "{}"},
            },
            {"id": "exit_1", "type": "EXIT"},
        ],
        "edges": [
            {"sourceNodeId": "entry_12345", "targetNodeId": "delay_1"},
            {"sourceNodeId": "delay_1", "targetNodeId": "dest_1"},
            {"sourceNodeId": "dest_1", "targetNodeId": "exit_1"},
        ],
    }
    async with api_client_for(None) as http:
        created = await http.post(
            "/v1/journeys",
            json={
                "name": "Journey from API",
                "description": "This is a journey created from the API",
                **definition,
            },
        )
        assert created.status_code == 201, created.text
        path = f"/v1/journeys/{created.json()['id']}"
        assert created.json()["triggerType"] == "AUDIENCE"

        # Replace Steps (initialState + states) is a canvas replace.
        replaced = definition | {
            "nodes": [
                *definition["nodes"][:2],
                definition["nodes"][2] | {"name": "Webhook"},
                definition["nodes"][3],
            ]
        }
        assert (await http.put(f"{path}/canvas", json=replaced)).json()["nodes"][2]["name"] == "Webhook"

        assert (await http.post(f"{path}/publish")).json()["version"] == 1
        assert (await http.post(f"{path}/pause", json={"mode": "entry"})).json()["pauseMode"] == "entry"
        await http.post(f"{path}/resume")
        moved = await http.patch(
            f"{path}/destinations", json={"destinations": [{"nodeId": "dest_1", "actionTargetId": "at_2"}]}
        )
        assert moved.status_code == 200 and moved.json()["version"] == 1
        assert (await http.get(f"{path}/versions/1")).json()["nodes"][2]["config"]["actionTargetId"] == "at_2"
        versions = (await http.get(f"{path}/versions")).json()["data"]
        assert versions[0]["version"] == 1 and versions[0]["nodesCount"] == 4
        assert (await http.post(f"{path}/archive")).json()["status"] == "ARCHIVED"


async def test_002_genesys_paging_names(api_client_for: ApiClientFor) -> None:
    """Seed 002 pages segments and action targets with `pageNumber` (from 1) and `pageSize` (default 25):
    aliases of `page` and `limit`, never ignored."""
    async with api_client_for(None) as http:
        for index in range(30):
            created = await http.post("/v1/segments", json={"displayName": f"Segment {index:02}"})
            assert created.status_code == 201
        for index in range(3):
            await http.post(
                "/v1/actiontargets",
                json={"name": f"Target {index}", "channel": "SMS", "settings": {"provider": "x"}},
            )

        def names(page: dict[str, Any]) -> list[str]:
            return [item["displayName"] for item in page["data"]]

        by_ours = (await http.get("/v1/segments?sortBy=name&page=3&limit=10")).json()
        by_genesys = (await http.get("/v1/segments?sortBy=name&pageNumber=3&pageSize=10")).json()
        assert names(by_genesys) == names(by_ours) == [f"Segment {i}" for i in range(20, 30)]
        assert by_genesys["meta"] == {"total": 30, "page": 3, "limit": 10, "totalPages": 3}

        second = (await http.get("/v1/segments?sortBy=name&pageNumber=2")).json()
        assert names(second) == [f"Segment {i}" for i in range(25, 30)], "the seed's default page size: 25"
        assert second["meta"]["limit"] == 25
        assert (await http.get("/v1/segments?page=2")).json()["meta"]["limit"] == 20, "ours stays 20"
        agreeing = await http.get("/v1/segments?page=2&pageNumber=2&pageSize=5")
        assert agreeing.status_code == 200 and agreeing.json()["meta"]["page"] == 2

        targets = (await http.get("/v1/actiontargets?pageNumber=2&pageSize=2")).json()
        assert len(targets["data"]) == 1 and targets["meta"]["page"] == 2 and targets["meta"]["total"] == 3


async def test_004_enrollments_skip_and_take(
    api_client_for: ApiClientFor, sessions: async_sessionmaker[AsyncSession]
) -> None:
    """Seed 004 pages enrollments with `skip` (an offset, any number) and `take`, and echoes both."""
    async with api_client_for(None) as http:
        journey = (await http.post("/v1/journeys", json={"name": "Paged", "steps": []})).json()
        base = datetime(2025, 12, 14, 9, tzinfo=UTC)
        async with sessions() as session:
            for index in range(7):
                session.add(
                    EnrollmentRow(
                        id=uuid.uuid4(),
                        tenant_id="acme",
                        journey_id=uuid.UUID(journey["id"]),
                        version=1,
                        customer_id=f"customer_{index}",
                        entry_number=1,
                        workflow_id=f"wf-{uuid.uuid4()}",
                        status="ACTIVE",
                        enrolled_at=base + timedelta(minutes=index),
                    )
                )
            await session.commit()
        path = f"/v1/journeys/{journey['id']}/enrollments"
        everything = [e["customerId"] for e in (await http.get(path)).json()["data"]]
        taken = (await http.get(f"{path}?skip=3&take=2")).json()
        assert [e["customerId"] for e in taken["data"]] == everything[3:5]
        assert taken["meta"] == {"total": 7, "page": 2, "limit": 2, "totalPages": 4, "skip": 3, "take": 2}
        tail = (await http.get(f"{path}?skip=5")).json()
        assert [e["customerId"] for e in tail["data"]] == everything[5:]
        first = (await http.get(f"{path}?take=4")).json()
        assert [e["customerId"] for e in first["data"]] == everything[:4] and "skip" not in first["meta"]
        await http.put("/v1/customers/customer_1", json={"traits": {}})
        customer = (await http.get("/v1/customers/customer_1/enrollments?skip=0&take=1")).json()
        assert customer["meta"]["skip"] == 0 and customer["meta"]["take"] == 1
