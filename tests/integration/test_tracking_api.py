"""The Segment tracking API (/v1/batch, /v1/track, …) and the bounds every event keeps, on real
PostgreSQL over the real app: what SDKs send is stored as sent, one bad event never loses its batch,
and poison values (deep nesting, NaN, 1e400, impossible timestamps) are refused at the edge — per
event on the tracking routes, 4xx naming the field on /v1/events."""

from __future__ import annotations

import gzip
import json
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from api.app import create_app
from api.resources import AppResources
from devstack import find_free_port
from plumbing.settings import Settings
from tests.conftest import TEST_JWT_SECRET, ApiClientFor, token_for
from tests.e2e.test_metrics import scrape, total
from tests.integration.test_api_contract import assert_problem
from tests.integration.test_sources import create_source

Json = dict[str, Any]


@asynccontextmanager
async def tracking(
    api_client_for: ApiClientFor, **options: Any
) -> AsyncIterator[tuple[httpx.AsyncClient, Json]]:
    """A bearer client of the tenant (to read back) and a source of it (to send with)."""
    async with api_client_for(None, **options) as http:
        yield http, await create_source(http)


async def send(http: httpx.AsyncClient, source: Json, path: str, body: Any, **options: Any) -> httpx.Response:
    """POST as the SDKs do: the write key as Basic user name, empty password."""
    return await http.post(path, json=body, auth=(source["writeKey"], ""), **options)


async def send_raw(
    http: httpx.AsyncClient, source: Json, path: str, content: bytes, **headers: str
) -> httpx.Response:
    return await http.post(path, content=content, auth=(source["writeKey"], ""), headers=headers)


async def stored_events(sessions: async_sessionmaker[AsyncSession]) -> list[Json]:
    async with sessions() as session:
        rows = await session.execute(
            text(
                "SELECT message_id, type, name, customer_id, user_id, anonymous_id, session_id, properties,"
                " traits, context, extra, timestamp, source_id FROM events ORDER BY id"
            )
        )
        return [dict(row) for row in rows.mappings()]


def by_message(events: list[Json]) -> dict[str, Json]:
    return {event["message_id"]: event for event in events}


def ok(response: httpx.Response) -> Json:
    assert response.status_code == 200, response.text
    body: Json = response.json()
    assert body["success"] is True
    return body


def nest(depth: int) -> str:
    """A JSON object nested `depth` levels deep (the outer object is level 1)."""
    return '{"a":' * depth + "1" + "}" * depth


def fill(template: str, value: str) -> str:
    """JSON text with `value` (raw JSON text) in place of the template's `@`."""
    return template.replace("@", value)


def batch_text(*items: str, **fields: Any) -> bytes:
    """A batch body from items given as raw JSON text (so that NaN and friends can be in it)."""
    extra = "".join(f",{json.dumps(k)}:{json.dumps(v)}" for k, v in fields.items())
    return ('{"batch":[' + ",".join(items) + "]" + extra + "}").encode()


# ---- the seven calls ---------------------------------------------------------------------------


