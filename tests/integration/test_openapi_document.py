"""The OpenAPI document tells the truth about errors and shows examples; /docs and /redoc work offline.

- every operation has a description, and its real error statuses with the problem+json schema (never
  FastAPI's HTTPValidationError): 401/403/429 where a scope is required, 404 where a path names an
  object, 413/422 where a body is read, 503 everywhere;
- every operation with a body has a request example and every JSON answer a response example, each
  valid for its model (api/examples.py; the seeds' own where they apply);
- the Swagger UI and ReDoc pages name only assets this app serves, and it serves them.
"""

from __future__ import annotations

import logging
import re
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import pytest_asyncio
from fastapi import FastAPI

from api import examples
from api.app import create_app
from api.deps import api_routes, required_scopes, takes_write_key
from api.openapi import request_examples, response_example
from api.resources import AppResources
from plumbing.settings import Settings
from tests.conftest import TEST_JWT_SECRET

HTTP_METHODS = ("get", "put", "post", "patch", "delete")
PROBLEM_REF = {"$ref": "#/components/schemas/Problem"}


@pytest_asyncio.fixture
async def app(settings: Settings, database_url: str) -> AsyncIterator[FastAPI]:
    resources = AppResources.from_settings(settings, database_url=database_url, jwt_secret=TEST_JWT_SECRET)
    yield create_app(resources)
    await resources.close()


def operations(document: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (method, path, item[method])
        for path, item in document["paths"].items()
        for method in HTTP_METHODS
        if method in item
    ]


async def test_every_operation_has_a_description(app: FastAPI) -> None:
    document = app.openapi()
    missing = [
        f"{m.upper()} {p}" for m, p, op in operations(document) if not op.get("description", "").strip()
    ]
    assert len(operations(document)) > 50
    assert missing == []


async def test_errors_are_documented_as_problems(app: FastAPI) -> None:
    document = app.openapi()
    assert "HTTPValidationError" not in str(document)
    assert {"Problem", "ProblemIssue"} <= set(document["components"]["schemas"])
    wrong: list[str] = []
    for method, path, operation in operations(document):
        for code, response in operation["responses"].items():
            if int(code) < 400 or (path == "/health" and code == "503"):
                continue
            content = response.get("content", {})
            problem = content.get("application/problem+json", {})
            if set(content) != {"application/problem+json"} or problem.get("schema") != PROBLEM_REF:
                wrong.append(f"{method.upper()} {path} {code}: {content}")
            elif problem.get("example", {}).get("status") != int(code):
                wrong.append(f"{method.upper()} {path} {code}: example {problem.get('example')}")
    assert wrong == []


async def test_each_operation_lists_the_errors_it_can_answer(app: FastAPI) -> None:
    document = app.openapi()
    missing: list[str] = []
    for route in api_routes(app):
        for method in route.methods:
            operation = document["paths"][route.path_format][method.lower()]
            codes = set(operation["responses"])
            expected = {"503"}
            if required_scopes(route):
                expected |= {"401", "403", "429", "422"}
            if takes_write_key(route):
                expected |= {"401", "429", "400", "413"}
            if "{" in route.path:
                expected |= {"404"}
            if operation.get("requestBody") and not takes_write_key(route):
                expected |= {"413", "422"}
            if expected - codes:
                missing.append(f"{method} {route.path}: {sorted(expected - codes)}")
    assert missing == []
    conflicts = {
        ("post", "/v1/journeys/{journeyId}/publish"),
        ("post", "/v1/journeys/{journeyId}/enrollments"),
        ("delete", "/v1/segments/{segmentId}"),
        ("patch", "/v1/segments/{segmentId}"),
    }
    for method, path in conflicts:
        assert "409" in document["paths"][path][method]["responses"], (method, path)
    assert "Retry-After" in document["paths"]["/v1/journeys"]["get"]["responses"]["503"]["headers"]


async def test_examples_for_every_body_and_answer_fit_their_models(
    app: FastAPI, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="api.openapi"):
        document = app.openapi()
    assert not [r.getMessage() for r in caplog.records if "no longer fits" in r.getMessage()]
    without: list[str] = []
    for route in api_routes(app):
        for method in route.methods:
            operation = document["paths"][route.path_format][method.lower()]
            label = f"{method} {route.path}"
            if "requestBody" in operation:
                named = request_examples(route)
                if not named:
                    without.append(f"{label}: request")
                for media in operation["requestBody"]["content"].values():
                    if media.get("examples") != named:
                        without.append(f"{label}: request example not on {media}")
            answers = [
                response
                for code, response in operation["responses"].items()
                if code.startswith("2") and "application/json" in response.get("content", {})
            ]
            if answers and response_example(route) is None:
                without.append(f"{label}: response")
            if answers and not any("example" in a["content"]["application/json"] for a in answers):
                without.append(f"{label}: response example not attached")
    assert without == []
    create = document["paths"]["/v1/journeys"]["post"]["requestBody"]["content"]["application/json"]
    assert set(create["examples"]) == {"seed001Canvas", "seed004Steps"}, "the seeds' own examples"
    assert create["examples"]["seed001Canvas"]["value"]["name"] == "New User Onboarding"


async def test_the_request_examples_are_accepted(api_client_for: Any) -> None:
    """The create examples, sent as they are, are created (the examples are not only valid but true)."""
    async with api_client_for(None) as http:
        for path, model in (
            ("/v1/journeys", "JourneyCreate"),
            ("/v1/segments", "SegmentCreate"),
            ("/v1/templates", "TemplateCreate"),
            ("/v1/actiontargets", "ActionTargetCreate"),
            ("/v1/sources", "SourceCreate"),
        ):
            found = examples.REQUESTS[model]
            for value in [v for _, _, v in found] if isinstance(found, list) else [found]:
                response = await http.post(path, json=value)
                assert response.status_code == 201, (path, response.text)


ASSET = re.compile(r'(?:src|href)="([^"]+)"|url:\s*\'([^\']+)\'')


@pytest.mark.parametrize("page", ["/docs", "/redoc"])
async def test_the_docs_pages_load_only_local_assets(app: FastAPI, page: str) -> None:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://api") as http:
        html = await http.get(page)
        assert html.status_code == 200 and html.headers["content-type"].startswith("text/html")
        references = [a or b for a, b in ASSET.findall(html.text)]
        assert references, html.text
        assert not [r for r in references if not r.startswith("/")], "only this app's own paths"
        assert "//" not in "".join(references)
        for reference in references:
            asset = await http.get(reference)
            assert asset.status_code == 200, reference
            assert len(asset.content) > 100, reference
        scripts = [r for r in references if r.endswith(".js")]
        assert scripts
        for script in scripts:
            kind = (await http.get(script)).headers["content-type"]
            assert kind.startswith(("text/javascript", "application/javascript")), (script, kind)
        if page == "/docs":
            assert '"validatorUrl": null' in html.text, "no call to swagger.io's validator"
            assert (await http.get("/docs/oauth2-redirect")).status_code == 200
        assert (await http.get("/openapi.json")).json()["openapi"].startswith("3.")
