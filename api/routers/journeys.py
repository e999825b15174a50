"""/v1/journeys: authoring and lifecycle."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, status

from api.auth import Principal
from api.deps import Paging, Uow, parse_id, require
from api.schemas.common import PageMeta, PageOut
from api.schemas.journeys import JourneyCreate, JourneyOut
from domain.lifecycle import JourneyStatus
from services.journeys import JourneyService, NewJourney

router = APIRouter(prefix="/v1/journeys", tags=["journeys"])


@router.post("", status_code=status.HTTP_201_CREATED, response_model=JourneyOut)
async def create_journey(
    body: JourneyCreate,
    uow: Uow,
    principal: Annotated[Principal, Depends(require("journey:journey:add"))],
) -> JourneyOut:
    new = NewJourney(body.name, body.description, body.site_id, body.to_definition())
    row = await JourneyService(uow).create(principal.tenant_id, new)
    return JourneyOut.build(row, None)


@router.get("", response_model=PageOut[JourneyOut])
async def list_journeys(
    uow: Uow,
    paging: Paging,
    principal: Annotated[Principal, Depends(require("journey:journey:view"))],
    status_filter: Annotated[JourneyStatus | None, Query(alias="status")] = None,
    site_id: Annotated[str | None, Query(alias="siteId", max_length=128)] = None,
    trigger_type: Annotated[str | None, Query(alias="triggerType", max_length=16)] = None,
    q: Annotated[str | None, Query(max_length=200, description="Text in name or description")] = None,
) -> PageOut[JourneyOut]:
    page = await JourneyService(uow).list(
        principal.tenant_id, paging, status=status_filter, site_id=site_id, trigger_type=trigger_type, text=q
    )
    return PageOut[JourneyOut](
        data=[JourneyOut.build(row, None) for row in page.items], meta=PageMeta.of(page.total, paging)
    )


@router.get("/{journeyId}", response_model=JourneyOut)
async def get_journey(
    journeyId: str,  # noqa: N803 — the path parameter is camelCase on the wire
    uow: Uow,
    principal: Annotated[Principal, Depends(require("journey:journey:view"))],
) -> JourneyOut:
    journey_id = parse_id(journeyId, "journey")
    service = JourneyService(uow)
    row = await service.get(principal.tenant_id, journey_id)
    return JourneyOut.build(row, await service.totals(principal.tenant_id, journey_id))


@router.post("/{journeyId}/publish", response_model=JourneyOut)
async def publish_journey(
    journeyId: str,  # noqa: N803
    uow: Uow,
    principal: Annotated[Principal, Depends(require("journey:journey:publish"))],
) -> JourneyOut:
    journey_id = parse_id(journeyId, "journey")
    service = JourneyService(uow)
    row = await service.publish(principal.tenant_id, journey_id)
    return JourneyOut.build(row, await service.totals(principal.tenant_id, journey_id))