async def test_each_call_type_is_stored_as_segment_means_it(
    api_client_for: ApiClientFor, sessions: async_sessionmaker[AsyncSession]
) -> None:
    async with tracking(api_client_for) as (http, source):
        answers = [
            await send(
                http,
                source,
                "/v1/identify",
                {
                    "userId": "u1",
                    "messageId": "m-identify",
                    "traits": {"email": "ada@example.com", "plan": "pro"},
                },
            ),
            await send(
                http,
                source,
                "/v1/track",
                {
                    "userId": "u1",
                    "messageId": "m-track",
                    "event": "Order Completed",
                    "properties": {"total": 30},
                },
            ),
            await send(
                http,
                source,
                "/v1/page",
                {"userId": "u1", "messageId": "m-page", "name": "Home", "properties": {"url": "/"}},
            ),
            await send(
                http,
                source,
                "/v1/screen",
                {"userId": "u1", "messageId": "m-screen", "name": "Dashboard", "category": "app"},
            ),
            await send(
                http,
                source,
                "/v1/group",
                {"userId": "u1", "messageId": "m-group", "groupId": "g-1", "traits": {"name": "Acme Inc"}},
            ),
            await send(http, source, "/v1/page", {"anonymousId": "a-9", "messageId": "m-anon-page"}),
            await send(
                http, source, "/v1/alias", {"userId": "u9", "previousId": "a-9", "messageId": "m-alias"}
            ),
            await send(
                http,
                source,
                "/v1/batch",
                {"batch": [{"type": "track", "userId": "u1", "event": "Logged In", "messageId": "m-batch"}]},
            ),
        ]
        customer = (await http.get("/v1/customers/u1")).json()
        aliased = (await http.get("/v1/customers/u9")).json()
    for answer in answers:
        assert ok(answer) == {"success": True, "accepted": 1, "duplicates": 0, "rejected": []}
    events = by_message(await stored_events(sessions))
    assert {e["source_id"] for e in events.values()} == {uuid.UUID(source["id"])}
    assert events["m-identify"]["type"] == "identify"
    assert events["m-identify"]["traits"] == {"email": "ada@example.com", "plan": "pro"}
    assert (events["m-track"]["type"], events["m-track"]["name"]) == ("track", "Order Completed")
    assert events["m-track"]["properties"] == {"total": 30}
    assert (events["m-page"]["type"], events["m-page"]["properties"]["name"]) == ("page", "Home")
    assert events["m-screen"]["type"] == "screen" and events["m-screen"]["extra"]["category"] == "app"
    group = events["m-group"]
    assert group["type"] == "group" and group["properties"]["name"] == "Acme Inc", "group traits → properties"
    assert group["properties"]["groupId"] == "g-1" and group["traits"] == {}
    assert customer["traits"] == {"email": "ada@example.com", "plan": "pro"}, (
        "group traits are not the user's"
    )
    assert events["m-alias"]["type"] == "alias" and events["m-alias"]["user_id"] == "u9"
    assert events["m-batch"]["name"] == "Logged In"
    assert "a-9" in aliased["identifiers"]["anonymousId"], "alias merged the anonymous profile into u9"


async def test_the_path_sets_the_type(
    api_client_for: ApiClientFor, sessions: async_sessionmaker[AsyncSession]
) -> None:
    async with tracking(api_client_for) as (http, source):
        ok(await send(http, source, "/v1/identify", {"type": "track", "userId": "u1", "messageId": "m-1"}))
    [event] = await stored_events(sessions)
    assert event["type"] == "identify"


async def test_analytics_js_paths_text_plain_and_write_key_in_the_body(
    api_client_for: ApiClientFor, sessions: async_sessionmaker[AsyncSession]
) -> None:
    async with tracking(api_client_for) as (http, source):
        http.headers.pop("Authorization")
        key = source["writeKey"]
        plain = {"Content-Type": "text/plain"}
        single = await http.post(
            "/v1/t",
            content=json.dumps(
                {
                    "type": "track",
                    "event": "Clicked",
                    "anonymousId": "a-1",
                    "messageId": "ajs-1",
                    "writeKey": key,
                    "_metadata": {"bundled": ["Segment.io"], "unbundled": []},
                    "context": {"library": {"name": "analytics.js", "version": "next-1.0"}},
                }
            ),
            headers=plain,
        )
        batched = await http.post(
            "/v1/b",
            content=json.dumps(
                {
                    "writeKey": key,
                    "sentAt": "2024-05-01T10:00:00.000Z",
                    "batch": [
                        {"type": "page", "anonymousId": "a-1", "messageId": "ajs-2", "writeKey": key},
                        {"type": "identify", "anonymousId": "a-1", "messageId": "ajs-3", "writeKey": key},
                    ],
                }
            ),
            headers=plain,
        )
        preflight = await http.options(
            "/v1/t",
            headers={"Origin": "https://shop.example", "Access-Control-Request-Method": "POST"},
        )
        management = await http.get("/v1/journeys", headers={"Origin": "https://shop.example"})
    assert ok(single)["accepted"] == 1 and ok(batched)["accepted"] == 2
    assert single.headers["access-control-allow-origin"] == "*"
    assert preflight.status_code == 204 and preflight.headers["access-control-allow-origin"] == "*"
    assert "authorization" in preflight.headers["access-control-allow-headers"]
    assert "access-control-allow-origin" not in management.headers, "only the tracking routes are open"
    events = by_message(await stored_events(sessions))
    assert set(events) == {"ajs-1", "ajs-2", "ajs-3"}
    for event in events.values():
        assert "writeKey" not in event["extra"] and key not in json.dumps(event, default=str)
    assert events["ajs-2"]["extra"]["sentAt"] == "2024-05-01T10:00:00.000Z", "the batch's sentAt, kept"


