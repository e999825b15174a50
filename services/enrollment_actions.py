"""An operator's action on one running enrollment: checked against its version, carried as a Temporal
Update (`domain.actions`), answered with the enrollment's state after it."""

from __future__ import annotations

import uuid

from domain.actions import EnrollmentAction, action_problems
from domain.errors import ConflictError, FieldIssue, InvalidInputError, NotFoundError
from domain.payloads import UPDATE_ACTION, EnrollmentStateView
from services.journeys import JourneyService
from services.temporal import EnrollmentGateway
from services.uow import UnitOfWork
from store.repositories.enrollments import EnrollmentRepository


class EnrollmentActionService:
    def __init__(self, uow: UnitOfWork, gateway: EnrollmentGateway) -> None:
        self._enrollments = EnrollmentRepository(uow.session)
        self._journeys = JourneyService(uow)
        self._gateway = gateway

    async def act(
        self, tenant_id: str, journey_id: uuid.UUID, enrollment_id: uuid.UUID, action: EnrollmentAction
    ) -> EnrollmentStateView:
        """422 for what is wrong whatever the enrollment's state (a node its version does not have); 409
        when the action does not apply now (the workflow's validator says why, before anything is written)
        or the enrollment has ended."""
        row = await self._enrollments.get(tenant_id, enrollment_id)
        if row is None or row.journey_id != journey_id:
            raise NotFoundError("enrollment", str(enrollment_id))
        if row.status != "ACTIVE":
            raise ConflictError(f"the enrollment has ended ({row.status})")
        definition = await self._journeys.enrollment_definition(tenant_id, journey_id, row.version)
        problems = action_problems(definition, action)
        if problems:
            raise InvalidInputError([FieldIssue(("body", field), message) for field, message in problems])
        return await self._gateway.update(row.workflow_id, UPDATE_ACTION, action)
