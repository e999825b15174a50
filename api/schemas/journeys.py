"""Journey request and response bodies."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal

from pydantic import Field, model_validator

from api.schemas.common import ApiModel, PatchModel, drop_absent_nulls
from domain.definition import (
    MAX_EDGES,
    MAX_NAME_LENGTH,
    MAX_NODES,
    Edge,
    ExitCriteria,
    GoalConfig,
    JourneyDefinition,
    JourneySettings,
    Node,
    TriggerConfig,
    TriggerNode,
)
from domain.errors import FieldIssue, InvalidInputError
from domain.steps import Step, StepInput, from_steps

if TYPE_CHECKING:
    from services.journeys import Journey, JourneyTotals
    from store.rows import JourneyVersionRow

from api.schemas.enrollments import EnrollmentOut


def _fill_node_ids(data: Any) -> Any:
    """Node ids are optional on input (as in the canvas seed): a missing one is derived from its place."""
    if isinstance(data, dict) and isinstance(data.get("nodes"), list):
        nodes = []
        for index, node in enumerate(data["nodes"]):
            if isinstance(node, dict) and not node.get("id"):
                node = {**node, "id": f"{str(node.get('type', 'node')).lower()}_{index + 1}"}
            nodes.append(node)
        data = {**data, "nodes": nodes}
    return data


def _drop_step_config_nulls(data: Any) -> Any:
    """A step's `config` is free-form until its `type` picks the node it becomes: read its nulls as
    that node's config model would (api/schemas/common.py, null means absent)."""
    if isinstance(data, dict) and isinstance(data.get("steps"), list):
        steps = []
        for step in data["steps"]:
            if isinstance(step, dict) and isinstance(step.get("config"), dict):
                as_node = drop_absent_nulls(Node, {"type": step.get("type"), "config": step["config"]})
                step = {**step, "config": as_node.get("config", step["config"])}
            steps.append(step)
        data = {**data, "steps": steps}
    return data


class CanvasIn(ApiModel):
    """The whole graph, replaced atomically. Node ids the client gives are kept as they are."""

    nodes: list[Node] = Field(default_factory=list, max_length=MAX_NODES)
    edges: list[Edge] = Field(default_factory=list, max_length=MAX_EDGES)

    _ids = model_validator(mode="before")(_fill_node_ids)


class JourneyCreate(ApiModel):
    name: str = Field(min_length=1, max_length=MAX_NAME_LENGTH)
    description: str | None = Field(default=None, max_length=2000)
    site_id: str | None = Field(default=None, max_length=128)
    settings: JourneySettings = Field(default_factory=JourneySettings)
    goal_config: GoalConfig | None = None
    exit_criteria: ExitCriteria | None = None
    trigger: TriggerConfig | None = Field(
        default=None, description="Shorthand: adds a TRIGGER node with this config in front of the graph"
    )
    segment_id: str | None = Field(
        default=None, max_length=128, description="Shorthand for an AUDIENCE trigger on this segment"
    )
    nodes: list[Node] = Field(default_factory=list, max_length=MAX_NODES)
    edges: list[Edge] = Field(default_factory=list, max_length=MAX_EDGES)
    steps: list[StepInput] | None = Field(
        default=None, max_length=MAX_NODES, description="Alternatively, the graph as an ordered list of steps"
    )

    _ids = model_validator(mode="before")(_fill_node_ids)
    _step_nulls = model_validator(mode="before")(_drop_step_config_nulls)

    @model_validator(mode="after")
    def _one_graph_form(self) -> JourneyCreate:
        if self.steps is not None and (self.nodes or self.edges):
            raise ValueError("give the graph either as nodes + edges or as steps, not both")
        if self.trigger is not None and self.segment_id is not None:
            raise ValueError("give either `trigger` or `segmentId`")
        return self

    def to_definition(self) -> JourneyDefinition:
        nodes, edges = list(self.nodes), list(self.edges)
        if self.steps is not None:
            try:
                nodes, edges = from_steps(self.steps)
            except InvalidInputError as error:
                raise InvalidInputError([FieldIssue(("body", *i.loc), i.msg) for i in error.issues]) from None
        trigger = self.trigger
        if self.segment_id is not None:
            trigger = TriggerConfig(trigger_type="AUDIENCE", segment_id=self.segment_id)
        if trigger is not None:
            if any(isinstance(n, TriggerNode) for n in nodes):
                raise InvalidInputError(
                    [FieldIssue(("body", "trigger"), "the graph already has a TRIGGER node")]
                )
            entry = TriggerNode(id="trigger", type="TRIGGER", name="Trigger", config=trigger)
            if nodes:
                edges.insert(0, Edge(source_node_id=entry.id, target_node_id=nodes[0].id))
            nodes.insert(0, entry)
        return JourneyDefinition(
            nodes=nodes,
            edges=edges,
            settings=self.settings,
            goal=self.goal_config,
            exit_criteria=self.exit_criteria,
        )


class JourneyPatch(PatchModel):
    """Partial update: only the fields present change. The graph is edited via canvas or steps.
    Null clears `description`, `siteId`, `goalConfig` and `exitCriteria`."""

    NOT_NULL = frozenset({"name", "settings"})

    name: str | None = Field(default=None, min_length=1, max_length=MAX_NAME_LENGTH)
    description: str | None = Field(default=None, max_length=2000)
    site_id: str | None = Field(default=None, max_length=128)
    settings: JourneySettings | None = None
    goal_config: GoalConfig | None = None
    exit_criteria: ExitCriteria | None = None

    def changes(self) -> dict[str, Any]:
        """Service field names → values, for the fields the client sent (null clears)."""
        renamed = {"goal_config": "goal"}
        return {renamed.get(k, k): v for k, v in self.sent().items()}


