"""The Segment HTTP Tracking API: /v1/batch, /v1/track, /v1/identify, /v1/page, /v1/screen, /v1/group,
/v1/alias — the payloads the Segment and RudderStack SDKs and analytics.js send, unchanged.

- Auth: an event source's write key, as the HTTP Basic user name (empty password); with no
  Authorization header at all, `writeKey` in the body (as Segment accepts). A bearer token is refused
  here (401), as a write key is everywhere else. Each request looks the key up once (by its hash).
- Body: read raw (gzip or not, see api/tracking_body.py): no body model, so an unknown field is kept,
  never refused. At most 500 KB after decompression and 500 events per request, 32 KB per event.
- Answer: `200 {"success": true, "accepted", "duplicates", "rejected": [{index, code, reason}]}` —
  RudderStack's SDK takes anything but 200 as a failure. A batch is never refused for one of its
  events: each bad one is skipped, stored with its reason (GET /v1/sources/{id}/rejections) and
  counted (journeys_events_rejected_total{reason}). A single call that cannot be read is a 400 naming
  the field (413 when over 32 KB), also stored as a rejection.
- analytics.js posts to the one-letter paths (`/v1/t`, `/v1/i`, `/v1/p`, `/v1/s`, `/v1/g`, `/v1/a`,
  batches to `/v1/b`) with `Content-Type: text/plain`; both spellings are served, and every tracking
  path answers browsers cross-origin (api/cors.py).
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any, Final

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse
from fastapi.security import HTTPBasic, HTTPBasicCredentials

from api.deps import Resources, Uow
from api.problems import problem
from api.request_context import bind_caller
from api.schemas.sources import TrackingOut
from api.tracking_body import decoded, parsed
from domain.errors import AuthenticationError, BadRequestError, PayloadTooLargeError
from domain.event_limits import MAX_BATCH_BYTES, MAX_BATCH_EVENTS, MAX_EVENT_BYTES, TOO_LARGE, EventIssue
from services.segment_spec import NO_DEFAULTS, BatchDefaults, batch_defaults
from services.sources import WRITE_KEY_CHALLENGE, WRITE_KEY_REALM
from services.tracking import TrackingResult, TrackingService
from store.rows import SourceRow

router = APIRouter(prefix="/v1", tags=["tracking"])
_basic = HTTPBasic(
    auto_error=False,
    scheme_name="writeKey",
    realm=WRITE_KEY_REALM,
    description="An event source's write key as the user name, empty password (POST /v1/sources makes one)",
)

# The single-call routes: the type each implies, and analytics.js's one-letter spelling of it.
SINGLE_CALLS: Final = {
    "track": "t",
    "identify": "i",
    "page": "p",
    "screen": "s",
    "group": "g",
    "alias": "a",
}
BATCH_PATHS: Final = ("/batch", "/import", "/b")
TRACKING_PATHS: Final = frozenset(
    {f"/v1{path}" for path in BATCH_PATHS} | {f"/v1/{path}" for pair in SINGLE_CALLS.items() for path in pair}
)

_CALL_SCHEMA: dict[str, Any] = {
    "type": "object",
    "additionalProperties": True,
    "description": "A Segment Spec call. Fields not listed are kept with the stored event.",
    "properties": {
        "type": {"type": "string", "enum": list(SINGLE_CALLS)},
        "userId": {"type": "string"},
        "anonymousId": {"type": "string"},
        "messageId": {"type": "string"},
        "event": {"type": "string", "description": "track"},
        "name": {"type": "string", "description": "page, screen"},
        "groupId": {"type": "string", "description": "group"},
        "previousId": {"type": "string", "description": "alias"},
        "properties": {"type": "object"},
        "traits": {"type": "object"},
        "context": {"type": "object"},
        "integrations": {"type": "object"},
        "timestamp": {"type": "string", "format": "date-time"},
        "originalTimestamp": {"type": "string", "format": "date-time"},
        "sentAt": {"type": "string", "format": "date-time"},
    },
}
_BATCH_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["batch"],
    "additionalProperties": True,
    "properties": {
        "batch": {"type": "array", "items": _CALL_SCHEMA},
        "context": {"type": "object", "description": "Applies to every call (the call's own wins)"},
        "integrations": {"type": "object"},
        "sentAt": {"type": "string", "format": "date-time"},
        "writeKey": {"type": "string", "description": "When no Authorization header is sent"},
    },
}


def _body_doc(schema: dict[str, Any]) -> dict[str, Any]:
    return {
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": schema}, "text/plain": {"schema": schema}},
        }
    }


RESPONSES: dict[int | str, dict[str, Any]] = {
    400: {
        "description": "Not JSON, a broken gzip stream; a single call that cannot be read (naming the field)"
    },
    401: {"description": "No write key, or an unknown or revoked one (a bearer token is refused here)"},
    413: {"description": "Over 500 KB after decompression or 500 events; a single call over 32 KB"},
    415: {"description": "A Content-Encoding other than gzip"},
}
NOT_A_WRITE_KEY = (
    "the tracking API takes an event source's write key as the HTTP Basic user name (empty password), "
    "not a bearer token"
)
NO_WRITE_KEY = (
    "a write key is required: HTTP Basic with the write key as user name (empty password), "
    "or `writeKey` in the body"
)


@dataclass(frozen=True)
class TrackedRequest:
    source: SourceRow
    body: Any
    size: int  # bytes, after decompression
    received_at: datetime


async def tracked_request(
    request: Request,
    uow: Uow,
    res: Resources,
    credentials: Annotated[HTTPBasicCredentials | None, Depends(_basic)],
) -> TrackedRequest:
    """The source sending (by its write key) and the body, read once. With an Authorization header,
    the key is checked before the body is read."""
    received_at = datetime.now(UTC)
    service = TrackingService(uow, res.gateway)
    source: SourceRow | None = None
    if "authorization" in request.headers:
        if credentials is None:
            raise AuthenticationError(NOT_A_WRITE_KEY, challenge=WRITE_KEY_CHALLENGE)
        source = await service.authenticate(credentials.username)
    data = decoded(await request.body(), request.headers.get("content-encoding"), MAX_BATCH_BYTES)
    body = parsed(data)
    if source is None:
        key = body.get("writeKey") if isinstance(body, dict) else None
        if not isinstance(key, str) or not key:
            raise AuthenticationError(NO_WRITE_KEY, challenge=WRITE_KEY_CHALLENGE)
        source = await service.authenticate(key)
    bind_caller(source.tenant_id, request.path_params)
    res.limiter.acquire(source.tenant_id)
    return TrackedRequest(source=source, body=body, size=len(data), received_at=received_at)


tracked_request.__write_key__ = True  # type: ignore[attr-defined]  # see api.deps.takes_write_key
# No query parameter means anything here, and none refuses a call (api.deps.accepts_any_query): the SDKs
# send none, and a proxy's or a hand-written client's extra one must not cost its events.
tracked_request.__any_query__ = True  # type: ignore[attr-defined]
Tracked = Annotated[TrackedRequest, Depends(tracked_request)]


async def _accept(
    uow: Uow,
    res: Resources,
    tracked: TrackedRequest,
    calls: list[Any],
    *,
    kind: str | None = None,
    defaults: BatchDefaults = NO_DEFAULTS,
) -> TrackingResult:
    started = time.perf_counter()
    result = await TrackingService(uow, res.gateway).accept(
        tracked.source, calls, received_at=tracked.received_at, kind=kind, defaults=defaults
    )
    if result.events:
        res.metrics.ingested(
            result.events, result.outcomes, time.perf_counter() - started, batch=kind is None
        )
    res.metrics.rejected([r.issue.code for r in result.rejected])
    return result


async def post_batch(tracked: Tracked, uow: Uow, res: Resources) -> TrackingOut:
    """Segment's batch: `{"batch": [calls…], "context"?, "integrations"?, "sentAt"?}`. Each call is
    read on its own: the readable ones are stored, the others skipped and listed in `rejected`."""
    body = tracked.body
    calls = body.get("batch") if isinstance(body, dict) else None
    if not isinstance(calls, list):
        raise BadRequestError("the body must be a JSON object with a `batch` array of calls")
    if len(calls) > MAX_BATCH_EVENTS:
        raise PayloadTooLargeError(
            f"a batch may hold at most {MAX_BATCH_EVENTS} calls; this one has {len(calls)}"
        )
    result = await _accept(uow, res, tracked, calls, defaults=batch_defaults(body))
    return TrackingOut.build(result)


def _single_call(kind: str) -> Callable[..., Awaitable[TrackingOut | JSONResponse]]:
    async def post_call(tracked: Tracked, uow: Uow, res: Resources) -> TrackingOut | JSONResponse:
        if tracked.size > MAX_EVENT_BYTES:
            issue = EventIssue(
                TOO_LARGE, (), f"a call may be at most {MAX_EVENT_BYTES} bytes; this one is {tracked.size}"
            )
            await TrackingService(uow, res.gateway).refuse(
                tracked.source, tracked.body, issue, received_at=tracked.received_at
            )
            res.metrics.rejected([issue.code])
            return problem(413, issue.message, slug="payload-too-large")
        result = await _accept(uow, res, tracked, [tracked.body], kind=kind)
        if result.rejected:  # stored as a rejection when this answer commits
            issue = result.rejected[0].issue
            return problem(
                400,
                issue.message,
                slug="invalid-event",
                errors=[{"loc": ["body", *issue.loc], "msg": issue.message, "code": issue.code}],
            )
        return TrackingOut.build(result)

    post_call.__name__ = f"post_{kind}"
    post_call.__doc__ = (
        f"One `{kind}` call (the path sets its `type`). 200 when stored; 400 naming the field when it "
        "cannot be read, 413 over 32 KB — either way kept at /v1/sources/{id}/rejections."
    )
    return post_call


for _path in BATCH_PATHS:
    router.add_api_route(
        _path,
        post_batch,
        methods=["POST"],
        response_model=TrackingOut,
        responses=RESPONSES,
        openapi_extra=_body_doc(_BATCH_SCHEMA),
        summary="Segment batch" + ("" if _path == "/batch" else f" ({_path[1:]}: the same)"),
        name=f"tracking_batch{_path.replace('/', '_')}",
    )
for _kind, _letter in SINGLE_CALLS.items():
    for _path in (f"/{_kind}", f"/{_letter}"):
        router.add_api_route(
            _path,
            _single_call(_kind),
            methods=["POST"],
            response_model=TrackingOut,
            responses=RESPONSES,
            openapi_extra=_body_doc(_CALL_SCHEMA),
            summary=f"Segment {_kind}" + ("" if _path == f"/{_kind}" else " (analytics.js path)"),
            name=f"tracking_{_kind}" + ("" if _path == f"/{_kind}" else "_short"),
        )
