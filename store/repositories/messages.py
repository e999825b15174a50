"""The delivery log: one row per (tenant, idempotency key), whatever the retries."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from store.repositories.pagination import Page, PageRequest, paginate
from store.rows import MessageRow


class MessageRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def claim(self, values: dict[str, Any]) -> MessageRow:
        """Insert the message as queued unless its key exists; return the row either way."""
        await self._session.execute(
            insert(MessageRow)
            .values(id=uuid.uuid4(), status="queued", **values)
            .on_conflict_do_nothing(index_elements=[MessageRow.tenant_id, MessageRow.idempotency_key])
        )
        row = await self._session.scalar(
            select(MessageRow)
            .where(
                MessageRow.tenant_id == values["tenant_id"],
                MessageRow.idempotency_key == values["idempotency_key"],
            )
            .execution_options(populate_existing=True)
        )
        assert row is not None
        return row

    async def mark(
        self,
        message_id: uuid.UUID,
        *,
        status: str,
        sent_at: datetime | None = None,
        error: str | None = None,
        provider_message_id: str | None = None,
        recipient: str | None = None,
        subject: str | None = None,
    ) -> None:
        changes: dict[str, Any] = {"status": status, "error": error}
        for name, value in (
            ("sent_at", sent_at),
            ("provider_message_id", provider_message_id),
            ("recipient", recipient),
            ("subject", subject),
        ):
            if value is not None:
                changes[name] = value
        await self._session.execute(update(MessageRow).where(MessageRow.id == message_id).values(**changes))

    async def list(
        self,
        tenant_id: str,
        page: PageRequest,
        *,
        status: str | None = None,
        channel: str | None = None,
        journey_id: uuid.UUID | None = None,
        customer_id: str | None = None,
    ) -> Page[MessageRow]:
        conditions: list[Any] = [MessageRow.tenant_id == tenant_id]
        if status:
            conditions.append(MessageRow.status == status)
        if channel:
            conditions.append(MessageRow.channel == channel)
        if journey_id:
            conditions.append(MessageRow.journey_id == journey_id)
        if customer_id:
            conditions.append(MessageRow.customer_id == customer_id)
        return await paginate(
            self._session, MessageRow, conditions, [MessageRow.created_at.desc(), MessageRow.id], page
        )
