"""Segment assignments (Genesys seed 003): by customer identifier, by session, by external contact."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, Depends, Path, Query

from api.auth import Principal
from api.deps import MAX_PAGE_SIZE, Resources, Uow, require, require_per_body
from api.schemas.segments import AssignmentListOut, AssignmentOut, AssignmentPageOut, AssignmentUpdateIn
from domain.segments import AssignmentState, IdentifierKind, SegmentScope
from services.segments import AssignmentFilter, AssignmentService

router = APIRouter(prefix="/v1", tags=["segment assignments"])
MAX_UPDATES = 100

View = Annotated[Principal, Depends(require("journey:segmentassignment:view"))]
Identifier = Annotated[str, Path(min_length=1, max_length=256)]


def assignment_filter(
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE, description="Items per page")] = 20,
    after: Annotated[
        str | None, Query(max_length=200, description="`meta.next` of the previous page")
    ] = None,
    segment_scope: Annotated[SegmentScope | None, Query(alias="segmentScope")] = None,
    assignment_state: Annotated[AssignmentState | None, Query(alias="assignmentState")] = None,
) -> AssignmentFilter:
    return AssignmentFilter(scope=segment_scope, state=assignment_state, after=after, limit=limit)


Filter = Annotated[AssignmentFilter, Depends(assignment_filter)]


@router.get("/customers/{idType}/{customerId}/segments", response_model=AssignmentPageOut)
async def customer_segments(
    id_type: Annotated[IdentifierKind, Path(alias="idType")],
    customer_id: Annotated[str, Path(alias="customerId", min_length=1, max_length=256)],
    query: Filter,
    uow: Uow,
    res: Resources,
    principal: View,
) -> AssignmentPageOut:
    """The assignments of the customer this identifier names (userId, anonymousId, email, phone…)."""
    page = await AssignmentService(uow, res.gateway).for_customer(
        principal.tenant_id, id_type, customer_id, query
    )
    return AssignmentPageOut.build(page, limit=query.limit, after=query.after)


@router.get("/sessions/{sessionId}/segments", response_model=AssignmentPageOut)
async def session_segments(
    session_id: Annotated[str, Path(alias="sessionId", min_length=1, max_length=256)],
    query: Filter,
    uow: Uow,
    res: Resources,
    principal: View,
) -> AssignmentPageOut:
    """The assignments of one session (Session-scoped segments)."""
    page = await AssignmentService(uow, res.gateway).for_session(principal.tenant_id, session_id, query)
    return AssignmentPageOut.build(page, limit=query.limit, after=query.after)


@router.get("/externalcontacts/{externalContactId}/segments", response_model=AssignmentPageOut)
async def external_contact_segments(
    external_id: Annotated[str, Path(alias="externalContactId", min_length=1, max_length=200)],
    query: Filter,
    uow: Uow,
    res: Resources,
    principal: View,
) -> AssignmentPageOut:
    """The assignments of the customer this external contact id names (seed 003)."""
    page = await AssignmentService(uow, res.gateway).for_external_contact(
        principal.tenant_id, external_id, query
    )
    return AssignmentPageOut.build(page, limit=query.limit, after=query.after)


@router.post("/externalcontacts/{externalContactId}/segments", response_model=AssignmentListOut)
async def update_external_contact_segments(
    external_id: Annotated[str, Path(alias="externalContactId", min_length=1, max_length=200)],
    body: Annotated[list[AssignmentUpdateIn], Body(min_length=1, max_length=MAX_UPDATES)],
    uow: Uow,
    res: Resources,
    principal: Annotated[
        Principal,
        Depends(require_per_body("journey:segmentassignment:add", "journey:segmentassignment:delete")),
    ],
) -> AssignmentListOut:
    """Assign, unassign, or (already assigned) update the expiry.

    Entering a segment starts its AUDIENCE journeys. Assigning needs `journey:segmentassignment:add`,
    unassigning `journey:segmentassignment:delete`.
    """
    if any(item.state == "Assigned" for item in body):
        principal.require("journey:segmentassignment:add")
    if any(item.state == "Unassigned" for item in body):
        principal.require("journey:segmentassignment:delete")
    items = await AssignmentService(uow, res.gateway).update_external_contact(
        principal.tenant_id, external_id, [item.to_change() for item in body]
    )
    return AssignmentListOut(data=[AssignmentOut.build(i) for i in items])
