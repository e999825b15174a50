"""/v1/journeys: authoring, lifecycle, versions and destinations."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, status
from fastapi.responses import Response as PlainResponse

from api.auth import Principal
from api.deps import Paging, Resources, Uow, parse_id, require
from api.schemas.common import PageMeta, PageOut
from api.schemas.enrollments import EnrollmentOut
from api.schemas.journeys import (
    CanvasIn,
    DestinationsIn,
    JourneyCreate,
    JourneyOut,
    JourneyPatch,
    PauseIn,
    VersionOut,
    VersionSummaryOut,
)
from domain.errors import FieldIssue, InvalidInputError
from domain.lifecycle import JourneyStatus, LifecycleAction
from domain.steps import to_steps
from services.enrollments import EnrollmentService
from services.journeys import DestinationChange, Journey, JourneyService, JourneyTotals, NewJourney
from store.repositories.pagination import PageRequest

router = APIRouter(prefix="/v1/journeys", tags=["journeys"])
INCLUDABLE = ("steps", "enrollments")

View = Annotated[Principal, Depends(require("journey:journey:view"))]
Add = Annotated[Principal, Depends(require("journey:journey:add"))]
Edit = Annotated[Principal, Depends(require("journey:journey:edit"))]
Delete = Annotated[Principal, Depends(require("journey:journey:delete"))]
Publish = Annotated[Principal, Depends(require("journey:journey:publish"))]


async def journey_out(
    uow: Uow,
    res: Resources,
    tenant_id: str,
    journey: Journey,
    include: frozenset[str] = frozenset(),
    *,
    totals: JourneyTotals | None = None,
) -> JourneyOut:
    """The answer about one journey, from what the use case returned (its draft parsed and judged)."""
    service = JourneyService(uow)
    row = journey.row
    enrollments = None
    if "enrollments" in include:
        recent = await EnrollmentService(uow, res.gateway).list_for_journey(
            tenant_id, row.id, PageRequest(page=1, limit=20), None
        )
        enrollments = [EnrollmentOut.build(e) for e in recent.items]
    return JourneyOut.build(
        journey,
        totals or await service.totals(tenant_id, row.id),
        has_draft_changes=await service.has_draft_changes(row),
        steps=to_steps(journey.draft) if "steps" in include else None,
        enrollments=enrollments,
    )


def parse_include(include: str | None) -> frozenset[str]:
    wanted = frozenset(part.strip() for part in (include or "").split(",") if part.strip())
    unknown = sorted(wanted - set(INCLUDABLE))
    if unknown:
        raise InvalidInputError(
            [FieldIssue(("query", "include"), f"unknown {', '.join(unknown)}; use {', '.join(INCLUDABLE)}")]
        )
    return wanted


@router.post("", status_code=status.HTTP_201_CREATED, response_model=JourneyOut)
async def create_journey(body: JourneyCreate, uow: Uow, res: Resources, principal: Add) -> JourneyOut:
    """Create a draft, optionally with its graph (nodes + edges, or steps) or a trigger shorthand."""
    new = NewJourney(body.name, body.description, body.site_id, body.to_definition())
    journey = await JourneyService(uow).create(principal.tenant_id, new)
    return await journey_out(uow, res, principal.tenant_id, journey, totals=JourneyTotals.none())


@router.get("", response_model=PageOut[JourneyOut])
async def list_journeys(
    uow: Uow,
    paging: Paging,
    principal: View,
    status_filter: Annotated[JourneyStatus | None, Query(alias="status")] = None,
    site_id: Annotated[str | None, Query(alias="siteId", max_length=128)] = None,
    trigger_type: Annotated[
        str | None, Query(alias="triggerType", max_length=16, description="EVENT, AUDIENCE, MANUAL, SCHEDULE")
    ] = None,
    q: Annotated[str | None, Query(max_length=200, description="Text in name or description")] = None,
) -> PageOut[JourneyOut]:
    """The tenant's journeys, newest first, filtered by status, site, trigger type or text."""
    service = JourneyService(uow)
    page = await service.search(
        principal.tenant_id, paging, status=status_filter, site_id=site_id, trigger_type=trigger_type, text=q
    )
    totals = await service.totals_of(principal.tenant_id, [row.id for row in page.items])
    journeys = [await service.judged(principal.tenant_id, row) for row in page.items]
    return PageOut[JourneyOut](
        data=[JourneyOut.build(j, totals[j.row.id]) for j in journeys],
        meta=PageMeta.of(page.total, paging),
    )


@router.get("/{journeyId}", response_model=JourneyOut)
async def get_journey(
    journeyId: str,  # noqa: N803 — path parameters are camelCase on the wire
    uow: Uow,
    res: Resources,
    principal: View,
    include: Annotated[str | None, Query(description="Comma-separated: steps, enrollments")] = None,
) -> JourneyOut:
    """One journey: its draft graph, settings, totals and `_count`. `include=steps` adds the steps view
    (seed 004), `include=enrollments` its 20 latest enrollments."""
    wanted = parse_include(include)
    journey = await JourneyService(uow).load(principal.tenant_id, parse_id(journeyId, "journey"))
    return await journey_out(uow, res, principal.tenant_id, journey, wanted)


@router.patch("/{journeyId}", response_model=JourneyOut)
async def update_journey(
    journeyId: str,  # noqa: N803
    body: JourneyPatch,
    uow: Uow,
    res: Resources,
    principal: Edit,
) -> JourneyOut:
    """Partial update of metadata, settings, goal and exit criteria (the latter three go to the draft)."""
    journey = await JourneyService(uow).update(
        principal.tenant_id, parse_id(journeyId, "journey"), body.changes()
    )
    return await journey_out(uow, res, principal.tenant_id, journey)


