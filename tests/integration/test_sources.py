"""/v1/sources: write keys shown once and stored hashed, revoked at once, good for tracking only."""

from __future__ import annotations

import hashlib
from typing import Any

import httpx
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from store.rows import SourceRow
from tests.conftest import ApiClientFor
from tests.integration.test_api_contract import assert_problem

TRACK = {"type": "track", "userId": "u1", "event": "Signed Up"}


async def create_source(http: httpx.AsyncClient, name: str = "Web site") -> dict[str, Any]:
    response = await http.post("/v1/sources", json={"name": name})
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


async def track_with(http: httpx.AsyncClient, write_key: str) -> httpx.Response:
    """A tracking call with the write key as Basic user name (the client's bearer token replaced)."""
    return await http.post("/v1/batch", json={"batch": [TRACK]}, auth=(write_key, ""))


async def test_create_list_get_revoke(api_client_for: ApiClientFor) -> None:
    async with api_client_for(None) as http:
        first = await create_source(http, "Web site")
        second = await create_source(http, "iOS app")
        listed = (await http.get("/v1/sources")).json()
        one = (await http.get(f"/v1/sources/{first['id']}")).json()
        revoked = await http.delete(f"/v1/sources/{first['id']}")
        again = await http.delete(f"/v1/sources/{first['id']}")
        after = (await http.get(f"/v1/sources/{first['id']}")).json()
        paged = (await http.get("/v1/sources?limit=1&page=2")).json()

    assert set(first) == {"id", "name", "keyHint", "createdAt", "revokedAt", "writeKey"}
    assert first["writeKey"].startswith("jwk_") and len(first["writeKey"]) >= 40
    assert first["keyHint"] == first["writeKey"][:8] and first["revokedAt"] is None
    assert first["writeKey"] != second["writeKey"]
    assert [s["name"] for s in listed["data"]] == ["iOS app", "Web site"], "newest first"
    assert listed["meta"] == {"total": 2, "page": 1, "limit": 20, "totalPages": 1}
    for shown in [*listed["data"], one, after]:
        assert "writeKey" not in shown, "the key is shown once, at creation"
        assert first["writeKey"] not in str(shown)
    assert one == {key: value for key, value in first.items() if key != "writeKey"}
    assert revoked.status_code == 204 and again.status_code == 204
    assert after["revokedAt"] is not None
    assert [s["name"] for s in paged["data"]] == ["Web site"]


async def test_the_key_is_stored_only_as_its_hash(
    api_client_for: ApiClientFor, sessions: async_sessionmaker[AsyncSession]
) -> None:
    async with api_client_for(None) as http:
        source = await create_source(http)
    key = source["writeKey"]
    async with sessions() as session:
        row = (await session.execute(select(SourceRow))).scalar_one()
        columns = (await session.execute(text("SELECT * FROM sources"))).mappings().one()
    assert row.key_hash == hashlib.sha256(key.encode()).hexdigest()
    assert row.key_hint == key[:8] and row.tenant_id == "acme"
    stored = " ".join(str(value) for value in columns.values())
    assert key not in stored and key[8:] not in stored, "no column holds the key, or its secret part"


async def test_a_revoked_key_is_refused_at_once(api_client_for: ApiClientFor) -> None:
    async with api_client_for(None) as http:
        source = await create_source(http)
        before = await track_with(http, source["writeKey"])
        assert (await http.delete(f"/v1/sources/{source['id']}")).status_code == 204
        after = await track_with(http, source["writeKey"])
        http.headers.pop("Authorization")
        in_body = await http.post("/v1/track", json={**TRACK, "writeKey": source["writeKey"]})
    assert before.status_code == 200, before.text
    assert_problem(after, 401)
    assert after.headers["www-authenticate"].startswith("Basic")
    assert_problem(in_body, 401)


async def test_unknown_and_missing_keys_are_401(api_client_for: ApiClientFor) -> None:
    async with api_client_for(None) as http:
        await create_source(http)
        unknown = await track_with(http, "jwk_" + "x" * 43)
        empty = await track_with(http, "")
        http.headers.pop("Authorization")
        missing = await http.post("/v1/batch", json={"batch": [TRACK]})
        not_base64 = await http.post(
            "/v1/batch", json={"batch": [TRACK]}, headers={"Authorization": "Basic %%%"}
        )
    for response in (unknown, empty, missing, not_base64):
        assert_problem(response, 401)


