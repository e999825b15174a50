"""/v1/actiontargets and /v1/templates: CRUD, validation at save, secret masking, tenants and scopes."""

from __future__ import annotations

import base64
import uuid
from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from plumbing.settings import Settings
from store.repositories.action_targets import ActionTargetRepository
from tests.conftest import ApiClientFor
from tests.integration.test_api_contract import assert_problem
from tests.journey_examples import welcome_journey

SECRET = "whsec_" + base64.b64encode(b"0123456789abcdef0123456789abcdef").decode()
PUBLIC_URL = "https://hooks.example.com/journeys?token=abc"


def webhook_target(**settings: Any) -> dict[str, Any]:
    return {
        "name": "CRM hook",
        "channel": "WEBHOOK",
        "settings": {"url": PUBLIC_URL, "secret": SECRET, **settings},
        "serviceLevel": {"percentage": 0.8, "durationMs": 20000},
        "shortAbandonThreshold": 5,
    }


def errors_at(response: httpx.Response, status: int = 422) -> dict[tuple[Any, ...], str]:
    body = assert_problem(response, status)
    errors = body["errors"]
    assert isinstance(errors, list)
    return {tuple(e["loc"]): e["msg"] for e in errors}


async def stored_settings(
    sessions: async_sessionmaker[AsyncSession], tenant: str, target_id: str
) -> dict[str, Any]:
    async with sessions() as session:
        row = await ActionTargetRepository(session).get(tenant, uuid.UUID(target_id))
    assert row is not None
    return row.settings


# --- action targets ---------------------------------------------------------------------------


async def test_action_target_crud_masks_secrets_and_keeps_them_across_patches(
    api_client_for: ApiClientFor, sessions: async_sessionmaker[AsyncSession]
) -> None:
    async with api_client_for(None) as http:
        created = await http.post(
            "/v1/actiontargets",
            json=webhook_target(headers={"Authorization": "Bearer t0k3n", "X-Env": "prod"}),
        )
        assert created.status_code == 201, created.text
        target = created.json()
        target_id = target["id"]
        sms = await http.post("/v1/actiontargets", json={"name": "SMS", "channel": "SMS", "enabled": False})
        assert sms.status_code == 201, sms.text

        fetched = (await http.get(f"/v1/actiontargets/{target_id}")).json()
        all_targets = (await http.get("/v1/actiontargets")).json()
        webhooks = (await http.get("/v1/actiontargets?channel=WEBHOOK")).json()
        disabled = (await http.get("/v1/actiontargets?enabled=false")).json()

        # A client that reads, edits and writes back the whole settings object keeps the secrets.
        round_trip = await http.patch(
            f"/v1/actiontargets/{target_id}",
            json={"name": "CRM", "settings": {**fetched["settings"], "timeoutSeconds": 5}},
        )
        assert round_trip.status_code == 200, round_trip.text
        after_round_trip = await stored_settings(sessions, "acme", target_id)
        # A merge patch changes only what it names; null removes.
        merged = await http.patch(
            f"/v1/actiontargets/{target_id}",
            json={"settings": {"headers": {"X-Env": None}}, "enabled": False},
        )
        assert merged.status_code == 200, merged.text
        unsigned = await http.patch(f"/v1/actiontargets/{target_id}", json={"settings": {"secret": None}})

    assert target["channel"] == "WEBHOOK" and target["enabled"] is True and target["disabledReason"] is None
    assert target["serviceLevel"] == {"percentage": 0.8, "durationMs": 20000}
    assert target["shortAbandonThreshold"] == 5
    assert target["settings"] == {
        "url": PUBLIC_URL,
        "secret": "whsec_****",
        "headers": {"Authorization": "****", "X-Env": "prod"},
        "timeoutSeconds": 10.0,
    }
    assert SECRET not in created.text and "t0k3n" not in created.text
    assert fetched == target
    assert all_targets["meta"]["total"] == 2
    assert [t["id"] for t in webhooks["data"]] == [target_id]
    assert [t["name"] for t in disabled["data"]] == ["SMS"]

    assert round_trip.json()["name"] == "CRM" and round_trip.json()["settings"]["timeoutSeconds"] == 5
    assert after_round_trip["secret"] == SECRET
    assert after_round_trip["headers"] == {"Authorization": "Bearer t0k3n", "X-Env": "prod"}
    assert merged.json()["settings"]["headers"] == {"Authorization": "****"}
    assert merged.json()["settings"]["secret"] == "whsec_****" and merged.json()["enabled"] is False
    assert "secret" not in unsigned.json()["settings"]
    assert "secret" not in await stored_settings(sessions, "acme", target_id)


