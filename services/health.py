"""Reachability of what the service depends on."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from domain.errors import DependencyUnavailableError
from services.temporal import TemporalConnection


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
