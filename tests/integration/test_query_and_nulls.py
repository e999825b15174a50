"""The request surface every route shares: explicit nulls, and query parameters.

- `null` for an optional field is what a generated client sends for "not given": on create it means
  absent; on PATCH it clears a field a response can show as null, and is a 422 naming the field for the
  others. Walked over every operation with a JSON body, from the OpenAPI document's own examples.
- A query parameter a route does not declare is a 422 naming it, on every route but the Segment
  tracking routes (which ignore one, as they keep unknown body fields); every declared one is taken.
"""

from __future__ import annotations

import base64
import json
import re
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
import pytest_asyncio
from fastapi import FastAPI

from api import examples
from api.app import create_app
from api.deps import accepts_any_query, api_routes
from api.resources import AppResources
from plumbing.settings import Settings
from tests.conftest import TEST_JWT_SECRET, token_for

METHODS_WITH_BODY = ("post", "put", "patch")


@dataclass
class Api:
    app: FastAPI
    http: httpx.AsyncClient
    document: dict[str, Any]
    ids: dict[str, str]  # path parameter -> an existing object's id


@pytest_asyncio.fixture
async def api(settings: Settings, database_url: str) -> AsyncIterator[Api]:
    """The app (no Temporal: what needs it answers 503) with one object of each kind to point at."""
    resources = AppResources.from_settings(settings, database_url=database_url, jwt_secret=TEST_JWT_SECRET)
    resources.temporal.address = "127.0.0.1:1"
    app = create_app(resources)
    headers = {"Authorization": f"Bearer {token_for('acme')}"}
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://api", headers=headers) as http:
        journey = (await http.post("/v1/journeys", json={"name": "Target", "steps": STEPS})).json()
        segment = (await http.post("/v1/segments", json={"displayName": "Target"})).json()
        target = await http.post(
            "/v1/actiontargets",
            json={"name": "Target", "channel": "WEBHOOK", "settings": {"url": "https://example.com/hook"}},
        )
        template = (
            await http.post("/v1/templates", json={"name": "T", "channel": "SMS", "body": "Hi"})
        ).json()
        source = (await http.post("/v1/sources", json={"name": "Site"})).json()
        await http.put("/v1/customers/c1", json={"traits": {"email": "c1@example.com"}})
        ids = {
            "journeyId": journey["id"],
            "journey_id": journey["id"],
            "stepId": "step_2",
            "segmentId": segment["id"],
            "actionTargetId": target.json()["id"],
            "templateId": template["id"],
            "sourceId": source["id"],
            "writeKey": source["writeKey"],
            "customerId": "c1",
            "idType": "userId",
            "externalContactId": "ext-1",
            "sessionId": "s-1",
            "version": "1",
        }
        yield Api(app, http, app.openapi(), ids)
    await resources.close()


STEPS: list[dict[str, Any]] = [
    {"id": "step_1", "type": "TRIGGER", "nextStepId": "step_2"},
    {"id": "step_2", "type": "WAIT", "config": {"duration": "1 day"}, "nextStepId": "step_3"},
    {"id": "step_3", "type": "END"},
]


def real_ids(body: Any, ids: dict[str, str]) -> Any:
    """The examples' ids (api/examples.py) replaced by the fixture's objects."""
    text = json.dumps(body)
    for example, key in ((examples.SEGMENT_ID, "segmentId"), (examples.TARGET_ID, "actionTargetId")):
        text = text.replace(example, ids[key])
    return json.loads(text)


def without(body: Any, field: str) -> Any:
    """The body with the (dotted) field left out, in a list body's item too."""
    if isinstance(body, list):
        return [without(item, field) for item in body]
    top, _, inner = field.partition(".")
    if not inner:
        return {k: v for k, v in body.items() if k != top}
    return {**body, top: without(body[top], inner)}


def fill(path: str, ids: dict[str, str]) -> str:
    return re.sub(r"\{([^}]+)\}", lambda m: ids.get(m.group(1), str(uuid.uuid4())), path)


