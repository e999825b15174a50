"""The audit log (written by api/audit.py; read here)."""

from __future__ import annotations

from datetime import datetime

from services.uow import UnitOfWork
from store.repositories.audit import AuditRepository
from store.repositories.pagination import Page, PageRequest
from store.rows import AuditRow


class AuditService:
    def __init__(self, uow: UnitOfWork) -> None:
        self._audit = AuditRepository(uow.session)

    async def list(
        self,
        tenant_id: str,
        page: PageRequest,
        *,
        since: datetime | None = None,
        until: datetime | None = None,
    ) -> Page[AuditRow]:
        return await self._audit.list(tenant_id, page, since=since, until=until)
