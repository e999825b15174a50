"""Faults found by probing the API from outside: each answered as a clear problem, never a 500."""

from __future__ import annotations

import asyncio
import struct
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
import uvicorn
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from api.app import create_app
from api.resources import AppResources
from devstack import find_free_port
from domain.definition import JourneyDefinition
from plumbing.settings import Settings
from services.live_journeys import LiveTriggers, VersionCache
from store.rows import EnrollmentRow, EnrollmentStepRow
from tests.conftest import TEST_JWT_SECRET, ApiClientFor, token_for
from tests.journey_examples import welcome_journey
from tests.support import eventually

PROBLEM = "application/problem+json"
HUGE_DURATIONS = ["99999999999 weeks", "P99999999999D", "100000000000000000000 days", "1" + "0" * 400 + " s"]


def _assert_422_naming(response: httpx.Response, loc_tail: list[str | int]) -> None:
    assert response.status_code == 422, response.text
    assert response.headers["content-type"].startswith(PROBLEM)
    locs = [error["loc"] for error in response.json()["errors"]]
    assert any(loc[-len(loc_tail) :] == loc_tail for loc in locs), locs
    assert "too long" in response.text


def _with_wait(duration: str) -> dict[str, Any]:
    journey = welcome_journey()
    journey["nodes"].insert(
        1, {"id": "pause", "type": "WAIT", "name": "Pause", "config": {"duration": duration}}
    )
    journey["edges"] = [
        {"sourceNodeId": "start", "targetNodeId": "pause"},
        {"sourceNodeId": "pause", "targetNodeId": "welcome"},
        {"sourceNodeId": "welcome", "targetNodeId": "done"},
    ]
    return journey


@pytest.mark.parametrize("duration", HUGE_DURATIONS)
async def test_a_duration_too_long_for_any_clock_is_422_on_create_and_canvas(
    api_client_for: ApiClientFor, duration: str
) -> None:
    async with api_client_for(None) as http:
        _assert_422_naming(await http.post("/v1/journeys", json=_with_wait(duration)), ["config", "duration"])
        journey = (await http.post("/v1/journeys", json=welcome_journey())).json()
        canvas = _with_wait(duration)
        put = await http.put(
            f"/v1/journeys/{journey['id']}/canvas", json={"nodes": canvas["nodes"], "edges": canvas["edges"]}
        )
        _assert_422_naming(put, ["config", "duration"])
        # The same client goes on working: nothing was left half-done by the refusal.
        assert (await http.get(f"/v1/journeys/{journey['id']}")).status_code == 200


async def test_a_reentry_cooldown_too_long_is_422(api_client_for: ApiClientFor) -> None:
    body = welcome_journey()
    body["settings"] = {"allowReentry": True, "reentryCooldown": "100000000000000000000 days"}
    async with api_client_for(None) as http:
        _assert_422_naming(await http.post("/v1/journeys", json=body), ["reentryCooldown"])


@asynccontextmanager
async def _served(settings: Settings, database_url: str) -> AsyncIterator[str]:
    """The app behind a real uvicorn socket, so a connection's keep-alive can be watched."""
    resources = AppResources.from_settings(settings, database_url=database_url, jwt_secret=TEST_JWT_SECRET)
    port = find_free_port()
    # No log config: uvicorn would otherwise set its loggers' levels for the rest of the test session.
    config = uvicorn.Config(
        create_app(resources), host="127.0.0.1", port=port, log_config=None, access_log=False
    )
    server = uvicorn.Server(config)
    serving = asyncio.create_task(server.serve())
    try:

        async def started() -> bool:
            return server.started

        await eventually(started, timeout=20)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await serving


async def test_over_a_real_connection_a_refusal_keeps_the_connection(
    settings: Settings, database_url: str
) -> None:
    headers = {"Authorization": f"Bearer {token_for('acme')}"}
    async with (
        _served(settings, database_url) as url,
        httpx.AsyncClient(base_url=url, headers=headers) as http,
    ):
        refused = await http.post("/v1/journeys", json=_with_wait("P99999999999D"))
        assert refused.status_code == 422
        assert refused.headers.get("connection", "").lower() != "close"
        after = await http.get("/v1/journeys")
        assert after.status_code == 200
        # Both answers came over one connection: the refusal did not make the server hang up.
        assert refused.extensions["network_stream"] is after.extensions["network_stream"]


