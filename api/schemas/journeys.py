"""Journey request and response bodies."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import TYPE_CHECKING

from pydantic import Field

from api.schemas.common import ApiModel
from domain.definition import (
    MAX_NAME_LENGTH,
    MAX_NODES,
    Edge,
    ExitCriteria,
    GoalConfig,
    JourneyDefinition,
    JourneySettings,
    Node,
)

if TYPE_CHECKING:
    from services.journeys import JourneyTotals
    from store.rows import JourneyRow


class JourneyCreate(ApiModel):
    name: str = Field(min_length=1, max_length=MAX_NAME_LENGTH)
    description: str | None = Field(default=None, max_length=2000)
    site_id: str | None = Field(default=None, max_length=128)
    settings: JourneySettings = Field(default_factory=JourneySettings)
    goal_config: GoalConfig | None = None
    exit_criteria: ExitCriteria | None = None
    nodes: list[Node] = Field(default_factory=list, max_length=MAX_NODES)
    edges: list[Edge] = Field(default_factory=list, max_length=4 * MAX_NODES)

    def to_definition(self) -> JourneyDefinition:
        return JourneyDefinition(
            nodes=self.nodes,
            edges=self.edges,
            settings=self.settings,
            goal=self.goal_config,
            exit_criteria=self.exit_criteria,
        )


class JourneyTotalsOut(ApiModel):
    enrolled: int = 0
    active: int = 0
    completed: int = 0
    exited: int = 0
    failed: int = 0
    converted: int = 0


class JourneyCounts(ApiModel):
    nodes: int
    edges: int
    enrollments: int


class JourneyOut(ApiModel):
    id: uuid.UUID
    name: str
    description: str | None
    site_id: str | None
    status: str
    version: int = Field(description="Latest published version; 0 before the first publish")
    trigger_type: str | None
    settings: JourneySettings
    goal_config: GoalConfig | None
    exit_criteria: ExitCriteria | None
    nodes: list[Node]
    edges: list[Edge]
    totals: JourneyTotalsOut
    counts: JourneyCounts = Field(alias="_count")
    created_at: datetime
    updated_at: datetime
    published_at: datetime | None

    @classmethod
    def build(cls, row: JourneyRow, totals: JourneyTotals | None) -> JourneyOut:
        definition = JourneyDefinition.model_validate(row.draft)
        totals_out = JourneyTotalsOut(**vars(totals)) if totals else JourneyTotalsOut()
        return cls(
            id=row.id,
            name=row.name,
            description=row.description,
            site_id=row.site_id,
            status=row.status,
            version=row.version,
            trigger_type=row.trigger_type,
            settings=definition.settings,
            goal_config=definition.goal,
            exit_criteria=definition.exit_criteria,
            nodes=definition.nodes,
            edges=definition.edges,
            totals=totals_out,
            counts=JourneyCounts(
                nodes=len(definition.nodes),
                edges=len(definition.edges),
                enrollments=totals_out.enrolled,
            ),
            created_at=row.created_at,
            updated_at=row.updated_at,
            published_at=row.published_at,
        )
