"""/v1/suppressions: the addresses no message goes to (hard bounces, complaints), and lifting them.

An address is PII: it is shown in answers but never taken in a URL, so entries are lifted by id."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Response, status

from api.auth import Principal
from api.deps import Paging, Uow, parse_id, require
from api.schemas.common import PageMeta, PageOut
from api.schemas.delivery import SuppressionOut
from domain.consent import ListedReason
from domain.definition import Channel
from services.suppressions import SuppressionService

router = APIRouter(prefix="/v1/suppressions", tags=["suppressions"])

View = Annotated[Principal, Depends(require("journey:suppression:view"))]
Delete = Annotated[Principal, Depends(require("journey:suppression:delete"))]


@router.get("", response_model=PageOut[SuppressionOut], summary="List suppressed addresses")
async def list_suppressions(
    uow: Uow,
    paging: Paging,
    principal: View,
    channel: Channel | None = None,
    reason: ListedReason | None = None,
) -> PageOut[SuppressionOut]:
    """The suppression list, newest first, filtered by `channel` or `reason` (bounced, complained).
    Sends to a listed address are suppressed with the entry's reason and cost no provider call."""
    page = await SuppressionService(uow).search(principal.tenant_id, paging, channel=channel, reason=reason)
    return PageOut[SuppressionOut](
        data=[SuppressionOut.build(row) for row in page.items], meta=PageMeta.of(page.total, paging)
    )


@router.delete(
    "/{suppressionId}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Lift a suppression",
)
async def delete_suppression(
    suppressionId: str,  # noqa: N803 — path parameters are camelCase on the wire
    uow: Uow,
    principal: Delete,
) -> Response:
    """Remove the entry: later sends to the address go out again (until it bounces or complains again)."""
    await SuppressionService(uow).lift(principal.tenant_id, parse_id(suppressionId, "suppression"))
    return Response(status_code=status.HTTP_204_NO_CONTENT)
