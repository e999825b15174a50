"""/v1/actiontargets: where SEND nodes deliver (webhook endpoints, provider accounts)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, status

from api.auth import Principal
from api.deps import GenesysPaging, Resources, Uow, parse_id, require
from api.schemas.action_targets import ActionTargetCreate, ActionTargetOut, ActionTargetPatch
from api.schemas.common import PageMeta, PageOut
from domain.definition import Channel
from services.action_targets import ActionTargetService

router = APIRouter(prefix="/v1/actiontargets", tags=["action targets"])

View = Annotated[Principal, Depends(require("journey:actiontarget:view"))]
Add = Annotated[Principal, Depends(require("journey:actiontarget:add"))]
Edit = Annotated[Principal, Depends(require("journey:actiontarget:edit"))]


def _service(uow: Uow, res: Resources) -> ActionTargetService:
    return ActionTargetService(uow, webhook_allow_list=res.settings.webhook_allow_list)


@router.post("", status_code=status.HTTP_201_CREATED, response_model=ActionTargetOut)
async def create_action_target(
    body: ActionTargetCreate, uow: Uow, res: Resources, principal: Add
) -> ActionTargetOut:
    """Create a target; a WEBHOOK URL is checked against the SSRF guard before it is saved."""
    row = await _service(uow, res).create(principal.tenant_id, body.to_new())
    return ActionTargetOut.build(row)


@router.get("", response_model=PageOut[ActionTargetOut])
async def list_action_targets(
    uow: Uow,
    res: Resources,
    paging: GenesysPaging,
    principal: View,
    channel: Channel | None = None,
    enabled: Annotated[bool | None, Query()] = None,
) -> PageOut[ActionTargetOut]:
    """Action targets, filtered by channel or enabled, secrets masked; paged by `page`/`limit` or
    Genesys' `pageNumber`/`pageSize` (seed 002)."""
    page = await _service(uow, res).search(principal.tenant_id, paging, channel=channel, enabled=enabled)
    return PageOut[ActionTargetOut](
        data=[ActionTargetOut.build(row) for row in page.items], meta=PageMeta.of(page.total, paging)
    )


@router.get("/{actionTargetId}", response_model=ActionTargetOut)
async def get_action_target(
    actionTargetId: str,  # noqa: N803 — path parameters are camelCase on the wire
    uow: Uow,
    res: Resources,
    principal: View,
) -> ActionTargetOut:
    """One action target, secrets masked (`whsec_****`)."""
    row = await _service(uow, res).get(principal.tenant_id, parse_id(actionTargetId, "action target"))
    return ActionTargetOut.build(row)


@router.patch("/{actionTargetId}", response_model=ActionTargetOut)
async def update_action_target(
    actionTargetId: str,  # noqa: N803
    body: ActionTargetPatch,
    uow: Uow,
    res: Resources,
    principal: Edit,
) -> ActionTargetOut:
    """Partial update; `enabled: true` switches a target the engine disabled back on."""
    row = await _service(uow, res).update(
        principal.tenant_id, parse_id(actionTargetId, "action target"), body.changes()
    )
    return ActionTargetOut.build(row)
