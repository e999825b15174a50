"""Published journeys found by their trigger: which journeys an event or a segment entry starts."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy import and_, select, tuple_
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

    async def published_versions(self, tenant_id: str) -> list[tuple[uuid.UUID, int, str]]:
        """(journey, live version, name) of every PUBLISHED journey, oldest journey first: cheap
        enough to read once per batch, and it changes whenever a status or live version does."""
        rows = await self._session.execute(
            select(JourneyRow.id, JourneyRow.version, JourneyRow.name)
            .where(JourneyRow.tenant_id == tenant_id, JourneyRow.status == "PUBLISHED")
            .order_by(JourneyRow.created_at, JourneyRow.id)
        )
        return [(journey_id, int(version), str(name)) for journey_id, version, name in rows]

    async def definitions(
        self, versions: Sequence[tuple[uuid.UUID, int]]
    ) -> dict[tuple[uuid.UUID, int], Any]:
        """The stored definitions of these (journey, version) pairs (published versions never change)."""
        if not versions:
            return {}
        rows = await self._session.execute(
            select(
                JourneyVersionRow.journey_id, JourneyVersionRow.version, JourneyVersionRow.definition
            ).where(tuple_(JourneyVersionRow.journey_id, JourneyVersionRow.version).in_(list(versions)))
        )
        return {(journey_id, int(version)): definition for journey_id, version, definition in rows}

    async def lock_for_entry(
        self, tenant_id: str, journey_ids: Sequence[uuid.UUID]
    ) -> dict[uuid.UUID, tuple[str, int]]:
        """(status, live version) of the journeys, held FOR SHARE: a lifecycle change (FOR UPDATE)
        waits for the entries of this transaction, so its control run cannot miss one."""
        if not journey_ids:
            return {}
        rows = await self._session.execute(
            select(JourneyRow.id, JourneyRow.status, JourneyRow.version)
            .where(JourneyRow.tenant_id == tenant_id, JourneyRow.id.in_(sorted(set(journey_ids))))
            .order_by(JourneyRow.id)
            .with_for_update(read=True)
        )
        return {journey_id: (str(status), int(version)) for journey_id, status, version in rows}
