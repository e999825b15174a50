"""The aggregates query language: dimensions, filters, and each metric as a small class with its SQL.

A query brings its buckets as `bounds`, n+1 ascending instants (bucket i is [bounds[i-1], bounds[i]));
the service computes them in the query's time zone, so a local day is whatever it is in UTC (23 or 25
hours across a DST change). Every metric yields rows of (bucket index, every dimension — NULL where it
has none —, n, s, lo, hi); one statement then filters, groups and sums them. Statements are built once
per shape (metric, grouping, the filter's form, the metric's plan) and run with the query's values as
parameters: building and compiling one costs more than running it over the rollups.

Enrollment metrics count enrollments, one each, whatever the grouping; step metrics count step visits
from the step rollups (store/repositories/rollups.py), whole days from the daily cells and the ends
of a bucket from the hourly ones. docs/analytics.md has the table of every metric. Test customers' runs
(`enrollments.test`) count in no metric: enrollment and message metrics filter them out, and their
steps never reach the rollups.
"""

from __future__ import annotations

import typing
from abc import ABC, abstractmethod
from collections import OrderedDict
from collections.abc import Hashable, Sequence
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
from sqlalchemy.dialects.postgresql import ARRAY, JSONB, UUID
from sqlalchemy.ext.asyncio import AsyncSession

from store.repositories.rollups import DAILY, GRAINS, HOURLY, NO_BRANCH, Grain, ceil_hour, cover
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


@dataclass(slots=True)
class AggregateRow:
    bucket: int  # 1…n, the index of the bucket in the query's bounds
    key: tuple[str | int | None, ...]  # the groupBy dimensions' values, in order (None: the metric lacks it)
    count: int
    sum: int | None
    min: int | None
    max: int | None


# ---- parameters every statement may use (values: `AggregatesRepository.aggregate`) --------------------

_INSTANTS = ARRAY(DateTime(timezone=True))
_TENANT = bindparam("tenant", type_=String)
_START = bindparam("start", type_=DateTime(timezone=True))
_END = bindparam("end", type_=DateTime(timezone=True))
_BOUNDS = bindparam("bounds", type_=_INSTANTS)


def _bucket_of(ts: Any) -> ColumnElement[int]:
    """Which bucket `ts` falls in: a binary search of the bounds (0 before the first, n+1 after the last)."""
    return typing.cast(ColumnElement[int], func.width_bucket(ts, _BOUNDS))


_TYPES: dict[str, Any] = {"journeyId": UUID(as_uuid=True), "version": Integer()}


def _dimensions(**given: Any) -> list[Any]:
    """A source's dimension columns, in DIMENSIONS order: NULL for those it does not have. A journey id
    stays a UUID until after grouping (text only in the answer, and in a filter)."""
    return [
        (given[name] if name in given else cast(null(), _TYPES.get(name, String()))).label(_COLUMN[name])
        for name in DIMENSIONS
    ]


def _as_text(name: str, column_: Any) -> Any:
    return cast(column_, String) if name == "journeyId" else column_


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

    def plan(self, query: AggregateQuery) -> tuple[Hashable, dict[str, Any]]:
        """The form of this query's statement (one is built per form) and its own parameters' values."""
        return (), {}

    @abstractmethod
    def rows(self, form: Any) -> Select[Any]:
        """(i, every dimension, n, s, lo, hi) of the tenant's rows in [start, end), i by `bounds`."""


# ---- enrollment metrics: one row per enrollment -------------------------------------------------------


def _version_nodes() -> FromClause:
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
        .where(v.tenant_id == _TENANT)
        .subquery("version_nodes")
    )


class EnrollmentMetric(Metric):
    """Enrollments, each counted once, at the moment `at`. By node: where the enrollment ended (or is
    now: its last step) — or, for `nEnrolled`, the TRIGGER it entered by (from its published version)."""

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

    def plan(self, query: AggregateQuery) -> tuple[Hashable, dict[str, Any]]:
        # Which node an enrollment entered by, and the type of the one it ended at, are in its version:
        # read only when the grouping or the filter asks.
        return query.uses("nodeId" if self.at == "entered" else "nodeType"), {}

    def rows(self, form: bool) -> Select[Any]:
        e = EnrollmentRow
        ts = self.moment()
        where: list[ColumnElement[bool]] = [
            e.tenant_id == _TENANT,
            ts >= _START,
            ts < _END,
            e.test.is_(False),
        ]
        if self.status is not None:
            where.append(e.status == self.status)
        if self.converted:
            where.append(e.converted.is_(True))
        entry = self.at == "entered"
        node_id: Any = e.current_step_id
        node_type: Any = literal("TRIGGER", String) if entry else cast(null(), String)
        source: FromClause = e.__table__
        if form:
            nodes = _version_nodes()
            node_on = nodes.c.node_type == "TRIGGER" if entry else nodes.c.node_id == e.current_step_id
            source = source.outerjoin(
                nodes, and_(nodes.c.journey_id == e.journey_id, nodes.c.version == e.version, node_on)
            )
            if entry:
                node_id = nodes.c.node_id
            else:
                node_type = nodes.c.node_type
        dims = _dimensions(journeyId=e.journey_id, version=e.version, nodeId=node_id, nodeType=node_type)
        return select(*dims, *_one_each(_bucket_of(ts))).select_from(source).where(*where)


