"""What providers report about delivered messages (bounce, complaint, delivered, opened, clicked), the
messages those reports name, and the per-tenant secret the reports are signed with."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from store.rows import DeliveryEventRow, MessageRow, TenantSettingsRow


def provider_id_spellings(message_id: str) -> list[str]:
    """The ways a provider may write a message id we stored: as given, and an RFC 5322 Message-ID with
    or without its angle brackets (`<id@host>` / `id@host`)."""
    bare = message_id.strip()
    if bare.startswith("<") and bare.endswith(">"):
        bare = bare[1:-1]
    return sorted({message_id, bare, f"<{bare}>"})


class DeliveryEventRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def find_message(
        self, tenant_id: str, *, provider_message_id: str | None, idempotency_key: str | None
    ) -> MessageRow | None:
        """The tenant's message a report names: by the provider's id for it (what the send returned, e.g.
        an email's Message-ID), else by our send's idempotency key."""
        if provider_message_id:
            found = (
                await self._session.scalars(
                    select(MessageRow)
                    .where(
                        MessageRow.tenant_id == tenant_id,
                        MessageRow.provider_message_id.in_(provider_id_spellings(provider_message_id)),
                    )
                    .order_by(MessageRow.created_at.desc())
                    .limit(1)
                )
            ).first()
            if found is not None:
                return found
        if idempotency_key:
            return (
                await self._session.scalars(
                    select(MessageRow).where(
                        MessageRow.tenant_id == tenant_id, MessageRow.idempotency_key == idempotency_key
                    )
                )
            ).first()
        return None

    async def record(
        self,
        tenant_id: str,
        dedupe_key: str,
        *,
        type: str,
        message: MessageRow | None,
        outcome: str,
        occurred_at: datetime,
    ) -> bool:
        """Keep the report unless one with the same key was kept before; False: a duplicate."""
        inserted = await self._session.scalar(
            insert(DeliveryEventRow)
            .values(
                id=uuid.uuid4(),
                tenant_id=tenant_id,
                dedupe_key=dedupe_key,
                type=type,
                message_id=message.id if message is not None else None,
                journey_id=message.journey_id if message is not None else None,
                node_id=message.node_id if message is not None else None,
                outcome=outcome[:200],
                occurred_at=occurred_at,
            )
            .on_conflict_do_nothing(index_elements=["tenant_id", "dedupe_key"])
            .returning(DeliveryEventRow.id)
        )
        return inserted is not None

    async def for_message(self, tenant_id: str, message_id: uuid.UUID) -> list[DeliveryEventRow]:
        rows = await self._session.scalars(
            select(DeliveryEventRow)
            .where(DeliveryEventRow.tenant_id == tenant_id, DeliveryEventRow.message_id == message_id)
            .order_by(DeliveryEventRow.occurred_at, DeliveryEventRow.received_at, DeliveryEventRow.id)
        )
        return list(rows)

    async def unmatched(self, tenant_id: str) -> list[DeliveryEventRow]:
        """Reports kept for no message (the message was unknown)."""
        rows = await self._session.scalars(
            select(DeliveryEventRow)
            .where(DeliveryEventRow.tenant_id == tenant_id, DeliveryEventRow.message_id.is_(None))
            .order_by(DeliveryEventRow.received_at, DeliveryEventRow.id)
        )
        return list(rows)


class TenantSettingsRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def delivery_events_secret(self, tenant_id: str) -> str | None:
        return await self._session.scalar(
            select(TenantSettingsRow.delivery_events_secret).where(TenantSettingsRow.tenant_id == tenant_id)
        )

    async def set_delivery_events_secret(self, tenant_id: str, secret: str) -> None:
        statement = insert(TenantSettingsRow).values(tenant_id=tenant_id, delivery_events_secret=secret)
        await self._session.execute(
            statement.on_conflict_do_update(
                index_elements=["tenant_id"],
                set_={"delivery_events_secret": secret, "updated_at": func.now()},
            )
        )
