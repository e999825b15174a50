"""Event ingestion (SPEC §8): store, identify, enter journeys, signal enrollments, re-evaluate segments.

For each event, in the request's transaction:
1. store it; the tenant's messageId is the dedup key, and a resend answers the first outcome
   (`duplicate: true`) — and redoes the first attempt's starts and signals, which are idempotent, so
   a client retrying after a 503 still gets its enrollments running;
2. settle who it is about (`services.identity`): identifiers, anonymous → known merges; identify
   shallow-merges its traits into the profile;
3. enter every published journey whose EVENT trigger matches it;
4. re-evaluate the segments whose patterns it can change; entering one enters its AUDIENCE journeys;
5. signal the customer's other ACTIVE enrollments with it (not the ones it just started: those got it
   as their trigger event, or entered through a segment).
Workflow starts and signals run after the commit, 16 at a time (`services.fanout`).
"""

from __future__ import annotations

import uuid
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from domain.errors import ConflictError
from domain.events import EventRecord, EventType
from domain.payloads import SIGNAL_EVENT, EventSignal
from domain.segments import event_fields
from services.enrollments import EnrollmentService
from services.entries import JourneyEntries
from services.fanout import Deferred, bounded
from services.identity import CustomerIdentity
from services.segments import AssignmentService
from services.temporal import EnrollmentGateway
from services.uow import AfterCommit, UnitOfWork
from store.repositories.customer_enrollments import CustomerEnrollmentRepository
from store.repositories.customers import CustomerRepository
from store.repositories.enrollments import EnrollmentRepository
from store.repositories.events import EventRepository
from store.rows import EnrollmentRow, EventRow


@dataclass(frozen=True)
class IncomingEvent:
    type: EventType
    user_id: str | None
    anonymous_id: str | None
    event: str | None = None
    name: str | None = None
    properties: dict[str, Any] = field(default_factory=dict)
    traits: dict[str, Any] = field(default_factory=dict)
    context: dict[str, Any] = field(default_factory=dict)
    session_id: str | None = None
    message_id: str | None = None
    timestamp: datetime | None = None
    group_id: str | None = None  # group calls
    previous_id: str | None = None  # alias calls: the identity being merged into `user_id`
    # Fields the engine does not read, kept with the stored event (Segment's integrations, sentAt,
    # originalTimestamp, _metadata, …).
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class EventOutcome:
    message_id: str
    customer_id: str
    enrolled: int
    signalled: int
    segments_changed: int
    duplicate: bool


def _record(row: EventRow) -> EventRecord:
    return EventRecord(
        id=row.message_id,
        type=row.type,
        name=row.name,
        properties=row.properties,
        traits=row.traits,
        timestamp=row.timestamp,
    )


