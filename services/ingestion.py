"""Event ingestion (SPEC §8): one pass per batch, in the request's transaction.

1. settle who each call is about (`services.identity.resolve_batch`: two queries for the batch);
2. store the batch in one statement deduplicated on the tenant's messageId; a resend answers the
   first outcome (`duplicate: true`) and changes nothing else;
3. for the new calls: merge anonymous profiles, create profiles, merge traits (identify traits, and
   `traits` / `context.traits` on any call — Segment destinations do the same), record identifiers;
4. enter every published journey whose EVENT trigger matches (`services.live_journeys`: the
   tenant's triggers are cached per process and re-checked once per batch), all entries of the batch
   decided together (one lock, one read of the previous entries, one insert); a keyed trigger enters
   per (customer, key value), its rules applied per key;
5. re-evaluate the segments whose patterns a call can change; entering one enters its AUDIENCE journeys;
6. signal the customer's ACTIVE enrollments with each call (not the ones it just started: those got
   it as their trigger event) — in order: an enrollment started by an earlier call of the batch gets
   the later calls; a keyed enrollment (`entryKey`) only the calls with its key value or none at its
   path (`domain.entry_keys`);
7. write the workflow starts and signals to the dispatch outbox, in the same transaction
   (`services.dispatcher` carries them out, in order per customer, and never drops one).

The answer says what will happen (`enrolled`, `signalled`, `segmentsChanged`), decided here.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from domain.entry_keys import entry_key_of, reaches
from domain.events import EventRecord, EventType, event_document, matches
from domain.ids import enrollment_id, enrollment_workflow_id
from domain.lifecycle import accepts_entries
from domain.payloads import EnrollmentInput, EventSignal
from domain.segments import event_fields
from services.enrollments import reentry_refusal
from services.entries import trigger_name
from services.identity import CallIds, CustomerIdentity, identifier_records, resolve_batch
from services.live_journeys import LIVE_TRIGGERS, LiveTriggers, LiveVersion
from services.segments import AssignmentService
from services.subscriptions import SUBSCRIPTIONS_TRAIT, SubscriptionService
from services.temporal import EnrollmentGateway
from services.uow import EnrollmentStart, UnitOfWork
from store.repositories.customers import CustomerRepository
from store.repositories.enrollments import EnrollmentRepository, EntryUnit, LatestEntry, NewEnrollment
from store.repositories.events import EventRepository, NewEvent
from store.repositories.identifiers import IdentifierRepository
from store.repositories.outbox import OutboxEntry, OutboxRepository
from store.repositories.triggers import TriggerRepository

START = "start"
SIGNAL = "signal"
_REQUEST_NAMESPACE = uuid.UUID("6b1f8a52-3c1e-4f57-9a53-0f1f5b0b7d21")


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


def request_id(workflow_id: str, what: str) -> str:
    """Deterministic per (workflow, start | event): Temporal recognises a redelivered signal by it."""
    return str(uuid.uuid5(_REQUEST_NAMESPACE, f"{workflow_id}|{what}"))


def start_entry(tenant_id: str, customer_id: str, start: EnrollmentStart) -> OutboxEntry:
    """The outbox row of a workflow start: the input without the definition (the dispatcher reads
    the published version, which never changes), so a row stays small whatever the journey's size."""
    payload = start.payload.model_dump(mode="json", exclude={"definition"})
    return OutboxEntry(
        tenant_id, customer_id, START, start.workflow_id, request_id(start.workflow_id, START), payload
    )


def signal_entry(tenant_id: str, customer_id: str, workflow_id: str, record: EventRecord) -> OutboxEntry:
    payload = EventSignal(event=record).model_dump(mode="json")
    return OutboxEntry(
        tenant_id, customer_id, SIGNAL, workflow_id, request_id(workflow_id, record.id), payload
    )


def _event_name(incoming: IncomingEvent) -> str:
    return (incoming.event or "") if incoming.type == "track" else incoming.type


def _properties(incoming: IncomingEvent) -> dict[str, Any]:
    properties = dict(incoming.properties)
    if incoming.type in ("page", "screen") and incoming.name and "name" not in properties:
        properties["name"] = incoming.name
    if incoming.type == "group" and incoming.group_id is not None:
        properties.setdefault("groupId", incoming.group_id)
    return properties


