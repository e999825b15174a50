"""Analytics SQL: the `step_rollups` maintenance the projection runs, and the queries answered from it.

Maintenance (called by `EnrollmentRepository.apply_progress`, same transaction): the stored step rows a
batch touches are read FOR UPDATE (after the enrollment row is locked by its upsert, so batches of one
enrollment serialise); each record is compared with its stored row and the difference is applied as
deltas: a new row adds one to its (status, branch) cell, a changed status/branch/completion moves it from
the old cell to the new one, an identical replay adds nothing. Counts and duration sums are exact;
duration min/max are over everything ever recorded in a cell (an extreme cannot be taken back out).

A step keeps the `started_at` and `node_type` it was first written with (the upsert never changes them),
so its hour bucket is stable. When an enrollment's version changes, its steps move to the new version.
"""

from __future__ import annotations

import typing
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from sqlalchemy import (
    BigInteger,
    ColumnElement,
    Integer,
    Select,
    String,
    Table,
    and_,
    cast,
    false,
    func,
    literal,
    null,
    or_,
    select,
    text,
    true,
    tuple_,
)
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from domain.interpreter import StepRecord
from store.rows import EnrollmentRow, EnrollmentStepRow, EventRow, MessageRow, StepRollupRow

NO_BRANCH = ""
_MS = timedelta(milliseconds=1)


def hour_of(moment: datetime) -> datetime:
    aware = moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
    return aware.astimezone(UTC).replace(minute=0, second=0, microsecond=0)


def duration_ms(started_at: datetime, completed_at: datetime | None) -> int | None:
    if completed_at is None:
        return None
    return (completed_at - started_at) // _MS


@dataclass(frozen=True)
class StoredStep:
    node_type: str
    status: str
    branch: str | None
    started_at: datetime
    completed_at: datetime | None


CellKey = tuple[str, uuid.UUID, int, str, str, datetime, str, str]


@dataclass
class Cell:
    count: int = 0
    duration_count: int = 0
    duration_sum_ms: int = 0
    duration_min_ms: int | None = None
    duration_max_ms: int | None = None

    def add(self, sign: int, duration: int | None) -> None:
        self.count += sign
        if duration is None:
            return
        self.duration_count += sign
        self.duration_sum_ms += sign * duration
        if sign > 0:
            low, high = self.duration_min_ms, self.duration_max_ms
            self.duration_min_ms = duration if low is None else min(low, duration)
            self.duration_max_ms = duration if high is None else max(high, duration)

    def is_noop(self) -> bool:
        return (
            self.count == 0
            and self.duration_count == 0
            and self.duration_sum_ms == 0
            and self.duration_min_ms is None
        )


@dataclass
class RollupDeltas:
    cells: dict[CellKey, Cell] = field(default_factory=dict)

    def add(self, key: CellKey, sign: int, duration: int | None) -> None:
        self.cells.setdefault(key, Cell()).add(sign, duration)


def step_deltas(
    tenant_id: str,
    journey_id: uuid.UUID,
    version: int,
    stored: dict[tuple[str, int], StoredStep],
    records: Iterable[StepRecord],
) -> RollupDeltas:
    """What the rollup must change for these records, given the stored rows they will overwrite."""
    deltas = RollupDeltas()
    for record in records:
        old = stored.get((record.node_id, record.visit))
        node_type = old.node_type if old else record.node_type
        started_at = old.started_at if old else record.started_at
        hour = hour_of(started_at)

        cell = (tenant_id, journey_id, version, record.node_id, node_type, hour)
        new_state = (record.status, record.branch, record.completed_at)
        if old is not None:
            if (old.status, old.branch, old.completed_at) == new_state:
                continue
            old_key: CellKey = (*cell, old.status, old.branch or NO_BRANCH)
            deltas.add(old_key, -1, duration_ms(started_at, old.completed_at))
        new_key: CellKey = (*cell, record.status, record.branch or NO_BRANCH)
        deltas.add(new_key, 1, duration_ms(started_at, record.completed_at))
    return deltas


