"""The webhook channel: one signed POST per message, Standard Webhooks headers, SSRF-guarded.

Signing follows https://www.standardwebhooks.com: `webhook-id`, `webhook-timestamp` and
`webhook-signature: v1,<base64 HMAC-SHA256 of "{id}.{timestamp}.{body}">`. The id is the message's
idempotency key, so a retried send carries the same id and the receiver can dedupe.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hashlib
import hmac
import json
import re
import socket
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, timedelta
from email.utils import parsedate_to_datetime
from http.cookiejar import CookieJar, DefaultCookiePolicy

import httpx

from activities.channels import DeliveryReceipt, OutboundMessage, PermanentDeliveryError
from activities.netguard import AllowList, BlockedDestinationError, resolve_and_check

USER_AGENT = "journeys-webhooks/1"
SECRET_PREFIX = "whsec_"
# A receiver can ask for any delay in Retry-After; past an hour we would rather ask again than park
# the send for days on a buggy or hostile header.
MAX_RETRY_AFTER = timedelta(hours=1)
MIN_RETRY_AFTER = timedelta(seconds=1)
# Enough of an error response to explain a refusal in the message log, not enough to fill it.
ERROR_SNIPPET_BYTES = 300
# Headers the channel owns: a target's extra headers cannot replace them.
RESERVED_HEADERS = frozenset(
    {"host", "content-type", "content-length", "user-agent", "webhook-id", "webhook-timestamp"}
    | {"webhook-signature", "connection", "transfer-encoding"}
)
_HEADER_SAFE_ID = re.compile(r"[!-~]{1,255}")


class TransientDeliveryError(Exception):
    """The receiver is down, slow or overloaded: the activity retries with backoff."""

    def __init__(self, detail: str, *, retry_after: float | None = None) -> None:
        super().__init__(detail)
        self.retry_after = retry_after


class RetryLaterError(TransientDeliveryError):
    """429: the receiver asked us to slow down, possibly saying for how long (`retry_after`, seconds)."""


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


def sign(secret: str, msg_id: str, timestamp: int, body: bytes) -> str:
    """The `webhook-signature` value: `v1,` and the base64 HMAC-SHA256 of `{msg_id}.{timestamp}.{body}`."""
    signed_content = f"{msg_id}.{timestamp}.".encode() + body
    digest = hmac.new(_signing_key(secret), signed_content, hashlib.sha256).digest()
    return f"v1,{base64.b64encode(digest).decode('ascii')}"


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


def parse_retry_after(value: str | None, *, now: float) -> float | None:
    """Seconds to wait from a `Retry-After` header (delay-seconds or HTTP-date); None if absent or bad."""
    if value is None:
        return None
    text = value.strip()
    if text.isdigit():
        return float(text)
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, when.timestamp() - now)


def temporal_retry_delay(error: TransientDeliveryError) -> timedelta | None:
    """`next_retry_delay` for an ApplicationError: the receiver's wish, clamped; None keeps the backoff."""
    if error.retry_after is None:
        return None
    return min(max(timedelta(seconds=error.retry_after), MIN_RETRY_AFTER), MAX_RETRY_AFTER)


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
        AllowList.parse(allow)  # a malformed entry fails at startup, not on every send
        self._target_for = target_for
        self._allow = tuple(allow)
        self._clock = clock
        self._owns_client = client is None
        self._client = client or httpx.AsyncClient(
            # No proxies from the environment: a proxy resolves the name itself, after our check.
            trust_env=False,
            follow_redirects=False,
            # Refuse every cookie: the pool is shared by all tenants' targets.
            cookies=CookieJar(policy=DefaultCookiePolicy(allowed_domains=[])),
        )

    async def aclose(self) -> None:
        if self._owns_client:
            await self._client.aclose()

    async def send(self, message: OutboundMessage) -> DeliveryReceipt:
        target = (
            self._target_for
            if isinstance(self._target_for, WebhookTarget)
            else await self._target_for(message)
        )
        webhook_id = webhook_id_for(message.idempotency_key)
        body = message.body.encode()
        headers = self._headers(target, webhook_id, body)
        origin = _origin(target.url)
        try:
            # One deadline over resolution, connect, upload and response, so a slow target costs at
            # most its own timeout and never holds anything else.
            async with asyncio.timeout(target.timeout_seconds):
                status, response_headers, snippet = await self._post(target, headers, body, origin)
        except TimeoutError as exc:
            raise TransientDeliveryError(f"{origin} did not answer within {target.timeout_seconds}s") from exc

        if 200 <= status < 300:
            return DeliveryReceipt(provider_message_id=webhook_id)
        detail = f"{origin} answered {status}" + (f": {snippet}" if snippet else "")
        if status == 410:
            raise TargetGoneError(detail)
        if status == 429:
            raise RetryLaterError(detail, retry_after=self._retry_after(response_headers))
        # 408: the receiver timed out reading our request; sending again is what RFC 9110 suggests.
        if status == 408 or status >= 500:
            raise TransientDeliveryError(detail, retry_after=self._retry_after(response_headers))
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

    async def _post(
        self, target: WebhookTarget, headers: dict[str, str], body: bytes, origin: str
    ) -> tuple[int, httpx.Headers, str]:
        try:
            addresses = await resolve_and_check(target.url, allow=self._allow)
        except BlockedDestinationError as exc:
            raise PermanentDeliveryError(f"webhook target refused: {exc}") from exc
        except socket.gaierror as exc:
            # Also NXDOMAIN: a record being created or a resolver blip looks the same from here.
            raise TransientDeliveryError(f"cannot resolve {origin}: {exc}") from exc
        try:
            url = httpx.URL(target.url)
        except httpx.InvalidURL as exc:
            raise PermanentDeliveryError(f"webhook URL is not valid: {exc}") from exc

        connect_error: httpx.ConnectError | None = None
        for address in addresses:
            request_url, request_headers, extensions = _pinned(url, address, headers)
            try:
                async with self._client.stream(
                    "POST",
                    request_url,
                    content=body,
                    headers=request_headers,
                    timeout=httpx.Timeout(target.timeout_seconds),
                    follow_redirects=False,
                    extensions=extensions,
                ) as response:
                    return response.status_code, response.headers, await _snippet(response)
            except httpx.ConnectError as exc:
                # Nothing was sent: trying the next checked address cannot deliver twice.
                connect_error = exc
            except httpx.LocalProtocolError as exc:
                raise PermanentDeliveryError(f"request to {origin} cannot be sent: {exc}") from exc
            except httpx.TimeoutException as exc:
                raise TransientDeliveryError(f"{origin} timed out ({type(exc).__name__})") from exc
            except httpx.TransportError as exc:
                raise TransientDeliveryError(f"{origin}: {type(exc).__name__}: {exc}") from exc
        raise TransientDeliveryError(f"cannot connect to {origin}: {connect_error}") from connect_error

    def _retry_after(self, headers: httpx.Headers) -> float | None:
        return parse_retry_after(headers.get("retry-after"), now=self._clock())


