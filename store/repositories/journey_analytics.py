"""The reads behind `GET /v1/journeys/{journeyId}/analytics`: per node and per branch from the step
rollups (whole days from the daily cells, the ends of the range from the hourly ones), messages per
node (by status and suppression reason) and what providers reported about them, conversion over the
enrollments that entered in the range, and that conversion per branch of every branching node (the A/B
readout). Test customers' runs (`enrollments.test`) count nowhere here: their steps never reach the
rollups, and their enrollments and messages are filtered out."""

from __future__ import annotations

import uuid
from collections.abc import Collection
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import ColumnElement, func, select, union_all
from sqlalchemy.ext.asyncio import AsyncSession

from store.repositories.rollups import NO_BRANCH, cover
from store.rows import DeliveryEventRow, EnrollmentRow, EnrollmentStepRow, MessageRow

# An open end of the range, as a bound far enough out (midnights, so it costs no hourly cells).
_EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
_LATEST = datetime(3000, 1, 1, tzinfo=UTC)
# A message counts unless a test customer's run sent it (a message with no enrollment counts).
_NOT_TEST = EnrollmentRow.test.is_not(True)


@dataclass(frozen=True)
class TimeToGoalStats:
    """How long converted enrollments took from entry to goal (seconds)."""

    count: int
    p50_seconds: float | None
    p90_seconds: float | None
    max_seconds: float | None


@dataclass(frozen=True)
class BranchConversionCounts:
    """Enrollments that left one node by one branch, and how many of them converted."""

    node_id: str
    node_type: str
    name: str  # the node's name as its steps recorded it (if it was renamed: the greatest, stably)
    branch: str
    enrolled: int
    converted: int


class JourneyAnalyticsRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def _step_cells(
        self,
        key: str,
        tenant_id: str,
        journey_id: uuid.UUID,
        version: int | None,
        start: datetime | None,
        end: datetime | None,
        *,
        branched_only: bool = False,
    ) -> list[tuple[str, str, str, int]]:
        """(node_id, node_type, `key` column, step visits) of the journey's steps that started in
        [start, end) — whole UTC hours; None leaves that end open."""
        parts = cover([start or _EARLIEST, end or _LATEST], subtract=True)
        selects = []
        for part in parts:
            t = part.grain.table.c
            bucket = t[part.grain.bucket]
            where: list[ColumnElement[bool]] = [
                t.tenant_id == tenant_id,
                t.journey_id == journey_id,
                bucket >= part.start,
                bucket < part.end,
            ]
            if version is not None:
                where.append(t.version == version)
            if branched_only:
                where.append(t.branch != NO_BRANCH)
            selects.append(
                select(t.node_id, t.node_type, t[key].label("key"), (part.sign * t.count).label("n")).where(
                    *where
                )
            )
        if not selects:
            return []
        cells = union_all(*selects).subquery("cells")
        rows = await self._session.execute(
            select(cells.c.node_id, cells.c.node_type, cells.c.key, func.sum(cells.c.n)).group_by(
                cells.c.node_id, cells.c.node_type, cells.c.key
            )
        )
        return [(n, t, k, int(c)) for n, t, k, c in rows if int(c)]

    async def node_status_counts(
        self,
        tenant_id: str,
        journey_id: uuid.UUID,
        version: int | None,
        start: datetime | None,
        end: datetime | None,
    ) -> list[tuple[str, str, str, int]]:
        """(node_id, node_type, status, step visits) from the rollups."""
        return await self._step_cells("status", tenant_id, journey_id, version, start, end)

    async def branch_counts(
        self,
        tenant_id: str,
        journey_id: uuid.UUID,
        version: int | None,
        start: datetime | None,
        end: datetime | None,
    ) -> list[tuple[str, str, str, int]]:
        """(node_id, node_type, branch, step visits) over every step with a branch, from the rollups."""
        return await self._step_cells(
            "branch", tenant_id, journey_id, version, start, end, branched_only=True
        )

    async def message_counts(
        self,
        tenant_id: str,
        journey_id: uuid.UUID,
        version: int | None,
        start: datetime | None,
        end: datetime | None,
    ) -> list[tuple[str, str, str | None, int]]:
        """(node_id, status, reason, count) of the journey's messages created in the range (status:
        sent | suppressed | failed | queued; reason: why one was suppressed, else None)."""
        conditions: list[ColumnElement[bool]] = [
            MessageRow.tenant_id == tenant_id,
            MessageRow.journey_id == journey_id,
            MessageRow.node_id.is_not(None),
        ]
        if start is not None:
            conditions.append(MessageRow.created_at >= start)
        if end is not None:
            conditions.append(MessageRow.created_at < end)
        query: Any = (
            select(MessageRow.node_id, MessageRow.status, MessageRow.reason, func.count())
            .outerjoin(EnrollmentRow, EnrollmentRow.id == MessageRow.enrollment_id)
            .where(*conditions, _NOT_TEST)
        )
        if version is not None:
            query = query.where(EnrollmentRow.version == version)
        rows = await self._session.execute(
            query.group_by(MessageRow.node_id, MessageRow.status, MessageRow.reason)
        )
        return [(str(n), s, r, int(c)) for n, s, r, c in rows]

    async def delivery_event_counts(
        self,
        tenant_id: str,
        journey_id: uuid.UUID,
        version: int | None,
        start: datetime | None,
        end: datetime | None,
    ) -> list[tuple[str, str, int]]:
        """(node_id, event type, messages) over the journey's messages created in the range (as
        `message_counts`): how many of them providers reported delivered, opened, clicked, bounced or
        complained about — each message once per type, however often it was opened or clicked."""
        conditions: list[ColumnElement[bool]] = [
            DeliveryEventRow.tenant_id == tenant_id,
            DeliveryEventRow.journey_id == journey_id,
            DeliveryEventRow.node_id.is_not(None),
        ]
        if start is not None:
            conditions.append(MessageRow.created_at >= start)
        if end is not None:
            conditions.append(MessageRow.created_at < end)
        query: Any = (
            select(
                DeliveryEventRow.node_id,
                DeliveryEventRow.type,
                func.count(func.distinct(DeliveryEventRow.message_id)),
            )
            .join(MessageRow, MessageRow.id == DeliveryEventRow.message_id)
            .outerjoin(EnrollmentRow, EnrollmentRow.id == MessageRow.enrollment_id)
            .where(*conditions, _NOT_TEST)
        )
        if version is not None:
            query = query.where(EnrollmentRow.version == version)
        rows = await self._session.execute(query.group_by(DeliveryEventRow.node_id, DeliveryEventRow.type))
        return [(str(n), t, int(c)) for n, t, c in rows]

    async def conversion(
        self,
        tenant_id: str,
        journey_id: uuid.UUID,
        version: int | None,
        start: datetime | None,
        end: datetime | None,
    ) -> tuple[int, int, TimeToGoalStats]:
        """(enrolled, converted, time to goal) over enrollments that entered in the range."""
        conditions: list[ColumnElement[bool]] = [
            EnrollmentRow.tenant_id == tenant_id,
            EnrollmentRow.journey_id == journey_id,
            EnrollmentRow.test.is_(False),
        ]
        if version is not None:
            conditions.append(EnrollmentRow.version == version)
        if start is not None:
            conditions.append(EnrollmentRow.enrolled_at >= start)
        if end is not None:
            conditions.append(EnrollmentRow.enrolled_at < end)
        seconds = func.extract("epoch", EnrollmentRow.converted_at - EnrollmentRow.enrolled_at)
        reached = EnrollmentRow.converted_at.is_not(None)
        row = (
            await self._session.execute(
                select(
                    func.count(),
                    func.count().filter(EnrollmentRow.converted.is_(True)),
                    func.count().filter(reached),
                    func.percentile_cont(0.5).within_group(seconds).filter(reached),
                    func.percentile_cont(0.9).within_group(seconds).filter(reached),
                    func.max(seconds).filter(reached),
                ).where(*conditions)
            )
        ).one()
        timing = TimeToGoalStats(
            count=int(row[2]),
            p50_seconds=None if row[3] is None else float(row[3]),
            p90_seconds=None if row[4] is None else float(row[4]),
            max_seconds=None if row[5] is None else float(row[5]),
        )
        return int(row[0]), int(row[1]), timing

    async def branch_conversion(
        self,
        tenant_id: str,
        journey_id: uuid.UUID,
        version: int | None,
        start: datetime | None,
        end: datetime | None,
        node_types: Collection[str],
    ) -> list[BranchConversionCounts]:
        """Per (node, branch) of the steps of `node_types` nodes that recorded a branch: the distinct
        enrollments that entered in the range (as `conversion`) and left that node by that branch, and
        how many of them converted. An enrollment counts once per branch however many visits left by it.

        One statement for all nodes: the enrollments come from `ix_enrollments_tenant_journey_enrolled`,
        their steps from `enrollment_steps`' primary key (enrollment_id, node_id, visit)."""
        if not node_types:
            return []
        conditions: list[ColumnElement[bool]] = [
            EnrollmentRow.tenant_id == tenant_id,
            EnrollmentRow.journey_id == journey_id,
            EnrollmentRow.test.is_(False),
            EnrollmentStepRow.node_type.in_(sorted(node_types)),
            EnrollmentStepRow.branch.is_not(None),
        ]
        if version is not None:
            conditions.append(EnrollmentRow.version == version)
        if start is not None:
            conditions.append(EnrollmentRow.enrolled_at >= start)
        if end is not None:
            conditions.append(EnrollmentRow.enrolled_at < end)
        step = EnrollmentStepRow
        rows = await self._session.execute(
            select(
                step.node_id,
                step.node_type,
                func.max(step.name),
                step.branch,
                func.count(func.distinct(step.enrollment_id)),
                func.count(func.distinct(step.enrollment_id)).filter(EnrollmentRow.converted.is_(True)),
            )
            .join(EnrollmentRow, EnrollmentRow.id == step.enrollment_id)
            .where(*conditions)
            .group_by(step.node_id, step.node_type, step.branch)
        )
        return [
            BranchConversionCounts(
                node_id=node_id,
                node_type=node_type,
                name=str(name),
                branch=str(branch),
                enrolled=int(enrolled),
                converted=int(converted),
            )
            for node_id, node_type, name, branch, enrolled, converted in rows
        ]
