"""The aggregates query: enrollment metrics count enrollments whatever the grouping; step metrics from
the rollups equal a GROUP BY over the step history for any interval, granularity and time zone; local-time
buckets across a DST change; filters; 422s naming the field."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from domain.interpreter import StepRecord
from domain.payloads import EnrollmentSnapshot, ProgressBatch
from services.aggregates import AggregateRequest, AggregatesService, FilterSpec, PredicateSpec
from services.uow import UnitOfWork
from store.repositories.aggregates import METRICS
from store.repositories.enrollments import EnrollmentRepository
from store.rows import JourneyVersionRow
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
        "metrics": ["nStepsCompleted", "oStepDuration"],
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
    assert dst_day["nStepsCompleted"]["count"] == 2, "both steps of the 23-hour local day, not the UTC day"
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
        (
            {"filter": {"type": "and", "predicates": [{"dimension": "version", "value": "two"}]}},
            ["body", "filter", "predicates", 0, "value"],
        ),
        (
            {"filter": {"type": "and", "predicates": [{"dimension": "nodeId", "range": {"near": "a"}}]}},
            ["body", "filter", "predicates", 0, "range", "near"],
        ),
    ]
    async with api_client_for(None) as http:
        for override, loc in cases:
            response = await http.post(QUERY, json=body(**override))
            assert response.status_code == 422, (override, response.text)
            assert loc in [e["loc"] for e in response.json()["errors"]], (override, response.json())
    async with api_client_for(None, scopes=["journey:journey:view"]) as limited:
        assert (await limited.post(QUERY, json=body())).status_code == 403


# ---- enrollment metrics count enrollments --------------------------------------------------------------

ENTERED = datetime(2026, 5, 4, 9, 0, tzinfo=UTC)
FLOW = {
    "nodes": [
        {"id": "start", "type": "TRIGGER"},
        {"id": "a", "type": "SEND"},
        {"id": "b", "type": "SEND"},
        {"id": "done", "type": "END"},
    ],
    "edges": [],
}


def enrollment(
    tenant: str,
    journey_id: uuid.UUID,
    n: int,
    path: list[str],
    status: str,
    steps_status: str = "COMPLETED",
) -> ProgressBatch:
    """An enrollment that walked `path` (one completed step a minute) and is now `status` at its end."""
    at = ENTERED + timedelta(hours=n)
    steps = [
        StepRecord(
            node_id=node,
            node_type=next(x["type"] for x in FLOW["nodes"] if x["id"] == node),
            name=node,
            visit=1,
            status=steps_status if i == len(path) - 1 else "COMPLETED",
            started_at=at + timedelta(minutes=i),
            completed_at=at + timedelta(minutes=i + 1) if status != "ACTIVE" or i < len(path) - 1 else None,
        )
        for i, node in enumerate(path)
    ]
    ended = at + timedelta(minutes=len(path)) if status != "ACTIVE" else None
    snapshot = EnrollmentSnapshot(
        tenant_id=tenant,
        enrollment_id=str(uuid.uuid4()),
        journey_id=str(journey_id),
        version=2,
        customer_id=f"c-{n}",
        entry_number=1,
        workflow_id=f"wf-{n}",
        status=status,
        converted=n % 3 == 0,
        current_step_id=path[-1],
        waiting_until=None,
        enrolled_at=at,
        completed_at=ended,
        converted_at=at + timedelta(minutes=2) if n % 3 == 0 else None,
    )
    return ProgressBatch(enrollment=snapshot, steps=steps)


async def test_enrollment_metrics_count_enrollments_whatever_the_grouping(
    api_client_for: ApiClientFor, sessions: async_sessionmaker[AsyncSession]
) -> None:
    journey_id = await _journey(sessions, "acme")
    full = ["start", "a", "b", "done"]
    plans = [
        *[(full, "COMPLETED", "COMPLETED")] * 4,  # 4 completed at the END, four steps each
        *[(["start", "a", "b"], "COMPLETED", "COMPLETED")] * 2,  # 2 completed at b (no way on)
        (["start", "a"], "EXITED", "EXITED"),
        (["start", "a"], "ACTIVE", "ACTIVE"),
    ]
    async with sessions() as session, session.begin():
        session.add(
            JourneyVersionRow(
                journey_id=journey_id, version=2, tenant_id="acme", definition=FLOW, published_at=ENTERED
            )
        )
        for n, (path, status, last) in enumerate(plans):
            await EnrollmentRepository(session).apply_progress(
                enrollment("acme", journey_id, n, path, status, last)
            )

    async def ask(
        group_by: list[str], metrics: list[str], **more: Any
    ) -> dict[tuple[Any, ...], dict[str, int]]:
        request = {
            "interval": "2026-05-01T00:00:00Z/2026-06-01T00:00:00Z",
            "groupBy": group_by,
            "metrics": metrics,
            **more,
        }
        async with api_client_for(None) as http:
            response = await http.post(QUERY, json=request)
        assert response.status_code == 200, response.text
        answer: dict[tuple[Any, ...], dict[str, int]] = {}
        for result in response.json()["results"]:
            key = tuple(result["group"].get(name) for name in group_by)
            for bucket in result["data"]:
                for m in bucket["metrics"]:
                    answer.setdefault(key, {})
                    answer[key][m["metric"]] = answer[key].get(m["metric"], 0) + m["stats"]["count"]
        return answer

    metrics = ["nEnrolled", "nCompleted", "nExited", "nFailed", "nConverted", "nStepsCompleted"]
    by_journey = await ask(["journeyId"], metrics)
    assert by_journey == {
        (str(journey_id),): {
            "nEnrolled": 8,
            "nCompleted": 6,  # enrollments, not the 22 completed steps of those six
            "nExited": 1,
            "nConverted": 3,
            "nStepsCompleted": 4 * 4 + 2 * 3 + 1 + 1,
        }
    }
    # Daily buckets change nothing: every one of them still counts enrollments.
    daily = await ask(["journeyId"], ["nCompleted"], granularity="P1D", timeZone="Europe/Paris")
    assert daily[(str(journey_id),)]["nCompleted"] == 6
    # By node: where each enrollment ended, or for nEnrolled the TRIGGER it entered by.
    by_node = await ask(["nodeId"], ["nEnrolled", "nCompleted", "nExited"])
    assert by_node == {
        ("start",): {"nEnrolled": 8},
        ("done",): {"nCompleted": 4},
        ("b",): {"nCompleted": 2},
        ("a",): {"nExited": 1},
    }
    by_type = await ask(["nodeType"], ["nEnrolled", "nCompleted"])
    assert by_type == {
        ("TRIGGER",): {"nEnrolled": 8},
        ("END",): {"nCompleted": 4},
        ("SEND",): {"nCompleted": 2},
    }

    def this(version: int) -> dict[str, Any]:
        return {
            "type": "and",
            "predicates": [
                {"dimension": "journeyId", "value": str(journey_id)},
                {"dimension": "version", "value": version},
            ],
        }

    assert await ask(["journeyId"], ["nCompleted"], filter=this(2)) == {(str(journey_id),): {"nCompleted": 6}}
    assert await ask(["journeyId"], ["nCompleted"], filter=this(1)) == {}
    only_end = {"type": "and", "predicates": [{"dimension": "nodeType", "value": "END"}]}
    assert await ask(["journeyId"], ["nCompleted"], filter=only_end) == {
        (str(journey_id),): {"nCompleted": 4}
    }


# ---- step metrics equal a GROUP BY over the step history ----------------------------------------------

BASE = datetime(2026, 10, 24, tzinfo=UTC)  # autumn DST ends in Europe on the 25th, in New York on Nov 1
ZONES = ("UTC", "Europe/Paris", "America/New_York", "Asia/Kolkata", "Australia/Adelaide", "Pacific/Chatham")
GRANULARITY_UNITS = {None: None, "PT1H": "hour", "P1D": "day", "P7D": "week", "P1M": "month"}
SPAN_MINUTES = 9 * 24 * 60  # steps an hour or two apart: most hours at the ends of a bucket hold some


@st.composite
def step_plans(draw: st.DrawFn) -> list[tuple[str, int, datetime, int | None, str]]:
    """(node, enrollment index, started, duration ms or None while open, final status), each step once."""
    plan = []
    for node in ("a", "b", "c"):
        for index in range(draw(st.integers(0, 30))):
            started = BASE + timedelta(
                minutes=draw(st.integers(0, SPAN_MINUTES)), seconds=draw(st.integers(0, 59))
            )
            status = draw(st.sampled_from(("COMPLETED", "COMPLETED", "FAILED", "EXITED", "ACTIVE")))
            duration = None if status == "ACTIVE" else draw(st.integers(0, 600_000))
            plan.append((node, index, started, duration, status))
    return plan


@st.composite
def intervals(draw: st.DrawFn) -> tuple[datetime, datetime]:
    start = BASE + timedelta(minutes=draw(st.integers(-24 * 60, SPAN_MINUTES)))
    if draw(st.booleans()):
        start = start.replace(minute=0)  # often on the hour, sometimes not
    length = timedelta(minutes=draw(st.integers(60, 20 * 24 * 60)))
    return start, start + length


def _merge(into: dict[Any, list[int | None]], key: Any, count: int, total: int, low: Any, high: Any) -> None:
    cell = into.setdefault(key, [0, 0, None, None])
    cell[0] = int(cell[0] or 0) + count
    cell[1] = int(cell[1] or 0) + total
    if low is not None:
        cell[2] = low if cell[2] is None else min(int(cell[2]), low)
    if high is not None:
        cell[3] = high if cell[3] is None else max(int(cell[3]), high)


SCAN = """
SELECT s.node_id,
       {bucket} AS bucket,
       count(*) AS entered,
       count(*) FILTER (WHERE s.status = 'COMPLETED') AS completed,
       count(s.completed_at) AS closed,
       coalesce(sum(floor(extract(epoch FROM s.completed_at - s.started_at) * 1000)), 0)::bigint AS total,
       min(floor(extract(epoch FROM s.completed_at - s.started_at) * 1000))::bigint AS low,
       max(floor(extract(epoch FROM s.completed_at - s.started_at) * 1000))::bigint AS high
