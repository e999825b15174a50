"""Customers' in-app inboxes: what IN_APP sends delivered, and marking messages read."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from domain.errors import NotFoundError
from services.uow import UnitOfWork
from store.repositories.customers import CustomerRepository
from store.repositories.inbox import InboxRepository
from store.repositories.pagination import Page, PageRequest
from store.rows import InboxMessageRow


class InboxService:
    def __init__(self, uow: UnitOfWork) -> None:
        self._inbox = InboxRepository(uow.session)
        self._customers = CustomerRepository(uow.session)

    async def list(
        self, tenant_id: str, customer_id: str, page: PageRequest, *, unread: bool | None = None
    ) -> Page[InboxMessageRow]:
        """Newest first; `unread` True: only unread, False: only read, None: all. Unknown customer: 404."""
        if await self._customers.get(tenant_id, customer_id) is None:
            raise NotFoundError("customer", customer_id)
        return await self._inbox.list(tenant_id, customer_id, page, unread=unread)

    async def mark_read(self, tenant_id: str, customer_id: str, message_id: uuid.UUID) -> InboxMessageRow:
        """Mark one of the customer's messages read; marking it again keeps the first `readAt`."""
        row = await self._inbox.mark_read(tenant_id, customer_id, message_id, datetime.now(UTC))
        if row is None:
            raise NotFoundError("inbox message", str(message_id))
        return row
