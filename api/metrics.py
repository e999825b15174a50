"""The API's own metrics: every request by route template and status (recorded by the
RequestContext middleware, with the access log line), event ingestion and refused events.

Recorded through the process's Temporal runtime meter (plumbing/telemetry.py), so they are served by
the same Prometheus endpoint as the SDK's client metrics. Routes are labelled by their template
(`/v1/journeys/{journeyId}`), never by the raw path, to keep the label set bounded.
"""

from __future__ import annotations

from collections.abc import Sequence

from temporalio.common import MetricCounter, MetricHistogramFloat, MetricMeter

from domain.metrics import (
    EVENT_INGEST_DURATION,
    EVENTS_INGESTED,
    EVENTS_REJECTED,
    HTTP_REQUEST_DURATION,
    HTTP_REQUESTS,
)
from services.ingestion import EventOutcome, IncomingEvent

UNMATCHED_ROUTE = "unmatched"


class ApiMetrics:
    def __init__(self, meter: MetricMeter) -> None:
        self.requests: MetricCounter = meter.create_counter(HTTP_REQUESTS, "HTTP requests answered")
        self.request_duration: MetricHistogramFloat = meter.create_histogram_float(
            HTTP_REQUEST_DURATION, "Time to answer an HTTP request", "s"
        )
        self.events: MetricCounter = meter.create_counter(
            EVENTS_INGESTED, "Events ingested, by type and outcome (accepted or duplicate)"
        )
        self.rejections: MetricCounter = meter.create_counter(
            EVENTS_REJECTED, "Events refused by the tracking API, by reason (each stored in event_rejections)"
        )
        self.ingest_duration: MetricHistogramFloat = meter.create_histogram_float(
            EVENT_INGEST_DURATION,
            "Time to ingest one request's events (store, profile, entries, signals)",
            "s",
        )

    @classmethod
    def noop(cls) -> ApiMetrics:
        return cls(MetricMeter.noop)

    def ingested(
        self,
        events: Sequence[IncomingEvent],
        outcomes: Sequence[EventOutcome],
        seconds: float,
        *,
        batch: bool,
    ) -> None:
        for event, outcome in zip(events, outcomes, strict=True):
            self.events.add(
                1, {"type": event.type, "outcome": "duplicate" if outcome.duplicate else "accepted"}
            )
        self.ingest_duration.record(seconds, {"request": "batch" if batch else "single"})

    def rejected(self, reasons: Sequence[str]) -> None:
        """One count per refused event, labelled with its reason code."""
        for reason in reasons:
            self.rejections.add(1, {"reason": reason})

    def request_served(self, method: str, route: str | None, status: int, seconds: float) -> None:
        template = route or UNMATCHED_ROUTE
        self.requests.add(1, {"method": method, "route": template, "status": str(status)})
        self.request_duration.record(seconds, {"method": method, "route": template})
