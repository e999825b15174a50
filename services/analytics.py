"""Journey analytics, answered from the step rollup plus enrollment and message counts, and per SEND node
what happened to its messages (sent, suppressed per reason, failed) and what providers reported about
them (delivered, opened, clicked, bounced, complained)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from domain.consent import SUPPRESSION_REASONS
from domain.definition import JourneyDefinition
from domain.errors import FieldIssue, InvalidInputError, NotFoundError
from domain.nodes import BRANCHING_TYPES, labels
from domain.step_order import nodes_in_path_order
from services.journeys import JourneyService, definition_of
from services.uow import UnitOfWork
from store.repositories.journey_analytics import (
    BranchConversionCounts,
    JourneyAnalyticsRepository,
    TimeToGoalStats,
)
from store.repositories.rollups import hour_of
from store.rows import JourneyRow

BRANCHING = BRANCHING_TYPES  # node types whose steps record a branch (domain.nodes)
# A provider's delivery event type → the MessageStats field that counts the messages it was reported for.
REPORTED = {
    "delivered": "delivered",
    "opened": "opened",
    "clicked": "clicked",
    "bounce": "bounced",
    "complaint": "complained",
}


@dataclass
class NodeStats:
    node_id: str
    type: str
    entered: int = 0
    completed: int = 0
    in_progress: int = 0
    exited: int = 0
    failed: int = 0
    sent: int = 0
    suppressed: int = 0
    messages_failed: int = 0


@dataclass
class MessageStats:
    """One SEND node's messages (created in the range): how they ended, and what providers reported."""

    node_id: str
    node_name: str
    sent: int = 0
    suppressed: dict[str, int] = field(default_factory=lambda: dict.fromkeys(SUPPRESSION_REASONS, 0))
    failed: int = 0
    delivered: int = 0
    opened: int = 0
    clicked: int = 0
    bounced: int = 0
    complained: int = 0


@dataclass(frozen=True)
class BranchStats:
    node_id: str
    label: str
    count: int


def _rate(converted: int, enrolled: int) -> float:
    return converted / enrolled if enrolled else 0.0


@dataclass(frozen=True)
class BranchConversion:
    """The A/B readout of one branch: enrollments that left `node_id` by `branch`, and converted."""

    node_id: str
    node_name: str
    node_type: str
    branch: str
    enrolled: int = 0
    converted: int = 0

    @property
    def rate(self) -> float:
        return _rate(self.converted, self.enrolled)


@dataclass(frozen=True)
class Conversion:
    enrolled: int
    converted: int
    time_to_goal: TimeToGoalStats = field(default_factory=lambda: TimeToGoalStats(0, None, None, None))
    branches: list[BranchConversion] = field(default_factory=list)

    @property
    def rate(self) -> float:
        return _rate(self.converted, self.enrolled)


@dataclass
class JourneyAnalytics:
    journey_id: uuid.UUID
    version: int | None
    start: datetime | None
    end: datetime | None
    nodes: list[NodeStats] = field(default_factory=list)
    branches: list[BranchStats] = field(default_factory=list)
    conversion: Conversion = Conversion(0, 0)
    messages: list[MessageStats] = field(default_factory=list)


def hour_bounds(start: datetime | None, end: datetime | None) -> tuple[datetime | None, datetime | None]:
    """The rollup counts whole UTC hours: `from` is floored and `to` ceiled to the hour."""
    low = hour_of(start) if start is not None else None
    high = None
    if end is not None:
        high = hour_of(end)
        if high < end.astimezone(UTC):
            high += timedelta(hours=1)
    if low is not None and high is not None and high <= low:
        raise InvalidInputError([FieldIssue(("query", "to"), "must be after `from`")])
    return low, high


def branch_readout(
    definition: JourneyDefinition, counted: list[BranchConversionCounts]
) -> list[BranchConversion]:
    """Every branch of every branching node of `definition`, in path order (the order the edges lead
    through the nodes) and each node's branches in its label order, with what was counted — zeros
    where nothing was. Counted branches the definition does not have (a node or a branch key since
    removed from the draft) follow their node's, and counted nodes it does not have come last, by id."""
    counts = {(c.node_id, c.branch): c for c in counted}
    readout: list[BranchConversion] = []

    def add(node_id: str, name: str, node_type: str, branch: str) -> None:
        found = counts.pop((node_id, branch), None)
        enrolled, converted = (found.enrolled, found.converted) if found else (0, 0)
        readout.append(BranchConversion(node_id, name, node_type, branch, enrolled, converted))

    by_id = {node.id: node for node in definition.nodes}
    for node_id in nodes_in_path_order(definition):
        node = by_id[node_id]
        if node.type not in BRANCHING:
            continue
        own = labels(node)
        extra = sorted(b for counted_id, b in counts if counted_id == node.id and b not in own)
        for branch in [*own, *extra]:
            add(node.id, node.name or node.type, node.type, branch)
    for c in sorted(counts.values(), key=lambda c: (c.node_id, c.branch)):
        readout.append(BranchConversion(c.node_id, c.name, c.node_type, c.branch, c.enrolled, c.converted))
    return readout