async def test_gzip_bodies_are_inflated(
    api_client_for: ApiClientFor, sessions: async_sessionmaker[AsyncSession]
) -> None:
    body = {
        "batch": [
            {"type": "track", "userId": "u1", "event": "Zipped", "messageId": f"z-{i}"} for i in range(50)
        ]
    }
    async with tracking(api_client_for) as (http, source):
        response = await send_raw(
            http,
            source,
            "/v1/batch",
            gzip.compress(json.dumps(body).encode()),
            **{"Content-Encoding": "gzip"},
        )
        two_members = await send_raw(
            http,
            source,
            "/v1/track",
            gzip.compress(b'{"userId": "u1", ') + gzip.compress(b'"event": "Split", "messageId": "z-split"}'),
            **{"Content-Encoding": "gzip"},
        )
    assert ok(response)["accepted"] == 50 and ok(two_members)["accepted"] == 1
    assert len(await stored_events(sessions)) == 51


async def test_unknown_fields_are_kept_and_the_write_key_is_not(
    api_client_for: ApiClientFor, sessions: async_sessionmaker[AsyncSession]
) -> None:
    async with tracking(api_client_for) as (http, source):
        response = await send(
            http,
            source,
            "/v1/batch",
            {
                "writeKey": source["writeKey"],
                "context": {"app": {"name": "shop"}, "locale": "fr-FR"},
                "integrations": {"All": True},
                "batch": [
                    {
                        "type": "track",
                        "userId": "u1",
                        "event": "Bought",
                        "messageId": "m-extra",
                        "writeKey": source["writeKey"],
                        "context": {"locale": "en-GB", "ip": "203.0.113.9"},
                        "integrations": {"Mixpanel": False},
                        "sentAt": "2024-05-01T10:00:00Z",
                        "originalTimestamp": "2024-05-01T09:59:59Z",
                        "timestamp": "2024-05-01T09:59:59Z",
                        "_metadata": {"bundled": [], "unbundled": ["Mixpanel"]},
                        "channel": "server",
                        "version": 2,
                        "someThingNew": {"nested": [1, 2, {"x": None}]},
                    }
                ],
            },
        )
    assert ok(response)["accepted"] == 1
    [event] = await stored_events(sessions)
    assert event["extra"] == {
        "integrations": {"All": True, "Mixpanel": False},
        "sentAt": "2024-05-01T10:00:00Z",
        "originalTimestamp": "2024-05-01T09:59:59Z",
        "_metadata": {"bundled": [], "unbundled": ["Mixpanel"]},
        "channel": "server",
        "version": 2,
        "someThingNew": {"nested": [1, 2, {"x": None}]},
    }
    assert event["context"] == {"app": {"name": "shop"}, "locale": "en-GB", "ip": "203.0.113.9"}, (
        "the batch's context under the call's"
    )
    assert source["writeKey"] not in json.dumps(event, default=str)


async def test_traits_of_any_call_and_context_traits_reach_the_profile(
    api_client_for: ApiClientFor, sessions: async_sessionmaker[AsyncSession]
) -> None:
    async with tracking(api_client_for) as (http, source):
        rudder_identify = {
            "type": "identify",
            "userId": "u2",
            "context": {"traits": {"email": "bo@example.com", "plan": "free"}},
        }
        track_with_traits = {
            "type": "track",
            "userId": "u2",
            "event": "Upgraded",
            "traits": {"plan": "pro"},
            "context": {"traits": {"plan": "ignored: the call's traits win", "company": "Bo & Co"}},
        }
        ok(await send(http, source, "/v1/batch", {"batch": [rudder_identify, track_with_traits]}))
        customer = (await http.get("/v1/customers/u2")).json()
    assert customer["traits"] == {"email": "bo@example.com", "plan": "pro", "company": "Bo & Co"}
    assert customer["identifiers"]["email"] == ["bo@example.com"]
    identify, track = await stored_events(sessions)
    assert identify["traits"] == {"email": "bo@example.com", "plan": "free"}
    assert track["traits"] == {"plan": "pro", "company": "Bo & Co"}


