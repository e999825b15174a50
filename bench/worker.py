"""The benchmark's worker process: the product worker plus the hand-written reference workflows."""

from __future__ import annotations

import asyncio
import signal

from bench.reference import ReferenceControlWorkflow, ReferenceTunedControlWorkflow
from devstack.resources import database_url
from plumbing.codec import data_converter
from plumbing.settings import get_settings
from services.temporal import connect_client
from store.db import create_engine, create_session_factory
from worker import build_worker


async def main() -> None:
    settings = get_settings()
    engine = create_engine(database_url(settings), pool_size=20)
    client = await connect_client(
        settings.temporal_address, settings.temporal_namespace, data_converter(settings)
    )
    worker = build_worker(
        client,
        settings,
        create_session_factory(engine),
        extra_workflows=[ReferenceControlWorkflow, ReferenceTunedControlWorkflow],
    )
    stop = asyncio.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        asyncio.get_running_loop().add_signal_handler(signum, stop.set)
    async with worker:
        await stop.wait()
    await engine.dispose()


if __name__ == "__main__":
    asyncio.run(main())