FROM enrollment_steps s JOIN enrollments e ON e.id = s.enrollment_id
WHERE s.tenant_id = :tenant
  AND date_trunc('hour', s.started_at, 'UTC') >= :start AND date_trunc('hour', s.started_at, 'UTC') < :end
  AND (CAST(:only AS text) IS NULL OR s.node_id = :only)
GROUP BY 1, 2
"""


@settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    plan=step_plans(),
    interval=intervals(),
    granularity=st.sampled_from(list(GRANULARITY_UNITS)),
    zone=st.sampled_from(ZONES),
    only=st.sampled_from((None, "a", "b")),
)
async def test_step_metrics_equal_a_group_by_over_the_step_history(
    sessions: async_sessionmaker[AsyncSession],
    plan: list[tuple[str, int, datetime, int | None, str]],
    interval: tuple[datetime, datetime],
    granularity: str | None,
    zone: str,
    only: str | None,
) -> None:
    """The answer read from hourly and daily cells (days whole, ends by the hour, some taken back out)
    equals counting the step rows, each in the local bucket of the UTC hour it started in; with or
    without a filter (statements are reused across examples: only the values change)."""
    tenant = f"t-{uuid.uuid4().hex[:8]}"
    journey_id = await _journey(sessions, tenant)
    enrollments = [uuid.uuid4() for _ in range(30)]
    async with sessions() as session, session.begin():
        repo = EnrollmentRepository(session)
        for node, index, started, duration, status in plan:
            open_step = StepRecord(
                node_id=node, node_type="SEND", name=node, visit=1, status="ACTIVE", started_at=started
            )
            await repo.apply_progress(_batch(tenant, journey_id, enrollments[index], 2, [open_step]))
            if status != "ACTIVE":  # then closed, as the engine writes a step: entered, later left
                assert duration is not None
                closed = open_step.model_copy(
                    update={"status": status, "completed_at": started + timedelta(milliseconds=duration)}
                )
                await repo.apply_progress(_batch(tenant, journey_id, enrollments[index], 2, [closed]))

    start, end = interval
    unit = GRANULARITY_UNITS[granularity]
    request = AggregateRequest(
        interval=f"{start.isoformat()}/{end.isoformat()}",
        granularity=granularity,
        time_zone=zone,
        group_by=["nodeId"],
        filter=None
        if only is None
        else FilterSpec("and", [PredicateSpec("nodeId", "matches", only, None)], []),
        metrics=["nStepsEntered", "nStepsCompleted", "oStepDuration"],
    )
    async with sessions() as session:
        results = await AggregatesService(UnitOfWork(session)).query(tenant, request)
        bucket = (
            "CAST(NULL AS timestamp)"
            if unit is None
            else f"date_trunc('{unit}', timezone(:zone, date_trunc('hour', s.started_at, 'UTC')))"
        )
        scanned = (
            await session.execute(
                text(SCAN.format(bucket=bucket)),
                {"tenant": tenant, "start": start, "end": end, "zone": zone, "only": only},
            )
        ).all()

    # Both sides keyed by the bucket's local start as a wall clock (an autumn hour that happens twice is
    # one wall-clock hour to date_trunc: merged on both sides).
    answer: dict[tuple[str, str, datetime | None], list[int | None]] = {}
    for result in results:
        node = str(result.group["nodeId"])
        for b in result.data:
            local = (
                None
                if unit is None
                else datetime.fromisoformat(b.interval.split("/")[0]).replace(tzinfo=None)
            )
            for m in b.metrics:
                _merge(answer, (m.metric, node, local), m.count, m.sum or 0, m.min, m.max)
    expected: dict[tuple[str, str, datetime | None], list[int | None]] = {}
    for node, local, entered, completed, closed, total, low, high in scanned:
        _merge(expected, ("nStepsEntered", node, local), entered, 0, None, None)
        _merge(expected, ("nStepsCompleted", node, local), completed, 0, None, None)
        _merge(expected, ("oStepDuration", node, local), closed, total, low, high)
    expected = {key: cell for key, cell in expected.items() if cell[0]}  # empty buckets are left out
    assert answer == expected


def test_every_metric_is_in_the_one_table_of_docs_analytics() -> None:
    """docs/analytics.md defines every metric the query language has, in its one table of metrics."""
    text_ = (Path(__file__).resolve().parents[2] / "docs" / "analytics.md").read_text()
    table = text_.split("## Every metric", 1)[1].split("\n## ", 1)[0]
    rows = {line.split("|")[1].strip(" `") for line in table.splitlines() if line.startswith("| `")}
    assert set(METRICS) <= rows
