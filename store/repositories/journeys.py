"""Journeys and their frozen versions."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import delete, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from store.repositories.pagination import Page, PageRequest, paginate
from store.rows import JourneyRow, JourneyVersionRow


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


class JourneyRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def add(self, row: JourneyRow) -> None:
        self._session.add(row)
        await self._session.flush()

    async def get(
        self,
        tenant_id: str,
        journey_id: uuid.UUID,
        *,
        for_update: bool = False,
        for_share: bool = False,
    ) -> JourneyRow | None:
        query = select(JourneyRow).where(JourneyRow.tenant_id == tenant_id, JourneyRow.id == journey_id)
        if for_update:
            query = query.with_for_update()
        elif for_share:
            query = query.with_for_update(read=True)
        return (await self._session.execute(query)).scalar_one_or_none()

    async def control_state(self, tenant_id: str, journey_id: uuid.UUID) -> tuple[str, str | None] | None:
        """(status, pause_mode) of a journey, or None if there is none: what in-flight enrollments read."""
        row = (
            await self._session.execute(
                select(JourneyRow.status, JourneyRow.pause_mode).where(
                    JourneyRow.tenant_id == tenant_id, JourneyRow.id == journey_id
                )
            )
        ).one_or_none()
        return None if row is None else (row.status, row.pause_mode)

    async def list(
        self,
        tenant_id: str,
        page: PageRequest,
        *,
        status: str | None = None,
        site_id: str | None = None,
        trigger_type: str | None = None,
        text: str | None = None,
    ) -> Page[JourneyRow]:
        conditions: list[Any] = [JourneyRow.tenant_id == tenant_id]
        if status:
            conditions.append(JourneyRow.status == status)
        if site_id:
            conditions.append(JourneyRow.site_id == site_id)
        if trigger_type:
            conditions.append(JourneyRow.trigger_type == trigger_type)
        if text:
            pattern = "%" + _escape_like(text) + "%"
            conditions.append(or_(JourneyRow.name.ilike(pattern), JourneyRow.description.ilike(pattern)))
        return await paginate(
            self._session, JourneyRow, conditions, [JourneyRow.created_at.desc(), JourneyRow.id], page
        )

    async def add_version(self, row: JourneyVersionRow) -> None:
        self._session.add(row)
        await self._session.flush()

    async def get_version(self, journey_id: uuid.UUID, version: int) -> JourneyVersionRow | None:
        return await self._session.get(JourneyVersionRow, (journey_id, version))

    async def delete(self, row: JourneyRow) -> None:
        await self._session.execute(delete(JourneyRow).where(JourneyRow.id == row.id))

    async def list_versions(
        self, tenant_id: str, journey_id: uuid.UUID, page: PageRequest
    ) -> Page[JourneyVersionRow]:
        conditions = [JourneyVersionRow.tenant_id == tenant_id, JourneyVersionRow.journey_id == journey_id]
        return await paginate(
            self._session, JourneyVersionRow, conditions, [JourneyVersionRow.version.desc()], page
        )
