"""Analytics wire shapes: journey analytics (seed 000) and the aggregates query (Genesys, seeds 002/003).

Every field is described here and every metric in docs/analytics.md; the examples are the ones the
OpenAPI document shows in the schemas."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Literal, cast

from pydantic import ConfigDict, Field

from api.schemas.common import ApiModel
from services.analytics import JourneyAnalytics

_JOURNEY = "6f1c2a52-8d1e-4c1b-9a57-3f1e2d4c5b6a"

JOURNEY_ANALYTICS_EXAMPLE: dict[str, Any] = {
    "journeyId": _JOURNEY,
    "version": 1,
    "from": "2026-01-01T00:00:00Z",
    "to": "2026-02-01T00:00:00Z",
    "nodes": [
        {
            "nodeId": "start",
            "type": "TRIGGER",
            "entered": 3,
            "completed": 3,
            "inProgress": 0,
            "exited": 0,
            "failed": 0,
            "sent": 0,
            "suppressed": 0,
            "messagesFailed": 0,
        },
        {
            "nodeId": "is-pro",
            "type": "CONDITION",
            "entered": 3,
            "completed": 3,
            "inProgress": 0,
            "exited": 0,
            "failed": 0,
            "sent": 0,
            "suppressed": 0,
            "messagesFailed": 0,
        },
        {
            "nodeId": "mail",
            "type": "SEND",
            "entered": 2,
            "completed": 2,
            "inProgress": 0,
            "exited": 0,
            "failed": 0,
            "sent": 2,
            "suppressed": 0,
            "messagesFailed": 0,
        },
    ],
    "branches": [
        {"nodeId": "is-pro", "label": "yes", "count": 2},
        {"nodeId": "is-pro", "label": "no", "count": 1},
    ],
    "conversion": {
        "enrolled": 3,
        "converted": 2,
        "rate": 0.6667,
        "timeToGoal": {"count": 2, "p50Seconds": 3600.0, "p90Seconds": 6480.0, "maxSeconds": 7200.0},
        "branches": [
            {
                "nodeId": "is-pro",
                "nodeName": "Is pro?",
                "nodeType": "CONDITION",
                "branch": "yes",
                "enrolled": 2,
                "converted": 2,
                "rate": 1.0,
            },
            {
                "nodeId": "is-pro",
                "nodeName": "Is pro?",
                "nodeType": "CONDITION",
                "branch": "no",
                "enrolled": 1,
                "converted": 0,
                "rate": 0.0,
            },
        ],
    },
    "messages": [
        {
            "nodeId": "mail",
            "nodeName": "Welcome email",
            "sent": 2,
            "suppressed": {
                "unsubscribed": 1,
                "not_opted_in": 0,
                "bounced": 0,
                "complained": 0,
                "frequency_cap": 0,
            },
            "failed": 0,
            "delivered": 2,
            "opened": 1,
            "clicked": 1,
            "bounced": 0,
            "complained": 0,
        }
    ],
}

AGGREGATE_QUERY_EXAMPLES: list[dict[str, Any]] = [
    {  # enrollments completed per journey and local day
        "interval": "2026-03-01T00:00:00Z/2026-04-01T00:00:00Z",
        "granularity": "P1D",
        "timeZone": "Europe/Paris",
        "groupBy": ["journeyId"],
        "metrics": ["nEnrolled", "nCompleted", "nConverted"],
    },
    {  # step visits and their durations per node of one journey, weekly
        "interval": "2026-03-02T00:00:00Z/2026-03-30T00:00:00Z",
        "granularity": "P7D",
        "timeZone": "UTC",
        "groupBy": ["nodeId"],
        "filter": {"type": "and", "predicates": [{"dimension": "journeyId", "value": _JOURNEY}]},
        "metrics": ["nStepsEntered", "nStepsCompleted", "oStepDuration"],
    },
]

AGGREGATES_EXAMPLE: dict[str, Any] = {
    "results": [
        {
            "group": {"nodeId": "mail"},
            "data": [
                {
                    "interval": "2026-03-02T00:00:00+00:00/2026-03-09T00:00:00+00:00",
                    "metrics": [
                        {"metric": "nStepsEntered", "stats": {"count": 130}},
                        {"metric": "nStepsCompleted", "stats": {"count": 128}},
                        {
                            "metric": "oStepDuration",
                            "stats": {"count": 128, "sum": 40960, "min": 180, "max": 1250},
                        },
                    ],
                }
            ],
        }
    ]
}


class NodeAnalyticsOut(ApiModel):
    node_id: str = Field(description="The node's id in the journey definition")
    type: str = Field(description="The node type (TRIGGER, SEND, WAIT, CONDITION, …)")
    entered: int = Field(
        description="Step visits that started in the range (a node visited twice counts twice)"
    )
    completed: int = Field(description="… of which completed")
    in_progress: int = Field(description="… of which are still open (waiting, sending)")
    exited: int = Field(description="… of which ended there because the enrollment exited")
    failed: int = Field(description="… of which failed or were skipped")
    sent: int = Field(description="Messages this SEND node sent (created in the range)")
    suppressed: int = Field(description="Messages suppressed (opt-out, frequency cap, no address)")
    messages_failed: int = Field(description="Messages that failed to send")


class BranchOut(ApiModel):
    node_id: str = Field(description="A branching node (CONDITION, SPLIT, WAIT_FOR_EVENT, GOAL_CHECK)")
    label: str = Field(description="The edge label the visits left by")
    count: int = Field(description="Step visits that left by it")


class TimeToGoalOut(ApiModel):
    count: int = Field(description="Converted enrollments with a recorded conversion time")
    p50_seconds: float | None = Field(description="Median seconds from entry to goal")
    p90_seconds: float | None = Field(description="90th percentile seconds from entry to goal")
    max_seconds: float | None = Field(description="Longest seconds from entry to goal")


class BranchConversionOut(ApiModel):
    node_id: str = Field(description="A branching node (SPLIT, CONDITION, WAIT_FOR_EVENT, GOAL_CHECK)")
    node_name: str = Field(description="Its name (its type when it has none)")
    node_type: str = Field(description="Its type")
    branch: str = Field(description="The branch (edge label) left by: a SPLIT key, a CONDITION branch, …")
    enrolled: int = Field(
        description="Enrollments that entered in the range and left the node by this branch (each once, "
        "however many visits left by it)"
    )
    converted: int = Field(description="… of which reached the journey's goal")
    rate: float = Field(description="converted / enrolled (0 when none left by it)")


class ConversionOut(ApiModel):
    enrolled: int = Field(description="Enrollments that entered in the range")
    converted: int = Field(description="… of which reached the journey's goal")
    rate: float = Field(description="converted / enrolled (0 when none entered)")
    time_to_goal: TimeToGoalOut
    branches: list[BranchConversionOut] = Field(
        description="The A/B readout: the same enrollments per branch of every branching node — nodes "
        "in path order, each node's branches in its label order, branches nobody took with zeros"
    )


class SuppressedOut(ApiModel):
    """Suppressed messages per reason (the keys are the `reason` values of GET /v1/messages)."""

    model_config = ConfigDict(alias_generator=None)

    unsubscribed: int = Field(description="The customer left the SEND's OPT_OUT subscription group")
    not_opted_in: int = Field(description="The customer never joined the SEND's OPT_IN group")
    bounced: int = Field(description="The address hard-bounced before (the suppression list)")
    complained: int = Field(description="The address complained before (the suppression list)")
    frequency_cap: int = Field(description="Over the journey's or tenant's frequency cap")


class MessageAnalyticsOut(ApiModel):
    node_id: str = Field(description="A SEND node")
    node_name: str = Field(description="Its name (its type when it has none; its id if since removed)")
    sent: int = Field(description="Messages it sent (created in the range)")
    suppressed: SuppressedOut = Field(description="Messages it did not send, per reason")
    failed: int = Field(description="Messages that failed to send")
    delivered: int = Field(description="Of its messages: reported delivered by the provider")
    opened: int = Field(description="… reported opened (each message once, however often)")
    clicked: int = Field(description="… reported clicked (each message once, however often)")
    bounced: int = Field(description="… reported as a hard bounce")
    complained: int = Field(description="… reported as a complaint (marked as spam)")


class JourneyAnalyticsOut(ApiModel):
    model_config = ConfigDict(json_schema_extra={"examples": [JOURNEY_ANALYTICS_EXAMPLE]})

    journey_id: uuid.UUID
    version: int | None = Field(description="The version asked for; null: all versions")
    from_: datetime | None = Field(alias="from", description="The range's start, floored to the UTC hour")
    to: datetime | None = Field(description="The range's end (excluded), ceiled to the UTC hour")
    nodes: list[NodeAnalyticsOut] = Field(
        description="Every node of the current draft, and any other counted"
    )
    branches: list[BranchOut]
    conversion: ConversionOut
    messages: list[MessageAnalyticsOut] = Field(
        description="Per SEND node of the version asked for (else the current draft), in path order, zeros "
        "where nothing happened: messages sent, suppressed per reason, failed, and what providers reported "
        "about them (POST /v1/deliveryevents). Messages count when created in the range."
    )

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
                    "branches": [
                        {
                            "nodeId": b.node_id,
                            "nodeName": b.node_name,
                            "nodeType": b.node_type,
                            "branch": b.branch,
                            "enrolled": b.enrolled,
                            "converted": b.converted,
                            "rate": b.rate,
                        }
                        for b in result.conversion.branches
                    ],
                },
                "messages": [
                    {
                        "nodeId": m.node_id,
                        "nodeName": m.node_name,
                        "sent": m.sent,
                        "suppressed": m.suppressed,
                        "failed": m.failed,
                        "delivered": m.delivered,
                        "opened": m.opened,
                        "clicked": m.clicked,
                        "bounced": m.bounced,
                        "complained": m.complained,
                    }
                    for m in result.messages
                ],
            }
        )


_DIMENSION = "journeyId, version, nodeId, nodeType, branch, channel, eventName or segmentId"


class PredicateIn(ApiModel):
    type: Literal["dimension"] = "dimension"
    dimension: str = Field(description=f"One of {_DIMENSION}")
    operator: str = Field("matches", description="matches (value or range), exists, notExists")
    value: str | int | None = Field(None, description="For matches: equal to this")
    range: dict[str, str | int] | None = Field(None, description="For matches: bounds among gt, gte, lt, lte")


class ClauseIn(ApiModel):
    type: str = Field("and", description="and | or, over its predicates")
    predicates: list[PredicateIn] = Field(default_factory=list, max_length=50)


class FilterIn(ApiModel):
    type: str = Field("and", description="and | or, over its predicates and clauses")
    clauses: list[ClauseIn] = Field(default_factory=list, max_length=20)
    predicates: list[PredicateIn] = Field(default_factory=list, max_length=50)


class AggregateQueryIn(ApiModel):
    model_config = ConfigDict(json_schema_extra={"examples": cast(Any, AGGREGATE_QUERY_EXAMPLES)})

    interval: str = Field(description="ISO 8601 `start/end` with offsets, at most two years")
    granularity: str | None = Field(
        None, description="PT1H, P1D, P7D (or P1W), P1M, P3M, P1Y; none: one bucket for the interval"
    )
    time_zone: str = Field("UTC", description="IANA zone the buckets are local to")
    group_by: list[str] = Field(default_factory=list, max_length=8, description=f"Dimensions: {_DIMENSION}")
    filter: FilterIn | None = None
    metrics: list[str] = Field(
        min_length=1,
        max_length=8,
        description="nEnrolled, nCompleted, nExited, nFailed, nConverted (enrollments); nStepsEntered, "
        "nStepsCompleted, nStepsExited, nStepsFailed, oStepDuration (step visits); nMessagesSent, "
        "nEventsReceived — see docs/analytics.md",
    )


class StatsOut(ApiModel):
    count: int = Field(description="How many (for oStepDuration: closed step visits)")
    sum: int | None = Field(None, description="oStepDuration: total milliseconds")
    min: int | None = Field(None, description="oStepDuration: shortest, milliseconds")
    max: int | None = Field(None, description="oStepDuration: longest, milliseconds")


class MetricOut(ApiModel):
    metric: str
    stats: StatsOut


class BucketOut(ApiModel):
    interval: str = Field(description="The whole local bucket as an ISO interval, in the query's time zone")
    metrics: list[MetricOut]


class ResultOut(ApiModel):
    group: dict[str, Any] = Field(
        description="The groupBy dimensions' values (a dimension the metric lacks: absent)"
    )
    data: list[BucketOut] = Field(description="Buckets with something counted, in time order")


class AggregatesOut(ApiModel):
    model_config = ConfigDict(json_schema_extra={"examples": [AGGREGATES_EXAMPLE]})

    results: list[ResultOut]
