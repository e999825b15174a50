"""/v1/customers: profiles, their traits and identifiers, and their enrollments."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Path, Query

from api.auth import Principal
from api.deps import OffsetPaging, Uow, require
from api.schemas.common import PageMeta, PageOut
from api.schemas.customers import CustomerOut, CustomerTraitsIn
from api.schemas.enrollments import EnrollmentOut
from services.customers import CustomerService
from store.rows import CustomerRow

router = APIRouter(prefix="/v1/customers", tags=["customers"])
CustomerId = Annotated[str, Path(alias="customerId", min_length=1, max_length=256)]
View = Annotated[Principal, Depends(require("journey:customer:view"))]
Edit = Annotated[Principal, Depends(require("journey:customer:edit"))]


async def customer_out(service: CustomerService, tenant_id: str, row: CustomerRow) -> CustomerOut:
    return CustomerOut.build(row, await service.identifiers(tenant_id, row.id))


@router.get("/{customerId}", response_model=CustomerOut)
async def get_customer(customer_id: CustomerId, uow: Uow, principal: View) -> CustomerOut:
    """The profile: its traits and every identifier events have named the customer by."""
    service = CustomerService(uow)
    return await customer_out(
        service, principal.tenant_id, await service.get(principal.tenant_id, customer_id)
    )


@router.put("/{customerId}", response_model=CustomerOut)
async def put_customer(
    customer_id: CustomerId, body: CustomerTraitsIn, uow: Uow, principal: Edit
) -> CustomerOut:
    """Create the profile or replace its traits."""
    service = CustomerService(uow)
    row = await service.replace_traits(principal.tenant_id, customer_id, body.traits)
    return await customer_out(service, principal.tenant_id, row)


@router.patch("/{customerId}", response_model=CustomerOut)
async def patch_customer(
    customer_id: CustomerId, body: CustomerTraitsIn, uow: Uow, principal: Edit
) -> CustomerOut:
    """Merge the given traits into the existing profile (top-level keys)."""
    service = CustomerService(uow)
    row = await service.merge_traits(principal.tenant_id, customer_id, body.traits)
    return await customer_out(service, principal.tenant_id, row)


@router.get("/{customerId}/enrollments", response_model=PageOut[EnrollmentOut])
async def customer_enrollments(
    customer_id: CustomerId,
    uow: Uow,
    paging: OffsetPaging,
    principal: Annotated[Principal, Depends(require("journey:enrollment:view"))],
    status_filter: Annotated[
        Literal["ACTIVE", "COMPLETED", "EXITED", "FAILED"] | None, Query(alias="status")
    ] = None,
) -> PageOut[EnrollmentOut]:
    """The customer's enrollments in every journey, newest first."""
    page = await CustomerService(uow).enrollments(principal.tenant_id, customer_id, paging, status_filter)
    return PageOut[EnrollmentOut](
        data=[EnrollmentOut.build(row) for row in page.items], meta=PageMeta.of(page.total, paging)
    )