async def test_timestamps_and_sessions(
    api_client_for: ApiClientFor, sessions: async_sessionmaker[AsyncSession]
) -> None:
    calls = [
        {
            "messageId": "given",
            "timestamp": "2024-05-01T12:00:00+02:00",
            "originalTimestamp": "2000-01-01T00:00:00Z",
        },
        {
            "messageId": "skewed",
            "originalTimestamp": "2024-05-01T10:00:00Z",
            "sentAt": "2024-05-01T10:05:00Z",
        },
        {"messageId": "original", "originalTimestamp": "2024-05-01T10:00:00Z"},
        {"messageId": "batch-sent-at", "originalTimestamp": "2024-05-01T10:00:00Z"},
        {"messageId": "none", "context": {"sessionId": "s-ctx"}},
        {"messageId": "props-session", "properties": {"sessionId": 1714557600000}},
        {"messageId": "own-session", "sessionId": "s-own", "context": {"sessionId": "s-ctx"}},
    ]
    batch = [{"type": "track", "userId": "u1", "event": "x", **call} for call in calls]
    async with tracking(api_client_for) as (http, source):
        before = datetime.now(UTC)
        ok(await send(http, source, "/v1/batch", {"batch": batch[:3] + batch[4:]}))
        ok(await send(http, source, "/v1/batch", {"batch": [batch[3]], "sentAt": "2024-05-01T11:00:00Z"}))
        after = datetime.now(UTC)
    events = by_message(await stored_events(sessions))
    assert events["given"]["timestamp"] == datetime(2024, 5, 1, 10, tzinfo=UTC)
    skew = timedelta(minutes=5)
    assert before - skew <= events["skewed"]["timestamp"] <= after - skew, "receivedAt − (sentAt − original)"
    assert events["original"]["timestamp"] == datetime(2024, 5, 1, 10, tzinfo=UTC)
    hour = timedelta(hours=1)
    assert before - hour <= events["batch-sent-at"]["timestamp"] <= after - hour, "the batch's sentAt"
    assert before <= events["none"]["timestamp"] <= after
    assert events["none"]["session_id"] == "s-ctx"
    assert events["props-session"]["session_id"] == "1714557600000"
    assert events["own-session"]["session_id"] == "s-own"


# ---- one bad event never loses the batch -------------------------------------------------------


async def test_a_batch_with_bad_events_keeps_the_good_ones(
    api_client_for: ApiClientFor, sessions: async_sessionmaker[AsyncSession]
) -> None:
    good = {"type": "track", "userId": "u1", "event": "Good"}
    bad = [
        ({"type": "track", "event": "Nobody", "messageId": "bad-nobody"}, "missing_identity", "userId"),
        ({"type": "track", "userId": "u1", "messageId": "bad-nameless"}, "missing_event", "event"),
        ({"type": "teleport", "userId": "u1"}, "unknown_type", "type"),
        ({"userId": "u1", "event": "no type"}, "unknown_type", "type"),
        ({"type": "alias", "userId": "u1"}, "missing_previous_id", "previousId"),
        ({"type": "alias", "anonymousId": "a-1", "previousId": "a-0"}, "missing_identity", "userId"),
        ({"type": "group", "userId": "u1"}, "missing_group_id", "groupId"),
        (
            {"type": "track", "userId": "u1", "event": "x", "properties": [1, 2]},
            "invalid_field",
            "properties",
        ),
        ({"type": "track", "userId": {"id": 1}, "event": "x"}, "invalid_field", "userId"),
        ({"type": "track", "userId": "u1", "event": 42}, "invalid_field", "event"),
        ({"type": "track", "userId": "u" * 300, "event": "x"}, "invalid_field", "userId"),
        ({"type": "track", "userId": "u1", "event": "x", "blob": "y" * 33_000}, "too_large", "the call"),
        ("not an object", "not_an_object", "JSON object"),
    ]
    batch: list[Any] = []
    for index, (item, _, _) in enumerate(bad):
        batch.append({**good, "messageId": f"good-{index}"})
        batch.append({**item, "writeKey": "jwk_never-stored"} if isinstance(item, dict) else item)
    async with tracking(api_client_for) as (http, source):
        answer = ok(await send(http, source, "/v1/batch", {"batch": batch}))
        listed = (await http.get(f"/v1/sources/{source['id']}/rejections?limit=200")).json()
        paged = (await http.get(f"/v1/sources/{source['id']}/rejections?limit=2&page=1")).json()
    assert answer["accepted"] == len(bad) and answer["duplicates"] == 0
    assert [(r["index"], r["code"]) for r in answer["rejected"]] == [
        (2 * i + 1, code) for i, (_, code, _) in enumerate(bad)
    ]
    for rejected, (_, _, field) in zip(answer["rejected"], bad, strict=True):
        assert field in rejected["reason"], rejected
    stored = await stored_events(sessions)
    assert sorted(e["message_id"] for e in stored) == sorted(f"good-{i}" for i in range(len(bad)))

    assert listed["meta"]["total"] == len(bad)
    newest_first = listed["data"]
    assert [r["index"] for r in newest_first] == [2 * i + 1 for i in reversed(range(len(bad)))]
    first = newest_first[-1]
    assert first["code"] == "missing_identity" and first["messageId"] == "bad-nobody"
    assert '"event":"Nobody"' in first["excerpt"] and "writeKey" not in first["excerpt"]
    assert all("jwk_never-stored" not in r["excerpt"] for r in newest_first)
    too_large = next(r for r in newest_first if r["code"] == "too_large")
    assert len(too_large["excerpt"]) <= 2100
    assert [r["index"] for r in paged["data"]] == [2 * len(bad) - 1, 2 * len(bad) - 3]


