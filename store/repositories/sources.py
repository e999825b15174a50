"""Event sources (their write keys kept only as SHA-256 hashes) and the events they sent that were refused."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from store.repositories.pagination import Page, PageRequest, paginate
from store.rows import EventRejectionRow, SourceRow


class SourceRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def add(self, row: SourceRow) -> None:
        self._session.add(row)
        await self._session.flush()

    async def get(self, tenant_id: str, source_id: uuid.UUID) -> SourceRow | None:
        query = (
            select(SourceRow)
            .where(SourceRow.tenant_id == tenant_id, SourceRow.id == source_id)
            .execution_options(populate_existing=True)
        )
        return (await self._session.execute(query)).scalar_one_or_none()

    async def by_key_hash(self, key_hash: str) -> SourceRow | None:
        """The source whose write key hashes to `key_hash`, revoked or not (one unique-index lookup)."""
        query = select(SourceRow).where(SourceRow.key_hash == key_hash)
        return (await self._session.execute(query)).scalar_one_or_none()

    async def list(self, tenant_id: str, page: PageRequest) -> Page[SourceRow]:
        return await paginate(
            self._session,
            SourceRow,
            [SourceRow.tenant_id == tenant_id],
            [SourceRow.created_at.desc(), SourceRow.id],
            page,
        )

    async def revoke(self, tenant_id: str, source_id: uuid.UUID, at: datetime) -> None:
        """Set `revoked_at` once (revoking again keeps the first time)."""
        await self._session.execute(
            update(SourceRow)
            .where(
                SourceRow.tenant_id == tenant_id,
                SourceRow.id == source_id,
                SourceRow.revoked_at.is_(None),
            )
            .values(revoked_at=at)
        )


@dataclass(frozen=True)
class NewRejection:
    batch_index: int
    message_id: str | None
    code: str
    reason: str
    excerpt: str


class EventRejectionRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def add_many(
        self,
        tenant_id: str,
        source_id: uuid.UUID,
        rejections: Sequence[NewRejection],
        *,
        received_at: datetime,
    ) -> None:
        if not rejections:
            return
        await self._session.execute(
            insert(EventRejectionRow),
            [
                {
                    "tenant_id": tenant_id,
                    "source_id": source_id,
                    "batch_index": r.batch_index,
                    "message_id": r.message_id,
                    "code": r.code,
                    "reason": r.reason,
                    "excerpt": r.excerpt,
                    "received_at": received_at,
                }
                for r in rejections
            ],
        )

    async def list(self, tenant_id: str, source_id: uuid.UUID, page: PageRequest) -> Page[EventRejectionRow]:
        """Newest first (the identity orders them as they were recorded)."""
        return await paginate(
            self._session,
            EventRejectionRow,
            [EventRejectionRow.tenant_id == tenant_id, EventRejectionRow.source_id == source_id],
            [EventRejectionRow.id.desc()],
            page,
        )
