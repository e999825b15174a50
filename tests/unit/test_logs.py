"""The JSON log format, the log context (contextvars) and the tracing switch, without servers."""

from __future__ import annotations

import asyncio
import io
import json
import logging
import subprocess
import sys
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from opentelemetry.sdk.trace import TracerProvider

from domain.ids import customer_key
from domain.payloads import EnrollmentSnapshot, ProfileReadRequest, ProgressBatch
from plumbing import tracing
from plumbing.logs import (
    JsonFormatter,
    activity_fields,
    bind,
    configure_logging,
    current_context,
    log_context,
    safe_path,
)
from plumbing.settings import Settings

ROOT = Path(__file__).resolve().parents[2]


class Lines:
    """A logger of its own whose records go through JsonFormatter into a buffer."""

    def __init__(self, name: str) -> None:
        self.buffer = io.StringIO()
        self.handler = logging.StreamHandler(self.buffer)
        self.handler.setFormatter(JsonFormatter())
        self.logger = logging.getLogger(name)
        self.logger.setLevel(logging.DEBUG)
        self.logger.propagate = False
        self.logger.addHandler(self.handler)

    def all(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.buffer.getvalue().splitlines()]

    def close(self) -> None:
        self.logger.removeHandler(self.handler)


@pytest.fixture
def lines(request: pytest.FixtureRequest) -> Iterator[Lines]:
    captured = Lines(f"tests.logs.{request.node.name}")
    yield captured
    captured.close()


def test_a_line_carries_the_basics_and_only_the_context_fields_that_are_known(lines: Lines) -> None:
    lines.logger.info("plain %s", "line")
    with log_context(request_id="r-1", tenant_id="acme", journey_id=None):
        lines.logger.warning("in a request")
    plain, scoped = lines.all()
    assert set(plain) == {"ts", "level", "logger", "message"}
    assert plain["message"] == "plain line" and plain["level"] == "INFO"
    assert plain["logger"] == lines.logger.name
    assert datetime.fromisoformat(plain["ts"].replace("Z", "+00:00")).tzinfo == UTC
    assert scoped["request_id"] == "r-1" and scoped["tenant_id"] == "acme"
    assert "journey_id" not in scoped and "enrollment_id" not in scoped
    assert scoped["level"] == "WARNING"


def test_extras_are_fields_and_win_over_the_context(lines: Lines) -> None:
    with log_context(journey_id="from-context", tenant_id="acme"):
        lines.logger.info("access", extra={"journey_id": "from-extra", "status": 201, "duration_ms": 1.5})
    (line,) = lines.all()
    assert line["journey_id"] == "from-extra"
    assert line["tenant_id"] == "acme"
    assert (line["status"], line["duration_ms"]) == (201, 1.5)


def test_an_exception_is_one_field_of_the_same_line(lines: Lines) -> None:
    try:
        raise ValueError("boom")
    except ValueError:
        lines.logger.exception("it failed")
    (line,) = lines.all()
    assert line["message"] == "it failed"
    assert line["exc_info"].startswith("Traceback") and "ValueError: boom" in line["exc_info"]
    lines.logger.error("no exception here")
    assert "exc_info" not in lines.all()[1]


def test_temporal_workflow_info_becomes_workflow_id(lines: Lines) -> None:
    info = {"workflow_id": "enrollment:acme:j:c:1", "workflow_type": "EnrollmentWorkflow", "attempt": 1}
    full_info = {"search_attributes": {"CustomerId": "h-1"}, "headers": {}}  # an object, not a value
    extra = {"temporal_workflow": info, "workflow_info": full_info, "__temporal_marker": "x"}
    lines.logger.info("from a workflow", extra=extra)
    (line,) = lines.all()
    assert line["workflow_id"] == "enrollment:acme:j:c:1"
    assert line["workflow_type"] == "EnrollmentWorkflow"
    assert not {"temporal_workflow", "workflow_info", "__temporal_marker"} & set(line)


async def test_concurrent_tasks_keep_their_own_context(lines: Lines) -> None:
    a_entered, b_logged = asyncio.Event(), asyncio.Event()

    async def request_a() -> None:
        with log_context(request_id="a", tenant_id="tenant-a"):
            a_entered.set()
            await b_logged.wait()  # B opened its scope and logged in between
            bind(journey_id="journey-a")
            lines.logger.info("a")

    async def request_b() -> None:
        await a_entered.wait()
        with log_context(request_id="b"):
            bind(tenant_id="tenant-b")
            lines.logger.info("b")
        b_logged.set()

    async def unscoped() -> None:
        bind(enrollment_id="loose")  # no scope: starts one for this task only
        lines.logger.info("c")

    await asyncio.gather(request_a(), request_b(), unscoped())
    lines.logger.info("outside")
    by_message = {line["message"]: line for line in lines.all()}
    assert {k: by_message["a"].get(k) for k in ("request_id", "tenant_id", "journey_id")} == {
        "request_id": "a",
        "tenant_id": "tenant-a",
        "journey_id": "journey-a",
    }
    assert (by_message["b"]["request_id"], by_message["b"]["tenant_id"]) == ("b", "tenant-b")
    assert "journey_id" not in by_message["b"]
    assert by_message["c"]["enrollment_id"] == "loose" and "request_id" not in by_message["c"]
    assert set(by_message["outside"]) == {"ts", "level", "logger", "message"}
    assert current_context() == {}


