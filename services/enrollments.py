"""Entering customers into journeys, and reading where they are."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

from domain.definition import JourneyDefinition
from domain.durations import parse_duration
from domain.errors import ConflictError, NotFoundError
from domain.events import EventRecord
from domain.ids import enrollment_id, enrollment_workflow_id
from domain.lifecycle import accepts_entries
from domain.payloads import SIGNAL_EXIT, ControlSignal, EnrollmentInput, EnrollmentStateView
from domain.step_order import in_path_order
from services.journeys import JourneyService
from services.live_journeys import LiveVersion
from services.temporal import EnrollmentGateway
from services.uow import EnrollmentStart, UnitOfWork
from store.repositories.customers import CustomerRepository
from store.repositories.enrollments import EnrollmentRepository
from store.repositories.pagination import Page, PageRequest
from store.rows import EnrollmentRow, EnrollmentStepRow, JourneyRow


@dataclass(frozen=True)
class EntryOutcome:
    enrollment: EnrollmentRow
    created: bool


@dataclass(frozen=True)
class EnrollmentDetail:
    enrollment: EnrollmentRow
    steps: list[EnrollmentStepRow]
    live: EnrollmentStateView | None
    temporal_url: str


def reentry_refusal(
    definition: JourneyDefinition, previous_completed_at: datetime | None, customer_id: str
) -> str | None:
    """Why a customer who went through the journey before may not enter it again now (None: may)."""
    settings = definition.settings
    if not settings.allow_reentry:
        return f"customer {customer_id!r} already went through this journey and re-entry is off for it"
    if settings.reentry_cooldown and previous_completed_at is not None:
        allowed_from = previous_completed_at + parse_duration(settings.reentry_cooldown)
        if datetime.now(UTC) < allowed_from:
            return f"customer {customer_id!r} may re-enter from {allowed_from.isoformat()} (cooldown)"
    return None


def enrollment_input(
    row: EnrollmentRow,
    journey_name: str,
    definition: JourneyDefinition,
    trigger_event: EventRecord | None = None,
) -> EnrollmentInput:
    """The workflow input of the enrollment `row` records (a test run's carries its flag)."""
    return EnrollmentInput(
        tenant_id=row.tenant_id,
        journey_id=str(row.journey_id),
        journey_name=journey_name,
        version=row.version,
        customer_id=row.customer_id,
        entry_number=row.entry_number,
        enrollment_id=str(row.id),
        enrolled_at=row.enrolled_at,
        definition=definition,
        trigger_event=trigger_event,
        test=bool(row.test),
    )


class EnrollmentService:
    def __init__(self, uow: UnitOfWork, gateway: EnrollmentGateway) -> None:
        self._uow = uow
        self._gateway = gateway
        self._journeys = JourneyService(uow)
        self._enrollments = EnrollmentRepository(uow.session)
        self._customers = CustomerRepository(uow.session)
        # One instance serves one transaction: the journeys it holds FOR SHARE, the versions it parsed.
        self._locked: dict[uuid.UUID, JourneyRow] = {}
        self._definitions: dict[tuple[uuid.UUID, int], JourneyDefinition] = {}

    async def enroll(
        self,
        tenant_id: str,
        journey: uuid.UUID | LiveVersion,
        customer_id: str,
        *,
        trigger_event: EventRecord | None = None,
        entry_key: str = "",
        entry_key_path: str | None = None,
    ) -> EntryOutcome:
        """Enter a customer once; a retry of the same entry returns it instead of a second one.

        `journey`: its id, or the live version the caller already holds (a trigger lookup, an audience
        page), which is then not read and parsed again while it is still the live one.
        Re-entry: off → once ever; on → after the previous enrollment ended and its cooldown passed.
        A keyed entry (`entry_key`, read at the trigger's `entry_key_path`) applies these rules to the
        customer's enrollments with the same key only: another key enters in parallel.
        The journey's status is read at entry time, in this transaction.
        """
        journey_id = journey.journey_id if isinstance(journey, LiveVersion) else journey
        row = await self._locked_for_entry(tenant_id, journey_id)
        if not accepts_entries(row.status):
            raise ConflictError(f"journey {journey_id} is {row.status} and does not accept entries")
        if isinstance(journey, LiveVersion) and journey.version == row.version:
            live = journey.definition
        else:
            live = await self._definition(tenant_id, row, row.version)

        previous = await self._enrollments.latest_for_customer(tenant_id, journey_id, customer_id, entry_key)
        if previous is not None and previous.status == "ACTIVE":
            # Re-issued start (a retry, or a workflow lost with a restored Temporal database): the
            # enrollment keeps the version it entered on, even after a newer one was published.
            entered = (
                live
                if previous.version == row.version
                else await self._definition(tenant_id, row, previous.version)
            )
            self._start_after_commit(previous, row.name, entered, trigger_event)
            return EntryOutcome(previous, created=False)
        if previous is not None:
            self._check_reentry(live, previous, customer_id)

        entry_number = previous.entry_number + 1 if previous is not None else 1
        await self._customers.ensure_exists(tenant_id, customer_id)
        now = datetime.now(UTC)
        workflow_id = enrollment_workflow_id(tenant_id, str(journey_id), customer_id, entry_number, entry_key)
        new_id = uuid.UUID(enrollment_id(tenant_id, str(journey_id), customer_id, entry_number, entry_key))
        inserted = await self._enrollments.insert_if_absent(
            {
                "id": new_id,
                "tenant_id": tenant_id,
                "journey_id": journey_id,
                "version": row.version,
                "customer_id": customer_id,
                "entry_number": entry_number,
                "workflow_id": workflow_id,
                "status": "ACTIVE",
                "converted": False,
                "enrolled_at": now,
                "entry_key": entry_key,
                "entry_key_path": entry_key_path if entry_key else None,
            }
        )
        # Not inserted: a concurrent entry made the same one first; answer with it.
        enrollment = inserted or await self._enrollments.get(tenant_id, new_id)
        assert enrollment is not None
        self._start_after_commit(enrollment, row.name, live, trigger_event)
        return EntryOutcome(enrollment, created=inserted is not None)

    async def _locked_for_entry(self, tenant_id: str, journey_id: uuid.UUID) -> JourneyRow:
        """The journey row, held FOR SHARE until this transaction ends (read once per journey: while
        the lock is held no lifecycle change can commit, so its status and version stay as read)."""
        row = self._locked.get(journey_id)
        if row is None:
            row = await self._journeys.get(tenant_id, journey_id, for_share=True)
            self._locked[journey_id] = row
        return row

    async def _definition(self, tenant_id: str, row: JourneyRow, version: int) -> JourneyDefinition:
        """Version `version` of the journey, read and parsed once per unit of work."""
        key = (row.id, version)
        definition = self._definitions.get(key)
        if definition is None:
            stored = (
                await self._journeys.live_version(row)
                if version == row.version
                else await self._journeys.version(tenant_id, row.id, version)
            )
            definition = JourneyDefinition.model_validate(stored.definition)
            self._definitions[key] = definition
        return definition

    @staticmethod
    def _check_reentry(definition: JourneyDefinition, previous: EnrollmentRow, customer_id: str) -> None:
        refusal = reentry_refusal(definition, previous.completed_at, customer_id)
        if refusal is not None:
            raise ConflictError(refusal)

    async def exit_customer(self, tenant_id: str, journey_id: uuid.UUID, customer_id: str) -> None:
        """Exit the customer's open enrollments at once (even mid-wait; a keyed journey may hold one per
        key value); finished ones stay as they are."""
        await self._journeys.get(tenant_id, journey_id)
        rows = await self._enrollments.active_in_journey(tenant_id, journey_id, customer_id)
        if not rows and not await self._enrollments.customer_entered(tenant_id, journey_id, customer_id):
            raise NotFoundError("enrollment of customer", customer_id)
        gateway = self._gateway
        for row in rows:
            workflow_id = row.workflow_id

            async def signal_exit(workflow_id: str = workflow_id) -> None:
                await gateway.signal(workflow_id, SIGNAL_EXIT, ControlSignal(reason="exited by API"))

            self._uow.after_commit(signal_exit, phase="signals")

    def _start_after_commit(
        self,
        row: EnrollmentRow,
        journey_name: str,
        definition: JourneyDefinition,
        trigger_event: EventRecord | None = None,
    ) -> None:
        payload = enrollment_input(row, journey_name, definition, trigger_event)
        self._uow.start_enrollment(EnrollmentStart(row.workflow_id, payload), self._gateway)

    async def list_for_journey(
        self,
        tenant_id: str,
        journey_id: uuid.UUID,
        page: PageRequest,
        status: str | None,
        converted: bool | None = None,
    ) -> Page[EnrollmentRow]:
        await self._journeys.get(tenant_id, journey_id)
        return await self._enrollments.list_for_journey(
            tenant_id, journey_id, page, status=status, converted=converted
        )

    async def detail(
        self, tenant_id: str, journey_id: uuid.UUID, enrollment_uuid: uuid.UUID
    ) -> EnrollmentDetail:
        row = await self._enrollments.get(tenant_id, enrollment_uuid)
        if row is None or row.journey_id != journey_id:
            raise NotFoundError("enrollment", str(enrollment_uuid))
        edges = (await self._journeys.enrollment_definition(tenant_id, journey_id, row.version)).edges
        steps = in_path_order(await self._enrollments.steps(tenant_id, enrollment_uuid), edges)
        live = await self._gateway.live_state(row.workflow_id) if row.status == "ACTIVE" else None
        return EnrollmentDetail(row, steps, live, self._gateway.workflow_url(row.workflow_id))
