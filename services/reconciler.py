"""The reconciler: finds ACTIVE enrollments whose workflow does not exist and starts them again.

How one gets orphaned: a process that died between committing an entry and starting its workflow
(entries made outside the outbox: the API's manual enroll, audiences, schedules), or a Temporal
restored from a backup older than the database. Every `interval`, one dispatcher (a transaction-scoped
advisory lock elects it) walks the next page of ACTIVE enrollments older than `grace` and asks Temporal
about each; one Temporal has never heard of is restarted on the version it entered on, with the event it
entered with, through the outbox — so it is ordered with the customer's later signals like any start.
A restarted enrollment begins again at its first step: what it had done is in the step history, but the
workflow's own progress was lost with it.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.common import MetricMeter

from domain.events import EventRecord
from domain.metrics import ENROLLMENTS_HEALED
from domain.payloads import EnrollmentInput
from services.ingestion import start_entry
from services.live_journeys import VERSIONS, VersionCache
from services.temporal import EnrollmentGateway
from services.uow import EnrollmentStart
from store.repositories.enrollments import EnrollmentRepository
from store.repositories.events import EventRepository
from store.repositories.outbox import OutboxRepository
from store.rows import EnrollmentRow, JourneyRow

logger = logging.getLogger(__name__)
_LOCK = text("SELECT pg_try_advisory_xact_lock(hashtext('journeys-reconciler'))")


@dataclass(frozen=True)
class ReconcilerConfig:
    interval_seconds: float = 30.0
    grace_seconds: float = 120.0
    page_size: int = 500
    concurrency: int = 16


class Reconciler:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        gateway: EnrollmentGateway,
        *,
        config: ReconcilerConfig | None = None,
        meter: MetricMeter = MetricMeter.noop,
        versions: VersionCache = VERSIONS,
    ) -> None:
        self._sessions = sessions
        self._gateway = gateway
        self._config = config or ReconcilerConfig()
        self._healed = meter.create_counter(
            ENROLLMENTS_HEALED, "ACTIVE enrollments whose lost workflow was restarted"
        )
        self._versions = versions
        self._cursor: uuid.UUID | None = None
        self.healed_total = 0

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                await self.sweep_once()
            except Exception:
                logger.exception("reconciler: a sweep failed")
            try:
                await asyncio.wait_for(stop.wait(), timeout=self._config.interval_seconds)
            except TimeoutError:
                continue

    async def sweep_once(self) -> int:
        """Check one page of ACTIVE enrollments; how many were restarted (0 when another holds the lock)."""
        async with self._sessions() as session, session.begin():
            if not await session.scalar(_LOCK):
                return 0
            before = datetime.now(UTC) - timedelta(seconds=self._config.grace_seconds)
            page = await EnrollmentRepository(session).active_sweep(
                after=self._cursor, enrolled_before=before, limit=self._config.page_size
            )
            self._cursor = page[-1].id if len(page) == self._config.page_size else None
            waiting = await OutboxRepository(session).pending_workflows([r.workflow_id for r in page])
            candidates = [r for r in page if r.workflow_id not in waiting]
            gate = asyncio.Semaphore(self._config.concurrency)

            async def lost(row: EnrollmentRow) -> bool:
                async with gate:
                    return not await self._gateway.exists(row.workflow_id)

            answers = await asyncio.gather(*(lost(r) for r in candidates))
            orphans = [r for r, gone in zip(candidates, answers, strict=True) if gone]
            if orphans:
                await self._restart(session, orphans)
        return len(orphans)

    async def _restart(self, session: AsyncSession, orphans: list[EnrollmentRow]) -> None:
        definitions = await self._versions.get_many(
            session, sorted({(r.journey_id, r.version) for r in orphans})
        )
        journey_ids = {r.journey_id for r in orphans}
        named = await session.execute(
            select(JourneyRow.id, JourneyRow.name).where(JourneyRow.id.in_(journey_ids))
        )
        names = {journey_id: str(name) for journey_id, name in named}
        events = EventRepository(session)
        entries = []
        for row in orphans:
            definition = definitions.get((row.journey_id, row.version))
            if definition is None:
                continue
            trigger: EventRecord | None = None
            if row.entry_message_id is not None:
                stored = await events.by_message_id(row.tenant_id, row.entry_message_id)
                if stored is not None:
                    trigger = EventRecord(
                        id=stored.message_id,
                        type=stored.type,
                        name=stored.name,
                        properties=stored.properties,
                        traits=stored.traits,
                        timestamp=stored.timestamp,
                    )
            payload = EnrollmentInput(
                tenant_id=row.tenant_id,
                journey_id=str(row.journey_id),
                journey_name=names.get(row.journey_id, ""),
                version=row.version,
                customer_id=row.customer_id,
                entry_number=row.entry_number,
                enrollment_id=str(row.id),
                enrolled_at=row.enrolled_at,
                definition=definition,
                trigger_event=trigger,
                # A lost test run of a published version restarts as a test run (unhastened: its speed is
                # not stored); one of the draft (version 0) has no stored definition and is left as it is.
                test=row.test,
            )
            entries.append(
                start_entry(row.tenant_id, row.customer_id, EnrollmentStart(row.workflow_id, payload))
            )
            logger.warning(
                "reconciler: enrollment %s had no workflow; restarting %s on version %d",
                row.id,
                row.workflow_id,
                row.version,
                extra={
                    "tenant_id": row.tenant_id,
                    "journey_id": str(row.journey_id),
                    "enrollment_id": str(row.id),
                },
            )
        await OutboxRepository(session).add(entries)
        self._healed.add(len(entries))
        self.healed_total += len(entries)
