"""Limits (body size, durations, template size, per-tenant rate) and mass assignment."""

from __future__ import annotations

import copy
import itertools
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import pytest_asyncio

from api.app import create_app
from api.resources import AppResources
from plumbing.settings import Settings
from tests.conftest import TEST_JWT_SECRET, ApiClientFor, token_for
from tests.journey_examples import welcome_journey

PROBLEM = "application/problem+json"


@pytest_asyncio.fixture
async def limited(settings: Settings, database_url: str) -> AsyncIterator[httpx.AsyncClient]:
    tight = settings.model_copy(
        update={"rate_limit_per_second": 0.5, "rate_limit_burst": 3, "max_body_bytes": 4096}
    )
    resources = AppResources.from_settings(tight, database_url=database_url, jwt_secret=TEST_JWT_SECRET)
    transport = httpx.ASGITransport(app=create_app(resources))
    headers = {"Authorization": f"Bearer {token_for('acme')}"}
    async with httpx.AsyncClient(transport=transport, base_url="http://api", headers=headers) as http:
        yield http
    await resources.close()


async def test_body_over_the_limit_is_413_problem(limited: httpx.AsyncClient) -> None:
    response = await limited.post("/v1/journeys", json={"name": "x" * 5000})
    assert response.status_code == 413
    assert response.headers["content-type"].startswith(PROBLEM)
    assert response.json()["status"] == 413


async def test_default_body_limit_is_one_mebibyte(api_client_for: ApiClientFor) -> None:
    async with api_client_for(None) as http:
        response = await http.post("/v1/templates", content=b"{" + b" " * (1024 * 1024) + b"}")
    assert response.status_code == 413


async def test_rate_limit_per_tenant_is_429_with_retry_after(limited: httpx.AsyncClient) -> None:
    statuses = [(await limited.get("/v1/journeys")).status_code for _ in range(3)]
    assert statuses == [200, 200, 200]
    refused = await limited.get("/v1/journeys")
    assert refused.status_code == 429
    assert refused.headers["content-type"].startswith(PROBLEM)
    assert int(refused.headers["retry-after"]) >= 1
    # Another tenant has its own bucket; /health is exempt.
    other = {"Authorization": f"Bearer {token_for('globex')}"}
    assert (await limited.get("/v1/journeys", headers=other)).status_code == 200
    assert (await limited.get("/health")).status_code != 429


def with_wait(node_config: dict[str, Any], node_type: str) -> dict[str, Any]:
    body = copy.deepcopy(welcome_journey())
    body["nodes"].insert(1, {"id": "w", "type": node_type, "config": node_config})
    return body


@pytest.mark.parametrize(
    ("settings_patch", "where"),
    [({"reentryCooldown": "400 days"}, "reentryCooldown")],
)
async def test_cooldown_over_366_days_is_422(
    api_client_for: ApiClientFor, settings_patch: dict[str, Any], where: str
) -> None:
    body = welcome_journey()
    body.setdefault("settings", {}).update(settings_patch)
    async with api_client_for(None) as http:
        response = await http.post("/v1/journeys", json=body)
    assert response.status_code == 422, response.text
    assert "366 days" in response.text


async def test_wait_and_timeout_over_366_days_are_422() -> None:
    from pydantic import ValidationError

    from domain.definition import WaitConfig, WaitForEventConfig

    with pytest.raises(ValidationError, match="366 days"):
        WaitConfig.model_validate({"duration": "367 days"})
    with pytest.raises(ValidationError, match="366 days"):
        WaitForEventConfig.model_validate({"event": "x", "timeout": "P400D"})
    assert WaitConfig.model_validate({"duration": "366 days"}).duration == "366 days"


async def test_a_journey_whose_configs_total_over_256_kib_is_422(api_client_for: ApiClientFor) -> None:
    """Each node within its 16 KB, but together past what a workflow input should carry."""
    sends = [
        {"id": f"s{i}", "type": "SEND", "config": {"channel": "EMAIL", "subject": "x", "body": "b" * 15_000}}
        for i in range(18)
    ]
    nodes = [{"id": "start", "type": "TRIGGER"}, *sends, {"id": "end", "type": "EXIT"}]
    edges = [{"sourceNodeId": a["id"], "targetNodeId": b["id"]} for a, b in itertools.pairwise(nodes)]
    async with api_client_for(None) as http:
        fits = await http.post("/v1/journeys", json={"name": "Fits", "nodes": nodes[:10] + nodes[-1:]})
        assert fits.status_code == 201, fits.text
        refused = await http.post("/v1/journeys", json={"name": "Big", "nodes": nodes, "edges": edges})
    assert refused.status_code == 422
    assert refused.headers["content-type"].startswith(PROBLEM)
    assert "the limit for a journey is 262144" in refused.text
    assert "nodes" in str(refused.json()["errors"][0]["loc"])


