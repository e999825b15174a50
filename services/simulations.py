"""Simulating a journey before publishing it: the cohort read from the store, the interpreter played forward
over it (`domain.simulation`, spread over processes), the result kept as the simulation's record.

A cohort up to SYNC_COHORT customers is answered in the request; a larger one (up to MAX_COHORT) is played
in the background of the API process after the record is committed, and polled. Nothing is sent,
enrolled or written besides the record.
"""

from __future__ import annotations

import asyncio
import logging
import os
import uuid
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from multiprocessing import get_context
from typing import Any, Literal

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from domain.definition import JourneyDefinition, TriggerNode
from domain.durations import parse_duration
from domain.errors import FieldIssue, InvalidInputError, NotFoundError
from domain.simulation import (
    ScriptedEvent,
    SimCustomer,
    SimulationPlan,
    SimulationResult,
    percentile,
    simulate,
)
from domain.step_order import nodes_in_path_order
from domain.validation import validate_for_publish
from services.journeys import JourneyService
from services.uow import UnitOfWork
from store.repositories.simulations import SimulationRepository
from store.rows import SimulationRow

logger = logging.getLogger(__name__)

MAX_COHORT = 100_000
SYNC_COHORT = 5_000
MAX_HORIZON = timedelta(days=366)
MAX_EVENTS = 20
# Below this a cohort is played in a thread of the API process: starting processes costs more.
INLINE_COHORT = 500


@dataclass(frozen=True)
class CohortSpec:
    customer_ids: list[str] | None = None
    segment_id: uuid.UUID | None = None
    sample: int | None = None


@dataclass(frozen=True)
class EventSpec:
    after: str
    event: str
    properties: dict[str, Any] = field(default_factory=dict)
    share: float = 1.0


@dataclass(frozen=True)
class SimulationSpec:
    cohort: CohortSpec
    version: int | Literal["draft"] | None = None  # None: the live version
    events: list[EventSpec] = field(default_factory=list)
    horizon: str = "30 days"


# ---- playing ------------------------------------------------------------------------------------

_pool: ProcessPoolExecutor | None = None
# Background simulations of this process (a task nobody holds may be collected before it ends).
_running: set[asyncio.Task[None]] = set()


def simulation_processes() -> int:
    return max(1, os.cpu_count() or 1)


def _processes() -> ProcessPoolExecutor:
    """One pool per process, started on first use ("spawn": the API process runs threads)."""
    global _pool
    if _pool is None:
        _pool = ProcessPoolExecutor(max_workers=simulation_processes(), mp_context=get_context("spawn"))
    return _pool


