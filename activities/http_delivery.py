"""One SSRF-guarded HTTP POST, shared by the webhook channel and the SMS/PUSH provider adapter.

The host is resolved and checked by `netguard.resolve_and_check`, and the request is sent to one of the
checked addresses (never resolved again, so DNS rebinding cannot walk around the guard), still naming the
original host to the receiver (Host header, TLS SNI). Transport problems map onto the delivery errors the
send activity knows: refused destinations and malformed requests are permanent, resolution failures,
connection errors and timeouts are transient. What an HTTP status means is each channel's call.
"""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC
from email.utils import parsedate_to_datetime
from http.cookiejar import CookieJar, DefaultCookiePolicy

import httpx

from activities.channels import PermanentDeliveryError, TransientDeliveryError
from delivery.netguard import AllowList, BlockedDestinationError, resolve_and_check

# Enough of an error response to explain a refusal in the message log, not enough to fill it.
ERROR_SNIPPET_BYTES = 300


@dataclass(frozen=True)
class HttpReply:
    status: int
    headers: httpx.Headers
    # A success's body up to the caller's limit (nothing by default); a failure's first bytes.
    body: bytes

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300

    def snippet(self) -> str:
        return self.body[:ERROR_SNIPPET_BYTES].decode("utf-8", "replace").strip()


class GuardedPoster:
    """POSTs to user-supplied URLs through the SSRF guard, within one deadline per request."""

    def __init__(
        self,
        *,
        allow: Sequence[str] = (),
        client: httpx.AsyncClient | None = None,
        clock: Callable[[], float] = time.time,
        what: str = "webhook",
    ) -> None:
        """`client`, when given, is the caller's: it must not use a proxy (the proxy would resolve
        the host itself, after our check) and it is not closed by `aclose`. `what` names the
        destination in error messages ("webhook target refused: ...")."""
        AllowList.parse(allow)  # a malformed entry fails at startup, not on every send
        self._allow = tuple(allow)
        self._clock = clock
        self._what = what
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

    async def post(
        self,
        url: str,
        headers: Mapping[str, str],
        body: bytes,
        *,
        timeout_seconds: float,
        success_body_bytes: int = 0,
    ) -> HttpReply:
        """One POST; a reply whatever its status, or a Permanent/TransientDeliveryError."""
        origin = display_origin(url)
        try:
            # One deadline over resolution, connect, upload and response, so a slow target costs at
            # most its own timeout and never holds anything else.
            async with asyncio.timeout(timeout_seconds):
                return await self._post(url, dict(headers), body, origin, timeout_seconds, success_body_bytes)
        except TimeoutError as exc:
            raise TransientDeliveryError(f"{origin} did not answer within {timeout_seconds}s") from exc

    def retry_after(self, headers: httpx.Headers) -> float | None:
        return parse_retry_after(headers.get("retry-after"), now=self._clock())

    async def _post(
        self,
        target: str,
        headers: dict[str, str],
        body: bytes,
        origin: str,
        timeout_seconds: float,
        success_body_bytes: int,
    ) -> HttpReply:
        try:
            addresses = await resolve_and_check(target, allow=self._allow)
        except BlockedDestinationError as exc:
            raise PermanentDeliveryError(f"{self._what} target refused: {exc}") from exc
        except socket.gaierror as exc:
            # Also NXDOMAIN: a record being created or a resolver blip looks the same from here.
            raise TransientDeliveryError(f"cannot resolve {origin}: {exc}") from exc
        try:
            url = httpx.URL(target)
        except httpx.InvalidURL as exc:
            raise PermanentDeliveryError(f"{self._what} URL is not valid: {exc}") from exc

        connect_error: httpx.ConnectError | None = None
        for address in addresses:
            request_url, request_headers, extensions = _pinned(url, address, headers)
            try:
                async with self._client.stream(
                    "POST",
                    request_url,
                    content=body,
                    headers=request_headers,
                    timeout=httpx.Timeout(timeout_seconds),
                    follow_redirects=False,
                    extensions=extensions,
                ) as response:
                    ok = 200 <= response.status_code < 300
                    limit = success_body_bytes if ok else ERROR_SNIPPET_BYTES
                    return HttpReply(response.status_code, response.headers, await _read(response, limit))
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


def display_origin(url: str) -> str:
    """scheme://host:port, for error messages: paths and queries may carry tokens."""
    try:
        parsed = httpx.URL(url)
    except httpx.InvalidURL:
        return "(invalid URL)"
    port = f":{parsed.port}" if parsed.port is not None else ""
    host = f"[{parsed.host}]" if ":" in parsed.host else parsed.host
    return f"{parsed.scheme}://{host}{port}"


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


async def _read(response: httpx.Response, limit: int) -> bytes:
    """At most `limit` bytes of the body: a hostile receiver cannot make us buffer more."""
    if limit <= 0:
        return b""
    collected = b""
    async for chunk in response.aiter_bytes():
        collected += chunk
        if len(collected) >= limit:
            break
    return collected[:limit]
