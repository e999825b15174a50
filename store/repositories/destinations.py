"""A SEND node's config as its version stores it now: what `PATCH …/destinations` re-points in place.

A version's graph and content are frozen at publish, but its SENDs' destinations (`templateId`,
`actionTargetId`) may change afterwards; the send activity reads them here at send time, so every
enrollment of the version — waiting ones included — sends to the destination as it is now.
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import cast, func, literal, select
from sqlalchemy.dialects.postgresql import JSONB, JSONPATH
from sqlalchemy.ext.asyncio import AsyncSession

from store.rows import JourneyVersionRow

# The config of the SEND node whose id is `$id` (the first, node ids are unique in a version).
_SEND_CONFIG = '$.nodes[*] ? (@.id == $id && @.type == "SEND").config'


class DestinationRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def send_config(
        self, tenant_id: str, journey_id: uuid.UUID, version: int, node_id: str
    ) -> dict[str, Any] | None:
        """The stored config of SEND `node_id` of the version (wire form, camelCase), or None when the
        version or the node is gone. One primary-key read; the node is picked out in the database."""
        config = func.jsonb_path_query_first(
            JourneyVersionRow.definition,
            cast(literal(_SEND_CONFIG), JSONPATH),
            func.jsonb_build_object("id", node_id),
            type_=JSONB,
        )
        found = await self._session.execute(
            select(config).where(
                JourneyVersionRow.journey_id == journey_id,
                JourneyVersionRow.version == version,
                JourneyVersionRow.tenant_id == tenant_id,
            )
        )
        stored = found.scalar_one_or_none()
        return stored if isinstance(stored, dict) else None
