"""A customer's enrollments across journeys (event signals, the customer's enrollment list)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from store.repositories.pagination import Page, PageRequest, paginate
from store.rows import EnrollmentRow


class CustomerEnrollmentRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def active(self, tenant_id: str, customer_id: str) -> list[EnrollmentRow]:
        rows = await self._session.scalars(
            select(EnrollmentRow)
            .where(
                EnrollmentRow.tenant_id == tenant_id,
                EnrollmentRow.customer_id == customer_id,
                EnrollmentRow.status == "ACTIVE",
            )
            .order_by(EnrollmentRow.enrolled_at, EnrollmentRow.id)
        )
        return list(rows)

    async def list(
        self, tenant_id: str, customer_id: str, page: PageRequest, *, status: str | None = None
    ) -> Page[EnrollmentRow]:
        conditions: list[Any] = [
            EnrollmentRow.tenant_id == tenant_id,
            EnrollmentRow.customer_id == customer_id,
        ]
        if status:
            conditions.append(EnrollmentRow.status == status)
        return await paginate(
            self._session,
            EnrollmentRow,
            conditions,
            [EnrollmentRow.enrolled_at.desc(), EnrollmentRow.id],
            page,
        )
