"""Request dependencies: resources, the unit of work (commits before the response), the caller."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Query, Request
from fastapi.routing import APIRoute
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from api.auth import Principal
from api.request_context import bind_caller
from api.resources import AppResources
from domain.errors import AuthenticationError, NotFoundError
from services.uow import UnitOfWork
from store.repositories.pagination import PageRequest

MAX_PAGE_SIZE = 200
# Far beyond any list, and small enough that the OFFSET it makes stays a 64-bit integer (a page
# number of 20 digits was a 500 — found by tests/integration/test_fuzz_api.py).
MAX_PAGE = 10_000_000
_bearer = HTTPBearer(auto_error=False, description="JWT minted by `journeys token`")


def resources(request: Request) -> AppResources:
    held: AppResources = request.app.state.resources
    return held


Resources = Annotated[AppResources, Depends(resources)]


async def unit_of_work(res: Resources) -> AsyncIterator[UnitOfWork]:
    """Commit when the endpoint returns, before the response goes out (scope="function")."""
    async with res.sessions() as session:
        uow = UnitOfWork(session)
        yield uow
        await uow.commit()


Uow = Annotated[UnitOfWork, Depends(unit_of_work, scope="function")]


def caller(
    request: Request,
    res: Resources,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal:
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise AuthenticationError("a bearer token is required (Authorization: Bearer <jwt>)")
    principal = res.verifier.verify(credentials.credentials)
    request.state.principal = principal  # for the audit log (api/audit.py)
    bind_caller(principal.tenant_id, request.path_params)  # for the request's log lines
    res.limiter.acquire(principal.tenant_id)  # per tenant; /health and unauthenticated calls skip it
    return principal


def require(scope: str) -> Callable[..., Principal]:
    """A dependency granting the caller only with `scope`; it carries `__scope__` so that routes
    can be audited (tests) and documented (`x-required-scope` in the OpenAPI operation)."""

    def dependency(principal: Annotated[Principal, Depends(caller)]) -> Principal:
        principal.require(scope)
        return principal

    dependency.__scope__ = (scope,)  # type: ignore[attr-defined]
    return dependency


def require_per_body(*scopes: str) -> Callable[..., Principal]:
    """The caller, for routes whose body decides which of `scopes` it needs (checked in the route)."""

    def dependency(principal: Annotated[Principal, Depends(caller)]) -> Principal:
        if not any(principal.has_scope(scope) for scope in scopes):
            principal.require(scopes[0] if len(scopes) == 1 else " or ".join(scopes))
        return principal

    dependency.__scope__ = scopes  # type: ignore[attr-defined]
    return dependency


def required_scopes(route: APIRoute) -> tuple[str, ...]:
    """The scopes the `require` dependencies of a route name (empty: the route is open)."""
    found: list[str] = []
    pending = [route.dependant]
    while pending:
        dependant = pending.pop()
        scopes = getattr(dependant.call, "__scope__", None)
        if scopes:
            found.extend(s for s in scopes if s not in found)
        pending.extend(dependant.dependencies)
    return tuple(found)


def takes_write_key(route: APIRoute) -> bool:
    """Whether the route authenticates an event source's write key (the tracking API) instead of a
    bearer token: one of its dependencies carries `__write_key__` (api/routers/tracking.py)."""
    pending = [route.dependant]
    while pending:
        dependant = pending.pop()
        if getattr(dependant.call, "__write_key__", False):
            return True
        pending.extend(dependant.dependencies)
    return False


def api_routes(app: FastAPI) -> list[APIRoute]:
    """Every APIRoute of the app, also through included routers (which FastAPI may keep nested)."""
    found: list[APIRoute] = []
    pending: list[Any] = list(app.routes)
    while pending:
        route = pending.pop(0)
        if isinstance(route, APIRoute):
            found.append(route)
        elif hasattr(route, "original_router"):
            pending.extend(route.original_router.routes)
    return found


def document_scopes(app: FastAPI) -> None:
    """Name each route's scope in its OpenAPI operation (`x-required-scope`); call before serving."""
    for route in api_routes(app):
        scopes = required_scopes(route)
        if scopes:
            route.openapi_extra = {**(route.openapi_extra or {}), "x-required-scope": list(scopes)}


def page_request(
    page: Annotated[int, Query(ge=1, le=MAX_PAGE, description="Page number, from 1")] = 1,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE, description="Items per page")] = 20,
) -> PageRequest:
    return PageRequest(page=page, limit=limit)


Paging = Annotated[PageRequest, Depends(page_request)]


def parse_id(value: str, kind: str) -> uuid.UUID:
    """Ids are UUIDs; anything else cannot name an existing object, so it is a 404, not a 422."""
    try:
        return uuid.UUID(value)
    except ValueError:
        raise NotFoundError(kind, value) from None
