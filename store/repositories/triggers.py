"""Published journeys found by their trigger: which journeys an event or a segment entry starts."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy import ColumnElement, Text, and_, cast, func, select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession

from store.rows import JourneyRow, JourneyVersionRow


def _digest() -> ColumnElement[str]:
    # A version's content is fixed but for destinations re-pointed in place; the digest tells.
    return func.md5(cast(JourneyVersionRow.definition, Text))


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

    async def published_versions(self, tenant_id: str) -> list[tuple[uuid.UUID, int, str, str]]:
        """(journey, live version, name, digest of the version's definition) of every PUBLISHED journey,
        oldest journey first: cheap enough to read once per batch, and it changes whenever a status, a
        live version or the live version's content (destinations re-pointed in place) does."""
        rows = await self._session.execute(
            select(JourneyRow.id, JourneyRow.version, JourneyRow.name, _digest())
            .join(
                JourneyVersionRow,
                and_(
                    JourneyVersionRow.journey_id == JourneyRow.id,
                    JourneyVersionRow.version == JourneyRow.version,
                ),
            )
            .where(JourneyRow.tenant_id == tenant_id, JourneyRow.status == "PUBLISHED")
            .order_by(JourneyRow.created_at, JourneyRow.id)
        )
        return [
            (journey_id, int(version), str(name), str(digest)) for journey_id, version, name, digest in rows
        ]

    async def digests(self, versions: Sequence[tuple[uuid.UUID, int]]) -> dict[tuple[uuid.UUID, int], str]:
        """The digest of each stored definition: what tells a cached copy from a re-pointed one."""
        if not versions:
            return {}
        rows = await self._session.execute(
            select(JourneyVersionRow.journey_id, JourneyVersionRow.version, _digest()).where(
                tuple_(JourneyVersionRow.journey_id, JourneyVersionRow.version).in_(list(versions))
            )
        )
        return {(journey_id, int(version)): str(digest) for journey_id, version, digest in rows}

    async def definitions(
        self, versions: Sequence[tuple[uuid.UUID, int]]
    ) -> dict[tuple[uuid.UUID, int], tuple[str, Any]]:
        """The stored definitions of these (journey, version) pairs, each with its digest."""
        if not versions:
            return {}
        rows = await self._session.execute(
            select(
                JourneyVersionRow.journey_id,
                JourneyVersionRow.version,
                _digest(),
                JourneyVersionRow.definition,
            ).where(tuple_(JourneyVersionRow.journey_id, JourneyVersionRow.version).in_(list(versions)))
        )
        return {
            (journey_id, int(version)): (str(digest), definition)
            for journey_id, version, digest, definition in rows
        }

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
