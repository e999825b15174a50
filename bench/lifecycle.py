"""`journeys bench lifecycle --n N`: how long a lifecycle change takes to reach N in-flight enrollments.

N enrollments sleep in a long WAIT; then pause (mode all) is timed until the JourneyControlWorkflow has
signalled every one, and archive until every enrollment has exited (its projection says EXITED)."""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass

from rich.console import Console

from bench.common import TENANT, connect, publish_journey, run_id, start_all, wait_for_projection
from bench.idle import SLEEPER
from bench.stack import bench_stack
from domain.lifecycle import LifecycleAction
from services.journeys import JourneyService
from services.uow import UnitOfWork
from store.rows import EnrollmentRow


@dataclass(frozen=True)
class LifecycleFigures:
    n: int
    pause_seconds: float
    archive_seconds: float


async def run_lifecycle_bench(n: int, console: Console) -> LifecycleFigures:
    with bench_stack() as stack:
        bench = await connect(stack, console)
        sessions, client, gateway = bench.sessions, bench.client, bench.gateway
        customers = [f"l{run_id()}-{i}" for i in range(n)]
        journey_id, definition = await publish_journey(
            sessions, "Lifecycle", SLEEPER, [(c, {}) for c in customers]
        )

        await start_all(bench, journey_id, "Lifecycle", definition, customers)
        await wait_for_projection(sessions, journey_id, EnrollmentRow.waiting_until.is_not(None), n)

        async def change(action: LifecycleAction) -> float:
            loop = asyncio.get_running_loop()
            started = loop.time()
            async with sessions() as session:
                uow = UnitOfWork(session)
                await JourneyService(uow, gateway).transition(TENANT, uuid.UUID(journey_id), action)
                await uow.commit()
            return started

        started = await change("pause")
        await client.get_workflow_handle(f"journey-control:{TENANT}:{journey_id}").result()
        pause_seconds = asyncio.get_running_loop().time() - started

        started = await change("archive")
        await wait_for_projection(sessions, journey_id, EnrollmentRow.status == "EXITED", n)
        archive_seconds = asyncio.get_running_loop().time() - started
        await bench.close()
        return LifecycleFigures(n, pause_seconds, archive_seconds)


def print_lifecycle(figures: LifecycleFigures, console: Console) -> None:
    console.print(f"{figures.n} in-flight enrollments")
    console.print(f"pause (mode all): every enrollment signalled after {figures.pause_seconds:.1f} s")
    console.print(f"archive: every enrollment EXITED (projection) after {figures.archive_seconds:.1f} s")
