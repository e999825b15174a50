"""What the scenarios share: a published journey with its customers, and starting enrollments."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime
from typing import Any

from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.client import Client

from domain.definition import JourneyDefinition
from domain.ids import enrollment_id, enrollment_workflow_id
from domain.payloads import EnrollmentInput
from services.journeys import JourneyService, NewJourney
from services.temporal import EnrollmentGateway
from services.uow import UnitOfWork
from store.repositories.customers import CustomerRepository

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
        row = await service.create(TENANT, NewJourney(name, None, None, parsed))
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
