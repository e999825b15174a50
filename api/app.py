"""The FastAPI application factory."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from api.audit import AuditLog
from api.cors import TrackingCors
from api.deps import document_scopes
from api.limits import BodySizeLimit
from api.problems import install_problem_handlers
from api.request_context import RequestContext
from api.resources import AppResources
from api.routers import (
    action_targets,
    analytics,
    assignments,
    audit,
    customers,
    enrollments,
    events,
    health,
    inbox,
    journeys,
    messages,
    segments,
    sources,
    steps,
    templates,
    tracking,
)
from plumbing.tracing import instrument_app


def create_app(resources: AppResources, *, close_resources_on_shutdown: bool = False) -> FastAPI:
    """Build the app around resources built by the caller (the CLI, or a test fixture)."""

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        yield
        if close_resources_on_shutdown:
            await resources.close()

    app = FastAPI(
        title="journeys",
        version="0.1.0",
        summary="Journey orchestration: every enrollment is a Temporal workflow.",
        lifespan=lifespan,
    )
    app.state.resources = resources
    install_problem_handlers(app)
    app.add_middleware(BodySizeLimit, max_bytes=resources.settings.max_body_bytes)
    # Inside AuditLog, which sets the request id it logs with; outside the body limit, so 413s count.
    app.add_middleware(RequestContext, metrics=resources.metrics)
    app.add_middleware(AuditLog)  # sees every response status, and the 413s too
    # Outermost: browsers' preflights for the tracking routes are answered before anything else.
    app.add_middleware(TrackingCors, paths=tracking.TRACKING_PATHS)
    for module in (
        health,
        journeys,
        steps,
        enrollments,
        customers,
        inbox,
        messages,
        action_targets,
        templates,
        events,
        tracking,
        sources,
        segments,
        assignments,
        analytics,
        audit,
    ):
        app.include_router(module.router)
    document_scopes(app)
    instrument_app(app, resources.settings)  # OpenTelemetry, when JOURNEYS_OTLP_ENDPOINT is set
    return app
