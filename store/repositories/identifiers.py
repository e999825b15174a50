"""Customer identifiers: which customer a userId, anonymousId, email, phone, cookie or external id names."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import func, select, text, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from store.rows import CustomerIdentifierRow

_RECORD_MANY = text(
    """
    INSERT INTO customer_identifiers (tenant_id, kind, value, customer_id)
    SELECT :tenant_id, k, v, c
    FROM unnest(CAST(:kinds AS varchar[]), CAST(:values AS varchar[]), CAST(:customers AS varchar[]))
        AS x(k, v, c)
    ON CONFLICT (tenant_id, kind, value) DO UPDATE
        SET customer_id = excluded.customer_id, updated_at = now()
        WHERE customer_identifiers.customer_id <> excluded.customer_id
    """
)


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

    async def resolve_many(self, tenant_id: str, kind: str, values: Sequence[str]) -> dict[str, str]:
        """value → customer for the values of one kind that are known."""
        if not values:
            return {}
        rows = await self._session.execute(
            select(CustomerIdentifierRow.value, CustomerIdentifierRow.customer_id).where(
                CustomerIdentifierRow.tenant_id == tenant_id,
                CustomerIdentifierRow.kind == kind,
                CustomerIdentifierRow.value.in_(sorted(set(values))),
            )
        )
        return {str(value): str(customer) for value, customer in rows}

    async def customers_with_kind(self, tenant_id: str, customer_ids: Sequence[str], kind: str) -> set[str]:
        """Which of the customers have at least one identifier of this kind."""
        if not customer_ids:
            return set()
        rows = await self._session.scalars(
            select(CustomerIdentifierRow.customer_id)
            .where(
                CustomerIdentifierRow.tenant_id == tenant_id,
                CustomerIdentifierRow.kind == kind,
                CustomerIdentifierRow.customer_id.in_(sorted(set(customer_ids))),
            )
            .distinct()
        )
        return set(rows)

    async def record_many(self, tenant_id: str, records: Sequence[tuple[str, str, str]]) -> None:
        """(kind, value, customer) in one statement; for one (kind, value) the last record wins."""
        latest: dict[tuple[str, str], str] = {}
        for kind, value, customer in records:
            latest.pop((kind, value), None)
            latest[(kind, value)] = customer
        if not latest:
            return
        # Sorted: concurrent batches upserting the same identifiers lock them in the same order.
        keys = sorted(latest)
        await self._session.execute(
            _RECORD_MANY,
            {
                "tenant_id": tenant_id,
                "kinds": [k for k, _ in keys],
                "values": [v for _, v in keys],
                "customers": [latest[k] for k in keys],
            },
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
