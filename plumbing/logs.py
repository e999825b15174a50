"""Process logging: the text format, or one JSON object per line carrying the request's context.

`configure_logging(settings)` installs one handler on the root logger (the CLI calls it for `api` and
`worker`). Context fields — request_id, tenant_id, journey_id, enrollment_id, and whatever else a caller
binds — live in a context variable: `log_context(**fields)` opens a scope (a request, an activity),
`bind(**fields)` adds to the innermost one. Every JSON line carries the fields known where it was logged,
plus trace_id/span_id while an OpenTelemetry span is active, so logs and traces join on one id.

Who binds what: `api.request_context` (request_id, tenant_id, ids from the path, one access line per
request) and `ActivityLogContext` below (a worker interceptor: tenant/journey/enrollment from the
activity's input model). Workflow logs (`workflow.logger`) carry temporalio's `temporal_workflow` extra,
which becomes workflow_id / workflow_type.

Never put PII in a log line or a field: no emails, phone numbers, traits or message bodies. A customer
id may be an email address; log `domain.ids.customer_key(customer_id)` (or the workflow id) instead.
"""

from __future__ import annotations

import json
import logging
import sys
import uuid
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import IO, Any

from temporalio.worker import ActivityInboundInterceptor, ExecuteActivityInput, Interceptor

from domain.ids import customer_key
from plumbing.settings import Settings

TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s %(message)s"
CONTEXT_FIELDS = ("request_id", "tenant_id", "journey_id", "enrollment_id")
# Loggers that say too much at INFO: httpx logs every request's URL (webhook URLs may carry tokens).
_QUIET_LOGGERS = ("httpx", "httpcore")
_MARK = "_journeys_handler"

# The innermost scope's fields. A scope's dict is shared by everything running in it (also the
# threadpool FastAPI runs sync dependencies in, which gets a copy of the context, not of the dict),
# so `bind` in the auth dependency reaches the request's later lines and its access line.
_scope: ContextVar[dict[str, str] | None] = ContextVar("journeys_log_context", default=None)


def _clean(fields: Mapping[str, object]) -> dict[str, str]:
    return {name: str(value) for name, value in fields.items() if value is not None}


@contextmanager
def log_context(**fields: object) -> Iterator[dict[str, str]]:
    """A new scope: the enclosing scope's fields plus these (None values are left out)."""
    scope = {**(_scope.get() or {}), **_clean(fields)}
    token = _scope.set(scope)
    try:
        yield scope
    finally:
        _scope.reset(token)


def bind(**fields: object) -> None:
    """Add fields to the innermost scope (or start one for the current context when there is none)."""
    scope = _scope.get()
    if scope is None:
        _scope.set(_clean(fields))
    else:
        scope.update(_clean(fields))


def current_context() -> dict[str, str]:
    """A copy of the fields bound where this is called."""
    return dict(_scope.get() or {})


def safe_path(path: str) -> str:
    """A URL path fit for logs and spans: a segment that could be PII (a customer id that is an email
    address or a phone number, anything unusual) is replaced by its `customer_key` hash."""
    return "/".join(customer_key(segment) if segment else segment for segment in path.split("/"))


def as_uuid(value: object) -> str | None:
    """The canonical form of a UUID given as text, or None when it is not one."""
    if not isinstance(value, str):
        return None
    try:
        return str(uuid.UUID(value))
    except ValueError:
        return None


# ---- formatting -----------------------------------------------------------------------------------

_STANDARD_ATTRIBUTES = frozenset(
    {
        *logging.LogRecord("", logging.INFO, "", 0, "", None, None).__dict__,
        "message",
        "asctime",
        "taskName",
        "color_message",  # uvicorn's coloured copy of the message
    }
)


_PLAIN = (str, int, float, bool, type(None))


def _trace_fields() -> dict[str, str]:
    # When opentelemetry.trace was never imported, no span can be active: tracing off costs nothing.
    trace = sys.modules.get("opentelemetry.trace")
    if trace is None:
        return {}
    context = trace.get_current_span().get_span_context()
    if not context.is_valid:
        return {}
    return {"trace_id": format(context.trace_id, "032x"), "span_id": format(context.span_id, "016x")}


