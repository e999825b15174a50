"""Request log context and the access log (ASGI middleware, just inside AuditLog).

Every line logged while a request is served carries its request_id (the id AuditLog took from
`X-Request-Id` or made, and echoes back), and, once the caller is authenticated, its tenant_id and the
journey_id / enrollment_id the path names (`bind_caller`, called by the `caller` dependency). When the
response is done, one access line: method, PII-safe path, route, status, duration_ms (/health only at
DEBUG, so probes do not drown the log), and the same request counted and timed in the metrics.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.metrics import ApiMetrics
from plumbing.logs import as_uuid, bind, log_context, safe_path

access_logger = logging.getLogger("journeys.access")

# Path parameters naming the ids the log context carries (routes spell them both ways).
_PATH_FIELDS = {"journeyId": "journey_id", "journey_id": "journey_id", "enrollmentId": "enrollment_id"}
_QUIET_PATHS = frozenset({"/health"})


def bind_caller(tenant_id: str, path_params: Mapping[str, Any]) -> None:
    """Add the authenticated tenant and the ids in the path (UUIDs only) to the request's context."""
    fields: dict[str, str] = {"tenant_id": tenant_id}
    for param, field in _PATH_FIELDS.items():
        value = as_uuid(path_params.get(param))
        if value is not None:
            fields[field] = value
    bind(**fields)


class RequestContext:
    def __init__(self, app: ASGIApp, metrics: ApiMetrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        state: dict[str, Any] = scope.setdefault("state", {})
        started = time.perf_counter()
        status = 500  # what the client gets when the app raises before it answers

        async def sending(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        with log_context(request_id=state.get("request_id")):
            try:
                await self.app(scope, receive, sending)
            finally:
                seconds = time.perf_counter() - started
                self._log(scope, status, seconds * 1000)
                route = getattr(scope.get("route"), "path", None)
                self.metrics.request_served(str(scope.get("method", "")), route, status, seconds)

    @staticmethod
    def _log(scope: Scope, status: int, duration_ms: float) -> None:
        method = str(scope.get("method", ""))
        raw_path = str(scope.get("path", ""))
        path = safe_path(raw_path)
        route = getattr(scope.get("route"), "path", None)
        level = logging.DEBUG if raw_path in _QUIET_PATHS else logging.INFO
        access_logger.log(
            level,
            "%s %s %d %.1f ms",
            method,
            path,
            status,
            duration_ms,
            extra={
                "method": method,
                "path": path,
                "route": route,
                "status": status,
                "duration_ms": round(duration_ms, 1),
            },
        )
