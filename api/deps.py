"""Request dependencies: resources, the unit of work (commits before the response), the caller."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Query, Request
from fastapi.routing import APIRoute
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import AliasChoices, BaseModel
from pydantic.fields import FieldInfo

from api.auth import Principal
from api.request_context import bind_caller
from api.resources import AppResources
from domain.errors import AuthenticationError, FieldIssue, InvalidInputError, NotFoundError
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
    can be audited (tests) and documented (`x-required-scope` in the OpenAPI operation). Once the
    caller is known and allowed, a query parameter the route does not take is refused (422)."""

    def dependency(request: Request, principal: Annotated[Principal, Depends(caller)]) -> Principal:
        principal.require(scope)
        refuse_unknown_query(request)
        return principal

    dependency.__scope__ = (scope,)  # type: ignore[attr-defined]
    return dependency


def require_per_body(*scopes: str) -> Callable[..., Principal]:
    """The caller, for routes whose body decides which of `scopes` it needs (checked in the route)."""

    def dependency(request: Request, principal: Annotated[Principal, Depends(caller)]) -> Principal:
        if not any(principal.has_scope(scope) for scope in scopes):
            principal.require(scopes[0] if len(scopes) == 1 else " or ".join(scopes))
        refuse_unknown_query(request)
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
    return _marked(route, "__write_key__")


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


def accepts_any_query(route: APIRoute) -> bool:
    """Whether the route reads no query string and ignores one (the Segment tracking API: as with
    unknown body fields there, nothing extra may cost a client its events). Marked with
    `__any_query__` on one of its dependencies (api/routers/tracking.py)."""
    return _marked(route, "__any_query__")


def _marked(route: APIRoute, mark: str) -> bool:
    pending = [route.dependant]
    while pending:
        dependant = pending.pop()
        if getattr(dependant.call, mark, False):
            return True
        pending.extend(dependant.dependencies)
    return False


def query_names(route: APIRoute) -> frozenset[str]:
    """Every query parameter name the route declares, through all its dependencies: aliases (the
    wire names), alias choices, and the fields of a query parameter model."""
    known: frozenset[str] | None = getattr(route, _QUERY_NAMES, None)
    if known is not None:
        return known
    names: set[str] = set()
    pending = [route.dependant]
    while pending:
        dependant = pending.pop()
        for param in dependant.query_params:
            names.update(_wire_names(param.field_info, param.alias))
            annotation = param.field_info.annotation
            if isinstance(annotation, type) and issubclass(annotation, BaseModel):
                for name, field in annotation.model_fields.items():
                    names.update(_wire_names(field, field.alias or name))
        pending.extend(dependant.dependencies)
    known = frozenset(names)
    setattr(route, _QUERY_NAMES, known)  # routes are not hashable: the answer is kept on the route
    return known


def _wire_names(field: FieldInfo, alias: str) -> set[str]:
    names = {alias}
    if isinstance(field.validation_alias, str):
        names.add(field.validation_alias)
    elif isinstance(field.validation_alias, AliasChoices):
        names.update(choice for choice in field.validation_alias.choices if isinstance(choice, str))
    return names


_QUERY_NAMES = "_journeys_query_names"


def refuse_unknown_query(request: Request) -> None:
    """A query parameter the matched route does not declare is a 422 naming it — never silently
    ignored (a client asking for `pageNum=3` must not get page 1). Called by the scope dependencies
    (after authentication and authorization) and by the open routes."""
    route = request.scope.get("route")
    if not isinstance(route, APIRoute) or accepts_any_query(route):
        return
    known = query_names(route)
    unknown = sorted({key for key in request.query_params if key not in known})
    if unknown:
        takes = ", ".join(sorted(known)) or "none"
        raise InvalidInputError(
            [
                FieldIssue(("query", name), f"unknown query parameter; this route takes: {takes}")
                for name in unknown
            ]
        )


