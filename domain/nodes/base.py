"""What every node type shares: the node model's base, and `NodeKind`, the shape of a node type's behaviour.

A `NodeKind` is the one place a node type's meaning lives beside its models: the edge labels it leaves by,
its own publish rules, what it blocks on, and how the interpreter enters it and resumes it. The interpreter
(`domain.interpreter`) owns everything that crosses nodes (the goal, exit criteria, pause, the event
buffer, the blocking-command rule) and hands each kind a `Run`: the narrow set of moves a node may make on
the enrollment it runs in.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Generic, Literal, Protocol, TypeVar, get_args
from zoneinfo import ZoneInfo

from pydantic import Field

from domain.durations import parse_duration
from domain.schedule import resolve_zone, zone_named
from domain.wire import WireModel

if TYPE_CHECKING:
    from domain.definition import JourneyDefinition
    from domain.events import EventRecord
    from domain.interpreter import JourneyState, ProfileRead, ProfileUpdated, SendFinished
    from domain.rules import StepDecision

MAX_NAME_LENGTH = 200
MAX_ZONE_TEXT = 64
MAX_DURATION = timedelta(days=366)

EnrollmentStatus = Literal["ACTIVE", "COMPLETED", "EXITED", "FAILED"]
StepStatus = Literal["ACTIVE", "COMPLETED", "FAILED", "SKIPPED", "EXITED"]
# What an open step waits on. `quiet_hours`: a SEND held until the quiet hours end; `window`: a SEND held
# until its time window opens (and the quiet hours are over).
Awaiting = Literal["send", "profile", "update", "time", "event", "quiet_hours", "window", "resume"]
Loc = tuple[str | int, ...]


def check_duration(value: str | None) -> str | None:
    """A parseable duration of at most MAX_DURATION (WAIT, WAIT_FOR_EVENT timeout, cooldown, ...)."""
    if value is not None and parse_duration(value) > MAX_DURATION:
        raise ValueError(f"a duration may be at most {MAX_DURATION.days} days")
    return value


def idempotency_key(enrollment_id: str, node_id: str, visit: int) -> str:
    return f"{enrollment_id}:{node_id}:{visit}"


class UnexpectedInputError(ValueError):
    """An effect's outcome that does not belong to the step the enrollment is on (a shell bug)."""


class CustomerClock(WireModel):
    """The customer's `timezone` trait as the enrollment last saw it (a profile read, or an event's traits).

    Kept in the enrollment's state so that a SEND needing the customer's zone reads the profile once, not
    per send; `valid` is decided when it is seen, so a replay never depends on the worker's tz database.
    """

    timezone: str | None = None
    valid: bool = False

    @classmethod
    def of(cls, trait: object) -> CustomerClock:
        """From the trait's value (absent: None); a value that is not a string is kept as its text."""
        if trait is None or trait == "":
            return cls()
        text = trait if isinstance(trait, str) else repr(trait)
        return cls(timezone=text[:MAX_ZONE_TEXT], valid=zone_named(trait) is not None)

    def zone(self, journey_zone: str) -> tuple[ZoneInfo, str | None]:
        """The customer's zone when valid, else the journey's, with why the customer's was not used (None
        when it was, or when the customer has none)."""
        own = zone_named(self.timezone) if self.valid else None
        if own is not None:
            return own, None
        fallback = resolve_zone(None, journey_zone)
        if self.timezone is None:
            return fallback, None
        return fallback, f"timezone {self.timezone!r} is not an IANA zone; used the journey's {fallback.key}"


class Position(WireModel):
    x: float = 0
    y: float = 0


class EmptyConfig(WireModel):
    pass


class NodeBase(WireModel):
    id: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.:-]+$")
    name: str = Field(default="", max_length=MAX_NAME_LENGTH)
    position: Position | None = None

    if TYPE_CHECKING:  # each node model declares it as its Literal (declared here, field order would move)
        type: str


N = TypeVar("N", bound=NodeBase)


