"""The aggregates query (Genesys shape, SPEC §10): validate, run one grouped query per metric, shape.

Buckets are local to `timeZone` (a P1D bucket is a local day, 23 or 25 hours across a DST change).
Step metrics come from the exact rollup the projection maintains, so an answer costs one indexed
aggregate over hourly cells instead of a scan of the step history.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal, cast
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from domain.errors import FieldIssue, InvalidInputError
from services.uow import UnitOfWork
from store.repositories.analytics import (
    DIMENSIONS,
    AggregateQuery,
    AggregateRow,
    AnalyticsRepository,
    FilterGroup,
    Predicate,
    Unit,
)

METRICS = (
    "nEnrolled",
    "nCompleted",
    "nExited",
    "nFailed",
    "nConverted",
    "nMessagesSent",
    "nEventsReceived",
    "oStepDuration",
)
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


@dataclass(frozen=True)
class MetricStats:
    metric: str
    count: int
    sum: int | None
    min: int | None
    max: int | None


@dataclass(frozen=True)
class Bucket:
    interval: str
    metrics: list[MetricStats]


@dataclass(frozen=True)
class AggregateResult:
    group: dict[str, str | int]
    data: list[Bucket]


def _parse_instant(text: str) -> datetime:
    parsed = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    if parsed.tzinfo is None:
        raise ValueError("needs a UTC offset")
    return parsed


def _validate(tenant_id: str, request: AggregateRequest) -> AggregateQuery:
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
    return AggregateQuery(
        tenant_id=tenant_id,
        start=start,
        end=end,
        unit=unit,
        time_zone=request.time_zone,
        group_by=list(request.group_by),
        filter=group,
    )


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


def _bucket_interval(start: datetime, unit: Unit | None, query: AggregateQuery) -> str:
    """An ISO interval for a bucket, its bounds in local time (so a local day reads as one)."""
    zone = ZoneInfo(query.time_zone)
    if unit is None:
        return f"{query.start.isoformat()}/{query.end.isoformat()}"
    local = start.astimezone(zone)
    if unit == "hour":
        end = (start + timedelta(hours=1)).astimezone(zone)
    elif unit in ("day", "week"):
        days = 1 if unit == "day" else 7
        end = (local.replace(tzinfo=None) + timedelta(days=days)).replace(tzinfo=zone)
    else:
        months = {"month": 1, "quarter": 3, "year": 12}[unit]
        index = local.year * 12 + local.month - 1 + months
        end = local.replace(year=index // 12, month=index % 12 + 1)
    return f"{local.isoformat()}/{end.isoformat()}"


class AggregatesService:
    def __init__(self, uow: UnitOfWork) -> None:
        self._analytics = AnalyticsRepository(uow.session)

    async def query(self, tenant_id: str, request: AggregateRequest) -> list[AggregateResult]:
        query = _validate(tenant_id, request)
        by_group: dict[tuple[Any, ...], dict[datetime, list[MetricStats]]] = {}
        groups: dict[tuple[Any, ...], dict[str, str | int]] = {}
        for metric in request.metrics:
            rows: list[AggregateRow] = await self._analytics.aggregate(metric, query)
            for row in rows:
                key = tuple(row.group.get(name) for name in query.group_by)
                groups[key] = row.group
                stats = MetricStats(metric, row.count, row.sum, row.min, row.max)
                by_group.setdefault(key, {}).setdefault(row.bucket, []).append(stats)
        return [
            AggregateResult(
                group=groups[key],
                data=[
                    Bucket(_bucket_interval(bucket, query.unit, query), metrics)
                    for bucket, metrics in sorted(buckets.items())
                ],
            )
            for key, buckets in sorted(by_group.items(), key=lambda item: str(item[0]))
        ]