def resolve(document: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        schema = document["components"]["schemas"][schema["$ref"].rsplit("/", 1)[-1]]
    return schema


def nullable(document: dict[str, Any], schema: dict[str, Any]) -> bool:
    schema = resolve(document, schema)
    if schema.get("type") == "null" or (isinstance(schema.get("type"), list) and "null" in schema["type"]):
        return True
    return any(nullable(document, branch) for branch in schema.get("anyOf", []) + schema.get("oneOf", []))


def body_operations(document: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    """(method, path, operation) for each operation with a JSON object body of our models."""
    found = []
    for path, item in document["paths"].items():
        for method in METHODS_WITH_BODY:
            operation = item.get(method)
            content = (operation or {}).get("requestBody", {}).get("content", {})
            if "application/json" in content and "$ref" in str(content["application/json"]["schema"]):
                found.append((method, path, operation))
    return found


def example_of(operation: dict[str, Any]) -> Any:
    media = operation["requestBody"]["content"]["application/json"]
    if "example" in media:
        return media["example"]
    examples = media.get("examples") or {}
    assert examples, f"{operation['operationId']} has no request example"
    return next(iter(examples.values()))["value"]


async def test_null_for_an_optional_field_is_accepted_on_create_and_clears_on_patch(api: Api) -> None:
    document = api.document
    operations = body_operations(document)
    assert len(operations) >= 15, [op[1] for op in operations]
    refused: list[str] = []
    checked = creates = accepted = 0
    for method, path, operation in operations:
        base = example_of(operation)
        schema = resolve(document, operation["requestBody"]["content"]["application/json"]["schema"])
        if schema.get("type") == "array":  # a list of objects: null each optional field of its item
            item_schema = resolve(document, schema["items"])
            bodies = [
                (name, [{**base[0], name: None}])
                for name in item_schema.get("properties", {})
                if name not in item_schema.get("required", [])
            ]
            properties: dict[str, Any] = item_schema["properties"]
        else:
            required = schema.get("required", [])
            properties = schema.get("properties", {})
            bodies = [(name, {**base, name: None}) for name in properties if name not in required]
            # One level down: the optional fields of an object the example gives (settings, goalConfig…).
            for name, value in base.items():
                inner = resolve(document, properties.get(name, {}))
                inner = next(
                    (
                        resolve(document, b)
                        for b in inner.get("anyOf", [])
                        if "properties" in resolve(document, b)
                    ),
                    inner,
                )
                if isinstance(value, dict) and "properties" in inner:
                    bodies += [
                        (f"{name}.{key}", {**base, name: {**value, key: None}})
                        for key in inner["properties"]
                        if key not in inner.get("required", [])
                    ]
        for field, body in bodies:
            checked += 1
            url = fill(path, api.ids)
            response = await api.http.request(method.upper(), url, json=real_ids(body, api.ids))
            top = field.split(".")[0]
            label = (
                f"{method.upper()} {path} with {field}: null -> {response.status_code} {response.text[:300]}"
            )
            if method == "patch" and "." not in field:
                if nullable(document, properties[top]):
                    if response.status_code == 422:
                        refused.append("a nullable field refused null: " + label)
                elif ["body", top] not in [e["loc"] for e in response.json().get("errors", [])]:
                    refused.append("expected a 422 naming it: " + label)
                continue
            # Create (and a nested object anywhere): null is absent — the same answer as leaving it out.
            omitted = await api.http.request(
                method.upper(), url, json=real_ids(without(body, field), api.ids)
            )
            if response.status_code == 422 and response.json()["errors"] != omitted.json().get("errors"):
                refused.append(f"null is not read as absent: {label} / omitted: {omitted.text[:300]}")
            accepted += response.status_code != 422
    assert not refused, "\n".join(refused)
    assert checked > 80 and accepted > creates * 0.8, (checked, creates, accepted)


async def test_patch_null_clears_nullable_fields(api: Api) -> None:
    http = api.http
    segment = (
        await http.post(
            "/v1/segments",
            json={
                "displayName": "Clear me",
                "description": "d",
                "color": "#112233",
                "assignmentExpirationDays": 3,
            },
        )
    ).json()
    cleared = await http.patch(
        f"/v1/segments/{segment['id']}",
        json={"description": None, "color": None, "assignmentExpirationDays": None, "isActive": False},
    )
    assert cleared.status_code == 200, cleared.text
    assert cleared.json()["description"] is None and cleared.json()["color"] is None
    assert cleared.json()["assignmentExpirationDays"] is None and cleared.json()["isActive"] is False
    refused = await http.patch(f"/v1/segments/{segment['id']}", json={"displayName": None, "journey": None})
    assert refused.status_code == 422
    assert {tuple(e["loc"]) for e in refused.json()["errors"]} == {
        ("body", "displayName"),
        ("body", "journey"),
    }
    assert "cannot be null" in refused.json()["detail"]

    journey_id = api.ids["journeyId"]
    await http.patch(
        f"/v1/journeys/{journey_id}",
        json={
            "description": "x",
            "siteId": "s",
            "goalConfig": {"type": "event", "config": {"eventName": "Paid"}},
        },
    )
    journey = await http.patch(
        f"/v1/journeys/{journey_id}", json={"description": None, "siteId": None, "goalConfig": None}
    )
    assert journey.status_code == 200, journey.text
    assert [journey.json()[k] for k in ("description", "siteId", "goalConfig")] == [None, None, None]
    for field in ("name", "settings"):
        response = await http.patch(f"/v1/journeys/{journey_id}", json={field: None})
        assert response.status_code == 422 and response.json()["errors"][0]["loc"] == ["body", field]

    template = await http.patch(f"/v1/templates/{api.ids['templateId']}", json={"subject": None})
    assert template.status_code == 200 and template.json()["subject"] is None
    target = await http.patch(
        f"/v1/actiontargets/{api.ids['actionTargetId']}", json={"serviceLevel": None, "enabled": None}
    )
    assert target.status_code == 422 and target.json()["errors"][0]["loc"] == ["body", "enabled"]

    step = await http.patch(f"/v1/journeys/{journey_id}/steps/step_2", json={"nextStepId": None})
    assert step.status_code == 200, step.text
    assert step.json()["nextStepId"] is None
    nameless = await http.patch(f"/v1/journeys/{journey_id}/steps/step_2", json={"name": None})
    assert nameless.status_code == 422 and nameless.json()["errors"][0]["loc"] == ["body", "name"]


async def test_nulls_deep_in_a_create_body_mean_absent(api: Api) -> None:
    body = {
        "name": "Nulls everywhere",
        "description": None,
        "settings": {"timezone": None, "allowReentry": None, "frequencyCaps": None, "quietHours": None},
        "goalConfig": None,
        "nodes": [
            {"id": "t", "type": "TRIGGER", "name": None, "config": {"triggerType": None, "rules": None}},
            {
                "id": "s",
                "type": "SEND",
                "position": None,
                "config": {"channel": "EMAIL", "subject": "Hi", "body": "Hello", "onFailure": None},
            },
            {"id": "e", "type": "EXIT", "config": None},
        ],
        "edges": [
            {"sourceNodeId": "t", "targetNodeId": "s", "label": None},
            {"sourceNodeId": "s", "targetNodeId": "e"},
        ],
        "steps": None,
        "trigger": None,
    }
    created = await api.http.post("/v1/journeys", json=body)
    assert created.status_code == 201, created.text
    journey = created.json()
    assert journey["settings"]["timezone"] == "UTC" and journey["settings"]["frequencyCaps"] == []
    assert journey["nodes"][0]["config"]["triggerType"] == "MANUAL"
    assert journey["nodes"][1]["config"]["onFailure"] == "fail" and journey["edges"][0]["label"] == "next"

    as_steps = {
        "name": "Steps with nulls",
        "steps": [
            {"id": "a", "type": "TRIGGER", "name": None, "config": None, "nextStepId": "b"},
            {"id": "b", "type": "SEND", "config": {"channel": "SMS", "body": "Hi", "onFailure": None}},
        ],
    }
    assert (await api.http.post("/v1/journeys", json=as_steps)).status_code == 201
    step = await api.http.post(
        f"/v1/journeys/{journey['id']}/steps",
        json={"id": None, "type": "WAIT", "name": None, "config": {"duration": "1 hour", "until": None}},
    )
    assert step.status_code == 201, step.text
    segment = await api.http.post(
        "/v1/segments",
        json={
            "displayName": "Nulls",
            "journey": None,
            "context": None,
            "scope": None,
            "isActive": None,
            "assignmentExpirationDays": None,
        },
    )
    assert segment.status_code == 201, segment.text
    assert segment.json()["scope"] == "Customer" and segment.json()["isActive"] is True
    required = await api.http.post("/v1/segments", json={"displayName": None})
    assert required.status_code == 422 and required.json()["errors"][0]["loc"] == ["body", "displayName"]


def sample(schema: dict[str, Any], document: dict[str, Any]) -> str:
    """A value of a query parameter's schema, as text."""
    schema = resolve(document, schema)
    for branch in schema.get("anyOf", []):
        if resolve(document, branch).get("type") != "null":
            return sample(branch, document)
    if "enum" in schema:
        return str(schema["enum"][0])
    kind = schema.get("type")
    if kind == "integer":
        return str(max(1, schema.get("minimum", 1)))
    if kind == "boolean":
        return "true"
    if schema.get("format") == "date-time":
        return "2025-01-01T00:00:00Z"
    return "x"


async def test_every_route_refuses_a_query_parameter_it_does_not_know(api: Api) -> None:
    misses: list[str] = []
    routes = api_routes(api.app)
    assert len(routes) > 40
    for route in routes:
        for method in route.methods:
            url = fill(route.path, api.ids)
            response = await api.http.request(method, url, params={"pageNum": "3"})
            label = f"{method} {route.path} -> {response.status_code} {response.text[:200]}"
            if accepts_any_query(route):
                continue
            if response.status_code != 422:
                misses.append(label)
                continue
            problem = response.json()
            assert response.headers["content-type"].startswith("application/problem+json")
            named = [e["loc"] for e in problem["errors"]] == [["query", "pageNum"]]
            if not named or "unknown query parameter" not in problem["detail"]:
                misses.append(label)
    assert not misses, "\n".join(misses)


async def test_every_declared_query_parameter_is_taken(api: Api) -> None:
    """Each declared parameter, alone, with a value of its type: never refused as unknown."""
    wrong: list[str] = []
    for path, item in api.document["paths"].items():
        for method, operation in item.items():
            for parameter in operation.get("parameters", []):
                if parameter["in"] != "query":
                    continue
                params = {parameter["name"]: sample(parameter["schema"], api.document)}
                response = await api.http.request(method.upper(), fill(path, api.ids), params=params)
                if "unknown query parameter" in response.text:
                    wrong.append(f"{method.upper()} {path}?{parameter['name']}: {response.text[:200]}")
    assert not wrong, "\n".join(wrong)


async def test_the_tracking_routes_ignore_query_parameters(api: Api) -> None:
    key = base64.b64encode(f"{api.ids['writeKey']}:".encode()).decode()
    call = {"type": "track", "userId": "u1", "event": "Signed Up"}
    for path, body in (("/v1/track", call), ("/v1/batch", {"batch": [call]}), ("/v1/t", call)):
        response = await api.http.post(
            path, params={"cacheBuster": "1"}, json=body, headers={"Authorization": f"Basic {key}"}
        )
        assert response.status_code == 200, (path, response.text)
    unknown = await api.http.get("/health", params={"verbose": "1"})
    assert unknown.status_code == 422 and unknown.json()["errors"][0]["loc"] == ["query", "verbose"]


@pytest.mark.parametrize(
    ("query", "loc"),
    [
        ("page=2&pageNumber=3", ["query", "pageNumber"]),
        ("limit=10&pageSize=20", ["query", "pageSize"]),
        ("pageNumber=0", ["query", "pageNumber"]),
        ("pageSize=201", ["query", "pageSize"]),
    ],
)
async def test_genesys_paging_names_conflicting_or_out_of_range(api: Api, query: str, loc: list[str]) -> None:
    response = await api.http.get(f"/v1/segments?{query}")
    assert response.status_code == 422 and response.json()["errors"][0]["loc"] == loc


async def test_skip_take_mixed_with_page_is_refused(api: Api) -> None:
    path = f"/v1/journeys/{api.ids['journeyId']}/enrollments"
    mixed = await api.http.get(f"{path}?skip=10&page=2")
    assert mixed.status_code == 422 and mixed.json()["errors"][0]["loc"] == ["query", "skip"]
    conflicting = await api.http.get(f"{path}?take=10&limit=20")
    assert conflicting.status_code == 422 and conflicting.json()["errors"][0]["loc"] == ["query", "take"]
    assert (await api.http.get(f"{path}?skip=-1")).status_code == 422
    same = await api.http.get(f"{path}?take=10&limit=10&skip=0")
    assert same.status_code == 200 and same.json()["meta"]["take"] == 10
