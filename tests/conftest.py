"""Fixtures every test layer reuses: real PostgreSQL, real Temporal, a real SMTP socket.

- `postgres_server_url` (session): embedded PostgreSQL with the migrated template database.
- `database_url` (test): a fresh database cloned from that template, dropped afterwards.
- `sessions` (test): an async session factory on it.
- `time_skipping_env` / `dev_env` (session): Temporal time-skipping server / dev server.
- `smtp_sink` (session, cleared per test): an aiosmtpd sink on a real port.
- `settings` (test): Settings wired to the above, with a unique task queue.
- `run_worker` (test): `async with run_worker(client): ...` runs the project's worker.
- `api_client_for` / `api_client` (test): authenticated httpx clients on the ASGI app; with a
  Temporal client, the outbox dispatcher runs beside the app (as it does beside the API in production).
"""

from __future__ import annotations

import shutil
import tempfile
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import AbstractAsyncContextManager, AsyncExitStack, asynccontextmanager
from pathlib import Path
from typing import IO, Any

import asyncpg
import httpx
import pytest
import pytest_asyncio
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.api.enums.v1 import IndexedValueType
from temporalio.api.operatorservice.v1 import AddSearchAttributesRequest
from temporalio.client import Client, WorkflowHandle
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from api.app import create_app
from api.auth import ALL_SCOPES, mint_token
from api.resources import AppResources
from devstack import (
    SmtpSink,
    ensure_embedded_postgres,
    stop_embedded_postgres,
    temporal_cli_path,
    temporal_test_server_path,
)
from plumbing.settings import SEARCH_ATTRIBUTES, Settings
from services.dispatcher import Dispatcher, DispatcherConfig
from services.temporal import (
    CUSTOMER_ID,
    JOURNEY_ID,
    JOURNEY_NAME,
    JOURNEY_VERSION,
    TENANT_ID,
    EnrollmentGateway,
    TemporalConnection,
)
from store.db import create_engine, create_session_factory
from store.migrate import upgrade_to_head
from worker import build_worker

TEST_JWT_SECRET = "test-secret-that-is-long-enough-for-hs256-0123456789"
TEMPLATE_DATABASE = "journeys_template"
# The safety-net poll short: a test should not wait seconds for a NOTIFY that raced its LISTEN.
TEST_DISPATCHER = DispatcherConfig(concurrency=16, batch_size=200, lanes=1, poll_seconds=0.2)


def _with_database(url: str, database: str) -> str:
    return make_url(url).set(database=database).render_as_string(hide_password=False)


@pytest.fixture(scope="session")
def postgres_server_url() -> Iterator[str]:
    # Unix socket paths are limited to ~107 bytes: keep the data dir short.
    root = Path(tempfile.mkdtemp(prefix="jpg", dir="/tmp"))
    pgdata = root / "pg"
    url = ensure_embedded_postgres(pgdata, database=TEMPLATE_DATABASE, stop_at_exit=True)
    upgrade_to_head(url)
    yield url
    stop_embedded_postgres(pgdata)
    shutil.rmtree(root, ignore_errors=True)


@pytest_asyncio.fixture
async def database_url(postgres_server_url: str) -> AsyncIterator[str]:
    """A clean, fully migrated database for this test alone (cloned from the template)."""
    name = f"t_{uuid.uuid4().hex[:16]}"
    admin_dsn = _with_database(postgres_server_url, "postgres")
    admin = await asyncpg.connect(admin_dsn)
    try:
        await admin.execute(f'CREATE DATABASE "{name}" TEMPLATE "{TEMPLATE_DATABASE}"')
        yield _with_database(postgres_server_url, name)
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()


@pytest_asyncio.fixture
async def sessions(database_url: str) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    engine = create_engine(database_url, pool_size=5)
    yield create_session_factory(engine)
    await engine.dispose()


@asynccontextmanager
async def _time_skipping_server() -> AsyncIterator[WorkflowEnvironment]:
    env = await WorkflowEnvironment.start_time_skipping(
        test_server_existing_path=temporal_test_server_path(), data_converter=pydantic_data_converter
    )
    # The time-skipping server refuses search attributes it has not been told about.
    kinds = {
        "Keyword": IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD,
        "Int": IndexedValueType.INDEXED_VALUE_TYPE_INT,
    }
    await env.client.operator_service.add_search_attributes(
        AddSearchAttributesRequest(
            namespace=env.client.namespace,
            search_attributes={name: kinds[kind] for name, kind in SEARCH_ATTRIBUTES.items()},
        )
    )
    try:
        yield env
    finally:
        await env.shutdown()


@pytest_asyncio.fixture(scope="session")
async def time_skipping_env() -> AsyncIterator[WorkflowEnvironment]:
    async with _time_skipping_server() as env:
        yield env


@pytest_asyncio.fixture
async def own_time_skipping_env() -> AsyncIterator[WorkflowEnvironment]:
    """A time-skipping server for one test whose timers must fire on their own.

    The server moves its clock only when every workflow on it is idle, and a workflow task nobody
    polls (an enrollment a test started with no worker) is never idle: on the shared server, a test
    waiting hours of workflow time could stall behind what an earlier test left.
    """
    async with _time_skipping_server() as env:
        yield env


