"""Names and histogram buckets of the product's own metrics (journeys_*), in one place.

Workflows, activities and the API record them through the Temporal runtime's metric meter, so they
come out of the same Prometheus endpoint as the Temporal SDK's metrics (plumbing/telemetry.py).
"""

from __future__ import annotations

ENROLLMENTS_STARTED = "journeys_enrollments_started"
ENROLLMENTS_ENDED = "journeys_enrollments_ended"
STEPS = "journeys_steps"
SENDS = "journeys_sends"
SEND_DURATION = "journeys_send_duration_seconds"
EVENTS_INGESTED = "journeys_events_ingested"
# Events of a tracking request skipped for a reason (label `reason`: too_deep, missing_event, …);
# exposed as journeys_events_rejected_total.
EVENTS_REJECTED = "journeys_events_rejected"
EVENT_INGEST_DURATION = "journeys_event_ingest_duration_seconds"
HTTP_REQUESTS = "journeys_http_requests"
HTTP_REQUEST_DURATION = "journeys_http_request_duration_seconds"
DISPATCHED = "journeys_dispatched"
DISPATCH_RETRIES = "journeys_dispatch_retries"
DISPATCH_FAILED = "journeys_dispatch_failed"
DISPATCH_LAG = "journeys_dispatch_lag_seconds"
DISPATCH_PENDING = "journeys_dispatch_pending"
DISPATCH_DELAY = "journeys_dispatch_delay_seconds"
ENROLLMENTS_HEALED = "journeys_enrollments_healed"

# Seconds: from a fast local send or a cached GET to a slow provider or a 500-event batch.
LATENCY_BUCKETS: tuple[float, ...] = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
HISTOGRAM_BUCKETS: dict[str, tuple[float, ...]] = {
    SEND_DURATION: LATENCY_BUCKETS,
    EVENT_INGEST_DURATION: LATENCY_BUCKETS,
    DISPATCH_DELAY: LATENCY_BUCKETS,
    HTTP_REQUEST_DURATION: LATENCY_BUCKETS,
}