async def test_a_bad_single_call_is_400_naming_the_field_and_kept(
    api_client_for: ApiClientFor, sessions: async_sessionmaker[AsyncSession]
) -> None:
    async with tracking(api_client_for) as (http, source):
        nameless = await send(http, source, "/v1/track", {"userId": "u1", "messageId": "m-1"})
        nobody = await send(http, source, "/v1/identify", {"traits": {"a": 1}})
        groupless = await send(http, source, "/v1/group", {"userId": "u1"})
        big = await send(http, source, "/v1/track", {"userId": "u1", "event": "x", "blob": "y" * 33_000})
        listed = (await http.get(f"/v1/sources/{source['id']}/rejections")).json()
    problem = assert_problem(nameless, 400)
    assert problem["errors"] == [
        {"loc": ["body", "event"], "msg": "a track call needs `event`", "code": "missing_event"}
    ]
    assert "userId" in str(assert_problem(nobody, 400)["detail"])
    assert assert_problem(groupless, 400)["errors"][0]["loc"] == ["body", "groupId"]  # type: ignore[index]
    assert "32768" in str(assert_problem(big, 413)["detail"])
    assert [r["code"] for r in listed["data"]] == [
        "too_large",
        "missing_group_id",
        "missing_identity",
        "missing_event",
    ]
    assert listed["data"][-1]["messageId"] == "m-1" and listed["data"][-1]["index"] == 0
    assert await stored_events(sessions) == []


async def test_rejections_are_counted_by_reason(settings: Settings, database_url: str) -> None:
    address = f"127.0.0.1:{find_free_port()}"
    resources = AppResources.from_settings(
        settings.model_copy(update={"metrics_address": address}),
        database_url=database_url,
        jwt_secret=TEST_JWT_SECRET,
    )
    transport = httpx.ASGITransport(app=create_app(resources))
    headers = {"Authorization": f"Bearer {token_for('acme')}"}
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://api", headers=headers) as http:
            source = await create_source(http)
            batch = [
                {"type": "track", "userId": "u1", "event": "ok"},
                {"type": "track", "userId": "u1"},
                {"type": "track", "event": "x"},
                {"type": "track", "userId": "u1"},
            ]
            ok(await send(http, source, "/v1/batch", {"batch": batch}))
            samples = await scrape(address)
    finally:
        await resources.close()
    assert total(samples, "journeys_events_rejected_total", reason="missing_event") == 2
    assert total(samples, "journeys_events_rejected_total", reason="missing_identity") == 1
    assert total(samples, "journeys_events_ingested_total", type="track", outcome="accepted") == 1


# ---- the request as a whole ----------------------------------------------------------------------


