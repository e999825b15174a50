"""The aggregates query language: dimensions, filters, and each metric as a small class with its SQL.

A query brings its buckets as `bounds`, n+1 ascending instants (bucket i is [bounds[i-1], bounds[i]));
the service computes them in the query's time zone, so a local day is whatever it is in UTC (23 or 25
hours across a DST change). Every metric yields rows of (bucket index, every dimension — NULL where it
has none —, n, s, lo, hi); one statement then filters, groups and sums them.

Enrollment metrics count enrollments, one each, whatever the grouping; step metrics count step visits
from the step rollups (store/repositories/rollups.py), whole days from the daily cells and the ends
of a bucket from the hourly ones. docs/analytics.md has the table of every metric.
"""

from __future__ import annotations

import typing
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, ClassVar, Literal

from sqlalchemy import (
    BigInteger,
    ColumnElement,
    DateTime,
    FromClause,
    Integer,
    Select,
    String,
    and_,
    bindparam,
    cast,
    column,
    false,
    func,
    literal,
    null,
    or_,
    select,
    true,
    union_all,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.ext.asyncio import AsyncSession

from store.repositories.rollups import DAILY, GRAINS, NO_BRANCH, Grain, Part, ceil_hour, cover
from store.rows import EnrollmentRow, EventRow, JourneyVersionRow, MessageRow

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

    def dimensions(self) -> set[str]:
        found = {p.dimension for p in self.predicates}
        for clause in self.clauses:
            found |= clause.dimensions()
        return found


@dataclass(frozen=True)
class AggregateQuery:
    tenant_id: str
    bounds: Sequence[datetime]  # n+1 ascending instants; bucket i (1…n) is [bounds[i-1], bounds[i])
    group_by: Sequence[str]
    filter: FilterGroup | None

    @property
    def start(self) -> datetime:
        return self.bounds[0]

    @property
    def end(self) -> datetime:
        return self.bounds[-1]

    def uses(self, dimension: str) -> bool:
        """Whether the grouping or the filter reads `dimension` (a metric may skip a costly join if not)."""
        return dimension in self.group_by or (
            self.filter is not None and dimension in self.filter.dimensions()
        )


@dataclass(frozen=True)
class AggregateRow:
    bucket: int  # 1…n, the index of the bucket in the query's bounds
    group: dict[str, str | int]
    count: int
    sum: int | None
    min: int | None
    max: int | None


_INSTANTS = ARRAY(DateTime(timezone=True))


def _bucket_of(ts: Any, bounds: Sequence[datetime]) -> ColumnElement[int]:
    """Which bucket `ts` falls in: a binary search of the bounds (0 before the first, n+1 after the last)."""
    return typing.cast(
        ColumnElement[int], func.width_bucket(ts, bindparam("bounds", list(bounds), type_=_INSTANTS))
    )


def _dimensions(**given: Any) -> list[Any]:
    """A source's dimension columns, in DIMENSIONS order: NULL for those it does not have."""
    out = []
    for name in DIMENSIONS:
        label = _COLUMN[name]
        if name in given:
            out.append(given[name].label(label))
        elif name == "version":
            out.append(cast(null(), Integer).label(label))
        else:
            out.append(cast(null(), String).label(label))
    return out


def _one_each(bucket: ColumnElement[int]) -> list[Any]:
    """The stats columns of a source where each row is one of the thing counted."""
    return [
        bucket.label("i"),
        literal(1, BigInteger).label("n"),
        literal(0, BigInteger).label("s"),
        cast(null(), BigInteger).label("lo"),
        cast(null(), BigInteger).label("hi"),
    ]


class Metric(ABC):
    """One metric: its name on the wire, what it counts (docs/analytics.md), the dimensions it has, and
    the SQL of its rows."""

    name: ClassVar[str]
    counts: ClassVar[str]
    dimensions: ClassVar[tuple[str, ...]]

    @abstractmethod
    def rows(self, query: AggregateQuery) -> Select[Any]:
        """(i, every dimension, n, s, lo, hi) for the query's tenant and buckets."""


# ---- enrollment metrics: one row per enrollment -------------------------------------------------------


def _version_nodes(tenant_id: str) -> FromClause:
    """(journey, version, node id, node type) of every published version of the tenant's journeys."""
    v = JourneyVersionRow
    node = (
        func.jsonb_array_elements(v.definition["nodes"]).table_valued(column("value", JSONB)).lateral("node")
    )
    return (
        select(
            v.journey_id.label("journey_id"),
            v.version.label("version"),
            node.c.value["id"].astext.label("node_id"),
            node.c.value["type"].astext.label("node_type"),
        )
        .select_from(v)
        .join(node, true())
        .where(v.tenant_id == tenant_id)
        .subquery("version_nodes")
    )


class EnrollmentMetric(Metric):
    """Enrollments, each counted once, at the moment `at`. By node: where the enrollment ended (or is
    now: its last step) — or, for `entry`, the TRIGGER it entered by (from its published version)."""

    dimensions = ("journeyId", "version", "nodeId", "nodeType")
    at: ClassVar[Literal["entered", "ended", "converted"]]
    status: ClassVar[str | None] = None
    converted: ClassVar[bool] = False

    def moment(self) -> Any:
        e = EnrollmentRow
        if self.at == "entered":
            return e.enrolled_at
        if self.at == "ended":
            return e.completed_at
        # Enrollments converted before the conversion time was recorded (migration 0008) count at entry.
        return func.coalesce(e.converted_at, e.enrolled_at)

    def rows(self, query: AggregateQuery) -> Select[Any]:
        e = EnrollmentRow
        ts = self.moment()
        where: list[ColumnElement[bool]] = [e.tenant_id == query.tenant_id, ts >= query.start, ts < query.end]
        if self.status is not None:
            where.append(e.status == self.status)
        if self.converted:
            where.append(e.converted.is_(True))
        entry = self.at == "entered"
        node_id: Any = e.current_step_id
        node_type: ColumnElement[Any] = literal("TRIGGER", String) if entry else cast(null(), String)
        nodes = None
        # Which node an enrollment entered by, and the type of the one it ended at, are in its version.
        if query.uses("nodeId" if entry else "nodeType"):
            nodes = _version_nodes(query.tenant_id)
            node_on = nodes.c.node_type == "TRIGGER" if entry else nodes.c.node_id == e.current_step_id
            if entry:
                node_id = nodes.c.node_id
            else:
                node_type = nodes.c.node_type
        dims = _dimensions(
            journeyId=cast(e.journey_id, String), version=e.version, nodeId=node_id, nodeType=node_type
        )
        statement = select(*dims, *_one_each(_bucket_of(ts, query.bounds))).select_from(e)
        if nodes is not None:
            statement = statement.outerjoin(
                nodes, and_(nodes.c.journey_id == e.journey_id, nodes.c.version == e.version, node_on)
            )
        return statement.where(*where)


class Enrolled(EnrollmentMetric):
    name = "nEnrolled"
    counts = "enrollments that entered, when they entered; by node, at the TRIGGER they entered by"
    at = "entered"


class Completed(EnrollmentMetric):
    name = "nCompleted"
    counts = "enrollments that completed (reached an END, or a node with no way on), when they ended"
    at = "ended"
    status = "COMPLETED"


class Exited(EnrollmentMetric):
    name = "nExited"
    counts = "enrollments that exited (an EXIT node, exit criteria, goal, deadline, removal), when they ended"
    at = "ended"
    status = "EXITED"


class Failed(EnrollmentMetric):
    name = "nFailed"
    counts = "enrollments that failed, when they ended"
    at = "ended"
    status = "FAILED"


class Converted(EnrollmentMetric):
    name = "nConverted"
    counts = "enrollments that reached their goal, when they reached it"
    at = "converted"
    converted = True


# ---- step metrics: step visits, from the rollups ------------------------------------------------------


class StepMetric(Metric):
    """Step visits from the rollup cells, each counted in the bucket of the hour it started in."""

    dimensions = ("journeyId", "version", "nodeId", "nodeType", "branch")
    statuses: ClassVar[tuple[str, ...] | None] = None  # None: every status
    durations: ClassVar[bool] = False

    def _stats(self, table: Any, sign: ColumnElement[int] | int) -> list[Any]:
        if self.durations:
            return [
                (sign * table.duration_count).label("n"),
                (sign * table.duration_sum_ms).label("s"),
                table.duration_min_ms.label("lo"),
                table.duration_max_ms.label("hi"),
            ]
        return [
            (sign * table.count).label("n"),
            literal(0, BigInteger).label("s"),
            cast(null(), BigInteger).label("lo"),
            cast(null(), BigInteger).label("hi"),
        ]

    def _cells(self, grain: Grain, query: AggregateQuery) -> tuple[Any, list[ColumnElement[bool]], list[Any]]:
        table = grain.table.c
        where: list[ColumnElement[bool]] = [table.tenant_id == query.tenant_id]
        if self.statuses is not None:
            where.append(table.status.in_(self.statuses))
        dims = _dimensions(
            journeyId=cast(table.journey_id, String),
            version=table.version,
            nodeId=table.node_id,
            nodeType=table.node_type,
            branch=func.nullif(table.branch, NO_BRANCH),
        )
        return table, where, dims

    def rows(self, query: AggregateQuery) -> Select[Any]:
        bounds = [ceil_hour(moment) for moment in query.bounds]
        # Min and max cannot be taken back out of a day: duration stats only ever add cells.
        parts = cover(bounds, subtract=not self.durations)
        if not any(part.grain is DAILY for part in parts):
            # Hours only (hourly buckets, or local days that never hold a whole UTC day): one range.
            table, where, dims = self._cells(GRAINS[0], query)
            hour = GRAINS[0].bucket_column
            where += [hour >= bounds[0], hour < bounds[-1]]
            bucket = _bucket_of(hour, bounds)
            return select(*dims, bucket.label("i"), *self._stats(table, 1)).where(*where)
        selects = []
        for grain in GRAINS:
            mine = [part for part in parts if part.grain is grain]
            if mine:
                selects.append(self._over_parts(grain, mine, query))
        union = union_all(*selects).subquery("cells")
        return select(*union.c)

    def _over_parts(self, grain: Grain, parts: list[Part], query: AggregateQuery) -> Select[Any]:
        """The grain's cells in each part, with the part's bucket and sign (one index range scan each)."""
        table, where, dims = self._cells(grain, query)
        name = grain.name
        spans = (
            func.unnest(
                bindparam(f"{name}_i", [p.index for p in parts], type_=ARRAY(Integer)),
                bindparam(f"{name}_lo", [p.start for p in parts], type_=_INSTANTS),
                bindparam(f"{name}_hi", [p.end for p in parts], type_=_INSTANTS),
                bindparam(f"{name}_sign", [p.sign for p in parts], type_=ARRAY(Integer)),
            )
            .table_valued(
                column("i", Integer),
                column("lo", DateTime(timezone=True)),
                column("hi", DateTime(timezone=True)),
                column("sign", Integer),
            )
            .render_derived(name=f"{name}_parts")
        )
        bucket = table[grain.bucket]
        return (
            select(*dims, spans.c.i.label("i"), *self._stats(table, spans.c.sign))
            .select_from(spans)
            .join(grain.table, and_(bucket >= spans.c.lo, bucket < spans.c.hi, *where))
        )


class StepsEntered(StepMetric):
    name = "nStepsEntered"
    counts = "step visits, whatever became of them (a node visited twice counts twice)"


class StepsCompleted(StepMetric):
    name = "nStepsCompleted"
    counts = "step visits that completed"
    statuses = ("COMPLETED",)


class StepsExited(StepMetric):
    name = "nStepsExited"
    counts = "step visits left because the enrollment exited there"
    statuses = ("EXITED",)


class StepsFailed(StepMetric):
    name = "nStepsFailed"
    counts = "step visits that failed or were skipped"
    statuses = ("FAILED", "SKIPPED")


class StepDuration(StepMetric):
    name = "oStepDuration"
    counts = "durations of closed step visits, in ms: count, sum, min, max"
    durations = True


# ---- messages and events ------------------------------------------------------------------------------


class MessagesSent(Metric):
    name = "nMessagesSent"
    counts = "messages sent (not suppressed, not failed), when sent"
    dimensions = ("journeyId", "version", "nodeId", "nodeType", "channel")

    def rows(self, query: AggregateQuery) -> Select[Any]:
        m = MessageRow
        ts = func.coalesce(m.sent_at, m.created_at)
        dims = _dimensions(
            journeyId=cast(m.journey_id, String),
            version=EnrollmentRow.version,
            nodeId=m.node_id,
            nodeType=literal("SEND", String),
            channel=m.channel,
        )
        return (
            select(*dims, *_one_each(_bucket_of(ts, query.bounds)))
            .select_from(m)
            .outerjoin(EnrollmentRow, EnrollmentRow.id == m.enrollment_id)
            .where(m.tenant_id == query.tenant_id, m.status == "sent", ts >= query.start, ts < query.end)
        )


class EventsReceived(Metric):
    name = "nEventsReceived"
    counts = "events received, when received"
    dimensions = ("eventName",)

    def rows(self, query: AggregateQuery) -> Select[Any]:
        ev = EventRow
        return select(
            *_dimensions(eventName=ev.name), *_one_each(_bucket_of(ev.received_at, query.bounds))
        ).where(ev.tenant_id == query.tenant_id, ev.received_at >= query.start, ev.received_at < query.end)


METRICS: dict[str, Metric] = {
    metric.name: metric
    for metric in (
        Enrolled(),
        Completed(),
        Exited(),
        Failed(),
        Converted(),
        StepsEntered(),
        StepsCompleted(),
        StepsExited(),
        StepsFailed(),
        StepDuration(),
        MessagesSent(),
        EventsReceived(),
    )
}


class AggregatesRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def aggregate(self, metric: str, query: AggregateQuery) -> list[AggregateRow]:
        source = METRICS[metric].rows(query).subquery("source")
        condition = _filter_sql(query.filter, source.c) if query.filter else true()
        group_columns = [source.c[_COLUMN[name]] for name in query.group_by]
        rows = await self._session.execute(
            select(
                source.c.i,
                *group_columns,
                func.sum(source.c.n),
                func.sum(source.c.s),
                func.min(source.c.lo),
                func.max(source.c.hi),
            )
            .where(condition)
            .group_by(source.c.i, *group_columns)
        )
        out = []
        for row in rows:
            group = {name: row[1 + i] for i, name in enumerate(query.group_by) if row[1 + i] is not None}
            n, s, lo, hi = row[1 + len(group_columns) :]
            if not n:
                continue
            out.append(
                AggregateRow(
                    bucket=int(row[0]),
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
    column_ = columns[_COLUMN[predicate.dimension]]
    if predicate.operator == "exists":
        return column_.is_not(None)  # type: ignore[no-any-return]
    if predicate.operator == "notExists":
        return column_.is_(None)  # type: ignore[no-any-return]
    parts: list[ColumnElement[bool]] = []
    if predicate.value is not None:
        parts.append(column_ == predicate.value)
    for bound, value in (predicate.range or {}).items():
        parts.append(
            {"gt": column_ > value, "gte": column_ >= value, "lt": column_ < value, "lte": column_ <= value}[
                bound
            ]
        )
    return and_(*parts) if parts else false()
