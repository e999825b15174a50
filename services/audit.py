"""The audit log: one entry per mutating request (recorded by the API's middleware), read by tenant."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from services.uow import UnitOfWork
from store.repositories.audit import AuditRepository
from store.repositories.pagination import Page, PageRequest
from store.rows import AuditRow


class AuditService:
    def __init__(self, uow: UnitOfWork) -> None:
        self._audit = AuditRepository(uow.session)

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
        await self._audit.record(
            tenant_id=tenant_id,
            subject=subject,
            method=method,
            path=path,
            status_code=status_code,
            request_id=request_id,
            detail=detail,
        )

    async def list(
        self,
        tenant_id: str,
        page: PageRequest,
        *,
        since: datetime | None = None,
        until: datetime | None = None,
    ) -> Page[AuditRow]:
        return await self._audit.list(tenant_id, page, since=since, until=until)
