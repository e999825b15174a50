"""Schemathesis over the app's own OpenAPI document: no 5xx, and 2xx answers match their schema.

Cases are generated per operation (a handful each, to keep the file near half a minute) and sent with
one of two tenants' tokens. There is no Temporal client: routes that need it must answer 503, never
500. Hypothesis runs in a thread; each request is sent on the test's event loop, where the app and its
database pool live.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import checks

from api.app import create_app
from api.resources import AppResources
from plumbing.settings import Settings
from tests.conftest import TEST_JWT_SECRET, token_for

EXAMPLES_PER_OPERATION = 5
SKIPPED_PATHS = {"/health"}
TENANTS = ("acme", "globex")


@pytest.fixture
async def fuzz_app(settings: Settings, database_url: str) -> AsyncIterator[Any]:
    resources = AppResources.from_settings(settings, database_url=database_url, jwt_secret=TEST_JWT_SECRET)
    # Nothing listens here: routes needing Temporal must degrade to 503.
    resources.temporal.address = "127.0.0.1:1"
    app = create_app(resources)
    yield app
    await resources.close()


def _httpx_kwargs(case: Any, token: str) -> dict[str, Any]:
    kwargs = case.as_transport_kwargs(base_url="http://api", headers={"Authorization": f"Bearer {token}"})
    request: dict[str, Any] = {
        "method": kwargs["method"],
        "url": kwargs["url"],
        "headers": kwargs.get("headers") or {},
        "params": kwargs.get("params"),
    }
    if kwargs.get("cookies"):
        request["headers"] = {
            **request["headers"],
            "Cookie": "; ".join(f"{k}={v}" for k, v in kwargs["cookies"].items()),
        }
    if "json" in kwargs:
        request["content"] = json.dumps(kwargs["json"]).encode()
        request["headers"] = {"Content-Type": "application/json", **request["headers"]}
    elif kwargs.get("data") is not None:
        data = kwargs["data"]
        request["content"] = data if isinstance(data, bytes) else str(data).encode()
    return request


async def test_the_api_survives_generated_requests(fuzz_app: Any) -> None:
    schema = schemathesis.openapi.from_dict(fuzz_app.openapi())
    loop = asyncio.get_running_loop()
    tokens = {tenant: token_for(tenant) for tenant in TENANTS}
    transport = httpx.ASGITransport(app=fuzz_app, raise_app_exceptions=False)
    operations = [
        result.ok() for result in schema.get_all_operations() if result.ok().path not in SKIPPED_PATHS
    ]
    assert operations, "the OpenAPI document lists the API"
    failures: list[str] = []
    seen_statuses: set[int] = set()

    async with httpx.AsyncClient(transport=transport, base_url="http://api") as http:

        def fuzz(operation: Any) -> None:
            @settings(
                max_examples=EXAMPLES_PER_OPERATION,
                deadline=None,
                database=None,
                derandomize=True,
                suppress_health_check=list(HealthCheck),
            )
            @given(case=operation.as_strategy(), tenant=st.sampled_from(TENANTS))
            def run(case: Any, tenant: str) -> None:
                sent = _httpx_kwargs(case, tokens[tenant])
                response = asyncio.run_coroutine_threadsafe(http.request(**sent), loop).result(timeout=30)
                seen_statuses.add(response.status_code)
                label = f"{operation.method.upper()} {operation.path}"
                if response.status_code >= 500 and response.status_code != 503:
                    failures.append(f"{label} -> {response.status_code}: {response.text[:300]} ({sent})")
                    return
                if 200 <= response.status_code < 300:
                    try:
                        case.validate_response(
                            response, checks=[checks.not_a_server_error, checks.response_schema_conformance]
                        )
                    except Exception as exc:  # noqa: BLE001 — collected and reported together below
                        failures.append(f"{label} -> {response.status_code} off-schema: {exc}"[:800])

            run()

        for operation in operations:
            await asyncio.to_thread(fuzz, operation)

    assert not failures, "\n".join(failures[:20])
    assert seen_statuses & {200, 201, 202, 204}, f"some requests must succeed: {sorted(seen_statuses)}"
