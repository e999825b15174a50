"""/v1/deliveryevents: what providers report about the messages we sent (bounces, complaints, opens…).

A provider can only be given a URL, so the route takes two kinds of caller:
- a provider: `POST /v1/deliveryevents?tenant=<tenantId>` (one event; `/batch`: `{"events": [...]}`)
  signed as Standard Webhooks are (`webhook-id`, `webhook-timestamp`, `webhook-signature`) with the
  tenant's delivery-events secret (`POST /v1/deliveryevents/secret`);
- an API client: a bearer token with scope journey:deliveryevent:add (the token's tenant).
A request with an Authorization header is an API client's; any other must be signed. Nothing is kept
from a request that does not authenticate (401).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Query, Request, status
from fastapi.security import HTTPAuthorizationCredentials
from starlette.exceptions import HTTPException

from api.auth import Principal
from api.deps import Resources, Uow, _bearer, caller, refuse_unknown_query, require
from api.request_context import bind_caller
from api.schemas.delivery import (
    MAX_DELIVERY_EVENTS,
    DeliveryEventBatchIn,
    DeliveryEventIn,
    DeliveryEventsOut,
    DeliverySecretOut,
)
from domain.errors import AuthenticationError, FieldIssue, InvalidInputError
from domain.event_limits import MAX_BATCH_BYTES, MAX_EVENT_BYTES, loads
from services.delivery_events import NOT_VERIFIED, DeliveryEventService, SignedRequest

router = APIRouter(prefix="/v1/deliveryevents", tags=["delivery events"])

ADD_SCOPE = "journey:deliveryevent:add"
EditSecret = Annotated[Principal, Depends(require("journey:deliveryevent:edit"))]
TOO_LARGE: dict[int | str, dict[str, Any]] = {413: {"description": f"An event over {MAX_EVENT_BYTES} bytes"}}
TOO_MANY: dict[int | str, dict[str, Any]] = {
    413: {"description": f"A batch over {MAX_BATCH_BYTES} bytes or {MAX_DELIVERY_EVENTS} events"}
}


def _too_large(detail: str) -> HTTPException:
    return HTTPException(status.HTTP_413_CONTENT_TOO_LARGE, detail)


async def limit_delivery_event(request: Request) -> None:
    """Runs before authentication and validation: a body over the limit is a 413, whatever it holds."""
    if len(await request.body()) > MAX_EVENT_BYTES:
        raise _too_large(f"an event may be at most {MAX_EVENT_BYTES} bytes")


async def limit_delivery_events(request: Request) -> None:
    body = await request.body()
    if len(body) > MAX_BATCH_BYTES:
        raise _too_large(f"a batch may be at most {MAX_BATCH_BYTES} bytes")
    try:
        events = loads(body.decode()).get("events")
    except (ValueError, AttributeError):
        return  # not a JSON object: authentication, then body validation, answer
    if isinstance(events, list) and len(events) > MAX_DELIVERY_EVENTS:
        raise _too_large(f"a batch may hold at most {MAX_DELIVERY_EVENTS} events; this one has {len(events)}")


@dataclass(frozen=True)
class DeliveryCaller:
    tenant_id: str
    webhook_id: str | None


async def delivery_caller(
    request: Request,
    uow: Uow,
    res: Resources,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    tenant: Annotated[
        str | None,
        Query(
            min_length=1,
            max_length=64,
            description="The tenant a signed (provider) request is for; with a bearer token, leave it out",
        ),
    ] = None,
    webhook_id: Annotated[
        str | None,
        Header(alias="webhook-id", max_length=256, description="Standard Webhooks: the delivery's id"),
    ] = None,
    webhook_timestamp: Annotated[
        str | None,
        Header(alias="webhook-timestamp", max_length=32, description="Unix seconds; within 5 minutes of now"),
    ] = None,
    webhook_signature: Annotated[
        str | None,
        Header(
            alias="webhook-signature",
            max_length=4096,
            description='`v1,<base64 HMAC-SHA256 of "{webhook-id}.{webhook-timestamp}.{body}">`, '
            "keyed with the tenant's delivery-events secret (several, space separated, allowed)",
        ),
    ] = None,
) -> DeliveryCaller:
    """The tenant the events are for: the bearer token's, or the one whose secret signed the request."""
    if "authorization" in request.headers:
        principal = caller(request, res, credentials)
        principal.require(ADD_SCOPE)
        refuse_unknown_query(request)
        if tenant is not None and tenant != principal.tenant_id:
            raise InvalidInputError(
                [FieldIssue(("query", "tenant"), "a bearer token names the tenant; leave `tenant` out")]
            )
        return DeliveryCaller(principal.tenant_id, webhook_id)
    refuse_unknown_query(request)
    if tenant is None:
        raise AuthenticationError(NOT_VERIFIED)
    signed = SignedRequest(webhook_id, webhook_timestamp, webhook_signature, await request.body())
    await DeliveryEventService(uow).authenticate(tenant, signed)
    bind_caller(tenant, request.path_params)
    res.limiter.acquire(tenant)
    return DeliveryCaller(tenant, webhook_id)


