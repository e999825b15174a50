"""The suppression list as operators see it: addresses no message goes to (a hard bounce, a complaint),
listed and lifted by id (an address is PII and never travels in a URL). Entries are added by provider
delivery events (services/delivery_events.py); the send path reads them (`SuppressionRepository.find`)."""

from __future__ import annotations

import uuid

from domain.errors import NotFoundError
from services.uow import UnitOfWork
from store.repositories.pagination import Page, PageRequest
from store.repositories.suppressions import SuppressionRepository
from store.rows import SuppressionRow


class SuppressionService:
    def __init__(self, uow: UnitOfWork) -> None:
        self._suppressions = SuppressionRepository(uow.session)

    async def search(
        self, tenant_id: str, page: PageRequest, *, channel: str | None = None, reason: str | None = None
    ) -> Page[SuppressionRow]:
        return await self._suppressions.list(tenant_id, page, channel=channel, reason=reason)

    async def lift(self, tenant_id: str, suppression_id: uuid.UUID) -> None:
        """Remove the entry: later sends to the address go out again."""
        if not await self._suppressions.delete(tenant_id, suppression_id):
            raise NotFoundError("suppression", str(suppression_id))
