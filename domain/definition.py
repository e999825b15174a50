"""The journey definition: a graph of typed nodes joined by labelled edges, plus its settings.

A version of this model is frozen at publish time and is what every enrollment interprets.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Any, Literal

from pydantic import Field, field_validator, model_validator

from domain.durations import parse_duration
from domain.rules import Rule
from domain.wire import WireModel

MAX_NODES = 200
MAX_EDGES = 4 * MAX_NODES
MAX_NAME_LENGTH = 200
MAX_CONFIG_BYTES = 16_384
# All node configs together: the definition travels in every enrollment's workflow input (and again
# at each continue-as-new), which must stay well under Temporal's 2 MB payload limit.
MAX_TOTAL_CONFIG_BYTES = 262_144

Channel = Literal["EMAIL", "SMS", "PUSH", "WEBHOOK", "IN_APP"]
TriggerType = Literal["EVENT", "AUDIENCE", "MANUAL", "SCHEDULE"]


MAX_DURATION = timedelta(days=366)


def _check_duration(value: str | None) -> str | None:
    """A parseable duration of at most MAX_DURATION (WAIT, WAIT_FOR_EVENT timeout, cooldown, ...)."""
    if value is not None and parse_duration(value) > MAX_DURATION:
        raise ValueError(f"a duration may be at most {MAX_DURATION.days} days")
    return value


class Position(WireModel):
    x: float = 0
    y: float = 0


class TriggerConfig(WireModel):
    trigger_type: TriggerType = "MANUAL"
    event: str | None = None
    rules: list[Rule] = Field(default_factory=list)
    segment_id: str | None = None
    cron: str | None = None

    @model_validator(mode="after")
    def _required_per_type(self) -> TriggerConfig:
        if self.trigger_type == "EVENT" and not self.event:
            raise ValueError("an EVENT trigger needs `event`")
        if self.trigger_type == "AUDIENCE" and not self.segment_id:
            raise ValueError("an AUDIENCE trigger needs `segmentId`")
        if self.trigger_type == "SCHEDULE" and not self.cron:
            raise ValueError("a SCHEDULE trigger needs `cron`")
        return self


class SendConfig(WireModel):
    channel: Channel
    template_id: str | None = None
    subject: str | None = None
    body: str | None = None
    action_target_id: str | None = None
    content_id: str | None = None
    content_type: str | None = None
    on_failure: Literal["skip", "fail"] = "fail"

    @model_validator(mode="after")
    def _content_present(self) -> SendConfig:
        if self.template_id is None and self.body is None and self.content_id is None:
            raise ValueError("a SEND needs `templateId`, or inline `body` (and `subject` for EMAIL)")
        if self.channel == "EMAIL" and self.template_id is None and not self.subject:
            raise ValueError("an inline EMAIL needs `subject`")
        return self


class WaitUntilTime(WireModel):
    time: str = Field(pattern=r"^([01]\d|2[0-3]):[0-5]\d$", description="local HH:MM")
    weekdays: list[int] = Field(default_factory=list, description="ISO weekdays 1=Mon..7=Sun")


class WaitUntilTrait(WireModel):
    field: str
    offset: str | None = Field(default=None, description="e.g. '-1 day', 'P2D'")


class WaitConfig(WireModel):
    duration: str | None = None
    until: WaitUntilTime | None = None
    until_trait: WaitUntilTrait | None = None

    _duration = field_validator("duration")(_check_duration)

    @model_validator(mode="after")
    def _exactly_one(self) -> WaitConfig:
        chosen = [k for k in ("duration", "until", "until_trait") if getattr(self, k) is not None]
        if len(chosen) != 1:
            raise ValueError("a WAIT needs exactly one of `duration`, `until`, `untilTrait`")
        return self


class WaitForEventConfig(WireModel):
    event: str
    rules: list[Rule] = Field(default_factory=list)
    timeout: str

    _timeout = field_validator("timeout")(_check_duration)


class ConditionConfig(WireModel):
    combinator: Literal["AND", "OR"] = "AND"
    rules: list[Rule] = Field(min_length=1)


class SplitBranch(WireModel):
    key: str = Field(min_length=1, max_length=64)
    percentage: float = Field(ge=0, le=100)


class SplitConfig(WireModel):
    splits: list[SplitBranch] = Field(min_length=2)


class ProfileUpdate(WireModel):
    field: str
    action: Literal["set", "unset", "add", "remove", "increment"] = "set"
    value: Any = None


class UpdateConfig(WireModel):
    updates: list[ProfileUpdate] = Field(min_length=1)


class EmptyConfig(WireModel):
    pass


class _NodeBase(WireModel):
    id: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.:-]+$")
    name: str = Field(default="", max_length=MAX_NAME_LENGTH)
    position: Position | None = None


class TriggerNode(_NodeBase):
    type: Literal["TRIGGER"]
    config: TriggerConfig = Field(default_factory=TriggerConfig)


class SendNode(_NodeBase):
    type: Literal["SEND"]
    config: SendConfig


class WaitNode(_NodeBase):
    type: Literal["WAIT"]
    config: WaitConfig


class WaitForEventNode(_NodeBase):
    type: Literal["WAIT_FOR_EVENT"]
    config: WaitForEventConfig


class ConditionNode(_NodeBase):
    type: Literal["CONDITION"]
    config: ConditionConfig


class SplitNode(_NodeBase):
    type: Literal["SPLIT"]
    config: SplitConfig


class UpdateNode(_NodeBase):
    type: Literal["UPDATE"]
    config: UpdateConfig


class GoalCheckNode(_NodeBase):
    type: Literal["GOAL_CHECK"]
    config: EmptyConfig = Field(default_factory=EmptyConfig)


class ExitNode(_NodeBase):
    type: Literal["EXIT", "END"]
    config: EmptyConfig = Field(default_factory=EmptyConfig)


Node = Annotated[
    TriggerNode
    | SendNode
    | WaitNode
    | WaitForEventNode
    | ConditionNode
    | SplitNode
    | UpdateNode
    | GoalCheckNode
    | ExitNode,
    Field(discriminator="type"),
]


class Edge(WireModel):
    source_node_id: str
    target_node_id: str
    label: str = "next"


class QuietHours(WireModel):
    start: str = Field(pattern=r"^([01]\d|2[0-3]):[0-5]\d$")
    end: str = Field(pattern=r"^([01]\d|2[0-3]):[0-5]\d$")


class FrequencyCap(WireModel):
    channel: Channel | None = None
    limit: int = Field(ge=1)
    period: str

    _period = field_validator("period")(_check_duration)


class JourneySettings(WireModel):
    allow_reentry: bool = False
    reentry_cooldown: str | None = None
    timezone: str = "UTC"
    allow_anonymous: bool = False
    quiet_hours: QuietHours | None = None
    frequency_caps: list[FrequencyCap] = Field(default_factory=list)

    _cooldown = field_validator("reentry_cooldown")(_check_duration)

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {value!r}") from exc
        return value


class GoalTarget(WireModel):
    event_name: str | None = None
    url: str | None = None
    field: str | None = None
    value: Any = None
    flow_id: str | None = None


class GoalConfig(WireModel):
    type: Literal["event", "page_visit", "attribute_match", "flow_completed"]
    config: GoalTarget = Field(default_factory=GoalTarget)
    deadline: int | None = Field(default=None, ge=1, description="days")
    exit_on_conversion: bool = False


class ExitEvent(WireModel):
    event: str
    rules: list[Rule] = Field(default_factory=list)


class ExitCriteria(WireModel):
    events: list[ExitEvent] = Field(default_factory=list)


class JourneyDefinition(WireModel):
    """What a published version freezes, and what an enrollment interprets."""

    nodes: list[Node] = Field(default_factory=list, max_length=MAX_NODES)
    edges: list[Edge] = Field(default_factory=list, max_length=MAX_EDGES)
    settings: JourneySettings = Field(default_factory=JourneySettings)
    goal: GoalConfig | None = None
    exit_criteria: ExitCriteria | None = None

    def size_issues(self) -> list[tuple[tuple[str | int, ...], str]]:
        """(location under the body, message) for each config over its limit, and for the total.

        Checked where a draft is saved (services.journeys) rather than in a validator, so every way
        of editing a graph (create, canvas, steps) answers a 422 naming the node, never a 500.
        """
        issues: list[tuple[tuple[str | int, ...], str]] = []
        total = 0
        for index, node in enumerate(self.nodes):
            size = len(node.config.model_dump_json())
            total += size
            if size > MAX_CONFIG_BYTES:
                issues.append(
                    (
                        ("nodes", index, "config"),
                        f"config of node {node.id!r} is {size} bytes; the limit is {MAX_CONFIG_BYTES}",
                    )
                )
        if total > MAX_TOTAL_CONFIG_BYTES:
            issues.append(
                (
                    ("nodes",),
                    f"node configs total {total} bytes; the limit for a journey is {MAX_TOTAL_CONFIG_BYTES}",
                )
            )
        return issues

    def node(self, node_id: str) -> Node:
        for node in self.nodes:
            if node.id == node_id:
                return node
        raise KeyError(node_id)

    def trigger(self) -> TriggerNode:
        for node in self.nodes:
            if isinstance(node, TriggerNode):
                return node
        raise KeyError("TRIGGER")

    def next_node_id(self, node_id: str, label: str = "next") -> str | None:
        for edge in self.edges:
            if edge.source_node_id == node_id and edge.label == label:
                return edge.target_node_id
        return None
