"""`journeys bench lifecycle --n N`: how long a lifecycle change takes to reach N in-flight enrollments.

N enrollments sleep in a long WAIT; then pause (mode all) is timed until the JourneyControlWorkflow has
signalled every one, and archive until every enrollment has exited (its projection says EXITED)."""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass

from rich.console import Console
from sqlalchemy import ColumnElement, func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bench.common import TENANT, enrollment_input, new_gateway, publish_journey, run_all, run_id
from bench.idle import SLEEPER
from bench.stack import bench_stack
from domain.lifecycle import LifecycleAction
from journeys.codec import data_converter
from services.journeys import JourneyService
from services.temporal import connect_client
from services.uow import UnitOfWork
from store.db import create_engine, create_session_factory
from store.rows import EnrollmentRow


@dataclass(frozen=True)
class LifecycleFigures:
    n: int
    pause_seconds: float
    archive_seconds: float


async def run_lifecycle_bench(n: int, console: Console) -> LifecycleFigures:
    with bench_stack() as stack:
        console.print(f"stack up: Temporal {stack.temporal.address}, worker pid {stack.start_worker()}")
        engine = create_engine(stack.database_url, pool_size=10)
        sessions = create_session_factory(engine)
        client = await connect_client(stack.temporal.address, "default", data_converter(stack.settings))
        gateway = new_gateway(client, stack.settings.temporal_task_queue)
        customers = [f"l{run_id()}-{i}" for i in range(n)]
        journey_id, definition = await publish_journey(
            sessions, "Lifecycle", SLEEPER, [(c, {}) for c in customers]
        )

        async def start(customer: str) -> None:
            await gateway.start(*enrollment_input(journey_id, "Lifecycle", definition, customer))

        await run_all("starting enrollments", customers, start, concurrency=100)
        await _until(sessions, journey_id, EnrollmentRow.waiting_until.is_not(None), n)

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
        await _until(sessions, journey_id, EnrollmentRow.status == "EXITED", n)
        archive_seconds = asyncio.get_running_loop().time() - started
        await engine.dispose()
        return LifecycleFigures(n, pause_seconds, archive_seconds)


async def _until(
    sessions: async_sessionmaker[AsyncSession], journey_id: str, condition: ColumnElement[bool], n: int
) -> None:
    """Poll the projection until `n` enrollments of the journey satisfy `condition`."""
    async with asyncio.timeout(900):
        while True:
            async with sessions() as session:
                count = await session.scalar(
                    select(func.count()).where(EnrollmentRow.journey_id == uuid.UUID(journey_id), condition)
                )
            if (count or 0) >= n:
                return
            await asyncio.sleep(0.2)


def print_lifecycle(figures: LifecycleFigures, console: Console) -> None:
    console.print(f"{figures.n} in-flight enrollments")
    console.print(f"pause (mode all): every enrollment signalled after {figures.pause_seconds:.1f} s")
    console.print(f"archive: every enrollment EXITED (projection) after {figures.archive_seconds:.1f} s")