def _temporal_fields(record: logging.LogRecord) -> dict[str, Any]:
    found: dict[str, Any] = {}
    workflow = record.__dict__.get("temporal_workflow")
    if isinstance(workflow, Mapping):
        found["workflow_id"] = workflow.get("workflow_id")
        found["workflow_type"] = workflow.get("workflow_type")
    activity = record.__dict__.get("temporal_activity")
    if isinstance(activity, Mapping):
        found["workflow_id"] = activity.get("workflow_id")
        found["activity_type"] = activity.get("activity_type")
    return {k: v for k, v in found.items() if v is not None}


def _timestamp(created: float) -> str:
    return datetime.fromtimestamp(created, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class JsonFormatter(logging.Formatter):
    """One JSON object per line: ts, level, logger, message, the context fields, trace_id/span_id,
    the record's own extras (`extra=` wins over the context for the same name), exc_info."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "ts": _timestamp(record.created),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        line.update(_scope.get() or {})
        line.update(_trace_fields())
        line.update(_temporal_fields(record))
        for name, value in record.__dict__.items():
            # Extras: plain values only (temporalio's optional full Info objects would drag payload
            # data into the line), none of the standard attributes, no private markers.
            if name not in _STANDARD_ATTRIBUTES and not name.startswith("_") and isinstance(value, _PLAIN):
                line[name] = value
        if record.exc_info:
            line["exc_info"] = self.formatException(record.exc_info)
        elif record.exc_text:
            line["exc_info"] = record.exc_text
        if record.stack_info:
            line["stack_info"] = self.formatStack(record.stack_info)
        return json.dumps(line, default=str, ensure_ascii=False)


def formatter_for(settings: Settings) -> logging.Formatter:
    return JsonFormatter() if settings.log_format == "json" else logging.Formatter(TEXT_FORMAT)


def configure_logging(settings: Settings, stream: IO[str] | None = None) -> logging.Handler:
    """Install the process's one root handler (replacing the one an earlier call installed).

    Uvicorn's loggers propagate to it, so they come out in the same format; run uvicorn with
    `uvicorn_log_options()` so it installs no handlers of its own and leaves access lines to
    `api.request_context`.
    """
    root = logging.getLogger()
    for handler in list(root.handlers):
        if getattr(handler, _MARK, False):
            root.removeHandler(handler)
    installed = logging.StreamHandler(stream if stream is not None else sys.stderr)
    setattr(installed, _MARK, True)
    installed.setFormatter(formatter_for(settings))
    root.addHandler(installed)
    root.setLevel(settings.log_level)
    for name in _QUIET_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING)
    for name in ("uvicorn", "uvicorn.error", "uvicorn.asgi"):
        uvicorn_logger = logging.getLogger(name)
        uvicorn_logger.handlers.clear()
        uvicorn_logger.propagate = True
    logging.getLogger("uvicorn.access").setLevel(logging.WARNING)  # the app logs one line per request
    return installed


def uvicorn_log_options() -> dict[str, Any]:
    """Keyword arguments for `uvicorn.run`: no logging config, levels or access log of its own."""
    return {"log_config": None, "log_level": None, "access_log": False}


# ---- the worker: activity context ------------------------------------------------------------------


def activity_fields(args: Sequence[Any]) -> dict[str, str]:
    """tenant_id / journey_id / enrollment_id from an activity's input model (first argument): its own
    attributes, else those of the enrollment snapshot it carries (`enrollment`, `progress.enrollment`)."""
    if not args:
        return {}
    request = args[0]
    sources = [request, getattr(request, "enrollment", None)]
    progress = getattr(request, "progress", None)
    if progress is not None:
        sources.append(getattr(progress, "enrollment", None))
    fields: dict[str, str] = {}
    for name in ("tenant_id", "journey_id", "enrollment_id"):
        for source in sources:
            value = getattr(source, name, None) if source is not None else None
            if isinstance(value, str | uuid.UUID) and value:
                fields[name] = str(value)
                break
    return fields


class ActivityLogContext(Interceptor):
    """Worker interceptor: every line an activity logs carries the ids of the enrollment it serves."""

    def intercept_activity(self, next: ActivityInboundInterceptor) -> ActivityInboundInterceptor:
        return _ActivityLogContextInbound(next)


class _ActivityLogContextInbound(ActivityInboundInterceptor):
    async def execute_activity(self, input: ExecuteActivityInput) -> Any:
        with log_context(**activity_fields(input.args)):
            return await super().execute_activity(input)
