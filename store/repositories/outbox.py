"""The dispatch outbox: workflow starts and signals written in an event's transaction, drained in
id order per customer by the dispatcher (services/dispatcher.py)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

CHANNEL = "journeys_outbox"

_INSERT = text(
    """
    INSERT INTO dispatch_outbox (tenant_id, customer_id, kind, workflow_id, request_id, payload)
    SELECT * FROM unnest(
        CAST(:tenant_ids AS varchar[]), CAST(:customer_ids AS varchar[]), CAST(:kinds AS varchar[]),
        CAST(:workflow_ids AS varchar[]), CAST(:request_ids AS varchar[]), CAST(:payloads AS jsonb[])
    )
    """
)
# Rows whose time has come, oldest first; rows another dispatcher holds are skipped, not waited for.
_CLAIM = text(
    """
    SELECT id, tenant_id, customer_id, kind, workflow_id, request_id, payload, attempts, created_at
    FROM dispatch_outbox
    WHERE dispatched_at IS NULL AND failed_at IS NULL AND available_at <= now()
    ORDER BY id
    LIMIT :limit
    FOR UPDATE SKIP LOCKED
    """
)
# Pending rows of the claimed customers below the highest claimed id: a claimed row may go only when
# every earlier pending row of its customer is claimed too (another dispatcher may hold one).
_EARLIER = text(
    """
    SELECT o.id, o.tenant_id, o.customer_id
    FROM dispatch_outbox o
    JOIN unnest(CAST(:tenant_ids AS varchar[]), CAST(:customer_ids AS varchar[])) AS k(tenant_id, customer_id)
      ON o.tenant_id = k.tenant_id AND o.customer_id = k.customer_id
    WHERE o.dispatched_at IS NULL AND o.failed_at IS NULL AND o.id < :below
    """
)
_DONE = text(
    """
    UPDATE dispatch_outbox AS o SET dispatched_at = clock_timestamp(), outcome = d.outcome,
        attempts = o.attempts + 1
    FROM unnest(CAST(:ids AS bigint[]), CAST(:outcomes AS varchar[])) AS d(id, outcome)
    WHERE o.id = d.id
    """
)
_RETRY = text(
    """
    UPDATE dispatch_outbox SET attempts = attempts + 1, last_error = :error,
        available_at = clock_timestamp() + make_interval(secs => :delay)
    WHERE id = :id
    """
)
_FAILED = text(
    """
    UPDATE dispatch_outbox SET attempts = attempts + 1, last_error = :error, failed_at = clock_timestamp()
    WHERE id = :id
    """
)
_BACKLOG = text(
    """
    SELECT count(*), min(created_at), clock_timestamp()
    FROM dispatch_outbox WHERE dispatched_at IS NULL AND failed_at IS NULL
    """
)
_FAILED_COUNT = text("SELECT count(*) FROM dispatch_outbox WHERE failed_at IS NOT NULL")
_PENDING_FOR = text(
    """
    SELECT DISTINCT workflow_id FROM dispatch_outbox
    WHERE workflow_id = ANY(CAST(:workflow_ids AS varchar[])) AND dispatched_at IS NULL AND failed_at IS NULL
    """
)
_PRUNE = text(
    """
    DELETE FROM dispatch_outbox WHERE id IN (
        SELECT id FROM dispatch_outbox WHERE dispatched_at < now() - make_interval(secs => :age) LIMIT :limit
    )
    """
)


@dataclass(frozen=True)
class OutboxEntry:
    """A row to write: what to do to which workflow, on behalf of which customer."""

    tenant_id: str
    customer_id: str
    kind: str  # "start" | "signal" | "exit" (services.segment_exits)
    workflow_id: str
    request_id: str  # deterministic: a redelivered signal is recognised by Temporal
    payload: dict[str, Any]


@dataclass(frozen=True)
class ClaimedRow:
    id: int
    tenant_id: str
    customer_id: str
    kind: str
    workflow_id: str
    request_id: str
    payload: dict[str, Any]
    attempts: int
    created_at: datetime


@dataclass(frozen=True)
class Backlog:
    pending: int
    oldest: datetime | None
    now: datetime

    @property
    def lag_seconds(self) -> float:
        return 0.0 if self.oldest is None else max(0.0, (self.now - self.oldest).total_seconds())


class OutboxRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def add(self, entries: Sequence[OutboxEntry]) -> None:
        """Write the rows (one statement) and wake the dispatchers when the transaction commits."""
        if not entries:
            return
        await self._session.execute(
            _INSERT,
            {
                "tenant_ids": [e.tenant_id for e in entries],
                "customer_ids": [e.customer_id for e in entries],
                "kinds": [e.kind for e in entries],
                "workflow_ids": [e.workflow_id for e in entries],
                "request_ids": [e.request_id for e in entries],
                "payloads": [json.dumps(e.payload, separators=(",", ":")) for e in entries],
            },
        )
        await self._session.execute(text(f"NOTIFY {CHANNEL}"))

    async def claim(self, limit: int) -> list[ClaimedRow]:
        rows = await self._session.execute(_CLAIM, {"limit": limit})
        claimed: list[ClaimedRow] = []
        for row_id, tenant_id, customer_id, kind, workflow_id, request_id, payload, attempts, created in rows:
            if isinstance(payload, str):
                payload = json.loads(payload)
            claimed.append(
                ClaimedRow(
                    row_id, tenant_id, customer_id, kind, workflow_id, request_id, payload, attempts, created
                )
            )
        return claimed

    async def earlier_pending(self, claimed: Sequence[ClaimedRow]) -> list[tuple[int, str, str]]:
        """Pending rows of the claimed rows' customers older than the newest claimed row."""
        if not claimed:
            return []
        keys = sorted({(r.tenant_id, r.customer_id) for r in claimed})
        rows = await self._session.execute(
            _EARLIER,
            {
                "tenant_ids": [k[0] for k in keys],
                "customer_ids": [k[1] for k in keys],
                "below": max(r.id for r in claimed),
            },
        )
        return [(int(i), str(t), str(c)) for i, t, c in rows]

    async def mark_done(self, done: Sequence[tuple[int, str]]) -> None:
        if done:
            await self._session.execute(
                _DONE, {"ids": [i for i, _ in done], "outcomes": [o for _, o in done]}
            )

    async def retry_later(self, row_id: int, delay_seconds: float, error: str) -> None:
        await self._session.execute(_RETRY, {"id": row_id, "delay": delay_seconds, "error": error[:2000]})

    async def mark_failed(self, row_id: int, error: str) -> None:
        await self._session.execute(_FAILED, {"id": row_id, "error": error[:2000]})

    async def backlog(self) -> Backlog:
        count, oldest, now = (await self._session.execute(_BACKLOG)).one()
        return Backlog(int(count), oldest, now)

    async def failed_count(self) -> int:
        return int(await self._session.scalar(_FAILED_COUNT) or 0)

    async def pending_workflows(self, workflow_ids: Sequence[str]) -> set[str]:
        if not workflow_ids:
            return set()
        rows = await self._session.scalars(_PENDING_FOR, {"workflow_ids": list(workflow_ids)})
        return set(rows)

    async def prune(self, older_than_seconds: float, limit: int = 10_000) -> int:
        """Delete dispatched rows older than the given age (kept a while for operators to read)."""
        result = await self._session.execute(_PRUNE, {"age": older_than_seconds, "limit": limit})
        return int(getattr(result, "rowcount", 0) or 0)
