"""A process's Temporal runtime: the one Prometheus endpoint of an API or worker process.

The Temporal SDK's metrics (task latencies, cache, slots, request failures) and the product's own
(domain/metrics.py, recorded through the runtime's meter) come out of the same `/metrics`, so one
scrape target per process gives both.
"""

from __future__ import annotations

from temporalio.common import MetricMeter
from temporalio.runtime import PrometheusConfig, Runtime, TelemetryConfig

from domain.metrics import HISTOGRAM_BUCKETS
from plumbing.settings import Settings


def build_runtime(settings: Settings, component: str) -> Runtime | None:
    """A runtime serving Prometheus at `metrics_address`, or None (the SDK's default runtime, no
    endpoint) when it is unset. Binds the address at once: a taken port fails the process's start."""
    if settings.metrics_address is None:
        return None
    return Runtime(
        telemetry=TelemetryConfig(
            metrics=PrometheusConfig(
                bind_address=settings.metrics_address,
                counters_total_suffix=True,
                durations_as_seconds=True,
                histogram_bucket_overrides={name: list(b) for name, b in HISTOGRAM_BUCKETS.items()},
            ),
            global_tags={"component": component},
        )
    )


def metric_meter(runtime: Runtime | None) -> MetricMeter:
    return runtime.metric_meter if runtime is not None else MetricMeter.noop
