"""Message templates."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from store.repositories.pagination import Page, PageRequest, paginate
from store.rows import TemplateRow


class TemplateRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def add(self, row: TemplateRow) -> None:
        self._session.add(row)
        await self._session.flush()

    async def get(self, tenant_id: str, template_id: uuid.UUID) -> TemplateRow | None:
        return await self._session.scalar(
            select(TemplateRow).where(TemplateRow.tenant_id == tenant_id, TemplateRow.id == template_id)
        )

    async def list(self, tenant_id: str, page: PageRequest) -> Page[TemplateRow]:
        conditions: list[Any] = [TemplateRow.tenant_id == tenant_id]
        return await paginate(
            self._session, TemplateRow, conditions, [TemplateRow.created_at.desc(), TemplateRow.id], page
        )
