"""The audit log: mutations recorded per tenant, GETs not; GET /v1/audit needs its scope."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from tests.conftest import ApiClientFor
from tests.integration.test_api_contract import assert_problem

SMS = {"name": "Ping", "channel": "SMS", "body": "Hi"}


async def test_mutations_are_recorded_newest_first_with_the_request_id(api_client_for: ApiClientFor) -> None:
    async with api_client_for(None, tenant="acme") as http:
        created = await http.post("/v1/templates", json=SMS, headers={"X-Request-Id": "req-create-1"})
        assert created.status_code == 201, created.text
        assert created.headers["x-request-id"] == "req-create-1"
        template_id = created.json()["id"]
        assert (await http.get(f"/v1/templates/{template_id}")).status_code == 200
        assert (await http.get("/v1/templates")).status_code == 200
        patched = await http.patch(f"/v1/templates/{template_id}", json={"body": "{% for x in y %}"})
        assert patched.status_code == 422
        generated = patched.headers["x-request-id"]
        assert generated and generated != "req-create-1"
        # Refused for its unknown parameter, and recorded without the query string (it may carry data).
        refused = await http.post("/v1/templates?dryRun=no", json=SMS)
        assert refused.status_code == 422
        deleted = await http.delete(f"/v1/templates/{template_id}")
        assert deleted.status_code == 204

        listed = await http.get("/v1/audit")
        assert listed.status_code == 200, listed.text
        body = listed.json()
        entries = body["data"]
        assert body["meta"]["total"] == 4
        assert [(e["method"], e["path"], e["statusCode"]) for e in entries] == [
            ("DELETE", f"/v1/templates/{template_id}", 204),
            ("POST", "/v1/templates", 422),
            ("PATCH", f"/v1/templates/{template_id}", 422),
            ("POST", "/v1/templates", 201),
        ]
        assert entries[3]["requestId"] == "req-create-1"
        assert entries[2]["requestId"] == generated
        assert entries[0]["requestId"] == deleted.headers["x-request-id"]
        assert {e["subject"] for e in entries} == {"dev"}
        assert entries[0]["at"] >= entries[1]["at"] >= entries[2]["at"] >= entries[3]["at"]
        fields = {"id", "subject", "method", "path", "statusCode", "requestId", "at", "detail"}
        assert set(entries[0]) == fields
        assert entries[0]["detail"] is None, "only an enrollment action notes what it asked for"

        paged = (await http.get("/v1/audit?page=2&limit=2")).json()
        assert [e["method"] for e in paged["data"]] == ["PATCH", "POST"]
        later = (datetime.now(UTC) + timedelta(minutes=1)).isoformat()
        assert (await http.get("/v1/audit", params={"from": later})).json()["data"] == []
        assert len((await http.get("/v1/audit", params={"to": later})).json()["data"]) == 4

    async with api_client_for(None, tenant="globex") as other:
        assert (await other.post("/v1/templates", json=SMS)).status_code == 201
        seen = (await other.get("/v1/audit")).json()
        assert [(e["method"], e["path"]) for e in seen["data"]] == [("POST", "/v1/templates")]
        assert seen["meta"]["total"] == 1


async def test_unauthenticated_requests_are_not_recorded(api_client_for: ApiClientFor) -> None:
    async with api_client_for(None) as http:
        refused = await http.post("/v1/templates", json=SMS, headers={"Authorization": ""})
        assert refused.status_code == 401
        assert refused.headers["x-request-id"]
        assert (await http.get("/v1/audit")).json()["data"] == []


async def test_reading_the_audit_log_needs_its_scope(api_client_for: ApiClientFor) -> None:
    async with api_client_for(None, scopes=["journey:template:view", "journey:template:edit"]) as http:
        assert_problem(await http.get("/v1/audit"), 403)
        # A refused mutation by an authenticated caller is still recorded (it is readable with the scope).
        assert (await http.delete("/v1/journeys/00000000-0000-0000-0000-000000000000")).status_code == 403
    async with api_client_for(None) as http:
        entries = (await http.get("/v1/audit")).json()["data"]
        assert [(e["method"], e["statusCode"]) for e in entries] == [("DELETE", 403)]
