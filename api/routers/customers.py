"""/v1/customers: profiles and their traits."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path

from api.auth import Principal
from api.deps import Uow, require
from api.schemas.customers import CustomerOut, CustomerTraitsIn
from services.customers import CustomerService

router = APIRouter(prefix="/v1/customers", tags=["customers"])
CustomerId = Annotated[str, Path(alias="customerId", min_length=1, max_length=256)]


@router.get("/{customerId}", response_model=CustomerOut)
async def get_customer(
    customer_id: CustomerId,
    uow: Uow,
    principal: Annotated[Principal, Depends(require("journey:customer:view"))],
) -> CustomerOut:
    return CustomerOut.build(await CustomerService(uow).get(principal.tenant_id, customer_id))


@router.put("/{customerId}", response_model=CustomerOut)
async def put_customer(
    customer_id: CustomerId,
    body: CustomerTraitsIn,
    uow: Uow,
    principal: Annotated[Principal, Depends(require("journey:customer:edit"))],
) -> CustomerOut:
    """Create the profile or replace its traits."""
    row = await CustomerService(uow).replace_traits(principal.tenant_id, customer_id, body.traits)
    return CustomerOut.build(row)


@router.patch("/{customerId}", response_model=CustomerOut)
async def patch_customer(
    customer_id: CustomerId,
    body: CustomerTraitsIn,
    uow: Uow,
    principal: Annotated[Principal, Depends(require("journey:customer:edit"))],
) -> CustomerOut:
    """Merge the given traits into the existing profile (top-level keys)."""
    row = await CustomerService(uow).merge_traits(principal.tenant_id, customer_id, body.traits)
    return CustomerOut.build(row)
