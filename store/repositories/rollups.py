"""Step rollups: the exact counters the projection maintains with every step write, at two grains.

`step_rollups` holds one cell per (tenant, journey, version, node, node type, UTC hour of the step's start,
status, branch); `step_rollups_daily` the same cells per UTC day (migrations 0007 and 0011). Each cell
counts step visits and, over the closed ones, their durations (count, sum, min, max).

Maintenance (called by `EnrollmentRepository.apply_progress`, same transaction): the stored step rows a
batch touches are read FOR UPDATE (after the enrollment row is locked by its upsert, so batches of one
enrollment serialise); each record is compared with its stored row and the difference becomes deltas: a
new row adds one to its (status, branch) cell, a changed status/branch/completion moves it from the old
cell to the new one, an identical replay adds nothing. The same deltas go to both grains through one
upsert (`_DELTA_UPSERTS`), hourly cells first then daily, each in key order, so concurrent transactions
take the cells' locks in one order. Counts and duration sums are exact; duration min/max are over
everything ever recorded in a cell (an extreme cannot be taken back out).

A step keeps the `started_at` and `node_type` it was first written with (the upsert never changes them),
so its buckets are stable. When an enrollment's version changes, its steps move to the new version: the
same deltas, -1 at the old version and +1 at the new.

Reading: `cover()` turns a range of whole UTC hours into the fewest cells of either grain — whole days
from the daily table, the ragged ends from the hourly one, added or (for counts and sums) subtracted —
so a month costs about thirty daily cells per key instead of 720 hourly ones, and the answer is the same.
"""

from __future__ import annotations

import typing
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from sqlalchemy import BigInteger, ColumnElement, Table, cast, func, select, tuple_
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from domain.interpreter import StepRecord
from store.rows import EnrollmentRow, EnrollmentStepRow, StepRollupDailyRow, StepRollupRow

NO_BRANCH = ""
HOUR = timedelta(hours=1)
_MS = timedelta(milliseconds=1)


def _utc(moment: datetime) -> datetime:
    aware = moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
    return aware.astimezone(UTC)


def hour_of(moment: datetime) -> datetime:
    return _utc(moment).replace(minute=0, second=0, microsecond=0)


def day_of(moment: datetime) -> datetime:
    return _utc(moment).replace(hour=0, minute=0, second=0, microsecond=0)


def ceil_hour(moment: datetime) -> datetime:
    """The first whole UTC hour at or after `moment`: hour cells from it on start at or after `moment`."""
    floor = hour_of(moment)
    return floor if floor == _utc(moment) else floor + HOUR


def duration_ms(started_at: datetime, completed_at: datetime | None) -> int | None:
    if completed_at is None:
        return None
    return (completed_at - started_at) // _MS


@dataclass(frozen=True)
class Grain:
    """One rollup table: its name (the date_trunc unit of its buckets), the table, its bucket column."""

    name: Literal["hour", "day"]
    table: Table
    bucket: str

    def bucket_of(self, moment: datetime) -> datetime:
        return hour_of(moment) if self.name == "hour" else day_of(moment)

    @property
    def bucket_column(self) -> ColumnElement[datetime]:
        return typing.cast(ColumnElement[datetime], self.table.c[self.bucket])


HOURLY = Grain("hour", typing.cast(Table, StepRollupRow.__table__), "bucket_hour")
DAILY = Grain("day", typing.cast(Table, StepRollupDailyRow.__table__), "bucket_day")
GRAINS = (HOURLY, DAILY)


@dataclass(frozen=True)
class StoredStep:
    node_type: str
    status: str
    branch: str | None
    started_at: datetime
    completed_at: datetime | None


# (tenant, journey, version, node, node type, bucket, status, branch)
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
            self._extremes(duration, duration)

    def merge(self, other: Cell) -> None:
        self.count += other.count
        self.duration_count += other.duration_count
        self.duration_sum_ms += other.duration_sum_ms
        if other.duration_min_ms is not None and other.duration_max_ms is not None:
            self._extremes(other.duration_min_ms, other.duration_max_ms)

    def _extremes(self, low: int, high: int) -> None:
        self.duration_min_ms = low if self.duration_min_ms is None else min(self.duration_min_ms, low)
        self.duration_max_ms = high if self.duration_max_ms is None else max(self.duration_max_ms, high)

    def is_noop(self) -> bool:
        return (
            self.count == 0
            and self.duration_count == 0
            and self.duration_sum_ms == 0
            and self.duration_min_ms is None
        )


