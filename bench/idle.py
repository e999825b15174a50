"""`journeys bench idle --n N`: N enrollments asleep in a long WAIT; the worker's memory, printed."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from rich.console import Console

from bench.common import connect, publish_journey, run_id, start_all, wait_for_projection
from bench.stack import bench_stack
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
        bench = await connect(stack, console)
        sessions = bench.sessions
        tag = run_id()
        customers = [f"s{tag}-{i}" for i in range(n)]
        journey_id, definition = await publish_journey(
            sessions, "Sleepers", SLEEPER, [(c, {}) for c in customers]
        )
        await asyncio.sleep(2)
        baseline, _ = stack.worker_memory_mib()

        seconds = await start_all(bench, journey_id, "Sleepers", definition, customers)
        # Asleep = its projection shows the wait (it writes before a long wait).
        await wait_for_projection(sessions, journey_id, EnrollmentRow.waiting_until.is_not(None), n)
        await asyncio.sleep(3)
        idle, peak = stack.worker_memory_mib()
        await bench.close()
        return IdleFigures(n, seconds, baseline, idle, peak)


def print_idle(figures: IdleFigures, console: Console) -> None:
    console.print(
        f"{figures.n} enrollments asleep in a 30-day WAIT (started in {figures.start_seconds:.1f} s)"
    )
    console.print(
        f"worker RSS: {figures.baseline_rss_mib:.0f} MiB before → {figures.idle_rss_mib:.0f} MiB "
        f"with all asleep (peak {figures.peak_rss_mib:.0f} MiB)"
    )