def message_readout(
    definition: JourneyDefinition,
    by_status: list[tuple[str, str, str | None, int]],
    reported: list[tuple[str, str, int]],
) -> list[MessageStats]:
    """Every SEND node of `definition` in path order, with its counts (zeros where nothing happened);
    counted nodes it does not have (since removed) follow, by id."""
    by_id = {node.id: node for node in definition.nodes}
    stats: dict[str, MessageStats] = {}
    for node_id in nodes_in_path_order(definition):
        node = by_id[node_id]
        if node.type == "SEND":
            stats[node_id] = MessageStats(node_id, node.name or node.type)
    extra: dict[str, MessageStats] = {}

    def of(node_id: str) -> MessageStats:
        found = stats.get(node_id) or extra.get(node_id)
        if found is None:
            found = extra[node_id] = MessageStats(node_id, node_id)
        return found

    for node_id, status, reason, count in by_status:
        if status == "sent":
            of(node_id).sent += count
        elif status == "failed":
            of(node_id).failed += count
        elif status == "suppressed" and reason in SUPPRESSION_REASONS:
            of(node_id).suppressed[reason] += count
    for node_id, kind, count in reported:
        name = REPORTED.get(kind)
        if name is not None:
            target = of(node_id)
            setattr(target, name, getattr(target, name) + count)
    return [*stats.values(), *(extra[node_id] for node_id in sorted(extra))]


class AnalyticsService:
    def __init__(self, uow: UnitOfWork) -> None:
        self._uow = uow
        self._repo = JourneyAnalyticsRepository(uow.session)

    async def journey(
        self,
        tenant_id: str,
        journey_id: uuid.UUID,
        version: int | None,
        start: datetime | None,
        end: datetime | None,
    ) -> JourneyAnalytics:
        row = await JourneyService(self._uow).get(tenant_id, journey_id)
        low, high = hour_bounds(start, end)
        definition = definition_of(row)
        nodes: dict[str, NodeStats] = {node.id: NodeStats(node.id, node.type) for node in definition.nodes}
        for node_id, node_type, status, count in await self._repo.node_status_counts(
            tenant_id, journey_id, version, low, high
        ):
            stats = nodes.setdefault(node_id, NodeStats(node_id, node_type))
            stats.entered += count
            if status == "COMPLETED":
                stats.completed += count
            elif status == "ACTIVE":
                stats.in_progress += count
            elif status == "EXITED":
                stats.exited += count
            else:  # FAILED, SKIPPED
                stats.failed += count
        by_status = await self._repo.message_counts(tenant_id, journey_id, version, low, high)
        for node_id, status, _reason, count in by_status:
            stats = nodes.setdefault(node_id, NodeStats(node_id, "SEND"))
            if status == "sent":
                stats.sent += count
            elif status == "suppressed":
                stats.suppressed += count
            elif status == "failed":
                stats.messages_failed += count
        branches = [
            BranchStats(node_id, branch, count)
            for node_id, node_type, branch, count in await self._repo.branch_counts(
                tenant_id, journey_id, version, low, high
            )
            if node_type in BRANCHING
        ]
        branches.sort(key=lambda b: (b.node_id, b.label))
        enrolled, converted, time_to_goal = await self._repo.conversion(
            tenant_id, journey_id, version, low, high
        )
        by_branch = await self._repo.branch_conversion(tenant_id, journey_id, version, low, high, BRANCHING)
        reported = await self._repo.delivery_event_counts(tenant_id, journey_id, version, low, high)
        sends = message_readout(await self._version_definition(row, version), by_status, reported)
        return JourneyAnalytics(
            journey_id,
            version,
            low,
            high,
            list(nodes.values()),
            branches,
            Conversion(enrolled, converted, time_to_goal, branch_readout(definition, by_branch)),
            sends,
        )

    async def _version_definition(self, row: JourneyRow, version: int | None) -> JourneyDefinition:
        """The definition of the version asked for (when it was published), else the current draft."""
        if version is not None:
            try:
                published = await JourneyService(self._uow).version(row.tenant_id, row.id, version)
            except NotFoundError:
                pass
            else:
                return JourneyDefinition.model_validate(published.definition)
        return definition_of(row)
