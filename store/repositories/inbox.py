"""Customers' in-app inboxes: one row per IN_APP send, written once per (tenant, idempotency key)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from store.repositories.pagination import Page, PageRequest, paginate
from store.rows import InboxMessageRow


class InboxRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def deliver(self, values: dict[str, Any]) -> InboxMessageRow:
        """Insert the message unless its key exists (a retried send); return the row either way."""
        await self._session.execute(
            insert(InboxMessageRow)
            .values(id=uuid.uuid4(), **values)
            .on_conflict_do_nothing(
                index_elements=[InboxMessageRow.tenant_id, InboxMessageRow.idempotency_key]
            )
        )
        row = await self._session.scalar(
            select(InboxMessageRow)
            .where(
                InboxMessageRow.tenant_id == values["tenant_id"],
                InboxMessageRow.idempotency_key == values["idempotency_key"],
            )
            .execution_options(populate_existing=True)
        )
        assert row is not None
        return row

    async def list(
        self, tenant_id: str, customer_id: str, page: PageRequest, *, unread: bool | None = None
    ) -> Page[InboxMessageRow]:
        conditions: list[Any] = [
            InboxMessageRow.tenant_id == tenant_id,
            InboxMessageRow.customer_id == customer_id,
        ]
        if unread is True:
            conditions.append(InboxMessageRow.read_at.is_(None))
        elif unread is False:
            conditions.append(InboxMessageRow.read_at.is_not(None))
        return await paginate(
            self._session,
            InboxMessageRow,
            conditions,
            [InboxMessageRow.created_at.desc(), InboxMessageRow.id],
            page,
        )

    async def mark_read(
        self, tenant_id: str, customer_id: str, message_id: uuid.UUID, at: datetime
    ) -> InboxMessageRow | None:
        """Set `read_at` unless already read (the first read is kept); None when no such message."""
        statement = (
            update(InboxMessageRow)
            .where(
                InboxMessageRow.tenant_id == tenant_id,
                InboxMessageRow.customer_id == customer_id,
                InboxMessageRow.id == message_id,
            )
            .values(read_at=func.coalesce(InboxMessageRow.read_at, at))
            .returning(InboxMessageRow)
        )
        row: InboxMessageRow | None = await self._session.scalar(
            statement, execution_options={"populate_existing": True}
        )
        return row