async def test_a_write_key_is_not_a_bearer_token(api_client_for: ApiClientFor) -> None:
    async with api_client_for(None) as http:
        source = await create_source(http)
        key = source["writeKey"]
        as_bearer = await http.get("/v1/sources", headers={"Authorization": f"Bearer {key}"})
        as_bearer_events = await http.post(
            "/v1/events", json=TRACK, headers={"Authorization": f"Bearer {key}"}
        )
        as_basic = await http.get("/v1/journeys", auth=(key, ""))
        as_basic_events = await http.post("/v1/events", json=TRACK, auth=(key, ""))
        as_basic_sources = await http.post("/v1/sources", json={"name": "x"}, auth=(key, ""))
        as_bearer_on_tracking = await http.post(
            "/v1/batch", json={"batch": [TRACK]}, headers={"Authorization": f"Bearer {key}"}
        )
    for response in (as_bearer, as_bearer_events, as_basic, as_basic_events, as_basic_sources):
        assert_problem(response, 401)
        assert response.headers["www-authenticate"] == "Bearer"
    assert_problem(as_bearer_on_tracking, 401)
    assert "bearer" in as_bearer_on_tracking.json()["detail"]


async def test_scopes_are_enforced(api_client_for: ApiClientFor) -> None:
    async with api_client_for(None) as admin:
        source = await create_source(admin)
    async with api_client_for(None, scopes=["journey:source:view"]) as viewer:
        assert (await viewer.get("/v1/sources")).status_code == 200
        assert (await viewer.get(f"/v1/sources/{source['id']}/rejections")).status_code == 200
        add = await viewer.post("/v1/sources", json={"name": "x"})
        delete = await viewer.delete(f"/v1/sources/{source['id']}")
    async with api_client_for(None, scopes=["journey:event:add"]) as sender:
        view = await sender.get("/v1/sources")
        rejections = await sender.get(f"/v1/sources/{source['id']}/rejections")
    assert "journey:source:add" in str(assert_problem(add, 403)["detail"])
    assert "journey:source:delete" in str(assert_problem(delete, 403)["detail"])
    assert "journey:source:view" in str(assert_problem(view, 403)["detail"])
    assert_problem(rejections, 403)


async def test_another_tenants_sources_are_404(api_client_for: ApiClientFor) -> None:
    async with api_client_for(None, tenant="acme") as acme:
        source = await create_source(acme)
    async with api_client_for(None, tenant="globex") as globex:
        listed = (await globex.get("/v1/sources")).json()
        get = await globex.get(f"/v1/sources/{source['id']}")
        rejections = await globex.get(f"/v1/sources/{source['id']}/rejections")
        delete = await globex.delete(f"/v1/sources/{source['id']}")
        malformed = await globex.get("/v1/sources/not-a-uuid")
    async with api_client_for(None, tenant="acme") as acme:
        still = (await acme.get(f"/v1/sources/{source['id']}")).json()
        tracked = await track_with(acme, source["writeKey"])
    assert listed["meta"]["total"] == 0
    for response in (get, rejections, delete, malformed):
        assert_problem(response, 404)
    assert still["revokedAt"] is None and tracked.status_code == 200, "globex's DELETE changed nothing"


async def test_a_key_sends_for_its_own_tenant_only(
    api_client_for: ApiClientFor, sessions: async_sessionmaker[AsyncSession]
) -> None:
    async with api_client_for(None, tenant="globex") as globex:
        source = await create_source(globex)
    async with api_client_for(None, tenant="acme") as acme:
        response = await acme.post(
            "/v1/track", json={**TRACK, "messageId": "m-globex"}, auth=(source["writeKey"], "")
        )
    async with sessions() as session:
        tenant = await session.scalar(text("SELECT tenant_id FROM events WHERE message_id = 'm-globex'"))
    assert response.status_code == 200, response.text
    assert tenant == "globex", "the key's tenant, whoever's client sent it"


async def test_bad_source_bodies_are_422(api_client_for: ApiClientFor) -> None:
    async with api_client_for(None) as http:
        nameless = await http.post("/v1/sources", json={})
        empty = await http.post("/v1/sources", json={"name": ""})
        extra = await http.post("/v1/sources", json={"name": "x", "writeKey": "mine"})
    assert ["body", "name"] in [e["loc"] for e in assert_problem(nameless, 422)["errors"]]  # type: ignore[union-attr]
    assert_problem(empty, 422)
    assert ["body", "writeKey"] in [e["loc"] for e in assert_problem(extra, 422)["errors"]]  # type: ignore[union-attr]
