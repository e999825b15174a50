"""A journey's send rate (`settings.rateLimit`): how many of its messages were admitted lately.

A message is admitted when it is claimed (its row created, `created_at`); suppressed ones cost no provider
call and take no slot. `activities.rate_limits` asks under `lock_journey` and keeps that lock until the
claim commits, so two sends of one journey never both take the last slot.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from store.rows import MessageRow


@dataclass(frozen=True)
class RateWindow:
    """The journey's admissions in the window ending `now` (the database's clock).

    `frees_at`: when the count falls below the limit again (the limit-th newest admission leaves the
    window); None while the count is under the limit.
    """

    count: int
    now: datetime
    frees_at: datetime | None


class SendRateRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def lock_journey(self, tenant_id: str, journey_id: str) -> None:
        """Serialise this transaction with every other rate-limited send of the journey until it ends."""
        await self._session.execute(
            select(
                func.pg_advisory_xact_lock(
                    func.hashtext("journeys.send_rate"), func.hashtext(f"{tenant_id}:{journey_id}")
                )
            )
        )

    async def claimed(self, tenant_id: str, idempotency_key: str) -> bool:
        """Whether this send was admitted before (a retried attempt keeps its admission)."""
        found = await self._session.scalar(
            select(MessageRow.id).where(
                MessageRow.tenant_id == tenant_id, MessageRow.idempotency_key == idempotency_key
            )
        )
        return found is not None

    async def window(
        self, tenant_id: str, journey_id: uuid.UUID, *, length: timedelta, limit: int
    ) -> RateWindow:
        now = await self._session.scalar(select(func.clock_timestamp()))
        assert now is not None
        admitted = (
            select(MessageRow.created_at)
            .where(
                MessageRow.tenant_id == tenant_id,
                MessageRow.journey_id == journey_id,
                MessageRow.created_at > now - length,
                MessageRow.status != "suppressed",
            )
            .order_by(MessageRow.created_at.desc())
        )
        count = await self._session.scalar(select(func.count()).select_from(admitted.subquery()))
        frees_at = None
        if count is not None and count >= limit:
            oldest_kept = await self._session.scalar(admitted.offset(limit - 1).limit(1))
            frees_at = None if oldest_kept is None else oldest_kept + length
        return RateWindow(count=int(count or 0), now=now, frees_at=frees_at)
