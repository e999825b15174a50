"""Customer events: append-only, deduplicated on (tenant, messageId)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from store.rows import EventRow

# Segment evaluation reads at most this many of a customer's same-named events (newest first).
MAX_EVENTS_SCANNED = 1000


class EventRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def insert_if_absent(self, values: dict[str, Any]) -> int | None:
        """The new row's id, or None when the tenant already has this messageId.

        A concurrent insert of the same messageId waits here until the first one commits.
        """
        statement = (
            insert(EventRow)
            .values(**values)
            .on_conflict_do_nothing(index_elements=[EventRow.tenant_id, EventRow.message_id])
            .returning(EventRow.id)
        )
        return (await self._session.execute(statement)).scalar_one_or_none()

    async def insert_many(self, rows: list[dict[str, Any]]) -> None:
        """Store many events in one statement, skipping known messageIds (bulk loads, benchmarks)."""
        if rows:
            await self._session.execute(
                insert(EventRow)
                .values(rows)
                .on_conflict_do_nothing(index_elements=[EventRow.tenant_id, EventRow.message_id])
            )

    async def by_message_id(self, tenant_id: str, message_id: str) -> EventRow | None:
        return await self._session.scalar(
            select(EventRow)
            .where(EventRow.tenant_id == tenant_id, EventRow.message_id == message_id)
            .execution_options(populate_existing=True)
        )

    async def set_outcome(self, event_id: int, outcome: dict[str, Any]) -> None:
        await self._session.execute(update(EventRow).where(EventRow.id == event_id).values(outcome=outcome))

    async def named_for_customer(
        self, tenant_id: str, customer_id: str, name: str, *, session_id: str | None = None
    ) -> list[EventRow]:
        """The customer's events of one name, newest first (bounded), for counting pattern matches."""
        conditions: list[Any] = [
            EventRow.tenant_id == tenant_id,
            EventRow.customer_id == customer_id,
            EventRow.name == name,
        ]
        if session_id is not None:
            conditions.append(EventRow.session_id == session_id)
        rows = await self._session.scalars(
            select(EventRow).where(*conditions).order_by(EventRow.id.desc()).limit(MAX_EVENTS_SCANNED)
        )
        return list(rows)

    async def repoint_customer(self, tenant_id: str, from_customer: str, to_customer: str) -> None:
        """A merged anonymous profile's events now count for the known customer."""
        await self._session.execute(
            update(EventRow)
            .where(EventRow.tenant_id == tenant_id, EventRow.customer_id == from_customer)
            .values(customer_id=to_customer)
        )
