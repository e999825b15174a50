"""/v1/customers/{customerId}/inbox: the in-app messages IN_APP sends delivered to a customer."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query

from api.auth import Principal
from api.deps import Paging, Uow, parse_id, require
from api.schemas.common import PageMeta, PageOut
from api.schemas.inbox import InboxMessageOut
from services.inbox import InboxService

router = APIRouter(prefix="/v1/customers", tags=["inbox"])
CustomerId = Annotated[str, Path(alias="customerId", min_length=1, max_length=256)]
View = Annotated[Principal, Depends(require("journey:customer:view"))]
Edit = Annotated[Principal, Depends(require("journey:customer:edit"))]


@router.get("/{customerId}/inbox", response_model=PageOut[InboxMessageOut])
async def list_inbox(
    customer_id: CustomerId,
    uow: Uow,
    paging: Paging,
    principal: View,
    unread: Annotated[
        bool | None, Query(description="true: only unread messages; false: only read ones; absent: all")
    ] = None,
) -> PageOut[InboxMessageOut]:
    """The customer's inbox, newest first."""
    page = await InboxService(uow).list(principal.tenant_id, customer_id, paging, unread=unread)
    return PageOut[InboxMessageOut](
        data=[InboxMessageOut.build(row) for row in page.items], meta=PageMeta.of(page.total, paging)
    )


@router.post("/{customerId}/inbox/{messageId}/read", response_model=InboxMessageOut)
async def mark_inbox_message_read(
    customer_id: CustomerId,
    messageId: str,  # noqa: N803 — path parameters are camelCase on the wire
    uow: Uow,
    principal: Edit,
) -> InboxMessageOut:
    """Mark a message read (idempotent: the first `readAt` is kept)."""
    row = await InboxService(uow).mark_read(
        principal.tenant_id, customer_id, parse_id(messageId, "inbox message")
    )
    return InboxMessageOut.build(row)
