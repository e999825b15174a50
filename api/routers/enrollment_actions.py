"""/v1/journeys/{journeyId}/enrollments/{enrollmentId}/actions: an operator steers one enrollment."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request

from api.auth import Principal
from api.deps import Resources, Uow, parse_id, require
from api.schemas.enrollment_actions import EnrollmentActionIn, EnrollmentStateOut
from services.enrollment_actions import EnrollmentActionService

router = APIRouter(prefix="/v1/journeys/{journeyId}/enrollments", tags=["enrollments"])


@router.post(
    "/{enrollmentId}/actions",
    response_model=EnrollmentStateOut,
    responses={
        409: {
            "description": "The action does not apply now (e.g. skipWait while not waiting), or the "
            "enrollment has ended; `detail` says why"
        },
        422: {"description": "An unknown action, a missing `until`/`nodeId`, or a node the version lacks"},
    },
)
async def act_on_enrollment(
    journeyId: str,  # noqa: N803
    enrollmentId: str,  # noqa: N803
    body: EnrollmentActionIn,
    request: Request,
    uow: Uow,
    res: Resources,
    principal: Annotated[Principal, Depends(require("journey:enrollment:edit"))],
) -> EnrollmentStateOut:
    """skipWait, setWait, moveTo, exit, pause or resume one running enrollment, as a validated Temporal
    Update on its workflow: refused (409) before anything is written when it does not apply now. Answers
    with the enrollment's state after it; the audit log and the enrollment's timeline keep who, what and
    why."""
    request.state.audit_detail = body.audit_detail()  # for the audit log (api/audit.py)
    view = await EnrollmentActionService(uow, res.gateway).act(
        principal.tenant_id,
        parse_id(journeyId, "journey"),
        parse_id(enrollmentId, "enrollment"),
        body.command(principal.subject),
    )
    return EnrollmentStateOut.of(view)