@dataclass
class _Call:
    """One new call of the batch while it is processed."""

    index: int
    incoming: IncomingEvent
    record: EventRecord
    customer_id: str
    anonymous: bool
    row_id: int
    started: list[NewEnrollment] = field(default_factory=list)
    # Starts asked for by segment entries (a re-issued start of a running enrollment included).
    segment_starts: list[EnrollmentStart] = field(default_factory=list)
    by_segment: list[uuid.UUID] = field(default_factory=list)
    segments_changed: int = 0
    signalled: int = 0


class IngestionService:
    def __init__(
        self, uow: UnitOfWork, gateway: EnrollmentGateway, *, live: LiveTriggers = LIVE_TRIGGERS
    ) -> None:
        self._uow = uow
        self._gateway = gateway
        self._live = live
        session = uow.session
        self._events = EventRepository(session)
        self._customers = CustomerRepository(session)
        self._identifiers = IdentifierRepository(session)
        self._enrollments = EnrollmentRepository(session)
        self._triggers = TriggerRepository(session)
        self._outbox = OutboxRepository(session)
        self._identity = CustomerIdentity(uow)
        self._assignments = AssignmentService(uow, gateway)
        # Entries made by events in this batch: the journey version and entry time of each.
        self._starts: dict[uuid.UUID, tuple[LiveVersion, datetime]] = {}

    async def ingest(
        self, tenant_id: str, events: Sequence[IncomingEvent], *, source_id: uuid.UUID | None = None
    ) -> list[EventOutcome]:
        now = datetime.now(UTC)
        message_ids = [e.message_id or f"srv-{uuid.uuid4()}" for e in events]
        first_of: dict[str, int] = {}
        for index, message_id in enumerate(message_ids):
            first_of.setdefault(message_id, index)
        ids = [
            CallIds(e.user_id, e.anonymous_id, e.previous_id if e.type == "alias" else None) for e in events
        ]
        who = await resolve_batch(self._identifiers, tenant_id, ids)
        unique = sorted(first_of.values())
        stored = [
            NewEvent(
                message_id=message_ids[i],
                type=events[i].type,
                customer_id=who[i].customer_id,
                user_id=events[i].user_id,
                anonymous_id=events[i].anonymous_id,
                session_id=events[i].session_id,
                name=_event_name(events[i]),
                properties=_properties(events[i]),
                traits=events[i].traits,
                context=events[i].context,
                extra=events[i].extra,
                timestamp=events[i].timestamp or now,
            )
            for i in unique
        ]
        new_rows = await self._events.insert_batch(tenant_id, stored, received_at=now, source_id=source_id)
        calls = [
            _Call(
                index=i,
                incoming=events[i],
                record=EventRecord(
                    id=row.message_id,
                    type=row.type,
                    name=row.name,
                    properties=row.properties,
                    traits=row.traits,
                    timestamp=row.timestamp,
                ),
                customer_id=row.customer_id,
                anonymous=who[i].anonymous,
                row_id=new_rows[row.message_id],
            )
            for i, row in zip(unique, stored, strict=True)
            if row.message_id in new_rows
        ]
        if calls:
            await self._settle_profiles(tenant_id, calls, ids, [who[c.index].merges for c in calls])
            await self._enter_by_event(tenant_id, calls, now)
            await self._evaluate_segments(tenant_id, calls)
            entries = await self._signals_and_starts(tenant_id, calls)
            await self._outbox.add(entries)
            await self._events.set_outcomes([(c.row_id, _stored_outcome(c)) for c in calls if _has_effect(c)])
        return await self._outcomes(tenant_id, message_ids, first_of, calls)

    # ---- profiles ----------------------------------------------------------------------------

    async def _settle_profiles(
        self, tenant_id: str, calls: list[_Call], ids: list[CallIds], merges: list[str | None]
    ) -> None:
        for call, merged in zip(calls, merges, strict=True):
            if merged is not None:
                await self._identity.merge(tenant_id, merged, call.customer_id)
        traits: dict[str, dict[str, Any]] = {}
        records: list[tuple[str, str, str]] = []
        for call in calls:
            incoming = call.incoming
            if incoming.traits and incoming.type != "group":
                traits.setdefault(call.customer_id, {}).update(incoming.traits)
            records.extend(identifier_records(call.customer_id, ids[call.index], incoming.traits))
        consent = _subscription_traits(calls, traits)
        await self._customers.ensure_many(
            tenant_id, [c.customer_id for c in calls if c.customer_id not in traits]
        )
        await self._customers.merge_traits_many(tenant_id, traits)
        await self._identifiers.record_many(tenant_id, records)
        if consent:
            await SubscriptionService(self._uow).apply_traits(tenant_id, consent)

    # ---- entries -----------------------------------------------------------------------------

    async def _enter_by_event(self, tenant_id: str, calls: list[_Call], now: datetime) -> None:
        by_event = await self._live.event_journeys(self._uow.session, tenant_id)
        if not by_event:
            return
        # (call, journey, entry key): a keyed trigger enters per key value; a call without one does not.
        candidates: list[tuple[_Call, LiveVersion, str]] = []
        for call in calls:
            for journey in by_event.get(trigger_name(call.record), ()):
                trigger = journey.trigger
                if trigger.event is None or not matches(call.record, trigger.event, trigger.rules):
                    continue
                if call.anonymous and not journey.definition.settings.allow_anonymous:
                    continue
                entry_key = ""
                if trigger.entry_key is not None:
                    found = entry_key_of(trigger.entry_key, call.record)
                    if found is None:
                        continue
                    entry_key = found
                candidates.append((call, journey, entry_key))
        if not candidates:
            return
        locked = await self._triggers.lock_for_entry(tenant_id, [j.journey_id for _, j, _ in candidates])
        previous: dict[EntryUnit, LatestEntry] = await self._enrollments.latest_for_keys(
            tenant_id, [(j.journey_id, c.customer_id, k) for c, j, k in candidates]
        )
        planned: list[tuple[_Call, LiveVersion, NewEnrollment]] = []
        for call, journey, entry_key in candidates:
            status, live_version = locked.get(journey.journey_id, ("", 0))
            # A lifecycle change that committed after the trigger index was read wins.
            if not accepts_entries(status) or live_version != journey.version:
                continue
            # Entry rules per key: the same key waits for its enrollment to end, another enters beside it.
            unit = (journey.journey_id, call.customer_id, entry_key)
            before = previous.get(unit)
            if before is not None and before.status == "ACTIVE":
                continue
            if before is not None and reentry_refusal(
                journey.definition, before.completed_at, call.customer_id
            ):
                continue
            number = before.entry_number + 1 if before is not None else 1
            journey_key = str(journey.journey_id)
            entry = NewEnrollment(
                id=uuid.UUID(enrollment_id(tenant_id, journey_key, call.customer_id, number, entry_key)),
                journey_id=journey.journey_id,
                version=journey.version,
                customer_id=call.customer_id,
                entry_number=number,
                workflow_id=enrollment_workflow_id(
                    tenant_id, journey_key, call.customer_id, number, entry_key
                ),
                entry_message_id=call.record.id,
                entry_key=entry_key,
                entry_key_path=journey.trigger.entry_key if entry_key else None,
            )
            previous[unit] = LatestEntry(number, "ACTIVE", None)
            planned.append((call, journey, entry))
        created = await self._enrollments.insert_many(tenant_id, [p[2] for p in planned], now)
        for call, journey, entry in planned:
            if entry.id in created:
                call.started.append(entry)
                self._starts[entry.id] = (journey, now)

    async def _evaluate_segments(self, tenant_id: str, calls: list[_Call]) -> None:
        if not await self._assignments.evaluates_events(tenant_id):
            return
        # The starts segment entries ask for go to the outbox with the batch's (`_signals_and_starts`).
        with self._uow.holding_starts() as held:
            for call in calls:
                incoming = call.incoming
                before, entered_before = len(held), len(self._assignments.entered)
                call.segments_changed = await self._assignments.evaluate_event(
                    tenant_id,
                    call.customer_id,
                    incoming.session_id,
                    call.record.name,
                    event_fields(call.record.properties, incoming.traits, incoming.context),
                    incoming.context,
                    anonymous=call.anonymous,
                )
                call.segment_starts = held[before:]
                call.by_segment = [row.id for row in self._assignments.entered[entered_before:]]

    # ---- outbox ------------------------------------------------------------------------------

    async def _signals_and_starts(self, tenant_id: str, calls: list[_Call]) -> list[OutboxEntry]:
        """The outbox rows in call order: an enrollment's start precedes the signals of later calls."""
        active = await self._enrollments.active_of_customers(tenant_id, [c.customer_id for c in calls])
        started_by: dict[str, int] = {}
        for call in calls:
            for workflow_id in [s.workflow_id for s in call.started] + [
                s.workflow_id for s in call.segment_starts
            ]:
                started_by.setdefault(workflow_id, call.index)
        entries: list[OutboxEntry] = []
        for call in calls:
            starts = [self._enrollment_start(tenant_id, call, s) for s in call.started] + call.segment_starts
            entries.extend(start_entry(tenant_id, call.customer_id, start) for start in starts)
            document: dict[str, Any] | None = None  # the call as keyed enrollments read it, built once
            for enrollment in active:
                if enrollment.customer_id != call.customer_id:
                    continue
                # Only enrollments that exist by this call's turn: started before the batch, or by an
                # earlier call of it (a call's own entries got it as their trigger event).
                if started_by.get(enrollment.workflow_id, -1) >= call.index:
                    continue
                # A keyed enrollment hears a call with its key value, or with none at its path.
                if enrollment.entry_key_path is not None and enrollment.entry_key:
                    document = document if document is not None else event_document(call.record)
                    if not reaches(enrollment.entry_key_path, enrollment.entry_key, document):
                        continue
                entries.append(signal_entry(tenant_id, call.customer_id, enrollment.workflow_id, call.record))
                call.signalled += 1
        return entries

    def _enrollment_start(self, tenant_id: str, call: _Call, started: NewEnrollment) -> EnrollmentStart:
        journey, enrolled_at = self._starts[started.id]
        payload = EnrollmentInput(
            tenant_id=tenant_id,
            journey_id=str(started.journey_id),
            journey_name=journey.name,
            version=started.version,
            customer_id=started.customer_id,
            entry_number=started.entry_number,
            enrollment_id=str(started.id),
            enrolled_at=enrolled_at,
            definition=journey.definition,
            trigger_event=call.record,
        )
        return EnrollmentStart(started.workflow_id, payload)

    # ---- answers -----------------------------------------------------------------------------

    async def _outcomes(
        self, tenant_id: str, message_ids: list[str], first_of: dict[str, int], calls: list[_Call]
    ) -> list[EventOutcome]:
        fresh = {message_ids[c.index]: c for c in calls}
        earlier = await self._events.stored_outcomes(tenant_id, [m for m in first_of if m not in fresh])
        outcomes: list[EventOutcome] = []
        for index, message_id in enumerate(message_ids):
            call = fresh.get(message_id)
            if call is not None:
                outcomes.append(
                    EventOutcome(
                        message_id=message_id,
                        customer_id=call.customer_id,
                        enrolled=_enrolled(call),
                        signalled=call.signalled,
                        segments_changed=call.segments_changed,
                        duplicate=index != call.index,
                    )
                )
                continue
            customer_id, stored = earlier.get(message_id, ("", {}))
            outcomes.append(
                EventOutcome(
                    message_id=message_id,
                    customer_id=str(stored.get("customerId", customer_id)),
                    enrolled=int(stored.get("enrolled", 0)),
                    signalled=int(stored.get("signalled", 0)),
                    segments_changed=int(stored.get("segmentsChanged", 0)),
                    duplicate=True,
                )
            )
        return outcomes


