"""/v1/journeys/{journeyId}/tests: a journey run for real for test customers, kept out of the numbers."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Response, status

from api.auth import Principal
from api.deps import OffsetPaging, Resources, Uow, parse_id, require
from api.schemas.common import PageMeta, PageOut
from api.schemas.customer_tests import CustomerTestIn, CustomerTestOut
from api.schemas.enrollments import EnrollmentOut
from services.customer_tests import CustomerTestService

router = APIRouter(prefix="/v1/journeys/{journeyId}/tests", tags=["tests"])


@router.post("", status_code=status.HTTP_201_CREATED, response_model=CustomerTestOut)
async def start_tests(
    journeyId: str,  # noqa: N803
    body: CustomerTestIn,
    uow: Uow,
    res: Resources,
    principal: Annotated[Principal, Depends(require("journey:enrollment:add"))],
) -> CustomerTestOut:
    """Run the draft (before its first publish too; it must be publishable) or a published version for
    real for these customers: real sends and real waits (`speed` shortens the fixed ones), as enrollments
    flagged `test` that count in no total, analytics or aggregate and that no event enters. A customer
    whose test run is still ACTIVE gets it back (a retry starts nothing new)."""
    outcomes = await CustomerTestService(uow, res.gateway).start(
        principal.tenant_id, parse_id(journeyId, "journey"), body.spec()
    )
    return CustomerTestOut(data=[EnrollmentOut.build(o.enrollment) for o in outcomes])


@router.get("", response_model=PageOut[EnrollmentOut])
async def list_tests(
    journeyId: str,  # noqa: N803
    uow: Uow,
    res: Resources,
    paging: OffsetPaging,
    principal: Annotated[Principal, Depends(require("journey:enrollment:view"))],
) -> PageOut[EnrollmentOut]:
    """The journey's test enrollments, newest first (`GET …/enrollments/{id}` and its timeline show one)."""
    page = await CustomerTestService(uow, res.gateway).list_for_journey(
        principal.tenant_id, parse_id(journeyId, "journey"), paging
    )
    return PageOut[EnrollmentOut](
        data=[EnrollmentOut.build(row) for row in page.items], meta=PageMeta.of(page.total, paging)
    )


@router.delete("/{enrollmentId}", status_code=status.HTTP_204_NO_CONTENT)
async def stop_test(
    journeyId: str,  # noqa: N803
    enrollmentId: str,  # noqa: N803
    uow: Uow,
    res: Resources,
    principal: Annotated[Principal, Depends(require("journey:enrollment:delete"))],
) -> Response:
    """Stop a test run now, even mid-wait: it ends EXITED with reason "test stopped" (one that already
    ended stays as it is). 404 when the id is not a test enrollment of this journey."""
    await CustomerTestService(uow, res.gateway).stop(
        principal.tenant_id, parse_id(journeyId, "journey"), parse_id(enrollmentId, "enrollment")
    )
    return Response(status_code=status.HTTP_204_NO_CONTENT)