async def test_a_node_config_over_16_kb_is_422_naming_the_node_however_the_graph_is_sent(
    api_client_for: ApiClientFor,
) -> None:
    big = {"id": "big", "type": "SEND", "config": {"channel": "EMAIL", "subject": "x", "body": "b" * 17_000}}
    graph = {"nodes": [{"id": "start", "type": "TRIGGER"}, big], "edges": []}
    async with api_client_for(None) as http:
        created = await http.post("/v1/journeys", json={"name": "Big node", **graph})
        journey_id = (await http.post("/v1/journeys", json={"name": "Small"})).json()["id"]
        canvas = await http.put(f"/v1/journeys/{journey_id}/canvas", json=graph)
    for refused in (created, canvas):
        assert refused.status_code == 422, refused.text
        [issue] = refused.json()["errors"]
        assert issue["loc"] == ["body", "nodes", 1, "config"]
        assert "config of node 'big'" in issue["msg"]


async def test_template_over_64_kb_is_422(api_client_for: ApiClientFor) -> None:
    async with api_client_for(None) as http:
        response = await http.post(
            "/v1/templates", json={"name": "big", "channel": "SMS", "body": "x" * (64 * 1024 + 1)}
        )
    assert response.status_code == 422, response.text
    assert "body" in response.json()["detail"]


FORBIDDEN = {"tenantId": "globex", "status": "PUBLISHED", "version": 7, "createdAt": "2020-01-01T00:00:00Z"}


async def test_server_owned_fields_are_refused_naming_the_field(api_client_for: ApiClientFor) -> None:
    async with api_client_for(None) as http:
        journey = (await http.post("/v1/journeys", json=welcome_journey())).json()
        segment = (await http.post("/v1/segments", json={"displayName": "S"})).json()
        target = (
            await http.post(
                "/v1/actiontargets",
                json={"name": "T", "channel": "WEBHOOK", "settings": {"url": "https://hooks.example.com/x"}},
            )
        ).json()
        template = (
            await http.post("/v1/templates", json={"name": "T", "channel": "SMS", "body": "hi"})
        ).json()
        await http.put("/v1/customers/c1", json={"traits": {"email": "a@example.com"}})
        cases: list[tuple[str, str, dict[str, Any]]] = [
            ("POST", "/v1/journeys", {"name": "J"}),
            ("PATCH", f"/v1/journeys/{journey['id']}", {}),
            ("POST", "/v1/segments", {"displayName": "S2"}),
            ("PATCH", f"/v1/segments/{segment['id']}", {}),
            ("POST", "/v1/actiontargets", {"name": "T2", "channel": "SMS"}),
            ("PATCH", f"/v1/actiontargets/{target['id']}", {}),
            ("POST", "/v1/templates", {"name": "T2", "channel": "SMS", "body": "x"}),
            ("PATCH", f"/v1/templates/{template['id']}", {}),
            ("PUT", "/v1/customers/c2", {"traits": {}}),
            ("PATCH", "/v1/customers/c1", {"traits": {}}),
        ]
        for method, path, base in cases:
            for field, value in FORBIDDEN.items():
                if (method, field) == ("PATCH", "version") and "/segments/" in path:
                    continue  # a segment PATCH carries `version` as its optimistic-concurrency token
                response = await http.request(method, path, json={**base, field: value})
                assert response.status_code == 422, (method, path, field, response.text)
                assert field in response.json()["detail"], (method, path, field, response.json())
        assert (await http.get(f"/v1/journeys/{journey['id']}")).json()["status"] == "DRAFT"


async def test_action_target_secrets_never_come_back_in_clear(api_client_for: ApiClientFor) -> None:
    secret = "whsec_c3VwZXItc2VjcmV0LXZhbHVlLTAxMjM0NTY3ODk="
    body = {
        "name": "T",
        "channel": "WEBHOOK",
        "settings": {
            "url": "https://hooks.example.com/x",
            "secret": secret,
            "headers": {"Authorization": "Bearer sekrit-token-987"},
        },
    }
    async with api_client_for(None) as http:
        created = await http.post("/v1/actiontargets", json=body)
        assert created.status_code == 201, created.text
        target_id = created.json()["id"]
        answers = [
            created,
            await http.get(f"/v1/actiontargets/{target_id}"),
            await http.get("/v1/actiontargets"),
            await http.patch(f"/v1/actiontargets/{target_id}", json={"name": "T2"}),
        ]
    for answer in answers:
        assert answer.status_code in (200, 201), answer.text
        assert secret not in answer.text and "sekrit-token-987" not in answer.text