@dataclass
class RollupDeltas:
    """Changes to hourly cells; `at(DAILY)` folds them into the daily cells they belong to."""

    cells: dict[CellKey, Cell] = field(default_factory=dict)

    def add(self, key: CellKey, sign: int, duration: int | None) -> None:
        self.cells.setdefault(key, Cell()).add(sign, duration)

    def at(self, grain: Grain) -> dict[CellKey, Cell]:
        if grain is HOURLY:
            return self.cells
        folded: dict[CellKey, Cell] = {}
        for key, cell in self.cells.items():
            tenant, journey, version, node, node_type, hour, status, branch = key
            day_key: CellKey = (
                tenant,
                journey,
                version,
                node,
                node_type,
                grain.bucket_of(hour),
                status,
                branch,
            )
            folded.setdefault(day_key, Cell()).merge(cell)
        return folded


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
        cell = (tenant_id, journey_id, version, record.node_id, node_type, hour_of(started_at))
        new_state = (record.status, record.branch, record.completed_at)
        if old is not None:
            if (old.status, old.branch, old.completed_at) == new_state:
                continue
            old_key: CellKey = (*cell, old.status, old.branch or NO_BRANCH)
            deltas.add(old_key, -1, duration_ms(started_at, old.completed_at))
        new_key: CellKey = (*cell, record.status, record.branch or NO_BRANCH)
        deltas.add(new_key, 1, duration_ms(started_at, record.completed_at))
    return deltas


def version_move_deltas(
    tenant_id: str, journey_id: uuid.UUID, old: int, new: int, steps: Iterable[tuple[str, StoredStep]]
) -> RollupDeltas:
    """Every stored step (node id, step) of an enrollment taken out of version `old`'s cells and put in
    `new`'s (the extremes go with the +1 side only, as for any delta)."""
    deltas = RollupDeltas()
    for node_id, step in steps:
        duration = duration_ms(step.started_at, step.completed_at)
        hour, branch = hour_of(step.started_at), step.branch or NO_BRANCH
        for version, sign in ((old, -1), (new, 1)):
            key: CellKey = (
                tenant_id,
                journey_id,
                version,
                node_id,
                step.node_type,
                hour,
                step.status,
                branch,
            )
            deltas.add(key, sign, duration)
    return deltas


def _delta_upsert(grain: Grain) -> Any:
    """THE upsert: add a cell's deltas to the stored cell (min/max widen), or insert it."""
    statement = insert(grain.table)
    table, excluded = grain.table.c, statement.excluded
    return statement.on_conflict_do_update(
        index_elements=list(grain.table.primary_key.columns),
        set_={
            "count": table.count + excluded.count,
            "duration_count": table.duration_count + excluded.duration_count,
            "duration_sum_ms": table.duration_sum_ms + excluded.duration_sum_ms,
            "duration_min_ms": func.least(table.duration_min_ms, excluded.duration_min_ms),
            "duration_max_ms": func.greatest(table.duration_max_ms, excluded.duration_max_ms),
        },
    )


# Built once: applied by every projection write (parameters per call, executemany for several cells).
_DELTA_UPSERTS = {grain.name: _delta_upsert(grain) for grain in GRAINS}


# ---- covering a range with cells of both grains ---------------------------------------------------


@dataclass(frozen=True)
class Part:
    """Cells of one grain whose bucket is in [start, end), counted `sign` times into bucket `index`."""

    index: int
    grain: Grain
    start: datetime
    end: datetime
    sign: int


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _instant(hours: int) -> datetime:
    return _EPOCH + timedelta(hours=hours)


