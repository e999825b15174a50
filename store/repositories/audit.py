"""The audit log: append one row per mutating request; list a tenant's rows, newest first."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, insert
from sqlalchemy.ext.asyncio import AsyncSession

from store.repositories.pagination import Page, PageRequest, paginate
from store.rows import AuditRow


class AuditRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def record(
        self,
        *,
        tenant_id: str,
        subject: str,
        method: str,
        path: str,
        status_code: int,
        request_id: str,
        detail: dict[str, Any] | None = None,
    ) -> None:
        await self._session.execute(
            insert(AuditRow).values(
                tenant_id=tenant_id,
                subject=subject,
                method=method,
                path=path,
                status_code=status_code,
                request_id=request_id,
                detail=detail,
            )
        )

    async def list(
        self,
        tenant_id: str,
        page: PageRequest,
        *,
        since: datetime | None = None,
        until: datetime | None = None,
    ) -> Page[AuditRow]:
        conditions: list[ColumnElement[bool]] = [AuditRow.tenant_id == tenant_id]
        if since is not None:
            conditions.append(AuditRow.at >= since)
        if until is not None:
            conditions.append(AuditRow.at < until)
        return await paginate(
            session=self._session,
            model=AuditRow,
            conditions=conditions,
            order_by=[AuditRow.at.desc(), AuditRow.id.desc()],
            page=page,
        )
