"""Provider delivery events: what a mail or SMS provider reports about a message we sent — a hard bounce,
a complaint (marked as spam), delivered, opened, clicked.

- Authentication, for providers (which can only be given a URL): Standard Webhooks — `webhook-id`,
  `webhook-timestamp` (within `TOLERANCE` of now), `webhook-signature: v1,<base64 HMAC-SHA256 of
  "{id}.{timestamp}.{body}">` with the tenant's delivery-events secret (`rotate_secret`; it is kept in
  clear, since verifying an HMAC needs it, as webhook action targets keep theirs). API clients use a
  bearer token instead (the router decides which).
- Each event is kept once (`delivery_events`, unique per tenant and dedupe key: the provider's own
  event id when it gives one, else the webhook id and the event's index in the body, else the event's
  content), with the message it names (by the provider's message id or our idempotency key) and that
  message's journey and SEND node, which analytics counts per node.
- An event for a message we do not know is kept with no message and outcome `ignored: unknown message`.
- A bounce or a complaint puts the message's recipient (normalized; the event's `recipient` only when
  the message has none) on the suppression list for the message's channel: later sends to it are
  suppressed with reason `bounced` / `complained`.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Final

from delivery.webhook_signing import SECRET_PREFIX, sign
from domain.consent import BOUNCED, COMPLAINED
from domain.errors import AuthenticationError
from services.uow import UnitOfWork
from store.repositories.delivery_events import DeliveryEventRepository, TenantSettingsRepository
from store.repositories.suppressions import SuppressionRepository
from store.rows import MessageRow

logger = logging.getLogger(__name__)

TOLERANCE: Final = timedelta(minutes=5)
SECRET_BYTES: Final = 32
TYPES: Final = ("bounce", "complaint", "delivered", "opened", "clicked")
SUPPRESSING: Final = {"bounce": BOUNCED, "complaint": COMPLAINED}
UNKNOWN_MESSAGE: Final = "ignored: unknown message"
NOT_VERIFIED: Final = (
    "the delivery event is not signed with the tenant's delivery-events secret: send `webhook-id`, "
    "`webhook-timestamp` (within 5 minutes of now) and `webhook-signature` (Standard Webhooks), with "
    "`?tenant=<tenantId>` — or a bearer token with scope journey:deliveryevent:add"
)


@dataclass(frozen=True)
class DeliveryReport:
    """One event as a provider reports it."""

    type: str  # one of TYPES
    timestamp: datetime
    message_id: str | None = None  # the provider's id for the message (what the send returned)
    idempotency_key: str | None = None  # our send's key
    recipient: str | None = None
    id: str | None = None  # the provider's id for this event
    detail: str | None = None  # the provider's diagnostic (e.g. the SMTP reply of a bounce)


@dataclass(frozen=True)
class SignedRequest:
    """The Standard Webhooks headers of a request and its body, exactly as received."""

    webhook_id: str | None
    timestamp: str | None
    signature: str | None
    body: bytes


@dataclass(frozen=True)
class DeliveryReportResult:
    accepted: int  # kept, for a known message
    ignored: int  # kept, for no message we know
    duplicates: int  # kept before: nothing done


def new_secret() -> str:
    """A Standard Webhooks secret: `whsec_` and 32 random bytes in base64."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode("ascii")


def verify(secret: str, request: SignedRequest, now: datetime) -> None:
    """AuthenticationError unless the request is signed with `secret`, recently (±TOLERANCE)."""
    if not (request.webhook_id and request.timestamp and request.signature):
        raise AuthenticationError(NOT_VERIFIED)
    try:
        timestamp = int(request.timestamp)
        sent_at = datetime.fromtimestamp(timestamp, UTC)
    except (ValueError, OverflowError, OSError):
        raise AuthenticationError(NOT_VERIFIED) from None
    if abs(now - sent_at) > TOLERANCE:
        raise AuthenticationError(NOT_VERIFIED)
    try:
        expected = sign(secret, request.webhook_id, timestamp, request.body).encode()
    except ValueError:  # a stored secret that cannot sign: nothing verifies with it
        raise AuthenticationError(NOT_VERIFIED) from None
    # The header may carry several signatures, space separated (a secret being rotated at the sender).
    if not any(hmac.compare_digest(expected, given.encode()) for given in request.signature.split()):
        raise AuthenticationError(NOT_VERIFIED)


def dedupe_key(report: DeliveryReport, webhook_id: str | None, index: int) -> str:
    """The event's own id when the provider gives one; else the webhook delivery's id and the event's
    place in it (a provider's retry resends both); else a digest of what the event says."""
    if report.id:
        return f"event:{report.id}"
    if webhook_id:
        return f"webhook:{hashlib.sha256(webhook_id.encode()).hexdigest()}:{index}"
    content = json.dumps(
        [
            report.type,
            report.message_id,
            report.idempotency_key,
            report.recipient,
            report.timestamp.astimezone(UTC).isoformat(),
        ]
    )
    return f"content:{hashlib.sha256(content.encode()).hexdigest()}"


class DeliveryEventService:
    def __init__(self, uow: UnitOfWork) -> None:
        self._events = DeliveryEventRepository(uow.session)
        self._settings = TenantSettingsRepository(uow.session)
        self._suppressions = SuppressionRepository(uow.session)

    async def rotate_secret(self, tenant_id: str) -> str:
        """A new delivery-events secret for the tenant (the old one stops verifying at once)."""
        secret = new_secret()
        await self._settings.set_delivery_events_secret(tenant_id, secret)
        return secret

    async def authenticate(
        self, tenant_id: str, request: SignedRequest, *, now: datetime | None = None
    ) -> None:
        """AuthenticationError unless the request is signed with the tenant's secret. A tenant without
        one (or unknown) fails the same way, so the answer tells nothing about which tenants exist."""
        secret = await self._settings.delivery_events_secret(tenant_id)
        if not secret:
            raise AuthenticationError(NOT_VERIFIED)
        verify(secret, request, now or datetime.now(UTC))

    async def record(
        self, tenant_id: str, reports: list[DeliveryReport], *, webhook_id: str | None = None
    ) -> DeliveryReportResult:
        accepted = ignored = duplicates = 0
        for index, report in enumerate(reports):
            message = await self._events.find_message(
                tenant_id, provider_message_id=report.message_id, idempotency_key=report.idempotency_key
            )
            key = dedupe_key(report, webhook_id, index)
            reason = SUPPRESSING.get(report.type)
            if message is None:
                outcome = UNKNOWN_MESSAGE
            else:
                outcome = f"suppression: {reason}" if reason else "recorded"
            if not await self._events.record(
                tenant_id,
                key,
                type=report.type,
                message=message,
                outcome=outcome,
                occurred_at=report.timestamp,
            ):
                duplicates += 1
                continue
            if message is None:
                ignored += 1
                continue
            accepted += 1
            if reason is not None:
                await self._suppress(tenant_id, message, report, reason)
        return DeliveryReportResult(accepted=accepted, ignored=ignored, duplicates=duplicates)

    async def _suppress(
        self, tenant_id: str, message: MessageRow, report: DeliveryReport, reason: str
    ) -> None:
        address = message.recipient or report.recipient
        if not address:
            logger.info("a %s for message %s names no address to suppress", report.type, message.id)
            return
        _, created = await self._suppressions.add(
            tenant_id, message.channel, address, reason, message_id=message.id, detail=report.detail
        )
        if created:
            logger.info(
                "suppressed a %s address after a %s (message %s)", message.channel, report.type, message.id
            )