class PauseIn(ApiModel):
    mode: Literal["all", "entry"] = Field(
        default="all",
        description="all: in-flight enrollments hold at their next step; entry: only entries stop",
    )


class DestinationIn(ApiModel):
    node_id: str = Field(min_length=1, max_length=64)
    action_target_id: str | None = Field(default=None, max_length=128)
    template_id: str | None = Field(default=None, max_length=128)

    @model_validator(mode="after")
    def _something_to_change(self) -> DestinationIn:
        if self.action_target_id is None and self.template_id is None:
            raise ValueError("give `actionTargetId` and/or `templateId`")
        return self


class DestinationsIn(ApiModel):
    destinations: list[DestinationIn] = Field(min_length=1, max_length=MAX_NODES)


class JourneyTotalsOut(ApiModel):
    enrolled: int = 0
    active: int = 0
    completed: int = 0
    exited: int = 0
    failed: int = 0
    converted: int = 0
    steps_count: int = 0


class JourneyCounts(ApiModel):
    nodes: int
    edges: int
    enrollments: int


class ProblemOut(ApiModel):
    """One thing that keeps the draft from being published: where, and what (as in a 422's `errors`)."""

    loc: list[str | int]
    msg: str


class JourneyOut(ApiModel):
    id: uuid.UUID
    name: str
    description: str | None
    site_id: str | None
    status: str
    pause_mode: str | None
    version: int = Field(description="Latest published version; 0 before the first publish")
    has_draft_changes: bool | None = Field(
        default=None, description="Whether the draft differs from the latest version (single-journey reads)"
    )
    trigger_type: str | None
    publishable: bool = Field(
        description="Whether the draft passes every check publish makes (its status may still refuse it)"
    )
    problems: list[ProblemOut] = Field(
        description="What publishing the draft would answer in its 422 `errors`, item for item "
        "(empty when publishable)"
    )
    settings: JourneySettings
    goal_config: GoalConfig | None
    exit_criteria: ExitCriteria | None
    nodes: list[Node]
    edges: list[Edge]
    totals: JourneyTotalsOut
    counts: JourneyCounts = Field(alias="_count")
    steps: list[Step] | None = Field(default=None, description="With ?include=steps")
    enrollments: list[EnrollmentOut] | None = Field(default=None, description="With ?include=enrollments")
    created_at: datetime
    updated_at: datetime
    published_at: datetime | None
    status_changed_at: datetime | None

    @classmethod
    def build(
        cls,
        journey: Journey,
        totals: JourneyTotals | None,
        *,
        has_draft_changes: bool | None = None,
        steps: list[Step] | None = None,
        enrollments: list[EnrollmentOut] | None = None,
    ) -> JourneyOut:
        row, definition = journey.row, journey.draft
        totals_out = JourneyTotalsOut(**vars(totals), steps_count=len(definition.nodes)) if totals else None
        return cls(
            id=row.id,
            name=row.name,
            description=row.description,
            site_id=row.site_id,
            status=row.status,
            pause_mode=row.pause_mode,
            version=row.version,
            has_draft_changes=has_draft_changes,
            trigger_type=row.trigger_type,
            publishable=journey.publishable,
            problems=[ProblemOut(loc=list(p.loc), msg=p.msg) for p in journey.problems],
            settings=definition.settings,
            goal_config=definition.goal,
            exit_criteria=definition.exit_criteria,
            nodes=definition.nodes,
            edges=definition.edges,
            totals=totals_out or JourneyTotalsOut(steps_count=len(definition.nodes)),
            counts=JourneyCounts(
                nodes=len(definition.nodes),
                edges=len(definition.edges),
                enrollments=totals_out.enrolled if totals_out else 0,
            ),
            steps=steps,
            enrollments=enrollments,
            created_at=row.created_at,
            updated_at=row.updated_at,
            published_at=row.published_at,
            status_changed_at=row.status_changed_at,
        )


class VersionSummaryOut(ApiModel):
    version: int
    published_at: datetime
    nodes_count: int
    edges_count: int

    @classmethod
    def build(cls, row: JourneyVersionRow) -> VersionSummaryOut:
        definition = row.definition
        return cls(
            version=row.version,
            published_at=row.published_at,
            nodes_count=len(definition.get("nodes", [])),
            edges_count=len(definition.get("edges", [])),
        )


class VersionOut(ApiModel):
    journey_id: uuid.UUID
    version: int
    published_at: datetime
    nodes: list[Node]
    edges: list[Edge]
    settings: JourneySettings
    goal_config: GoalConfig | None
    exit_criteria: ExitCriteria | None

    @classmethod
    def build(cls, row: JourneyVersionRow) -> VersionOut:
        definition = JourneyDefinition.model_validate(row.definition)
        return cls(
            journey_id=row.journey_id,
            version=row.version,
            published_at=row.published_at,
            nodes=definition.nodes,
            edges=definition.edges,
            settings=definition.settings,
            goal_config=definition.goal,
            exit_criteria=definition.exit_criteria,
        )
