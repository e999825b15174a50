"""Entering customers into journeys, and reading where they are."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

from domain.definition import JourneyDefinition
from domain.errors import ConflictError, NotFoundError
from domain.ids import enrollment_id, enrollment_workflow_id
from domain.lifecycle import accepts_entries
from domain.payloads import EnrollmentInput, EnrollmentStateView
from services.journeys import JourneyService
from services.temporal import EnrollmentGateway
from services.uow import UnitOfWork
from store.repositories.customers import CustomerRepository
from store.repositories.enrollments import EnrollmentRepository
from store.repositories.pagination import Page, PageRequest
from store.rows import EnrollmentRow, EnrollmentStepRow


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


class EnrollmentService:
    def __init__(self, uow: UnitOfWork, gateway: EnrollmentGateway) -> None:
        self._uow = uow
        self._gateway = gateway
        self._journeys = JourneyService(uow)
        self._enrollments = EnrollmentRepository(uow.session)
        self._customers = CustomerRepository(uow.session)

    async def enroll(self, tenant_id: str, journey_id: uuid.UUID, customer_id: str) -> EntryOutcome:
        """Enter a customer once; a retry of the same entry returns it instead of a second one."""
        journey = await self._journeys.get(tenant_id, journey_id)
        if not accepts_entries(journey.status):
            raise ConflictError(f"journey {journey_id} is {journey.status} and does not accept entries")
        version = await self._journeys.live_version(journey)
        definition = JourneyDefinition.model_validate(version.definition)

        previous = await self._enrollments.latest_for_customer(tenant_id, journey_id, customer_id)
        if previous is not None and previous.status == "ACTIVE":
            self._start_after_commit(previous, journey.name, definition)
            return EntryOutcome(previous, created=False)
        if previous is not None and not definition.settings.allow_reentry:
            raise ConflictError(
                f"customer {customer_id!r} already went through journey {journey_id} "
                "and re-entry is off for it"
            )

        entry_number = previous.entry_number + 1 if previous is not None else 1
        await self._customers.ensure_exists(tenant_id, customer_id)
        now = datetime.now(UTC)
        workflow_id = enrollment_workflow_id(tenant_id, str(journey_id), customer_id, entry_number)
        new_id = uuid.UUID(enrollment_id(tenant_id, str(journey_id), customer_id, entry_number))
        inserted = await self._enrollments.insert_if_absent(
            {
                "id": new_id,
                "tenant_id": tenant_id,
                "journey_id": journey_id,
                "version": version.version,
                "customer_id": customer_id,
                "entry_number": entry_number,
                "workflow_id": workflow_id,
                "status": "ACTIVE",
                "converted": False,
                "enrolled_at": now,
            }
        )
        row = await self._enrollments.get(tenant_id, new_id)
        assert row is not None
        self._start_after_commit(row, journey.name, definition)
        return EntryOutcome(row, created=inserted)

    def _start_after_commit(
        self, row: EnrollmentRow, journey_name: str, definition: JourneyDefinition
    ) -> None:
        payload = EnrollmentInput(
            tenant_id=row.tenant_id,
            journey_id=str(row.journey_id),
            journey_name=journey_name,
            version=row.version,
            customer_id=row.customer_id,
            entry_number=row.entry_number,
            enrollment_id=str(row.id),
            enrolled_at=row.enrolled_at,
            definition=definition,
        )

        async def start() -> None:
            await self._gateway.start(row.workflow_id, payload)

        self._uow.after_commit(start)

    async def list_for_journey(
        self, tenant_id: str, journey_id: uuid.UUID, page: PageRequest, status: str | None
    ) -> Page[EnrollmentRow]:
        await self._journeys.get(tenant_id, journey_id)
        return await self._enrollments.list_for_journey(tenant_id, journey_id, page, status=status)

    async def detail(
        self, tenant_id: str, journey_id: uuid.UUID, enrollment_uuid: uuid.UUID
    ) -> EnrollmentDetail:
        row = await self._enrollments.get(tenant_id, enrollment_uuid)
        if row is None or row.journey_id != journey_id:
            raise NotFoundError("enrollment", str(enrollment_uuid))
        steps = await self._enrollments.steps(tenant_id, enrollment_uuid)
        live = await self._gateway.live_state(row.workflow_id) if row.status == "ACTIVE" else None
        return EnrollmentDetail(row, steps, live, self._gateway.workflow_url(row.workflow_id))
