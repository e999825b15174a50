"""Entering customers into journeys because something happened: an event, a segment entry, a schedule.

Every entry goes through `EnrollmentService.enroll` (status, re-entry and cooldown rules); an entry those
rules refuse is not an error here, just not made. A journey whose settings keep anonymous customers out
(`allowAnonymous` false, the default) never enters a customer known only by an anonymousId. An EVENT
trigger with `entryKey` enters per key value (`domain.entry_keys`); an event without one does not enter.
Event ingestion decides a batch's event entries itself (`services.ingestion`), by the same rules.
"""

from __future__ import annotations

import uuid

from domain.definition import JourneyDefinition
from domain.entry_keys import entry_key_of
from domain.errors import ConflictError
from domain.events import EventRecord, matches
from services.enrollments import EnrollmentService
from services.live_journeys import LiveVersion
from services.temporal import EnrollmentGateway
from services.uow import UnitOfWork
from store.repositories.triggers import TriggerRepository
from store.rows import EnrollmentRow


def trigger_name(event: EventRecord) -> str:
    """The trigger `event` an event answers to: its name for track, `page` / `identify` otherwise."""
    return event.name if event.type == "track" else event.type


class JourneyEntries:
    def __init__(self, uow: UnitOfWork, gateway: EnrollmentGateway) -> None:
        self._enrollments = EnrollmentService(uow, gateway)
        self._triggers = TriggerRepository(uow.session)
        # Live journeys per (tenant, trigger), read and parsed once per unit of work (a batch asks many
        # times); each entry hands its parsed version on, so entering reads and parses nothing again.
        self._journeys: dict[tuple[str, str, str], list[LiveVersion]] = {}

    async def _live(self, tenant_id: str, trigger_type: str, key: str, value: str) -> list[LiveVersion]:
        cache_key = (tenant_id, trigger_type, value)
        if cache_key not in self._journeys:
            found = await self._triggers.published_with_trigger(
                tenant_id, {"triggerType": trigger_type, key: value}
            )
            self._journeys[cache_key] = [
                LiveVersion(
                    journey.id,
                    version.version,
                    journey.name,
                    JourneyDefinition.model_validate(version.definition),
                )
                for journey, version in found
            ]
        return self._journeys[cache_key]

    async def enter(
        self,
        tenant_id: str,
        journey: LiveVersion,
        customer_id: str,
        *,
        anonymous: bool,
        trigger_event: EventRecord | None = None,
    ) -> EnrollmentRow | None:
        """The new enrollment, or None when the customer did not enter (rules, or already in it; an
        event without a key value for a keyed trigger)."""
        if anonymous and not journey.definition.settings.allow_anonymous:
            return None
        path, entry_key = journey.trigger.entry_key, ""
        if path is not None and trigger_event is not None:
            found = entry_key_of(path, trigger_event)
            if found is None:
                return None
            entry_key = found
        try:
            outcome = await self._enrollments.enroll(
                tenant_id,
                journey,
                customer_id,
                trigger_event=trigger_event,
                entry_key=entry_key,
                entry_key_path=path,
            )
        except ConflictError:
            return None
        return outcome.enrollment if outcome.created else None

    async def on_event(
        self, tenant_id: str, customer_id: str, event: EventRecord, *, anonymous: bool
    ) -> list[EnrollmentRow]:
        """Enter every published journey whose EVENT trigger matches (name and rules)."""
        entered: list[EnrollmentRow] = []
        for journey in await self._live(tenant_id, "EVENT", "event", trigger_name(event)):
            trigger = journey.trigger
            if trigger.event is None or not matches(event, trigger.event, trigger.rules):
                continue
            row = await self.enter(tenant_id, journey, customer_id, anonymous=anonymous, trigger_event=event)
            if row is not None:
                entered.append(row)
        return entered

    async def on_segment_entry(
        self, tenant_id: str, customer_id: str, segment_id: uuid.UUID, *, anonymous: bool
    ) -> list[EnrollmentRow]:
        """Enter every published journey whose AUDIENCE trigger is this segment."""
        entered: list[EnrollmentRow] = []
        for journey in await self._live(tenant_id, "AUDIENCE", "segmentId", str(segment_id)):
            row = await self.enter(tenant_id, journey, customer_id, anonymous=anonymous)
            if row is not None:
                entered.append(row)
        return entered
