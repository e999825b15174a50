"""Cross-origin answers for the tracking routes only (ASGI middleware).

analytics.js sends its calls from the customer's web pages, so the tracking routes answer any origin
(`Access-Control-Allow-Origin: *`) and their preflights (OPTIONS) — a write key is public in a web
page anyway, and grants nothing but sending events. Credentials (cookies) are never allowed. No other
route answers cross-origin: the management API is for servers and the console (same origin).
"""

from __future__ import annotations

from collections.abc import Iterable

from starlette.types import ASGIApp, Message, Receive, Scope, Send

_ALLOW_ORIGIN = (b"access-control-allow-origin", b"*")
_PREFLIGHT_HEADERS = [
    _ALLOW_ORIGIN,
    (b"access-control-allow-methods", b"POST, OPTIONS"),
    (b"access-control-allow-headers", b"authorization, content-type, content-encoding, x-request-id"),
    (b"access-control-max-age", b"86400"),
    (b"content-length", b"0"),
]


class TrackingCors:
    def __init__(self, app: ASGIApp, paths: Iterable[str]) -> None:
        self.app = app
        self.paths = frozenset(paths)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope.get("path") not in self.paths:
            await self.app(scope, receive, send)
            return
        if scope.get("method") == "OPTIONS":
            await send({"type": "http.response.start", "status": 204, "headers": _PREFLIGHT_HEADERS})
            await send({"type": "http.response.body", "body": b""})
            return

        async def sending(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [(k, v) for k, v in message.get("headers", []) if k.lower() != _ALLOW_ORIGIN[0]]
                message = {**message, "headers": [*headers, _ALLOW_ORIGIN]}
            await send(message)

        await self.app(scope, receive, sending)
