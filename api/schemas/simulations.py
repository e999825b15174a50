"""Simulation request and answer bodies."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal

from pydantic import Field, model_validator

from api.schemas.common import ApiModel
from services.simulations import MAX_COHORT, CohortSpec, EventSpec, SimulationSpec

if TYPE_CHECKING:
    from store.rows import SimulationRow


class CohortIn(ApiModel):
    """Exactly one of: the customers by id, a segment's members now, or a stable sample of the tenant's."""

    customer_ids: list[str] | None = Field(default=None, max_length=MAX_COHORT)
    segment_id: uuid.UUID | None = None
    sample: int | None = Field(default=None, ge=1, le=MAX_COHORT)

    @model_validator(mode="after")
    def _exactly_one(self) -> CohortIn:
        given = [name for name in ("customer_ids", "segment_id", "sample") if getattr(self, name) is not None]
        if len(given) != 1:
            raise ValueError("give exactly one of `customerIds`, `segmentId`, `sample`")
        return self


class ScriptedEventIn(ApiModel):
    after: str = Field(description="How long after entry it arrives, e.g. '2 days'", examples=["2 days"])
    event: str = Field(min_length=1, max_length=200, description="The track event's name")
    properties: dict[str, Any] = Field(default_factory=dict)
    share: float = Field(default=1.0, ge=0, le=1, description="The share of the cohort it reaches (0..1)")


class SimulationIn(ApiModel):
    version: int | Literal["draft"] | None = Field(
        default=None, description="A published version, or 'draft'; default: the live version"
    )
    cohort: CohortIn
    events: list[ScriptedEventIn] = Field(default_factory=list)
    horizon: str = Field(default="30 days", description="How far to play, at most 366 days")

    def spec(self) -> SimulationSpec:
        return SimulationSpec(
            cohort=CohortSpec(self.cohort.customer_ids, self.cohort.segment_id, self.cohort.sample),
            version=self.version,
            events=[EventSpec(e.after, e.event, e.properties, e.share) for e in self.events],
            horizon=self.horizon,
        )


class SimNodeOut(ApiModel):
    node_id: str
    entered: int
    completed: int
    exited: int
    failed: int
    active_at_horizon: int = Field(description="Customers still at this node when the horizon came")


class SimBranchOut(ApiModel):
    node_id: str
    label: str
    count: int


class SimSendsOut(ApiModel):
    channel: str
    count: int = Field(description="Sends that would go out")
    suppressed: int = Field(description="Sends a frequency cap would stop (counted over the simulated sends)")


class TimeToGoalOut(ApiModel):
    p50: float | None = Field(description="Seconds from entry to the goal, median")
    p90: float | None


class SimConversionOut(ApiModel):
    converted: int
    rate: float
    time_to_goal: TimeToGoalOut


class SimPathOut(ApiModel):
    customer_id: str
    status: str = Field(description="ACTIVE (still inside at the horizon), COMPLETED, EXITED, FAILED")
    path: list[str]
    converted_at: datetime | None
    reason: str | None


class SimulationResultOut(ApiModel):
    customers: int
    nodes: list[SimNodeOut]
    branches: list[SimBranchOut] = Field(
        description="Per branch of a branching node (journey analytics' shape)"
    )
    sends: list[SimSendsOut]
    conversion: SimConversionOut
    statuses: dict[str, int] = Field(description="How many customers ended (or were still inside) how")
    samples: list[SimPathOut] = Field(description="A few customers' paths")


class SimulationOut(ApiModel):
    id: uuid.UUID
    journey_id: uuid.UUID
    version: int | None = Field(description="The version simulated; null: the draft")
    status: Literal["RUNNING", "COMPLETED", "FAILED"]
    customers: int = Field(description="The cohort's size")
    created_at: datetime
    completed_at: datetime | None
    error: str | None
    result: SimulationResultOut | None = Field(description="Once COMPLETED")

    @classmethod
    def build(cls, row: SimulationRow) -> SimulationOut:
        return cls(
            id=row.id,
            journey_id=row.journey_id,
            version=row.version,
            status=row.status,
            customers=row.customers,
            created_at=row.created_at,
            completed_at=row.completed_at,
            error=row.error,
            result=None if row.result is None else SimulationResultOut.model_validate(row.result),
        )
