"""`journeys bench ingest --n N`: the ingestion pipeline end to end on one throwaway stack — the
worker, the API (`journeys api`, uvicorn, real HTTP on a free port) and the dispatcher
(`journeys dispatcher`) each in its own process — events posted like the Segment SDKs post them:
`POST /v1/batch` with a source's write key, batches of 100, a few HTTP clients at once.

One line per figure; machines read the line starts:

- `accepted (no journey matched): N events/s` — events no journey answers to, from the first request
  to the last 200.
- `entered: N events/s` — each event enters a journey (an EVENT trigger, then a 30-day WAIT_FOR_EVENT
  that keeps the workflow asleep), from the first request until the dispatcher has started every
  workflow (every start row of the outbox has `dispatched_at`): end to end, Temporal included.
- `signalled: N events/s` — each event signals (and releases) one of those waiting enrollments, from
  the first request until every signal row is dispatched.
- `copy: N rows/s` — the same event rows COPYed straight into `events` (asyncpg
  `copy_records_to_table`), same batches, as many connections as HTTP clients: the floor's limit.
- `temporal starts: N/s`, `temporal signals: N/s` — Temporal's limit: a bare loop of the
  dispatcher's own calls (`EnrollmentGateway.start`: start_workflow of the EnrollmentWorkflow with an
  input carrying the trigger event; `EnrollmentGateway.signal_once`: the `event` signal with an
  EventSignal) at the dispatcher's concurrency (JOURNEYS_DISPATCHER_CONCURRENCY), for fresh customers
  and then to their waiting enrollments. The issue names "a bare loop of signal-with-start calls";
  the engine enters with start_workflow (the trigger event rides in the input) and signals running
  enrollments with SignalWorkflowExecution, so entries are compared to starts and signals to signals.
- `ratio ingest/copy = X`, `ratio enter/temporal = Y`, `ratio signal/temporal = Z`.
- `latency p50 = A ms, p99 = B ms` — from acceptance (the outbox row's `created_at`, written in the
  request's transaction) to Temporal accepting the signal (`dispatched_at`), for events signalling
  waiting enrollments (without releasing them) posted at a steady rate (200 events/s in batches of 20
  every 100 ms, for 10 s); percentiles over that phase's rows.
- `api peak RSS = N MiB` — VmHWM of the API process at the end.

Fairness:
- the worker is paused (SIGSTOP, once idle) during each pair measured against Temporal and during the
  latency phase, and catches up in between — all enrollments asleep before any signal is sent. On one
  2-core box, a worker taking in the workflows it was just handed competes for the CPU the dev server
  accepts starts with, the more so the longer a window lasts, which would penalise whichever side is
  slower (and in a deployment it runs elsewhere). `--live-worker` keeps it running; each half then
  waits until the worker has caught up before the next begins;
- each pair (ingest and COPY, Temporal's starts and the entries, its signals and the signals) runs
  in halves, A B B A, so that a machine whose load drifts weighs on both alike;
- the reconciler's periodic sweep is moved out of the way (see `_run`).
The dev server keeps its state in memory (bench/stack.py says why). Also printed: the CPU each part of
the stack spent per event in each measured phase (from /proc), which says where the time goes whatever
else the machine runs.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Sequence
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import asyncpg
import httpx
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn, TimeElapsedColumn
from rich.table import Table
from sqlalchemy import ColumnElement, func, select, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from api.auth import ALL_SCOPES, mint_token
from bench.common import TENANT, BenchClients, connect, enrollment_input, publish_journey, run_all, run_id
from bench.stack import BenchStack, bench_stack, cpu_seconds, memory_mib, own_cpu_seconds
from domain.definition import JourneyDefinition
from domain.events import EventRecord
from domain.payloads import SIGNAL_EVENT, EnrollmentInput, EventSignal
from store.rows import EnrollmentRow

SECRET = "bench-secret-that-is-long-enough-for-hs256-0123456789"
JOURNEY_NAME = "Signed up"
TRIGGER = "signed_up"  # enters the journey
RELEASE = "activated"  # what the journey's WAIT_FOR_EVENT waits for
BROWSE = "browsed"  # delivered to a waiting enrollment, which goes on waiting
NOISE = "page_scrolled"  # no journey answers to it
ENTERING = {
    "nodes": [
        {"id": "start", "type": "TRIGGER", "config": {"triggerType": "EVENT", "event": TRIGGER}},
        {"id": "await", "type": "WAIT_FOR_EVENT", "config": {"event": RELEASE, "timeout": "30 days"}},
        {"id": "end", "type": "EXIT"},
    ],
    "edges": [
        {"sourceNodeId": "start", "targetNodeId": "await"},
        {"sourceNodeId": "await", "targetNodeId": "end", "label": "matched"},
        {"sourceNodeId": "await", "targetNodeId": "end", "label": "timeout"},
    ],
}
PROPERTIES: dict[str, Any] = {"plan": "pro", "amount": 42, "currency": "EUR", "path": "/pricing"}
CONTEXT: dict[str, Any] = {
    "library": {"name": "analytics-python", "version": "2.3.3"},
    "ip": "203.0.113.7",
    "locale": "en-GB",
    "userAgent": "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko)",
}
COPY_COLUMNS = (
    "tenant_id",
    "message_id",
    "type",
    "customer_id",
    "user_id",
    "name",
    "properties",
    "traits",
    "context",
    "extra",
    "timestamp",
)
# The parts whose CPU is read, in the order shown; "bench" is this process (clients, bare loops).
PARTS = ("api", "dispatcher", "worker", "temporal", "postgres", "bench")
WAIT_TIMEOUT_SECONDS = 1800.0
POLL_SECONDS = 0.1
WARM_UP_STARTS = 20
ASLEEP = EnrollmentRow.waiting_until.is_not(None)  # in the projection: asleep in its WAIT_FOR_EVENT
FINISHED = EnrollmentRow.status == "COMPLETED"
# The worker and the dev server count as idle below this share of a core, measured over a second.
IDLE_SHARE = 0.10
IDLE_WAIT_SECONDS = 300.0
TARGET_ACCEPTED = 3000.0
TARGET_RATIO = 0.8
TARGET_P99_MS = 1000.0
TARGET_RSS_MIB = 300.0


class BenchError(Exception):
    """The run cannot go on; the message says why (a process died, a request was refused)."""


@dataclass(frozen=True)
class IngestOptions:
    n: int = 3000
    batch: int = 100
    clients: int = 4
    rate: int = 200  # events/s of the latency phase
    latency_seconds: float = 10.0
    paced_batch: int = 20  # events per request of the latency phase
    segment_route: bool = True  # False: POST /v1/events/batch with a bearer token (a dry run)
    live_worker: bool = False  # True: the worker runs during the Temporal-bound phases too


@dataclass
class PhaseCpu:
    """CPU seconds each part spent during a measured phase, and the events it carried."""

    events: int = 0
    seconds: dict[str, float] = field(default_factory=dict)

    def add(self, events: int, before: dict[str, float], after: dict[str, float]) -> None:
        self.events += events
        for part, used in after.items():
            self.seconds[part] = self.seconds.get(part, 0.0) + used - before.get(part, used)

    def ms_per_event(self, part: str) -> float:
        return 1000 * self.seconds.get(part, 0.0) / max(1, self.events)


@dataclass(frozen=True)
class IngestFigures:
    n: int
    batch: int
    clients: int
    concurrency: int
    route: str
    accepted_per_second: float
    entered_per_second: float
    signalled_per_second: float
    copy_per_second: float
    temporal_starts_per_second: float
    temporal_signals_per_second: float
    rate: int
    latency_rows: int
    latency_p50_ms: float
    latency_p99_ms: float
    api_peak_rss_mib: float
    cpu: dict[str, PhaseCpu] = field(default_factory=dict)

    @property
    def ingest_ratio(self) -> float:
        return self.accepted_per_second / self.copy_per_second

    @property
    def enter_ratio(self) -> float:
        return self.entered_per_second / self.temporal_starts_per_second

    @property
    def signal_ratio(self) -> float:
        return self.signalled_per_second / self.temporal_signals_per_second

    def lines(self) -> list[str]:
        """The figures as the lines machines read (exact starts)."""
        return [
            f"accepted (no journey matched): {self.accepted_per_second:.0f} events/s",
            f"entered: {self.entered_per_second:.0f} events/s",
            f"signalled: {self.signalled_per_second:.0f} events/s",
            f"copy: {self.copy_per_second:.0f} rows/s",
            f"temporal starts: {self.temporal_starts_per_second:.0f}/s",
            f"temporal signals: {self.temporal_signals_per_second:.0f}/s",
            f"ratio ingest/copy = {self.ingest_ratio:.2f}",
            f"ratio enter/temporal = {self.enter_ratio:.2f}",
            f"ratio signal/temporal = {self.signal_ratio:.2f}",
            f"latency p50 = {self.latency_p50_ms:.0f} ms, p99 = {self.latency_p99_ms:.0f} ms",
            f"api peak RSS = {self.api_peak_rss_mib:.0f} MiB",
        ]


# ---- what is posted ---------------------------------------------------------------------------


def segment_track(user: str, event: str, message_id: str, timestamp: str) -> dict[str, Any]:
    """A track call as analytics-python puts it in a batch."""
    return {
        "type": "track",
        "userId": user,
        "event": event,
        "properties": PROPERTIES,
        "messageId": message_id,
        "timestamp": timestamp,
        "context": CONTEXT,
        "integrations": {},
    }


def tracks(users: Sequence[str], event: str, prefix: str) -> list[dict[str, Any]]:
    """One `event` per user, each with its own messageId."""
    stamp = datetime.now(UTC).isoformat()
    return [segment_track(user, event, f"{prefix}-{i}-{user}", stamp) for i, user in enumerate(users)]


def batch_bodies(events: Sequence[dict[str, Any]], size: int, *, segment: bool) -> list[bytes]:
    """Request bodies of `size` events each, encoded before the clock starts. `/v1/events/batch`
    refuses fields it does not know (Segment's `integrations`, `sentAt`): they are left out there."""
    sent_at = datetime.now(UTC).isoformat()
    bodies: list[bytes] = []
    for start in range(0, len(events), size):
        chunk = list(events[start : start + size])
        if segment:
            body: dict[str, Any] = {"batch": chunk, "sentAt": sent_at}
        else:
            body = {"batch": [{k: v for k, v in e.items() if k != "integrations"} for e in chunk]}
        bodies.append(json.dumps(body, separators=(",", ":")).encode())
    return bodies


class Tracker:
    """Posts prepared batches to the tracking route; anything but a full success stops the run."""

    def __init__(self, http: httpx.AsyncClient, *, segment: bool, headers: dict[str, str]) -> None:
        self._http = http
        self.segment = segment
        self.path = "/v1/batch" if segment else "/v1/events/batch"
        self._expected = 200 if segment else 202
        self._headers = {"Content-Type": "application/json", **headers}

    @classmethod
    async def open(cls, http: httpx.AsyncClient, token: str, *, segment: bool, name: str) -> Tracker:
        bearer = {"Authorization": f"Bearer {token}"}
        if not segment:
            return cls(http, segment=False, headers=bearer)
        created = await http.post("/v1/sources", json={"name": name}, headers=bearer)
        if created.status_code != 201:
            raise BenchError(
                f"POST /v1/sources answered {created.status_code} {created.text[:300]} — without the "
                "Segment tracking API, `--events-batch` measures through POST /v1/events/batch"
            )
        key = str(created.json()["writeKey"])
        basic = base64.b64encode(f"{key}:".encode()).decode()
        return cls(http, segment=True, headers={"Authorization": f"Basic {basic}"})

    async def post(self, body: bytes) -> None:
        response = await self._http.post(self.path, content=body, headers=self._headers)
        if response.status_code != self._expected:
            raise BenchError(f"POST {self.path} answered {response.status_code}: {response.text[:500]}")
        if self.segment:
            answer = response.json()
            if answer.get("success") is not True or answer.get("rejected"):
                raise BenchError(f"POST {self.path} did not take the whole batch: {response.text[:500]}")


# ---- the run ----------------------------------------------------------------------------------


async def run_ingest_bench(options: IngestOptions, console: Console) -> IngestFigures:
    with bench_stack(temporal_in_memory=True) as stack:
        bench = await connect(stack, console)
        try:
            return await _run(stack, bench, options, console)
        finally:
            # API, dispatcher, worker: stopped (SIGTERM, waited for) while everything they use is up.
            stack.stop_processes()
            await bench.close()


async def _run(
    stack: BenchStack, bench: BenchClients, options: IngestOptions, console: Console
) -> IngestFigures:
    api, base_url = stack.start_api(SECRET)
    # The reconciler's sweep (a page of 500 ACTIVE enrollments described in Temporal every 30 s, once
    # they are 2 minutes old) is background load that has nothing to do with the event rate: pushed to
    # once an hour, so that each side of a pair sees the same Temporal.
    dispatcher = stack.start_dispatcher(JOURNEYS_RECONCILE_INTERVAL_SECONDS="3600")
    concurrency = stack.settings.dispatcher_concurrency
    console.print(
        f"API pid {api.pid} at {base_url}, dispatcher pid {dispatcher.pid} "
        f"({stack.settings.dispatcher_lanes} lanes, {concurrency} calls in flight)",
        highlight=False,
    )
    token = mint_token(
        secret=SECRET,
        tenant=TENANT,
        scopes=ALL_SCOPES,
        audience=stack.settings.jwt_audience,
        issuer=stack.settings.jwt_issuer,
        ttl_seconds=3600,
    )
    tag = run_id()
    n = options.n
    limits = httpx.Limits(max_connections=options.clients + 4, max_keepalive_connections=options.clients + 4)
    async with httpx.AsyncClient(base_url=base_url, timeout=120, limits=limits, trust_env=False) as http:
        await _wait_healthy(http, stack)
        journey_id, definition = await publish_journey(bench.sessions, JOURNEY_NAME, ENTERING, [])
        tracker = await Tracker.open(http, token, segment=options.segment_route, name=f"bench {tag}")
        run = _Run(stack, bench, tracker, options, console, journey_id, definition, tag)
        console.print(
            f"{n} events per scenario through POST {tracker.path} (batches of {options.batch}, "
            f"{options.clients} clients); machine load (1-min average) {os.getloadavg()[0]:.2f}",
            highlight=False,
        )
        await run.warm_up()

        half = n // 2
        noise = tracks([f"u{tag}-{i % max(1, n // 10)}" for i in range(n)], NOISE, f"n{tag}")
        ingest_seconds = await run.accepted(noise[:half], "1/2")
        copy_seconds = await run.copy_rows(noise[:half], "1/2")
        copy_seconds += await run.copy_rows(noise[half:], "2/2")
        ingest_seconds += await run.accepted(noise[half:], "2/2")
        bare = [[f"t{tag}{k}-{i}" for i in range(size)] for k, size in enumerate((half, n - half))]
        entering = [[f"e{tag}{k}-{i}" for i in range(size)] for k, size in enumerate((half, n - half))]
        async with run.worker_paused():
            bare_seconds, entry_seconds = await _abba(run.bare_starts, run.entries, bare, entering)
        # The signals go to enrollments asleep in their WAIT_FOR_EVENT: the worker catches up first.
        for label, group in zip(
            ("entered 1/2", "entered 2/2", "temporal starts 1/2", "temporal starts 2/2"),
            (*entering, *bare),
            strict=True,
        ):
            await run.wait_enrollments(f"{label}: asleep", _prefix(group), ASLEEP, len(group))

        async with run.worker_paused():
            p50, p99, rows = await run.latency([c for chunk in entering for c in chunk])
        async with run.worker_paused():  # once the worker has taken in the latency phase's signals
            signal_seconds, signalled_seconds = await _abba(run.bare_signals, run.signals, bare, entering)
        _, api_peak = memory_mib(api.pid)
        console.print(f"machine load (1-min average) at the end: {os.getloadavg()[0]:.2f}", highlight=False)
    return IngestFigures(
        n=n,
        batch=options.batch,
        clients=options.clients,
        concurrency=concurrency,
        route=tracker.path,
        accepted_per_second=n / ingest_seconds,
        entered_per_second=n / entry_seconds,
        signalled_per_second=n / signalled_seconds,
        copy_per_second=n / copy_seconds,
        temporal_starts_per_second=n / bare_seconds,
        temporal_signals_per_second=n / signal_seconds,
        rate=options.rate,
        latency_rows=rows,
        latency_p50_ms=p50,
        latency_p99_ms=p99,
        api_peak_rss_mib=api_peak,
        cpu=run.cpu,
    )


Half = Callable[[Sequence[str], str], Awaitable[float]]


async def _abba(
    bare: Half, product: Half, bare_halves: list[list[str]], product_halves: list[list[str]]
) -> tuple[float, float]:
    """Temporal's bare loop and the product, in halves, A B B A; the seconds each side took."""
    bare_seconds = await bare(bare_halves[0], "1/2")
    product_seconds = await product(product_halves[0], "1/2")
    product_seconds += await product(product_halves[1], "2/2")
    bare_seconds += await bare(bare_halves[1], "2/2")
    return bare_seconds, product_seconds


def _now() -> str:
    return datetime.now(UTC).isoformat()


def _prefix(customers: Sequence[str]) -> str:
    """What the customer ids of one half start with (`e1a2b3c0-`)."""
    return customers[0].rsplit("-", 1)[0] + "-"


class _Run:
    """One run's phases, sharing the stack, the clients and the journey."""

    def __init__(
        self,
        stack: BenchStack,
        bench: BenchClients,
        tracker: Tracker,
        options: IngestOptions,
        console: Console,
        journey_id: str,
        definition: JourneyDefinition,
        tag: str,
    ) -> None:
        self.stack = stack
        self.bench = bench
        self.sessions: async_sessionmaker[AsyncSession] = bench.sessions
        self.tracker = tracker
        self.options = options
        self.console = console
        self.journey_id = journey_id
        self.definition = definition
        self.tag = tag
        self.cpu: dict[str, PhaseCpu] = {}
        self._roots = stack.cpu_roots()
        [self.worker] = [process for process in stack.processes if process.name == "worker"]

    def done(self, label: str, detail: str) -> None:
        self.console.print(f"  [green]✓[/green] {label}: {detail}", highlight=False)

    def _cpu_now(self) -> dict[str, float]:
        used = cpu_seconds(self._roots)
        used["bench"] = own_cpu_seconds()
        return used

    async def _measured(self, phase: str, events: int, work: Awaitable[float]) -> float:
        """Run `work` (its seconds are the result) and add the CPU each part spent to `phase`."""
        before = self._cpu_now()
        seconds = await work
        self.cpu.setdefault(phase, PhaseCpu()).add(events, before, self._cpu_now())
        return seconds

    @asynccontextmanager
    async def worker_paused(self) -> AsyncIterator[None]:
        """The worker paused for the block (unless the options keep it live). Paused while idle, and
        for a whole pair: a worker stopped in the middle of workflow tasks would leave Temporal their
        timeouts to handle inside a measured window."""
        if self.options.live_worker:
            yield
            return
        await self.wait_idle()
        self.worker.pause()
        try:
            yield
        finally:
            self.worker.resume()

    # ---- phases ---------------------------------------------------------------------------------

    async def warm_up(self) -> None:
        """A batch down each path (imports, caches, prepared statements, connections) and a few bare
        Temporal starts, so that no measured phase pays for a first time."""
        tag, size = self.tag, self.options.batch
        warm = [f"w{tag}-{i}" for i in range(size)]
        await self._post_all(
            batch_bodies(tracks(warm, NOISE, f"wn{tag}"), size, segment=self.tracker.segment)
        )
        await self.through_dispatch("warm-up entries", tracks(warm, TRIGGER, f"ws{tag}"), "start")
        await self.wait_enrollments("warm-up asleep", f"w{tag}-", ASLEEP, size)
        await self.through_dispatch("warm-up signals", tracks(warm, BROWSE, f"wb{tag}"), "signal")
        spare = [f"x{tag}-{i}" for i in range(WARM_UP_STARTS)]
        await self._bare_starts(spare)
        await self.wait_enrollments("warm-up asleep", f"x{tag}-", ASLEEP, len(spare))
        self.done("warm-up", f"{size} entries, {size} signals, {WARM_UP_STARTS} bare starts")

    async def accepted(self, events: Sequence[dict[str, Any]], which: str) -> float:
        """Post the events; seconds from the first request to the last answer."""
        bodies = batch_bodies(events, self.options.batch, segment=self.tracker.segment)
        with self._progress() as progress:
            task = progress.add_task("POST matching no journey", total=len(events))
            seconds = await self._measured("accepted", len(events), self._post_all(bodies, progress, task))
        self.done(f"accepted (no journey matched) {which}", f"{len(events)} events in {seconds:.2f} s")
        return seconds

    async def settle(self, label: str, customers: Sequence[str], condition: ColumnElement[bool]) -> None:
        """With the worker live, until what a half set off is done (so that the next half does not pay
        for it). Paused during the measured windows, the worker catches up in between instead."""
        if self.options.live_worker:
            await self.wait_enrollments(label, _prefix(customers), condition, len(customers))

    async def entries(self, customers: Sequence[str], which: str) -> float:
        """Each customer's trigger event, until every start is dispatched."""
        events = tracks(customers, TRIGGER, f"s{self.tag}")
        seconds = await self._measured(
            "entered",
            len(events),
            self.through_dispatch(f"entered {which}", events, "start"),
        )
        await self.settle(f"entered {which} asleep", customers, ASLEEP)
        return seconds

    async def signals(self, customers: Sequence[str], which: str) -> float:
        """Each customer's releasing event, until every signal is dispatched."""
        events = tracks(customers, RELEASE, f"a{self.tag}")
        seconds = await self._measured(
            "signalled",
            len(events),
            self.through_dispatch(f"signalled {which}", events, "signal"),
        )
        await self.settle(f"signalled {which} finished", customers, FINISHED)
        return seconds

    async def bare_starts(self, customers: Sequence[str], which: str) -> float:
        """The dispatcher's start call for each customer, at its concurrency."""
        seconds = await self._measured(
            "temporal starts",
            len(customers),
            self._bare_starts(customers),
        )
        self.done(f"temporal starts {which}", f"{len(customers)} in {seconds:.2f} s")
        await self.settle(f"temporal starts {which} asleep", customers, ASLEEP)
        return seconds

    async def _bare_starts(self, customers: Sequence[str]) -> float:
        inputs: dict[str, tuple[str, EnrollmentInput]] = {}
        for customer in customers:
            workflow_id, payload = enrollment_input(self.journey_id, JOURNEY_NAME, self.definition, customer)
            trigger = EventRecord(
                id=f"bare-s-{customer}", name=TRIGGER, properties=PROPERTIES, timestamp=datetime.now(UTC)
            )
            inputs[customer] = (workflow_id, payload.model_copy(update={"trigger_event": trigger}))

        async def start(customer: str) -> None:
            await self.bench.gateway.start(*inputs[customer])

        return await run_all(
            "temporal starts", customers, start, concurrency=self.stack.settings.dispatcher_concurrency
        )

    async def bare_signals(self, customers: Sequence[str], which: str) -> float:
        """The dispatcher's signal call, releasing each customer's waiting enrollment, at its
        concurrency."""
        signals: dict[str, tuple[str, EventSignal]] = {}
        for customer in customers:
            workflow_id, _ = enrollment_input(self.journey_id, JOURNEY_NAME, self.definition, customer)
            record = EventRecord(
                id=f"bare-r-{customer}", name=RELEASE, properties=PROPERTIES, timestamp=datetime.now(UTC)
            )
            signals[customer] = (workflow_id, EventSignal(event=record))

        async def signal(customer: str) -> None:
            workflow_id, payload = signals[customer]
            if not await self.bench.gateway.signal_once(
                workflow_id, SIGNAL_EVENT, payload, str(uuid.uuid4())
            ):
                raise BenchError(f"{workflow_id} is gone: nothing to signal")

        seconds = await self._measured(
            "temporal signals",
            len(customers),
            run_all(
                "temporal signals", customers, signal, concurrency=self.stack.settings.dispatcher_concurrency
            ),
        )
        self.done(f"temporal signals {which}", f"{len(customers)} in {seconds:.2f} s")
        await self.settle(f"temporal signals {which} finished", customers, FINISHED)
        return seconds

    async def copy_rows(self, events: Sequence[dict[str, Any]], which: str) -> float:
        """The same rows COPYed into `events`, same batches, one connection per HTTP client."""
        stamp = datetime.now(UTC)
        records = [
            (
                TENANT,
                f"copy-{e['messageId']}",
                "track",
                e["userId"],
                e["userId"],
                e["event"],
                json.dumps(e["properties"]),
                "{}",
                json.dumps(e["context"]),
                json.dumps({"integrations": e["integrations"]}),
                stamp,
            )
            for e in events
        ]
        size = self.options.batch
        chunks = iter([records[i : i + size] for i in range(0, len(records), size)])
        connections = [await asyncpg.connect(self.stack.database_url) for _ in range(self.options.clients)]
        try:
            with self._progress() as progress:
                task = progress.add_task("COPY into events", total=len(records))

                async def copier(connection: asyncpg.Connection) -> None:
                    for chunk in chunks:  # the connections share one iterator
                        await connection.copy_records_to_table("events", records=chunk, columns=COPY_COLUMNS)
                        progress.advance(task, len(chunk))

                async def copy_all() -> float:
                    started = time.perf_counter()
                    await asyncio.gather(*(copier(c) for c in connections))
                    return time.perf_counter() - started

                seconds = await self._measured("copy", len(records), copy_all())
        finally:
            for connection in connections:
                await connection.close()
        self.done(f"copy {which}", f"{len(records)} rows in {seconds:.2f} s")
        return seconds

    async def latency(self, waiting: Sequence[str]) -> tuple[float, float, int]:
        """Events each delivered to a waiting enrollment (which goes on waiting), posted at a steady
        rate; p50 and p99 of acceptance → Temporal's acceptance of the signal, and the row count."""
        options = self.options
        total = max(options.paced_batch, int(options.rate * options.latency_seconds))
        events = tracks([waiting[i % len(waiting)] for i in range(total)], BROWSE, f"b{self.tag}")
        bodies = batch_bodies(events, options.paced_batch, segment=self.tracker.segment)
        interval = options.paced_batch / options.rate
        floor = await self._outbox_floor()

        async def paced() -> float:
            started = time.perf_counter()
            with self._progress() as progress:
                posted = progress.add_task(f"POST at {options.rate} events/s", total=total)
                dispatched = progress.add_task("dispatched (signal)", total=total)
                posting = asyncio.create_task(self._paced(bodies, interval, progress, posted))
                try:
                    await self._wait_dispatched(floor, "signal", total, progress, dispatched, posting)
                finally:
                    if not posting.done():
                        posting.cancel()
                await posting
            return time.perf_counter() - started

        await self._measured("latency", total, paced())
        async with self.sessions() as session:
            count, p50, p99 = (
                await session.execute(
                    text(
                        """
                        SELECT count(*),
                            percentile_cont(0.5) WITHIN GROUP (ORDER BY dispatched_at - created_at),
                            percentile_cont(0.99) WITHIN GROUP (ORDER BY dispatched_at - created_at)
                        FROM dispatch_outbox WHERE id > :floor AND kind = 'signal'
                        """
                    ),
                    {"floor": floor},
                )
            ).one()
        p50_ms, p99_ms = p50.total_seconds() * 1000, p99.total_seconds() * 1000
        self.done("latency", f"{count} signals at {options.rate}/s: p50 {p50_ms:.0f} ms, p99 {p99_ms:.0f} ms")
        return p50_ms, p99_ms, int(count)

    async def through_dispatch(self, label: str, events: Sequence[dict[str, Any]], kind: str) -> float:
        """Post the events (one outbox row of `kind` each) and wait until the dispatcher has carried
        every row out; seconds from the first request to the last row's `dispatched_at`."""
        bodies = batch_bodies(events, self.options.batch, segment=self.tracker.segment)
        floor = await self._outbox_floor()
        with self._progress() as progress:
            posted = progress.add_task(f"POST {label}", total=len(events))
            dispatched = progress.add_task(f"dispatched ({kind})", total=len(events))
            started = datetime.now(UTC)
            posting = asyncio.create_task(self._post_all(bodies, progress, posted))
            try:
                last = await self._wait_dispatched(floor, kind, len(events), progress, dispatched, posting)
            finally:
                if not posting.done():
                    posting.cancel()
            post_seconds = await posting
        seconds = (last - started).total_seconds()
        self.done(label, f"{len(events)} events in {seconds:.2f} s (all accepted after {post_seconds:.2f} s)")
        return seconds

    # ---- helpers --------------------------------------------------------------------------------

    @contextmanager
    def _progress(self) -> Iterator[Progress]:
        with Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=self.console,
            transient=True,
        ) as progress:
            yield progress

    async def _post_all(
        self, bodies: list[bytes], progress: Progress | None = None, task: TaskID | None = None
    ) -> float:
        """Post the bodies with the configured number of clients; seconds from first to last answer."""
        pending = iter(bodies)

        async def client() -> None:
            for body in pending:  # the clients share one iterator: each takes the next batch
                await self.tracker.post(body)
                if progress is not None and task is not None:
                    progress.advance(task, self.options.batch)

        started = time.perf_counter()
        await asyncio.gather(*(client() for _ in range(self.options.clients)))
        return time.perf_counter() - started

    async def _paced(self, bodies: list[bytes], interval: float, progress: Progress, task: TaskID) -> None:
        loop = asyncio.get_running_loop()
        start = loop.time()
        requests: list[asyncio.Task[None]] = []
        for index, body in enumerate(bodies):
            delay = start + index * interval - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            requests.append(asyncio.create_task(self.tracker.post(body)))
            progress.advance(task, self.options.paced_batch)
        await asyncio.gather(*requests)

    async def _outbox_floor(self) -> int:
        async with self.sessions() as session:
            return int(await session.scalar(text("SELECT coalesce(max(id), 0) FROM dispatch_outbox")) or 0)

    async def _wait_dispatched(
        self,
        floor: int,
        kind: str,
        expected: int,
        progress: Progress,
        task: TaskID,
        posting: asyncio.Task[Any],
    ) -> datetime:
        """Until `expected` rows of `kind` above `floor` are dispatched; the last `dispatched_at`."""
        query = text(
            """
            SELECT count(*), count(dispatched_at), count(failed_at), max(dispatched_at),
                max(last_error) FILTER (WHERE failed_at IS NOT NULL)
            FROM dispatch_outbox WHERE id > :floor AND kind = :kind
            """
        )
        async with asyncio.timeout(WAIT_TIMEOUT_SECONDS):
            while True:
                if posting.done() and posting.exception() is not None:
                    await posting  # raises what stopped the posting
                async with self.sessions() as session:
                    rows, done, failed, last, error = (
                        await session.execute(query, {"floor": floor, "kind": kind})
                    ).one()
                progress.update(task, completed=done)
                if failed:
                    raise BenchError(f"{failed} outbox rows were set aside: {error}")
                if rows > expected:
                    raise BenchError(f"{rows} {kind} rows in the outbox for {expected} events")
                if done >= expected:
                    assert isinstance(last, datetime)
                    return last
                self._check_alive()
                await asyncio.sleep(POLL_SECONDS)

    async def wait_enrollments(
        self, label: str, prefix: str, condition: ColumnElement[bool], expected: int
    ) -> None:
        """Until `expected` enrollments of customers named `prefix…` satisfy `condition` (the projection)."""
        query = (
            select(func.count())
            .select_from(EnrollmentRow)
            .where(
                EnrollmentRow.journey_id == uuid.UUID(self.journey_id),
                EnrollmentRow.customer_id.startswith(prefix),
                condition,
            )
        )
        started = time.perf_counter()
        with self._progress() as progress:
            task = progress.add_task(label, total=expected)
            async with asyncio.timeout(WAIT_TIMEOUT_SECONDS):
                while True:
                    async with self.sessions() as session:
                        count = int(await session.scalar(query) or 0)
                    progress.update(task, completed=count)
                    if count >= expected:
                        break
                    self._check_alive()
                    await asyncio.sleep(0.25)
        await self.wait_idle()
        if not label.startswith("warm-up"):
            self.done(label, f"{expected} after {time.perf_counter() - started:.1f} s")

    async def wait_idle(self) -> None:
        """Until the worker and the dev server have nothing left to do (each under a tenth of a core
        for two seconds in a row), at most IDLE_WAIT_SECONDS: what a phase left behind must not weigh
        on the next."""
        roots = {part: pid for part, pid in self._roots.items() if part in ("worker", "temporal")}
        deadline = time.monotonic() + IDLE_WAIT_SECONDS
        quiet = 0
        before = cpu_seconds(roots)
        while quiet < 2:
            if time.monotonic() > deadline:
                self.console.print(
                    f"  (worker or dev server still busy after {IDLE_WAIT_SECONDS:.0f} s; going on)"
                )
                return
            await asyncio.sleep(1.0)
            after = cpu_seconds(roots)
            busy = any(after[part] - before[part] > IDLE_SHARE for part in roots)
            quiet = 0 if busy else quiet + 1
            before = after
            self._check_alive()

    def _check_alive(self) -> None:
        for process in self.stack.processes:
            code = process.exit_code()
            if code is not None:
                tail = process.log_tail()
                raise BenchError(
                    f"the {process.name} process exited with status {code}; its last lines:\n{tail}"
                )


