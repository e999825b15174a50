"""Customer profiles: traits and identifiers per tenant."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import func, select, text, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from store.rows import CustomerRow, ProfileUpdateLogRow

_ENSURE_MANY = text(
    """
    INSERT INTO customers (tenant_id, id, traits, identifiers)
    SELECT :tenant_id, c, '{}'::jsonb, '{}'::jsonb FROM unnest(CAST(:ids AS varchar[])) AS x(c)
    ON CONFLICT (tenant_id, id) DO NOTHING
    """
)
_MERGE_TRAITS_MANY = text(
    """
    INSERT INTO customers (tenant_id, id, traits, identifiers)
    SELECT :tenant_id, c, t, '{}'::jsonb
    FROM unnest(CAST(:ids AS varchar[]), CAST(:traits AS jsonb[])) AS x(c, t)
    ON CONFLICT (tenant_id, id) DO UPDATE
        SET traits = customers.traits || excluded.traits, updated_at = now()
    """
)


class CustomerRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def get(self, tenant_id: str, customer_id: str) -> CustomerRow | None:
        return await self._session.get(CustomerRow, (tenant_id, customer_id), populate_existing=True)

    async def upsert(
        self, tenant_id: str, customer_id: str, traits: dict[str, Any], *, merge: bool
    ) -> CustomerRow:
        """Replace (PUT) or shallow-merge (PATCH) traits in one statement, creating the profile."""
        statement = insert(CustomerRow).values(tenant_id=tenant_id, id=customer_id, traits=traits)
        new_traits = (
            CustomerRow.traits.op("||")(statement.excluded.traits) if merge else statement.excluded.traits
        )
        upsert = statement.on_conflict_do_update(
            index_elements=[CustomerRow.tenant_id, CustomerRow.id],
            set_={"traits": new_traits, "updated_at": func.now()},
        ).returning(CustomerRow)
        row: CustomerRow = (
            await self._session.execute(upsert, execution_options={"populate_existing": True})
        ).scalar_one()
        return row

    async def ensure_exists(self, tenant_id: str, customer_id: str) -> None:
        statement = (
            insert(CustomerRow)
            .values(tenant_id=tenant_id, id=customer_id, traits={})
            .on_conflict_do_nothing(index_elements=[CustomerRow.tenant_id, CustomerRow.id])
        )
        await self._session.execute(statement)

    async def ensure_many(self, tenant_id: str, customer_ids: Sequence[str]) -> None:
        """Create the profiles that do not exist yet (one statement, locked in a stable order)."""
        if customer_ids:
            await self._session.execute(
                _ENSURE_MANY, {"tenant_id": tenant_id, "ids": sorted(set(customer_ids))}
            )

    async def merge_traits_many(self, tenant_id: str, traits: Mapping[str, dict[str, Any]]) -> None:
        """Shallow-merge traits into many profiles (created when new), one statement."""
        ids = sorted(customer for customer, values in traits.items() if values)
        if ids:
            await self._session.execute(
                _MERGE_TRAITS_MANY,
                {
                    "tenant_id": tenant_id,
                    "ids": ids,
                    "traits": [json.dumps(traits[c], separators=(",", ":"), ensure_ascii=False) for c in ids],
                },
            )

    async def traits(self, tenant_id: str, customer_id: str) -> dict[str, Any] | None:
        return await self._session.scalar(
            select(CustomerRow.traits).where(
                CustomerRow.tenant_id == tenant_id, CustomerRow.id == customer_id
            )
        )

    async def claim_update(self, tenant_id: str, customer_id: str, idempotency_key: str) -> bool:
        """Record that an update step applies now; False when it was applied before (a retry)."""
        statement = (
            insert(ProfileUpdateLogRow)
            .values(tenant_id=tenant_id, customer_id=customer_id, idempotency_key=idempotency_key)
            .on_conflict_do_nothing()
            .returning(ProfileUpdateLogRow.idempotency_key)
        )
        return (await self._session.execute(statement)).scalar_one_or_none() is not None

    async def traits_for_update(self, tenant_id: str, customer_id: str) -> dict[str, Any]:
        """The customer's traits, row-locked for a read-modify-write (the profile is created if new)."""
        await self.ensure_exists(tenant_id, customer_id)
        traits = await self._session.scalar(
            select(CustomerRow.traits)
            .where(CustomerRow.tenant_id == tenant_id, CustomerRow.id == customer_id)
            .with_for_update()
        )
        return dict(traits or {})

    async def set_traits(self, tenant_id: str, customer_id: str, traits: dict[str, Any]) -> None:
        await self._session.execute(
            update(CustomerRow)
            .where(CustomerRow.tenant_id == tenant_id, CustomerRow.id == customer_id)
            .values(traits=traits, updated_at=func.now())
        )

    async def add_many(self, tenant_id: str, profiles: list[tuple[str, dict[str, Any]]]) -> None:
        """Bulk-create profiles (bulk enrollment, benchmarks); existing ones are left as they are."""
        if not profiles:
            return
        rows = [{"tenant_id": tenant_id, "id": cid, "traits": traits} for cid, traits in profiles]
        await self._session.execute(
            insert(CustomerRow)
            .values(rows)
            .on_conflict_do_nothing(index_elements=[CustomerRow.tenant_id, CustomerRow.id])
        )
