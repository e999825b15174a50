"""Customer profiles."""

from __future__ import annotations

from typing import Any

from domain.errors import NotFoundError
from services.uow import UnitOfWork
from store.repositories.customers import CustomerRepository
from store.rows import CustomerRow


class CustomerService:
    def __init__(self, uow: UnitOfWork) -> None:
        self._customers = CustomerRepository(uow.session)

    async def get(self, tenant_id: str, customer_id: str) -> CustomerRow:
        row = await self._customers.get(tenant_id, customer_id)
        if row is None:
            raise NotFoundError("customer", customer_id)
        return row

    async def replace_traits(self, tenant_id: str, customer_id: str, traits: dict[str, Any]) -> CustomerRow:
        return await self._customers.upsert(tenant_id, customer_id, traits, merge=False)

    async def merge_traits(self, tenant_id: str, customer_id: str, traits: dict[str, Any]) -> CustomerRow:
        await self.get(tenant_id, customer_id)
        return await self._customers.upsert(tenant_id, customer_id, traits, merge=True)