async def _wait_healthy(http: httpx.AsyncClient, stack: BenchStack, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        for process in stack.processes:
            code = process.exit_code()
            if code is not None:
                raise BenchError(
                    f"the {process.name} process exited with status {code}:\n{process.log_tail()}"
                )
        try:
            if (await http.get("/health")).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline:
            raise BenchError(f"the API did not answer /health with 200 within {timeout:.0f} s")
        await asyncio.sleep(0.25)


# ---- output -----------------------------------------------------------------------------------


def print_ingest(figures: IngestFigures, console: Console) -> None:
    table = Table(
        title=(
            f"ingestion × {figures.n} events (POST {figures.route}, batches of {figures.batch}, "
            f"{figures.clients} clients; Temporal calls in flight: {figures.concurrency})"
        )
    )
    table.add_column("")
    table.add_column("per second", justify="right")
    table.add_column("limit it is held to", justify="right")
    table.add_column("ratio", justify="right")
    table.add_column("target", justify="right")
    table.add_row(
        "accepted, matching no journey",
        f"{figures.accepted_per_second:.0f}",
        f"COPY {figures.copy_per_second:.0f}",
        f"{figures.ingest_ratio:.2f}",
        _verdict(figures.accepted_per_second >= TARGET_ACCEPTED, "≥ 3,000/s"),
    )
    table.add_row(
        "entered (until every start is dispatched)",
        f"{figures.entered_per_second:.0f}",
        f"starts {figures.temporal_starts_per_second:.0f}",
        f"{figures.enter_ratio:.2f}",
        _verdict(figures.enter_ratio >= TARGET_RATIO, "≥ 0.80"),
    )
    table.add_row(
        "signalled (until every signal is dispatched)",
        f"{figures.signalled_per_second:.0f}",
        f"signals {figures.temporal_signals_per_second:.0f}",
        f"{figures.signal_ratio:.2f}",
        _verdict(figures.signal_ratio >= TARGET_RATIO, "≥ 0.80"),
    )
    table.add_row(
        f"acceptance → signal at {figures.rate}/s (p50 / p99, {figures.latency_rows} rows)",
        f"{figures.latency_p50_ms:.0f} / {figures.latency_p99_ms:.0f} ms",
        "",
        "",
        _verdict(figures.latency_p99_ms <= TARGET_P99_MS, "p99 ≤ 1 s"),
    )
    table.add_row(
        "API peak RSS",
        f"{figures.api_peak_rss_mib:.0f} MiB",
        "",
        "",
        _verdict(figures.api_peak_rss_mib <= TARGET_RSS_MIB, "≤ 300 MiB"),
    )
    console.print(table)
    if figures.cpu:
        console.print(cpu_table(figures.cpu))
    for line in figures.lines():
        console.print(line, highlight=False, markup=False, soft_wrap=True)


def cpu_table(cpu: dict[str, PhaseCpu]) -> Table:
    """CPU milliseconds per event each part spent in each measured phase (where the time goes)."""
    table = Table(title="CPU ms per event, by process, during each measured phase")
    table.add_column("phase")
    for part in (*PARTS, "total"):
        table.add_column(part, justify="right")
    for phase, used in cpu.items():
        cells = [f"{used.ms_per_event(part):.2f}" for part in PARTS]
        total = sum(used.ms_per_event(part) for part in PARTS)
        table.add_row(f"{phase} ({used.events})", *cells, f"{total:.2f}")
    return table


def _verdict(met: bool, target: str) -> str:
    return f"[green]{target}[/green]" if met else f"[red]{target} ✗[/red]"