# A bearer token needs this scope (api.deps.required_scopes); a signed request needs none.
delivery_caller.__scope__ = (ADD_SCOPE,)  # type: ignore[attr-defined]
Caller = Annotated[DeliveryCaller, Depends(delivery_caller)]


_AUTH = (
    "From a provider: a signed Standard Webhooks request with `?tenant=`; from an API client: a bearer "
    "token (scope journey:deliveryevent:add)."
)
_EFFECT = (
    "Each event names a message by `messageId` (the provider's id: what the send returned, an email's "
    "Message-ID) or `idempotencyKey` (our send's key). A `bounce` or `complaint` puts the message's "
    "recipient on the suppression list (reason `bounced` / `complained`): later sends to it are "
    "suppressed. `delivered`, `opened` and `clicked` count in the journey's analytics per SEND node. An "
    "event for a message we do not know is kept and counted as `ignored`; one received before (same "
    "`id`, or same `webhook-id` and place in the body, or else the same content) is counted in "
    "`duplicates` and changes nothing."
)


async def _record(uow: Uow, who: DeliveryCaller, events: list[DeliveryEventIn]) -> DeliveryEventsOut:
    result = await DeliveryEventService(uow).record(
        who.tenant_id, [event.to_report() for event in events], webhook_id=who.webhook_id
    )
    return DeliveryEventsOut.build(result)


@router.post(
    "",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=DeliveryEventsOut,
    dependencies=[Depends(limit_delivery_event)],
    responses=TOO_LARGE,
    summary="Report a delivery event",
    description=f"One event. {_AUTH}\n\n{_EFFECT}",
)
async def post_delivery_event(body: DeliveryEventIn, uow: Uow, who: Caller) -> DeliveryEventsOut:
    """One delivery event from a provider or an API client."""
    return await _record(uow, who, [body])


@router.post(
    "/batch",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=DeliveryEventsOut,
    dependencies=[Depends(limit_delivery_events)],
    responses=TOO_MANY,
    summary="Report delivery events",
    description=f'`{{"events": [...]}}`: up to {MAX_DELIVERY_EVENTS} events, kept in order in one '
    f"transaction. {_AUTH}\n\n{_EFFECT}",
)
async def post_delivery_events(body: DeliveryEventBatchIn, uow: Uow, who: Caller) -> DeliveryEventsOut:
    """Several delivery events in one request."""
    return await _record(uow, who, body.events)


@router.post("/secret", response_model=DeliverySecretOut, summary="Rotate the delivery-events secret")
async def rotate_delivery_events_secret(uow: Uow, principal: EditSecret) -> DeliverySecretOut:
    """Make a new delivery-events secret for the tenant and show it, once (Standard Webhooks
    `whsec_<base64>`). Give it to the provider with the URL `/v1/deliveryevents?tenant=<tenantId>`;
    the previous secret stops verifying at once."""
    return DeliverySecretOut(secret=await DeliveryEventService(uow).rotate_secret(principal.tenant_id))
