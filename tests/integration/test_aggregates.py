"""The aggregates query: local-time buckets across a DST change, filters, and 422s naming the field."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from domain.interpreter import StepRecord
from store.repositories.enrollments import EnrollmentRepository
from tests.conftest import ApiClientFor
from tests.integration.test_analytics import _batch, _journey

QUERY = "/v1/analytics/journeys/aggregates/query"
# Europe/Paris springs forward on 2026-03-29 at 02:00 local (01:00 UTC): that local day lasts 23 hours.
DST_DAY_START = datetime(2026, 3, 28, 23, 0, tzinfo=UTC)  # 2026-03-29 00:00 CET
NEXT_DAY_START = datetime(2026, 3, 29, 22, 0, tzinfo=UTC)  # 2026-03-30 00:00 CEST


def completed(node: str, visit: int, at: datetime, seconds: int = 60) -> StepRecord:
    return StepRecord(
        node_id=node,
        node_type="SEND",
        name=node,
        visit=visit,
        status="COMPLETED",
        started_at=at,
        completed_at=at + timedelta(seconds=seconds),
    )


async def load(sessions: async_sessionmaker[AsyncSession], tenant: str) -> uuid.UUID:
    journey_id = await _journey(sessions, tenant)
    steps = [
        completed("a", 1, DST_DAY_START - timedelta(minutes=30)),  # 2026-03-28 23:30 local: the day before
        completed("a", 2, DST_DAY_START),  # first minute of the DST day
        completed("a", 3, NEXT_DAY_START - timedelta(minutes=30), seconds=120),  # last hour of the DST day
        completed("b", 1, NEXT_DAY_START),  # first minute of the day after
    ]
    async with sessions() as session, session.begin():
        await EnrollmentRepository(session).apply_progress(_batch(tenant, journey_id, uuid.uuid4(), 2, steps))
    return journey_id


def body(**overrides: Any) -> dict[str, Any]:
    return {
        "interval": "2026-03-27T00:00:00Z/2026-04-01T00:00:00Z",
        "granularity": "P1D",
        "timeZone": "Europe/Paris",
        "groupBy": ["nodeId"],
        "metrics": ["nCompleted", "oStepDuration"],
        **overrides,
    }


async def test_days_are_local_days_across_a_dst_change(
    api_client_for: ApiClientFor, sessions: async_sessionmaker[AsyncSession]
) -> None:
    await load(sessions, "acme")
    async with api_client_for(None) as http:
        response = await http.post(QUERY, json=body())
    assert response.status_code == 200, response.text
    results = {r["group"]["nodeId"]: r["data"] for r in response.json()["results"]}
    node_a = {bucket["interval"]: bucket["metrics"] for bucket in results["a"]}
    assert list(node_a) == [
        "2026-03-28T00:00:00+01:00/2026-03-29T00:00:00+01:00",
        "2026-03-29T00:00:00+01:00/2026-03-30T00:00:00+02:00",
    ]
    dst_day = {m["metric"]: m["stats"] for m in node_a["2026-03-29T00:00:00+01:00/2026-03-30T00:00:00+02:00"]}
    assert dst_day["nCompleted"]["count"] == 2, "both steps of the 23-hour local day, not the UTC day"
    assert dst_day["oStepDuration"]["sum"] == (60 + 120) * 1000
    assert [b["interval"][:10] for b in results["b"]] == ["2026-03-30"]


async def test_filters_and_other_tenants(
    api_client_for: ApiClientFor, sessions: async_sessionmaker[AsyncSession]
) -> None:
    await load(sessions, "acme")
    only_b = {"type": "and", "predicates": [{"dimension": "nodeId", "operator": "matches", "value": "b"}]}
    async with api_client_for(None) as http:
        filtered = (await http.post(QUERY, json=body(filter=only_b, granularity=None))).json()
    assert [r["group"] for r in filtered["results"]] == [{"nodeId": "b"}]
    async with api_client_for(None, tenant="globex") as other:
        assert (await other.post(QUERY, json=body())).json()["results"] == []


async def test_invalid_parts_are_422_naming_them(api_client_for: ApiClientFor) -> None:
    cases = [
        ({"interval": "yesterday"}, ["body", "interval"]),
        ({"interval": "2026-04-01T00:00:00Z/2026-03-01T00:00:00Z"}, ["body", "interval"]),
        ({"granularity": "PT7M"}, ["body", "granularity"]),
        ({"timeZone": "Mars/Olympus"}, ["body", "timeZone"]),
        ({"groupBy": ["nodeId", "shoeSize"]}, ["body", "groupBy", 1]),
        ({"metrics": ["nCompleted", "nHappy"]}, ["body", "metrics", 1]),
        (
            {
                "filter": {
                    "type": "and",
                    "predicates": [{"dimension": "colour", "operator": "matches", "value": 1}],
                }
            },
            ["body", "filter", "predicates", 0, "dimension"],
        ),
    ]
    async with api_client_for(None) as http:
        for override, loc in cases:
            response = await http.post(QUERY, json=body(**override))
            assert response.status_code == 422, (override, response.text)
            assert loc in [e["loc"] for e in response.json()["errors"]], (override, response.json())
    async with api_client_for(None, scopes=["journey:journey:view"]) as limited:
        assert (await limited.post(QUERY, json=body())).status_code == 403
