"""Test customers: a journey's draft (or a published version) run for real for chosen customers.

`POST /v1/journeys/{id}/tests` enrolls each customer as a test run: an enrollment flagged `test`, with
its own entry numbers and workflow ids (`enrollment-test:…`), started through the same after-commit
gateway path as a real entry. Its sends and waits are real (`speed` shortens fixed waits); it counts in
no total, analytics or aggregate, and entry rules of real entries never see it. docs/simulation.md.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal

from domain.definition import JourneyDefinition
from domain.errors import ConflictError, InvalidInputError, NotFoundError
from domain.ids import enrollment_id_for_test, workflow_id_for_test
from domain.payloads import SIGNAL_EXIT, ControlSignal
from domain.speed import hastened
from services.enrollments import EntryOutcome, enrollment_input
from services.journeys import JourneyService
from services.temporal import EnrollmentGateway
from services.uow import EnrollmentStart, UnitOfWork
from store.repositories.customers import CustomerRepository
from store.repositories.enrollments import EnrollmentRepository
from store.repositories.pagination import Page, PageRequest
from store.rows import EnrollmentRow, JourneyRow

# The version a test run of the draft records: the draft has no number (its definition rides in the input).
DRAFT_VERSION = 0
MAX_TEST_CUSTOMERS = 100
TEST_STOPPED = "test stopped"


@dataclass(frozen=True)
class CustomerTestSpec:
    customer_ids: list[str]
    version: int | Literal["draft"] = "draft"
    speed: int = 1


class CustomerTestService:
    def __init__(self, uow: UnitOfWork, gateway: EnrollmentGateway) -> None:
        self._uow = uow
        self._gateway = gateway
        self._journeys = JourneyService(uow)
        self._enrollments = EnrollmentRepository(uow.session)
        self._customers = CustomerRepository(uow.session)

    async def start(
        self, tenant_id: str, journey_id: uuid.UUID, spec: CustomerTestSpec
    ) -> list[EntryOutcome]:
        """Start a test run for each customer (in the order given, once each). A customer whose previous
        test run of the journey is still ACTIVE gets that one back (a retried POST starts nothing new)."""
        row = await self._journeys.get(tenant_id, journey_id, for_share=True)
        if row.status == "ARCHIVED":
            raise ConflictError(f"journey {journey_id} is ARCHIVED; restore it to test it")
        definition, version = await self._definition(tenant_id, row, spec.version)
        definition = hastened(definition, spec.speed)
        outcomes: list[EntryOutcome] = []
        for customer_id in dict.fromkeys(spec.customer_ids):
            outcomes.append(await self._start_one(tenant_id, row, version, definition, customer_id))
        return outcomes

    async def _definition(
        self, tenant_id: str, row: JourneyRow, asked: int | Literal["draft"]
    ) -> tuple[JourneyDefinition, int]:
        if asked == "draft":
            draft = JourneyDefinition.model_validate(row.draft)
            # What publishing it would answer: a test runs only what could be published.
            problems = await self._journeys.publish_problems(tenant_id, draft)
            if problems:
                raise InvalidInputError(problems, detail="the draft is not publishable")
            return draft, DRAFT_VERSION
        stored = await self._journeys.version(tenant_id, row.id, asked)
        return JourneyDefinition.model_validate(stored.definition), asked

    async def _start_one(
        self,
        tenant_id: str,
        journey: JourneyRow,
        version: int,
        definition: JourneyDefinition,
        customer_id: str,
    ) -> EntryOutcome:
        previous = await self._enrollments.latest_for_customer(tenant_id, journey.id, customer_id, test=True)
        if previous is not None and previous.status == "ACTIVE":
            # Re-issued start: a no-op for a running workflow (USE_EXISTING), a restart for a lost one.
            self._start_after_commit(previous, journey.name, definition)
            return EntryOutcome(previous, created=False)
        number = previous.entry_number + 1 if previous is not None else 1
        await self._customers.ensure_exists(tenant_id, customer_id)
        new_id = uuid.UUID(enrollment_id_for_test(tenant_id, str(journey.id), customer_id, number))
        inserted = await self._enrollments.insert_if_absent(
            {
                "id": new_id,
                "tenant_id": tenant_id,
                "journey_id": journey.id,
                "version": version,
                "customer_id": customer_id,
                "entry_number": number,
                "workflow_id": workflow_id_for_test(tenant_id, str(journey.id), customer_id, number),
                "status": "ACTIVE",
                "converted": False,
                "enrolled_at": datetime.now(UTC),
                "entry_key": "",
                "entry_key_path": None,
                "test": True,
            }
        )
        enrollment = inserted or await self._enrollments.get(tenant_id, new_id)
        assert enrollment is not None
        self._start_after_commit(enrollment, journey.name, definition)
        return EntryOutcome(enrollment, created=inserted is not None)

    def _start_after_commit(
        self, row: EnrollmentRow, journey_name: str, definition: JourneyDefinition
    ) -> None:
        payload = enrollment_input(row, journey_name, definition)
        self._uow.start_enrollment(EnrollmentStart(row.workflow_id, payload), self._gateway)

    async def list_for_journey(
        self, tenant_id: str, journey_id: uuid.UUID, page: PageRequest
    ) -> Page[EnrollmentRow]:
        """The journey's test runs, newest first."""
        await self._journeys.get(tenant_id, journey_id)
        return await self._enrollments.list_for_journey(tenant_id, journey_id, page, test=True)

    async def stop(self, tenant_id: str, journey_id: uuid.UUID, enrollment_id: uuid.UUID) -> None:
        """Exit a test run now (reason "test stopped"); one that already ended stays as it is."""
        row = await self._enrollments.get(tenant_id, enrollment_id)
        if row is None or row.journey_id != journey_id or not row.test:
            raise NotFoundError("test enrollment", str(enrollment_id))
        if row.status != "ACTIVE":
            return
        gateway, workflow_id = self._gateway, row.workflow_id

        async def signal_exit() -> None:
            await gateway.signal(workflow_id, SIGNAL_EXIT, ControlSignal(reason=TEST_STOPPED))

        self._uow.after_commit(signal_exit, phase="signals")
