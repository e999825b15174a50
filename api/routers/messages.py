"""/v1/messages: the delivery log."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query

from api.auth import Principal
from api.deps import Paging, Uow, parse_id, require
from api.schemas.common import PageMeta, PageOut
from api.schemas.messages import MessageOut, SuppressionReason
from services.messages import MessageService

router = APIRouter(prefix="/v1/messages", tags=["messages"])


@router.get("", response_model=PageOut[MessageOut])
async def list_messages(
    uow: Uow,
    paging: Paging,
    principal: Annotated[Principal, Depends(require("journey:message:view"))],
    status_filter: Annotated[
        Literal["queued", "sent", "suppressed", "failed"] | None, Query(alias="status")
    ] = None,
    channel: Annotated[str | None, Query(max_length=16)] = None,
    journey_id: Annotated[str | None, Query(alias="journeyId")] = None,
    customer_id: Annotated[str | None, Query(alias="customerId", max_length=256)] = None,
    reason: Annotated[SuppressionReason | None, Query()] = None,
) -> PageOut[MessageOut]:
    """The delivery log, newest first: each send with its idempotency key, status and provider id, and
    for a suppressed one its `reason` (filter with `?reason=unsubscribed`)."""
    page = await MessageService(uow).list(
        principal.tenant_id,
        paging,
        status=status_filter,
        channel=channel,
        journey_id=parse_id(journey_id, "journey") if journey_id else None,
        customer_id=customer_id,
        reason=reason,
    )
    return PageOut[MessageOut](
        data=[MessageOut.build(row) for row in page.items], meta=PageMeta.of(page.total, paging)
    )