# Paging. Ours: `page` (from 1) and `limit`. The seeds' names are aliases, on the routes of their seed:
# Genesys (seed 002) `pageNumber` (from 1) and `pageSize` (default 25, the seed's own, when only these
# names are used) on segments and action targets; seed 004's `skip` (an offset) and `take` on
# enrollment lists. Two names for one thing with different values, or skip/take mixed with page, is a
# 422 naming the parameter.
DEFAULT_PAGE_SIZE = 20
GENESYS_PAGE_SIZE = 25
MAX_SKIP = MAX_PAGE * MAX_PAGE_SIZE
_PAGE = "Page number, from 1"
_LIMIT = f"Items per page (default {DEFAULT_PAGE_SIZE}, at most {MAX_PAGE_SIZE})"


@dataclass(frozen=True)
class OffsetPageRequest(PageRequest):
    """A page asked for by offset (seed 004's `skip`/`take`): `skip` need not be a multiple of `take`."""

    skip: int = 0

    @property
    def offset(self) -> int:
        return self.skip


def page_request(
    page: Annotated[int, Query(ge=1, le=MAX_PAGE, description=_PAGE)] = 1,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE, description=_LIMIT)] = DEFAULT_PAGE_SIZE,
) -> PageRequest:
    return PageRequest(page=page, limit=limit)


def _one_of(ours: tuple[str, int | None], theirs: tuple[str, int | None]) -> int | None:
    """The value of a parameter given under our name or the seed's; both with different values: 422."""
    (our_name, our_value), (their_name, their_value) = ours, theirs
    if our_value is not None and their_value is not None and our_value != their_value:
        raise InvalidInputError(
            [FieldIssue(("query", their_name), f"{their_name} and {our_name} name the same thing; give one")]
        )
    return our_value if our_value is not None else their_value


def genesys_page_request(
    page: Annotated[int | None, Query(ge=1, le=MAX_PAGE, description=_PAGE)] = None,
    limit: Annotated[int | None, Query(ge=1, le=MAX_PAGE_SIZE, description=_LIMIT)] = None,
    page_number: Annotated[
        int | None,
        Query(alias="pageNumber", ge=1, le=MAX_PAGE, description="Genesys name of `page` (from 1)"),
    ] = None,
    page_size: Annotated[
        int | None,
        Query(
            alias="pageSize",
            ge=1,
            le=MAX_PAGE_SIZE,
            description=f"Genesys name of `limit` (default {GENESYS_PAGE_SIZE} with Genesys names only)",
        ),
    ] = None,
) -> PageRequest:
    number = _one_of(("page", page), ("pageNumber", page_number))
    size = _one_of(("limit", limit), ("pageSize", page_size))
    genesys = page is None and limit is None and (page_number is not None or page_size is not None)
    default_size = GENESYS_PAGE_SIZE if genesys else DEFAULT_PAGE_SIZE
    return PageRequest(page=number or 1, limit=size or default_size)


def offset_page_request(
    page: Annotated[int | None, Query(ge=1, le=MAX_PAGE, description=_PAGE)] = None,
    limit: Annotated[int | None, Query(ge=1, le=MAX_PAGE_SIZE, description=_LIMIT)] = None,
    skip: Annotated[
        int | None,
        Query(ge=0, le=MAX_SKIP, description="Seed 004: items to skip (an offset; not with `page`)"),
    ] = None,
    take: Annotated[
        int | None, Query(ge=1, le=MAX_PAGE_SIZE, description="Seed 004: items to return (`limit`)")
    ] = None,
) -> PageRequest:
    size = _one_of(("limit", limit), ("take", take)) or DEFAULT_PAGE_SIZE
    if skip is None:
        return PageRequest(page=page or 1, limit=size)
    if page is not None:
        raise InvalidInputError(
            [FieldIssue(("query", "skip"), "give either skip (an offset) or page, not both")]
        )
    return OffsetPageRequest(page=skip // size + 1, limit=size, skip=skip)


Paging = Annotated[PageRequest, Depends(page_request)]
GenesysPaging = Annotated[PageRequest, Depends(genesys_page_request)]
OffsetPaging = Annotated[PageRequest, Depends(offset_page_request)]


def parse_id(value: str, kind: str) -> uuid.UUID:
    """Ids are UUIDs; anything else cannot name an existing object, so it is a 404, not a 422."""
    try:
        return uuid.UUID(value)
    except ValueError:
        raise NotFoundError(kind, value) from None
