"""/v1/journeys/{journeyId}/enrollments: entering customers and following them."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query, Response, status

from api.auth import Principal
from api.deps import OffsetPaging, Resources, Uow, parse_id, require
from api.schemas.common import PageMeta, PageOut
from api.schemas.enrollments import EnrollmentDetailOut, EnrollmentOut, EnrollRequest
from services.enrollments import EnrollmentService

router = APIRouter(prefix="/v1/journeys/{journeyId}/enrollments", tags=["enrollments"])


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=EnrollmentOut,
    responses={200: {"description": "The customer's open enrollment already existed (a retry)"}},
)
async def enroll_customer(
    journeyId: str,  # noqa: N803
    body: EnrollRequest,
    uow: Uow,
    res: Resources,
    response: Response,
    principal: Annotated[Principal, Depends(require("journey:enrollment:add"))],
) -> EnrollmentOut:
    """Enter the customer into the PUBLISHED journey now, on its latest version (one Temporal workflow).
    201 for a new enrollment; 200 with the same one when the customer's open enrollment exists (a retry
    is safe)."""
    outcome = await EnrollmentService(uow, res.gateway).enroll(
        principal.tenant_id, parse_id(journeyId, "journey"), body.customer_id
    )
    if not outcome.created:
        response.status_code = status.HTTP_200_OK
    return EnrollmentOut.build(outcome.enrollment)


@router.get("", response_model=PageOut[EnrollmentOut])
async def list_enrollments(
    journeyId: str,  # noqa: N803
    uow: Uow,
    res: Resources,
    paging: OffsetPaging,
    principal: Annotated[Principal, Depends(require("journey:enrollment:view"))],
    status_filter: Annotated[
        Literal["ACTIVE", "COMPLETED", "EXITED", "FAILED"] | None, Query(alias="status")
    ] = None,
    converted: Annotated[
        bool | None,
        Query(description="Only enrollments that reached (true) or did not reach (false) the goal"),
    ] = None,
) -> PageOut[EnrollmentOut]:
    """The journey's enrollments, newest first; paged by `page`/`limit` or seed 004's `skip`/`take`."""
    page = await EnrollmentService(uow, res.gateway).list_for_journey(
        principal.tenant_id, parse_id(journeyId, "journey"), paging, status_filter, converted
    )
    return PageOut[EnrollmentOut](
        data=[EnrollmentOut.build(row) for row in page.items], meta=PageMeta.of(page.total, paging)
    )


@router.get("/{enrollmentId}", response_model=EnrollmentDetailOut)
async def get_enrollment(
    journeyId: str,  # noqa: N803
    enrollmentId: str,  # noqa: N803
    uow: Uow,
    res: Resources,
    principal: Annotated[Principal, Depends(require("journey:enrollment:view"))],
) -> EnrollmentDetailOut:
    """One enrollment: its step history, the running workflow's own answer (`live`, when it is running)
    and a link into the Temporal UI."""
    detail = await EnrollmentService(uow, res.gateway).detail(
        principal.tenant_id, parse_id(journeyId, "journey"), parse_id(enrollmentId, "enrollment")
    )
    return EnrollmentDetailOut.from_detail(detail)


@router.delete("/{customerId}", status_code=status.HTTP_204_NO_CONTENT)
async def exit_customer(
    journeyId: str,  # noqa: N803
    customerId: str,  # noqa: N803
    uow: Uow,
    res: Resources,
    principal: Annotated[Principal, Depends(require("journey:enrollment:delete"))],
) -> Response:
    """Exit the customer from the journey now, even mid-wait (their enrollment ends as EXITED)."""
    await EnrollmentService(uow, res.gateway).exit_customer(
        principal.tenant_id, parse_id(journeyId, "journey"), customerId
    )
    return Response(status_code=status.HTTP_204_NO_CONTENT)