_ROLLUP_KEY = (
    StepRollupRow.tenant_id,
    StepRollupRow.journey_id,
    StepRollupRow.version,
    StepRollupRow.node_id,
    StepRollupRow.node_type,
    StepRollupRow.bucket_hour,
    StepRollupRow.status,
    StepRollupRow.branch,
)
_DURATION_MS_SQL = "floor(extract(epoch from (s.completed_at - s.started_at)) * 1000)::bigint"


def _rollup_upsert(values: Any) -> Any:
    statement = insert(StepRollupRow).values(values) if isinstance(values, list) else values
    excluded = statement.excluded
    return statement.on_conflict_do_update(
        index_elements=list(_ROLLUP_KEY),
        set_={
            "count": StepRollupRow.count + excluded.count,
            "duration_count": StepRollupRow.duration_count + excluded.duration_count,
            "duration_sum_ms": StepRollupRow.duration_sum_ms + excluded.duration_sum_ms,
            "duration_min_ms": func.least(StepRollupRow.duration_min_ms, excluded.duration_min_ms),
            "duration_max_ms": func.greatest(StepRollupRow.duration_max_ms, excluded.duration_max_ms),
        },
    )


# Built once: applied by every projection write (parameters per call, executemany for several cells).
_ROLLUP_DELTA_UPSERT = _rollup_upsert(insert(typing.cast(Table, StepRollupRow.__table__)))


# ---- time-zone buckets -------------------------------------------------------------------------------

Unit = Literal["hour", "day", "week", "month", "quarter", "year"]


@dataclass(frozen=True)
class Predicate:
    dimension: str
    operator: Literal["matches", "exists", "notExists"]
    value: str | int | None = None
    range: dict[str, str | int] | None = None


@dataclass(frozen=True)
class FilterGroup:
    type: Literal["and", "or"]
    predicates: Sequence[Predicate] = ()
    clauses: Sequence[FilterGroup] = ()


@dataclass(frozen=True)
class AggregateQuery:
    tenant_id: str
    start: datetime
    end: datetime
    unit: Unit | None
    time_zone: str
    group_by: Sequence[str]
    filter: FilterGroup | None


@dataclass(frozen=True)
class TimeToGoalStats:
    """How long converted enrollments took from entry to goal (seconds)."""

    count: int
    p50_seconds: float | None
    p90_seconds: float | None
    max_seconds: float | None


@dataclass(frozen=True)
class AggregateRow:
    bucket: datetime
    group: dict[str, str | int]
    count: int
    sum: int | None
    min: int | None
    max: int | None


DIMENSIONS = ("journeyId", "version", "nodeId", "nodeType", "branch", "channel", "eventName", "segmentId")
_COLUMN = {
    "journeyId": "journey_id",
    "version": "version",
    "nodeId": "node_id",
    "nodeType": "node_type",
    "branch": "branch",
    "channel": "channel",
    "eventName": "event_name",
    "segmentId": "segment_id",
}
# Which step statuses each rollup metric counts.
STEP_METRIC_STATUSES: dict[str, tuple[str, ...]] = {
    "nCompleted": ("COMPLETED",),
    "nExited": ("EXITED",),
    "nFailed": ("FAILED", "SKIPPED"),
}


def _text_null() -> Any:
    return cast(null(), String)


def _dimension_columns(**given: Any) -> list[Any]:
    out = []
    for name in DIMENSIONS:
        column = _COLUMN[name]
        if name in given:
            out.append(given[name].label(column))
        elif name == "version":
            out.append(cast(null(), Integer).label(column))
        else:
            out.append(_text_null().label(column))
    return out


class AnalyticsRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    # ---- maintenance ----------------------------------------------------------------------------

    async def lock_steps(
        self, enrollment_id: uuid.UUID, keys: Sequence[tuple[str, int]]
    ) -> dict[tuple[str, int], StoredStep]:
        if not keys:
            return {}
        rows = await self._session.execute(
            select(
                EnrollmentStepRow.node_id,
                EnrollmentStepRow.visit,
                EnrollmentStepRow.node_type,
                EnrollmentStepRow.status,
                EnrollmentStepRow.branch,
                EnrollmentStepRow.started_at,
                EnrollmentStepRow.completed_at,
            )
            .where(
                EnrollmentStepRow.enrollment_id == enrollment_id,
                tuple_(EnrollmentStepRow.node_id, EnrollmentStepRow.visit).in_(list(keys)),
            )
            .order_by(EnrollmentStepRow.node_id, EnrollmentStepRow.visit)
            .with_for_update()
        )
        return {
            (node_id, visit): StoredStep(node_type, status, branch, started_at, completed_at)
            for node_id, visit, node_type, status, branch, started_at, completed_at in rows
        }

    async def lock_enrollment_version(self, enrollment_id: uuid.UUID) -> int | None:
        version = await self._session.scalar(
            select(EnrollmentRow.version).where(EnrollmentRow.id == enrollment_id).with_for_update()
        )
        return None if version is None else int(version)

    async def move_enrollment_version(
        self, tenant_id: str, journey_id: uuid.UUID, enrollment_id: uuid.UUID, old: int, new: int
    ) -> None:
        """Re-attribute all stored steps of an enrollment from version `old` to `new`."""
        statement = text(
            f"""
            INSERT INTO step_rollups (tenant_id, journey_id, version, node_id, node_type, bucket_hour, status,
                                      branch, count, duration_count, duration_sum_ms, duration_min_ms,
                                      duration_max_ms)
            SELECT CAST(:tenant AS varchar), CAST(:journey AS uuid), v.version, s.node_id, s.node_type,
                   date_trunc('hour', s.started_at AT TIME ZONE 'UTC') AT TIME ZONE 'UTC', s.status,
                   coalesce(s.branch, ''), v.sign * count(*), v.sign * count(s.completed_at),
                   v.sign * coalesce(sum({_DURATION_MS_SQL}), 0),
                   CASE WHEN v.sign > 0 THEN min({_DURATION_MS_SQL}) END,
                   CASE WHEN v.sign > 0 THEN max({_DURATION_MS_SQL}) END
            FROM enrollment_steps s
            CROSS JOIN (VALUES (CAST(:old AS integer), -1), (CAST(:new AS integer), 1)) AS v(version, sign)
            WHERE s.enrollment_id = :enrollment
            GROUP BY v.version, v.sign, s.node_id, s.node_type, 6, s.status, coalesce(s.branch, '')
            ORDER BY 3, 4, 5, 6, 7, 8
            ON CONFLICT (tenant_id, journey_id, version, node_id, node_type, bucket_hour, status, branch)
            DO UPDATE SET count = step_rollups.count + excluded.count,
                duration_count = step_rollups.duration_count + excluded.duration_count,
                duration_sum_ms = step_rollups.duration_sum_ms + excluded.duration_sum_ms,
                duration_min_ms = least(step_rollups.duration_min_ms, excluded.duration_min_ms),
                duration_max_ms = greatest(step_rollups.duration_max_ms, excluded.duration_max_ms)
            """
        )
        await self._session.execute(
            statement,
            {"tenant": tenant_id, "journey": journey_id, "old": old, "new": new, "enrollment": enrollment_id},
        )

    async def apply_deltas(self, deltas: RollupDeltas) -> None:
        values = [
            {
                "tenant_id": key[0],
                "journey_id": key[1],
                "version": key[2],
                "node_id": key[3],
                "node_type": key[4],
                "bucket_hour": key[5],
                "status": key[6],
                "branch": key[7],
                "count": cell.count,
                "duration_count": cell.duration_count,
                "duration_sum_ms": cell.duration_sum_ms,
                "duration_min_ms": cell.duration_min_ms,
                "duration_max_ms": cell.duration_max_ms,
            }
            # A fixed order, so concurrent transactions lock cells in the same order (no deadlock).
            for key, cell in sorted(deltas.cells.items(), key=lambda item: item[0])
            if not cell.is_noop()
        ]
        if values:
            await self._session.execute(_ROLLUP_DELTA_UPSERT, values)

    # ---- journey analytics ----------------------------------------------------------------------

    @staticmethod
    def _rollup_where(
        tenant_id: str,
        journey_id: uuid.UUID,
        version: int | None,
        start: datetime | None,
        end: datetime | None,
    ) -> list[ColumnElement[bool]]:
        conditions = [StepRollupRow.tenant_id == tenant_id, StepRollupRow.journey_id == journey_id]
        if version is not None:
            conditions.append(StepRollupRow.version == version)
        if start is not None:
            conditions.append(StepRollupRow.bucket_hour >= start)
        if end is not None:
            conditions.append(StepRollupRow.bucket_hour < end)
        return conditions

    async def node_status_counts(
        self,
        tenant_id: str,
        journey_id: uuid.UUID,
        version: int | None,
        start: datetime | None,
        end: datetime | None,
    ) -> list[tuple[str, str, str, int]]:
        """(node_id, node_type, status, count) from the rollup."""
        rows = await self._session.execute(
            select(
                StepRollupRow.node_id,
                StepRollupRow.node_type,
                StepRollupRow.status,
                func.sum(StepRollupRow.count),
            )
            .where(*self._rollup_where(tenant_id, journey_id, version, start, end))
            .group_by(StepRollupRow.node_id, StepRollupRow.node_type, StepRollupRow.status)
        )
        return [(n, t, s, int(c)) for n, t, s, c in rows if int(c)]

    async def branch_counts(
        self,
        tenant_id: str,
        journey_id: uuid.UUID,
        version: int | None,
        start: datetime | None,
        end: datetime | None,
    ) -> list[tuple[str, str, str, int]]:
        """(node_id, node_type, branch, count) over every step with a branch, from the rollup."""
        rows = await self._session.execute(
            select(
                StepRollupRow.node_id,
                StepRollupRow.node_type,
                StepRollupRow.branch,
                func.sum(StepRollupRow.count),
            )
            .where(
                *self._rollup_where(tenant_id, journey_id, version, start, end),
                StepRollupRow.branch != NO_BRANCH,
            )
            .group_by(StepRollupRow.node_id, StepRollupRow.node_type, StepRollupRow.branch)
        )
        return [(n, t, b, int(c)) for n, t, b, c in rows if int(c)]

    async def scan_step_counts(
        self, tenant_id: str, journey_id: uuid.UUID | None = None, version: int | None = None
    ) -> list[tuple[uuid.UUID, int, str, str, str, str, int, int]]:
        """The same cells counted straight from `enrollment_steps` (a full scan): (journey, version, node,
        type, status, branch, count, duration sum). The reference the rollup must equal."""
        conditions: list[ColumnElement[bool]] = [EnrollmentStepRow.tenant_id == tenant_id]
        if journey_id is not None:
            conditions.append(EnrollmentRow.journey_id == journey_id)
        if version is not None:
            conditions.append(EnrollmentRow.version == version)
        branch = func.coalesce(EnrollmentStepRow.branch, NO_BRANCH)
        duration = func.floor(
            func.extract("epoch", EnrollmentStepRow.completed_at - EnrollmentStepRow.started_at) * 1000
        )
        rows = await self._session.execute(
            select(
                EnrollmentRow.journey_id,
                EnrollmentRow.version,
                EnrollmentStepRow.node_id,
                EnrollmentStepRow.node_type,
                EnrollmentStepRow.status,
                branch,
                func.count(),
                func.coalesce(func.sum(cast(duration, BigInteger)), 0),
            )
            .join(EnrollmentRow, EnrollmentRow.id == EnrollmentStepRow.enrollment_id)
            .where(*conditions)
            .group_by(
                EnrollmentRow.journey_id,
                EnrollmentRow.version,
                EnrollmentStepRow.node_id,
                EnrollmentStepRow.node_type,
                EnrollmentStepRow.status,
                branch,
            )
        )
        return [(j, v, n, t, s, b, int(c), int(d)) for j, v, n, t, s, b, c, d in rows]

    async def rollup_cells(self, tenant_id: str) -> list[tuple[uuid.UUID, int, str, str, str, str, int, int]]:
        """The rollup summed over hours, in the shape of `scan_step_counts` (cells with count 0 dropped)."""
        rows = await self._session.execute(
            select(
                StepRollupRow.journey_id,
                StepRollupRow.version,
                StepRollupRow.node_id,
                StepRollupRow.node_type,
                StepRollupRow.status,
                StepRollupRow.branch,
                func.sum(StepRollupRow.count),
                func.sum(StepRollupRow.duration_sum_ms),
            )
            .where(StepRollupRow.tenant_id == tenant_id)
            .group_by(*_ROLLUP_KEY[1:5], StepRollupRow.status, StepRollupRow.branch)
        )
        return [(j, v, n, t, s, b, int(c), int(d)) for j, v, n, t, s, b, c, d in rows if int(c) or int(d)]

    async def message_counts(
        self,
        tenant_id: str,
        journey_id: uuid.UUID,
        version: int | None,
        start: datetime | None,
        end: datetime | None,
    ) -> list[tuple[str, str, int]]:
        """(node_id, status, count) of the journey's messages (sent | suppressed | failed)."""
        conditions: list[ColumnElement[bool]] = [
            MessageRow.tenant_id == tenant_id,
            MessageRow.journey_id == journey_id,
            MessageRow.node_id.is_not(None),
        ]
        if start is not None:
            conditions.append(MessageRow.created_at >= start)
        if end is not None:
            conditions.append(MessageRow.created_at < end)
        query = select(MessageRow.node_id, MessageRow.status, func.count()).where(*conditions)
        if version is not None:
            query = query.join(EnrollmentRow, EnrollmentRow.id == MessageRow.enrollment_id).where(
                EnrollmentRow.version == version
            )
        rows = await self._session.execute(query.group_by(MessageRow.node_id, MessageRow.status))
        return [(str(n), s, int(c)) for n, s, c in rows]

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

    # ---- aggregates query -----------------------------------------------------------------------

    def _source(self, metric: str, query: AggregateQuery) -> Select[Any]:
        """One metric's rows: every dimension (NULL where the source lacks it), `ts`, and the stats."""
        zero = literal(0, BigInteger)
        if metric in STEP_METRIC_STATUSES or metric == "oStepDuration":
            r = StepRollupRow
            dims = _dimension_columns(
                journeyId=cast(r.journey_id, String),
                version=r.version,
                nodeId=r.node_id,
                nodeType=r.node_type,
                branch=func.nullif(r.branch, NO_BRANCH),
            )
            where = [r.tenant_id == query.tenant_id, r.bucket_hour >= query.start, r.bucket_hour < query.end]
            stats: list[Any]
            if metric == "oStepDuration":
                stats = [
                    r.duration_count.label("n"),
                    r.duration_sum_ms.label("s"),
                    r.duration_min_ms.label("lo"),
                    r.duration_max_ms.label("hi"),
                ]
            else:
                where.append(r.status.in_(STEP_METRIC_STATUSES[metric]))
                stats = [r.count.label("n"), zero.label("s"), null().label("lo"), null().label("hi")]
            return select(*dims, r.bucket_hour.label("ts"), *stats).where(*where)
        no_stats: list[Any] = [null().label("lo"), null().label("hi")]
        if metric in ("nEnrolled", "nConverted"):
            e = EnrollmentRow
            where = [e.tenant_id == query.tenant_id, e.enrolled_at >= query.start, e.enrolled_at < query.end]
            if metric == "nConverted":
                where.append(e.converted.is_(True))
            dims = _dimension_columns(journeyId=cast(e.journey_id, String), version=e.version)
            return select(
                *dims,
                e.enrolled_at.label("ts"),
                literal(1, BigInteger).label("n"),
                zero.label("s"),
                *no_stats,
            ).where(*where)
        if metric == "nMessagesSent":
            m = MessageRow
            ts = func.coalesce(m.sent_at, m.created_at)
            dims = _dimension_columns(
                journeyId=cast(m.journey_id, String),
                version=EnrollmentRow.version,
                nodeId=m.node_id,
                nodeType=literal("SEND", String),
                channel=m.channel,
            )
            return (
                select(*dims, ts.label("ts"), literal(1, BigInteger).label("n"), zero.label("s"), *no_stats)
                .select_from(m)
                .outerjoin(EnrollmentRow, EnrollmentRow.id == m.enrollment_id)
                .where(m.tenant_id == query.tenant_id, m.status == "sent", ts >= query.start, ts < query.end)
            )
        if metric == "nEventsReceived":
            ev = EventRow
            dims = _dimension_columns(eventName=ev.name)
            return select(
                *dims,
                ev.received_at.label("ts"),
                literal(1, BigInteger).label("n"),
                zero.label("s"),
                *no_stats,
            ).where(
                ev.tenant_id == query.tenant_id, ev.received_at >= query.start, ev.received_at < query.end
            )
        raise ValueError(f"unknown metric {metric}")

    async def aggregate(self, metric: str, query: AggregateQuery) -> list[AggregateRow]:
        source = self._source(metric, query).subquery("source")
        if query.unit is None:
            bucket: Any = literal(query.start)
        else:
            local = func.timezone(query.time_zone, source.c.ts)
            bucket = func.timezone(query.time_zone, func.date_trunc(query.unit, local))
        bucketed = select(source, bucket.label("bucket")).subquery("bucketed")
        condition = _filter_sql(query.filter, bucketed.c) if query.filter else true()
        group_columns = [bucketed.c[_COLUMN[name]] for name in query.group_by]
        rows = await self._session.execute(
            select(
                bucketed.c.bucket,
                *group_columns,
                func.sum(bucketed.c.n),
                func.sum(bucketed.c.s),
                func.min(bucketed.c.lo),
                func.max(bucketed.c.hi),
            )
            .where(condition)
            .group_by(bucketed.c.bucket, *group_columns)
            .order_by(*group_columns, bucketed.c.bucket)
        )
        out = []
        for row in rows:
            group = {name: row[1 + i] for i, name in enumerate(query.group_by) if row[1 + i] is not None}
            n, s, lo, hi = row[1 + len(group_columns) :]
            if not n:
                continue
            out.append(
                AggregateRow(
                    bucket=row[0],
                    group=group,
                    count=int(n),
                    sum=None if s is None else int(s),
                    min=None if lo is None else int(lo),
                    max=None if hi is None else int(hi),
                )
            )
        return out


def _filter_sql(group: FilterGroup, columns: Any) -> ColumnElement[bool]:
    parts: list[ColumnElement[bool]] = [_predicate_sql(p, columns) for p in group.predicates]
    parts.extend(_filter_sql(clause, columns) for clause in group.clauses)
    if not parts:
        return true()
    return and_(*parts) if group.type == "and" else or_(*parts)


def _predicate_sql(predicate: Predicate, columns: Any) -> ColumnElement[bool]:
    column = columns[_COLUMN[predicate.dimension]]
    if predicate.operator == "exists":
        return column.is_not(None)  # type: ignore[no-any-return]
    if predicate.operator == "notExists":
        return column.is_(None)  # type: ignore[no-any-return]
    parts: list[ColumnElement[bool]] = []
    if predicate.value is not None:
        parts.append(column == predicate.value)
    for bound, value in (predicate.range or {}).items():
        parts.append(
            {"gt": column > value, "gte": column >= value, "lt": column < value, "lte": column <= value}[
                bound
            ]
        )
    return and_(*parts) if parts else false()
