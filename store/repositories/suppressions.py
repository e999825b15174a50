"""The suppression list: addresses no message goes to (a hard bounce, a complaint), per tenant and channel.

Addresses are stored normalized (`normalize_address`), and every lookup normalizes what it is given, so
the send path and a provider's delivery event agree on `Ann@Example.COM` and `ann@example.com`.
"""

from __future__ import annotations

import contextlib
import uuid
from typing import Any

from email_validator import EmailNotValidError, validate_email
from sqlalchemy import delete, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from store.repositories.pagination import Page, PageRequest, paginate
from store.rows import SuppressionRow


def normalize_address(channel: str, address: str) -> str:
    """One spelling per address: an email as email_validator normalizes it, then lower-cased (mailbox
    providers treat the local part case-insensitively); anything else with its spaces trimmed."""
    address = address.strip()
    if channel == "EMAIL":
        with contextlib.suppress(EmailNotValidError):  # kept as given: still one spelling per address
            address = validate_email(address, check_deliverability=False).normalized
        return address.lower()
    return address


class SuppressionRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def find(self, tenant_id: str, channel: str, address: str) -> SuppressionRow | None:
        """The entry that stops sends on `channel` to `address`, if there is one."""
        query = select(SuppressionRow).where(
            SuppressionRow.tenant_id == tenant_id,
            SuppressionRow.channel == channel,
            SuppressionRow.address == normalize_address(channel, address),
        )
        return (await self._session.execute(query)).scalar_one_or_none()

    async def add(
        self,
        tenant_id: str,
        channel: str,
        address: str,
        reason: str,
        *,
        message_id: uuid.UUID | None = None,
        detail: str | None = None,
    ) -> tuple[SuppressionRow, bool]:
        """Suppress the address (idempotent: an address already listed keeps its first entry).
        Returns the entry and whether this call created it."""
        normalized = normalize_address(channel, address)
        while True:
            inserted = await self._session.scalar(
                insert(SuppressionRow)
                .values(
                    id=uuid.uuid4(),
                    tenant_id=tenant_id,
                    channel=channel,
                    address=normalized,
                    reason=reason,
                    message_id=message_id,
                    detail=detail,
                )
                .on_conflict_do_nothing(index_elements=["tenant_id", "channel", "address"])
                .returning(SuppressionRow.id)
            )
            row = await self.find(tenant_id, channel, normalized)
            if row is not None:  # else: the entry we collided with was lifted meanwhile; insert again
                return row, inserted is not None

    async def get(self, tenant_id: str, suppression_id: uuid.UUID) -> SuppressionRow | None:
        query = select(SuppressionRow).where(
            SuppressionRow.tenant_id == tenant_id, SuppressionRow.id == suppression_id
        )
        return (await self._session.execute(query)).scalar_one_or_none()

    async def list(
        self,
        tenant_id: str,
        page: PageRequest,
        *,
        channel: str | None = None,
        reason: str | None = None,
    ) -> Page[SuppressionRow]:
        conditions: list[Any] = [SuppressionRow.tenant_id == tenant_id]
        if channel:
            conditions.append(SuppressionRow.channel == channel)
        if reason:
            conditions.append(SuppressionRow.reason == reason)
        return await paginate(
            self._session,
            SuppressionRow,
            conditions,
            [SuppressionRow.created_at.desc(), SuppressionRow.id],
            page,
        )

    async def delete(self, tenant_id: str, suppression_id: uuid.UUID) -> bool:
        """Lift an entry; False when the tenant has no entry with that id."""
        deleted = await self._session.scalar(
            delete(SuppressionRow)
            .where(SuppressionRow.tenant_id == tenant_id, SuppressionRow.id == suppression_id)
            .returning(SuppressionRow.id)
        )
        return deleted is not None