@pytest.mark.parametrize(
    ("url", "why"),
    [
        ("http://127.0.0.1:8080/hook", "loopback"),
        ("http://169.254.169.254/latest/meta-data", "cloud metadata"),
        ("http://10.0.0.7/hook", "private"),
        ("http://localhost/hook", "names this machine"),
        ("ftp://hooks.example.com/x", "scheme"),
        ("https://user:pw@hooks.example.com/x", "userinfo"),
    ],
)
async def test_a_webhook_url_the_ssrf_guard_refuses_is_a_422_at_settings_url(
    api_client_for: ApiClientFor, url: str, why: str
) -> None:
    async with api_client_for(None) as http:
        response = await http.post("/v1/actiontargets", json=webhook_target(url=url))
        listed = (await http.get("/v1/actiontargets")).json()
    errors = errors_at(response)
    assert list(errors) == [("body", "settings", "url")]
    assert why in errors["body", "settings", "url"]
    assert listed["meta"]["total"] == 0


async def test_the_allow_list_admits_a_loopback_receiver(
    api_client_for: ApiClientFor, settings: Settings
) -> None:
    settings.webhook_allow_list = ["127.0.0.1"]
    async with api_client_for(None) as http:
        response = await http.post("/v1/actiontargets", json=webhook_target(url="http://127.0.0.1:9/hook"))
    assert response.status_code == 201, response.text


async def test_action_target_validation(api_client_for: ApiClientFor) -> None:
    async with api_client_for(None) as http:
        unknown_field = await http.post("/v1/actiontargets", json={**webhook_target(), "colour": "red"})
        unknown_setting = await http.post("/v1/actiontargets", json=webhook_target(retries=3))
        bad_channel = await http.post("/v1/actiontargets", json={**webhook_target(), "channel": "FAX"})
        no_url = await http.post("/v1/actiontargets", json={"name": "x", "channel": "WEBHOOK"})
        bad_secret = await http.post("/v1/actiontargets", json=webhook_target(secret="whsec_not base64!"))
        reserved_header = await http.post(
            "/v1/actiontargets", json=webhook_target(headers={"webhook-signature": "v1,forged"})
        )
        slow = await http.post("/v1/actiontargets", json=webhook_target(timeoutSeconds=120))
        bad_level = await http.post(
            "/v1/actiontargets",
            json={**webhook_target(), "serviceLevel": {"percentage": 80, "durationMs": 1}},
        )
        created = (await http.post("/v1/actiontargets", json=webhook_target())).json()
        moved_inside = await http.patch(
            f"/v1/actiontargets/{created['id']}", json={"settings": {"url": "http://192.168.1.1/"}}
        )
        null_name = await http.patch(f"/v1/actiontargets/{created['id']}", json={"name": None})
        unknown_patch = await http.patch(f"/v1/actiontargets/{created['id']}", json={"colour": "red"})
        unchanged = (await http.get(f"/v1/actiontargets/{created['id']}")).json()

    assert ("body", "colour") in errors_at(unknown_field)
    assert ("body", "settings", "retries") in errors_at(unknown_setting)
    assert ("body", "channel") in errors_at(bad_channel)
    assert ("body", "settings", "url") in errors_at(no_url)
    assert "base64" in errors_at(bad_secret)["body", "settings", "secret"]
    assert "cannot be overridden" in errors_at(reserved_header)["body", "settings", "headers"]
    assert ("body", "settings", "timeoutSeconds") in errors_at(slow)
    assert ("body", "serviceLevel", "percentage") in errors_at(bad_level)
    assert "private" in errors_at(moved_inside)["body", "settings", "url"]
    assert ("body", "name") in errors_at(null_name)
    assert ("body", "colour") in errors_at(unknown_patch)
    assert unchanged["settings"]["url"] == PUBLIC_URL and unchanged["name"] == "CRM hook"


async def test_action_targets_of_another_tenant_are_404_and_scopes_are_enforced(
    api_client_for: ApiClientFor,
) -> None:
    async with api_client_for(None, tenant="acme") as acme:
        target = (await acme.post("/v1/actiontargets", json=webhook_target())).json()
    async with api_client_for(None, tenant="globex") as globex:
        assert_problem(await globex.get(f"/v1/actiontargets/{target['id']}"), 404)
        assert_problem(await globex.patch(f"/v1/actiontargets/{target['id']}", json={"name": "mine"}), 404)
        assert_problem(await globex.get("/v1/actiontargets/not-a-uuid"), 404)
        assert (await globex.get("/v1/actiontargets")).json()["meta"]["total"] == 0
    async with api_client_for(None, scopes=["journey:actiontarget:view"]) as viewer:
        assert (await viewer.get(f"/v1/actiontargets/{target['id']}")).status_code == 200
        assert_problem(await viewer.post("/v1/actiontargets", json=webhook_target()), 403)
        assert_problem(await viewer.patch(f"/v1/actiontargets/{target['id']}", json={"name": "x"}), 403)
    async with api_client_for(None, scopes=["journey:actiontarget:add"]) as adder:
        assert (await adder.post("/v1/actiontargets", json=webhook_target())).status_code == 201
        assert_problem(await adder.get("/v1/actiontargets"), 403)
        assert_problem(await adder.patch(f"/v1/actiontargets/{target['id']}", json={"name": "x"}), 403)


# --- templates ----------------------------------------------------------------------------------

WELCOME = {"name": "Welcome", "channel": "EMAIL", "subject": "Hi {{ traits.firstName }}", "body": "Hello!"}