def _pinned(
    url: httpx.URL, address: str, headers: dict[str, str]
) -> tuple[httpx.URL, dict[str, str], dict[str, str]]:
    """The request aimed at the checked `address`, still naming the original host to the receiver."""
    if url.host == address:
        return url, headers, {}
    name = url.raw_host.decode("ascii")
    host_header = (f"[{name}]" if ":" in name else name) + (f":{url.port}" if url.port is not None else "")
    pinned_headers = {**headers, "host": host_header}
    extensions: dict[str, str] = {}
    if url.scheme == "https":
        # TLS must still verify the certificate for the name, not the address.
        extensions["sni_hostname"] = name
        # The pool keys connections by address alone: a kept-alive TLS connection verified for one
        # name would otherwise carry requests for another name hosted on the same address.
        pinned_headers["connection"] = "close"
    return url.copy_with(host=address), pinned_headers, extensions


def _signing_key(secret: str) -> bytes:
    if not secret:
        raise ValueError("the secret is empty")
    if secret.startswith(SECRET_PREFIX):
        try:
            return base64.b64decode(secret.removeprefix(SECRET_PREFIX), validate=True)
        except binascii.Error as exc:
            raise ValueError(f"a {SECRET_PREFIX} secret must be base64: {exc}") from exc
    return secret.encode()


def _content_type(body: bytes) -> str:
    try:
        json.loads(body, parse_constant=_reject_non_json_constant)
    except (ValueError, RecursionError):
        return "text/plain; charset=utf-8"
    return "application/json"


def _reject_non_json_constant(name: str) -> object:
    raise ValueError(f"{name} is not JSON")


def _origin(url: str) -> str:
    """scheme://host:port, for error messages: paths and queries may carry tokens."""
    try:
        parsed = httpx.URL(url)
    except httpx.InvalidURL:
        return "(invalid URL)"
    port = f":{parsed.port}" if parsed.port is not None else ""
    host = f"[{parsed.host}]" if ":" in parsed.host else parsed.host
    return f"{parsed.scheme}://{host}{port}"


async def _snippet(response: httpx.Response) -> str:
    if 200 <= response.status_code < 300:
        return ""
    collected = b""
    async for chunk in response.aiter_bytes():
        collected += chunk
        if len(collected) >= ERROR_SNIPPET_BYTES:
            break
    return collected[:ERROR_SNIPPET_BYTES].decode("utf-8", "replace").strip()
