"""The OpenAPI document and the pages that show it, from one place.

FastAPI writes the document from the routes; this module finishes it, once, when it is first asked for:

- **Errors as they are answered.** Every error leaves as `application/problem+json` (api/problems.py), so
  each operation lists its real error statuses with the `Problem` schema — never FastAPI's
  `HTTPValidationError`. Which statuses, from what the route is made of: a scope dependency → 401, 403
  and 429 (the per-tenant rate limit sits with authentication); a write key (the tracking API) → 401 and
  429; a path parameter → 404; a request body → 413 (the body size limit); anything that validates
  input → 422 (bad values, unknown fields or query parameters); every /v1 route reads the database or
  Temporal → 503 with `Retry-After`. A route's own `responses` (400, 409, 415 …) and the conflicts
  named in `CONFLICTS` get the same schema.
- **Examples.** Request and response examples: those a model declares (`json_schema_extra`), else
  api/examples.py's, by the model that reads or writes the body (list pages are built from their
  item's example), each validated against that model first:
  one that no longer fits is left out and logged (tests fail on it), never a broken document.
- **Pages that work offline.** `/docs` (Swagger UI) and `/redoc` load their scripts and styles from the
  `fastapi-offline` package under `/docs/assets`, not from a CDN; Swagger UI's online validator is off.
"""

from __future__ import annotations

import json
import logging
import types
from importlib.resources import files
from typing import Any, Final, Union, get_args, get_origin

from fastapi import FastAPI, Request
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html, get_swagger_ui_oauth2_redirect_html
from fastapi.openapi.utils import get_openapi
from fastapi.responses import HTMLResponse
from fastapi.routing import APIRoute
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel, ValidationError

from api import examples
from api.deps import accepts_any_query, api_routes, required_scopes, takes_write_key
from api.problems import PROBLEM_JSON, problem

logger = logging.getLogger(__name__)

DOCS_URL: Final = "/docs"
REDOC_URL: Final = "/redoc"
ASSETS_URL: Final = "/docs/assets"
PROBLEM_REF: Final = {"$ref": "#/components/schemas/Problem"}
_METHODS: Final = ("get", "put", "post", "patch", "delete")

PROBLEM_SCHEMAS: Final[dict[str, Any]] = {
    "Problem": {
        "title": "Problem",
        "type": "object",
        "description": "An error (RFC 9457 problem details), as every error of this API is answered.",
        "required": ["type", "title", "status", "detail"],
        "properties": {
            "type": {
                "type": "string",
                "description": "`urn:journeys:problem:<kind>` (not-found, conflict, validation-error, …)",
            },
            "title": {"type": "string", "description": "The status's reason phrase"},
            "status": {"type": "integer", "description": "The HTTP status, repeated"},
            "detail": {"type": "string", "description": "What went wrong, for a person"},
            "errors": {
                "type": "array",
                "description": "422 (and the tracking API's 400): one entry per field at fault",
                "items": {"$ref": "#/components/schemas/ProblemIssue"},
            },
        },
    },
    "ProblemIssue": {
        "title": "ProblemIssue",
        "type": "object",
        "required": ["loc", "msg"],
        "properties": {
            "loc": {
                "type": "array",
                "description": 'Where: `["body", "edges", 1, "targetNodeId"]`, `["query", "pageNum"]` …',
                "items": {"anyOf": [{"type": "string"}, {"type": "integer"}]},
            },
            "msg": {"type": "string"},
            "code": {"type": "string", "description": "Tracking API only: too_deep, missing_event, …"},
        },
    },
}

