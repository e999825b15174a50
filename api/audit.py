"""The audit log (ASGI middleware): one row per mutating /v1 request by an authenticated caller.

The `caller` dependency leaves the verified principal on `request.state`; once the response status
is known (before the response starts, so a client that reads the log afterwards finds its request),
this middleware writes who, which tenant, the method, the path (no query string), the status and a
request id in a short session of its own. Unauthenticated requests (401, no tenant) are not recorded.
An audit failure is logged and never breaks the request. Every HTTP response carries `X-Request-Id`:
the caller's, if it sent a sane one, else a generated one.
"""

from __future__ import annotations

import logging
import re
import uuid
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.auth import Principal
from services.audit import AuditService
from services.uow import UnitOfWork

logger = logging.getLogger(__name__)

MUTATING = frozenset({"POST", "PUT", "PATCH", "DELETE"})
REQUEST_ID_HEADER = b"x-request-id"
_SANE_REQUEST_ID = re.compile(r"[A-Za-z0-9._:\-]{1,128}")


def _request_id(scope: Scope) -> str:
    for name, value in scope.get("headers", []):
        if name == REQUEST_ID_HEADER:
            candidate: str = bytes(value).decode("latin-1")
            if _SANE_REQUEST_ID.fullmatch(candidate):
                return candidate
            break
    return uuid.uuid4().hex


class AuditLog:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = _request_id(scope)
        method = str(scope.get("method", "")).upper()
        path = str(scope.get("path", ""))
        audited = method in MUTATING and (path == "/v1" or path.startswith("/v1/"))
        state: dict[str, Any] = scope.setdefault("state", {})
        state["request_id"] = request_id  # the request's one id: its log lines carry it (request_context)
        recorded = False

        async def sending(message: Message) -> None:
            nonlocal recorded
            if message["type"] == "http.response.start":
                headers = [(k, v) for k, v in message.get("headers", []) if k.lower() != REQUEST_ID_HEADER]
                headers.append((REQUEST_ID_HEADER, request_id.encode("latin-1")))
                message = {**message, "headers": headers}
                if audited and not recorded:
                    recorded = True
                    await self._record(scope, state, method, path, int(message["status"]), request_id)
            await send(message)

        try:
            await self.app(scope, receive, sending)
        except Exception:
            if audited and not recorded:
                recorded = True
                await self._record(scope, state, method, path, 500, request_id)
            raise

    async def _record(
        self, scope: Scope, state: dict[str, Any], method: str, path: str, status: int, request_id: str
    ) -> None:
        principal = state.get("principal")
        if not isinstance(principal, Principal):
            return  # not authenticated (or refused before the caller was known): no tenant to file under
        try:
            sessions = scope["app"].state.resources.sessions
            async with sessions() as session:
                uow = UnitOfWork(session)
                await AuditService(uow).record(
                    tenant_id=principal.tenant_id,
                    subject=principal.subject,
                    method=method,
                    path=path,
                    status_code=status,
                    request_id=request_id,
                    # What the route noted the request asked for (an enrollment action's name and why).
                    detail=state.get("audit_detail"),
                )
                await uow.commit()
        except Exception:
            logger.exception("could not write the audit log entry for %s %s (%s)", method, path, request_id)