class Run(Protocol):
    """The moves a node's behaviour may make on the enrollment it runs in (the interpreter implements it).

    `open` happened before `NodeKind.enter` is called: the node has an open step to block or close.
    """

    @property
    def definition(self) -> JourneyDefinition: ...

    @property
    def state(self) -> JourneyState: ...

    @property
    def holds_quiet_hours(self) -> bool:
        """Whether a SEND inside the journey's quiet hours waits for their end here (see `step`)."""
        ...

    @property
    def customer_clock(self) -> bool:
        """Whether quiet hours and SEND windows follow the customer's `timezone` trait, and the step records
        say why an unusable one was ignored (see `step`)."""
        ...

    @property
    def legacy_context(self) -> bool:
        """Whether CONDITION rules read what they read before the enrollment context (see `step`)."""
        ...

    def block(self, awaiting: Awaiting, deadline: datetime | None = None) -> None:
        """The open step now waits on something outside: record it as ACTIVE."""

    def wait_on(self, awaiting: Awaiting, deadline: datetime | None = None) -> None:
        """The open step, already recorded, now waits on something else (or until another deadline)."""

    def close(
        self,
        now: datetime,
        *,
        status: StepStatus,
        detail: str | None = None,
        branch: str | None = None,
        decision: StepDecision | None = None,
    ) -> None:
        """Record the open step as left (`branch`: the label it left by, when it has a choice; `decision`:
        how it chose, for operators)."""

    def finish(self, status: EnrollmentStatus, now: datetime, reason: str | None = None) -> None:
        """End the enrollment."""


class NodeKind(ABC, Generic[N]):
    """The behaviour of one node type. One instance per type, registered in `domain.nodes`.

    Interpreter hooks return the label of the edge to leave by (the interpreter follows it), or None when
    the node now waits on something (it called `run.block`/`run.wait_on`) or ended the enrollment. A hook
    a node type has no use for refuses the input: the interpreter only calls it for what the node awaits.
    """

    node_class: type[N]
    #: The outgoing edge labels every node of this type has, in canonical order (the first is the primary
    #: branch); None when they come from the node's config (override `labels`). Empty: it ends the journey.
    fixed_labels: tuple[str, ...] | None = ("next",)
    #: Entering it waits for time to pass, so a loop may run through it (validation refuses other loops).
    waits_for_time: bool = False

    @property
    def types(self) -> tuple[str, ...]:
        """The `type` values of this kind's nodes (one, or aliases such as EXIT/END)."""
        tags: tuple[str, ...] = get_args(self.node_class.model_fields["type"].annotation)
        return tags

    @property
    def branching(self) -> bool:
        """Its nodes choose between edges: their steps carry the branch taken."""
        return self.fixed_labels is None or len(self.fixed_labels) > 1

    # ---- the graph ------------------------------------------------------------------------------

    def labels(self, node: N) -> list[str]:
        """The outgoing edge labels `node` has, exactly, in canonical order; the first is its primary."""
        assert self.fixed_labels is not None, f"{type(self).__name__} must override labels()"
        return list(self.fixed_labels)

    def issues(self, node: N) -> list[tuple[Loc, str]]:
        """Publish-time rules of this type beyond its config model: (loc relative to the node, message)."""
        return []

    # ---- the interpreter ------------------------------------------------------------------------

    @abstractmethod
    def enter(self, node: N, run: Run, now: datetime) -> str | None:
        """The node was just opened: pass through (return a label), block, or end the enrollment."""

    def effect(self, node: N, state: JourneyState) -> WireModel:
        """The command for the effect the node's open step waits on (`send`, `update`)."""
        raise UnexpectedInputError(f"{node.type} node {node.id!r} waits on no effect of its own")

    def wait_label(self, node: N, state: JourneyState) -> str:
        """What a `Wait` on this node's open step is for, as operators read it."""
        return "time"

    def on_send_finished(self, node: N, run: Run, outcome: SendFinished) -> str | None:
        raise UnexpectedInputError(f"{node.type} node {node.id!r} does not send")

    def on_profile_read(self, node: N, run: Run, read: ProfileRead) -> str | None:
        raise UnexpectedInputError(f"{node.type} node {node.id!r} does not read the profile")

    def on_profile_updated(self, node: N, run: Run, outcome: ProfileUpdated) -> str | None:
        raise UnexpectedInputError(f"{node.type} node {node.id!r} does not update the profile")

    def on_time_reached(self, node: N, run: Run, now: datetime) -> str | None:
        """The open step's deadline passed (the goal deadline is the interpreter's)."""
        raise UnexpectedInputError(f"{node.type} node {node.id!r} has no deadline")

    def on_skip(self, node: N, run: Run, now: datetime) -> str | None:
        """An operator ends the open step's wait now (`skipWait`): by default as if its deadline passed
        (a WAIT continues, a WAIT_FOR_EVENT takes its timeout branch)."""
        return self.on_time_reached(node, run, now)

    def on_clock_changed(self, node: N, run: Run, now: datetime) -> str | None:
        """The customer's `timezone` trait changed while the open step is held on the clock (`quiet_hours`,
        `window`): recompute the hold. Nodes that hold nothing ignore it."""
        return None

    def on_event(self, node: N, run: Run, event: EventRecord, now: datetime) -> str | None:
        """An event while the open step awaits one: a label if it takes it, None to leave it buffered."""
        return None
