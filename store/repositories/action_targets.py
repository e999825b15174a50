"""Action targets: where SEND nodes deliver (webhook endpoints, provider accounts)."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from store.repositories.pagination import Page, PageRequest, paginate
from store.rows import ActionTargetRow


class ActionTargetRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def add(self, row: ActionTargetRow) -> None:
        self._session.add(row)
        await self._session.flush()

    async def get(
        self, tenant_id: str, target_id: uuid.UUID, *, for_update: bool = False
    ) -> ActionTargetRow | None:
        query = (
            select(ActionTargetRow)
            .where(ActionTargetRow.tenant_id == tenant_id, ActionTargetRow.id == target_id)
            .execution_options(populate_existing=True)
        )
        if for_update:
            query = query.with_for_update()
        return (await self._session.execute(query)).scalar_one_or_none()

    async def list(
        self,
        tenant_id: str,
        page: PageRequest,
        *,
        channel: str | None = None,
        enabled: bool | None = None,
    ) -> Page[ActionTargetRow]:
        conditions: list[Any] = [ActionTargetRow.tenant_id == tenant_id]
        if channel:
            conditions.append(ActionTargetRow.channel == channel)
        if enabled is not None:
            conditions.append(ActionTargetRow.enabled.is_(enabled))
        return await paginate(
            self._session,
            ActionTargetRow,
            conditions,
            [ActionTargetRow.created_at.desc(), ActionTargetRow.id],
            page,
        )

    async def disable(self, tenant_id: str, target_id: uuid.UUID, reason: str) -> None:
        """Switch a target off (e.g. its receiver answered 410 Gone); a PATCH with enabled=true undoes it."""
        await self._session.execute(
            update(ActionTargetRow)
            .where(ActionTargetRow.tenant_id == tenant_id, ActionTargetRow.id == target_id)
            .values(enabled=False, disabled_reason=reason, updated_at=func.now())
        )
