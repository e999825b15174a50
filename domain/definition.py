"""The journey definition: a graph of typed nodes joined by labelled edges, plus its settings.

A version of this model is frozen at publish time and is what every enrollment interprets. Each node
type's models live in its own module under `domain.nodes`, with its behaviour; they are re-exported
here, where most code looks for them.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, StrictInt, field_validator

from domain.nodes import Node as Node
from domain.nodes.base import MAX_DURATION as MAX_DURATION
from domain.nodes.base import MAX_NAME_LENGTH as MAX_NAME_LENGTH
from domain.nodes.base import EmptyConfig as EmptyConfig
from domain.nodes.base import Position as Position
from domain.nodes.base import check_duration
from domain.nodes.condition import ConditionConfig as ConditionConfig
from domain.nodes.condition import ConditionNode as ConditionNode
from domain.nodes.exit import ExitNode as ExitNode
from domain.nodes.goal_check import GoalCheckNode as GoalCheckNode
from domain.nodes.send import Channel as Channel
from domain.nodes.send import SendConfig as SendConfig
from domain.nodes.send import SendNode as SendNode
from domain.nodes.split import SplitBranch as SplitBranch
from domain.nodes.split import SplitConfig as SplitConfig
from domain.nodes.split import SplitNode as SplitNode
from domain.nodes.trigger import TriggerConfig as TriggerConfig
from domain.nodes.trigger import TriggerNode as TriggerNode
from domain.nodes.trigger import TriggerType as TriggerType
from domain.nodes.update import ProfileUpdate as ProfileUpdate
from domain.nodes.update import UpdateConfig as UpdateConfig
from domain.nodes.update import UpdateNode as UpdateNode
from domain.nodes.wait import WaitConfig as WaitConfig
from domain.nodes.wait import WaitNode as WaitNode
from domain.nodes.wait import WaitUntilTime as WaitUntilTime
from domain.nodes.wait import WaitUntilTrait as WaitUntilTrait
from domain.nodes.wait_for_event import WaitForEventConfig as WaitForEventConfig
from domain.nodes.wait_for_event import WaitForEventNode as WaitForEventNode
from domain.rules import Rule
from domain.wire import WireModel

MAX_NODES = 200
MAX_EDGES = 4 * MAX_NODES
MAX_CONFIG_BYTES = 16_384
# All node configs together: the definition travels in every enrollment's workflow input (and again
# at each continue-as-new), which must stay well under Temporal's 2 MB payload limit.
MAX_TOTAL_CONFIG_BYTES = 262_144


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

    _period = field_validator("period")(check_duration)


# Enrollment priority: 1 runs first, 5 last (Temporal's task-queue priority keys, whose default range is
# 1..5); a journey that says nothing is in the middle.
HIGHEST_PRIORITY = 1
LOWEST_PRIORITY = 5
DEFAULT_PRIORITY = 3
MAX_SENDS_PER_MINUTE = 100_000


class RateLimit(WireModel):
    """A journey's send rate (`settings.rateLimit`, Braze's per-Canvas limit): at most `perMinute` of its
    messages admitted in any sliding minute; sends over it wait their turn, never dropped."""

    per_minute: StrictInt = Field(ge=1, le=MAX_SENDS_PER_MINUTE)


class JourneySettings(WireModel):
    allow_reentry: bool = False
    reentry_cooldown: str | None = None
    timezone: str = "UTC"
    allow_anonymous: bool = False
    quiet_hours: QuietHours | None = None
    frequency_caps: list[FrequencyCap] = Field(default_factory=list)
    priority: StrictInt = Field(default=DEFAULT_PRIORITY, ge=HIGHEST_PRIORITY, le=LOWEST_PRIORITY)
    rate_limit: RateLimit | None = None

    _cooldown = field_validator("reentry_cooldown")(check_duration)

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


MAX_EXIT_SEGMENTS = 20


class ExitCriteria(WireModel):
    """What ends an enrollment at once, even mid-wait: a matching event, or leaving a segment.

    `segments` are segment ids of the tenant (publish checks that each exists); a customer who leaves
    one — unassigned, or their assignment expires — is exited from every ACTIVE enrollment whose
    version lists it (`services.segment_exits`). Ids that read as UUIDs are kept in canonical form,
    so the stored definition can be matched against a segment's id.
    """

    events: list[ExitEvent] = Field(default_factory=list)
    segments: list[str] = Field(default_factory=list, max_length=MAX_EXIT_SEGMENTS)

    @field_validator("segments")
    @classmethod
    def _canonical_ids(cls, values: list[str]) -> list[str]:
        from uuid import UUID

        canonical: list[str] = []
        for value in values:
            if not value or len(value) > 64:
                raise ValueError(f"a segment id has 1 to 64 characters, not {len(value)}")
            try:
                canonical.append(str(UUID(value)))
            except ValueError:
                canonical.append(value)  # not an id: publish names it as an unknown segment
        return canonical


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