async def test_request_limits_and_unreadable_bodies(api_client_for: ApiClientFor) -> None:
    small = {"type": "track", "userId": "u1", "event": "x"}
    async with tracking(api_client_for) as (http, source):
        over_500_kb = await send(
            http, source, "/v1/batch", {"batch": [{**small, "blob": "y" * 20_000} for _ in range(30)]}
        )
        bomb = await send_raw(
            http, source, "/v1/batch", gzip.compress(b" " * 50_000_000), **{"Content-Encoding": "gzip"}
        )
        too_many = await send(http, source, "/v1/batch", {"batch": [small] * 501})
        invalid_json = await send_raw(
            http, source, "/v1/batch", b'{"batch": [', **{"Content-Type": "application/json"}
        )
        not_utf8 = await send_raw(http, source, "/v1/batch", b'{"batch": ["\xff"]}')
        broken_gzip = await send_raw(
            http, source, "/v1/batch", b"not gzip at all", **{"Content-Encoding": "gzip"}
        )
        truncated = await send_raw(
            http, source, "/v1/batch", gzip.compress(b'{"batch": []}')[:-12], **{"Content-Encoding": "gzip"}
        )
        brotli = await send_raw(http, source, "/v1/batch", b"{}", **{"Content-Encoding": "br"})
        no_batch = await send(http, source, "/v1/batch", {"events": []})
        not_an_object = await send(http, source, "/v1/batch", [small])
        empty = await send(http, source, "/v1/batch", {"batch": []})
    for response in (over_500_kb, bomb, too_many):
        assert_problem(response, 413)
    assert "501" in too_many.json()["detail"]
    for response in (invalid_json, not_utf8, broken_gzip, truncated, no_batch, not_an_object):
        assert_problem(response, 400)
    assert "JSON" in invalid_json.json()["detail"]
    assert_problem(brotli, 415)
    assert ok(empty) == {"success": True, "accepted": 0, "duplicates": 0, "rejected": []}


async def test_a_500_kb_batch_passes_the_body_limit(api_client_for: ApiClientFor) -> None:
    item = {"type": "track", "userId": "u1", "event": "x", "properties": {"blob": "y" * 30_000}}
    batch = [{**item, "messageId": f"m-{i}"} for i in range(16)]
    body = json.dumps({"batch": batch}).encode()
    assert 480_000 < len(body) <= 500 * 1024
    async with tracking(api_client_for) as (http, source):
        response = await send_raw(http, source, "/v1/batch", body)
    assert ok(response)["accepted"] == 16


async def test_resending_a_batch_stores_each_event_once(
    api_client_for: ApiClientFor, sessions: async_sessionmaker[AsyncSession]
) -> None:
    batch = {"batch": [{"type": "track", "userId": "u1", "event": "x", "messageId": "once"}]}
    async with tracking(api_client_for) as (http, source):
        first = ok(await send(http, source, "/v1/batch", batch))
        second = ok(await send(http, source, "/v1/batch", batch))
    assert (first["accepted"], second["accepted"], second["duplicates"]) == (1, 0, 1)
    assert len(await stored_events(sessions)) == 1


# ---- poison input: /v1/batch skips it, /v1/events refuses it naming the field -----------------------

