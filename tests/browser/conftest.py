"""The console in a real browser: headless Chromium (the system's, never a downloaded one) driven by
Playwright, against the real API served on a socket, a real worker and the Temporal dev server.

One server set per module (a database, the API, the worker, the outbox dispatcher); each test makes its
own journeys and its own browser context (its own sessionStorage).

No Chromium on the machine: the tests are skipped, saying how to install one, and the run's summary says
so plainly — unless JOURNEYS_REQUIRE_BROWSER=1 (CI), which makes a missing browser a failure.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import AsyncExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
import pytest_asyncio
from _pytest.terminal import TerminalReporter
from temporalio.testing import WorkflowEnvironment

from devstack import SmtpSink
from plumbing.settings import Settings
from store.db import create_engine, create_session_factory
from tests.conftest import TEMPLATE_DATABASE, TEST_JWT_SECRET, _with_database, token_for
from tests.e2e.test_real_sdks import dispatching, served
from worker import build_worker

ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = ROOT / "docs" / "images"
VIEWPORT = {"width": 1400, "height": 900}
INSTALL_HINT = (
    "install it with `apt-get install chromium` (Debian/Ubuntu), or point JOURNEYS_CHROMIUM at a "
    "Chromium or Chrome binary"
)
_skipped_for_no_browser: list[str] = []


def chromium_path() -> str | None:
    """JOURNEYS_CHROMIUM, else `chromium` (or `chromium-browser`) on PATH, else /usr/bin/chromium."""
    configured = os.environ.get("JOURNEYS_CHROMIUM")
    if configured:
        return configured if Path(configured).is_file() else None
    for name in ("chromium", "chromium-browser"):
        found = shutil.which(name)
        if found:
            return found
    return "/usr/bin/chromium" if Path("/usr/bin/chromium").is_file() else None


def _no_browser(reason: str) -> None:
    if os.environ.get("JOURNEYS_REQUIRE_BROWSER") == "1":
        pytest.fail(f"{reason}; JOURNEYS_REQUIRE_BROWSER=1 makes this a failure: {INSTALL_HINT}")
    _skipped_for_no_browser.append(reason)
    pytest.skip(f"{reason}: {INSTALL_HINT}")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    here = Path(__file__).parent
    for item in items:
        if here in Path(str(item.fspath)).parents:
            item.add_marker(pytest.mark.browser)


def pytest_terminal_summary(terminalreporter: TerminalReporter) -> None:
    skipped = [
        report
        for report in terminalreporter.stats.get("skipped", [])
        if getattr(report, "nodeid", "").startswith("tests/browser/")
    ]
    if _skipped_for_no_browser and skipped:
        terminalreporter.write_sep("=", "browser tests skipped", yellow=True, bold=True)
        terminalreporter.write_line(
            f"{len(skipped)} browser test(s) of the console did NOT run: {_skipped_for_no_browser[0]}."
        )
        terminalreporter.write_line(f"To run them, {INSTALL_HINT}.")


@pytest.fixture(scope="session")
def chromium() -> str:
    path = chromium_path()
    if path is None:
        _no_browser("no Chromium found")
    assert path is not None
    try:
        import playwright  # noqa: F401
    except ImportError:
        _no_browser("Playwright for Python is not installed (`pip install -e '.[dev]'`)")
    return path


@pytest_asyncio.fixture(scope="session")
async def browser(chromium: str) -> AsyncIterator[Any]:
    from playwright.async_api import async_playwright

    async with async_playwright() as playwright:
        try:
            launched = await playwright.chromium.launch(executable_path=chromium, headless=True)
        except Exception as error:  # noqa: BLE001 — any launch failure means: no usable browser here
            _no_browser(f"Chromium at {chromium} did not start ({str(error).splitlines()[0]})")
        yield launched
        await launched.close()


@dataclass
class Console:
    """The API served on a socket, with its worker: `base` is its URL, `http` a client with a token."""

    base: str
    http: httpx.AsyncClient
    tenant: str = "acme"

    def token(self, tenant: str | None = None) -> str:
        return token_for(tenant or self.tenant)


@pytest_asyncio.fixture(scope="module")
async def console_server(
    postgres_server_url: str, dev_env: WorkflowEnvironment, _smtp_sink_server: SmtpSink
) -> AsyncIterator[Console]:
    name = f"t_{uuid.uuid4().hex[:16]}"
    admin = await asyncpg.connect(_with_database(postgres_server_url, "postgres"))
    await admin.execute(f'CREATE DATABASE "{name}" TEMPLATE "{TEMPLATE_DATABASE}"')
    database_url = _with_database(postgres_server_url, name)
    settings = Settings(
        dev_mode=True,
        database_url=database_url,  # type: ignore[arg-type]
        jwt_secret=TEST_JWT_SECRET,  # type: ignore[arg-type]
        smtp_host="127.0.0.1",
        smtp_port=_smtp_sink_server.port,
        temporal_task_queue=f"console-{uuid.uuid4().hex[:12]}",
        temporal_address=dev_env.client.service_client.config.target_host,
    )
    engine = create_engine(database_url, pool_size=5)
    try:
        async with AsyncExitStack() as stack:
            worker = build_worker(dev_env.client, settings, create_session_factory(engine))
            await stack.enter_async_context(worker)
            await stack.enter_async_context(dispatching(settings, database_url, dev_env))
            base = await stack.enter_async_context(served(settings, database_url))
            http = await stack.enter_async_context(
                httpx.AsyncClient(
                    base_url=base, headers={"Authorization": f"Bearer {token_for('acme')}"}, timeout=30
                )
            )
            yield Console(base, http)
    finally:
        await engine.dispose()
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


@pytest_asyncio.fixture
async def page(browser: Any) -> AsyncIterator[Any]:
    """A fresh tab at 1400×900 in its own context; any console error or CSP violation fails the test."""
    context = await browser.new_context(viewport=VIEWPORT, device_scale_factor=1)
    tab = await context.new_page()
    problems: list[str] = []
    tab.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    tab.on("pageerror", lambda e: problems.append(f"uncaught: {e}"))
    yield tab
    await context.close()
    violations = [p for p in problems if "Content Security Policy" in p or p.startswith("uncaught")]
    assert violations == [], violations


@pytest.fixture
def screenshots() -> Iterator[Path | None]:
    """docs/images when JOURNEYS_REFRESH_SCREENSHOTS=1 (the README's pictures), else None."""
    yield SCREENSHOTS if os.environ.get("JOURNEYS_REFRESH_SCREENSHOTS") == "1" else None
