"""The delivery log: one row per (tenant, idempotency key), whatever the retries."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import and_, func, or_, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from store.repositories.pagination import Page, PageRequest, paginate
from store.rows import MessageRow


class MessageRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def lock_customer(self, tenant_id: str, customer_id: str) -> None:
        """Serialise this transaction with every other send to the same customer until it ends.

        Frequency caps count the customer's messages and then claim one: without this lock two concurrent
        sends could both count below the limit and both claim. Transaction-scoped (released at commit or
        rollback); a hash collision only serialises two unrelated customers a little.
        """
        await self._session.execute(
            select(
                func.pg_advisory_xact_lock(
                    func.hashtext("journeys.messages"), func.hashtext(f"{tenant_id}:{customer_id}")
                )
            )
        )

    async def claim(self, values: dict[str, Any]) -> MessageRow:
        """Insert the message as queued unless its key exists; return the row either way."""
        row, _created = await self.claim_new(values)
        return row

    async def claim_new(self, values: dict[str, Any]) -> tuple[MessageRow, bool]:
        """`claim`, also telling whether this call created the row (False: a retry found it)."""
        created = await self._session.scalar(
            insert(MessageRow)
            .values(id=uuid.uuid4(), status="queued", **values)
            .on_conflict_do_nothing(index_elements=[MessageRow.tenant_id, MessageRow.idempotency_key])
            .returning(MessageRow.id)
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
        return row, created is not None

    async def count_recent(
        self,
        tenant_id: str,
        customer_id: str,
        *,
        since: datetime,
        channel: str | None = None,
        excluding: uuid.UUID | None = None,
    ) -> int:
        """The customer's messages that take a frequency-cap slot since `since`, on `channel` or any.

        Sent ones count by when they were sent; queued ones (admitted, being delivered or retried) by
        when they were claimed, so a slot is held from admission on. Failed and suppressed ones never count.
        """
        conditions: list[Any] = [
            MessageRow.tenant_id == tenant_id,
            MessageRow.customer_id == customer_id,
            or_(
                and_(MessageRow.status == "sent", MessageRow.sent_at >= since),
                and_(MessageRow.status == "queued", MessageRow.created_at >= since),
            ),
        ]
        if channel is not None:
            conditions.append(MessageRow.channel == channel)
        if excluding is not None:
            conditions.append(MessageRow.id != excluding)
        count = await self._session.scalar(select(func.count()).select_from(MessageRow).where(*conditions))
        return int(count or 0)

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
        reason: str | None = None,
    ) -> None:
        """Set the status and error (both always); the other fields only when given. `reason`: why it was
        suppressed (unsubscribed, not_opted_in, bounced, complained, frequency_cap)."""
        changes: dict[str, Any] = {"status": status, "error": error}
        for name, value in (
            ("sent_at", sent_at),
            ("provider_message_id", provider_message_id),
            ("recipient", recipient),
            ("subject", subject),
            ("reason", reason),
        ):
            if value is not None:
                changes[name] = value
        await self._session.execute(update(MessageRow).where(MessageRow.id == message_id).values(**changes))

    async def assign_group(self, message_id: uuid.UUID, group_id: uuid.UUID | None) -> None:
        """Record the subscription group the message is judged under (None: transactional, or none)."""
        await self._session.execute(
            update(MessageRow).where(MessageRow.id == message_id).values(subscription_group_id=group_id)
        )

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
        conditions: list[Any] = [MessageRow.tenant_id == tenant_id]
        if reason:
            conditions.append(MessageRow.reason == reason)
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