GOOD = '{"type":"track","userId":"u1","event":"good","messageId":"@"}'
POISON: list[tuple[str, str, str]] = [
    (fill('{"type":"track","userId":"u1","event":"x","properties":@}', nest(33)), "too_deep", "properties"),
    (fill('{"type":"identify","userId":"u1","traits":@}', nest(200)), "too_deep", "traits"),
    (fill('{"type":"track","userId":"u1","event":"x","context":@}', nest(900)), "too_deep", "context"),
    (
        fill('{"type":"track","userId":"u1","event":"x","properties":{"p":@}}', nest(5000)),
        "too_deep",
        "properties",
    ),
    (fill('{"type":"track","userId":"u1","event":"x","_metadata":@}', nest(40)), "too_deep", "_metadata"),
    (
        '{"type":"track","userId":"u1","event":"x","properties":{"p":NaN}}',
        "non_finite_number",
        "properties.p",
    ),
    (
        '{"type":"track","userId":"u1","event":"x","properties":{"p":Infinity}}',
        "non_finite_number",
        "Infinity",
    ),
    (
        '{"type":"track","userId":"u1","event":"x","properties":{"p":[-Infinity]}}',
        "non_finite_number",
        "p[0]",
    ),
    ('{"type":"track","userId":"u1","event":"x","properties":{"p":1e400}}', "non_finite_number", "1e400"),
    (
        fill('{"type":"track","userId":"u1","event":"x","traits":{"n":@}}', ("9" * 5000)),
        "non_finite_number",
        "traits.n",
    ),
    (
        '{"type":"track","userId":"u1","event":"x","context":{"k":"a\\u0000b"}}',
        "unstorable_text",
        "context.k",
    ),
    (
        '{"type":"track","userId":"u1","event":"x","properties":{"\\ud800":1}}',
        "unstorable_text",
        "properties",
    ),
    (
        '{"type":"track","userId":"u1","event":"x","timestamp":"0001-01-01T00:00:00+14:00"}',
        "invalid_timestamp",
        "timestamp",
    ),
    (
        '{"type":"track","userId":"u1","event":"x","timestamp":"9999-12-31T23:59:59-14:00"}',
        "invalid_timestamp",
        "timestamp",
    ),
    (
        '{"type":"track","userId":"u1","event":"x","timestamp":"0001-01-01T00:00:00Z"}',
        "invalid_timestamp",
        "timestamp",
    ),
    (
        '{"type":"track","userId":"u1","event":"x","timestamp":"9999-12-31T23:59:59.999999Z"}',
        "invalid_timestamp",
        "timestamp",
    ),
    ('{"type":"track","userId":"u1","event":"x","timestamp":"yesterday"}', "invalid_timestamp", "timestamp"),
    (
        '{"type":"track","userId":"u1","event":"x","originalTimestamp":"0001-01-01T00:00:00Z",'
        '"sentAt":"9999-12-31T00:00:00Z"}',
        "invalid_timestamp",
        "originalTimestamp",
    ),
]


async def test_poison_events_in_a_batch_are_skipped_and_the_rest_stored(
    api_client_for: ApiClientFor, sessions: async_sessionmaker[AsyncSession]
) -> None:
    items: list[str] = []
    for index, (item, _, _) in enumerate(POISON):
        items += [fill(GOOD, f"good-{index}"), item]
    edges = [
        fill('{"type":"track","userId":"u1","event":"x","messageId":"deep-32","properties":@}', nest(32)),
        '{"type":"track","userId":"u1","event":"x","messageId":"year-1","timestamp":"0001-01-01T00:00:01Z"}',
        '{"type":"track","userId":"u1","event":"x","messageId":"year-9999","timestamp":"9999-12-31T23:59:59Z"}',
        '{"type":"track","userId":"u1","event":"x","messageId":"big-float","properties":{"p":1.7e308}}',
    ]
    async with tracking(api_client_for) as (http, source):
        answer = ok(await send_raw(http, source, "/v1/batch", batch_text(*items, *edges)))
        listed = (await http.get(f"/v1/sources/{source['id']}/rejections?limit=100")).json()
        after = ok(
            await send(http, source, "/v1/track", {"userId": "u1", "event": "after", "messageId": "after"})
        )
    assert [(r["index"], r["code"]) for r in answer["rejected"]] == [
        (2 * i + 1, code) for i, (_, code, _) in enumerate(POISON)
    ]
    for rejected, (_, _, field) in zip(answer["rejected"], POISON, strict=True):
        assert field in rejected["reason"], rejected
    assert answer["accepted"] == len(POISON) + len(edges) and after["accepted"] == 1
    events = by_message(await stored_events(sessions))
    assert set(events) == {f"good-{i}" for i in range(len(POISON))} | {
        "deep-32",
        "year-1",
        "year-9999",
        "big-float",
        "after",
    }
    assert events["year-1"]["timestamp"] == datetime(1, 1, 1, 0, 0, 1, tzinfo=UTC)
    assert events["year-9999"]["timestamp"] == datetime(9999, 12, 31, 23, 59, 59, tzinfo=UTC)
    assert listed["meta"]["total"] == len(POISON)
    assert all(len(r["excerpt"]) <= 2100 for r in listed["data"])
    nan = next(r for r in listed["data"] if "NaN" in r["excerpt"])
    assert nan["code"] == "non_finite_number"