# status → (description, problem example: kind, detail, errors)
_ERRORS: Final[dict[int, tuple[str, str, str, list[dict[str, Any]] | None]]] = {
    400: ("The request cannot be read", "bad-request", "the body is not valid JSON", None),
    401: (
        "No credentials, or invalid ones (an expired, malformed or foreign token); `WWW-Authenticate` "
        "says which scheme",
        "unauthorized",
        "a bearer token is required (Authorization: Bearer <jwt>)",
        None,
    ),
    403: (
        "The token lacks the scope this operation requires (`x-required-scope`)",
        "forbidden",
        "this operation requires the scope journey:journey:edit",
        None,
    ),
    404: (
        "No such object for this tenant (an unknown or malformed id, or another tenant's object)",
        "not-found",
        "journey 6f1c2a52-8d1e-4c1b-9a57-3f1e2d4c5b6a not found",
        None,
    ),
    409: ("The object's state does not allow this now", "conflict", "journey is DRAFT", None),
    413: (
        "The body is over the size limit",
        "payload-too-large",
        "the request body may be at most 1048576 bytes",
        None,
    ),
    415: ("A Content-Encoding other than gzip", "unsupported-encoding", "Content-Encoding 'br'", None),
    422: (
        "Malformed JSON, an unknown field or query parameter, or a bad value — `errors` names each",
        "validation-error",
        "query.pageNum: unknown query parameter; this route takes: limit, page",
        [{"loc": ["query", "pageNum"], "msg": "unknown query parameter; this route takes: limit, page"}],
    ),
    429: (
        "The tenant's request rate is over its limit; retry after `Retry-After` seconds",
        "rate-limited",
        "too many requests for this tenant; retry in 1 s",
        None,
    ),
    503: (
        "The database or Temporal cannot be reached; retry after `Retry-After` seconds",
        "dependency-unavailable",
        "a backing service (database) is unavailable, retry later",
        None,
    ),
}
_HEADERS: Final[dict[int, dict[str, Any]]] = {
    401: {
        "WWW-Authenticate": {
            "description": "`Bearer`, or `Basic` on the tracking API",
            "schema": {"type": "string"},
        }
    },
    429: {"Retry-After": {"description": "Seconds to wait", "schema": {"type": "integer"}}},
    503: {"Retry-After": {"description": "Seconds to wait", "schema": {"type": "integer"}}},
}

# The operations whose object state can refuse them (ConflictError → 409), by route name.
CONFLICTS: Final[dict[str, str]] = {
    "update_journey": "The journey is archived, or `siteId` changes while it is live",
    "delete_journey": "A lifecycle transition the journey's status does not allow",
    "save_canvas": "The journey is archived (restore it first)",
    "publish_journey": "The journey's status does not allow publishing (the detail lists what does)",
    "pause_journey": "The journey is not PUBLISHED",
    "resume_journey": "The journey is not PAUSED",
    "unpublish_journey": "The journey's status does not allow it",
    "archive_journey": "The journey is already archived",
    "restore_journey": "The journey is not archived",
    "update_destinations": "The journey is not live, or a node is not a SEND",
    "add_journey_step": "A second TRIGGER, too many steps, or a step after an END",
    "update_journey_step": "The edit would leave the graph without its TRIGGER first",
    "delete_journey_step": "The TRIGGER step cannot be deleted; the journey is archived",
    "reorder_journey_steps": "The TRIGGER step must stay first; the journey is archived",
    "enroll_customer": "The journey is not PUBLISHED, or re-entry is off or in its cooldown",
    "update_segment": "`version` is not the current one (a concurrent edit)",
    "delete_segment": "A journey that is not archived uses the segment",
    "delete_template": "A journey that is not archived uses the template",
    "create_subscription_group": "A subscription group of that name exists already",
    "update_subscription_group": "A subscription group of that name exists already",
    "delete_subscription_group": "A journey that is not archived names the group on a SEND",
}


