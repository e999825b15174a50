"""Customer profiles: traits, identifiers, and the customer's enrollments across journeys."""

from __future__ import annotations

from typing import Any

from domain.errors import NotFoundError
from services.identity import CustomerIdentity
from services.uow import UnitOfWork
from store.repositories.customer_enrollments import CustomerEnrollmentRepository
from store.repositories.customers import CustomerRepository
from store.repositories.pagination import Page, PageRequest
from store.rows import CustomerRow, EnrollmentRow


class CustomerService:
    def __init__(self, uow: UnitOfWork) -> None:
        self._customers = CustomerRepository(uow.session)
        self._identity = CustomerIdentity(uow)
        self._enrollments = CustomerEnrollmentRepository(uow.session)

    async def get(self, tenant_id: str, customer_id: str) -> CustomerRow:
        row = await self._customers.get(tenant_id, customer_id)
        if row is None:
            raise NotFoundError("customer", customer_id)
        return row

    async def identifiers(self, tenant_id: str, customer_id: str) -> dict[str, list[str]]:
        """userId, anonymousId, email, phone, cookie, externalContactId: each a list (maybe empty)."""
        return await self._identity.identifiers(tenant_id, customer_id)

    async def replace_traits(self, tenant_id: str, customer_id: str, traits: dict[str, Any]) -> CustomerRow:
        return await self._customers.upsert(tenant_id, customer_id, traits, merge=False)

    async def merge_traits(self, tenant_id: str, customer_id: str, traits: dict[str, Any]) -> CustomerRow:
        await self.get(tenant_id, customer_id)
        return await self._customers.upsert(tenant_id, customer_id, traits, merge=True)

    async def enrollments(
        self, tenant_id: str, customer_id: str, page: PageRequest, status: str | None
    ) -> Page[EnrollmentRow]:
        await self.get(tenant_id, customer_id)
        return await self._enrollments.list(tenant_id, customer_id, page, status=status)