async def test_bind_in_a_worker_thread_reaches_the_scope_it_was_called_from(lines: Lines) -> None:
    """FastAPI runs sync dependencies (the `caller` that binds the tenant) in a thread with a copy of
    the context: the request's later lines still carry what it bound."""
    with log_context(request_id="r"):
        await asyncio.to_thread(bind, tenant_id="acme")
        lines.logger.info("after auth")
    lines.logger.info("after the request")
    after_auth, after_request = lines.all()
    assert after_auth["tenant_id"] == "acme"
    assert "tenant_id" not in after_request


def test_trace_and_span_ids_while_a_span_is_active(lines: Lines) -> None:
    provider = TracerProvider()  # its own: the process-global provider is left alone
    with provider.get_tracer("test").start_as_current_span("work") as span:
        lines.logger.info("inside")
    lines.logger.info("outside")
    inside, outside = lines.all()
    context = span.get_span_context()
    assert inside["trace_id"] == format(context.trace_id, "032x")
    assert inside["span_id"] == format(context.span_id, "016x")
    assert "trace_id" not in outside and "span_id" not in outside
    provider.shutdown()


@pytest.fixture
def root_logging() -> Iterator[None]:
    root = logging.getLogger()
    saved = (list(root.handlers), root.level)
    uvicorn = logging.getLogger("uvicorn.error")
    saved_uvicorn = (list(uvicorn.handlers), uvicorn.propagate)
    yield
    root.handlers[:] = saved[0]
    root.setLevel(saved[1])
    uvicorn.handlers[:], uvicorn.propagate = saved_uvicorn


@pytest.mark.usefixtures("root_logging")
def test_configure_logging_installs_one_root_handler_uvicorn_included() -> None:
    uvicorn = logging.getLogger("uvicorn.error")
    uvicorn.addHandler(logging.NullHandler())
    uvicorn.propagate = False  # as uvicorn's own logging config leaves it
    first, second = io.StringIO(), io.StringIO()
    configure_logging(Settings(log_format="json", log_level="DEBUG"), stream=first)
    configure_logging(Settings(log_format="json", log_level="INFO"), stream=second)  # replaces the first
    root = logging.getLogger()
    assert sum(1 for h in root.handlers if getattr(h, "_journeys_handler", False)) == 1
    assert root.level == logging.INFO
    logging.getLogger("journeys.test").debug("hidden at INFO")
    uvicorn.info("Application startup complete.")
    assert first.getvalue() == ""
    (line,) = [json.loads(text) for text in second.getvalue().splitlines()]
    assert (line["logger"], line["message"]) == ("uvicorn.error", "Application startup complete.")

    text = io.StringIO()
    configure_logging(Settings(log_format="text"), stream=text)
    logging.getLogger("journeys.test").warning("as before")
    assert text.getvalue().rstrip().endswith(" WARNING journeys.test as before")


def test_activity_fields_come_from_the_input_model_or_the_snapshot_it_carries() -> None:
    enrollment_id = str(uuid.uuid4())
    snapshot = EnrollmentSnapshot(
        tenant_id="acme",
        enrollment_id=enrollment_id,
        journey_id="j-1",
        version=1,
        customer_id="ann@example.com",
        entry_number=1,
        workflow_id="enrollment:acme:j-1:h-x:1",
        status="ACTIVE",
        converted=False,
        current_step_id=None,
        waiting_until=None,
        enrolled_at=datetime.now(UTC),
        completed_at=None,
    )
    expected = {"tenant_id": "acme", "journey_id": "j-1", "enrollment_id": enrollment_id}
    assert activity_fields([ProgressBatch(enrollment=snapshot)]) == expected
    read = ProfileReadRequest(tenant_id="acme", customer_id="ann@example.com", progress=None)
    assert activity_fields([read]) == {"tenant_id": "acme"}  # never the customer id
    read.progress = ProgressBatch(enrollment=snapshot)
    assert activity_fields([read]) == expected
    assert activity_fields([]) == {}
    assert activity_fields(["not a model"]) == {}


def test_safe_path_hashes_segments_that_could_be_pii() -> None:
    journey = str(uuid.uuid4())
    assert safe_path(f"/v1/journeys/{journey}/enrollments") == f"/v1/journeys/{journey}/enrollments"
    assert safe_path("/v1/customers/ann@example.com") == f"/v1/customers/{customer_key('ann@example.com')}"
    assert "555" not in safe_path("/v1/customers/+1 555 123 4567/inbox")


def test_spans_go_to_the_collectors_traces_path() -> None:
    assert tracing.traces_url("http://collector:4318") == "http://collector:4318/v1/traces"
    assert tracing.traces_url("http://collector:4318/") == "http://collector:4318/v1/traces"
    assert tracing.traces_url("https://otel.example/v1/traces") == "https://otel.example/v1/traces"


def test_tracing_off_configures_nothing_and_imports_no_sdk() -> None:
    off = Settings()
    assert tracing.tracer_provider(off, tracing.API_SERVICE) is None
    assert tracing.temporal_interceptors(off, tracing.WORKER_SERVICE) == []
    # In a fresh interpreter: the app and the worker built with tracing off load no OpenTelemetry SDK,
    # exporter or instrumentation (FastAPI itself imports the API package, which costs nothing).
    script = (
        "import sys\n"
        "from fastapi import FastAPI\n"
        "from plumbing import tracing\n"
        "from plumbing.settings import Settings\n"
        "import worker, api.app\n"
        "assert tracing.instrument_app(FastAPI(), Settings()) is False\n"
        "assert tracing.temporal_interceptors(Settings(), 'x') == []\n"
        "heavy = sorted(m for m in sys.modules if m.startswith(('opentelemetry.sdk', "
        "'opentelemetry.exporter', 'opentelemetry.instrumentation', 'temporalio.contrib.opentelemetry')))\n"
        "assert not heavy, heavy\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
