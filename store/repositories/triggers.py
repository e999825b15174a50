"""Published journeys found by their trigger: which journeys an event or a segment entry starts."""

from __future__ import annotations

from typing import Any

from sqlalchemy import and_, select
from sqlalchemy.ext.asyncio import AsyncSession

from store.rows import JourneyRow, JourneyVersionRow


class TriggerRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def published_with_trigger(
        self, tenant_id: str, trigger: dict[str, Any]
    ) -> list[tuple[JourneyRow, JourneyVersionRow]]:
        """PUBLISHED journeys whose live version has a TRIGGER node whose config contains `trigger`."""
        wanted = {"nodes": [{"type": "TRIGGER", "config": trigger}]}
        rows = await self._session.execute(
            select(JourneyRow, JourneyVersionRow)
            .join(
                JourneyVersionRow,
                and_(
                    JourneyVersionRow.journey_id == JourneyRow.id,
                    JourneyVersionRow.version == JourneyRow.version,
                ),
            )
            .where(
                JourneyRow.tenant_id == tenant_id,
                JourneyRow.status == "PUBLISHED",
                JourneyVersionRow.definition.contains(wanted),
            )
            .order_by(JourneyRow.created_at, JourneyRow.id)
        )
        return [(journey, version) for journey, version in rows]
