"""Analytics wire shapes: journey analytics (seed 000) and the aggregates query (Genesys, seeds 002/003)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Literal

from pydantic import Field

from api.schemas.common import ApiModel
from services.analytics import JourneyAnalytics


class NodeAnalyticsOut(ApiModel):
    node_id: str
    type: str
    entered: int
    completed: int
    in_progress: int
    exited: int
    failed: int
    sent: int
    suppressed: int
    messages_failed: int


class BranchOut(ApiModel):
    node_id: str
    label: str
    count: int


class TimeToGoalOut(ApiModel):
    count: int = Field(description="Converted enrollments with a recorded conversion time")
    p50_seconds: float | None
    p90_seconds: float | None
    max_seconds: float | None


class ConversionOut(ApiModel):
    enrolled: int
    converted: int
    rate: float
    time_to_goal: TimeToGoalOut


class JourneyAnalyticsOut(ApiModel):
    journey_id: uuid.UUID
    version: int | None
    from_: datetime | None = Field(alias="from")
    to: datetime | None
    nodes: list[NodeAnalyticsOut]
    branches: list[BranchOut]
    conversion: ConversionOut

    @classmethod
    def build(cls, result: JourneyAnalytics) -> JourneyAnalyticsOut:
        return cls.model_validate(
            {
                "journeyId": result.journey_id,
                "version": result.version,
                "from": result.start,
                "to": result.end,
                "nodes": [
                    {
                        "nodeId": n.node_id,
                        "type": n.type,
                        "entered": n.entered,
                        "completed": n.completed,
                        "inProgress": n.in_progress,
                        "exited": n.exited,
                        "failed": n.failed,
                        "sent": n.sent,
                        "suppressed": n.suppressed,
                        "messagesFailed": n.messages_failed,
                    }
                    for n in result.nodes
                ],
                "branches": [
                    {"nodeId": b.node_id, "label": b.label, "count": b.count} for b in result.branches
                ],
                "conversion": {
                    "enrolled": result.conversion.enrolled,
                    "converted": result.conversion.converted,
                    "rate": result.conversion.rate,
                    "time_to_goal": {
                        "count": result.conversion.time_to_goal.count,
                        "p50_seconds": result.conversion.time_to_goal.p50_seconds,
                        "p90_seconds": result.conversion.time_to_goal.p90_seconds,
                        "max_seconds": result.conversion.time_to_goal.max_seconds,
                    },
                },
            }
        )


class PredicateIn(ApiModel):
    type: Literal["dimension"] = "dimension"
    dimension: str
    operator: str = "matches"
    value: str | int | None = None
    range: dict[str, str | int] | None = None


class ClauseIn(ApiModel):
    type: str = "and"
    predicates: list[PredicateIn] = Field(default_factory=list, max_length=50)


class FilterIn(ApiModel):
    type: str = "and"
    clauses: list[ClauseIn] = Field(default_factory=list, max_length=20)
    predicates: list[PredicateIn] = Field(default_factory=list, max_length=50)


class AggregateQueryIn(ApiModel):
    interval: str
    granularity: str | None = None
    time_zone: str = "UTC"
    group_by: list[str] = Field(default_factory=list, max_length=8)
    filter: FilterIn | None = None
    metrics: list[str] = Field(min_length=1, max_length=8)


class StatsOut(ApiModel):
    count: int
    sum: int | None = None
    min: int | None = None
    max: int | None = None


class MetricOut(ApiModel):
    metric: str
    stats: StatsOut


class BucketOut(ApiModel):
    interval: str
    metrics: list[MetricOut]


class ResultOut(ApiModel):
    group: dict[str, Any]
    data: list[BucketOut]


class AggregatesOut(ApiModel):
    results: list[ResultOut]
