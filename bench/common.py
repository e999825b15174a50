"""What the scenarios share: a published journey with its customers, and starting enrollments."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from sqlalchemy import ColumnElement
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from temporalio.client import Client

from bench.stack import BenchStack
from domain.definition import JourneyDefinition
from domain.ids import enrollment_id, enrollment_workflow_id
from domain.payloads import EnrollmentInput
from plumbing.codec import data_converter
from services.journeys import JourneyService, NewJourney
from services.temporal import EnrollmentGateway, connect_client
from services.uow import UnitOfWork
from store.db import create_engine, create_session_factory
from store.repositories.customers import CustomerRepository
from store.repositories.enrollments import EnrollmentRepository

TENANT = "bench"


async def publish_journey(
    sessions: async_sessionmaker[AsyncSession],
    name: str,
    definition: dict[str, Any],
    customers: Sequence[tuple[str, dict[str, Any]]],
) -> tuple[str, JourneyDefinition]:
    parsed = JourneyDefinition.model_validate(definition)
    async with sessions() as session:
        uow = UnitOfWork(session)
        for start in range(0, len(customers), 1000):
            await CustomerRepository(session).add_many(TENANT, list(customers[start : start + 1000]))
        service = JourneyService(uow)
        row = (await service.create(TENANT, NewJourney(name, None, None, parsed))).row
        await service.publish(TENANT, row.id)
        await uow.commit()
    return str(row.id), parsed


def enrollment_input(
    journey_id: str, name: str, definition: JourneyDefinition, customer: str
) -> tuple[str, EnrollmentInput]:
    workflow_id = enrollment_workflow_id(TENANT, journey_id, customer, 1)
    payload = EnrollmentInput(
        tenant_id=TENANT,
        journey_id=journey_id,
        journey_name=name,
        version=1,
        customer_id=customer,
        enrollment_id=enrollment_id(TENANT, journey_id, customer, 1),
        enrolled_at=datetime.now(UTC),
        definition=definition,
    )
    return workflow_id, payload


async def run_all(
    label: str, items: Sequence[str], action: Callable[[str], Awaitable[None]], *, concurrency: int = 64
) -> float:
    """Run `action` for every item with bounded concurrency, showing progress; return seconds taken."""
    gate = asyncio.Semaphore(concurrency)
    loop = asyncio.get_running_loop()
    with Progress(
        TextColumn(f"[bold]{label}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), transient=True
    ) as progress:
        task = progress.add_task(label, total=len(items))

        async def one(item: str) -> None:
            async with gate:
                await action(item)
            progress.advance(task)

        started = loop.time()
        await asyncio.gather(*(one(item) for item in items))
        return loop.time() - started


def new_gateway(client: Client, task_queue: str) -> EnrollmentGateway:
    from services.temporal import TemporalConnection

    return EnrollmentGateway(TemporalConnection("", client.namespace, client=client), task_queue, "")


def run_id() -> str:
    return uuid.uuid4().hex[:6]


@dataclass
class BenchClients:
    """What a scenario talks to: the database, the Temporal client, the enrollment gateway."""

    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]
    client: Client
    gateway: EnrollmentGateway

    async def close(self) -> None:
        await self.engine.dispose()


async def connect(stack: BenchStack, console: Console) -> BenchClients:
    """Start the stack's worker and connect to what it runs on."""
    console.print(f"stack up: Temporal {stack.temporal.address}, worker pid {stack.start_worker()}")
    engine = create_engine(stack.database_url, pool_size=10)
    client = await connect_client(stack.temporal.address, "default", data_converter(stack.settings))
    gateway = new_gateway(client, stack.settings.temporal_task_queue)
    return BenchClients(engine, create_session_factory(engine), client, gateway)


async def start_all(
    bench: BenchClients, journey_id: str, name: str, definition: JourneyDefinition, customers: Sequence[str]
) -> float:
    """Start one enrollment per customer (100 starts in flight); the seconds it took."""

    async def start(customer: str) -> None:
        await bench.gateway.start(*enrollment_input(journey_id, name, definition, customer))

    return await run_all(f"starting {len(customers)} enrollments", customers, start, concurrency=100)


async def wait_for_projection(
    sessions: async_sessionmaker[AsyncSession], journey_id: str, condition: ColumnElement[bool], n: int
) -> None:
    """Poll the projection until `n` enrollments of the journey satisfy `condition` (e.g. asleep)."""
    async with asyncio.timeout(900):
        while True:
            async with sessions() as session:
                count = await EnrollmentRepository(session).count_where(uuid.UUID(journey_id), condition)
            if count >= n:
                return
            await asyncio.sleep(0.5)
