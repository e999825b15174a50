"""Enrollment rows and their step history: the projection of what workflows did."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import ColumnElement, Table, func, select, text
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from domain.payloads import ProgressBatch
from store.repositories.pagination import Page, PageRequest, paginate
from store.repositories.rollups import RollupRepository, step_deltas
from store.rows import EnrollmentRow, EnrollmentStepRow

_ENROLLMENTS = cast(Table, EnrollmentRow.__table__)
_STEPS = cast(Table, EnrollmentStepRow.__table__)


def _enrollment_upsert() -> Any:
    statement = insert(_ENROLLMENTS)
    mutable = (
        "status",
        "converted",
        "current_step_id",
        "waiting_until",
        "completed_at",
        "version",
        "exit_reason",
        "converted_at",
    )
    return statement.on_conflict_do_update(
        index_elements=[_ENROLLMENTS.c.id],
        set_={**{name: statement.excluded[name] for name in mutable}, "updated_at": func.now()},
    )


def _step_upsert() -> Any:
    statement = insert(_STEPS)
    return statement.on_conflict_do_update(
        index_elements=[_STEPS.c.enrollment_id, _STEPS.c.node_id, _STEPS.c.visit],
        set_={
            name: statement.excluded[name]
            for name in ("status", "branch", "detail", "completed_at", "decision")
        },
    )


# Built once, executed with parameters (one row, or executemany for steps): every projection write
# runs on the hot path of every enrollment, and a statement rebuilt per call is compiled per call.
_ENROLLMENT_UPSERT = _enrollment_upsert()
_STEP_UPSERT = _step_upsert()


_LATEST_FOR_KEYS = text(
    """
    SELECT DISTINCT ON (e.journey_id, e.customer_id, e.entry_key)
        e.journey_id, e.customer_id, e.entry_key, e.entry_number, e.status, e.completed_at
    FROM enrollments e
    JOIN unnest(
        CAST(:journey_ids AS uuid[]), CAST(:customer_ids AS varchar[]), CAST(:entry_keys AS text[])
    ) AS k(journey_id, customer_id, entry_key)
      ON e.journey_id = k.journey_id AND e.customer_id = k.customer_id AND e.entry_key = k.entry_key
    WHERE e.tenant_id = :tenant_id AND NOT e.test
    ORDER BY e.journey_id, e.customer_id, e.entry_key, e.entry_number DESC
    """
)
_INSERT_MANY = text(
    """
    INSERT INTO enrollments (tenant_id, status, converted, enrolled_at, id, journey_id, version,
        customer_id, entry_number, workflow_id, entry_message_id, entry_key, entry_key_path)
    SELECT :tenant_id, 'ACTIVE', false, :enrolled_at, x.*
    FROM unnest(
        CAST(:ids AS uuid[]), CAST(:journey_ids AS uuid[]), CAST(:versions AS int[]),
        CAST(:customer_ids AS varchar[]), CAST(:entry_numbers AS int[]), CAST(:workflow_ids AS varchar[]),
        CAST(:entry_message_ids AS varchar[]), CAST(:entry_keys AS text[]), CAST(:entry_key_paths AS text[])
    ) AS x
    ON CONFLICT DO NOTHING
    RETURNING id
    """
)
_ACTIVE_OF = text(
    """
    SELECT id, customer_id, workflow_id, entry_key, entry_key_path FROM enrollments
    WHERE tenant_id = :tenant_id AND customer_id = ANY(CAST(:customer_ids AS varchar[])) AND status = 'ACTIVE'
    ORDER BY enrolled_at, id
    """
)

# (journey, customer, entry key): the entry rules' unit; the key is '' for an unkeyed entry.
EntryUnit = tuple[uuid.UUID, str, str]


@dataclass(frozen=True)
class LatestEntry:
    """The newest enrollment of one customer (and entry key) in one journey, as entry rules need it."""

    entry_number: int
    status: str
    completed_at: datetime | None


@dataclass(frozen=True)
class NewEnrollment:
    id: uuid.UUID
    journey_id: uuid.UUID
    version: int
    customer_id: str
    entry_number: int
    workflow_id: str
    entry_message_id: str | None
    entry_key: str = ""  # '' when unkeyed
    entry_key_path: str | None = None


@dataclass(frozen=True)
class ActiveEnrollment:
    id: uuid.UUID
    customer_id: str
    workflow_id: str
    entry_key: str = ""
    entry_key_path: str | None = None


class EnrollmentRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def insert_if_absent(self, values: dict[str, Any]) -> EnrollmentRow | None:
        """Insert a new entry and return it; None when the same (journey, customer, entry) exists."""
        statement = insert(EnrollmentRow).values(**values).on_conflict_do_nothing().returning(EnrollmentRow)
        return (await self._session.scalars(statement)).one_or_none()

    async def latest_for_keys(
        self, tenant_id: str, units: Sequence[EntryUnit]
    ) -> dict[EntryUnit, LatestEntry]:
        """The newest enrollment per (journey, customer, entry key), for many in one query."""
        if not units:
            return {}
        unique = sorted(set(units))
        rows = await self._session.execute(
            _LATEST_FOR_KEYS,
            {
                "tenant_id": tenant_id,
                "journey_ids": [j for j, _, _ in unique],
                "customer_ids": [c for _, c, _ in unique],
                "entry_keys": [k for _, _, k in unique],
            },
        )
        return {
            (journey_id, str(customer_id), str(key)): LatestEntry(int(number), str(status), completed_at)
            for journey_id, customer_id, key, number, status, completed_at in rows
        }

    async def insert_many(
        self, tenant_id: str, entries: Sequence[NewEnrollment], enrolled_at: datetime
    ) -> set[uuid.UUID]:
        """Insert new ACTIVE entries in one statement; the ids that were new (a concurrent entry of
        the same customer, journey, entry key and entry number keeps the first)."""
        if not entries:
            return set()
        rows = await self._session.scalars(
            _INSERT_MANY,
            {
                "tenant_id": tenant_id,
                "enrolled_at": enrolled_at,
                "ids": [e.id for e in entries],
                "journey_ids": [e.journey_id for e in entries],
                "versions": [e.version for e in entries],
                "customer_ids": [e.customer_id for e in entries],
                "entry_numbers": [e.entry_number for e in entries],
                "workflow_ids": [e.workflow_id for e in entries],
                "entry_message_ids": [e.entry_message_id for e in entries],
                "entry_keys": [e.entry_key for e in entries],
                "entry_key_paths": [e.entry_key_path for e in entries],
            },
        )
        return set(rows)

    async def active_of_customers(
        self, tenant_id: str, customer_ids: Sequence[str]
    ) -> list[ActiveEnrollment]:
        """The ACTIVE enrollments of many customers, oldest first."""
        if not customer_ids:
            return []
        rows = await self._session.execute(
            _ACTIVE_OF, {"tenant_id": tenant_id, "customer_ids": sorted(set(customer_ids))}
        )
        return [ActiveEnrollment(i, str(c), str(w), str(k), p) for i, c, w, k, p in rows]

    async def get(self, tenant_id: str, enrollment_id: uuid.UUID) -> EnrollmentRow | None:
        return await self._session.scalar(
            select(EnrollmentRow)
            .where(EnrollmentRow.tenant_id == tenant_id, EnrollmentRow.id == enrollment_id)
            .execution_options(populate_existing=True)
        )

    async def latest_for_customer(
        self,
        tenant_id: str,
        journey_id: uuid.UUID,
        customer_id: str,
        entry_key: str = "",
        *,
        test: bool = False,
    ) -> EnrollmentRow | None:
        """The customer's newest enrollment in the journey with this entry key ('': unkeyed); test runs
        (`test`) and real entries number apart."""
        return await self._session.scalar(
            select(EnrollmentRow)
            .where(
                EnrollmentRow.tenant_id == tenant_id,
                EnrollmentRow.journey_id == journey_id,
                EnrollmentRow.customer_id == customer_id,
                EnrollmentRow.entry_key == entry_key,
                EnrollmentRow.test.is_(test),
            )
            .order_by(EnrollmentRow.entry_number.desc())
            .limit(1)
            .execution_options(populate_existing=True)
        )

    async def active_in_journey(
        self, tenant_id: str, journey_id: uuid.UUID, customer_id: str
    ) -> list[EnrollmentRow]:
        """The customer's ACTIVE enrollments in the journey, oldest first (one per entry key); test runs
        are stopped through their own route."""
        rows = await self._session.scalars(
            select(EnrollmentRow)
            .where(
                EnrollmentRow.tenant_id == tenant_id,
                EnrollmentRow.journey_id == journey_id,
                EnrollmentRow.customer_id == customer_id,
                EnrollmentRow.status == "ACTIVE",
                EnrollmentRow.test.is_(False),
            )
            .order_by(EnrollmentRow.enrolled_at, EnrollmentRow.id)
            .execution_options(populate_existing=True)
        )
        return list(rows)

    async def customer_entered(self, tenant_id: str, journey_id: uuid.UUID, customer_id: str) -> bool:
        """Whether the customer ever entered the journey (a test run is no entry)."""
        found = await self._session.scalar(
            select(EnrollmentRow.id)
            .where(
                EnrollmentRow.tenant_id == tenant_id,
                EnrollmentRow.journey_id == journey_id,
                EnrollmentRow.customer_id == customer_id,
                EnrollmentRow.test.is_(False),
            )
            .limit(1)
        )
        return found is not None

    async def list_for_journey(
        self,
        tenant_id: str,
        journey_id: uuid.UUID,
        page: PageRequest,
        *,
        status: str | None = None,
        converted: bool | None = None,
        test: bool = False,
    ) -> Page[EnrollmentRow]:
        """The journey's enrollments, newest first: the real ones, or (`test`) its test runs."""
        conditions: list[Any] = [
            EnrollmentRow.tenant_id == tenant_id,
            EnrollmentRow.journey_id == journey_id,
            EnrollmentRow.test.is_(test),
        ]
        if status:
            conditions.append(EnrollmentRow.status == status)
        if converted is not None:
            conditions.append(EnrollmentRow.converted.is_(converted))
        return await paginate(
            self._session,
            EnrollmentRow,
            conditions,
            [EnrollmentRow.enrolled_at.desc(), EnrollmentRow.id],
            page,
        )

    async def counts_by_status(self, tenant_id: str, journey_id: uuid.UUID) -> dict[str, int]:
        return (await self.counts_by_status_many(tenant_id, [journey_id]))[journey_id]

    async def counts_by_status_many(
        self, tenant_id: str, journey_ids: Sequence[uuid.UUID]
    ) -> dict[uuid.UUID, dict[str, int]]:
        """Enrollments per status of each journey, and `CONVERTED` (a flag, not a status), in one query
        (test runs left out)."""
        counts: dict[uuid.UUID, dict[str, int]] = {journey_id: {"CONVERTED": 0} for journey_id in journey_ids}
        if not journey_ids:
            return counts
        rows = await self._session.execute(
            select(
                EnrollmentRow.journey_id,
                EnrollmentRow.status,
                func.count(),
                func.count().filter(EnrollmentRow.converted.is_(True)),
            )
            .where(
                EnrollmentRow.tenant_id == tenant_id,
                EnrollmentRow.journey_id.in_(journey_ids),
                EnrollmentRow.test.is_(False),
            )
            .group_by(EnrollmentRow.journey_id, EnrollmentRow.status)
        )
        for journey_id, status, count, converted in rows:
            counts[journey_id][status] = int(count)
            counts[journey_id]["CONVERTED"] += int(converted)
        return counts

    async def steps(self, tenant_id: str, enrollment_id: uuid.UUID) -> list[EnrollmentStepRow]:
        rows = await self._session.scalars(
            select(EnrollmentStepRow)
            .where(
                EnrollmentStepRow.tenant_id == tenant_id,
                EnrollmentStepRow.enrollment_id == enrollment_id,
            )
            .order_by(EnrollmentStepRow.started_at, EnrollmentStepRow.visit, EnrollmentStepRow.node_id)
        )
        return list(rows)

    async def apply_progress(self, batch: ProgressBatch) -> None:
        """Upsert the enrollment row and its step records. Replaying a batch changes nothing."""
        snapshot = batch.enrollment
        enrollment_id = uuid.UUID(snapshot.enrollment_id)
        journey_id = uuid.UUID(snapshot.journey_id)
        analytics = RollupRepository(self._session)
        # Locks the enrollment row (when it exists): batches of one enrollment serialise from here on,
        # so the step rows read below are the ones the rollup deltas are computed against.
        previous_version = await analytics.lock_enrollment_version(enrollment_id)
        values = {
            "id": uuid.UUID(snapshot.enrollment_id),
            "tenant_id": snapshot.tenant_id,
            "journey_id": uuid.UUID(snapshot.journey_id),
            "version": snapshot.version,
            "customer_id": snapshot.customer_id,
            "entry_number": snapshot.entry_number,
            "workflow_id": snapshot.workflow_id,
            "status": snapshot.status,
            "converted": snapshot.converted,
            "current_step_id": snapshot.current_step_id,
            "waiting_until": snapshot.waiting_until,
            "enrolled_at": snapshot.enrolled_at,
            "completed_at": snapshot.completed_at,
            "exit_reason": snapshot.exit_reason,
            "converted_at": snapshot.converted_at,
            "test": snapshot.test,
        }
        await self._session.execute(_ENROLLMENT_UPSERT, values)
        # A test enrollment's steps are kept (its detail and timeline show them) but never counted.
        counted = not snapshot.test
        if counted and previous_version is not None and previous_version != snapshot.version:
            await analytics.move_enrollment_version(
                snapshot.tenant_id, journey_id, enrollment_id, previous_version, snapshot.version
            )
        if not batch.steps:
            return
        # A batch may hold the same step twice (entered, then completed): the last word wins.
        latest = {(s.node_id, s.visit): s for s in batch.steps}
        stored = await analytics.lock_steps(enrollment_id, sorted(latest))
        deltas = step_deltas(snapshot.tenant_id, journey_id, snapshot.version, stored, latest.values())
        step_values = [
            {
                "enrollment_id": uuid.UUID(snapshot.enrollment_id),
                "tenant_id": snapshot.tenant_id,
                "node_id": record.node_id,
                "visit": record.visit,
                "node_type": record.node_type,
                "name": record.name,
                "status": record.status,
                "branch": record.branch,
                "detail": record.detail,
                "started_at": record.started_at,
                "completed_at": record.completed_at,
                "decision": None if record.decision is None else record.decision.stored(),
            }
            for record in latest.values()
        ]
        await self._session.execute(_STEP_UPSERT, step_values)
        if counted:
            await analytics.apply_deltas(deltas)

    async def active_page(
        self, tenant_id: str, journey_id: uuid.UUID, *, after: uuid.UUID | None, limit: int
    ) -> list[EnrollmentRow]:
        """ACTIVE enrollments of a journey in id order, from a keyset cursor (for bulk signalling)."""
        conditions: list[Any] = [
            EnrollmentRow.tenant_id == tenant_id,
            EnrollmentRow.journey_id == journey_id,
            EnrollmentRow.status == "ACTIVE",
        ]
        if after is not None:
            conditions.append(EnrollmentRow.id > after)
        rows = await self._session.scalars(
            select(EnrollmentRow).where(*conditions).order_by(EnrollmentRow.id).limit(limit)
        )
        return list(rows)

    async def active_sweep(
        self, *, after: uuid.UUID | None, enrolled_before: datetime, limit: int
    ) -> list[EnrollmentRow]:
        """ACTIVE enrollments of every tenant in id order from a cursor, old enough to have started."""
        conditions: list[Any] = [
            EnrollmentRow.status == "ACTIVE",
            EnrollmentRow.enrolled_at < enrolled_before,
        ]
        if after is not None:
            conditions.append(EnrollmentRow.id > after)
        rows = await self._session.scalars(
            select(EnrollmentRow).where(*conditions).order_by(EnrollmentRow.id).limit(limit)
        )
        return list(rows)

    async def count_active(self, tenant_id: str, journey_id: uuid.UUID) -> int:
        count = await self._session.scalar(
            select(func.count()).where(
                EnrollmentRow.tenant_id == tenant_id,
                EnrollmentRow.journey_id == journey_id,
                EnrollmentRow.status == "ACTIVE",
            )
        )
        return int(count or 0)

    async def node_entries(self, journey_id: uuid.UUID, node_id: str) -> list[tuple[str, datetime]]:
        """(customer, when) of every visit of one node of a journey (benchmarks read when steps ran)."""
        rows = await self._session.execute(
            select(EnrollmentRow.customer_id, EnrollmentStepRow.started_at)
            .join(EnrollmentRow, EnrollmentRow.id == EnrollmentStepRow.enrollment_id)
            .where(EnrollmentRow.journey_id == journey_id, EnrollmentStepRow.node_id == node_id)
        )
        return [(customer, started) for customer, started in rows.tuples()]

    async def count_where(self, journey_id: uuid.UUID, condition: ColumnElement[bool]) -> int:
        """How many of the journey's enrollments satisfy `condition` (benchmarks poll with it)."""
        count = await self._session.scalar(
            select(func.count()).where(EnrollmentRow.journey_id == journey_id, condition)
        )
        return int(count or 0)
