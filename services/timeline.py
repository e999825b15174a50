"""An enrollment's timeline: what happened to it and why, in time order — its steps (with how branching
steps decided), the events it received, its messages, operator actions on it, and its waits."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from domain.definition import JourneyDefinition
from domain.errors import NotFoundError
from domain.nodes.base import CustomerClock
from domain.nodes.send import SendNode
from domain.nodes.wait import WaitNode
from domain.rules import StepDecision
from domain.step_order import in_path_order
from services.journeys import JourneyService
from services.uow import UnitOfWork
from store.repositories.customers import CustomerRepository
from store.repositories.enrollments import EnrollmentRepository
from store.repositories.timeline import TimelineRepository
from store.rows import EnrollmentRow, EnrollmentStepRow

Kind = Literal["event", "action", "step", "wait", "message"]
# Entries at the same instant: what came in, then what an operator did, then the step, its wait, its
# message.
_RANK: dict[str, int] = {"event": 0, "action": 1, "step": 2, "wait": 3, "message": 4}


@dataclass(frozen=True)
class TimelineEntry:
    at: datetime
    kind: Kind
    fields: dict[str, Any] = field(default_factory=dict)
    decision: StepDecision | None = None


@dataclass(frozen=True)
class Timeline:
    enrollment: EnrollmentRow
    entries: list[TimelineEntry]


def _action_detail(detail: dict[str, Any] | None) -> dict[str, Any]:
    """An enrollment action's name, reason, `until` and `nodeId` as the audit log kept them."""
    if not detail:
        return {}
    names = {"action": "action", "reason": "reason", "until": "until", "nodeId": "node_id"}
    return {name: detail[key] for key, name in names.items() if isinstance(detail.get(key), str)}


def _decision(step: EnrollmentStepRow) -> StepDecision | None:
    if step.decision is None:
        return None
    try:
        return StepDecision.model_validate(step.decision)
    except ValueError:  # written by a newer worker: shown without it rather than failing the read
        return None


def _current_zone(node: Any, definition: JourneyDefinition, traits: dict[str, Any]) -> str | None:
    """The zone the current hold or local-time WAIT is read in (the customer's `timezone` trait when it is
    an IANA zone, else the journey's); None for a plain duration."""
    local = isinstance(node, SendNode) or (isinstance(node, WaitNode) and node.config.duration is None)
    if not local:
        return None
    zone, _ = CustomerClock.of(traits.get("timezone")).zone(definition.settings.timezone)
    return zone.key


class TimelineService:
    def __init__(self, uow: UnitOfWork) -> None:
        self._journeys = JourneyService(uow)
        self._enrollments = EnrollmentRepository(uow.session)
        self._customers = CustomerRepository(uow.session)
        self._reads = TimelineRepository(uow.session)

    async def timeline(self, tenant_id: str, journey_id: uuid.UUID, enrollment_id: uuid.UUID) -> Timeline:
        row = await self._enrollments.get(tenant_id, enrollment_id)
        if row is None or row.journey_id != journey_id:
            raise NotFoundError("enrollment", str(enrollment_id))
        definition = await self._journeys.enrollment_definition(tenant_id, journey_id, row.version)
        steps = in_path_order(await self._enrollments.steps(tenant_id, enrollment_id), definition.edges)
        entries = [*self._steps(steps), *await self._current_wait(row, steps, definition, tenant_id)]
        for message in await self._reads.messages(tenant_id, enrollment_id):
            entries.append(
                TimelineEntry(
                    at=message.created_at,
                    kind="message",
                    fields={
                        "id": str(message.id),
                        "node_id": message.node_id,
                        "channel": message.channel,
                        "status": message.status,
                        "reason": message.reason,
                        "error": message.error,
                        "provider_message_id": message.provider_message_id,
                        "sent_at": message.sent_at,
                    },
                )
            )
        for event in await self._reads.events(
            tenant_id,
            row.customer_id,
            since=row.enrolled_at,
            until=row.completed_at,
            entry_message_id=row.entry_message_id,
        ):
            entries.append(
                TimelineEntry(
                    at=event.received_at,
                    kind="event",
                    fields={
                        "id": event.message_id,
                        "name": event.name,
                        "type": event.type,
                        "entry": event.message_id == row.entry_message_id,
                    },
                )
            )
        for action in await self._reads.actions(
            tenant_id,
            journey_id,
            enrollment_id,
            row.customer_id,
            since=row.enrolled_at,
            until=row.completed_at,
        ):
            entries.append(
                TimelineEntry(
                    at=action.at,
                    kind="action",
                    fields={
                        "method": action.method,
                        "path": action.path,
                        "status_code": action.status_code,
                        "subject": action.subject,
                        "request_id": action.request_id,
                        **_action_detail(action.detail),
                    },
                )
            )
        # Stable: steps keep their path order among themselves.
        entries.sort(key=lambda entry: (entry.at, _RANK[entry.kind]))
        return Timeline(row, entries)

    @staticmethod
    def _steps(steps: list[EnrollmentStepRow]) -> list[TimelineEntry]:
        entries: list[TimelineEntry] = []
        for step in steps:
            decision = _decision(step)
            wait = None if decision is None else decision.wait
            shown = decision if decision is not None and wait is None else None
            entries.append(
                TimelineEntry(
                    at=step.started_at,
                    kind="step",
                    fields={
                        "node_id": step.node_id,
                        "name": step.name,
                        "type": step.node_type,
                        "visit": step.visit,
                        "status": step.status,
                        "branch": step.branch,
                        "detail": step.detail,
                        "completed_at": step.completed_at,
                    },
                    decision=shown,
                )
            )
            if wait is not None:
                entries.append(
                    TimelineEntry(
                        at=step.started_at,
                        kind="wait",
                        fields={
                            "node_id": step.node_id,
                            "awaiting": wait.awaiting,
                            "waiting_until": wait.until,
                            "zone": wait.zone,
                            "ended_at": step.completed_at,
                        },
                    )
                )
        return entries

    async def _current_wait(
        self,
        row: EnrollmentRow,
        steps: list[EnrollmentStepRow],
        definition: JourneyDefinition,
        tenant_id: str,
    ) -> list[TimelineEntry]:
        """The wait the enrollment is in now when its step's record does not say (a local-time WAIT or a
        hold decided after reading the profile): the deadline from the enrollment, the zone from the
        customer's trait and the journey."""
        if row.status != "ACTIVE" or row.waiting_until is None or row.current_step_id is None:
            return []
        open_steps = [s for s in steps if s.node_id == row.current_step_id and s.completed_at is None]
        if not open_steps or _decision(open_steps[-1]) is not None:
            return []
        step = open_steps[-1]
        try:
            node = definition.node(step.node_id)
        except KeyError:
            return []
        traits = await self._customers.traits(tenant_id, row.customer_id) or {}
        return [
            TimelineEntry(
                at=step.started_at,
                kind="wait",
                fields={
                    "node_id": step.node_id,
                    "awaiting": "hold" if isinstance(node, SendNode) else "time",
                    "waiting_until": row.waiting_until,
                    "zone": _current_zone(node, definition, traits),
                    "ended_at": None,
                },
            )
        ]
