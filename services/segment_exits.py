"""Exit criteria on segments (`exitCriteria.segments`): leaving a segment ends the enrollment at once.

How a customer leaves a segment, and what exits their enrollments:

- **unassigned through the API** (`POST /externalcontacts/{id}/segments`, state `Unassigned`), and
- **an assignment that expired and is assigned again** (by an event or the API) before the sweep below
  saw it: `services.segments.AssignmentService` asks `SegmentExits.on_leave` in the same transaction;
- **an assignment that expired** (nothing happens at that moment): `SegmentExitSweeper`, run by the
  dispatcher process every reconcile interval, finds the enrollments it ends.

Events only ever assign (Genesys segments), so an event never makes a customer leave, and ingestion
pays nothing for this feature but on the rare re-assignment of an expired membership (one query).
A segment named by a journey's exit criteria cannot be deleted (`SegmentService.delete`).

Every exit is written to the dispatch outbox in the transaction that saw the leave, as a row of kind
`exit` (a `ControlSignal` with the reason `left segment <name>`): it cannot be lost to a process dying
after the commit, is retried while Temporal is away, and goes in order with the customer's event
signals (`services.dispatcher`). Its request id is fixed per (workflow, segment), so Temporal drops a
second delivery while the workflow runs; a finished workflow answers "gone".
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from datetime import UTC, datetime

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from domain.payloads import ControlSignal
from store.repositories.exit_segments import ExitSegmentRepository, SegmentExit
from store.repositories.outbox import OutboxEntry, OutboxRepository
from store.rows import SegmentRow

logger = logging.getLogger(__name__)

EXIT = "exit"
_NAMESPACE = uuid.UUID("3d0c4f1e-8a57-4b61-9a0e-5c2f7e9b1a43")
_LOCK = text("SELECT pg_try_advisory_xact_lock(hashtext('journeys-segment-exits'))")


def exit_reason(segment_name: str) -> str:
    return f"left segment {segment_name}"


def exit_entry(leave: SegmentExit) -> OutboxEntry:
    """The outbox row that exits one enrollment because its customer left a segment."""
    payload = ControlSignal(reason=exit_reason(leave.segment_name or leave.segment_id))
    request_id = str(uuid.uuid5(_NAMESPACE, f"{leave.workflow_id}|exit-segment:{leave.segment_id}"))
    return OutboxEntry(
        leave.tenant_id,
        leave.customer_id,
        EXIT,
        leave.workflow_id,
        request_id,
        payload.model_dump(mode="json"),
    )


class SegmentExits:
    """Exits the enrollments a leave ends, in the caller's transaction (through the outbox)."""

    def __init__(self, session: AsyncSession) -> None:
        self._repository = ExitSegmentRepository(session)
        self._outbox = OutboxRepository(session)

    async def on_leave(
        self, tenant_id: str, customer_id: str, segment: SegmentRow, left_at: datetime, now: datetime
    ) -> int:
        """The customer left `segment` at `left_at` and is not in it at `now`: exit each ACTIVE
        enrollment they had entered by then whose version's exit criteria list it. One query, and
        one insert when any is found. Call it while the assignment that ended is still not current
        (before a re-assignment is written)."""
        leaves = await self._repository.exits_on_leave(tenant_id, customer_id, segment, left_at, now)
        await self._outbox.add([exit_entry(leave) for leave in leaves])
        return len(leaves)


class SegmentExitSweeper:
    """Finds enrollments whose customer left an exit segment by expiry, and exits them.

    One process at a time sweeps (a transaction-scoped advisory lock elects it), a page of `page_size`
    enrollments per pass in id order; an enrollment whose workflow still has a pending outbox row (its
    exit, or its start) is left for a later pass.
    """

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        *,
        interval_seconds: float = 30.0,
        page_size: int = 500,
    ) -> None:
        self._sessions = sessions
        self._interval = interval_seconds
        self._page_size = page_size
        self._cursor: uuid.UUID | None = None

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                await self.sweep_once()
            except Exception:
                logger.exception("segment exits: a sweep failed")
            try:
                await asyncio.wait_for(stop.wait(), timeout=self._interval)
            except TimeoutError:
                continue

    async def sweep_once(self, now: datetime | None = None) -> int:
        """One page; how many exits were written (0 when another process holds the lock)."""
        async with self._sessions() as session, session.begin():
            if not await session.scalar(_LOCK):
                return 0
            page = await ExitSegmentRepository(session).expired_leaves(
                now or datetime.now(UTC), after=self._cursor, limit=self._page_size
            )
            self._cursor = page[-1][0] if len(page) == self._page_size else None
            outbox = OutboxRepository(session)
            waiting = await outbox.pending_workflows(sorted({leave.workflow_id for _, leave in page}))
            written: set[str] = set()
            entries: list[OutboxEntry] = []
            for _, leave in page:
                if leave.workflow_id in waiting or leave.workflow_id in written:
                    continue  # one exit per enrollment, even when it left two of its exit segments
                written.add(leave.workflow_id)
                entries.append(exit_entry(leave))
            await outbox.add(entries)
        if entries:
            logger.info("segment exits: %d enrollment(s) left an exit segment by expiry", len(entries))
        return len(entries)
