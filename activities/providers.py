"""SMS and PUSH through one HTTP provider adapter: a JSON POST per message, keyed for dedup.

An SMS or PUSH action target holds `settings: {url, apiKey?, from?, timeoutSeconds?}`. Each message is

    POST <url>
    Content-Type: application/json
    Idempotency-Key: <the message's idempotency key>
    Authorization: Bearer <apiKey>            (when set)

    {"to": "...", "from": "..." | null, "body": "...", "subject": "..." (when any), "idempotencyKey": "..."}

The key travels in the header (the IETF `Idempotency-Key` draft, as Stripe and Twilio-style gateways
take it) and in the body, so a retried send is recognisable downstream whichever the provider reads.
The URL passes the same SSRF guard as webhooks (`http_delivery.GuardedPoster`, allow-list from
settings). Answers: 2xx is sent (provider id from the JSON `id` when there is one, else the key); 429
retries after its Retry-After; 408, 409 (a request with the same key still in flight) and 5xx retry
with backoff, as do timeouts and connection errors; any other status is a permanent refusal.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import httpx
from pydantic import Field, field_validator

from activities.channels import (
    DeliveryReceipt,
    OutboundMessage,
    PermanentDeliveryError,
    RetryLaterError,
    TransientDeliveryError,
)
from activities.http_delivery import GuardedPoster, display_origin
from domain.wire import WireModel

USER_AGENT = "journeys-providers/1"
# Below the workflow's start-to-close timeout of the send activity, like webhooks.
MAX_PROVIDER_TIMEOUT_SECONDS = 25.0
# A provider's success answer is read this far, for its message id; a longer one keeps the key as id.
MAX_SUCCESS_BODY_BYTES = 16_384
MAX_PROVIDER_ID_LENGTH = 256
_CONTROL_CHARACTERS = re.compile(r"[\x00-\x1f\x7f]")
_PHONE_FORMATTING = re.compile(r"[\s().\-/]")
_PHONE = re.compile(r"\+?[0-9]{6,15}")
MAX_PUSH_TOKEN_LENGTH = 4096


class ProviderSettings(WireModel):
    """The `settings` of an SMS or PUSH action target, as stored and as the send activity reads them."""

    url: str = Field(min_length=1, max_length=2048, description="http(s) URL of the provider's send API")
    api_key: str | None = Field(
        default=None, min_length=1, max_length=4096, description="sent as `Authorization: Bearer <apiKey>`"
    )
    sender: str | None = Field(
        default=None, alias="from", max_length=256, description="sender id or number (`from`)"
    )
    timeout_seconds: float = Field(default=10.0, gt=0, le=MAX_PROVIDER_TIMEOUT_SECONDS)

    @field_validator("api_key")
    @classmethod
    def _header_safe(cls, api_key: str | None) -> str | None:
        if api_key is not None and _CONTROL_CHARACTERS.search(api_key):
            raise ValueError("the API key holds control characters")
        return api_key

    def target(self) -> ProviderTarget:
        return ProviderTarget(
            url=self.url, api_key=self.api_key, sender=self.sender, timeout_seconds=self.timeout_seconds
        )


@dataclass(frozen=True)
class ProviderTarget:
    url: str
    api_key: str | None = None
    sender: str | None = None
    timeout_seconds: float = 10.0

    def __post_init__(self) -> None:
        if not self.timeout_seconds > 0:
            raise ValueError(f"timeout_seconds must be positive, not {self.timeout_seconds}")


class RecipientError(ValueError):
    """The customer's profile holds no usable address for this channel."""


def phone_number(value: object) -> str:
    """The `phone` trait as the provider gets it: formatting removed, 6 to 15 digits, optional `+`."""
    if not isinstance(value, str) or not value.strip():
        raise RecipientError("the customer has no `phone` trait")
    number = _PHONE_FORMATTING.sub("", value)
    if not _PHONE.fullmatch(number):
        raise RecipientError("the customer's `phone` trait is not a phone number")
    return number


def push_token(value: object) -> str:
    if not isinstance(value, str) or not value.strip():
        raise RecipientError("the customer has no `pushToken` trait")
    if len(value) > MAX_PUSH_TOKEN_LENGTH or _CONTROL_CHARACTERS.search(value):
        raise RecipientError("the customer's `pushToken` trait is not a usable token")
    return value.strip()


class ProviderChannel:
    """One SMS or PUSH provider account: one POST per message."""

    def __init__(
        self,
        target: ProviderTarget,
        *,
        allow: Sequence[str] = (),
        client: httpx.AsyncClient | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        """`client`, when given, is the caller's (no proxy; not closed by `aclose`)."""
        self._target = target
        self._http = GuardedPoster(allow=allow, client=client, clock=clock, what="provider")

    async def aclose(self) -> None:
        await self._http.aclose()

    async def send(self, message: OutboundMessage) -> DeliveryReceipt:
        target = self._target
        payload: dict[str, str | None] = {
            "to": message.recipient,
            "from": target.sender,
            "body": message.body,
            "idempotencyKey": message.idempotency_key,
        }
        if message.subject is not None:
            payload["subject"] = message.subject
        headers = {
            "content-type": "application/json",
            "accept": "application/json",
            "user-agent": USER_AGENT,
            "idempotency-key": message.idempotency_key,
        }
        if target.api_key is not None:
            headers["authorization"] = f"Bearer {target.api_key}"
        body = json.dumps(payload, ensure_ascii=False).encode()
        reply = await self._http.post(
            target.url,
            headers,
            body,
            timeout_seconds=target.timeout_seconds,
            success_body_bytes=MAX_SUCCESS_BODY_BYTES,
        )
        if reply.ok:
            return DeliveryReceipt(provider_message_id=_provider_id(reply.body) or message.idempotency_key)
        snippet = reply.snippet()
        detail = f"{display_origin(target.url)} answered {reply.status}" + (f": {snippet}" if snippet else "")
        if reply.status == 429:
            raise RetryLaterError(detail, retry_after=self._http.retry_after(reply.headers))
        # 409: the provider is still working on a request with this key; asking again later is safe.
        if reply.status in (408, 409) or reply.status >= 500:
            raise TransientDeliveryError(detail, retry_after=self._http.retry_after(reply.headers))
        raise PermanentDeliveryError(detail)


def _provider_id(body: bytes) -> str | None:
    """The `id` of a JSON object answer (string or number), if the provider gave one."""
    try:
        document = json.loads(body)
    except (ValueError, RecursionError):
        return None
    identifier = document.get("id") if isinstance(document, dict) else None
    if isinstance(identifier, bool) or not isinstance(identifier, str | int):
        return None
    text = str(identifier).strip()
    if not text or len(text) > MAX_PROVIDER_ID_LENGTH:
        return None
    return text
