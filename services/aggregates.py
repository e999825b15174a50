"""The aggregates query (Genesys shape, SPEC §10): validate, bucket in the time zone, one grouped query
per metric, shape.

Buckets are local to `timeZone` (a P1D bucket is a local day, 23 or 25 hours across a DST change), worked
out here once per query as instants; the store counts each metric's rows into them. Enrollment metrics
count enrollments; step metrics come from the exact rollups the projection maintains, whole days from the
daily cells, so an answer costs an indexed read of a few cells per bucket, not a scan of the step history.
The metrics and what each counts: store/repositories/aggregates.py and docs/analytics.md.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from itertools import pairwise
from typing import Any, Literal, cast
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from domain.errors import FieldIssue, InvalidInputError
from services.uow import UnitOfWork
from store.repositories.aggregates import (
    DIMENSIONS,
    METRICS,
    AggregateQuery,
    AggregatesRepository,
    FilterGroup,
    Predicate,
)

Unit = Literal["hour", "day", "week", "month", "quarter", "year"]
GRANULARITIES: dict[str, Unit] = {
    "PT1H": "hour",
    "P1D": "day",
    "P7D": "week",
    "P1W": "week",
    "P1M": "month",
    "P3M": "quarter",
    "P1Y": "year",
}
MAX_INTERVAL = timedelta(days=366 * 2)


@dataclass(frozen=True)
class PredicateSpec:
    dimension: str
    operator: str
    value: str | int | None
    range: dict[str, str | int] | None


@dataclass(frozen=True)
class FilterSpec:
    type: str
    predicates: Sequence[PredicateSpec]
    clauses: Sequence[FilterSpec]


@dataclass(frozen=True)
class AggregateRequest:
    interval: str
    granularity: str | None
    time_zone: str
    group_by: Sequence[str]
    filter: FilterSpec | None
    metrics: Sequence[str]


@dataclass(slots=True)  # a query's answer may hold thousands: the cheapest dataclass to make
class MetricStats:
    metric: str
    count: int
    sum: int | None
    min: int | None
    max: int | None


@dataclass(slots=True)
class Bucket:
    interval: str
    metrics: list[MetricStats]


@dataclass(slots=True)
class AggregateResult:
    group: dict[str, str | int]
    data: list[Bucket]


def _parse_instant(text: str) -> datetime:
    parsed = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    if parsed.tzinfo is None:
        raise ValueError("needs a UTC offset")
    return parsed


@dataclass(frozen=True)
class Buckets:
    """A query's buckets: `bounds` for the store (n+1 instants, the first and last the interval's own),
    `intervals` to answer with (n ISO intervals, each the whole local bucket, in local time)."""

    bounds: list[datetime]
    intervals: list[str]


def _local_midnight(day: date, zone: ZoneInfo) -> datetime:
    # A midnight that does not exist (a DST jump at 00:00) resolves as PostgreSQL's date_trunc does:
    # with the offset in force before the jump (fold=0).
    return datetime.combine(day, time(0), tzinfo=zone)


def _first_start(moment: datetime, unit: Unit, zone: ZoneInfo) -> datetime:
    """The start of the local bucket holding `moment`."""
    local = moment.astimezone(zone)
    if unit == "hour":
        return local.replace(minute=0, second=0, microsecond=0)
    day = local.date()
    if unit == "week":
        day -= timedelta(days=day.weekday())  # ISO weeks, from Monday, as date_trunc('week')
    elif unit == "month":
        day = day.replace(day=1)
    elif unit == "quarter":
        day = day.replace(month=(day.month - 1) // 3 * 3 + 1, day=1)
    elif unit == "year":
        day = day.replace(month=1, day=1)
    return _local_midnight(day, zone)


def _next_start(start: datetime, unit: Unit, zone: ZoneInfo) -> datetime:
    if unit == "hour":  # an hour of elapsed time: the local hours of a whole-hour zone are UTC hours
        return (start + timedelta(hours=1)).astimezone(zone)
    day = start.astimezone(zone).date()
    if unit in ("day", "week"):
        return _local_midnight(day + timedelta(days=1 if unit == "day" else 7), zone)
    months = {"month": 1, "quarter": 3, "year": 12}[unit]
    index = day.year * 12 + day.month - 1 + months
    return _local_midnight(date(index // 12, index % 12 + 1, 1), zone)


def buckets(start: datetime, end: datetime, unit: Unit | None, time_zone: str) -> Buckets:
    """The local buckets [start, end) falls into: a P1D bucket is a local day (23 or 25 hours across a
    DST change), P7D an ISO week from Monday, P1M a calendar month; none, one bucket for the interval."""
    if unit is None:
        return Buckets([start, end], [f"{start.isoformat()}/{end.isoformat()}"])
    zone = ZoneInfo(time_zone)
    starts = [_first_start(start, unit, zone)]
    while starts[-1] < end:
        starts.append(_next_start(starts[-1], unit, zone))
    bounds = [start, *starts[1:-1], end]
    intervals = [f"{low.isoformat()}/{high.isoformat()}" for low, high in pairwise(starts)]
    return Buckets(bounds, intervals)


def _validate(tenant_id: str, request: AggregateRequest) -> tuple[AggregateQuery, Buckets]:
    issues: list[FieldIssue] = []
    start = end = None
    try:
        left, right = request.interval.split("/")
        start, end = _parse_instant(left), _parse_instant(right)
        if end <= start:
            issues.append(FieldIssue(("body", "interval"), "the interval ends before it starts"))
        elif end - start > MAX_INTERVAL:
            issues.append(FieldIssue(("body", "interval"), "the interval may span at most two years"))
    except ValueError:
        issues.append(
            FieldIssue(
                ("body", "interval"), "use ISO-8601 start/end, e.g. 2026-01-01T00:00:00Z/2026-02-01T00:00:00Z"
            )
        )
    unit: Unit | None = None
    if request.granularity is not None:
        if request.granularity not in GRANULARITIES:
            issues.append(
                FieldIssue(("body", "granularity"), f"unsupported; use one of {', '.join(GRANULARITIES)}")
            )
        else:
            unit = GRANULARITIES[request.granularity]
    try:
        ZoneInfo(request.time_zone)
    except (ZoneInfoNotFoundError, ValueError):
        issues.append(FieldIssue(("body", "timeZone"), f"unknown time zone {request.time_zone!r}"))
    for i, name in enumerate(request.group_by):
        if name not in DIMENSIONS:
            issues.append(
                FieldIssue(("body", "groupBy", i), f"unknown dimension {name!r}; use {', '.join(DIMENSIONS)}")
            )
    for i, name in enumerate(request.metrics):
        if name not in METRICS:
            issues.append(
                FieldIssue(("body", "metrics", i), f"unknown metric {name!r}; use {', '.join(METRICS)}")
            )
    group = _filter(request.filter, ("body", "filter"), issues) if request.filter else None
    if issues:
        raise InvalidInputError(issues)
    assert start is not None and end is not None
    spans = buckets(start, end, unit, request.time_zone)
    query = AggregateQuery(
        tenant_id=tenant_id, bounds=spans.bounds, group_by=list(request.group_by), filter=group
    )
    return query, spans


def _filter(spec: FilterSpec, loc: tuple[str | int, ...], issues: list[FieldIssue]) -> FilterGroup:
    if spec.type not in ("and", "or"):
        issues.append(FieldIssue((*loc, "type"), "use 'and' or 'or'"))
    predicates = []
    for i, predicate in enumerate(spec.predicates):
        where = (*loc, "predicates", i)
        if predicate.dimension not in DIMENSIONS:
            issues.append(FieldIssue((*where, "dimension"), f"unknown dimension {predicate.dimension!r}"))
        if predicate.operator not in ("matches", "exists", "notExists"):
            issues.append(FieldIssue((*where, "operator"), "use matches, exists or notExists"))
        if predicate.operator == "matches" and predicate.value is None and predicate.range is None:
            issues.append(FieldIssue((*where, "value"), "matches needs a value or a range"))
        if predicate.dimension == "version":
            given = [predicate.value, *(predicate.range or {}).values()]
            if any(
                value is not None and (not isinstance(value, int) or isinstance(value, bool))
                for value in given
            ):
                issues.append(FieldIssue((*where, "value"), "version is a number"))
        for bound in predicate.range or {}:
            if bound not in ("gt", "gte", "lt", "lte"):
                issues.append(FieldIssue((*where, "range", bound), "use gt, gte, lt or lte"))
        predicates.append(
            Predicate(
                dimension=predicate.dimension,
                operator=cast(Literal["matches", "exists", "notExists"], predicate.operator),
                value=predicate.value,
                range=predicate.range,
            )
        )
    clauses = [_filter(clause, (*loc, "clauses", i), issues) for i, clause in enumerate(spec.clauses)]
    kind = cast(Literal["and", "or"], spec.type if spec.type in ("and", "or") else "and")
    return FilterGroup(type=kind, predicates=predicates, clauses=clauses)


class AggregatesService:
    def __init__(self, uow: UnitOfWork) -> None:
        self._aggregates = AggregatesRepository(uow.session)

    async def query(self, tenant_id: str, request: AggregateRequest) -> list[AggregateResult]:
        query, spans = _validate(tenant_id, request)
        by_group: dict[tuple[Any, ...], dict[int, list[MetricStats]]] = {}
        for metric in request.metrics:
            for row in await self._aggregates.aggregate(metric, query):
                stats = MetricStats(metric, row.count, row.sum, row.min, row.max)
                by_group.setdefault(row.key, {}).setdefault(row.bucket, []).append(stats)
        names = query.group_by
        return [
            AggregateResult(
                # A dimension the metric does not have is left out of its group.
                group={name: value for name, value in zip(names, key, strict=True) if value is not None},
                data=[
                    Bucket(spans.intervals[index - 1], metrics) for index, metrics in sorted(buckets_.items())
                ],
            )
            for key, buckets_ in sorted(by_group.items(), key=lambda item: str(item[0]))
        ]