class IngestionService:
    def __init__(self, uow: UnitOfWork, gateway: EnrollmentGateway) -> None:
        self._uow = uow
        self._gateway = gateway
        self._deferred = Deferred(uow.session)
        self._signals: list[AfterCommit] = []
        self._seen: set[str] = set()
        self._events = EventRepository(uow.session)
        self._customers = CustomerRepository(uow.session)
        self._enrollments = EnrollmentRepository(uow.session)
        self._active = CustomerEnrollmentRepository(uow.session)
        self._identity = CustomerIdentity(uow)
        self._entries = JourneyEntries(self._deferred, gateway)
        self._assignments = AssignmentService(uow, gateway, deferred=self._deferred)

    async def ingest(self, tenant_id: str, events: Sequence[IncomingEvent]) -> list[EventOutcome]:
        outcomes = [await self._one(tenant_id, event) for event in events]
        starts, signals = self._deferred.collected, self._signals
        if starts or signals:
            self._uow.after_commit(bounded(starts, signals))
        return outcomes

    async def _one(self, tenant_id: str, incoming: IncomingEvent) -> EventOutcome:
        now = datetime.now(UTC)
        message_id = incoming.message_id or f"srv-{uuid.uuid4()}"
        name = (incoming.event or "") if incoming.type == "track" else incoming.type
        properties = dict(incoming.properties)
        if incoming.type == "page" and incoming.name and "name" not in properties:
            properties["name"] = incoming.name
        who = await self._identity.lookup(tenant_id, incoming.user_id, incoming.anonymous_id)
        timestamp = incoming.timestamp or now
        event_id = await self._events.insert_if_absent(
            {
                "tenant_id": tenant_id,
                "message_id": message_id,
                "type": incoming.type,
                "customer_id": who.customer_id,
                "user_id": incoming.user_id,
                "anonymous_id": incoming.anonymous_id,
                "session_id": incoming.session_id,
                "name": name,
                "properties": properties,
                "traits": incoming.traits,
                "context": incoming.context,
                "timestamp": timestamp,
                "received_at": now,
            }
        )
        if event_id is None:
            return await self._duplicate(tenant_id, message_id)
        self._seen.add(message_id)

        customer_id = who.customer_id
        await self._identity.settle(tenant_id, incoming.user_id, incoming.anonymous_id, customer_id)
        if incoming.type == "identify":
            if incoming.traits:
                await self._customers.upsert(tenant_id, customer_id, incoming.traits, merge=True)
            await self._identity.record_traits(tenant_id, customer_id, incoming.traits)

        record = EventRecord(
            id=message_id,
            type=incoming.type,
            name=name,
            properties=properties,
            traits=incoming.traits,
            timestamp=timestamp,
        )
        by_event = await self._entries.on_event(tenant_id, customer_id, record, anonymous=who.anonymous)
        already = len(self._assignments.entered)
        segments_changed = await self._assignments.evaluate_event(
            tenant_id,
            customer_id,
            incoming.session_id,
            name,
            event_fields(properties, incoming.traits, incoming.context),
            incoming.context,
            anonymous=who.anonymous,
        )
        by_segment = self._assignments.entered[already:]
        started = [*by_event, *by_segment]
        signalled = await self._signal_active(tenant_id, customer_id, record, {r.id for r in started})
        outcome = EventOutcome(
            message_id=message_id,
            customer_id=customer_id,
            enrolled=len(started),
            signalled=signalled,
            segments_changed=segments_changed,
            duplicate=False,
        )
        await self._events.set_outcome(
            event_id,
            {
                "customerId": customer_id,
                "enrolled": outcome.enrolled,
                "signalled": outcome.signalled,
                "segmentsChanged": outcome.segments_changed,
                "eventEnrollmentIds": [str(r.id) for r in by_event],
                "segmentEnrollmentIds": [str(r.id) for r in by_segment],
            },
        )
        return outcome

    async def _duplicate(self, tenant_id: str, message_id: str) -> EventOutcome:
        row = await self._events.by_message_id(tenant_id, message_id)
        assert row is not None, "the conflicting event is committed or in this transaction"
        stored: dict[str, Any] = row.outcome or {}
        if message_id not in self._seen:
            await self._redo(tenant_id, row, stored)
        return EventOutcome(
            message_id=message_id,
            customer_id=str(stored.get("customerId", row.customer_id)),
            enrolled=int(stored.get("enrolled", 0)),
            signalled=int(stored.get("signalled", 0)),
            segments_changed=int(stored.get("segmentsChanged", 0)),
            duplicate=True,
        )

    async def _redo(self, tenant_id: str, row: EventRow, stored: dict[str, Any]) -> None:
        """Start again what the first attempt started (a no-op when running) and signal again (deduped)."""
        record = _record(row)
        started: set[uuid.UUID] = set()
        for key, trigger in (("eventEnrollmentIds", record), ("segmentEnrollmentIds", None)):
            for raw in stored.get(key, []):
                enrollment = await self._enrollments.get(tenant_id, uuid.UUID(raw))
                if enrollment is None:
                    continue
                started.add(enrollment.id)
                if enrollment.status == "ACTIVE":
                    await self._restart(tenant_id, enrollment, trigger)
        await self._signal_active(tenant_id, row.customer_id, record, started)

    async def _restart(self, tenant_id: str, enrollment: EnrollmentRow, trigger: EventRecord | None) -> None:
        try:
            await EnrollmentService(self._deferred, self._gateway).enroll(
                tenant_id, enrollment.journey_id, enrollment.customer_id, trigger_event=trigger
            )
        except ConflictError:
            return

    async def _signal_active(
        self, tenant_id: str, customer_id: str, record: EventRecord, exclude: Collection[uuid.UUID]
    ) -> int:
        targets = [
            r.workflow_id for r in await self._active.active(tenant_id, customer_id) if r.id not in exclude
        ]
        payload = EventSignal(event=record)
        for workflow_id in targets:
            self._signals.append(self._signal(workflow_id, payload))
        return len(targets)

    def _signal(self, workflow_id: str, payload: EventSignal) -> AfterCommit:
        gateway = self._gateway

        async def deliver() -> None:
            await gateway.signal(workflow_id, SIGNAL_EVENT, payload)

        return deliver
