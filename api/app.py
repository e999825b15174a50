"""The FastAPI application factory."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from api import openapi
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
    customer_subscriptions,
    customer_tests,
    customers,
    delivery_events,
    enrollment_actions,
    enrollments,
    events,
    health,
    inbox,
    journey_graph,
    journeys,
    messages,
    migrations,
    segments,
    simulations,
    sources,
    steps,
    subscription_groups,
    suppressions,
    templates,
    timeline,
    tracking,
    unsubscribe,
)
from console.router import router as console_router
from plumbing.tracing import instrument_app

DESCRIPTION = """\
Every route under `/v1` takes a bearer JWT (its scope is named as `x-required-scope`), except the
Segment tracking routes, which take a source's write key, and the unsubscribe and preferences links
of emails, whose token is the credential. The conventions every operation shares (docs/api.md):

- **Errors** are `application/problem+json` (RFC 9457); a 422 lists each field at fault in `errors`.
- **Null**: in a create body, `null` for an optional field means absent (its default applies). In a
  PATCH body, `null` clears a field a response can show as null; for any other field it is a 422
  naming it. A field left out of a PATCH keeps its value.
- **Paging**: `page` (from 1) and `limit` (≤ 200, default 20). Genesys' `pageNumber`/`pageSize` are
  taken on segments and action targets (default size 25 with those names), seed 004's `skip`/`take`
  on enrollment lists.
- **Unknown query parameters** are a 422 naming them (but on the tracking routes, which ignore them).
"""


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
        description=DESCRIPTION,
        lifespan=lifespan,
        docs_url=None,  # served from the package by api.openapi.install (no CDN)
        redoc_url=None,
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
        enrollment_actions,
        timeline,
        journey_graph,
        simulations,
        customer_tests,
        migrations,
        customers,
        customer_subscriptions,
        inbox,
        messages,
        action_targets,
        templates,
        subscription_groups,
        events,
        tracking,
        sources,
        segments,
        assignments,
        analytics,
        audit,
        delivery_events,
        suppressions,
    ):
        app.include_router(module.router)
    app.include_router(unsubscribe.router)  # public: the link's token is the credential
    app.include_router(console_router)  # /console: static pages over this same /v1 API, no data of its own
    document_scopes(app)
    openapi.install(app)  # the finished document (problem responses, examples) and offline /docs
    instrument_app(app, resources.settings)  # OpenTelemetry, when JOURNEYS_OTLP_ENDPOINT is set
    return app