def install(app: FastAPI) -> None:
    """Serve the finished document at /openapi.json, and /docs and /redoc from local files."""
    app.openapi = lambda: document(app)  # type: ignore[method-assign]
    assets = files("fastapi_offline") / "static"
    app.mount(ASSETS_URL, StaticFiles(directory=str(assets)), name="docs-assets")
    title = f"{app.title} API"
    oauth2_redirect = f"{DOCS_URL}/oauth2-redirect"

    async def swagger_ui(request: Request) -> HTMLResponse:
        root = request.scope.get("root_path", "")
        return get_swagger_ui_html(
            openapi_url=f"{root}{app.openapi_url}",
            title=title,
            swagger_js_url=f"{root}{ASSETS_URL}/swagger-ui-bundle.js",
            swagger_css_url=f"{root}{ASSETS_URL}/swagger-ui.css",
            swagger_favicon_url=f"{root}{ASSETS_URL}/favicon.png",
            oauth2_redirect_url=f"{root}{oauth2_redirect}",
            # No call to swagger.io's online validator: the page works where the machine is offline.
            swagger_ui_parameters={"validatorUrl": None, "persistAuthorization": True},
        )

    async def swagger_ui_redirect(_: Request) -> HTMLResponse:
        return get_swagger_ui_oauth2_redirect_html()

    async def redoc(request: Request) -> HTMLResponse:
        root = request.scope.get("root_path", "")
        return get_redoc_html(
            openapi_url=f"{root}{app.openapi_url}",
            title=title,
            redoc_js_url=f"{root}{ASSETS_URL}/redoc.standalone.js",
            redoc_favicon_url=f"{root}{ASSETS_URL}/favicon.png",
            with_google_fonts=False,
        )

    # Plain routes, not API operations: no auth, no query check, not in the document.
    app.add_route(DOCS_URL, swagger_ui, include_in_schema=False)
    app.add_route(oauth2_redirect, swagger_ui_redirect, include_in_schema=False)
    app.add_route(REDOC_URL, redoc, include_in_schema=False)


def document(app: FastAPI) -> dict[str, Any]:
    if app.openapi_schema:
        return app.openapi_schema
    doc = get_openapi(
        title=app.title,
        version=app.version,
        summary=app.summary,
        description=app.description,
        routes=app.routes,
        servers=app.servers,
    )
    schemas = doc.setdefault("components", {}).setdefault("schemas", {})
    schemas.update(PROBLEM_SCHEMAS)
    by_operation = {
        (route.path_format, method.lower()): route
        for route in api_routes(app)
        for method in route.methods or ()
    }
    for path, item in doc.get("paths", {}).items():
        for method in _METHODS:
            operation = item.get(method)
            route = by_operation.get((path, method))
            if operation is None or route is None:
                continue
            _document_errors(operation, route, method)
            _document_examples(operation, route)
    for unused in ("HTTPValidationError", "ValidationError"):
        schemas.pop(unused, None)
    app.openapi_schema = doc
    return doc


def error_statuses(route: APIRoute, method: str) -> dict[int, str]:
    """The error statuses the route can answer, each with why (see the module docstring)."""
    statuses: dict[int, str] = {}
    bearer = bool(required_scopes(route))
    write_key = takes_write_key(route)
    if bearer or write_key:
        statuses[401] = _ERRORS[401][0]
        statuses[429] = _ERRORS[429][0]
    if bearer:
        statuses[403] = _ERRORS[403][0]
    if route.dependant.path_params:
        statuses[404] = _ERRORS[404][0]
    if route.name in CONFLICTS:
        statuses[409] = CONFLICTS[route.name]
    if method in ("post", "put", "patch"):
        statuses[413] = _ERRORS[413][0]
    if not accepts_any_query(route):
        statuses[422] = _ERRORS[422][0]
    statuses[503] = _ERRORS[503][0]
    return statuses


def _problem_example(status: int) -> dict[str, Any]:
    """The body api/problems.py answers for this status (made by it, so the two cannot differ)."""
    _, kind, detail, errors = _ERRORS.get(status, ("", str(status), "", None))
    body: dict[str, Any] = json.loads(bytes(problem(status, detail, slug=kind, errors=errors).body))
    return body


def _document_errors(operation: dict[str, Any], route: APIRoute, method: str) -> None:
    responses: dict[str, Any] = operation.setdefault("responses", {})
    for status, why in error_statuses(route, method).items():
        response = responses.setdefault(str(status), {"description": why})
        if response.get("description") == "Validation Error":  # FastAPI's words for its own 422
            response["description"] = why
    for code, response in responses.items():
        if not code.isdigit() or int(code) < 400:
            continue
        status = int(code)
        content = response.get("content", {})
        if route.path == "/health" and status == 503:
            continue  # /health answers its own report, not a problem (see api/routers/health.py)
        content.pop("application/json", None)  # FastAPI's HTTPValidationError
        content[PROBLEM_JSON] = {"schema": PROBLEM_REF, "example": _problem_example(status)}
        response["content"] = content
        if status in _HEADERS:
            response.setdefault("headers", {}).update(_HEADERS[status])
    operation["responses"] = dict(sorted(responses.items()))


