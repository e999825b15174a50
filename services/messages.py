"""The delivery log."""

from __future__ import annotations

import uuid

from services.uow import UnitOfWork
from store.repositories.messages import MessageRepository
from store.repositories.pagination import Page, PageRequest
from store.rows import MessageRow


class MessageService:
    def __init__(self, uow: UnitOfWork) -> None:
        self._messages = MessageRepository(uow.session)

    async def list(
        self,
        tenant_id: str,
        page: PageRequest,
        *,
        status: str | None = None,
        channel: str | None = None,
        journey_id: uuid.UUID | None = None,
        customer_id: str | None = None,
        reason: str | None = None,
    ) -> Page[MessageRow]:
        return await self._messages.list(
            tenant_id,
            page,
            status=status,
            channel=channel,
            journey_id=journey_id,
            customer_id=customer_id,
            reason=reason,
        )