@pytest.mark.parametrize(
    ("body", "loc"),
    [
        ('{"type":"track","userId":"u1","event":"x","properties":{"p":NaN}}', ["body", "properties"]),
        ('{"type":"track","userId":"u1","event":"x","properties":{"p":Infinity}}', ["body", "properties"]),
        ('{"type":"track","userId":"u1","event":"x","properties":{"p":-Infinity}}', ["body", "properties"]),
        ('{"type":"track","userId":"u1","event":"x","properties":{"p":1e400}}', ["body", "properties"]),
        ('{"type":"identify","userId":"u1","traits":{"p":[1e400]}}', ["body", "traits"]),
        ('{"type":"track","userId":"u1","event":"x","context":{"p":NaN}}', ["body", "context"]),
        (fill('{"type":"track","userId":"u1","event":"x","properties":@}', nest(33)), ["body", "properties"]),
        (fill('{"type":"identify","userId":"u1","traits":@}', nest(200)), ["body", "traits"]),
        (fill('{"type":"track","userId":"u1","event":"x","context":@}', nest(900)), ["body", "context"]),
        (
            '{"type":"track","userId":"u1","event":"x","timestamp":"0001-01-01T00:00:00+14:00"}',
            ["body", "timestamp"],
        ),
        (
            '{"type":"track","userId":"u1","event":"x","timestamp":"9999-12-31T23:59:59-14:00"}',
            ["body", "timestamp"],
        ),
        (
            '{"type":"track","userId":"u1","event":"x","timestamp":"0001-01-01T00:00:00Z"}',
            ["body", "timestamp"],
        ),
        (
            '{"type":"track","userId":"u1","event":"x","timestamp":"0001-01-01T00:00:00"}',
            ["body", "timestamp"],
        ),
    ],
    ids=[
        "nan",
        "infinity",
        "-infinity",
        "1e400",
        "1e400-in-traits",
        "nan-in-context",
        "depth-33",
        "depth-200",
        "depth-900",
        "year-0",
        "year-10000",
        "minus-infinity",
        "minus-infinity-naive",
    ],
)
async def test_poison_on_v1_events_is_422_naming_the_field(
    api_client_for: ApiClientFor, sessions: async_sessionmaker[AsyncSession], body: str, loc: list[str]
) -> None:
    batch = '{"batch":[' + fill(GOOD, "fine") + "," + body + "]}"
    async with api_client_for(None) as http:
        single = await http.post("/v1/events", content=body, headers={"Content-Type": "application/json"})
        batched = await http.post(
            "/v1/events/batch", content=batch, headers={"Content-Type": "application/json"}
        )
        good = await http.post("/v1/events", json={"type": "track", "userId": "u1", "event": "after"})
    assert loc in [e["loc"] for e in assert_problem(single, 422)["errors"]]  # type: ignore[union-attr]
    assert ["body", "batch", 1, *loc[1:]] in [e["loc"] for e in assert_problem(batched, 422)["errors"]]  # type: ignore[union-attr]
    assert good.status_code == 202, "nothing broken behind it"
    assert [e["name"] for e in await stored_events(sessions)] == ["after"]


async def test_v1_events_bounds_keep_what_is_fine(api_client_for: ApiClientFor) -> None:
    fine = fill(
        '{"type":"track","userId":"u1","event":"x","properties":@,"timestamp":"0001-01-01T00:00:01Z"}',
        nest(32),
    )
    async with api_client_for(None) as http:
        accepted = await http.post("/v1/events", content=fine, headers={"Content-Type": "application/json"})
        very_deep = await http.post(
            "/v1/events",
            content=fill('{"type":"track","userId":"u1","event":"x","properties":@}', nest(5000)),
            headers={"Content-Type": "application/json"},
        )
        very_deep_batch = await http.post(
            "/v1/events/batch",
            content=fill('{"batch":[{"type":"track","userId":"u1","event":"x","properties":@}]}', nest(5000)),
            headers={"Content-Type": "application/json"},
        )
    assert accepted.status_code == 202, accepted.text
    assert 400 <= very_deep.status_code < 500 and 400 <= very_deep_batch.status_code < 500
    assert_problem(very_deep, very_deep.status_code)
