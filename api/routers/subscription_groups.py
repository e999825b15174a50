"""/v1/subscriptiongroups: the consent groups SEND nodes are judged under (issue 15)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Response, status

from api.auth import Principal
from api.deps import Paging, Uow, parse_id, require
from api.schemas.common import PageMeta, PageOut
from api.schemas.subscriptions import SubscriptionGroupCreate, SubscriptionGroupOut, SubscriptionGroupPatch
from domain.nodes.send import Channel
from services.subscriptions import SubscriptionService

router = APIRouter(prefix="/v1/subscriptiongroups", tags=["subscription groups"])

View = Annotated[Principal, Depends(require("journey:subscriptiongroup:view"))]
Add = Annotated[Principal, Depends(require("journey:subscriptiongroup:add"))]
Edit = Annotated[Principal, Depends(require("journey:subscriptiongroup:edit"))]
Delete = Annotated[Principal, Depends(require("journey:subscriptiongroup:delete"))]


@router.post("", status_code=status.HTTP_201_CREATED, response_model=SubscriptionGroupOut)
async def create_subscription_group(
    body: SubscriptionGroupCreate, uow: Uow, principal: Add
) -> SubscriptionGroupOut:
    """Create a group (a name already used by the tenant is a 409). With `isDefault`, it becomes its
    channel's default, in place of the previous one."""
    row = await SubscriptionService(uow).create(principal.tenant_id, body.to_new())
    return SubscriptionGroupOut.build(row)


@router.get("", response_model=PageOut[SubscriptionGroupOut])
async def list_subscription_groups(
    uow: Uow, paging: Paging, principal: View, channel: Channel | None = None
) -> PageOut[SubscriptionGroupOut]:
    """The tenant's groups, oldest first, filtered by channel."""
    page = await SubscriptionService(uow).search(principal.tenant_id, paging, channel=channel)
    return PageOut[SubscriptionGroupOut](
        data=[SubscriptionGroupOut.build(row) for row in page.items], meta=PageMeta.of(page.total, paging)
    )


@router.get("/{subscriptionGroupId}", response_model=SubscriptionGroupOut)
async def get_subscription_group(
    subscriptionGroupId: str,  # noqa: N803 — path parameters are camelCase on the wire
    uow: Uow,
    principal: View,
) -> SubscriptionGroupOut:
    """One group."""
    group_id = parse_id(subscriptionGroupId, "subscription group")
    return SubscriptionGroupOut.build(await SubscriptionService(uow).get(principal.tenant_id, group_id))


@router.patch("/{subscriptionGroupId}", response_model=SubscriptionGroupOut)
async def update_subscription_group(
    subscriptionGroupId: str,  # noqa: N803
    body: SubscriptionGroupPatch,
    uow: Uow,
    principal: Edit,
) -> SubscriptionGroupOut:
    """Rename, change the type, or make it (or stop it being) its channel's default; the channel
    cannot change (a different `channel` is a 422). Customers' explicit choices are kept on a type
    change; those who never chose follow the new type."""
    group_id = parse_id(subscriptionGroupId, "subscription group")
    row = await SubscriptionService(uow).update(principal.tenant_id, group_id, body.changes())
    return SubscriptionGroupOut.build(row)


@router.delete("/{subscriptionGroupId}", status_code=status.HTTP_204_NO_CONTENT, response_class=Response)
async def delete_subscription_group(
    subscriptionGroupId: str,  # noqa: N803
    uow: Uow,
    principal: Delete,
) -> Response:
    """Delete a group and every customer's state in it; 409 while a journey that is not archived names
    it on a SEND."""
    group_id = parse_id(subscriptionGroupId, "subscription group")
    await SubscriptionService(uow).delete(principal.tenant_id, group_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
