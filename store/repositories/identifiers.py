"""Customer identifiers: which customer a userId, anonymousId, email, phone, cookie or external id names."""

from __future__ import annotations

from sqlalchemy import func, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from store.rows import CustomerIdentifierRow


class IdentifierRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def resolve(self, tenant_id: str, kind: str, value: str) -> str | None:
        return await self._session.scalar(
            select(CustomerIdentifierRow.customer_id).where(
                CustomerIdentifierRow.tenant_id == tenant_id,
                CustomerIdentifierRow.kind == kind,
                CustomerIdentifierRow.value == value,
            )
        )

    async def record(self, tenant_id: str, kind: str, value: str, customer_id: str) -> None:
        """Point the identifier at the customer (the latest owner wins)."""
        statement = insert(CustomerIdentifierRow).values(
            tenant_id=tenant_id, kind=kind, value=value, customer_id=customer_id
        )
        await self._session.execute(
            statement.on_conflict_do_update(
                index_elements=[
                    CustomerIdentifierRow.tenant_id,
                    CustomerIdentifierRow.kind,
                    CustomerIdentifierRow.value,
                ],
                set_={"customer_id": statement.excluded.customer_id, "updated_at": func.now()},
                where=CustomerIdentifierRow.customer_id != statement.excluded.customer_id,
            )
        )

    async def of_customer(self, tenant_id: str, customer_id: str) -> list[tuple[str, str]]:
        rows = await self._session.execute(
            select(CustomerIdentifierRow.kind, CustomerIdentifierRow.value)
            .where(
                CustomerIdentifierRow.tenant_id == tenant_id, CustomerIdentifierRow.customer_id == customer_id
            )
            .order_by(
                CustomerIdentifierRow.kind, CustomerIdentifierRow.created_at, CustomerIdentifierRow.value
            )
        )
        return [(kind, value) for kind, value in rows]

    async def has_kind(self, tenant_id: str, customer_id: str, kind: str) -> bool:
        found = await self._session.scalar(
            select(CustomerIdentifierRow.value)
            .where(
                CustomerIdentifierRow.tenant_id == tenant_id,
                CustomerIdentifierRow.customer_id == customer_id,
                CustomerIdentifierRow.kind == kind,
            )
            .limit(1)
        )
        return found is not None

    async def repoint(self, tenant_id: str, from_customer: str, to_customer: str) -> None:
        await self._session.execute(
            update(CustomerIdentifierRow)
            .where(
                CustomerIdentifierRow.tenant_id == tenant_id,
                CustomerIdentifierRow.customer_id == from_customer,
            )
            .values(customer_id=to_customer, updated_at=func.now())
        )
