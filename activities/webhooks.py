"""The webhook channel: one signed POST per message, Standard Webhooks headers, SSRF-guarded.

Signing follows https://www.standardwebhooks.com: `webhook-id`, `webhook-timestamp` and
`webhook-signature: v1,<base64 HMAC-SHA256 of "{id}.{timestamp}.{body}">`. The id is the message's
idempotency key, so a retried send carries the same id and the receiver can dedupe.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field

import httpx

# Delivery errors and retry helpers are shared with the other HTTP channels; re-exported here, where
# the webhook channel's callers have always found them.
from activities.channels import (
    DeliveryReceipt,
    OutboundMessage,
    PermanentDeliveryError,
)
from activities.channels import RetryLaterError as RetryLaterError
from activities.channels import TransientDeliveryError as TransientDeliveryError
from activities.channels import temporal_retry_delay as temporal_retry_delay
from activities.http_delivery import GuardedPoster, display_origin
from activities.http_delivery import parse_retry_after as parse_retry_after
from delivery.webhook_signing import RESERVED_HEADERS as RESERVED_HEADERS
from delivery.webhook_signing import SECRET_PREFIX as SECRET_PREFIX
from delivery.webhook_signing import sign as sign

USER_AGENT = "journeys-webhooks/1"
_HEADER_SAFE_ID = re.compile(r"[!-~]{1,255}")


class TargetGoneError(PermanentDeliveryError):
    """410 Gone: the receiver retired this endpoint; the caller should disable the target."""


@dataclass(frozen=True)
class WebhookTarget:
    url: str
    secret: str | None
    headers: Mapping[str, str] = field(default_factory=dict)
    timeout_seconds: float = 10.0

    def __post_init__(self) -> None:
        if not self.timeout_seconds > 0:
            raise ValueError(f"timeout_seconds must be positive, not {self.timeout_seconds}")


def verify(
    secret: str,
    headers: Mapping[str, str],
    body: bytes,
    *,
    tolerance_seconds: int = 300,
    now: float | None = None,
) -> bool:
    """Whether a received webhook is authentic and fresh (any one of the listed v1 signatures matches)."""
    lowered = {name.lower(): value for name, value in headers.items()}
    msg_id = lowered.get("webhook-id")
    timestamp_text = lowered.get("webhook-timestamp")
    signatures = lowered.get("webhook-signature")
    if not msg_id or not timestamp_text or not signatures:
        return False
    try:
        timestamp = int(timestamp_text)
    except ValueError:
        return False
    current = time.time() if now is None else now
    # Both directions: a timestamp from the future is as suspicious as a stale one.
    if abs(current - timestamp) > tolerance_seconds:
        return False
    expected = sign(secret, msg_id, timestamp, body).encode()
    # Several space-separated signatures let a sender roll its secret without a gap.
    return any(
        hmac.compare_digest(candidate.encode(), expected)
        for candidate in signatures.split()
        if candidate.startswith("v1,")
    )


def webhook_id_for(idempotency_key: str) -> str:
    """The key itself when it is a safe header value, else a stable digest of it (same key, same id)."""
    if _HEADER_SAFE_ID.fullmatch(idempotency_key):
        return idempotency_key
    return "msg_" + hashlib.sha256(idempotency_key.encode()).hexdigest()[:32]


class WebhookChannel:
    def __init__(
        self,
        target_for: Callable[[OutboundMessage], Awaitable[WebhookTarget]] | WebhookTarget,
        *,
        allow: Sequence[str] = (),
        client: httpx.AsyncClient | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        """`client`, when given, is the caller's: it must not use a proxy (the proxy would resolve
        the host itself, after our check) and it is not closed by `aclose`."""
        self._target_for = target_for
        self._clock = clock
        self._http = GuardedPoster(allow=allow, client=client, clock=clock, what="webhook")

    async def aclose(self) -> None:
        await self._http.aclose()

    async def send(self, message: OutboundMessage) -> DeliveryReceipt:
        target = (
            self._target_for
            if isinstance(self._target_for, WebhookTarget)
            else await self._target_for(message)
        )
        webhook_id = webhook_id_for(message.idempotency_key)
        body = message.body.encode()
        headers = self._headers(target, webhook_id, body)
        reply = await self._http.post(target.url, headers, body, timeout_seconds=target.timeout_seconds)
        if reply.ok:
            return DeliveryReceipt(provider_message_id=webhook_id)
        snippet = reply.snippet()
        detail = f"{display_origin(target.url)} answered {reply.status}" + (f": {snippet}" if snippet else "")
        if reply.status == 410:
            raise TargetGoneError(detail)
        if reply.status == 429:
            raise RetryLaterError(detail, retry_after=self._http.retry_after(reply.headers))
        # 408: the receiver timed out reading our request; sending again is what RFC 9110 suggests.
        if reply.status == 408 or reply.status >= 500:
            raise TransientDeliveryError(detail, retry_after=self._http.retry_after(reply.headers))
        # 3xx included: redirects are never followed (the new location was not checked), and
        # the target's configuration has to change before a retry could succeed.
        raise PermanentDeliveryError(detail)

    def _headers(self, target: WebhookTarget, webhook_id: str, body: bytes) -> dict[str, str]:
        timestamp = int(self._clock())
        headers = {
            name: value for name, value in target.headers.items() if name.lower() not in RESERVED_HEADERS
        }
        headers.update(
            {
                "content-type": _content_type(body),
                "user-agent": USER_AGENT,
                "webhook-id": webhook_id,
                "webhook-timestamp": str(timestamp),
            }
        )
        if target.secret is not None:
            try:
                headers["webhook-signature"] = sign(target.secret, webhook_id, timestamp, body)
            except ValueError as exc:
                raise PermanentDeliveryError(f"the webhook secret is not usable: {exc}") from exc
        return headers


def _content_type(body: bytes) -> str:
    try:
        json.loads(body, parse_constant=_reject_non_json_constant)
    except (ValueError, RecursionError):
        return "text/plain; charset=utf-8"
    return "application/json"


def _reject_non_json_constant(name: str) -> object:
    raise ValueError(f"{name} is not JSON")
