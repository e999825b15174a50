"""Every error leaves as application/problem+json (RFC 9457), from this one place."""

from __future__ import annotations

import logging
from typing import Any

import asyncpg
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from starlette.exceptions import HTTPException as StarletteHTTPException

from domain.errors import (
    AuthenticationError,
    BadRequestError,
    ConflictError,
    DependencyUnavailableError,
    DomainError,
    InvalidInputError,
    NotFoundError,
    PayloadTooLargeError,
    PermissionDeniedError,
    UnsupportedEncodingError,
)

logger = logging.getLogger(__name__)
PROBLEM_JSON = "application/problem+json"

_STATUS: list[tuple[type[DomainError], int, str]] = [
    (NotFoundError, 404, "not-found"),
    (ConflictError, 409, "conflict"),
    (InvalidInputError, 422, "validation-error"),
    (AuthenticationError, 401, "unauthorized"),
    (PermissionDeniedError, 403, "forbidden"),
    (DependencyUnavailableError, 503, "dependency-unavailable"),
    (BadRequestError, 400, "bad-request"),
    (PayloadTooLargeError, 413, "payload-too-large"),
    (UnsupportedEncodingError, 415, "unsupported-encoding"),
]
_TITLES = {
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    409: "Conflict",
    413: "Content Too Large",
    415: "Unsupported Media Type",
    422: "Unprocessable Content",
    429: "Too Many Requests",
    500: "Internal Server Error",
    503: "Service Unavailable",
}


def problem(
    status: int,
    detail: str,
    *,
    slug: str | None = None,
    title: str | None = None,
    errors: list[dict[str, Any]] | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    body: dict[str, Any] = {
        "type": f"urn:journeys:problem:{slug or status}",
        "title": title or _TITLES.get(status, "Error"),
        "status": status,
        "detail": detail,
    }
    if errors is not None:
        body["errors"] = errors
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON, headers=headers)


def _loc(parts: tuple[Any, ...] | list[Any]) -> list[str | int]:
    return [p if isinstance(p, int) else str(p) for p in parts]


async def _domain_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, DomainError)
    for kind, status, slug in _STATUS:
        if isinstance(exc, kind):
            errors = None
            if isinstance(exc, InvalidInputError):
                errors = [{"loc": _loc(i.loc), "msg": i.msg} for i in exc.issues]
            headers = None
            if isinstance(exc, AuthenticationError):
                headers = {"WWW-Authenticate": exc.challenge}
            if status == 503:
                headers = {"Retry-After": "5"}
            return problem(status, exc.detail, slug=slug, errors=errors, headers=headers)
    retry_after = getattr(exc, "retry_after_seconds", None)
    if isinstance(retry_after, int):  # api.limits.RateLimitedError
        return problem(429, exc.detail, slug="rate-limited", headers={"Retry-After": str(retry_after)})
    return problem(400, exc.detail, slug="bad-request")


async def _validation_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = [{"loc": _loc(e.get("loc", ())), "msg": e.get("msg", "invalid")} for e in exc.errors()]
    first = errors[0] if errors else {"loc": [], "msg": "invalid"}
    where = ".".join(str(p) for p in first["loc"])
    return problem(422, f"{where}: {first['msg']}", slug="validation-error", errors=errors)


async def _http_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    return problem(exc.status_code, str(exc.detail), headers=dict(exc.headers or {}) or None)


async def _database_error(_: Request, exc: Exception) -> JSONResponse:
    logger.warning("backing service unavailable: %r", exc)
    return problem(
        503,
        "a backing service (database) is unavailable, retry later",
        slug="dependency-unavailable",
        headers={"Retry-After": "5"},
    )


# SQLSTATE classes that mean "the database cannot serve you now" rather than "your query is wrong":
# 08 connection exception, 53 insufficient resources (e.g. too many connections), 57P operator
# intervention (57P03: the database system is starting up; 57P01: admin shutdown).
_UNAVAILABLE_SQLSTATE_PREFIXES = ("08", "53", "57P")
# asyncpg's names for the same, for errors that carry no SQLSTATE (the socket went away).
_UNAVAILABLE_DRIVER_ERRORS = frozenset(
    {"ConnectionDoesNotExistError", "ConnectionFailureError", "PostgresConnectionError"}
)


def database_unavailable(exc: BaseException) -> bool:
    """Whether a database error (however wrapped) says the database is away, not that the query failed."""
    seen: set[int] = set()
    pending: list[BaseException | None] = [exc]
    while pending:
        current = pending.pop()
        if current is None or id(current) in seen:
            continue
        seen.add(id(current))
        sqlstate = getattr(current, "sqlstate", None) or getattr(current, "pgcode", None)
        if isinstance(sqlstate, str) and sqlstate.startswith(_UNAVAILABLE_SQLSTATE_PREFIXES):
            return True
        if type(current).__name__ in _UNAVAILABLE_DRIVER_ERRORS:
            return True
        orig = getattr(current, "orig", None)
        pending.extend([orig if isinstance(orig, BaseException) else None, current.__cause__])
    return False


async def _driver_error(request: Request, exc: Exception) -> JSONResponse:
    """A DBAPIError SQLAlchemy did not classify (e.g. asyncpg's CannotConnectNowError): 503 when the
    database is away, else the generic 500."""
    if database_unavailable(exc):
        return await _database_error(request, exc)
    return await _unexpected(request, exc)


async def _unexpected(_: Request, exc: Exception) -> JSONResponse:
    logger.exception("unhandled error")
    return problem(500, "an unexpected error occurred; it has been logged", slug="internal")


def install_problem_handlers(app: FastAPI) -> None:
    app.add_exception_handler(DomainError, _domain_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    # Connection failures surface as these (asyncpg raises OSError subclasses on refused sockets).
    for db_error in (OperationalError, InterfaceError, OSError, TimeoutError):
        app.add_exception_handler(db_error, _database_error)
    for driver_error in (DBAPIError, asyncpg.PostgresError, asyncpg.InterfaceError):
        app.add_exception_handler(driver_error, _driver_error)
    app.add_exception_handler(Exception, _unexpected)
