"""Journey authoring and lifecycle use cases."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

from domain.definition import JourneyDefinition
from domain.errors import ConflictError, InvalidInputError, NotFoundError
from domain.lifecycle import ALLOWED_FROM, LifecycleAction, allowed_actions
from domain.validation import validate_for_publish
from services.uow import UnitOfWork
from store.repositories.enrollments import EnrollmentRepository
from store.repositories.journeys import JourneyRepository
from store.repositories.pagination import Page, PageRequest
from store.rows import JourneyRow, JourneyVersionRow


@dataclass(frozen=True)
class NewJourney:
    name: str
    description: str | None
    site_id: str | None
    definition: JourneyDefinition


@dataclass(frozen=True)
class JourneyTotals:
    enrolled: int
    active: int
    completed: int
    exited: int
    failed: int
    converted: int


def definition_of(row: JourneyRow) -> JourneyDefinition:
    return JourneyDefinition.model_validate(row.draft)


def _trigger_type(definition: JourneyDefinition) -> str | None:
    try:
        return definition.trigger().config.trigger_type
    except KeyError:
        return None


def _require_transition(row: JourneyRow, action: LifecycleAction) -> None:
    if row.status not in ALLOWED_FROM[action]:
        allowed = ", ".join(allowed_actions(row.status)) or "none"
        raise ConflictError(
            f"cannot {action} a journey in status {row.status}; allowed from {row.status}: {allowed}"
        )


class JourneyService:
    def __init__(self, uow: UnitOfWork) -> None:
        self._uow = uow
        self._journeys = JourneyRepository(uow.session)
        self._enrollments = EnrollmentRepository(uow.session)

    async def create(self, tenant_id: str, new: NewJourney) -> JourneyRow:
        now = datetime.now(UTC)
        row = JourneyRow(
            id=uuid.uuid4(),
            tenant_id=tenant_id,
            name=new.name,
            description=new.description,
            site_id=new.site_id,
            status="DRAFT",
            trigger_type=_trigger_type(new.definition),
            draft=new.definition.model_dump(mode="json"),
            version=0,
            created_at=now,
            updated_at=now,
        )
        await self._journeys.add(row)
        return row

    async def get(self, tenant_id: str, journey_id: uuid.UUID) -> JourneyRow:
        row = await self._journeys.get(tenant_id, journey_id)
        if row is None:
            raise NotFoundError("journey", str(journey_id))
        return row

    async def list(
        self,
        tenant_id: str,
        page: PageRequest,
        *,
        status: str | None = None,
        site_id: str | None = None,
        trigger_type: str | None = None,
        text: str | None = None,
    ) -> Page[JourneyRow]:
        return await self._journeys.list(
            tenant_id, page, status=status, site_id=site_id, trigger_type=trigger_type, text=text
        )

    async def totals(self, tenant_id: str, journey_id: uuid.UUID) -> JourneyTotals:
        counts = await self._enrollments.counts_by_status(tenant_id, journey_id)
        by_status = {k: v for k, v in counts.items() if k != "CONVERTED"}
        return JourneyTotals(
            enrolled=sum(by_status.values()),
            active=by_status.get("ACTIVE", 0),
            completed=by_status.get("COMPLETED", 0),
            exited=by_status.get("EXITED", 0),
            failed=by_status.get("FAILED", 0),
            converted=counts.get("CONVERTED", 0),
        )

    async def publish(self, tenant_id: str, journey_id: uuid.UUID) -> JourneyRow:
        """Freeze the draft as the next immutable version; new entries take it from now on."""
        row = await self._journeys.get(tenant_id, journey_id, for_update=True)
        if row is None:
            raise NotFoundError("journey", str(journey_id))
        _require_transition(row, "publish")
        definition = definition_of(row)
        issues = validate_for_publish(definition)
        if issues:
            raise InvalidInputError(issues, detail="the journey graph is not publishable")
        now = datetime.now(UTC)
        row.version += 1
        await self._journeys.add_version(
            JourneyVersionRow(
                journey_id=row.id,
                version=row.version,
                tenant_id=tenant_id,
                definition=definition.model_dump(mode="json"),
                published_at=now,
            )
        )
        row.status = "PUBLISHED"
        row.published_at = now
        row.updated_at = now
        await self._uow.session.flush()
        return row

    async def live_version(self, row: JourneyRow) -> JourneyVersionRow:
        version = await self._journeys.get_version(row.id, row.version)
        if version is None:
            raise ConflictError(f"journey {row.id} has no published version")
        return version