# --- PostgreSQL starting up ---------------------------------------------------------------------
# A listener that speaks the PostgreSQL wire protocol just far enough to refuse every connection the
# way a server in recovery does (FATAL 57P03 "the database system is starting up"). A real server
# holds that state for an unpredictable moment; this holds it for the whole test.


async def _starting_up(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while True:
            length = struct.unpack("!I", await reader.readexactly(4))[0]
            body = await reader.readexactly(length - 4)
            code = struct.unpack("!I", body[:4])[0]
            if code in (80877103, 80877104):  # SSLRequest, GSSENCRequest: "not here", then the startup
                writer.write(b"N")
                await writer.drain()
                continue
            fields = b"SFATAL\0VFATAL\0C57P03\0Mthe database system is starting up\0\0"
            writer.write(b"E" + struct.pack("!I", len(fields) + 4) + fields)
            await writer.drain()
            break
    except (asyncio.IncompleteReadError, ConnectionError):
        pass
    finally:
        writer.close()


@asynccontextmanager
async def _database_starting_up() -> AsyncIterator[str]:
    server = await asyncio.start_server(_starting_up, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        yield f"postgresql://postgres@127.0.0.1:{port}/journeys"
    finally:
        server.close()
        await server.wait_closed()


async def test_the_database_starting_up_is_503_with_retry_after(api_client_for: ApiClientFor) -> None:
    async with _database_starting_up() as url, api_client_for(None, db_url=url) as http:
        listing = await http.get("/v1/journeys")
        created = await http.post("/v1/journeys", json=welcome_journey())
        health = await http.get("/health")
    for response in (listing, created):
        assert response.status_code == 503, response.text
        assert response.headers["content-type"].startswith(PROBLEM)
        assert int(response.headers["retry-after"]) > 0
    assert health.status_code == 503


# --- Reading back: order and totals -------------------------------------------------------------


def _journey_whose_ids_sort_against_the_path() -> dict[str, Any]:
    journey = welcome_journey()
    journey["nodes"] = [
        {"id": "z-start", "type": "TRIGGER", "name": "Manual", "config": {"triggerType": "MANUAL"}},
        {
            "id": "m-plan",
            "type": "UPDATE",
            "name": "Tag",
            "config": {"updates": [{"field": "seen", "value": True}]},
        },
        {"id": "a-send", "type": "SEND", "name": "Hello", "config": journey["nodes"][1]["config"]},
        {"id": "b-done", "type": "EXIT", "name": "Done"},
    ]
    journey["edges"] = [
        {"sourceNodeId": "z-start", "targetNodeId": "m-plan"},
        {"sourceNodeId": "m-plan", "targetNodeId": "a-send"},
        {"sourceNodeId": "a-send", "targetNodeId": "b-done"},
    ]
    return journey


async def _enrollment_with_steps(
    sessions: async_sessionmaker[AsyncSession], journey_id: str, status: str, steps: list[str]
) -> uuid.UUID:
    enrollment_id = uuid.uuid4()
    now = datetime.now(UTC)
    async with sessions() as session:
        session.add(
            EnrollmentRow(
                id=enrollment_id,
                tenant_id="acme",
                journey_id=uuid.UUID(journey_id),
                version=1,
                customer_id=f"c-{enrollment_id.hex[:8]}",
                entry_number=1,
                workflow_id=f"wf-{enrollment_id}",
                status=status,
                enrolled_at=now,
                converted=status == "COMPLETED",
            )
        )
        await session.flush()
        for node_id in steps:  # all in one instant, as a TRIGGER → UPDATE → SEND chain is
            session.add(
                EnrollmentStepRow(
                    enrollment_id=enrollment_id,
                    node_id=node_id,
                    visit=1,
                    tenant_id="acme",
                    node_type="X",
                    name=node_id,
                    status="COMPLETED",
                    started_at=now,
                    completed_at=now,
                )
            )
        await session.commit()
    return enrollment_id


async def test_steps_of_one_instant_are_listed_in_path_order(
    api_client_for: ApiClientFor, sessions: async_sessionmaker[AsyncSession]
) -> None:
    async with api_client_for(None) as http:
        journey = (await http.post("/v1/journeys", json=_journey_whose_ids_sort_against_the_path())).json()
        assert (await http.post(f"/v1/journeys/{journey['id']}/publish")).status_code == 200
        enrollment_id = await _enrollment_with_steps(
            sessions, journey["id"], "COMPLETED", ["a-send", "b-done", "m-plan", "z-start"]
        )
        detail = await http.get(f"/v1/journeys/{journey['id']}/enrollments/{enrollment_id}")
    assert detail.status_code == 200, detail.text
    assert [s["stepId"] for s in detail.json()["steps"]] == ["z-start", "m-plan", "a-send", "b-done"]


async def test_the_journey_list_shows_the_same_totals_as_one_journey(
    api_client_for: ApiClientFor, sessions: async_sessionmaker[AsyncSession]
) -> None:
    async with api_client_for(None) as http:
        journeys = []
        for index, statuses in enumerate([["COMPLETED", "COMPLETED", "EXITED"], ["FAILED"], []]):
            journey = (await http.post("/v1/journeys", json=welcome_journey(f"Totals {index}"))).json()
            assert (await http.post(f"/v1/journeys/{journey['id']}/publish")).status_code == 200
            for status in statuses:
                await _enrollment_with_steps(sessions, journey["id"], status, [])
            journeys.append(journey["id"])
        listed = {j["id"]: j for j in (await http.get("/v1/journeys?limit=100")).json()["data"]}
        for journey_id in journeys:
            one = (await http.get(f"/v1/journeys/{journey_id}")).json()
            assert listed[journey_id]["totals"] == one["totals"]
            assert listed[journey_id]["_count"] == one["_count"]
    assert listed[journeys[0]]["totals"]["completed"] == 2
    assert listed[journeys[0]]["totals"]["converted"] == 2
    assert listed[journeys[0]]["_count"]["enrollments"] == 3
    assert listed[journeys[1]]["totals"]["failed"] == 1
    assert listed[journeys[2]]["_count"]["enrollments"] == 0


async def test_destinations_re_pointed_in_place_reach_the_process_caches(
    api_client_for: ApiClientFor, sessions: async_sessionmaker[AsyncSession]
) -> None:
    """The live version changes in place; the version cache (ingestion, dispatcher) must not keep the old."""
    body = welcome_journey()
    body["nodes"][0]["config"] = {"triggerType": "EVENT", "event": f"Signed Up {uuid.uuid4().hex[:6]}"}
    cache = VersionCache()
    triggers = LiveTriggers(cache)
    async with api_client_for(None) as http:
        journey = (await http.post("/v1/journeys", json=body)).json()
        assert (await http.post(f"/v1/journeys/{journey['id']}/publish")).status_code == 200
        key = (uuid.UUID(journey["id"]), 1)
        async with sessions() as session:
            before = (await cache.get_many(session, [key]))[key]
            by_event = await triggers.event_journeys(session, "acme")
        assert _send_config(before)["templateId"] is None
        repoint = {"destinations": [{"nodeId": "welcome", "templateId": "tpl-new"}]}
        assert (
            await http.patch(f"/v1/journeys/{journey['id']}/destinations", json=repoint)
        ).status_code == 200
        async with sessions() as session:
            after = (await cache.get_many(session, [key]))[key]
            live = await triggers.event_journeys(session, "acme")
    assert _send_config(after)["templateId"] == "tpl-new"
    event = body["nodes"][0]["config"]["event"]
    assert _send_config(by_event[event][0].definition)["templateId"] is None
    assert _send_config(live[event][0].definition)["templateId"] == "tpl-new"


def _send_config(definition: JourneyDefinition) -> dict[str, Any]:
    send = next(node for node in definition.nodes if node.id == "welcome")
    config: dict[str, Any] = send.config.model_dump(by_alias=True)
    return config