async def play(
    plan: SimulationPlan,
    customers: list[SimCustomer],
    *,
    progress: Callable[[int], None] | None = None,
) -> SimulationResult:
    """Simulate every customer; a large cohort in parts over the machine's cores. `progress` is told how
    many customers each finished part held."""
    if len(customers) <= INLINE_COHORT:
        result = await asyncio.to_thread(simulate, plan, customers)
        if progress is not None:
            progress(len(customers))
        return result
    parts = simulation_processes() * 8
    size = -(-len(customers) // parts)
    loop = asyncio.get_running_loop()
    pool = _processes()
    pending = [
        loop.run_in_executor(pool, simulate, plan, customers[start : start + size])
        for start in range(0, len(customers), size)
    ]
    result = SimulationResult()
    for part in asyncio.as_completed(pending):
        done = await part
        result.merge(done)
        if progress is not None:
            progress(done.customers)
    return result


def result_document(definition: JourneyDefinition, result: SimulationResult) -> dict[str, Any]:
    """The answer's `nodes`, `branches`, `sends`, `conversion` and `samples` (camelCase JSON)."""
    order = nodes_in_path_order(definition)
    rank = {node_id: i for i, node_id in enumerate(order)}
    nodes = [
        {
            "nodeId": node_id,
            "entered": tally.entered,
            "completed": tally.completed,
            "exited": tally.exited,
            "failed": tally.failed,
            "activeAtHorizon": tally.active_at_horizon,
        }
        for node_id, tally in sorted(
            result.nodes.items(), key=lambda item: (rank.get(item[0], len(rank)), item[0])
        )
    ]
    branches = [
        {"nodeId": node_id, "label": label, "count": count}
        for (node_id, label), count in sorted(
            result.branches.items(), key=lambda item: (rank.get(item[0][0], len(rank)), item[0])
        )
    ]
    channels = sorted(set(result.sent) | set(result.suppressed))
    converted = result.converted
    return {
        "customers": result.customers,
        "nodes": nodes,
        "branches": branches,
        "sends": [
            {"channel": channel, "count": result.sent[channel], "suppressed": result.suppressed[channel]}
            for channel in channels
        ],
        "conversion": {
            "converted": converted,
            "rate": converted / result.customers if result.customers else 0.0,
            "timeToGoal": {
                "p50": percentile(result.time_to_goal, 0.5),
                "p90": percentile(result.time_to_goal, 0.9),
            },
        },
        "statuses": dict(sorted(result.statuses.items())),
        "samples": [
            {
                "customerId": run.customer_id,
                "status": run.status,
                "path": run.path,
                "convertedAt": run.converted_at.isoformat() if run.converted_at else None,
                "reason": run.reason,
            }
            for run in result.samples
        ],
    }


# ---- the use case ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Prepared:
    """A simulation ready to play: its record (not yet added), the plan and the cohort."""

    record: SimulationRow
    plan: SimulationPlan
    customers: list[SimCustomer]


class SimulationService:
    def __init__(self, uow: UnitOfWork) -> None:
        self._uow = uow
        self._journeys = JourneyService(uow)
        self._repo = SimulationRepository(uow.session)

    async def prepare(self, tenant_id: str, journey_id: uuid.UUID, spec: SimulationSpec) -> Prepared:
        """Check the request and read the cohort. 404: the journey or the version; 422 naming the field:
        an empty or unbounded cohort, a horizon over 366 days, an event after the horizon, a draft that is
        not publishable (its problems)."""
        row = await self._journeys.get(tenant_id, journey_id)
        definition, version = await self._definition(tenant_id, row.id, row.version, spec.version, row.draft)
        issues: list[FieldIssue] = []
        horizon = _duration(spec.horizon, ("body", "horizon"), issues)
        if horizon is not None and horizon > MAX_HORIZON:
            issues.append(FieldIssue(("body", "horizon"), f"at most {MAX_HORIZON.days} days"))
        if len(spec.events) > MAX_EVENTS:
            issues.append(FieldIssue(("body", "events"), f"at most {MAX_EVENTS} scripted events"))
        scripted: list[ScriptedEvent] = []
        for index, event in enumerate(spec.events):
            after = _duration(event.after, ("body", "events", index, "after"), issues)
            if after is None:
                continue
            if horizon is not None and after > horizon:
                issues.append(
                    FieldIssue(("body", "events", index, "after"), f"{event.after!r} is beyond the horizon")
                )
            scripted.append(ScriptedEvent(after, event.event, dict(event.properties), event.share))
        if issues:
            raise InvalidInputError(issues)
        assert horizon is not None
        now = datetime.now(UTC)
        customers = await self._cohort(tenant_id, spec.cohort, now)
        trigger = next((n for n in definition.nodes if isinstance(n, TriggerNode)), None)
        entry_event = (
            trigger.config.event if trigger is not None and trigger.config.trigger_type == "EVENT" else None
        )
        plan = SimulationPlan(
            definition=definition,
            journey_id=str(row.id),
            journey_name=row.name,
            version=version or 0,
            start=now,
            horizon=horizon,
            events=scripted,
            entry_event=entry_event,
        )
        record = SimulationRow(
            id=uuid.uuid4(),
            tenant_id=tenant_id,
            journey_id=row.id,
            version=version,
            request=_request_document(spec),
            status="RUNNING",
            customers=len(customers),
            created_at=now,
        )
        return Prepared(record, plan, customers)

    async def run(
        self,
        tenant_id: str,
        journey_id: uuid.UUID,
        spec: SimulationSpec,
        sessions: async_sessionmaker[AsyncSession],
    ) -> SimulationRow:
        """Played now when the cohort is small enough (COMPLETED), else in the background of this process
        once the record is committed (RUNNING; poll `get`; a process that stops first leaves it RUNNING)."""
        prepared = await self.prepare(tenant_id, journey_id, spec)
        record = prepared.record
        if len(prepared.customers) <= SYNC_COHORT:
            result = await play(prepared.plan, prepared.customers)
            record.status = "COMPLETED"
            record.result = result_document(prepared.plan.definition, result)
            record.completed_at = datetime.now(UTC)
            await self._repo.add(record)
            return record
        await self._repo.add(record)

        async def in_background() -> None:
            task = asyncio.create_task(finish_in_background(sessions, prepared))
            _running.add(task)
            task.add_done_callback(_running.discard)

        self._uow.after_commit(in_background)
        return record

    async def keep(self, record: SimulationRow) -> None:
        """Write a simulation played by the caller (the CLI, which shows its own progress)."""
        record.completed_at = record.completed_at or datetime.now(UTC)
        await self._repo.add(record)

    async def get(self, tenant_id: str, journey_id: uuid.UUID, simulation_id: uuid.UUID) -> SimulationRow:
        await self._journeys.get(tenant_id, journey_id)
        row = await self._repo.get(tenant_id, journey_id, simulation_id)
        if row is None:
            raise NotFoundError("simulation", str(simulation_id))
        return row

    async def _definition(
        self,
        tenant_id: str,
        journey_id: uuid.UUID,
        live: int,
        asked: int | Literal["draft"] | None,
        draft: dict[str, Any],
    ) -> tuple[JourneyDefinition, int | None]:
        if asked == "draft" or (asked is None and live == 0):
            definition = JourneyDefinition.model_validate(draft)
            problems = validate_for_publish(definition)
            if problems:
                raise InvalidInputError(problems, detail="the draft is not publishable")
            return definition, None
        number = live if asked is None else asked
        stored = await self._journeys.version(tenant_id, journey_id, number)
        return JourneyDefinition.model_validate(stored.definition), number

    async def _cohort(self, tenant_id: str, cohort: CohortSpec, now: datetime) -> list[SimCustomer]:
        if cohort.customer_ids is not None:
            ids = list(dict.fromkeys(cohort.customer_ids))
        elif cohort.segment_id is not None:
            ids = await self._repo.segment_members(tenant_id, cohort.segment_id, now, MAX_COHORT + 1)
        else:
            assert cohort.sample is not None
            ids = await self._repo.sample(tenant_id, cohort.sample)
        if not ids:
            raise InvalidInputError([FieldIssue(("body", "cohort"), "the cohort is empty")])
        if len(ids) > MAX_COHORT:
            raise InvalidInputError(
                [
                    FieldIssue(
                        ("body", "cohort"), f"{len(ids):,}+ customers; at most {MAX_COHORT:,} per simulation"
                    )
                ]
            )
        profiles = await self._repo.profiles(tenant_id, ids, now)
        # A customer without a profile is simulated as the engine would run them: with no traits.
        return [SimCustomer(c, *profiles.get(c, ({}, []))) for c in ids]


async def finish_in_background(sessions: async_sessionmaker[AsyncSession], prepared: Prepared) -> None:
    """Play a large cohort and write its result (or why it failed) to the committed record."""
    record = prepared.record
    try:
        result = await play(prepared.plan, prepared.customers)
        status, document, error = "COMPLETED", result_document(prepared.plan.definition, result), None
    except Exception as exc:  # recorded on the simulation, which the caller polls
        logger.exception("simulation %s failed", record.id)
        status, document, error = "FAILED", None, f"{type(exc).__name__}: {exc}"
    async with sessions() as session:
        await SimulationRepository(session).finish(
            record.id, status=status, result=document, error=error, at=datetime.now(UTC)
        )
        await session.commit()


def _duration(text: str, loc: tuple[str | int, ...], issues: list[FieldIssue]) -> timedelta | None:
    try:
        return parse_duration(text)
    except ValueError as exc:
        issues.append(FieldIssue(loc, str(exc)))
        return None


def _request_document(spec: SimulationSpec) -> dict[str, Any]:
    cohort: dict[str, Any]
    if spec.cohort.customer_ids is not None:
        cohort = {"customerIds": len(spec.cohort.customer_ids)}  # how many, not who: records carry no ids
    elif spec.cohort.segment_id is not None:
        cohort = {"segmentId": str(spec.cohort.segment_id)}
    else:
        cohort = {"sample": spec.cohort.sample}
    return {
        "version": spec.version,
        "cohort": cohort,
        "events": [
            {"after": e.after, "event": e.event, "share": e.share, "properties": e.properties}
            for e in spec.events
        ],
        "horizon": spec.horizon,
    }
