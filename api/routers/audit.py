"""/v1/audit: the tenant's audit log (mutating requests, newest first)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Query

from api.auth import Principal
from api.deps import Paging, Uow, require
from api.schemas.audit import AuditEntryOut
from api.schemas.common import PageMeta, PageOut
from services.audit import AuditService

router = APIRouter(prefix="/v1/audit", tags=["audit"])


@router.get("", response_model=PageOut[AuditEntryOut])
async def list_audit(
    uow: Uow,
    paging: Paging,
    principal: Annotated[Principal, Depends(require("journey:audit:view"))],
    from_: Annotated[datetime | None, Query(alias="from", description="Entries at or after")] = None,
    to: Annotated[datetime | None, Query(description="Entries before")] = None,
) -> PageOut[AuditEntryOut]:
    """The tenant's audit log: one entry per mutating request (who, what, the answer), newest first."""
    page = await AuditService(uow).list(principal.tenant_id, paging, since=from_, until=to)
    return PageOut[AuditEntryOut](
        data=[AuditEntryOut.build(row) for row in page.items], meta=PageMeta.of(page.total, paging)
    )
