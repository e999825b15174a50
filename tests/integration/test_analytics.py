"""Analytics: the rollup the projection maintains equals a direct count; the endpoints built on it."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.testing import WorkflowEnvironment

from domain.interpreter import StepRecord
from domain.payloads import EnrollmentSnapshot, ProgressBatch
from store.repositories.enrollments import EnrollmentRepository
from store.repositories.journey_analytics import JourneyAnalyticsRepository
from store.repositories.rollups import GRAINS, HOURLY, RollupRepository
from store.rows import JourneyRow
from tests.conftest import ApiClientFor, RunWorker, result_skipping_time
from tests.support import enroll, handle_of, publish

T0 = datetime(2026, 3, 1, 10, 30, tzinfo=UTC)
NODES = (("start", "TRIGGER"), ("check", "CONDITION"), ("mail", "SEND"), ("split", "SPLIT"))
STATUSES = ("ACTIVE", "COMPLETED", "FAILED", "SKIPPED", "EXITED")


@st.composite
def step_records(draw: st.DrawFn) -> StepRecord:
    node_id, node_type = draw(st.sampled_from(NODES))
    status = draw(st.sampled_from(STATUSES))
    # A few hours on each of three days: cells shared within an hour and within a day.
    started = T0 + timedelta(days=draw(st.integers(0, 2)), minutes=draw(st.integers(0, 240)))
    closed = status != "ACTIVE"
    return StepRecord(
        node_id=node_id,
        node_type=node_type,
        name=node_id,
        visit=draw(st.integers(1, 2)),
        status=status,
        started_at=started,
        completed_at=started + timedelta(milliseconds=draw(st.integers(0, 90_000))) if closed else None,
        branch=draw(st.sampled_from((None, "yes", "no"))),
    )


# (enrollment index, version, steps) — or a replay of an earlier batch (enrollment index < 0 → replay).
batches = st.lists(
    st.tuples(st.integers(0, 2), st.integers(1, 2), st.lists(step_records(), max_size=4), st.integers(-1, 5)),
    min_size=1,
    max_size=10,
)


async def _journey(sessions: async_sessionmaker[AsyncSession], tenant: str) -> uuid.UUID:
    journey_id = uuid.uuid4()
    async with sessions() as session, session.begin():
        session.add(
            JourneyRow(id=journey_id, tenant_id=tenant, name="p", status="PUBLISHED", draft={}, version=2)
        )
    return journey_id


def _batch(
    tenant: str, journey_id: uuid.UUID, enrollment: uuid.UUID, version: int, steps: Any
) -> ProgressBatch:
    snapshot = EnrollmentSnapshot(
        tenant_id=tenant,
        enrollment_id=str(enrollment),
        journey_id=str(journey_id),
        version=version,
        customer_id=f"c-{enrollment}",
        entry_number=1,
        workflow_id=f"wf-{enrollment}",
        status="ACTIVE",
        converted=False,
        current_step_id=None,
        waiting_until=None,
        enrolled_at=T0,
        completed_at=None,
    )
    return ProgressBatch(enrollment=snapshot, steps=steps)


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    plan=batches,
    window=st.tuples(st.none() | st.integers(0, 80), st.none() | st.integers(1, 90)),
    version=st.sampled_from((None, 1, 2)),
)
async def test_rollup_equals_a_direct_count(
    sessions: async_sessionmaker[AsyncSession],
    plan: list[tuple[int, int, list[StepRecord], int]],
    window: tuple[int | None, int | None],
    version: int | None,
) -> None:
    """Both grains equal a GROUP BY over the step history after any batches, replays, status changes and
    version moves; and the journey report's per-node counts over any range of hours (read from whole days
    and the hours at the ends) equal the step rows that started in it."""
    tenant = f"t-{uuid.uuid4().hex[:8]}"
    journey_id = await _journey(sessions, tenant)
    enrollments = [uuid.uuid4() for _ in range(3)]
    applied: list[ProgressBatch] = []
    for index, version, steps, replay in plan:
        if 0 <= replay < len(applied):
            batch = applied[replay]  # an exact replay of an earlier batch
        else:
            batch = _batch(tenant, journey_id, enrollments[index], version, steps)
            applied.append(batch)
        async with sessions() as session, session.begin():
            await EnrollmentRepository(session).apply_progress(batch)

    async with sessions() as session:
        repo = RollupRepository(session)
        for grain in GRAINS:  # hourly and daily cells, each equal to a GROUP BY over the step history
            assert sorted(await repo.cells(tenant, grain)) == sorted(await repo.scan(tenant, grain)), (
                grain.name
            )
        steps = await repo.scan(tenant, HOURLY)
        midnight = T0.replace(hour=0, minute=0)
        low, high = (None if w is None else midnight + timedelta(hours=w) for w in window)
        reported = await JourneyAnalyticsRepository(session).node_status_counts(
            tenant, journey_id, version, low, high
        )
    expected: dict[tuple[str, str, str], int] = {}
    for _journey_id, v, node, node_type, hour, status, _branch, count, _ in steps:
        if (
            (version is None or v == version)
            and (low is None or hour >= low)
            and (high is None or hour < high)
        ):
            expected[(node, node_type, status)] = expected.get((node, node_type, status), 0) + count
    assert sorted(reported) == sorted((*key, count) for key, count in expected.items() if count)


BRANCHY = {
    "name": "Analytics",
    "nodes": [
        {"id": "start", "type": "TRIGGER"},
        {
            "id": "is-pro",
            "type": "CONDITION",
            "name": "Is pro?",
            "config": {"rules": [{"field": "plan", "operator": "eq", "value": "pro"}]},
        },
        {
            "id": "mail",
            "type": "SEND",
            "name": "Mail",
            "config": {"channel": "EMAIL", "subject": "Hi", "body": "x"},
        },
        {"id": "won", "type": "END"},
        {"id": "lost", "type": "EXIT"},
    ],
    "edges": [
        {"sourceNodeId": "start", "targetNodeId": "is-pro"},
        {"sourceNodeId": "is-pro", "targetNodeId": "mail", "label": "yes"},
        {"sourceNodeId": "is-pro", "targetNodeId": "lost", "label": "no"},
        {"sourceNodeId": "mail", "targetNodeId": "won"},
    ],
}


async def test_journey_analytics_after_an_engine_run(
    api_client_for: ApiClientFor, time_skipping_env: WorkflowEnvironment, run_worker: RunWorker
) -> None:
    client = time_skipping_env.client
    async with api_client_for(client) as http, run_worker(client):
        journey_id = await publish(http, BRANCHY)
        for customer, plan in (("p1", "pro"), ("p2", "pro"), ("f1", "free")):
            await enroll(http, journey_id, customer, plan=plan)
        for customer in ("p1", "p2", "f1"):
            await result_skipping_time(time_skipping_env, handle_of(client, journey_id, customer))
        response = await http.get(f"/v1/journeys/{journey_id}/analytics")
        assert response.status_code == 200, response.text
        body = response.json()
        missing = await http.get(f"/v1/journeys/{uuid.uuid4()}/analytics")
        backwards = await http.get(
            f"/v1/journeys/{journey_id}/analytics",
            params={"from": "2026-02-01T00:00:00Z", "to": "2026-01-01T00:00:00Z"},
        )
    nodes = {n["nodeId"]: n for n in body["nodes"]}
    assert nodes["start"]["entered"] == 3
    assert nodes["is-pro"]["entered"] == 3 and nodes["is-pro"]["completed"] == 3
    assert nodes["mail"]["entered"] == 2 and nodes["mail"]["sent"] == 2
    assert nodes["lost"]["entered"] == 1
    assert nodes["won"]["entered"] == 2
    assert {(b["nodeId"], b["label"]): b["count"] for b in body["branches"]} == {
        ("is-pro", "yes"): 2,
        ("is-pro", "no"): 1,
    }
    assert body["conversion"]["enrolled"] == 3
    # the A/B readout from the steps the engine recorded (the journey has no goal: nobody converts)
    readout = [
        (b["nodeId"], b["branch"], b["enrolled"], b["converted"]) for b in body["conversion"]["branches"]
    ]
    assert readout == [("is-pro", "yes", 2, 0), ("is-pro", "no", 1, 0)]
    assert body["conversion"]["branches"][0]["nodeName"] == "Is pro?"
    assert missing.status_code == 404
    assert backwards.status_code == 422 and backwards.json()["errors"][0]["loc"][-1] == "to"


async def test_seed_date_names_path_name_and_descriptions(api_client_for: ApiClientFor) -> None:
    """Seed 000's fromDate/toDate work as from/to (different values under both names: a 422 naming
    them); the path parameter is journeyId; every analytics operation is described, with examples."""
    async with api_client_for(None) as http:
        journey_id = await publish(http, BRANCHY)
        url = f"/v1/journeys/{journey_id}/analytics"
        ours = await http.get(url, params={"from": "2026-01-01T00:30:00Z", "to": "2026-02-01T00:00:00Z"})
        seeds = await http.get(
            url, params={"fromDate": "2026-01-01T00:30:00.000Z", "toDate": "2026-02-01T00:00:00.000Z"}
        )
        both_equal = await http.get(
            url, params={"from": "2026-01-01T00:30:00Z", "fromDate": "2026-01-01T01:30:00+01:00"}
        )
        conflict = await http.get(
            url,
            params={
                "from": "2026-01-01T00:00:00Z",
                "fromDate": "2026-01-02T00:00:00Z",
                "to": "2026-02-01T00:00:00Z",
                "toDate": "2026-03-01T00:00:00Z",
            },
        )
        document = (await http.get("/openapi.json")).json()
    assert ours.status_code == seeds.status_code == both_equal.status_code == 200, (ours.text, seeds.text)
    assert (ours.json()["from"], ours.json()["to"]) == (seeds.json()["from"], seeds.json()["to"])
    assert ours.json()["from"].startswith("2026-01-01T00:00:00")  # floored to the hour
    assert both_equal.json()["from"] == ours.json()["from"]
    assert conflict.status_code == 422, conflict.text
    issues = {tuple(e["loc"]): e["msg"] for e in conflict.json()["errors"]}
    assert set(issues) == {("query", "fromDate"), ("query", "toDate")}
    assert (
        "fromDate and from" in issues[("query", "fromDate")]
        and "toDate and to" in issues[("query", "toDate")]
    )

    operation = document["paths"]["/v1/journeys/{journeyId}/analytics"]["get"]
    assert {p["name"] for p in operation["parameters"]} == {
        "journeyId",
        "version",
        "from",
        "to",
        "fromDate",
        "toDate",
    }
    aggregates = document["paths"]["/v1/analytics/journeys/aggregates/query"]["post"]
    for described in (operation, aggregates):
        assert len(described.get("description", "")) > 200
    schemas = document["components"]["schemas"]
    for model in ("AggregateQueryIn", "AggregatesOut", "JourneyAnalyticsOut"):
        assert schemas[model].get("examples"), model
    assert "nStepsCompleted" in aggregates["description"] and "nCompleted" in aggregates["description"]
