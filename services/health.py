"""Reachability of what the service depends on."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from domain.errors import DependencyUnavailableError
from services.temporal import TemporalConnection
from store.repositories.outbox import OutboxRepository

# The outbox is "lagging" past this: events are accepted, but their journeys hear of them late
# (is a dispatcher running? is Temporal slow?). Reported, not fatal: the API itself is fine.
DISPATCH_LAG_WARNING_SECONDS = 60.0


@dataclass(frozen=True)
class DependencyHealth:
    name: str
    ok: bool
    detail: str | None = None


async def check_database(engine: AsyncEngine) -> DependencyHealth:
    try:
        async with asyncio.timeout(5), engine.connect() as connection:
            await connection.execute(text("SELECT 1"))
    except Exception as exc:  # noqa: BLE001 — any failure means "not reachable", reported as such
        return DependencyHealth("database", False, type(exc).__name__)
    return DependencyHealth("database", True)


async def check_temporal(connection: TemporalConnection) -> DependencyHealth:
    try:
        await connection.ping()
    except DependencyUnavailableError as exc:
        return DependencyHealth("temporal", False, exc.detail)
    return DependencyHealth("temporal", True)


@dataclass(frozen=True)
class DispatchHealth:
    ok: bool
    pending: int
    lag_seconds: float
    failed: int


async def check_dispatch(engine: AsyncEngine) -> DispatchHealth | None:
    """The outbox backlog: rows waiting, age of the oldest, rows set aside (None: unreadable)."""
    try:
        async with asyncio.timeout(5), AsyncSession(engine) as session:
            outbox = OutboxRepository(session)
            backlog = await outbox.backlog()
            failed = await outbox.failed_count()
    except Exception:  # noqa: BLE001 — the database check reports why
        return None
    lag = round(backlog.lag_seconds, 3)
    return DispatchHealth(lag <= DISPATCH_LAG_WARNING_SECONDS, backlog.pending, lag, failed)
