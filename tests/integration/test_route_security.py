"""Every /v1 route names its scope (dependency and OpenAPI), and refuses a token without it (403).

The one intended exception is the Segment tracking API (api/routers/tracking.py): it takes an event
source's write key (HTTP Basic) instead of a bearer token. Those routes are listed here one by one, must
document the write-key scheme instead of a scope, and refuse every bearer token (401), however scoped.
The other: the unsubscribe and preferences links of emails (api/routers/unsubscribe.py), public, whose
token is the credential; listed one by one too, they document no security and grant nothing else.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import AsyncIterator

import httpx
import pytest_asyncio
from fastapi import FastAPI
from fastapi.routing import APIRoute

from api.app import create_app
from api.auth import ALL_SCOPES
from api.deps import api_routes, required_scopes, takes_write_key
from api.resources import AppResources
from api.routers.unsubscribe import PUBLIC_PATHS
from plumbing.settings import Settings
from tests.conftest import TEST_JWT_SECRET, token_for

HTTP_METHODS = ("get", "put", "patch", "post", "delete")
# The Segment tracking API, in both spellings (analytics.js posts to the one-letter paths).
WRITE_KEY_ROUTES = {
    *("/v1/batch", "/v1/import", "/v1/b"),
    *("/v1/track", "/v1/t", "/v1/identify", "/v1/i", "/v1/page", "/v1/p"),
    *("/v1/screen", "/v1/s", "/v1/group", "/v1/g", "/v1/alias", "/v1/a"),
}
# The links in emails: no credentials but the token in the path.
PUBLIC_ROUTES = {"/v1/unsubscribe/{token}", "/v1/preferences/{token}"}


@pytest_asyncio.fixture
async def app(settings: Settings, database_url: str) -> AsyncIterator[FastAPI]:
    resources = AppResources.from_settings(settings, database_url=database_url, jwt_secret=TEST_JWT_SECRET)
    yield create_app(resources)
    await resources.close()


def v1_routes(app: FastAPI) -> list[APIRoute]:
    """The bearer-token routes."""
    return [
        r
        for r in api_routes(app)
        if r.path.startswith("/v1") and r.path not in WRITE_KEY_ROUTES and r.path not in PUBLIC_ROUTES
    ]


def write_key_routes(app: FastAPI) -> list[APIRoute]:
    return [r for r in api_routes(app) if r.path in WRITE_KEY_ROUTES]


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
        if not path.startswith("/v1") or path in WRITE_KEY_ROUTES or path in PUBLIC_ROUTES:
            continue
        for method in HTTP_METHODS:
            if method in item:
                operations += 1
                scopes = item[method].get("x-required-scope")
                assert scopes, f"{method.upper()} {path} documents no scope"
    assert operations == sum(len(r.methods) for r in routes)


async def test_only_the_tracking_routes_take_a_write_key(app: FastAPI) -> None:
    routes = write_key_routes(app)
    assert {r.path for r in routes} == WRITE_KEY_ROUTES
    assert all(takes_write_key(r) and not required_scopes(r) for r in routes)
    assert not [r.path for r in v1_routes(app) if takes_write_key(r)], "a write key grants nothing else"
    document = app.openapi()
    for path in WRITE_KEY_ROUTES:
        operation = document["paths"][path]["post"]
        assert "x-required-scope" not in operation, path
        assert operation["security"] == [{"writeKey": []}], path
    assert document["components"]["securitySchemes"]["writeKey"]["scheme"] == "basic"


async def test_the_tracking_routes_refuse_every_bearer_token(app: FastAPI) -> None:
    transport = httpx.ASGITransport(app=app)
    headers = {"Authorization": f"Bearer {token_for('acme', ALL_SCOPES)}"}
    body = {"batch": [{"type": "track", "userId": "u1", "event": "x"}], "userId": "u1", "event": "x"}
    async with httpx.AsyncClient(transport=transport, base_url="http://api", headers=headers) as http:
        for route in write_key_routes(app):
            for method in route.methods:
                response = await http.request(method, route.path, json=body)
                assert response.status_code == 401, (method, route.path, response.text)
                assert response.headers["www-authenticate"].startswith("Basic"), route.path


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


async def test_only_the_unsubscribe_links_are_public(app: FastAPI) -> None:
    assert PUBLIC_PATHS == PUBLIC_ROUTES
    routes = [r for r in api_routes(app) if r.path in PUBLIC_ROUTES]
    assert {(r.path, m) for r in routes for m in r.methods or ()} == {
        (path, method) for path in PUBLIC_ROUTES for method in ("GET", "POST")
    }
    assert not [r.path for r in routes if required_scopes(r) or takes_write_key(r)]
    document = app.openapi()
    for path in PUBLIC_ROUTES:
        for method in ("get", "post"):
            operation = document["paths"][path][method]
            assert "security" not in operation and "x-required-scope" not in operation, (method, path)
            assert "401" not in operation["responses"] and "404" in operation["responses"], (method, path)
    # No token of any kind opens them: without a link's token they are a 404, however the caller signs in.
    transport = httpx.ASGITransport(app=app)
    headers = {"Authorization": f"Bearer {token_for('acme', ALL_SCOPES)}"}
    async with httpx.AsyncClient(transport=transport, base_url="http://api", headers=headers) as http:
        for route in routes:
            for method in route.methods or ():
                response = await http.request(method, concrete(route.path))
                assert response.status_code == 404, (method, route.path, response.text)
