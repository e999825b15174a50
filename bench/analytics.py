"""`journeys bench analytics --rows N`: N step records loaded in bulk, then a representative aggregates
query (nCompleted by journey and node, daily, 30 days) against a full scan of the step history."""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from rich.console import Console

from bench.stack import bench_stack
from services.aggregates import AggregateRequest, AggregatesService
from services.uow import UnitOfWork
from store.db import create_engine, create_session_factory
from store.repositories.synthetic import SyntheticRepository

TENANT = "bench"
START = datetime(2026, 1, 1, tzinfo=UTC)
ZONE = "Europe/Paris"
REPEATS = 3


@dataclass(frozen=True)
class AnalyticsFigures:
    rows: int
    load_seconds: float
    query_seconds: float
    scan_seconds: float
    cells_equal: bool

    @property
    def ratio(self) -> float:
        return self.scan_seconds / self.query_seconds


async def run_analytics_bench(rows: int, console: Console) -> AnalyticsFigures:
    with bench_stack() as stack:
        engine = create_engine(stack.database_url, pool_size=4)
        sessions = create_session_factory(engine)
        journeys = [uuid.uuid4() for _ in range(10)]
        loaded = time.perf_counter()
        with console.status(f"loading {rows:,} step records and their rollup"):
            async with sessions() as session, session.begin():
                synthetic = SyntheticRepository(session)
                await synthetic.load_steps(TENANT, journeys, rows, START)
                await synthetic.rebuild_rollups(TENANT)
        load_seconds = time.perf_counter() - loaded
        request = AggregateRequest(
            interval=f"{START.isoformat()}/{(START + timedelta(days=30)).isoformat()}",
            granularity="P1D",
            time_zone=ZONE,
            group_by=["journeyId", "nodeId"],
            filter=None,
            metrics=["nCompleted"],
        )
        query_seconds, scan_seconds = float("inf"), float("inf")
        for _ in range(REPEATS):  # best of three for both, same warm cache
            async with sessions() as session:
                started = time.perf_counter()
                results = await AggregatesService(UnitOfWork(session)).query(TENANT, request)
                query_seconds = min(query_seconds, time.perf_counter() - started)
            async with sessions() as session:
                started = time.perf_counter()
                scanned = await SyntheticRepository(session).scan_daily_completed(
                    TENANT, START, START + timedelta(days=30), ZONE
                )
                scan_seconds = min(scan_seconds, time.perf_counter() - started)
        query_total = sum(m.count for r in results for b in r.data for m in b.metrics)
        scan_total = sum(count for *_, count in scanned)
        await engine.dispose()
        return AnalyticsFigures(rows, load_seconds, query_seconds, scan_seconds, query_total == scan_total)


def print_analytics(figures: AnalyticsFigures, console: Console) -> None:
    console.print(f"{figures.rows:,} step records loaded in {figures.load_seconds:.1f} s")
    console.print(
        "aggregates query (nCompleted by journey × node, daily, 30 days): "
        f"{figures.query_seconds * 1000:.0f} ms"
    )
    console.print(f"full scan of the step history for the same answer: {figures.scan_seconds * 1000:.0f} ms")
    verdict = "[green]meets[/green]" if figures.ratio >= 10 else "[red]misses[/red]"
    console.print(
        f"ratio scan/query = [bold]{figures.ratio:.1f}×[/bold] ({verdict} the ≥ 10× target); "
        f"totals equal: {figures.cells_equal}"
    )
