"""/v1/journeys/{journeyId}/analytics and /v1/analytics/journeys/aggregates/query (docs/analytics.md)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, TypeVar

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
from domain.errors import FieldIssue, InvalidInputError
from services.aggregates import AggregateRequest, AggregatesService, FilterSpec, PredicateSpec
from services.analytics import AnalyticsService

router = APIRouter(prefix="/v1", tags=["analytics"])

ViewJourney = Annotated[Principal, Depends(require("journey:journey:view"))]
T = TypeVar("T")


def _one_of(ours: tuple[str, T | None], theirs: tuple[str, T | None], issues: list[FieldIssue]) -> T | None:
    """A parameter given under our name or the seed's; both, with different values: an issue naming both."""
    (our_name, our_value), (their_name, their_value) = ours, theirs
    if our_value is not None and their_value is not None and our_value != their_value:
        issues.append(
            FieldIssue(("query", their_name), f"{their_name} and {our_name} name the same thing; give one")
        )
    return our_value if our_value is not None else their_value


_FROM = "Count from this instant (ISO 8601 with an offset), floored to the UTC hour; also `fromDate`"
_TO = "Count up to this instant (excluded), ceiled to the UTC hour; also `toDate`"


@router.get(
    "/journeys/{journeyId}/analytics",
    response_model=JourneyAnalyticsOut,
    summary="Journey analytics",
    description=(
        "Per node: step visits `entered` and how they ended (`completed`, `inProgress`, `exited`, `failed`), "
        "and for SEND nodes the messages `sent`, `suppressed` and `messagesFailed`; per branch of CONDITION, "
        "SPLIT, WAIT_FOR_EVENT and GOAL_CHECK nodes, the visits that left by it; and conversion over the "
        "enrollments that entered in the range (rate and time to goal), broken down per branch of every "
        "branching node (`conversion.branches`, the A/B readout: enrollments that left by the branch, "
        "converted, rate).\n\n"
        "Step counts come from the exact rollups the projection maintains and are counted in whole UTC "
        "hours: `from` is floored and `to` ceiled to the hour, and the answer echoes both. Seed 000's "
        "`fromDate`/`toDate` are accepted for `from`/`to`; both names with different values are a 422 "
        "naming them. Without a range, everything recorded. See docs/analytics.md."
    ),
)
async def journey_analytics(
    journeyId: str,  # noqa: N803 — path parameters are camelCase on the wire
    uow: Uow,
    principal: ViewJourney,
    version: Annotated[
        int | None, Query(ge=1, description="Only this published version (default: all)", examples=[1])
    ] = None,
    from_: Annotated[
        datetime | None, Query(alias="from", description=_FROM, examples=["2026-01-01T00:00:00Z"])
    ] = None,
    to: Annotated[datetime | None, Query(description=_TO, examples=["2026-02-01T00:00:00Z"])] = None,
    from_date: Annotated[
        datetime | None,
        Query(
            alias="fromDate", description="Seed 000's name of `from`", examples=["2006-01-02T15:04:05.000Z"]
        ),
    ] = None,
    to_date: Annotated[
        datetime | None,
        Query(alias="toDate", description="Seed 000's name of `to`", examples=["2006-01-02T15:04:05.000Z"]),
    ] = None,
) -> JourneyAnalyticsOut:
    issues: list[FieldIssue] = []
    start = _one_of(("from", from_), ("fromDate", from_date), issues)
    end = _one_of(("to", to), ("toDate", to_date), issues)
    if issues:
        raise InvalidInputError(issues)
    result = await AnalyticsService(uow).journey(
        principal.tenant_id, parse_id(journeyId, "journey"), version, start, end
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


@router.post(
    "/analytics/journeys/aggregates/query",
    response_model=AggregatesOut,
    summary="Query journey aggregates",
    description=(
        "Genesys-style aggregates: over `interval` (ISO 8601 `start/end`, at most two years), in buckets of "
        "`granularity` (PT1H, P1D, P7D/P1W, P1M, P3M, P1Y; none: one bucket) local to `timeZone` (a P1D "
        "bucket is a local day, 23 or 25 hours across a DST change), grouped by `groupBy` dimensions "
        "(journeyId, version, nodeId, nodeType, branch, channel, eventName, segmentId), filtered by "
        "`filter` predicates on those dimensions, for each of `metrics`.\n\n"
        "Enrollment metrics (`nEnrolled`, `nCompleted`, `nExited`, `nFailed`, `nConverted`) count "
        "enrollments, once each, whatever the grouping — by node, where the enrollment ended (for "
        "`nEnrolled`, the TRIGGER it entered by). Step metrics (`nStepsEntered`, `nStepsCompleted`, "
        "`nStepsExited`, `nStepsFailed`, `oStepDuration`) count step visits, from the exact rollups the "
        "projection maintains. Also `nMessagesSent` and `nEventsReceived`. Each metric's stats are "
        "`count` (and for `oStepDuration` `sum`, `min`, `max` in milliseconds); buckets with nothing are "
        "left out. Every metric is defined in docs/analytics.md. An invalid part is a 422 naming it."
    ),
)
async def journey_aggregates(body: AggregateQueryIn, uow: Uow, principal: ViewAggregates) -> AggregatesOut:
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
