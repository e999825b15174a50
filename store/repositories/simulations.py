"""Simulations: their records, and the cohort a simulation plays (customers' traits and segments)."""

from __future__ import annotations

import uuid
from collections import defaultdict
from datetime import datetime
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from store.repositories.segments import currently_assigned
from store.rows import CustomerRow, SegmentAssignmentRow, SimulationRow


class SimulationRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def add(self, row: SimulationRow) -> None:
        self._session.add(row)
        await self._session.flush()

    async def get(
        self, tenant_id: str, journey_id: uuid.UUID, simulation_id: uuid.UUID
    ) -> SimulationRow | None:
        row: SimulationRow | None = await self._session.get(SimulationRow, simulation_id)
        if row is None or row.tenant_id != tenant_id or row.journey_id != journey_id:
            return None
        return row

    async def finish(
        self,
        simulation_id: uuid.UUID,
        *,
        status: str,
        result: dict[str, Any] | None,
        error: str | None,
        at: datetime,
    ) -> None:
        await self._session.execute(
            update(SimulationRow)
            .where(SimulationRow.id == simulation_id)
            .values(status=status, result=result, error=error, completed_at=at)
        )

    # ---- the cohort ---------------------------------------------------------------------------

    async def segment_members(
        self, tenant_id: str, segment_id: uuid.UUID, now: datetime, limit: int
    ) -> list[str]:
        """The customers in the segment now (at most `limit`, by id)."""
        rows = await self._session.scalars(
            select(SegmentAssignmentRow.customer_id)
            .where(
                SegmentAssignmentRow.tenant_id == tenant_id,
                SegmentAssignmentRow.segment_id == segment_id,
                currently_assigned(now),
            )
            .distinct()
            .order_by(SegmentAssignmentRow.customer_id)
            .limit(limit)
        )
        return list(rows)

    async def sample(self, tenant_id: str, size: int) -> list[str]:
        """`size` of the tenant's customers, the same ones every time (ordered by a hash of the id)."""
        rows = await self._session.scalars(
            select(CustomerRow.id)
            .where(CustomerRow.tenant_id == tenant_id)
            .order_by(func.md5(CustomerRow.id), CustomerRow.id)
            .limit(size)
        )
        return list(rows)

    async def profiles(
        self, tenant_id: str, customer_ids: list[str], now: datetime
    ) -> dict[str, tuple[dict[str, Any], list[str]]]:
        """Each known customer's traits and the segments they are in now (unknown ids are left out)."""
        found: dict[str, tuple[dict[str, Any], list[str]]] = {}
        for start in range(0, len(customer_ids), 5_000):
            chunk = customer_ids[start : start + 5_000]
            rows = await self._session.execute(
                select(CustomerRow.id, CustomerRow.traits).where(
                    CustomerRow.tenant_id == tenant_id, CustomerRow.id.in_(chunk)
                )
            )
            memberships: dict[str, set[str]] = defaultdict(set)
            assigned = await self._session.execute(
                select(SegmentAssignmentRow.customer_id, SegmentAssignmentRow.segment_id).where(
                    SegmentAssignmentRow.tenant_id == tenant_id,
                    SegmentAssignmentRow.customer_id.in_(chunk),
                    currently_assigned(now),
                )
            )
            for customer_id, segment_id in assigned:
                memberships[customer_id].add(str(segment_id))
            for customer_id, traits in rows:
                found[customer_id] = (dict(traits or {}), sorted(memberships[customer_id]))
        return found
