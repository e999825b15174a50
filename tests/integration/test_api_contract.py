"""The API's contract for bad input: problem+json with the right status, never a 500."""

from __future__ import annotations

import httpx
import jwt
import pytest

from tests.conftest import TEST_JWT_SECRET, ApiClientFor
from tests.journey_examples import welcome_journey

PROBLEM = "application/problem+json"


def assert_problem(response: httpx.Response, status: int) -> dict[str, object]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith(PROBLEM)
    body: dict[str, object] = response.json()
    assert body["status"] == status and body["title"] and body["type"] and "detail" in body
    return body


@pytest.mark.parametrize(
    "authorization",
    [
        None,
        "Bearer not-a-jwt",
        "Basic dXNlcjpwYXNz",
        "Bearer "
        + jwt.encode(
            {"tenant": "acme", "aud": "journeys", "iss": "journeys", "exp": 1},
            TEST_JWT_SECRET,
            algorithm="HS256",
        ),
        "Bearer "
        + jwt.encode(
            {"tenant": "acme", "aud": "journeys", "iss": "journeys", "exp": 4_000_000_000},
            "wrong-secret-0123456789-0123456789-0123456789",
            algorithm="HS256",
        ),
    ],
    ids=["missing", "garbage", "basic", "expired", "bad-signature"],
)
async def test_unauthenticated_requests_get_401(
    api_client_for: ApiClientFor, authorization: str | None
) -> None:
    async with api_client_for(None) as http:
        headers = {} if authorization is None else {"Authorization": authorization}
        http.headers.pop("Authorization")
        response = await http.get("/v1/journeys", headers=headers)
    assert_problem(response, 401)
    assert response.headers["www-authenticate"] == "Bearer"


async def test_missing_scope_gets_403(api_client_for: ApiClientFor) -> None:
    async with api_client_for(None, scopes=["journey:journey:view"]) as http:
        assert (await http.get("/v1/journeys")).status_code == 200
        assert_problem(await http.post("/v1/journeys", json=welcome_journey()), 403)


async def test_other_tenants_objects_are_404(api_client_for: ApiClientFor) -> None:
    async with api_client_for(None, tenant="acme") as acme:
        journey = (await acme.post("/v1/journeys", json=welcome_journey())).json()
        await acme.put("/v1/customers/c1", json={"traits": {"email": "a@example.com"}})
    async with api_client_for(None, tenant="globex") as globex:
        assert_problem(await globex.get(f"/v1/journeys/{journey['id']}"), 404)
        assert_problem(await globex.post(f"/v1/journeys/{journey['id']}/publish"), 404)
        assert_problem(
            await globex.post(f"/v1/journeys/{journey['id']}/enrollments", json={"customerId": "c1"}), 404
        )
        assert_problem(await globex.get(f"/v1/journeys/{journey['id']}/enrollments"), 404)
        assert_problem(await globex.get("/v1/customers/c1"), 404)
        assert (await globex.get("/v1/journeys")).json()["meta"]["total"] == 0
        assert (await globex.get("/v1/messages")).json()["meta"]["total"] == 0


async def test_unknown_and_malformed_ids_are_404(api_client_for: ApiClientFor) -> None:
    async with api_client_for(None) as http:
        assert_problem(await http.get("/v1/journeys/00000000-0000-0000-0000-000000000000"), 404)
        assert_problem(await http.get("/v1/journeys/not-a-uuid"), 404)


async def test_unknown_field_is_422_naming_it(api_client_for: ApiClientFor) -> None:
    body = welcome_journey()
    body["colour"] = "red"
    async with api_client_for(None) as http:
        problem = assert_problem(await http.post("/v1/journeys", json=body), 422)
    assert {"loc": ["body", "colour"], "msg": "Extra inputs are not permitted"} in problem["errors"]  # type: ignore[operator]


async def test_bad_node_config_is_422_naming_the_node(api_client_for: ApiClientFor) -> None:
    body = welcome_journey()
    del body["nodes"][1]["config"]["channel"]
    async with api_client_for(None) as http:
        problem = assert_problem(await http.post("/v1/journeys", json=body), 422)
    locs = [tuple(e["loc"]) for e in problem["errors"]]  # type: ignore[attr-defined]
    assert any(loc[:3] == ("body", "nodes", 1) and "channel" in loc for loc in locs), locs


async def test_malformed_json_is_422(api_client_for: ApiClientFor) -> None:
    async with api_client_for(None) as http:
        response = await http.post(
            "/v1/journeys", content=b'{"name": "x",', headers={"content-type": "application/json"}
        )
    problem = assert_problem(response, 422)
    assert problem["errors"]


async def test_page_size_is_bounded(api_client_for: ApiClientFor) -> None:
    async with api_client_for(None) as http:
        problem = assert_problem(await http.get("/v1/journeys?limit=201"), 422)
    assert problem["errors"][0]["loc"] == ["query", "limit"]  # type: ignore[index]


async def test_unpublishable_graph_is_422_naming_the_edge(api_client_for: ApiClientFor) -> None:
    body = welcome_journey()
    body["edges"][1]["targetNodeId"] = "nowhere"
    async with api_client_for(None) as http:
        journey = (await http.post("/v1/journeys", json=body)).json()
        problem = assert_problem(await http.post(f"/v1/journeys/{journey['id']}/publish"), 422)
    assert {"loc": ["edges", 1, "targetNodeId"], "msg": "unknown node 'nowhere'"} in problem["errors"]  # type: ignore[operator]


async def test_enrolling_into_a_draft_is_409(api_client_for: ApiClientFor) -> None:
    async with api_client_for(None) as http:
        journey = (await http.post("/v1/journeys", json=welcome_journey())).json()
        problem = assert_problem(
            await http.post(f"/v1/journeys/{journey['id']}/enrollments", json={"customerId": "c"}), 409
        )
    assert "DRAFT" in str(problem["detail"])


async def test_database_down_is_503_not_500(api_client_for: ApiClientFor) -> None:
    unreachable = "postgresql://postgres@/journeys?host=/nonexistent-socket-dir"
    async with api_client_for(None, db_url=unreachable) as http:
        response = await http.get("/v1/journeys")
        health = await http.get("/health")
    assert_problem(response, 503)
    assert response.headers["retry-after"]
    assert health.status_code == 503
    assert health.json()["checks"]["database"]["ok"] is False


async def test_customer_put_patch_get(api_client_for: ApiClientFor) -> None:
    async with api_client_for(None) as http:
        put = await http.put("/v1/customers/c1", json={"traits": {"email": "a@example.com", "plan": "free"}})
        assert put.status_code == 200
        patched = await http.patch("/v1/customers/c1", json={"traits": {"plan": "pro"}})
        assert patched.json()["traits"] == {"email": "a@example.com", "plan": "pro"}
        replaced = await http.put("/v1/customers/c1", json={"traits": {"plan": "team"}})
        assert replaced.json()["traits"] == {"plan": "team"}
        assert (await http.get("/v1/customers/c1")).json()["traits"] == {"plan": "team"}
        assert_problem(await http.patch("/v1/customers/ghost", json={"traits": {}}), 404)


async def test_page_number_is_bounded(api_client_for: ApiClientFor) -> None:
    async with api_client_for(None) as http:
        problem = assert_problem(await http.get("/v1/actiontargets?page=15034592574526633381&limit=91"), 422)
        last = await http.get("/v1/sources?page=10000000&limit=200")
    assert problem["errors"][0]["loc"] == ["query", "page"]  # type: ignore[index]
    assert last.status_code == 200 and last.json()["data"] == []