class Enrolled(EnrollmentMetric):
    name = "nEnrolled"
    counts = "enrollments that entered, when they entered; by node, at the TRIGGER they entered by"
    at = "entered"


class Completed(EnrollmentMetric):
    name = "nCompleted"
    counts = "enrollments that completed (an END or EXIT node, or a node with no way on), when they ended"
    at = "ended"
    status = "COMPLETED"


class Exited(EnrollmentMetric):
    name = "nExited"
    counts = "enrollments that left early (exit criteria, goal and exitOnConversion, deadline, removal)"
    at = "ended"
    status = "EXITED"


class Failed(EnrollmentMetric):
    name = "nFailed"
    counts = "enrollments that failed (a send or update failed for good, a loop without a wait)"
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

    def plan(self, query: AggregateQuery) -> tuple[Hashable, dict[str, Any]]:
        bounds = [ceil_hour(moment) for moment in query.bounds]
        # Min and max cannot be taken back out of a day: duration stats only ever add cells.
        parts = cover(bounds, subtract=not self.durations)
        if not any(part.grain is DAILY for part in parts):
            # Hours only (hourly buckets, or local days that never hold a whole UTC day): one range.
            return "hours", {"hours": bounds, "first_hour": bounds[0], "last_hour": bounds[-1]}
        values: dict[str, Any] = {}
        grains = []
        for grain in GRAINS:
            mine = [part for part in parts if part.grain is grain]
            if mine:
                grains.append(grain.name)
                values[f"{grain.name}_i"] = [p.index for p in mine]
                values[f"{grain.name}_lo"] = [p.start for p in mine]
                values[f"{grain.name}_hi"] = [p.end for p in mine]
                values[f"{grain.name}_sign"] = [p.sign for p in mine]
        return tuple(grains), values

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

    def _cells(self, grain: Grain) -> tuple[Any, list[ColumnElement[bool]], list[Any]]:
        table = grain.table.c
        where: list[ColumnElement[bool]] = [table.tenant_id == _TENANT]
        if self.statuses is not None:
            where.append(
                table.status.in_(self.statuses)
                if len(self.statuses) > 1
                else table.status == self.statuses[0]
            )
        dims = _dimensions(
            journeyId=table.journey_id,
            version=table.version,
            nodeId=table.node_id,
            nodeType=table.node_type,
            branch=func.nullif(table.branch, NO_BRANCH),
        )
        return table, where, dims

    def rows(self, form: str | tuple[str, ...]) -> Select[Any]:
        if form == "hours":
            table, where, dims = self._cells(HOURLY)
            hour = HOURLY.bucket_column
            where += [hour >= bindparam("first_hour", type_=DateTime(timezone=True))]
            where += [hour < bindparam("last_hour", type_=DateTime(timezone=True))]
            bucket = func.width_bucket(hour, bindparam("hours", type_=_INSTANTS))
            return select(*dims, bucket.label("i"), *self._stats(table, 1)).where(*where)
        selects = [self._over_parts(grain) for grain in GRAINS if grain.name in form]
        return select(*union_all(*selects).subquery("cells").c)

    def _over_parts(self, grain: Grain) -> Select[Any]:
        """The grain's cells in each part, with the part's bucket and sign (one index range scan each)."""
        table, where, dims = self._cells(grain)
        name = grain.name
        spans = (
            func.unnest(
                bindparam(f"{name}_i", type_=ARRAY(Integer)),
                bindparam(f"{name}_lo", type_=_INSTANTS),
                bindparam(f"{name}_hi", type_=_INSTANTS),
                bindparam(f"{name}_sign", type_=ARRAY(Integer)),
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

    def rows(self, form: Any) -> Select[Any]:
        m = MessageRow
        ts = func.coalesce(m.sent_at, m.created_at)
        dims = _dimensions(
            journeyId=m.journey_id,
            version=EnrollmentRow.version,
            nodeId=m.node_id,
            nodeType=literal("SEND", String),
            channel=m.channel,
        )
        return (
            select(*dims, *_one_each(_bucket_of(ts)))
            .select_from(m)
            .outerjoin(EnrollmentRow, EnrollmentRow.id == m.enrollment_id)
            .where(
                m.tenant_id == _TENANT,
                m.status == "sent",
                ts >= _START,
                ts < _END,
                # A test customer's send is left out (a message with no enrollment counts).
                EnrollmentRow.test.is_not(True),
            )
        )


class EventsReceived(Metric):
    name = "nEventsReceived"
    counts = "events received, when received"
    dimensions = ("eventName",)

    def rows(self, form: Any) -> Select[Any]:
        ev = EventRow
        return select(*_dimensions(eventName=ev.name), *_one_each(_bucket_of(ev.received_at))).where(
            ev.tenant_id == _TENANT, ev.received_at >= _START, ev.received_at < _END
        )


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


# ---- filters: their form in the statement, their values as parameters -------------------------------


def _filter_form(group: FilterGroup, values: list[str | int]) -> Hashable:
    """The filter without its values (which go to `values`, in the order `_filter_sql` numbers them)."""
    predicates = []
    for p in group.predicates:
        bounds = sorted((p.range or {}).items())
        if p.operator == "matches":
            if p.value is not None:
                values.append(_filter_value(p.dimension, p.value))
            values.extend(_filter_value(p.dimension, value) for _, value in bounds)
        predicates.append((p.dimension, p.operator, p.value is not None, tuple(bound for bound, _ in bounds)))
    clauses = tuple(_filter_form(clause, values) for clause in group.clauses)
    return group.type, tuple(predicates), clauses


def _filter_sql(group: FilterGroup, columns: Any, counter: list[int]) -> ColumnElement[bool]:
    parts: list[ColumnElement[bool]] = [_predicate_sql(p, columns, counter) for p in group.predicates]
    parts.extend(_filter_sql(clause, columns, counter) for clause in group.clauses)
    if not parts:
        return true()
    return and_(*parts) if group.type == "and" else or_(*parts)


def _filter_value(dimension: str, value: str | int) -> str | int:
    """A filter value as its dimension holds it: `version` a number (the service refuses others), the
    rest text (a number given for a node id matches the node named by its digits)."""
    return value if dimension == "version" else str(value)


def _value(counter: list[int], dimension: str) -> Any:
    counter[0] += 1
    return bindparam(f"filter_{counter[0] - 1}", type_=Integer() if dimension == "version" else String())


def _predicate_sql(predicate: Predicate, columns: Any, counter: list[int]) -> ColumnElement[bool]:
    column_ = _as_text(predicate.dimension, columns[_COLUMN[predicate.dimension]])
    if predicate.operator == "exists":
        return column_.is_not(None)  # type: ignore[no-any-return]
    if predicate.operator == "notExists":
        return column_.is_(None)  # type: ignore[no-any-return]
    parts: list[ColumnElement[bool]] = []
    if predicate.value is not None:
        parts.append(column_ == _value(counter, predicate.dimension))
    for bound, _ in sorted((predicate.range or {}).items()):
        value = _value(counter, predicate.dimension)
        parts.append(
            {"gt": column_ > value, "gte": column_ >= value, "lt": column_ < value, "lte": column_ <= value}[
                bound
            ]
        )
    return and_(*parts) if parts else false()


# ---- the statement: one per form, built on first use --------------------------------------------------

_STATEMENTS: OrderedDict[Hashable, Select[Any]] = OrderedDict()
_STATEMENTS_KEPT = 256


def _statement(metric: Metric, form: Hashable, query: AggregateQuery, shape: Hashable) -> Select[Any]:
    statement = _STATEMENTS.get(shape)
    if statement is not None:
        _STATEMENTS.move_to_end(shape)
        return statement
    source = metric.rows(form).subquery("source")
    condition = _filter_sql(query.filter, source.c, [0]) if query.filter else true()
    group_columns = [source.c[_COLUMN[name]] for name in query.group_by]
    columns: list[Any] = [
        source.c.i,
        *(_as_text(name, column_) for name, column_ in zip(query.group_by, group_columns, strict=True)),
        cast(func.sum(source.c.n), BigInteger),  # bigint, not numeric: ints without a Decimal
        cast(func.sum(source.c.s), BigInteger),
        func.min(source.c.lo),
        func.max(source.c.hi),
    ]
    statement = select(*columns).where(condition).group_by(source.c.i, *group_columns)
    _STATEMENTS[shape] = statement
    if len(_STATEMENTS) > _STATEMENTS_KEPT:
        _STATEMENTS.popitem(last=False)
    return statement


class AggregatesRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def aggregate(self, metric_name: str, query: AggregateQuery) -> list[AggregateRow]:
        metric = METRICS[metric_name]
        form, values = metric.plan(query)
        filter_values: list[str | int] = []
        filter_form = _filter_form(query.filter, filter_values) if query.filter else None
        shape = (metric_name, form, tuple(query.group_by), filter_form)
        statement = _statement(metric, form, query, shape)
        values.update({f"filter_{i}": value for i, value in enumerate(filter_values)})
        values.update(tenant=query.tenant_id, start=query.start, end=query.end, bounds=list(query.bounds))
        result = await self._session.execute(statement, values)
        width = len(query.group_by)
        out = []
        for row in result.all():  # one fetch for all rows (row by row costs more than the SQL here)
            n, s, lo, hi = row[width + 1 :]
            if n:  # a bucket where everything counted was taken back out (or nothing closed) is left out
                out.append(AggregateRow(row[0], tuple(row[1 : width + 1]), n, s, lo, hi))
        return out
