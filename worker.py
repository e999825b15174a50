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
from temporalio.worker import Worker

from activities.audience import AudienceActivities
from activities.channels import EmailChannel, SmtpConfig
from activities.control import ControlActivities
from activities.messaging import MessagingActivities
from activities.profiles import ProfileActivities
from activities.projections import ProjectionActivities
from journeys.settings import Settings, get_settings
from services.temporal import EnrollmentGateway, TemporalConnection
from workflows.control import JourneyControlWorkflow
from workflows.enrollment import EnrollmentWorkflow
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
        webhook_allow_list=settings.webhook_allow_list,
    )
    projections = ProjectionActivities(sessions)
    profiles = ProfileActivities(sessions)
    control = ControlActivities(sessions, client)
    audience = AudienceActivities(
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
        workflows=[EnrollmentWorkflow, JourneyControlWorkflow, JourneyScheduleWorkflow, *extra_workflows],
        activities=[
            messaging.send_message,
            projections.record_progress,
            profiles.read_profile,
            profiles.update_profile,
            control.signal_enrollments,
            audience.enroll_audience_page,
        ],
    )


async def run_worker(settings: Settings) -> None:
    from journeys.codec import data_converter
    from journeys.runtime import database_url
    from services.temporal import connect_client
    from store.db import create_engine, create_session_factory

    engine = create_engine(database_url(settings), pool_size=settings.database_pool_size)
    client = await connect_client(
        settings.temporal_address, settings.temporal_namespace, data_converter(settings)
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


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    asyncio.run(run_worker(get_settings()))