@router.delete(
    "/{journeyId}",
    status_code=status.HTTP_200_OK,
    response_model=JourneyOut,
    responses={204: {"description": "A never-published draft was deleted"}},
)
async def delete_journey(
    journeyId: str,  # noqa: N803
    uow: Uow,
    res: Resources,
    principal: Delete,
) -> JourneyOut | PlainResponse:
    """Delete a never-published draft (204); archive anything else (200, status ARCHIVED)."""
    service = JourneyService(uow, res.control)
    journey = await service.delete(principal.tenant_id, parse_id(journeyId, "journey"))
    if journey is None:
        return PlainResponse(status_code=status.HTTP_204_NO_CONTENT)
    return await journey_out(uow, res, principal.tenant_id, journey)


@router.put("/{journeyId}/canvas", response_model=JourneyOut)
async def save_canvas(
    journeyId: str,  # noqa: N803
    body: CanvasIn,
    uow: Uow,
    res: Resources,
    principal: Edit,
) -> JourneyOut:
    """Replace the draft's nodes and edges in one transaction; node ids are kept as given."""
    journey = await JourneyService(uow).edit_draft(
        principal.tenant_id,
        parse_id(journeyId, "journey"),
        lambda draft: draft.model_copy(update={"nodes": body.nodes, "edges": body.edges}),
    )
    return await journey_out(uow, res, principal.tenant_id, journey)


async def _lifecycle(
    action: LifecycleAction,
    journey_id: str,
    uow: Uow,
    res: Resources,
    principal: Principal,
    mode: str | None = None,
) -> JourneyOut:
    service = JourneyService(uow, res.control)
    journey = await service.transition(
        principal.tenant_id,
        parse_id(journey_id, "journey"),
        action,
        pause_mode="entry" if mode == "entry" else "all" if mode == "all" else None,
    )
    return await journey_out(uow, res, principal.tenant_id, journey)


@router.post("/{journeyId}/publish", response_model=JourneyOut)
async def publish_journey(journeyId: str, uow: Uow, res: Resources, principal: Publish) -> JourneyOut:  # noqa: N803
    """Validate the draft and freeze it as the next version; new entries take it."""
    return await _lifecycle("publish", journeyId, uow, res, principal)


@router.post("/{journeyId}/pause", response_model=JourneyOut)
async def pause_journey(
    journeyId: str,  # noqa: N803
    uow: Uow,
    res: Resources,
    principal: Publish,
    body: PauseIn | None = None,
) -> JourneyOut:
    """Stop new entries; with mode `all` (default) in-flight enrollments also hold at their next step."""
    return await _lifecycle("pause", journeyId, uow, res, principal, (body or PauseIn()).mode)


@router.post("/{journeyId}/resume", response_model=JourneyOut)
async def resume_journey(journeyId: str, uow: Uow, res: Resources, principal: Publish) -> JourneyOut:  # noqa: N803
    """A PAUSED journey takes entries again; enrollments held at a step go on."""
    return await _lifecycle("resume", journeyId, uow, res, principal)


@router.post("/{journeyId}/unpublish", response_model=JourneyOut)
async def unpublish_journey(journeyId: str, uow: Uow, res: Resources, principal: Publish) -> JourneyOut:  # noqa: N803
    """Back to DRAFT: no new entries; in-flight enrollments continue on their version."""
    return await _lifecycle("unpublish", journeyId, uow, res, principal)


@router.post("/{journeyId}/archive", response_model=JourneyOut)
async def archive_journey(journeyId: str, uow: Uow, res: Resources, principal: Publish) -> JourneyOut:  # noqa: N803
    """Archive: no entries, and every active enrollment exits."""
    return await _lifecycle("archive", journeyId, uow, res, principal)


@router.post("/{journeyId}/restore", response_model=JourneyOut)
async def restore_journey(journeyId: str, uow: Uow, res: Resources, principal: Publish) -> JourneyOut:  # noqa: N803
    """An archived journey comes back as a DRAFT (its versions are kept)."""
    return await _lifecycle("restore", journeyId, uow, res, principal)


@router.get("/{journeyId}/versions", response_model=PageOut[VersionSummaryOut])
async def list_versions(
    journeyId: str,  # noqa: N803
    uow: Uow,
    paging: Paging,
    principal: View,
) -> PageOut[VersionSummaryOut]:
    """The published versions, newest first; each is immutable once published."""
    page = await JourneyService(uow).versions(principal.tenant_id, parse_id(journeyId, "journey"), paging)
    return PageOut[VersionSummaryOut](
        data=[VersionSummaryOut.build(v) for v in page.items], meta=PageMeta.of(page.total, paging)
    )


@router.get("/{journeyId}/versions/{version}", response_model=VersionOut)
async def get_version(
    journeyId: str,  # noqa: N803
    version: int,
    uow: Uow,
    principal: View,
) -> VersionOut:
    """One published version's frozen definition: what enrollments on it interpret."""
    row = await JourneyService(uow).version(principal.tenant_id, parse_id(journeyId, "journey"), version)
    return VersionOut.build(row)


@router.patch("/{journeyId}/destinations", response_model=JourneyOut)
async def update_destinations(
    journeyId: str,  # noqa: N803
    body: DestinationsIn,
    uow: Uow,
    res: Resources,
    principal: Publish,
) -> JourneyOut:
    """Re-point SEND nodes of the live version to other action targets or templates, without a new version."""
    changes = [DestinationChange(d.node_id, d.action_target_id, d.template_id) for d in body.destinations]
    journey = await JourneyService(uow).update_destinations(
        principal.tenant_id, parse_id(journeyId, "journey"), changes
    )
    return await journey_out(uow, res, principal.tenant_id, journey)
