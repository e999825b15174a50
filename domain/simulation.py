"""Playing a journey forward for a cohort, on a virtual clock, with the engine's own interpreter.

Nothing here sends, enrolls or writes: each customer's enrollment is the pure interpreter
(`domain.interpreter.step`) fed what the real enrollment workflow would feed it — the customer's real
traits and segment memberships when it reads the profile, the outcome of a send (sent, or suppressed
by a frequency cap counted over the simulated sends), a profile update applied to the simulated traits,
the scripted events at their instants, and the deadlines of its waits — until it ends or the horizon
comes. Because the decisions are the interpreter's (splits drawn from the same hash of journey, node
and customer; conditions, waits in the customer's zone, quiet hours and goals the same code), what the
simulation says a customer does is what the engine would do, given the same inputs.

What it cannot know, it assumes and says so (docs): every send that no frequency cap stops is `sent`
(consent, the suppression list and providers are not consulted); effects take no time; events of
customers outside the script do not happen.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from domain.definition import JourneyDefinition
from domain.durations import parse_duration
from domain.events import EventRecord
from domain.interpreter import (
    AnyCommand,
    AnyInput,
    EventReceived,
    ProfileRead,
    ProfileUpdated,
    ReadProfile,
    RecordStep,
    SendFinished,
    SendMessage,
    Started,
    TimeReached,
    UpdateProfile,
    Wait,
    initial_state,
    step,
)
from domain.nodes.base import StepStatus
from domain.profile import ProfileUpdateError, apply_updates

# Inputs one simulated enrollment may take before it is stopped (a loop through a WAIT that the horizon
# does not end soon enough, at most once a minute for a year, is far below it).
MAX_INPUTS = 20_000
SAMPLE_PATHS = 5


@dataclass(frozen=True)
class SimCustomer:
    customer_id: str
    traits: dict[str, Any]
    segments: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class ScriptedEvent:
    """`event` arrives `after` the entry for `share` of the cohort (chosen per customer, stably)."""

    after: timedelta
    event: str
    properties: dict[str, Any] = field(default_factory=dict)
    share: float = 1.0


@dataclass(frozen=True)
class SimulationPlan:
    definition: JourneyDefinition
    journey_id: str
    journey_name: str
    version: int
    start: datetime
    horizon: timedelta
    events: list[ScriptedEvent] = field(default_factory=list)
    # The trigger's event, for journeys that start on one (its name; no properties).
    entry_event: str | None = None


@dataclass
class NodeTally:
    entered: int = 0
    completed: int = 0
    exited: int = 0
    failed: int = 0
    active_at_horizon: int = 0


@dataclass(frozen=True)
class CustomerRun:
    customer_id: str
    status: str  # ACTIVE (at the horizon), COMPLETED, EXITED, FAILED
    path: list[str]
    converted_at: datetime | None
    reason: str | None


@dataclass
class SimulationResult:
    customers: int = 0
    nodes: dict[str, NodeTally] = field(default_factory=dict)
    branches: Counter[tuple[str, str]] = field(default_factory=Counter)
    sent: Counter[str] = field(default_factory=Counter)
    suppressed: Counter[str] = field(default_factory=Counter)
    statuses: Counter[str] = field(default_factory=Counter)
    time_to_goal: list[float] = field(default_factory=list)
    samples: list[CustomerRun] = field(default_factory=list)

    @property
    def converted(self) -> int:
        return len(self.time_to_goal)

    def merge(self, other: SimulationResult) -> None:
        """Add another part of the cohort's result (simulated elsewhere) to this one."""
        self.customers += other.customers
        for node_id, tally in other.nodes.items():
            mine = self.nodes.setdefault(node_id, NodeTally())
            mine.entered += tally.entered
            mine.completed += tally.completed
            mine.exited += tally.exited
            mine.failed += tally.failed
            mine.active_at_horizon += tally.active_at_horizon
        self.branches.update(other.branches)
        self.sent.update(other.sent)
        self.suppressed.update(other.suppressed)
        self.statuses.update(other.statuses)
        self.time_to_goal.extend(other.time_to_goal)
        self.samples.extend(other.samples[: max(0, SAMPLE_PATHS - len(self.samples))])


