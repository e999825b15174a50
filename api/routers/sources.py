"""/v1/sources: event sources, their write keys (shown once), revocation, and the events they sent
that were refused."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Response, status

from api.auth import Principal
from api.deps import Paging, Uow, parse_id, require
from api.schemas.common import PageMeta, PageOut
from api.schemas.sources import RejectionOut, SourceCreate, SourceCreated, SourceOut
from services.sources import SourceService

router = APIRouter(prefix="/v1/sources", tags=["sources"])

View = Annotated[Principal, Depends(require("journey:source:view"))]
Add = Annotated[Principal, Depends(require("journey:source:add"))]
Delete = Annotated[Principal, Depends(require("journey:source:delete"))]


@router.post("", status_code=status.HTTP_201_CREATED, response_model=SourceCreated)
async def create_source(body: SourceCreate, uow: Uow, principal: Add) -> SourceCreated:
    """Create a source. Its `writeKey` is in this answer only: it is stored as a hash, never shown again."""
    created = await SourceService(uow).create(principal.tenant_id, body.name)
    return SourceCreated.of(created)


@router.get("", response_model=PageOut[SourceOut])
async def list_sources(uow: Uow, paging: Paging, principal: View) -> PageOut[SourceOut]:
    """Newest first, revoked ones included (with `revokedAt`)."""
    page = await SourceService(uow).search(principal.tenant_id, paging)
    return PageOut[SourceOut](
        data=[SourceOut.build(row) for row in page.items], meta=PageMeta.of(page.total, paging)
    )


@router.get("/{sourceId}", response_model=SourceOut)
async def get_source(
    sourceId: str,  # noqa: N803 — path parameters are camelCase on the wire
    uow: Uow,
    principal: View,
) -> SourceOut:
    """One source, with its key's first characters (`keyHint`); the key itself is never shown again."""
    row = await SourceService(uow).get(principal.tenant_id, parse_id(sourceId, "source"))
    return SourceOut.build(row)


@router.delete("/{sourceId}", status_code=status.HTTP_204_NO_CONTENT, response_class=Response)
async def revoke_source(
    sourceId: str,  # noqa: N803
    uow: Uow,
    principal: Delete,
) -> Response:
    """Revoke the source: its write key is refused (401) from now on. The source and what it sent stay."""
    await SourceService(uow).revoke(principal.tenant_id, parse_id(sourceId, "source"))
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/{sourceId}/rejections", response_model=PageOut[RejectionOut])
async def list_rejections(
    sourceId: str,  # noqa: N803
    uow: Uow,
    paging: Paging,
    principal: View,
) -> PageOut[RejectionOut]:
    """Events this source sent that were skipped, newest first, each with its reason and a quote."""
    page = await SourceService(uow).rejections(principal.tenant_id, parse_id(sourceId, "source"), paging)
    return PageOut[RejectionOut](
        data=[RejectionOut.build(row) for row in page.items], meta=PageMeta.of(page.total, paging)
    )
