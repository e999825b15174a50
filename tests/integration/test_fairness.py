"""Cross-journey fairness (issue 15): a journey's send rate limit, and one tenant's large send not
starving another tenant's single send.

- Rate limit: the real send activity (real PostgreSQL, real SMTP sink) behind `activities.rate_limits`,
  on the shared dev server in real time with the gate's minute shortened to `WINDOW`: five enrollments of
  a journey limited to 2 per window all get their email, at most two admitted in any window — the others
  waited their turn, none dropped or suppressed.
- Tenant fairness: on a dev server with task-queue fairness (`devstack.temporal.FAIRNESS_ARGS`), tenant A
  queues `BACKLOG` enrollments of a journey that emails, then tenant B queues one; the product's worker
  starts only then. B's email arrives before half of A's have. The same run without the server's
  fairness (the `fair=False` case) proves the test can fail: B's email then comes behind most of A's.
  Both servers read the queue from one partition, so "behind" is the queue's order and not the luck
  of which of four partitions B's task landed in.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from activities.channels import EmailChannel
from activities.messaging import MessagingActivities
from activities.profiles import ProfileActivities
from activities.projections import ProjectionActivities
from activities.rate_limits import RateGate
from devstack import SmtpSink
from devstack.temporal import FAIRNESS_ARGS
from domain.definition import JourneyDefinition
from domain.ids import enrollment_id, enrollment_workflow_id
from domain.payloads import EnrollmentInput
from plumbing.settings import Settings
from services.journeys import JourneyService, NewJourney
from services.temporal import EnrollmentGateway, TemporalConnection
from services.unsubscribe import links_from_settings
from services.uow import UnitOfWork
from store.repositories.customers import CustomerRepository
from store.rows import MessageRow
from tests.conftest import ApiClientFor, RunWorker, result_skipping_time, start_dev_server
from tests.support import END, MAIL, TRIGGER, chain, enroll, eventually, handle_of, publish
from worker import smtp_config, workflow_runner
from workflows.enrollment import EnrollmentWorkflow

WINDOW = timedelta(seconds=3)
MAIL_NODES: list[dict[str, Any]] = [TRIGGER, {"id": "mail", "type": "SEND", "config": MAIL}, END]
MAIL_JOURNEY = {"nodes": MAIL_NODES, "edges": chain(*MAIL_NODES)["edges"]}
BACKLOG = 200
ONE_PARTITION = (
    "--dynamic-config-value",
    "matching.numTaskqueueReadPartitions=1",
    "--dynamic-config-value",
    "matching.numTaskqueueWritePartitions=1",
)


@asynccontextmanager
async def worker_with_gate(
    client: Client, settings: Settings, sessions: async_sessionmaker[AsyncSession], gate: RateGate
) -> AsyncIterator[Worker]:
    """The enrollment workflow and its activities as `worker.build_worker` wires them, the send's rate
    gate with a shortened minute."""
    messaging = MessagingActivities(
        sessions,
        {"EMAIL": EmailChannel(smtp_config(settings))},
        unsubscribe=links_from_settings(settings),
        rate_gate=gate,
    )
    projections, profiles = ProjectionActivities(sessions), ProfileActivities(sessions)
    async with Worker(
        client,
        task_queue=settings.temporal_task_queue,
        workflows=[EnrollmentWorkflow],
        workflow_runner=workflow_runner(),
        activities=[
            messaging.send_message,
            projections.record_progress,
            profiles.read_profile,
            profiles.update_profile,
        ],
    ) as worker:
        yield worker


async def test_sends_over_the_rate_limit_wait_their_turn_and_none_is_dropped(
    api_client_for: ApiClientFor,
    dev_env: WorkflowEnvironment,
    settings: Settings,
    sessions: async_sessionmaker[AsyncSession],
    smtp_sink: SmtpSink,
) -> None:
    client = dev_env.client
    gate = RateGate(sessions, window=WINDOW, floor=timedelta(0))
    customers = [f"rl-{i}" for i in range(5)]
    async with api_client_for(client) as http, worker_with_gate(client, settings, sessions, gate):
        journey_id = await publish(
            http,
            chain(
                TRIGGER,
                {"id": "mail", "type": "SEND", "config": MAIL},
                END,
                settings={"rateLimit": {"perMinute": 2}},
            ),
        )
        for customer in customers:
            await enroll(http, journey_id, customer)
        results = [
            await result_skipping_time(dev_env, handle_of(client, journey_id, customer))
            for customer in customers
        ]
    assert all(result["status"] == "COMPLETED" for result in results), results
    async with sessions() as session:
        rows = (
            await session.scalars(
                select(MessageRow)
                .where(MessageRow.journey_id == uuid.UUID(journey_id))
                .order_by(MessageRow.created_at)
            )
        ).all()
    assert [row.status for row in rows] == ["sent"] * 5, [(row.status, row.error) for row in rows]
    assert sorted(m.rcpt_tos[0] for m in smtp_sink.messages()) == sorted(
        f"{c}@example.com" for c in customers
    )
    admitted = [row.created_at for row in rows]
    # Never more than two in a window: the third waited until the first left it, and so on.
    for earlier, later in zip(admitted, admitted[2:], strict=False):
        assert later - earlier >= WINDOW, admitted
    # The first two went at once.
    assert admitted[1] - admitted[0] < WINDOW, admitted


async def test_a_rate_limit_that_is_not_a_whole_number_from_one_is_422_naming_it(
    api_client_for: ApiClientFor,
) -> None:
    async with api_client_for(None) as http:
        journey_id = await publish(http, chain(TRIGGER, END))
        for bad in (0, 1.5, "2"):
            refused = await http.patch(
                f"/v1/journeys/{journey_id}", json={"settings": {"rateLimit": {"perMinute": bad}}}
            )
            assert refused.status_code == 422, refused.text
            assert refused.json()["errors"][0]["loc"] == ["body", "settings", "rateLimit", "perMinute"]
        priority = await http.patch(f"/v1/journeys/{journey_id}", json={"settings": {"priority": 9}})
        assert priority.status_code == 422
        assert priority.json()["errors"][0]["loc"] == ["body", "settings", "priority"]
        accepted = await http.patch(
            f"/v1/journeys/{journey_id}", json={"settings": {"priority": 1, "rateLimit": {"perMinute": 2}}}
        )
        assert accepted.status_code == 200, accepted.text
        assert accepted.json()["settings"]["rateLimit"] == {"perMinute": 2}


async def _journey_of(sessions: async_sessionmaker[AsyncSession], tenant: str, customers: list[str]) -> str:
    definition = JourneyDefinition.model_validate(MAIL_JOURNEY)
    async with sessions() as session:
        uow = UnitOfWork(session)
        profiles = [
            (customer, {"email": f"{customer}@{tenant}.example.com", "firstName": "A"})
            for customer in customers
        ]
        await CustomerRepository(session).add_many(tenant, profiles)
        service = JourneyService(uow)
        row = (await service.create(tenant, NewJourney("Big send", None, None, definition))).row
        await service.publish(tenant, row.id)
        await uow.commit()
    return str(row.id)


async def _start(gateway: EnrollmentGateway, tenant: str, journey_id: str, customer: str) -> None:
    definition = JourneyDefinition.model_validate(MAIL_JOURNEY)
    await gateway.start(
        enrollment_workflow_id(tenant, journey_id, customer, 1),
        EnrollmentInput(
            tenant_id=tenant,
            journey_id=journey_id,
            journey_name="Big send",
            version=1,
            customer_id=customer,
            enrollment_id=enrollment_id(tenant, journey_id, customer, 1),
            enrolled_at=datetime.now(UTC),
            definition=definition,
        ),
    )


@pytest.mark.parametrize("fair", [True, False], ids=["fairness", "without-fairness"])
async def test_one_tenants_large_send_does_not_starve_another_tenants_single_send(
    fair: bool,
    settings: Settings,
    sessions: async_sessionmaker[AsyncSession],
    run_worker: RunWorker,
    smtp_sink: SmtpSink,
) -> None:
    """Measured on 2 busy cores, draining a backlog of 300: with fairness B's email came after 3 of A's,
    without it after all 300. Here the run stops at B's email or at half of A's, whichever comes first."""
    env = await start_dev_server(*(FAIRNESS_ARGS if fair else ()), *ONE_PARTITION)
    single = "b-0@tenant-b.example.com"
    try:
        crowd = [f"a-{i}" for i in range(BACKLOG)]
        big = await _journey_of(sessions, "tenant-a", crowd)
        small = await _journey_of(sessions, "tenant-b", ["b-0"])
        gateway = EnrollmentGateway(
            TemporalConnection("", env.client.namespace, client=env.client), settings.temporal_task_queue, ""
        )
        starts = asyncio.Semaphore(32)

        async def start_a(customer: str) -> None:
            async with starts:
                await _start(gateway, "tenant-a", big, customer)

        await asyncio.gather(*(start_a(customer) for customer in crowd))
        await _start(gateway, "tenant-b", small, "b-0")  # queued behind every one of A's

        def settled() -> list[str] | None:
            """The recipients so far, once B's email came or half of A's did (whichever is first)."""
            received = [m.rcpt_tos[0] for m in smtp_sink.messages()]
            return received if single in received or len(received) >= BACKLOG // 2 else None

        async with run_worker(env.client):
            received = await eventually(
                lambda: asyncio.sleep(0, settled()), timeout=120, what="B or half of A"
            )
    finally:
        await env.shutdown()
    label = "on" if fair else "off"
    if single in received:
        print(f"fairness {label}: {received.index(single)} of tenant A's {BACKLOG} emails came before B's")
    else:
        print(f"fairness {label}: {len(received)} of tenant A's {BACKLOG} emails came and B's not yet")
    if fair:
        assert single in received and received.index(single) < BACKLOG // 2, received
    else:
        # The proof the test can fail: without the server's fairness B waits behind half of A's and more.
        assert single not in received, received.index(single)