async def start_dev_server(*extra_args: str) -> WorkflowEnvironment:
    """A Temporal dev server with the product's search attributes (`extra_args`: server flags)."""
    return await WorkflowEnvironment.start_local(
        dev_server_existing_path=temporal_cli_path(),
        data_converter=pydantic_data_converter,
        search_attributes=[TENANT_ID, JOURNEY_ID, JOURNEY_VERSION, CUSTOMER_ID, JOURNEY_NAME],
        dev_server_extra_args=["--ui-disable-news-fetch", *extra_args],
    )


@pytest_asyncio.fixture(scope="session")
async def dev_env() -> AsyncIterator[WorkflowEnvironment]:
    env = await start_dev_server()
    yield env
    await env.shutdown()


@pytest.fixture(scope="session")
def _smtp_sink_server() -> Iterator[SmtpSink]:
    sink = SmtpSink(port=0)
    sink.start()
    yield sink
    sink.stop()


@pytest.fixture
def smtp_sink(_smtp_sink_server: SmtpSink) -> SmtpSink:
    _smtp_sink_server.clear()
    return _smtp_sink_server


@pytest.fixture
def settings(database_url: str, smtp_sink: SmtpSink) -> Settings:
    return Settings(
        dev_mode=True,
        database_url=database_url,  # type: ignore[arg-type]
        jwt_secret=TEST_JWT_SECRET,  # type: ignore[arg-type]
        smtp_host="127.0.0.1",
        smtp_port=smtp_sink.port,
        temporal_task_queue=f"test-{uuid.uuid4().hex[:12]}",
    )


@pytest.fixture
def worker_log() -> Iterator[IO[bytes]]:
    """Where the worker processes write; kept only while the test runs."""
    with tempfile.TemporaryFile(prefix="journeys-worker-") as log:
        yield log


RunWorker = Callable[[Client], AbstractAsyncContextManager[Worker]]


@pytest.fixture
def run_worker(settings: Settings, sessions: async_sessionmaker[AsyncSession]) -> RunWorker:
    @asynccontextmanager
    async def running(client: Client) -> AsyncIterator[Worker]:
        worker = build_worker(client, settings, sessions)
        async with worker:
            yield worker

    return running


def token_for(tenant: str, scopes: tuple[str, ...] | list[str] = ALL_SCOPES) -> str:
    settings = Settings(jwt_secret=TEST_JWT_SECRET)  # type: ignore[arg-type]
    return mint_token(
        secret=TEST_JWT_SECRET,
        tenant=tenant,
        scopes=scopes,
        audience=settings.jwt_audience,
        issuer=settings.jwt_issuer,
    )


ApiClientFor = Callable[..., AbstractAsyncContextManager[httpx.AsyncClient]]


@pytest.fixture
def api_client_for(settings: Settings, database_url: str) -> ApiClientFor:
    """`async with api_client_for(temporal_client, tenant="acme") as http: ...`"""

    @asynccontextmanager
    async def client_for(
        temporal_client: Client | None,
        *,
        tenant: str = "acme",
        scopes: tuple[str, ...] | list[str] = ALL_SCOPES,
        db_url: str | None = None,
    ) -> AsyncIterator[httpx.AsyncClient]:
        resources = AppResources.from_settings(
            settings, database_url=db_url or database_url, jwt_secret=TEST_JWT_SECRET
        )
        if temporal_client is not None:
            resources.temporal = TemporalConnection(
                temporal_client.service_client.config.target_host,
                temporal_client.namespace,
                client=temporal_client,
            )
            resources.gateway = EnrollmentGateway(
                resources.temporal, settings.temporal_task_queue, settings.temporal_ui_url
            )
            resources.control = resources.gateway
        transport = httpx.ASGITransport(app=create_app(resources))
        headers = {"Authorization": f"Bearer {token_for(tenant, scopes)}"}
        async with AsyncExitStack() as stack:
            if temporal_client is not None:
                dispatcher = Dispatcher(resources.engine, resources.gateway, config=TEST_DISPATCHER)
                await stack.enter_async_context(dispatcher.running())
            http = await stack.enter_async_context(
                httpx.AsyncClient(transport=transport, base_url="http://api", headers=headers)
            )
            yield http
        await resources.close()

    return client_for


@pytest_asyncio.fixture
async def api_client(
    api_client_for: ApiClientFor, dev_env: WorkflowEnvironment
) -> AsyncIterator[httpx.AsyncClient]:
    async with api_client_for(dev_env.client) as http:
        yield http


async def result_skipping_time(env: WorkflowEnvironment, handle: WorkflowHandle[Any, Any]) -> Any:
    """Await a workflow's result letting the time-skipping server jump over its timers.

    Handles the env's own client starts skip time by themselves; enrollments are started by
    the API's gateway, so their handles unlock skipping explicitly here.
    """
    unlocked = getattr(env, "time_skipping_unlocked", None)
    if unlocked is None:
        return await _result(handle)
    async with unlocked():
        return await _result(handle)


async def _result(handle: WorkflowHandle[Any, Any], attempts: int = 5) -> Any:
    # The result is a long poll for the close event; when the server's poll window ends before the
    # workflow does (a loaded machine), the SDK reports "No completion event found" instead of polling
    # again. Poll again: any other answer (a failure, a real timeout) is still raised at once.
    for attempt in range(attempts):
        try:
            return await handle.result()
        except RuntimeError as exc:
            if "No completion event found" not in str(exc) or attempt == attempts - 1:
                raise
    raise AssertionError("unreachable")
