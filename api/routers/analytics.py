"""/v1/journeys/{id}/analytics and /v1/analytics/journeys/aggregates/query."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query

from api.auth import Principal
from api.deps import Uow, parse_id, require
from api.schemas.analytics import (
    AggregateQueryIn,
    AggregatesOut,
    BucketOut,
    FilterIn,
    JourneyAnalyticsOut,
    MetricOut,
    ResultOut,
    StatsOut,
)
from services.aggregates import AggregateRequest, AggregatesService, FilterSpec, PredicateSpec
from services.analytics import AnalyticsService

router = APIRouter(prefix="/v1", tags=["analytics"])

ViewJourney = Annotated[Principal, Depends(require("journey:journey:view"))]


@router.get("/journeys/{journey_id}/analytics", response_model=JourneyAnalyticsOut)
async def journey_analytics(
    journey_id: str,
    uow: Uow,
    principal: ViewJourney,
    version: Annotated[int | None, Query(ge=1)] = None,
    from_: Annotated[datetime | None, Query(alias="from")] = None,
    to: Annotated[datetime | None, Query()] = None,
) -> JourneyAnalyticsOut:
    """Per node (entered, completed, in progress, exited, failed, sent, suppressed), per branch, conversion.

    Counted in whole UTC hours: `from` is floored and `to` ceiled to the hour (the response echoes both)."""
    result = await AnalyticsService(uow).journey(
        principal.tenant_id, parse_id(journey_id, "journey"), version, from_, to
    )
    return JourneyAnalyticsOut.build(result)


ViewAggregates = Annotated[Principal, Depends(require("analytics:journeyAggregate:view"))]


def _filter_spec(body: FilterIn) -> FilterSpec:
    def predicates(items: list[Any]) -> list[PredicateSpec]:
        return [PredicateSpec(p.dimension, p.operator, p.value, p.range) for p in items]

    return FilterSpec(
        type=body.type,
        predicates=predicates(body.predicates),
        clauses=[
            FilterSpec(type=c.type, predicates=predicates(c.predicates), clauses=[]) for c in body.clauses
        ],
    )


@router.post("/analytics/journeys/aggregates/query", response_model=AggregatesOut)
async def journey_aggregates(body: AggregateQueryIn, uow: Uow, principal: ViewAggregates) -> AggregatesOut:
    """Genesys-style aggregates: interval, granularity, timeZone, groupBy, filter, metrics."""
    request = AggregateRequest(
        interval=body.interval,
        granularity=body.granularity,
        time_zone=body.time_zone,
        group_by=body.group_by,
        filter=_filter_spec(body.filter) if body.filter else None,
        metrics=body.metrics,
    )
    results = await AggregatesService(uow).query(principal.tenant_id, request)
    return AggregatesOut(
        results=[
            ResultOut(
                group=result.group,
                data=[
                    BucketOut(
                        interval=bucket.interval,
                        metrics=[
                            MetricOut(
                                metric=m.metric,
                                stats=StatsOut(count=m.count, sum=m.sum, min=m.min, max=m.max),
                            )
                            for m in bucket.metrics
                        ],
                    )
                    for bucket in result.data
                ],
            )
            for result in results
        ]
    )
