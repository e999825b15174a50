"""Customer events: append-only, deduplicated on (tenant, messageId)."""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select, text, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from store.rows import EventRow

# Segment evaluation reads at most this many of a customer's same-named events (newest first).
MAX_EVENTS_SCANNED = 1000

_INSERT_BATCH = text(
    """
    INSERT INTO events (tenant_id, source_id, received_at, message_id, type, customer_id, user_id,
        anonymous_id, session_id, name, properties, traits, context, extra, timestamp)
    SELECT :tenant_id, CAST(:source_id AS uuid), :received_at, x.*
    FROM unnest(
        CAST(:message_ids AS varchar[]), CAST(:types AS varchar[]), CAST(:customer_ids AS varchar[]),
        CAST(:user_ids AS varchar[]), CAST(:anonymous_ids AS varchar[]), CAST(:session_ids AS varchar[]),
        CAST(:names AS varchar[]), CAST(:properties AS jsonb[]), CAST(:traits AS jsonb[]),
        CAST(:contexts AS jsonb[]), CAST(:extras AS jsonb[]), CAST(:timestamps AS timestamptz[])
    ) AS x
    ON CONFLICT (tenant_id, message_id) DO NOTHING
    RETURNING message_id, id
    """
)
_STORED_OUTCOMES = text(
    """
    SELECT message_id, customer_id, outcome FROM events
    WHERE tenant_id = :tenant_id AND message_id = ANY(CAST(:message_ids AS varchar[]))
    """
)
_SET_OUTCOMES = text(
    """
    UPDATE events AS e SET outcome = o.outcome
    FROM unnest(CAST(:ids AS bigint[]), CAST(:outcomes AS jsonb[])) AS o(id, outcome)
    WHERE e.id = o.id
    """
)


def _json(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


@dataclass(frozen=True)
class NewEvent:
    """One event of a batch, as stored."""

    message_id: str
    type: str
    customer_id: str
    user_id: str | None
    anonymous_id: str | None
    session_id: str | None
    name: str
    properties: dict[str, Any]
    traits: dict[str, Any]
    context: dict[str, Any]
    extra: dict[str, Any]
    timestamp: datetime


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

    async def insert_batch(
        self,
        tenant_id: str,
        events: Sequence[NewEvent],
        *,
        received_at: datetime,
        source_id: uuid.UUID | None = None,
    ) -> dict[str, int]:
        """Store a batch in one statement; the ids of the messageIds that were new (the rest are
        duplicates). A concurrent insert of the same messageId waits here until the first commits."""
        if not events:
            return {}
        rows = await self._session.execute(
            _INSERT_BATCH,
            {
                "tenant_id": tenant_id,
                "source_id": source_id,
                "received_at": received_at,
                "message_ids": [e.message_id for e in events],
                "types": [e.type for e in events],
                "customer_ids": [e.customer_id for e in events],
                "user_ids": [e.user_id for e in events],
                "anonymous_ids": [e.anonymous_id for e in events],
                "session_ids": [e.session_id for e in events],
                "names": [e.name for e in events],
                "properties": [_json(e.properties) for e in events],
                "traits": [_json(e.traits) for e in events],
                "contexts": [_json(e.context) for e in events],
                "extras": [_json(e.extra) for e in events],
                "timestamps": [e.timestamp for e in events],
            },
        )
        return {str(message_id): int(row_id) for message_id, row_id in rows}

    async def stored_outcomes(
        self, tenant_id: str, message_ids: Sequence[str]
    ) -> dict[str, tuple[str, dict[str, Any]]]:
        """(customer, first outcome) of already stored events, by messageId."""
        if not message_ids:
            return {}
        rows = await self._session.execute(
            _STORED_OUTCOMES, {"tenant_id": tenant_id, "message_ids": list(message_ids)}
        )
        found: dict[str, tuple[str, dict[str, Any]]] = {}
        for message_id, customer_id, outcome in rows:
            if isinstance(outcome, str):
                outcome = json.loads(outcome)
            found[str(message_id)] = (str(customer_id), outcome or {})
        return found

    async def set_outcomes(self, outcomes: Sequence[tuple[int, dict[str, Any]]]) -> None:
        if outcomes:
            await self._session.execute(
                _SET_OUTCOMES,
                {"ids": [i for i, _ in outcomes], "outcomes": [_json(o) for _, o in outcomes]},
            )

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
