"""Request dependencies: resources, the unit of work (commits before the response), the caller."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable
from typing import Annotated

from fastapi import Depends, Query, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from api.auth import Principal
from api.resources import AppResources
from domain.errors import AuthenticationError, NotFoundError
from services.uow import UnitOfWork
from store.repositories.pagination import PageRequest

MAX_PAGE_SIZE = 200
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
    res: Resources,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal:
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise AuthenticationError("a bearer token is required (Authorization: Bearer <jwt>)")
    return res.verifier.verify(credentials.credentials)


def require(scope: str) -> Callable[..., Principal]:
    def dependency(principal: Annotated[Principal, Depends(caller)]) -> Principal:
        principal.require(scope)
        return principal

    return dependency


def page_request(
    page: Annotated[int, Query(ge=1, description="Page number, from 1")] = 1,
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
