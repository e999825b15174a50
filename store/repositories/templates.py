"""Message templates."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from store.repositories.pagination import Page, PageRequest, paginate
from store.rows import JourneyRow, JourneyVersionRow, TemplateRow


class TemplateRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def add(self, row: TemplateRow) -> None:
        self._session.add(row)
        await self._session.flush()

    async def get(
        self, tenant_id: str, template_id: uuid.UUID, *, for_update: bool = False
    ) -> TemplateRow | None:
        query = select(TemplateRow).where(TemplateRow.tenant_id == tenant_id, TemplateRow.id == template_id)
        if for_update:
            query = query.with_for_update()
        return await self._session.scalar(query)

    async def list(
        self, tenant_id: str, page: PageRequest, *, channel: str | None = None
    ) -> Page[TemplateRow]:
        conditions: list[Any] = [TemplateRow.tenant_id == tenant_id]
        if channel:
            conditions.append(TemplateRow.channel == channel)
        return await paginate(
            self._session, TemplateRow, conditions, [TemplateRow.created_at.desc(), TemplateRow.id], page
        )

    async def delete(self, row: TemplateRow) -> None:
        await self._session.execute(delete(TemplateRow).where(TemplateRow.id == row.id))

    async def journey_using(self, tenant_id: str, template_id: uuid.UUID) -> JourneyRow | None:
        """A journey that is not archived and names the template in its draft or in any of its versions."""
        uses = {"nodes": [{"config": {"templateId": str(template_id)}}]}
        in_a_version = select(JourneyVersionRow.journey_id).where(
            JourneyVersionRow.tenant_id == tenant_id, JourneyVersionRow.definition.contains(uses)
        )
        return await self._session.scalar(
            select(JourneyRow)
            .where(
                JourneyRow.tenant_id == tenant_id,
                JourneyRow.status != "ARCHIVED",
                JourneyRow.draft.contains(uses) | JourneyRow.id.in_(in_a_version),
            )
            .order_by(JourneyRow.created_at)
            .limit(1)
        )
