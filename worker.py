"""The Temporal worker: enrollment workflows plus activity instances holding their clients.

Run it with `python worker.py` or `journeys worker`.
"""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.client import Client
from temporalio.worker import (
    PollerBehavior,
    PollerBehaviorAutoscaling,
    PollerBehaviorSimpleMaximum,
    Worker,
)
from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner, SandboxRestrictions

from activities.audience import AudienceActivities
from activities.channels import EmailChannel, SmtpConfig
from activities.control import SETTLE_MARGIN_SECONDS, ControlActivities, JourneyControlReader
from activities.messaging import MessagingActivities
from activities.migration import MigrationActivities
from activities.profiles import ProfileActivities
from activities.projections import ProjectionActivities
from plumbing.logs import ActivityLogContext
from plumbing.settings import Settings
from services.temporal import EnrollmentGateway, TemporalConnection
from services.unsubscribe import links_from_settings
from workflows.control import JourneyControlWorkflow
from workflows.enrollment import EnrollmentWorkflow
from workflows.migration import MigrationWorkflow
from workflows.schedule import JourneyScheduleWorkflow

logger = logging.getLogger("journeys.worker")


def smtp_config(settings: Settings) -> SmtpConfig:
    return SmtpConfig(
        host=settings.smtp_host,
        port=settings.smtp_port,
        sender=settings.email_from,
        username=settings.smtp_username,
        password=settings.smtp_password.get_secret_value() if settings.smtp_password else None,
        starttls=settings.smtp_starttls,
        timeout_seconds=settings.smtp_timeout_seconds,
    )


# Imported once per process instead of once per workflow run: the project's pure modules (the
# interpreter, definitions, payloads: no I/O, no clock, no mutable module state) and the validation
# library they are built on. Workflow code still imports them inside `imports_passed_through`; this
# makes it hold for anything they import later too.
SANDBOX_PASSTHROUGH = ("domain", "pydantic", "pydantic_core", "annotated_types", "typing_inspection")


def workflow_runner() -> SandboxedWorkflowRunner:
    return SandboxedWorkflowRunner(
        restrictions=SandboxRestrictions.default.with_passthrough_modules(*SANDBOX_PASSTHROUGH)
    )


def _pollers(settings: Settings) -> PollerBehavior:
    if settings.worker_poller_autoscaling:
        maximum = settings.worker_max_pollers
        return PollerBehaviorAutoscaling(minimum=1, maximum=maximum, initial=min(5, maximum))
    return PollerBehaviorSimpleMaximum(maximum=settings.worker_max_pollers)


def build_worker(
    client: Client,
    settings: Settings,
    sessions: async_sessionmaker[AsyncSession],
    *,
    extra_workflows: Sequence[type] = (),
) -> Worker:
    """The product's worker; `extra_workflows` lets benchmarks host their reference workflow beside it."""
    messaging = MessagingActivities(
        sessions,
        {"EMAIL": EmailChannel(smtp_config(settings))},
        unsubscribe=links_from_settings(settings),
        webhook_allow_list=settings.webhook_allow_list,
    )
    projections = ProjectionActivities(sessions)
    profiles = ProfileActivities(sessions)
    control = ControlActivities(
        sessions,
        client,
        concurrency=settings.control_signal_concurrency,
        settle_seconds=settings.control_cache_seconds + SETTLE_MARGIN_SECONDS,
    )
    journey_control = JourneyControlReader(sessions, ttl_seconds=settings.control_cache_seconds)
    audience = AudienceActivities(
        sessions,
        EnrollmentGateway(
            TemporalConnection(settings.temporal_address, client.namespace, client=client),
            settings.temporal_task_queue,
            settings.temporal_ui_url,
        ),
    )
    migrations = MigrationActivities(
        sessions,
        EnrollmentGateway(
            TemporalConnection(settings.temporal_address, client.namespace, client=client),
            settings.temporal_task_queue,
            settings.temporal_ui_url,
        ),
    )
    return Worker(
        client,
        task_queue=settings.temporal_task_queue,
        workflows=[
            EnrollmentWorkflow,
            JourneyControlWorkflow,
            JourneyScheduleWorkflow,
            MigrationWorkflow,
            *extra_workflows,
        ],
        interceptors=[ActivityLogContext()],  # + the client's tracing interceptor, when tracing is on
        workflow_runner=workflow_runner(),
        max_cached_workflows=settings.worker_max_cached_workflows,
        max_concurrent_workflow_tasks=settings.worker_max_concurrent_workflow_tasks,
        max_concurrent_activities=settings.worker_max_concurrent_activities,
        max_concurrent_local_activities=settings.worker_max_concurrent_local_activities,
        workflow_task_poller_behavior=_pollers(settings),
        activity_task_poller_behavior=_pollers(settings),
        activities=[
            messaging.send_message,
            projections.record_progress,
            profiles.read_profile,
            profiles.update_profile,
            control.signal_enrollments,
            journey_control.read_journey_control,
            audience.enroll_audience_page,
            migrations.list_migration_page,
            migrations.move_enrollments,
            migrations.record_migration,
        ],
    )


async def run_worker(settings: Settings) -> None:
    from devstack.resources import database_url
    from plumbing.codec import data_converter
    from plumbing.telemetry import build_runtime
    from plumbing.tracing import WORKER_SERVICE, temporal_interceptors
    from services.temporal import connect_client
    from store.db import create_engine, create_session_factory

    engine = create_engine(database_url(settings), pool_size=settings.database_pool_size)
    client = await connect_client(
        settings.temporal_address,
        settings.temporal_namespace,
        data_converter(settings),
        runtime=build_runtime(settings, "worker"),
        interceptors=temporal_interceptors(settings, WORKER_SERVICE),
    )
    worker = build_worker(client, settings, create_session_factory(engine))
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    logger.info("worker polling task queue %s at %s", settings.temporal_task_queue, settings.temporal_address)
    async with worker:
        await stop.wait()
    await engine.dispose()
