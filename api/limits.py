"""Request limits: a body-size cap (ASGI middleware) and a per-tenant token-bucket rate limit.

The rate limiter is in-process: each API instance keeps its own buckets, so N instances behind a
load balancer admit up to N times the configured rate. Deployments running several instances that
need a strict global rate should put a shared limiter (gateway, Redis-backed) in front.
"""

from __future__ import annotations

import json
import math
import threading
import time
from dataclasses import dataclass

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from domain.errors import DomainError
from plumbing.settings import Settings


class RateLimitedError(DomainError):
    def __init__(self, retry_after_seconds: int) -> None:
        super().__init__(f"too many requests for this tenant; retry after {retry_after_seconds} s")
        self.retry_after_seconds = retry_after_seconds


@dataclass
class _Bucket:
    tokens: float
    updated: float


class TenantRateLimiter:
    """Token bucket per tenant: `rate` tokens a second, at most `burst` saved up. rate 0 = off."""

    def __init__(self, rate: float, burst: int) -> None:
        self._rate = rate
        self._burst = burst
        self._buckets: dict[str, _Bucket] = {}
        self._lock = threading.Lock()

    @classmethod
    def from_settings(cls, settings: Settings) -> TenantRateLimiter:
        return cls(settings.rate_limit_per_second, settings.rate_limit_burst)

    def acquire(self, tenant_id: str) -> None:
        if self._rate <= 0:
            return
        now = time.monotonic()
        with self._lock:
            bucket = self._buckets.get(tenant_id)
            if bucket is None:
                bucket = self._buckets[tenant_id] = _Bucket(float(self._burst), now)
            bucket.tokens = min(float(self._burst), bucket.tokens + (now - bucket.updated) * self._rate)
            bucket.updated = now
            if bucket.tokens >= 1:
                bucket.tokens -= 1
                return
            wait = (1 - bucket.tokens) / self._rate
        raise RateLimitedError(max(1, math.ceil(wait)))


class BodySizeLimit:
    """413 problem+json for a request body over `max_bytes` (declared or actually streamed)."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        for name, value in scope.get("headers", []):
            if name == b"content-length":
                try:
                    declared = int(value)
                except ValueError:
                    declared = 0
                if declared > self.max_bytes:
                    await self._refuse(send)
                    return
        # Read the body up to the limit (chunked uploads declare no length), then replay it.
        chunks: list[bytes] = []
        received = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                await self.app(scope, _replay([message], receive), send)
                return
            chunk = message.get("body", b"")
            received += len(chunk)
            if received > self.max_bytes:
                await self._refuse(send)
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        whole: Message = {"type": "http.request", "body": b"".join(chunks), "more_body": False}
        await self.app(scope, _replay([whole], receive), send)

    async def _refuse(self, send: Send) -> None:
        body = json.dumps(
            {
                "type": "urn:journeys:problem:payload-too-large",
                "title": "Content Too Large",
                "status": 413,
                "detail": f"the request body may be at most {self.max_bytes} bytes",
            }
        ).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [
                    (b"content-type", b"application/problem+json"),
                    (b"content-length", str(len(body)).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})


def _replay(messages: list[Message], receive: Receive) -> Receive:
    pending = list(messages)

    async def replaying() -> Message:
        if pending:
            return pending.pop(0)
        return await receive()

    return replaying
