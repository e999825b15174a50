"""Event sources: who may send events through the tracking API, by write key.

A write key (`jwk_` + 256 random bits, URL-safe) is shown once, when the source is created. Only its
SHA-256 is stored (`key_hash`, unique) with a short hint to recognise it (`key_hint`, its first 8
characters, 4 of them random); the key cannot be read back. A key grants event ingestion on the
tracking routes for the source's tenant, and nothing else. Revoking a source refuses its key at once:
every request looks the key up (one indexed query), nothing is cached.
"""

from __future__ import annotations

import hashlib
import secrets
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

from domain.errors import AuthenticationError, NotFoundError
from services.uow import UnitOfWork
from store.repositories.pagination import Page, PageRequest
from store.repositories.sources import EventRejectionRepository, SourceRepository
from store.rows import EventRejectionRow, SourceRow

WRITE_KEY_PREFIX = "jwk_"
KEY_HINT_LENGTH = 8
MAX_WRITE_KEY_LENGTH = 200  # longer is not one of ours: refused without hashing
WRITE_KEY_REALM = "journeys tracking"
WRITE_KEY_CHALLENGE = f'Basic realm="{WRITE_KEY_REALM}"'  # the 401's WWW-Authenticate


def key_hash(write_key: str) -> str:
    return hashlib.sha256(write_key.encode("utf-8", "surrogatepass")).hexdigest()


def new_write_key() -> str:
    return WRITE_KEY_PREFIX + secrets.token_urlsafe(32)


@dataclass(frozen=True)
class CreatedSource:
    row: SourceRow
    write_key: str  # the only time it exists outside the caller's hands


class SourceService:
    def __init__(self, uow: UnitOfWork) -> None:
        self._uow = uow
        self._sources = SourceRepository(uow.session)
        self._rejections = EventRejectionRepository(uow.session)

    async def create(self, tenant_id: str, name: str) -> CreatedSource:
        write_key = new_write_key()
        row = SourceRow(
            id=uuid.uuid4(),
            tenant_id=tenant_id,
            name=name,
            key_hash=key_hash(write_key),
            key_hint=write_key[:KEY_HINT_LENGTH],
            created_at=datetime.now(UTC),
            revoked_at=None,
        )
        await self._sources.add(row)
        return CreatedSource(row=row, write_key=write_key)

    async def get(self, tenant_id: str, source_id: uuid.UUID) -> SourceRow:
        row = await self._sources.get(tenant_id, source_id)
        if row is None:
            raise NotFoundError("source", str(source_id))
        return row

    async def search(self, tenant_id: str, page: PageRequest) -> Page[SourceRow]:
        return await self._sources.list(tenant_id, page)

    async def revoke(self, tenant_id: str, source_id: uuid.UUID) -> None:
        await self.get(tenant_id, source_id)
        await self._sources.revoke(tenant_id, source_id, datetime.now(UTC))

    async def rejections(
        self, tenant_id: str, source_id: uuid.UUID, page: PageRequest
    ) -> Page[EventRejectionRow]:
        await self.get(tenant_id, source_id)
        return await self._rejections.list(tenant_id, source_id, page)

    async def authenticate(self, write_key: str) -> SourceRow:
        """The live source `write_key` belongs to; AuthenticationError (401) for anything else."""
        refused = AuthenticationError("unknown or revoked write key", challenge=WRITE_KEY_CHALLENGE)
        if not write_key or len(write_key) > MAX_WRITE_KEY_LENGTH:
            raise refused
        row = await self._sources.by_key_hash(key_hash(write_key))
        if row is None or row.revoked_at is not None:
            raise refused
        return row
