"""/v1/customers/{customerId}/subscriptions: a customer's consent in every subscription group."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends

from api.auth import Principal
from api.deps import Uow, parse_id, require
from api.routers.customers import CustomerId
from api.schemas.subscriptions import SubscriptionIn, SubscriptionOut, SubscriptionsOut
from services.subscriptions import SubscriptionService

router = APIRouter(prefix="/v1/customers", tags=["customers"])

View = Annotated[Principal, Depends(require("journey:subscription:view"))]
Edit = Annotated[Principal, Depends(require("journey:subscription:edit"))]


@router.get("/{customerId}/subscriptions", response_model=SubscriptionsOut)
async def get_customer_subscriptions(customer_id: CustomerId, uow: Uow, principal: View) -> SubscriptionsOut:
    """The customer's state in every group of the tenant: their own choice (`changedAt`, `source`),
    else the group type's default (OPT_OUT: subscribed; OPT_IN: not; `changedAt` and `source` null).
    An unknown customer is a 404."""
    states = await SubscriptionService(uow).customer_states(principal.tenant_id, customer_id)
    return SubscriptionsOut(data=[SubscriptionOut.build(state) for state in states])


@router.put("/{customerId}/subscriptions/{subscriptionGroupId}", response_model=SubscriptionOut)
async def put_customer_subscription(
    customer_id: CustomerId,
    subscriptionGroupId: str,  # noqa: N803 — path parameters are camelCase on the wire
    body: SubscriptionIn,
    uow: Uow,
    principal: Edit,
) -> SubscriptionOut:
    """Join (`subscribed: true`) or leave the group, with source `api`; idempotent (the same state
    again keeps its `changedAt`). A customer never seen before is created, so consent can be recorded
    ahead of their first event."""
    group_id = parse_id(subscriptionGroupId, "subscription group")
    state = await SubscriptionService(uow).put_state(
        principal.tenant_id, customer_id, group_id, body.subscribed
    )
    return SubscriptionOut.build(state)
