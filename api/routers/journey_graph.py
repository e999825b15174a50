"""/v1/journeys/{journeyId}/graph: the journey drawn left to right, with live counts (for the console)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Query

from api.auth import Principal
from api.deps import Uow, parse_id, require
from api.schemas.journey_graph import JourneyGraphOut
from services.journey_graph import JourneyGraphService

router = APIRouter(prefix="/v1/journeys", tags=["analytics"])


@router.get("/{journeyId}/graph", response_model=JourneyGraphOut)
async def journey_graph(
    journeyId: str,  # noqa: N803
    uow: Uow,
    principal: Annotated[Principal, Depends(require("journey:journey:view"))],
    version: Annotated[
        int | None, Query(ge=1, description="The version to draw (default: the live one)")
    ] = None,
    from_: Annotated[
        datetime | None, Query(alias="from", description="Count from (floored to the hour)")
    ] = None,
    to: Annotated[datetime | None, Query(description="Count up to (ceiled to the hour)")] = None,
) -> JourneyGraphOut:
    """One version of the journey laid out left to right (a layered layout: node boxes and edge polylines
    in pixels) with, on every node, the customers there now (`active`) and its step counts, and on every
    edge the visits that left by it and their share — journey analytics of that version (docs/analytics.md),
    in the same whole UTC hours. A journey never published draws its draft, with zero counts."""
    graph = await JourneyGraphService(uow).graph(
        principal.tenant_id, parse_id(journeyId, "journey"), version, from_, to
    )
    return JourneyGraphOut.build(graph)
