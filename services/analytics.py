"""Journey analytics, answered from the step rollup plus enrollment and message counts."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from domain.errors import FieldIssue, InvalidInputError
from domain.nodes import BRANCHING_TYPES
from services.journeys import JourneyService, definition_of
from services.uow import UnitOfWork
from store.repositories.journey_analytics import JourneyAnalyticsRepository, TimeToGoalStats
from store.repositories.rollups import hour_of

BRANCHING = BRANCHING_TYPES  # node types whose steps record a branch (domain.nodes)


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


@dataclass(frozen=True)
class BranchStats:
    node_id: str
    label: str
    count: int


@dataclass(frozen=True)
class Conversion:
    enrolled: int
    converted: int
    time_to_goal: TimeToGoalStats = field(default_factory=lambda: TimeToGoalStats(0, None, None, None))

    @property
    def rate(self) -> float:
        return self.converted / self.enrolled if self.enrolled else 0.0


@dataclass
class JourneyAnalytics:
    journey_id: uuid.UUID
    version: int | None
    start: datetime | None
    end: datetime | None
    nodes: list[NodeStats] = field(default_factory=list)
    branches: list[BranchStats] = field(default_factory=list)
    conversion: Conversion = Conversion(0, 0)


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
        nodes: dict[str, NodeStats] = {
            node.id: NodeStats(node.id, node.type) for node in definition_of(row).nodes
        }
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
        for node_id, status, count in await self._repo.message_counts(
            tenant_id, journey_id, version, low, high
        ):
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
        return JourneyAnalytics(
            journey_id,
            version,
            low,
            high,
            list(nodes.values()),
            branches,
            Conversion(enrolled, converted, time_to_goal),
        )
