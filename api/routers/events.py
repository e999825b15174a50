"""/v1/events: Segment-style track, identify and page calls (one, or a batch of up to 500)."""

from __future__ import annotations

import time
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request, status
from starlette.exceptions import HTTPException

from api.auth import Principal
from api.deps import Resources, Uow, require
from api.schemas.events import (
    MAX_BATCH_BYTES,
    MAX_BATCH_EVENTS,
    MAX_EVENT_BYTES,
    EventBatchIn,
    EventBatchOut,
    EventIn,
    EventOut,
)
from domain.event_limits import check_value, json_size, loads
from services.ingestion import IngestionService

router = APIRouter(prefix="/v1/events", tags=["events"])
AddEvents = Annotated[Principal, Depends(require("journey:event:add"))]
TOO_LARGE: dict[int | str, dict[str, Any]] = {
    413: {"description": "An event over 32 KB, a batch over 500 events or 500 KB"}
}


def _too_large(detail: str) -> HTTPException:
    return HTTPException(status.HTTP_413_CONTENT_TOO_LARGE, detail)


async def limit_event(request: Request) -> None:
    """Runs before the body is validated: a body over the limit is a 413, whatever it holds."""
    if len(await request.body()) > MAX_EVENT_BYTES:
        raise _too_large(f"an event may be at most {MAX_EVENT_BYTES} bytes")


async def limit_batch(request: Request) -> None:
    body = await request.body()
    if len(body) > MAX_BATCH_BYTES:
        raise _too_large(f"a batch may be at most {MAX_BATCH_BYTES} bytes")
    try:
        # Bounded parsing: deep nesting or NaN here is for body validation to refuse (422), not a 500.
        items = loads(body.decode()).get("batch")
    except (ValueError, AttributeError):
        return  # not a JSON object: body validation answers 422
    if not isinstance(items, list):
        return
    if len(items) > MAX_BATCH_EVENTS:
        raise _too_large(f"a batch may hold at most {MAX_BATCH_EVENTS} events; this one has {len(items)}")
    for index, item in enumerate(items):
        if check_value(item) is None and json_size(item) > MAX_EVENT_BYTES:
            raise _too_large(f"batch[{index}] is over {MAX_EVENT_BYTES} bytes")


@router.post(
    "",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=EventOut,
    dependencies=[Depends(limit_event)],
    responses=TOO_LARGE,
)
async def post_event(body: EventIn, uow: Uow, res: Resources, principal: AddEvents) -> EventOut:
    """Store the event, update the profile (identify), enter matching journeys, signal running ones."""
    events = [body.to_incoming()]
    started = time.perf_counter()
    [outcome] = await IngestionService(uow, res.gateway).ingest(principal.tenant_id, events)
    res.metrics.ingested(events, [outcome], time.perf_counter() - started, batch=False)
    return EventOut.build(outcome)


@router.post(
    "/batch",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=EventBatchOut,
    dependencies=[Depends(limit_batch)],
    responses=TOO_LARGE,
)
async def post_batch(body: EventBatchIn, uow: Uow, res: Resources, principal: AddEvents) -> EventBatchOut:
    """Up to 500 events in order, in one transaction; each result as for a single event."""
    events = [event.to_incoming() for event in body.batch]
    started = time.perf_counter()
    outcomes = await IngestionService(uow, res.gateway).ingest(principal.tenant_id, events)
    res.metrics.ingested(events, outcomes, time.perf_counter() - started, batch=True)
    duplicates = sum(1 for o in outcomes if o.duplicate)
    return EventBatchOut(
        results=[EventOut.build(o) for o in outcomes],
        accepted=len(outcomes) - duplicates,
        duplicates=duplicates,
    )
