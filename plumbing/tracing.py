"""OpenTelemetry tracing, on only when `JOURNEYS_OTLP_ENDPOINT` is set.

Spans go through a BatchSpanProcessor to an OTLP/HTTP exporter at `<endpoint>/v1/traces`, with
`service.name` from `JOURNEYS_OTEL_SERVICE_NAME` (default journeys-api / journeys-worker). What is traced:
the API's requests (FastAPI instrumentation, /health left out) and Temporal — starting a workflow,
running it, scheduling and running its activities — through temporalio's `TracingInterceptor` on the
client (a worker built on that client inherits it). The interceptor carries the span context in
Temporal headers, so an enrollment's trace begins at the HTTP request that started it.

Providers are made per (endpoint, service name) and handed to the instrumentation explicitly, so
nothing depends on OpenTelemetry's process-global provider (which can be set only once; the CLI's
`configure_tracing` sets it for libraries that look there). When tracing is off nothing here imports
OpenTelemetry.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit, urlunsplit

from temporalio.client import Interceptor

from plumbing.logs import safe_path
from plumbing.settings import Settings

if TYPE_CHECKING:
    from fastapi import FastAPI
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.trace import Span

API_SERVICE = "journeys-api"
WORKER_SERVICE = "journeys-worker"
EXCLUDED_URLS = "/health$"

_providers: dict[tuple[str, str], TracerProvider] = {}
_lock = threading.Lock()


def traces_url(endpoint: str) -> str:
    """`<endpoint>/v1/traces`; an endpoint given with the path already is taken as it is."""
    base = endpoint.rstrip("/")
    return base if base.endswith("/v1/traces") else base + "/v1/traces"


def service_name(settings: Settings, default: str) -> str:
    return settings.otel_service_name or default


def build_provider(endpoint: str, service: str) -> TracerProvider:
    """A provider exporting to the OTLP/HTTP collector at `endpoint` (its base URL)."""
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.resources import SERVICE_NAME, Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    provider = TracerProvider(resource=Resource.create({SERVICE_NAME: service}))
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=traces_url(endpoint))))
    return provider


def tracer_provider(settings: Settings, default_service: str) -> TracerProvider | None:
    """The provider for these settings (one per endpoint and service name), or None: tracing is off."""
    if not settings.otlp_endpoint:
        return None
    key = (settings.otlp_endpoint, service_name(settings, default_service))
    with _lock:
        provider = _providers.get(key)
        if provider is None:
            provider = _providers[key] = build_provider(*key)
    return provider


def configure_tracing(settings: Settings, default_service: str) -> TracerProvider | None:
    """Process start-up (CLI): the provider, also installed as OpenTelemetry's global one."""
    provider = tracer_provider(settings, default_service)
    if provider is not None:
        from opentelemetry import trace

        trace.set_tracer_provider(provider)
    return provider


def temporal_interceptors(settings: Settings, default_service: str) -> list[Interceptor]:
    """Client interceptors for `connect_client` / `TemporalConnection`: `[TracingInterceptor]` or `[]`."""
    provider = tracer_provider(settings, default_service)
    if provider is None:
        return []
    from temporalio.contrib.opentelemetry import TracingInterceptor

    return [TracingInterceptor(provider.get_tracer("temporalio.contrib.opentelemetry"))]


def _hide_pii_in_url(span: Span | None, scope: dict[str, Any]) -> None:
    """The server span's URL attributes hold the raw path and query, which can name a customer by
    email address or phone number: keep the PII-safe path only (the span name has the route)."""
    if span is None or not span.is_recording():
        return
    path = safe_path(str(scope.get("path", "")))
    attributes = getattr(span, "attributes", None) or {}
    for key in ("http.target", "url.path"):
        if key in attributes:
            span.set_attribute(key, path)
    for key in ("http.url", "url.full"):
        value = attributes.get(key)
        if isinstance(value, str):
            parts = urlsplit(value)
            span.set_attribute(key, urlunsplit((parts.scheme, parts.netloc, path, "", "")))
    if "url.query" in attributes:
        span.set_attribute("url.query", "")


def instrument_app(app: FastAPI, settings: Settings, default_service: str = API_SERVICE) -> bool:
    """Trace the app's requests (not /health) when tracing is on; False when it is off."""
    provider = tracer_provider(settings, default_service)
    if provider is None:
        return False
    from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor

    FastAPIInstrumentor.instrument_app(
        app,
        tracer_provider=provider,
        excluded_urls=EXCLUDED_URLS,
        exclude_spans=["receive", "send"],
        server_request_hook=_hide_pii_in_url,
    )
    return True


def force_flush(timeout_millis: int = 10_000) -> bool:
    """Export every finished span now; False when an exporter did not finish in time."""
    with _lock:
        providers = list(_providers.values())
    return all(provider.force_flush(timeout_millis) for provider in providers)


def shutdown() -> None:
    """Flush and stop every provider (process exit, or the end of a test using its own collector)."""
    with _lock:
        providers = list(_providers.values())
        _providers.clear()
    for provider in providers:
        provider.shutdown()
