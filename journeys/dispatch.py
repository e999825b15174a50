"""The dispatcher process (`journeys dispatcher`): drains the outbox into Temporal, reconciles
orphaned enrollments and exits the enrollments whose customer's exit segment expired, until
SIGINT/SIGTERM. Safe to run several of (docker compose --scale)."""

from __future__ import annotations

import asyncio
import logging
import signal

from plumbing.settings import Settings

logger = logging.getLogger("journeys.dispatcher")


async def run_dispatcher(settings: Settings) -> None:
    from devstack.resources import database_url
    from plumbing.codec import data_converter
    from plumbing.telemetry import build_runtime, metric_meter
    from plumbing.tracing import WORKER_SERVICE, temporal_interceptors
    from services.dispatcher import Dispatcher, DispatcherConfig, DispatchMetrics
    from services.reconciler import Reconciler, ReconcilerConfig
    from services.segment_exits import SegmentExitSweeper
    from services.temporal import EnrollmentGateway, TemporalConnection
    from store.db import create_engine, create_session_factory

    engine = create_engine(database_url(settings), pool_size=max(4, settings.dispatcher_lanes + 2))
    runtime = build_runtime(settings, "dispatcher")
    meter = metric_meter(runtime)
    # Connected on first use: the dispatcher starts (and waits) while Temporal is still coming up.
    connection = TemporalConnection(
        settings.temporal_address,
        settings.temporal_namespace,
        data_converter=data_converter(settings),
        runtime=runtime,
        interceptors=temporal_interceptors(settings, WORKER_SERVICE),
    )
    gateway = EnrollmentGateway(connection, settings.temporal_task_queue, settings.temporal_ui_url)
    dispatcher = Dispatcher(
        engine,
        gateway,
        config=DispatcherConfig(
            concurrency=settings.dispatcher_concurrency,
            batch_size=settings.dispatcher_batch_size,
            lanes=settings.dispatcher_lanes,
            poll_seconds=settings.dispatcher_poll_seconds,
        ),
        metrics=DispatchMetrics(meter),
    )
    reconciler = Reconciler(
        create_session_factory(engine),
        gateway,
        config=ReconcilerConfig(
            interval_seconds=settings.reconcile_interval_seconds,
            grace_seconds=settings.reconcile_grace_seconds,
        ),
        meter=meter,
    )
    segment_exits = SegmentExitSweeper(
        create_session_factory(engine), interval_seconds=settings.reconcile_interval_seconds
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    logger.info(
        "dispatcher draining the outbox into %s (%d lanes, %d calls in flight)",
        settings.temporal_address,
        settings.dispatcher_lanes,
        settings.dispatcher_concurrency,
    )
    try:
        await asyncio.gather(dispatcher.run(stop), reconciler.run(stop), segment_exits.run(stop))
    finally:
        await engine.dispose()