def _cover_one(index: int, start: int, end: int, subtract: bool) -> list[Part]:
    """The cheapest parts summing to the hour cells in [start, end) (in hours since the epoch): the
    hours themselves, or whole days with the hours at either end added or (`subtract`) taken out."""
    best: list[tuple[Grain, int, int, int]] = [(HOURLY, start, end, 1)]
    best_cost = end - start
    for low in {start // 24 * 24, -(-start // 24) * 24}:
        for high in {end // 24 * 24, -(-end // 24) * 24}:
            if high <= low or (not subtract and (low < start or high > end)):
                continue
            cost = (high - low) // 24 + abs(start - low) + abs(end - high)
            if cost >= best_cost:
                continue
            best, best_cost = [(DAILY, low, high, 1)], cost
            if low != start:
                best.append((HOURLY, min(low, start), max(low, start), 1 if start < low else -1))
            if high != end:
                best.append((HOURLY, min(high, end), max(high, end), 1 if high < end else -1))
    return [Part(index, grain, _instant(low), _instant(high), sign) for grain, low, high, sign in best]


def cover(bounds: Sequence[datetime], *, subtract: bool) -> list[Part]:
    """Parts for the buckets [bounds[i-1], bounds[i]) (i = 1…n; whole UTC hours, ascending).

    With `subtract`, a part may be a day taken whole and the hours it has too many taken back out — right
    for counts and sums, wrong for min/max, whose callers pass `subtract=False`."""
    hours = [(_utc(moment) - _EPOCH) // HOUR for moment in bounds]
    parts: list[Part] = []
    for index in range(1, len(hours)):
        if hours[index - 1] < hours[index]:
            parts.extend(_cover_one(index, hours[index - 1], hours[index], subtract))
    return parts


class RollupRepository:
    """Maintenance of both rollup grains, and the checks that they equal the step history."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def lock_steps(
        self, enrollment_id: uuid.UUID, keys: Sequence[tuple[str, int]]
    ) -> dict[tuple[str, int], StoredStep]:
        if not keys:
            return {}
        rows = await self._session.execute(
            select(*_STEP_COLUMNS)
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
        rows = await self._session.execute(
            select(*_STEP_COLUMNS).where(EnrollmentStepRow.enrollment_id == enrollment_id)
        )
        steps = [
            (node_id, StoredStep(node_type, status, branch, started_at, completed_at))
            for node_id, _visit, node_type, status, branch, started_at, completed_at in rows
        ]
        await self.apply_deltas(version_move_deltas(tenant_id, journey_id, old, new, steps))

    async def apply_deltas(self, deltas: RollupDeltas) -> None:
        for grain in GRAINS:
            values = [
                {
                    "tenant_id": key[0],
                    "journey_id": key[1],
                    "version": key[2],
                    "node_id": key[3],
                    "node_type": key[4],
                    grain.bucket: key[5],
                    "status": key[6],
                    "branch": key[7],
                    "count": cell.count,
                    "duration_count": cell.duration_count,
                    "duration_sum_ms": cell.duration_sum_ms,
                    "duration_min_ms": cell.duration_min_ms,
                    "duration_max_ms": cell.duration_max_ms,
                }
                # A fixed order, so concurrent transactions lock cells in the same order (no deadlock).
                for key, cell in sorted(deltas.at(grain).items(), key=lambda item: item[0])
                if not cell.is_noop()
            ]
            if values:
                await self._session.execute(_DELTA_UPSERTS[grain.name], values)

    # ---- the reference: what the rollup must equal ----------------------------------------------

    async def cells(self, tenant_id: str, grain: Grain) -> list[ScannedCell]:
        """A grain's cells (count 0 and duration sum 0 dropped), in the shape of `scan`."""
        t = grain.table.c
        rows = await self._session.execute(
            select(
                t.journey_id,
                t.version,
                t.node_id,
                t.node_type,
                t[grain.bucket],
                t.status,
                t.branch,
                t.count,
                t.duration_sum_ms,
            ).where(t.tenant_id == tenant_id, (t.count != 0) | (t.duration_sum_ms != 0))
        )
        return [typing.cast(ScannedCell, tuple(row)) for row in rows]

    async def scan(self, tenant_id: str, grain: Grain) -> list[ScannedCell]:
        """The same cells counted straight from `enrollment_steps` with one GROUP BY (a full scan)."""
        s = EnrollmentStepRow
        branch = func.coalesce(s.branch, NO_BRANCH)
        bucket = func.timezone("UTC", func.date_trunc(grain.name, func.timezone("UTC", s.started_at)))
        duration = func.floor(func.extract("epoch", s.completed_at - s.started_at) * 1000)
        rows = await self._session.execute(
            select(
                EnrollmentRow.journey_id,
                EnrollmentRow.version,
                s.node_id,
                s.node_type,
                bucket,
                s.status,
                branch,
                func.count(),
                func.coalesce(func.sum(cast(duration, BigInteger)), 0),
            )
            .join(EnrollmentRow, EnrollmentRow.id == s.enrollment_id)
            # A test customer's steps never reach the rollups (EnrollmentRepository.apply_progress).
            .where(s.tenant_id == tenant_id, EnrollmentRow.test.is_(False))
            .group_by(EnrollmentRow.journey_id, EnrollmentRow.version, s.node_id, s.node_type, bucket)
            .group_by(s.status, branch)
        )
        return [(j, v, n, t, b, st, br, int(c), int(d)) for j, v, n, t, b, st, br, c, d in rows]


# (journey, version, node, node type, bucket, status, branch, count, duration sum ms)
ScannedCell = tuple[uuid.UUID, int, str, str, datetime, str, str, int, int]

_STEP_COLUMNS = (
    EnrollmentStepRow.node_id,
    EnrollmentStepRow.visit,
    EnrollmentStepRow.node_type,
    EnrollmentStepRow.status,
    EnrollmentStepRow.branch,
    EnrollmentStepRow.started_at,
    EnrollmentStepRow.completed_at,
)
