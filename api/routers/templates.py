"""/v1/templates: message templates that SEND nodes name by `templateId`."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Response, status

from api.auth import Principal
from api.deps import Paging, Uow, parse_id, require
from api.schemas.common import PageMeta, PageOut
from api.schemas.templates import TemplateCreate, TemplateOut, TemplatePatch
from domain.definition import Channel
from services.templates import TemplateService

router = APIRouter(prefix="/v1/templates", tags=["templates"])

View = Annotated[Principal, Depends(require("journey:template:view"))]
Edit = Annotated[Principal, Depends(require("journey:template:edit"))]


@router.post("", status_code=status.HTTP_201_CREATED, response_model=TemplateOut)
async def create_template(body: TemplateCreate, uow: Uow, principal: Edit) -> TemplateOut:
    """Create a template; subject and body are compiled first, so a syntax error is a 422."""
    row = await TemplateService(uow).create(principal.tenant_id, body.to_new())
    return TemplateOut.build(row)


@router.get("", response_model=PageOut[TemplateOut])
async def list_templates(
    uow: Uow, paging: Paging, principal: View, channel: Channel | None = None
) -> PageOut[TemplateOut]:
    """Templates, newest first, filtered by channel."""
    page = await TemplateService(uow).search(principal.tenant_id, paging, channel=channel)
    return PageOut[TemplateOut](
        data=[TemplateOut.build(row) for row in page.items], meta=PageMeta.of(page.total, paging)
    )


@router.get("/{templateId}", response_model=TemplateOut)
async def get_template(
    templateId: str,  # noqa: N803 — path parameters are camelCase on the wire
    uow: Uow,
    principal: View,
) -> TemplateOut:
    """One template, with its source as saved."""
    return TemplateOut.build(
        await TemplateService(uow).get(principal.tenant_id, parse_id(templateId, "template"))
    )


@router.patch("/{templateId}", response_model=TemplateOut)
async def update_template(
    templateId: str,  # noqa: N803
    body: TemplatePatch,
    uow: Uow,
    principal: Edit,
) -> TemplateOut:
    """Partial update; a null `subject` removes it. Subject and body are compiled before they are saved
    (a syntax error is a 422 naming the field)."""
    row = await TemplateService(uow).update(
        principal.tenant_id, parse_id(templateId, "template"), body.changes()
    )
    return TemplateOut.build(row)


@router.delete("/{templateId}", status_code=status.HTTP_204_NO_CONTENT, response_class=Response)
async def delete_template(
    templateId: str,  # noqa: N803
    uow: Uow,
    principal: Edit,
) -> Response:
    """Delete a template; 409 while a journey that is not archived uses it."""
    await TemplateService(uow).delete(principal.tenant_id, parse_id(templateId, "template"))
    return Response(status_code=status.HTTP_204_NO_CONTENT)
