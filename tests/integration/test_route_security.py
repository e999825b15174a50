"""Every /v1 route names its scope (dependency and OpenAPI), and refuses a token without it (403)."""

from __future__ import annotations

import re
import uuid
from collections.abc import AsyncIterator

import httpx
import pytest_asyncio
from fastapi import FastAPI
from fastapi.routing import APIRoute

from api.app import create_app
from api.deps import api_routes, required_scopes
from api.resources import AppResources
from journeys.settings import Settings
from tests.conftest import TEST_JWT_SECRET, token_for

HTTP_METHODS = ("get", "put", "patch", "post", "delete")


@pytest_asyncio.fixture
async def app(settings: Settings, database_url: str) -> AsyncIterator[FastAPI]:
    resources = AppResources.from_settings(settings, database_url=database_url, jwt_secret=TEST_JWT_SECRET)
    yield create_app(resources)
    await resources.close()


def v1_routes(app: FastAPI) -> list[APIRoute]:
    return [r for r in api_routes(app) if r.path.startswith("/v1")]


def concrete(path: str) -> str:
    """A path with every parameter filled with a plausible, unknown value."""
    return re.sub(r"\{version\}", "1", re.sub(r"\{(?!version\})[^}]+\}", str(uuid.uuid4()), path))


async def test_every_v1_route_requires_a_scope(app: FastAPI) -> None:
    routes = v1_routes(app)
    assert len(routes) > 30
    unguarded = [f"{sorted(r.methods)} {r.path}" for r in routes if not required_scopes(r)]
    assert unguarded == []
    document = app.openapi()
    operations = 0
    for path, item in document["paths"].items():
        if not path.startswith("/v1"):
            continue
        for method in HTTP_METHODS:
            if method in item:
                operations += 1
                scopes = item[method].get("x-required-scope")
                assert scopes, f"{method.upper()} {path} documents no scope"
    assert operations == sum(len(r.methods) for r in routes)


async def test_a_token_without_the_scope_gets_403_naming_it(app: FastAPI) -> None:
    transport = httpx.ASGITransport(app=app)
    headers = {"Authorization": f"Bearer {token_for('acme', ['journey:nothing:none'])}"}
    async with httpx.AsyncClient(transport=transport, base_url="http://api", headers=headers) as http:
        for route in v1_routes(app):
            scopes = required_scopes(route)
            for method in route.methods:
                response = await http.request(method, concrete(route.path), json={})
                where = f"{method} {route.path}"
                assert response.status_code == 403, (where, response.text)
                detail = response.json()["detail"]
                assert any(scope in detail for scope in scopes), (where, detail)