def _body_model(route: APIRoute) -> tuple[type[BaseModel] | None, bool]:
    """The model a route's body is validated with, and whether the body is a list of it."""
    if route.body_field is None:
        return None, False
    annotation = route.body_field.field_info.annotation
    many = False
    if get_origin(annotation) in (Union, types.UnionType):
        annotation = next((a for a in get_args(annotation) if a is not type(None)), annotation)
    if get_origin(annotation) is list:
        annotation, many = get_args(annotation)[0], True
    return (annotation if isinstance(annotation, type) and issubclass(annotation, BaseModel) else None), many


def request_examples(route: APIRoute) -> dict[str, dict[str, Any]]:
    """Named request examples (OpenAPI Example Objects) for the route's body, each valid for its model."""
    model, many = _body_model(route)
    key = model.__name__ if model is not None else route.endpoint.__name__
    declared = _declared_examples(model)
    found = [(f"example{i + 1}" if i else "example", None, v) for i, v in enumerate(declared)] or (
        examples.REQUESTS.get(key)
    )
    if found is None:
        return {}
    named = found if isinstance(found, list) else [("example", None, found)]
    result: dict[str, dict[str, Any]] = {}
    for name, summary, value in named:
        if model is not None and not _fits(model, value, f"request {key}"):
            continue
        entry: dict[str, Any] = {"value": [value] if many else value}
        if summary:
            entry["summary"] = summary
        result[name] = entry
    return result


def response_example(route: APIRoute) -> Any:
    """The success answer's example, completed with the model's defaults (as the API would write it)."""
    model = route.response_model
    if isinstance(model, type) and issubclass(model, BaseModel):
        item = _page_item(model)
        if item is not None:
            value = _response_value(item)
            if value is None:
                return None
            return {"data": [value], "meta": {"total": 1, "page": 1, "limit": 20, "totalPages": 1}}
        return _response_value(model)
    return examples.RESPONSES.get(route.endpoint.__name__)


def _page_item(model: type[BaseModel]) -> type[BaseModel] | None:
    metadata = getattr(model, "__pydantic_generic_metadata__", None) or {}
    origin, args = metadata.get("origin"), metadata.get("args", ())
    if origin is not None and origin.__name__ == "PageOut" and args and issubclass(args[0], BaseModel):
        item: type[BaseModel] = args[0]
        return item
    return None


def _declared_examples(model: type[BaseModel] | None) -> list[Any]:
    """Examples a model declares itself (`json_schema_extra={"examples": [...]}`): they win."""
    extra = model.model_config.get("json_schema_extra") if model is not None else None
    if model is None or any(
        getattr(base, "model_config", {}).get("json_schema_extra") is extra for base in model.__mro__[1:]
    ):
        return []  # none, or inherited from a parent (whose examples do not fit a subclass)
    found = extra.get("examples") if isinstance(extra, dict) else None
    return list(found) if isinstance(found, list) else []


def _response_value(model: type[BaseModel]) -> Any:
    value = next(iter(_declared_examples(model)), None) or examples.RESPONSES.get(model.__name__)
    if value is None or not _fits(model, value, f"response {model.__name__}"):
        return None
    return model.model_validate(value).model_dump(mode="json", by_alias=True)


def _fits(model: type[BaseModel], value: Any, what: str) -> bool:
    try:
        model.model_validate(value)
    except ValidationError as error:
        logger.warning("OpenAPI example for %s no longer fits its model, left out: %s", what, error)
        return False
    return True


def _document_examples(operation: dict[str, Any], route: APIRoute) -> None:
    body = operation.get("requestBody", {}).get("content", {})
    named = request_examples(route) if body else {}
    for media in body.values():
        if named:
            media["examples"] = named
    success = next((r for code, r in operation.get("responses", {}).items() if code.startswith("2")), None)
    example = response_example(route)
    if success is None or example is None:
        return
    content = success.setdefault("content", {})
    content.setdefault("application/json", {"schema": {}})["example"] = example