def chosen(share: float, index: int, customer_id: str) -> bool:
    """Whether scripted event `index` reaches this customer: a stable draw per (event, customer)."""
    digest = hashlib.sha256(f"simulation:{index}:{customer_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64 < share


def simulate(plan: SimulationPlan, customers: list[SimCustomer]) -> SimulationResult:
    result = SimulationResult()
    for node in plan.definition.nodes:
        result.nodes[node.id] = NodeTally()
    for customer in customers:
        run = _play(plan, customer, result)
        result.customers += 1
        result.statuses[run.status] += 1
        if run.converted_at is not None:
            result.time_to_goal.append((run.converted_at - plan.start).total_seconds())
        if len(result.samples) < SAMPLE_PATHS:
            result.samples.append(run)
    return result


def _play(plan: SimulationPlan, customer: SimCustomer, result: SimulationResult) -> CustomerRun:
    definition, start = plan.definition, plan.start
    end = start + plan.horizon
    events = sorted(
        (
            (start + scripted.after, index, scripted)
            for index, scripted in enumerate(plan.events)
            if chosen(scripted.share, index, customer.customer_id)
        ),
        key=lambda item: (item[0], item[1]),
    )
    traits = dict(customer.traits)
    sends: list[tuple[datetime, str]] = []
    steps: dict[tuple[str, int], StepStatus] = {}
    trigger = None
    if plan.entry_event is not None:
        trigger = EventRecord(
            id=f"simulation-entry-{customer.customer_id}", name=plan.entry_event, timestamp=start
        )
    state = initial_state(
        f"simulation:{customer.customer_id}",
        plan.journey_id,
        customer.customer_id,
        journey_name=plan.journey_name,
        journey_version=plan.version,
    )
    now = start
    feed: AnyInput = Started(now=start, trigger_event=trigger)
    reason: str | None = None
    for _ in range(MAX_INPUTS):
        state, commands = step(definition, state, feed, customer_clock=True)
        _tally(commands, steps, result)
        if state.status != "ACTIVE":
            break
        blocking = commands[-1]
        if isinstance(blocking, SendMessage):
            channel = blocking.config.channel
            capped = _capped(definition, sends, channel, now)
            if capped:
                result.suppressed[channel] += 1
            else:
                result.sent[channel] += 1
                sends.append((now, channel))
            outcome = "suppressed" if capped else "sent"
            feed = SendFinished(node_id=blocking.node_id, visit=blocking.visit, now=now, outcome=outcome)
        elif isinstance(blocking, ReadProfile):
            feed = ProfileRead(
                node_id=blocking.node_id,
                visit=blocking.visit,
                now=now,
                traits=traits,
                segments=list(customer.segments),
            )
        elif isinstance(blocking, UpdateProfile):
            error = None
            try:
                traits = apply_updates(traits, blocking.updates)
            except ProfileUpdateError as exc:
                error = str(exc)
            feed = ProfileUpdated(node_id=blocking.node_id, visit=blocking.visit, now=now, error=error)
        elif isinstance(blocking, Wait):
            upcoming = events[0] if events else None
            if (
                upcoming is not None
                and upcoming[0] <= end
                and (blocking.until is None or upcoming[0] <= blocking.until)
            ):
                at, index, scripted = events.pop(0)
                now = max(now, at)
                event = EventRecord(
                    id=f"simulation-{index}-{customer.customer_id}",
                    name=scripted.event,
                    properties=scripted.properties,
                    timestamp=now,
                )
                feed = EventReceived(now=now, event=event)
            elif blocking.until is not None and blocking.until <= end:
                now = max(now, blocking.until)
                feed = TimeReached(now=now)
            else:
                break  # still waiting at the horizon
        else:  # pragma: no cover - the interpreter ends every list with one of the above
            raise TypeError(f"unexpected blocking command {blocking!r}")
    else:
        reason = f"stopped after {MAX_INPUTS} inputs"
    if state.status == "ACTIVE":
        for (node_id, _visit), status in steps.items():
            if status == "ACTIVE":
                result.nodes.setdefault(node_id, NodeTally()).active_at_horizon += 1
    return CustomerRun(
        customer_id=customer.customer_id,
        status=state.status,
        path=list(state.path),
        converted_at=state.converted_at,
        reason=reason or state.exit_reason,
    )


def _tally(
    commands: list[AnyCommand], steps: dict[tuple[str, int], StepStatus], result: SimulationResult
) -> None:
    for command in commands:
        if not isinstance(command, RecordStep):
            continue
        record = command.record
        key = (record.node_id, record.visit)
        tally = result.nodes.setdefault(record.node_id, NodeTally())
        if key not in steps:
            tally.entered += 1
        previous = steps.get(key)
        steps[key] = record.status
        if previous == record.status or record.status == "ACTIVE":
            continue
        if record.status == "COMPLETED":
            tally.completed += 1
        elif record.status == "EXITED":
            tally.exited += 1
        else:
            tally.failed += 1
        if record.branch is not None:
            result.branches[(record.node_id, record.branch)] += 1


def _capped(
    definition: JourneyDefinition, sends: list[tuple[datetime, str]], channel: str, now: datetime
) -> bool:
    """A frequency cap full within the simulated sends (the real engine also counts other journeys')."""
    for cap in definition.settings.frequency_caps:
        if cap.channel is not None and cap.channel != channel:
            continue
        since = now - parse_duration(cap.period)
        count = sum(1 for at, sent in sends if at > since and (cap.channel is None or sent == cap.channel))
        if count >= cap.limit:
            return True
    return False


def percentile(values: list[float], fraction: float) -> float | None:
    """The nearest-rank percentile (None for no values)."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, min(len(ordered), round(fraction * len(ordered) + 0.5)))
    return ordered[rank - 1]