def _subscription_traits(calls: list[_Call], traits: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Identify traits' `subscriptions` ({"<group id or name>": bool}) per customer, in call order; the
    key is taken out of the traits to merge (consent lives in customer_subscriptions, not in traits)."""
    found: dict[str, dict[str, Any]] = {}
    for call in calls:
        wanted = call.incoming.traits.get(SUBSCRIPTIONS_TRAIT) if call.incoming.type == "identify" else None
        if isinstance(wanted, dict):
            found.setdefault(call.customer_id, {}).update(wanted)
    for customer_id in found:
        merged = traits.get(customer_id)
        if merged is not None:
            merged.pop(SUBSCRIPTIONS_TRAIT, None)
            if not merged:
                del traits[customer_id]
    return found


def _enrolled(call: _Call) -> int:
    return len(call.started) + len(call.by_segment)


def _has_effect(call: _Call) -> bool:
    return bool(_enrolled(call) or call.signalled or call.segments_changed)


def _stored_outcome(call: _Call) -> dict[str, Any]:
    """What a resend answers (a call with no effect stores nothing: its answer is all zeros)."""
    return {
        "customerId": call.customer_id,
        "enrolled": _enrolled(call),
        "signalled": call.signalled,
        "segmentsChanged": call.segments_changed,
        "eventEnrollmentIds": [str(s.id) for s in call.started],
        "segmentEnrollmentIds": [str(i) for i in call.by_segment],
    }
