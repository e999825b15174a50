"""`journeys bench analytics --rows N`: N step records loaded in bulk, then the aggregates query
(nStepsCompleted by journey and node over 30 days in Europe/Paris) daily, weekly and monthly, each against
computing the same answer by scanning the step history; the answers are compared cell by cell."""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Literal

from rich.console import Console

from bench.stack import bench_stack
from services.aggregates import AggregateRequest, AggregateResult, AggregatesService
from services.uow import UnitOfWork
from store.db import create_engine, create_session_factory
from store.repositories.synthetic import STEPS_PER_ENROLLMENT, SyntheticRepository

TENANT = "bench"
START = datetime(2026, 1, 1, tzinfo=UTC)
DAYS = 30
ZONE = "Europe/Paris"
REPEATS = 5
TARGET = 50
GRANULARITIES: tuple[tuple[str, str, Literal["day", "week", "month"]], ...] = (
    ("daily", "P1D", "day"),
    ("weekly", "P7D", "week"),
    ("monthly", "P1M", "month"),
)
Cells = dict[tuple[str, str, datetime], int]


@dataclass(frozen=True)
class Timing:
    name: str
    query_seconds: float
    scan_seconds: float
    cells: int
    equal: bool

    @property
    def ratio(self) -> float:
        return self.scan_seconds / self.query_seconds


@dataclass(frozen=True)
class AnalyticsFigures:
    rows: int
    load_seconds: float
    timings: list[Timing]
    enrollment_query_seconds: float
    enrollments: int

    @property
    def ratio(self) -> float:
        """The lowest of the granularities: each is at least this much faster than the scan."""
        return min(t.ratio for t in self.timings)

    @property
    def equal(self) -> bool:
        return all(t.equal for t in self.timings)


def _answer_cells(results: list[AggregateResult]) -> Cells:
    """(journey, node, local bucket start as a wall clock) → count, as the scan keys its rows."""
    cells: Cells = {}
    for result in results:
        for bucket in result.data:
            local = datetime.fromisoformat(bucket.interval.split("/")[0]).replace(tzinfo=None)
            key = (str(result.group["journeyId"]), str(result.group["nodeId"]), local)
            cells[key] = cells.get(key, 0) + sum(m.count for m in bucket.metrics)
    return cells


async def run_analytics_bench(rows: int, console: Console) -> AnalyticsFigures:
    with bench_stack() as stack:
        engine = create_engine(stack.database_url, pool_size=4)
        sessions = create_session_factory(engine)
        journeys = [uuid.uuid4() for _ in range(10)]
        loaded = time.perf_counter()
        with console.status(f"loading {rows:,} step records and their rollups"):
            async with sessions() as session, session.begin():
                synthetic = SyntheticRepository(session)
                await synthetic.load_steps(TENANT, journeys, rows, START)
                await synthetic.rebuild_rollups(TENANT)
        load_seconds = time.perf_counter() - loaded
        end = START + timedelta(days=DAYS)
        interval = f"{START.isoformat()}/{end.isoformat()}"
        timings = []
        for name, granularity, unit in GRANULARITIES:
            request = AggregateRequest(
                interval=interval,
                granularity=granularity,
                time_zone=ZONE,
                group_by=["journeyId", "nodeId"],
                filter=None,
                metrics=["nStepsCompleted"],
            )
            query_seconds, scan_seconds = float("inf"), float("inf")
            with console.status(f"{name}: aggregates query and scan, best of {REPEATS}"):
                # Best of N for both, same warm cache; each timed in an open transaction (the pool's
                # checkout ping and BEGIN, round trips any request pays, left out of both).
                for _ in range(REPEATS):
                    async with sessions() as session:
                        await session.connection()
                        started = time.perf_counter()
                        results = await AggregatesService(UnitOfWork(session)).query(TENANT, request)
                        query_seconds = min(query_seconds, time.perf_counter() - started)
                    async with sessions() as session:
                        await session.connection()
                        started = time.perf_counter()
                        scanned = await SyntheticRepository(session).scan_completed(
                            TENANT, START, end, unit, ZONE
                        )
                        scan_seconds = min(scan_seconds, time.perf_counter() - started)
            answer = _answer_cells(results)
            expected = {(str(j), n, b): c for j, n, b, c in scanned}
            timings.append(Timing(name, query_seconds, scan_seconds, len(expected), answer == expected))
        # The enrollment metric, for reference: one row per enrollment, read from the enrollments table.
        enrollment_request = AggregateRequest(
            interval=interval, granularity="P1D", time_zone=ZONE, group_by=["journeyId"], filter=None,
            metrics=["nCompleted"],
        )  # fmt: skip
        enrollment_seconds = float("inf")
        for _ in range(REPEATS):
            async with sessions() as session:
                await session.connection()
                started = time.perf_counter()
                await AggregatesService(UnitOfWork(session)).query(TENANT, enrollment_request)
                enrollment_seconds = min(enrollment_seconds, time.perf_counter() - started)
        await engine.dispose()
        return AnalyticsFigures(rows, load_seconds, timings, enrollment_seconds, rows // STEPS_PER_ENROLLMENT)


def print_analytics(figures: AnalyticsFigures, console: Console) -> None:
    console.print(f"{figures.rows:,} step records loaded in {figures.load_seconds:.1f} s")
    console.print(f"nStepsCompleted by journey × node, {DAYS} days, {ZONE}:")
    console.print(f"aggregates query vs a full scan of the step history, best of {REPEATS} each,")
    console.print("each in an open transaction")
    for t in figures.timings:
        verdict = "equal" if t.equal else "[red]DIFFER[/red]"
        console.print(
            f"  {t.name:<8}{t.query_seconds * 1000:7.1f} ms vs {t.scan_seconds * 1000:7.1f} ms"
            f"{t.ratio:8.1f}×   {t.cells:,} cells {verdict}"
        )
    console.print(
        f"nCompleted (enrollments) by journey, daily: {figures.enrollment_query_seconds * 1000:.1f} ms "
        f"({figures.enrollments:,} rows)"
    )
    console.print(f"ratio scan/query = {figures.ratio:.1f}×", markup=False, highlight=False)
    verdict = "[green]meets[/green]" if figures.ratio >= TARGET else "[red]misses[/red]"
    console.print(
        f"(the lowest of the three: {verdict} the ≥ {TARGET}× target); answers equal: {figures.equal}"
    )
