"""Lifecycle verbs (SPEC §6): every transition, allowed and refused; versions; tenant isolation."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.conftest import ApiClientFor
from tests.journey_examples import welcome_journey

ACTIONS = ("publish", "pause", "resume", "unpublish", "archive", "restore")
ALLOWED: dict[str, dict[str, str]] = {
    # from status → {action: resulting status}
    "DRAFT": {"publish": "PUBLISHED", "archive": "ARCHIVED"},
    "PUBLISHED": {"publish": "PUBLISHED", "pause": "PAUSED", "unpublish": "DRAFT", "archive": "ARCHIVED"},
    "PAUSED": {"pause": "PAUSED", "resume": "PUBLISHED", "unpublish": "DRAFT", "archive": "ARCHIVED"},
    "ARCHIVED": {"restore": "DRAFT"},
}
REACH: dict[str, list[str]] = {
    "DRAFT": [],
    "PUBLISHED": ["publish"],
    "PAUSED": ["publish", "pause"],
    "ARCHIVED": ["publish", "archive"],
}


async def journey_in(http: httpx.AsyncClient, status: str) -> dict[str, Any]:
    journey: dict[str, Any] = (await http.post("/v1/journeys", json=welcome_journey())).json()
    for action in REACH[status]:
        response = await http.post(f"/v1/journeys/{journey['id']}/{action}")
        assert response.status_code == 200, response.text
    assert (await http.get(f"/v1/journeys/{journey['id']}")).json()["status"] == status
    return journey


@pytest.mark.parametrize("status", list(ALLOWED))
@pytest.mark.parametrize("action", ACTIONS)
async def test_every_transition(api_client_for: ApiClientFor, status: str, action: str) -> None:
    async with api_client_for(None) as http:
        journey = await journey_in(http, status)
        response = await http.post(f"/v1/journeys/{journey['id']}/{action}")
    expected = ALLOWED[status].get(action)
    if expected is None:
        assert response.status_code == 409, response.text
        detail = response.json()["detail"]
        assert f"cannot {action}" in detail and status in detail
        for allowed in ALLOWED[status]:
            assert allowed in detail
    else:
        assert response.status_code == 200, response.text
        assert response.json()["status"] == expected


async def test_pause_modes(api_client_for: ApiClientFor) -> None:
    async with api_client_for(None) as http:
        journey = await journey_in(http, "PUBLISHED")
        entry = await http.post(f"/v1/journeys/{journey['id']}/pause", json={"mode": "entry"})
        assert entry.json()["pauseMode"] == "entry"
        switched = await http.post(f"/v1/journeys/{journey['id']}/pause", json={"mode": "all"})
        assert switched.json()["pauseMode"] == "all"
        bad = await http.post(f"/v1/journeys/{journey['id']}/pause", json={"mode": "some"})
        assert bad.status_code == 422 and bad.json()["errors"][0]["loc"] == ["body", "mode"]
        resumed = (await http.post(f"/v1/journeys/{journey['id']}/resume")).json()
        assert resumed["status"] == "PUBLISHED" and resumed["pauseMode"] is None
        enrollment = await http.post(f"/v1/journeys/{journey['id']}/pause")
        assert enrollment.json()["pauseMode"] == "all"


async def test_entry_is_refused_unless_published(api_client_for: ApiClientFor) -> None:
    async with api_client_for(None) as http:
        for status in ("DRAFT", "PAUSED", "ARCHIVED"):
            journey = await journey_in(http, status)
            response = await http.post(f"/v1/journeys/{journey['id']}/enrollments", json={"customerId": "c"})
            assert response.status_code == 409, (status, response.text)
            assert status in response.json()["detail"]


async def test_publish_freezes_versions_and_edits_go_to_the_draft(api_client_for: ApiClientFor) -> None:
    async with api_client_for(None) as http:
        journey = await journey_in(http, "PUBLISHED")
        path = f"/v1/journeys/{journey['id']}"
        assert (await http.get(path)).json()["hasDraftChanges"] is False
        again = (await http.post(f"{path}/publish")).json()
        assert again["version"] == 1, "an unchanged re-publish is a no-op"

        canvas = welcome_journey()
        canvas["nodes"][1]["config"]["subject"] = "Welcome back!"
        saved = await http.put(f"{path}/canvas", json={"nodes": canvas["nodes"], "edges": canvas["edges"]})
        assert saved.status_code == 200 and saved.json()["hasDraftChanges"] is True
        assert saved.json()["status"] == "PUBLISHED" and saved.json()["version"] == 1

        v2 = (await http.post(f"{path}/publish")).json()
        assert v2["version"] == 2 and v2["hasDraftChanges"] is False

        versions = (await http.get(f"{path}/versions")).json()
        assert [v["version"] for v in versions["data"]] == [2, 1]
        assert versions["meta"]["total"] == 2
        v1 = (await http.get(f"{path}/versions/1")).json()
        assert v1["nodes"][1]["config"]["subject"] == "Welcome, {{ traits.firstName }}!"
        assert (await http.get(f"{path}/versions/2")).json()["nodes"][1]["config"][
            "subject"
        ] == "Welcome back!"
        assert (await http.get(f"{path}/versions/3")).status_code == 404


async def test_publish_needs_a_step_after_the_trigger(api_client_for: ApiClientFor) -> None:
    async with api_client_for(None) as http:
        body = {"name": "Empty", "nodes": [{"id": "t", "type": "TRIGGER"}]}
        journey = (await http.post("/v1/journeys", json=body)).json()
        response = await http.post(f"/v1/journeys/{journey['id']}/publish")
    assert response.status_code == 422
    assert {
        "loc": ["nodes"],
        "msg": "a journey needs at least one step after its TRIGGER",
    } in response.json()["errors"]


async def test_delete_removes_a_never_published_draft_and_archives_the_rest(
    api_client_for: ApiClientFor,
) -> None:
    async with api_client_for(None) as http:
        draft = await journey_in(http, "DRAFT")
        deleted = await http.delete(f"/v1/journeys/{draft['id']}")
        assert deleted.status_code == 204 and deleted.content == b""
        assert (await http.get(f"/v1/journeys/{draft['id']}")).status_code == 404

        live = await journey_in(http, "PUBLISHED")
        archived = await http.delete(f"/v1/journeys/{live['id']}")
        assert archived.status_code == 200 and archived.json()["status"] == "ARCHIVED"
        assert (await http.get(f"/v1/journeys/{live['id']}/versions")).json()["meta"]["total"] == 1

        unpublished = await journey_in(http, "PUBLISHED")
        await http.post(f"/v1/journeys/{unpublished['id']}/unpublish")
        kept = await http.delete(f"/v1/journeys/{unpublished['id']}")
        assert kept.status_code == 200 and kept.json()["status"] == "ARCHIVED", "it was published once: kept"


async def test_patch_is_partial_and_locks_site_while_live(api_client_for: ApiClientFor) -> None:
    async with api_client_for(None) as http:
        journey = await journey_in(http, "DRAFT")
        path = f"/v1/journeys/{journey['id']}"
        patched = (await http.patch(path, json={"description": "New words"})).json()
        assert patched["description"] == "New words" and patched["name"] == "Welcome"
        await http.post(f"{path}/publish")
        assert (await http.patch(path, json={"name": "Renamed"})).json()["name"] == "Renamed"
        locked = await http.patch(path, json={"siteId": "elsewhere"})
        assert locked.status_code == 409 and "siteId" in locked.json()["detail"].replace("site_id", "siteId")
        settings = await http.patch(
            path, json={"settings": {"allowReentry": True, "timezone": "Europe/Paris"}}
        )
        assert settings.json()["settings"]["timezone"] == "Europe/Paris"
        assert settings.json()["hasDraftChanges"] is True
        bad_zone = await http.patch(path, json={"settings": {"timezone": "Mars/Olympus"}})
        assert bad_zone.status_code == 422 and bad_zone.json()["errors"][0]["loc"] == [
            "body",
            "settings",
            "timezone",
        ]
        await http.post(f"{path}/archive")
        assert (await http.patch(path, json={"name": "x"})).status_code == 409


async def test_destinations_repoint_the_live_version_without_a_new_one(api_client_for: ApiClientFor) -> None:
    async with api_client_for(None) as http:
        journey = await journey_in(http, "PUBLISHED")
        path = f"/v1/journeys/{journey['id']}"
        body = {"destinations": [{"nodeId": "welcome", "actionTargetId": "at-2", "templateId": "tpl-9"}]}
        response = await http.patch(f"{path}/destinations", json=body)
        assert response.status_code == 200, response.text
        assert response.json()["version"] == 1
        live = (await http.get(f"{path}/versions/1")).json()
        assert live["nodes"][1]["config"]["actionTargetId"] == "at-2"
        assert live["nodes"][1]["config"]["templateId"] == "tpl-9"
        wrong = await http.patch(
            f"{path}/destinations", json={"destinations": [{"nodeId": "done", "templateId": "t"}]}
        )
        assert wrong.status_code == 422 and wrong.json()["errors"][0]["loc"] == ["destinations", 0, "nodeId"]
        draft = await journey_in(http, "DRAFT")
        assert (await http.patch(f"/v1/journeys/{draft['id']}/destinations", json=body)).status_code == 409


async def test_every_journey_route_is_404_for_another_tenant(api_client_for: ApiClientFor) -> None:
    async with api_client_for(None, tenant="acme") as acme:
        journey = await journey_in(acme, "PUBLISHED")
    jid = journey["id"]
    canvas = {"nodes": welcome_journey()["nodes"], "edges": welcome_journey()["edges"]}
    routes: list[tuple[str, str, Any]] = [
        ("GET", f"/v1/journeys/{jid}", None),
        ("PATCH", f"/v1/journeys/{jid}", {"name": "x"}),
        ("DELETE", f"/v1/journeys/{jid}", None),
        ("PUT", f"/v1/journeys/{jid}/canvas", canvas),
        ("GET", f"/v1/journeys/{jid}/steps", None),
        ("POST", f"/v1/journeys/{jid}/steps", {"type": "WAIT", "config": {"duration": "1 day"}}),
        ("PATCH", f"/v1/journeys/{jid}/steps/welcome", {"name": "x"}),
        ("DELETE", f"/v1/journeys/{jid}/steps/welcome", None),
        ("POST", f"/v1/journeys/{jid}/steps/reorder", {"stepIds": ["start", "welcome", "done"]}),
        *[("POST", f"/v1/journeys/{jid}/{action}", None) for action in ACTIONS],
        ("GET", f"/v1/journeys/{jid}/versions", None),
        ("GET", f"/v1/journeys/{jid}/versions/1", None),
        (
            "PATCH",
            f"/v1/journeys/{jid}/destinations",
            {"destinations": [{"nodeId": "welcome", "templateId": "t"}]},
        ),
        ("GET", f"/v1/journeys/{jid}/enrollments", None),
        ("POST", f"/v1/journeys/{jid}/enrollments", {"customerId": "c"}),
        ("GET", f"/v1/journeys/{jid}/enrollments/00000000-0000-0000-0000-000000000001", None),
    ]
    async with api_client_for(None, tenant="globex") as globex:
        for method, path, body in routes:
            response = await globex.request(method, path, json=body)
            assert response.status_code == 404, (method, path, response.status_code, response.text)
    async with api_client_for(None, tenant="acme") as acme:
        still = (await acme.get(f"/v1/journeys/{jid}")).json()
        assert still["status"] == "PUBLISHED" and still["name"] == "Welcome"
