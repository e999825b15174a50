"""`journeys bench idle --n N`: N enrollments asleep in a long WAIT; the worker's memory, printed."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from rich.console import Console
from sqlalchemy import func, select

from bench.common import enrollment_input, new_gateway, publish_journey, run_all, run_id
from bench.stack import bench_stack
from journeys.codec import data_converter
from services.temporal import connect_client
from store.db import create_engine, create_session_factory
from store.rows import EnrollmentRow

SLEEPER = {
    "nodes": [
        {"id": "start", "type": "TRIGGER"},
        {"id": "nap", "type": "WAIT", "name": "Thirty days", "config": {"duration": "30 days"}},
        {"id": "end", "type": "EXIT"},
    ],
    "edges": [
        {"sourceNodeId": "start", "targetNodeId": "nap"},
        {"sourceNodeId": "nap", "targetNodeId": "end"},
    ],
}


@dataclass(frozen=True)
class IdleFigures:
    n: int
    start_seconds: float
    baseline_rss_mib: float
    idle_rss_mib: float
    peak_rss_mib: float


async def run_idle_bench(n: int, console: Console) -> IdleFigures:
    with bench_stack() as stack:
        console.print(f"stack up: Temporal {stack.temporal.address}, worker pid {stack.start_worker()}")
        engine = create_engine(stack.database_url, pool_size=10)
        sessions = create_session_factory(engine)
        client = await connect_client(stack.temporal.address, "default", data_converter(stack.settings))
        gateway = new_gateway(client, stack.settings.temporal_task_queue)
        tag = run_id()
        customers = [f"s{tag}-{i}" for i in range(n)]
        journey_id, definition = await publish_journey(
            sessions, "Sleepers", SLEEPER, [(c, {}) for c in customers]
        )
        await asyncio.sleep(2)
        baseline, _ = stack.worker_memory_mib()

        async def start(customer: str) -> None:
            await gateway.start(*enrollment_input(journey_id, "Sleepers", definition, customer))

        seconds = await run_all("starting sleepers", customers, start, concurrency=100)
        # Asleep = its projection shows the wait (it writes before a long wait).
        async with asyncio.timeout(600):
            while True:
                async with sessions() as session:
                    waiting = await session.scalar(
                        select(func.count()).where(EnrollmentRow.waiting_until.is_not(None))
                    )
                if (waiting or 0) >= n:
                    break
                await asyncio.sleep(1)
        await asyncio.sleep(3)
        idle, peak = stack.worker_memory_mib()
        await engine.dispose()
        return IdleFigures(n, seconds, baseline, idle, peak)


def print_idle(figures: IdleFigures, console: Console) -> None:
    console.print(
        f"{figures.n} enrollments asleep in a 30-day WAIT (started in {figures.start_seconds:.1f} s)"
    )
    console.print(
        f"worker RSS: {figures.baseline_rss_mib:.0f} MiB before → {figures.idle_rss_mib:.0f} MiB "
        f"with all asleep (peak {figures.peak_rss_mib:.0f} MiB)"
    )