async def test_template_crud(api_client_for: ApiClientFor) -> None:
    async with api_client_for(None) as http:
        created = await http.post("/v1/templates", json=WELCOME)
        assert created.status_code == 201, created.text
        template = created.json()
        sms = await http.post("/v1/templates", json={"name": "Ping", "channel": "SMS", "body": "Hi"})
        assert sms.status_code == 201, sms.text
        fetched = (await http.get(f"/v1/templates/{template['id']}")).json()
        listed = (await http.get("/v1/templates")).json()
        emails = (await http.get("/v1/templates?channel=EMAIL")).json()
        patched = await http.patch(f"/v1/templates/{template['id']}", json={"body": "Bye {{ traits.x }}"})
        deleted = await http.delete(f"/v1/templates/{template['id']}")
        gone = await http.get(f"/v1/templates/{template['id']}")
        deleted_again = await http.delete(f"/v1/templates/{template['id']}")

    assert template["name"] == "Welcome" and template["subject"] == WELCOME["subject"]
    assert set(template) == {"id", "name", "channel", "subject", "body", "createdAt", "updatedAt"}
    assert fetched == template
    assert listed["meta"]["total"] == 2
    assert [t["id"] for t in emails["data"]] == [template["id"]]
    assert patched.status_code == 200
    assert patched.json()["body"] == "Bye {{ traits.x }}" and patched.json()["subject"] == WELCOME["subject"]
    assert deleted.status_code == 204 and deleted.content == b""
    assert_problem(gone, 404)
    assert_problem(deleted_again, 404)


async def test_template_syntax_errors_are_422_at_the_field(api_client_for: ApiClientFor) -> None:
    async with api_client_for(None) as http:
        bad_body = await http.post("/v1/templates", json={**WELCOME, "body": "Hi {{ traits.firstName "})
        bad_subject = await http.post("/v1/templates", json={**WELCOME, "subject": "{% if %}x{% endif %}"})
        unknown_filter = await http.post("/v1/templates", json={**WELCOME, "body": "{{ x | shout }}"})
        no_subject = await http.post("/v1/templates", json={**WELCOME, "subject": None})
        unknown_field = await http.post("/v1/templates", json={**WELCOME, "html": "<p>"})
        template = (await http.post("/v1/templates", json=WELCOME)).json()
        bad_patch = await http.patch(f"/v1/templates/{template['id']}", json={"body": "{% for x in y %}"})
        null_body = await http.patch(f"/v1/templates/{template['id']}", json={"body": None})
        unchanged = (await http.get(f"/v1/templates/{template['id']}")).json()
        listed = (await http.get("/v1/templates")).json()

    assert "does not compile (line 1)" in errors_at(bad_body)["body", "body"]
    assert list(errors_at(bad_subject)) == [("body", "subject")]
    assert "No filter named 'shout'" in errors_at(unknown_filter)["body", "body"]
    assert "needs a subject" in errors_at(no_subject)["body", "subject"]
    assert ("body", "html") in errors_at(unknown_field)
    assert "endfor" in errors_at(bad_patch)["body", "body"]
    assert ("body", "body") in errors_at(null_body)
    assert unchanged["body"] == WELCOME["body"]
    assert listed["meta"]["total"] == 1


async def test_a_template_a_journey_uses_cannot_be_deleted(api_client_for: ApiClientFor) -> None:
    async with api_client_for(None) as http:
        template = (await http.post("/v1/templates", json=WELCOME)).json()
        journey = welcome_journey()
        journey["nodes"][1]["config"] = {"channel": "EMAIL", "templateId": template["id"]}
        created = await http.post("/v1/journeys", json=journey)
        assert created.status_code == 201, created.text
        refused = await http.delete(f"/v1/templates/{template['id']}")
        await http.post(f"/v1/journeys/{created.json()['id']}/archive")
        archived = await http.delete(f"/v1/templates/{template['id']}")
    assert "used by journey 'Welcome'" in str(assert_problem(refused, 409)["detail"])
    assert archived.status_code == 204


async def test_templates_of_another_tenant_are_404_and_scopes_are_enforced(
    api_client_for: ApiClientFor,
) -> None:
    async with api_client_for(None, tenant="acme") as acme:
        template = (await acme.post("/v1/templates", json=WELCOME)).json()
    path = f"/v1/templates/{template['id']}"
    async with api_client_for(None, tenant="globex") as globex:
        assert_problem(await globex.get(path), 404)
        assert_problem(await globex.patch(path, json={"name": "mine"}), 404)
        assert_problem(await globex.delete(path), 404)
        assert (await globex.get("/v1/templates")).json()["meta"]["total"] == 0
    async with api_client_for(None, scopes=["journey:template:view"]) as viewer:
        assert (await viewer.get(path)).status_code == 200
        assert_problem(await viewer.post("/v1/templates", json=WELCOME), 403)
        assert_problem(await viewer.patch(path, json={"name": "x"}), 403)
        assert_problem(await viewer.delete(path), 403)
    async with api_client_for(None, scopes=["journey:template:edit"]) as editor:
        assert_problem(await editor.get(path), 403)
        assert (await editor.delete(path)).status_code == 204
