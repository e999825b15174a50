"""/v1/segments: segment definitions (Genesys JourneySegment)."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Response, status

from api.auth import Principal
from api.deps import GenesysPaging, Uow, parse_id, require
from api.schemas.common import PageMeta, PageOut
from api.schemas.segments import SegmentCreate, SegmentOut, SegmentPatch
from domain.errors import FieldIssue, InvalidInputError
from services.segments import SegmentService

router = APIRouter(prefix="/v1/segments", tags=["segments"])
MAX_SEGMENT_IDS = 100
SORT_KEYS = {
    "name": "name",
    "displayName": "name",
    "createdAt": "createdAt",
    "createdDate": "createdAt",
    "updatedAt": "updatedAt",
    "modifiedDate": "updatedAt",
}

View = Annotated[Principal, Depends(require("journey:segment:view"))]
Add = Annotated[Principal, Depends(require("journey:segment:add"))]
Edit = Annotated[Principal, Depends(require("journey:segment:edit"))]
Delete = Annotated[Principal, Depends(require("journey:segment:delete"))]


def parse_sort(sort_by: str | None) -> list[tuple[str, bool]]:
    order: list[tuple[str, bool]] = []
    for part in (sort_by or "").split(","):
        key = part.strip()
        if not key:
            continue
        descending = key.startswith("-")
        field = SORT_KEYS.get(key.lstrip("-+"))
        if field is None:
            raise InvalidInputError(
                [FieldIssue(("query", "sortBy"), f"cannot sort by {key!r}; use name, createdAt or updatedAt")]
            )
        order.append((field, descending))
    return order


def parse_segment_ids(raw: str | None) -> list[uuid.UUID] | None:
    """Ids that cannot name a segment (not UUIDs) simply match nothing."""
    if raw is None:
        return None
    parts = [p.strip() for p in raw.split(",") if p.strip()]
    if len(parts) > MAX_SEGMENT_IDS:
        raise InvalidInputError(
            [FieldIssue(("query", "segmentIds"), f"at most {MAX_SEGMENT_IDS} ids per request")]
        )
    ids: list[uuid.UUID] = []
    for part in parts:
        try:
            ids.append(uuid.UUID(part))
        except ValueError:
            continue
    return ids


@router.post("", status_code=status.HTTP_201_CREATED, response_model=SegmentOut)
async def create_segment(body: SegmentCreate, uow: Uow, principal: Add) -> SegmentOut:
    """Create a segment (Genesys JourneySegment); from now on its patterns assign customers as their
    events arrive."""
    return SegmentOut.build(await SegmentService(uow).create(principal.tenant_id, body.to_new()))


@router.get("", response_model=PageOut[SegmentOut])
async def list_segments(
    uow: Uow,
    paging: GenesysPaging,
    principal: View,
    is_active: Annotated[bool | None, Query(alias="isActive")] = None,
    sort_by: Annotated[
        str | None,
        Query(
            alias="sortBy", max_length=200, description="Comma list of name, createdAt, updatedAt; `-` = desc"
        ),
    ] = None,
    segment_ids: Annotated[
        str | None, Query(alias="segmentIds", max_length=4000, description="Comma list of ids (≤ 100)")
    ] = None,
) -> PageOut[SegmentOut]:
    """Segments, filtered by `isActive` or `segmentIds`, ordered by `sortBy`; paged by `page`/`limit` or
    Genesys' `pageNumber`/`pageSize` (seed 002)."""
    page = await SegmentService(uow).search(
        principal.tenant_id,
        paging,
        is_active=is_active,
        ids=parse_segment_ids(segment_ids),
        order=parse_sort(sort_by),
    )
    return PageOut[SegmentOut](
        data=[SegmentOut.build(row) for row in page.items], meta=PageMeta.of(page.total, paging)
    )


@router.get("/{segmentId}", response_model=SegmentOut)
async def get_segment(segmentId: str, uow: Uow, principal: View) -> SegmentOut:  # noqa: N803
    """One segment, with its current `version`."""
    return SegmentOut.build(
        await SegmentService(uow).get(principal.tenant_id, parse_id(segmentId, "segment"))
    )


@router.patch("/{segmentId}", response_model=SegmentOut)
async def update_segment(
    segmentId: str,  # noqa: N803
    body: SegmentPatch,
    uow: Uow,
    principal: Edit,
) -> SegmentOut:
    """Partial update; the version goes up by one. Send `version` to refuse (409) a concurrent edit."""
    row = await SegmentService(uow).update(
        principal.tenant_id, parse_id(segmentId, "segment"), body.changes(), expected_version=body.version
    )
    return SegmentOut.build(row)


@router.delete("/{segmentId}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_segment(segmentId: str, uow: Uow, principal: Delete) -> Response:  # noqa: N803
    """Delete the segment and its assignments; 409 while a journey that is not archived uses it."""
    await SegmentService(uow).delete(principal.tenant_id, parse_id(segmentId, "segment"))
    return Response(status_code=status.HTTP_204_NO_CONTENT)
