"""/v1/journeys/{journeyId}/enrollments/{enrollmentId}/timeline: what happened to one enrollment, and why."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends

from api.auth import Principal
from api.deps import Uow, parse_id, require
from api.schemas.timeline import TimelineOut
from services.timeline import TimelineService

router = APIRouter(prefix="/v1/journeys/{journeyId}/enrollments", tags=["enrollments"])


@router.get("/{enrollmentId}/timeline", response_model=TimelineOut)
async def enrollment_timeline(
    journeyId: str,  # noqa: N803
    enrollmentId: str,  # noqa: N803
    uow: Uow,
    principal: Annotated[Principal, Depends(require("journey:enrollment:view"))],
) -> TimelineOut:
    """The enrollment's timeline in time order: its steps (CONDITION, SPLIT and GOAL_CHECK steps with how
    they decided), the events it received, its messages, operator actions on it (from the audit log) and
    its waits (deadline and zone). Another tenant's enrollment is a 404."""
    timeline = await TimelineService(uow).timeline(
        principal.tenant_id, parse_id(journeyId, "journey"), parse_id(enrollmentId, "enrollment")
    )
    return TimelineOut.build(timeline)
