"""`journeys bench lifecycle --n N`: how fast a lifecycle change reaches N in-flight enrollments.

The journey: TRIGGER → WAIT until the customer's `wakeAt` trait → SEND → EXIT. Every enrollment is
started and asleep before the pause is requested at a planned instant T; then, one stack, one run:

- **pause** (mode all) at T. N enrollments wake from 3 s to 13 s after T, each about to step into the
  SEND; 50 probe enrollments of the same journey wake every 0.1 s from 2 s before T to 3 s after it
  (those before T keep the worker's cached read warm, as in a journey where customers keep moving).
  X = from the request until the last step any enrollment took into the SEND after it (0 when none
  did): from then on every enrollment that woke held. Verified from the projection and the SMTP sink:
  every one of the N held before the SEND (nap over, still ACTIVE), nobody sent after T + X. The control
  workflow's `pause` signal to each (the nudge) is timed too, but holding does not wait for it.
- **bare signals**: a bare loop of one `pause` signal per ACTIVE enrollment (each is held already, so it
  changes nothing), at the control activity's concurrency, from this process, on the same server: Z,
  until every one is delivered — the limit the archive is measured against.
- **archive**: Y, from the request until every ACTIVE enrollment is EXITED in the projection.

Between phases the bench waits for the worker and the server to go idle, so one phase's tail does not
run into the next one's window. The lines `pause: N in-flight held after X s`, `archive: N exited after
Y s` and `bare signals: N delivered in Z s` are read by scripts."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from sqlalchemy import ColumnElement

from bench.common import (
    TENANT,
    BenchClients,
    connect,
    publish_journey,
    run_all,
    run_id,
    start_all,
    wait_for_projection,
)
from bench.stack import BenchStack, bench_stack, cpu_seconds, own_cpu_seconds
from domain.lifecycle import LifecycleAction
from domain.payloads import SIGNAL_PAUSE, ControlSignal
from services.journeys import JourneyService
from services.uow import UnitOfWork
from store.repositories.enrollments import EnrollmentRepository
from store.rows import EnrollmentRow

WAKER = {
    "nodes": [
        {"id": "start", "type": "TRIGGER"},
        {"id": "nap", "type": "WAIT", "name": "Until wakeAt", "config": {"untilTrait": {"field": "wakeAt"}}},
        {
            "id": "after",
            "type": "SEND",
            "name": "After the nap",
            "config": {"channel": "EMAIL", "subject": "Awake", "body": "Hello"},
        },
        {"id": "end", "type": "EXIT"},
    ],
    "edges": [
        {"sourceNodeId": "start", "targetNodeId": "nap"},
        {"sourceNodeId": "nap", "targetNodeId": "after"},
        {"sourceNodeId": "after", "targetNodeId": "end"},
    ],
}
PROBES = 50
PROBE_FROM, PROBE_EVERY = -2.0, 0.1  # seconds from T: probes wake at -2.0, -1.9, … +2.9
WAKE_FROM, WAKE_SPREAD = 3.0, 10.0  # the N wake from T + 3 s to T + 13 s
# The plan is fixed before the first start (the wake times are traits the WAIT reads as it is entered),
# so T is planned from the start rate measured on a first batch of CALIBRATION enrollments (of another
# journey, asleep for a day): T = now + START_MARGIN_SECONDS + START_MARGIN × (N + probes) / rate.
CALIBRATION = 200
START_MARGIN, START_MARGIN_SECONDS = 1.3, 30.0
IDLE_CPU_SECONDS = 0.15  # worker + server CPU over a second below which the stack counts as idle


@dataclass
class LifecycleFigures:
    """Filled phase by phase (and printed as each phase ends: a long run shows what it has so far)."""

    n: int
    pause_seconds: float = 0.0  # X
    held: int = 0
    probes_stepped_after: int = 0
    probes_held: int = 0
    main_sent: int = 0
    emails: int = 0
    emails_expected: int = 0
    nudge_seconds: float = float("nan")
    bare_n: int = 0
    bare_seconds: float = 0.0  # Z
    bare_taken_in_seconds: float = 0.0  # until the stack was idle again: every signal taken in
    archive_n: int = 0
    archive_seconds: float = 0.0  # Y
    cpu: dict[str, dict[str, float]] = field(default_factory=dict)


class _Cpu:
    def __init__(self, stack: BenchStack) -> None:
        self._roots = stack.cpu_roots()

    def now(self) -> dict[str, float]:
        used = cpu_seconds(self._roots)
        used["bench"] = own_cpu_seconds()
        return used

    def since(self, before: dict[str, float]) -> dict[str, float]:
        after = self.now()
        return {name: after[name] - before.get(name, 0.0) for name in after}

    async def idle(self, console: Console, what: str, *, limit: float = 1800.0) -> float:
        """Until the worker and the server used under IDLE_CPU_SECONDS in a second (their backlog done);
        the loop time when the last busy second ended."""
        loop = asyncio.get_running_loop()
        started = loop.time()
        with console.status(f"waiting for the stack to finish {what}"):
            while loop.time() - started < limit:
                before, at = self.now(), loop.time()
                await asyncio.sleep(1.0)
                used = self.since(before)
                if used.get("worker", 0.0) + used.get("temporal", 0.0) < IDLE_CPU_SECONDS:
                    return at
        return loop.time()


async def run_lifecycle_bench(
    n: int, console: Console, *, temporal_on_file: bool = False
) -> LifecycleFigures:
    with bench_stack(temporal_in_memory=not temporal_on_file) as stack:
        bench = await connect(stack, console)
        try:
            return await _run(stack, bench, n, console)
        finally:
            await bench.close()


async def _run(stack: BenchStack, bench: BenchClients, n: int, console: Console) -> LifecycleFigures:
    sessions, client = bench.sessions, bench.client
    cpu = _Cpu(stack)
    f = LifecycleFigures(n=n)
    tag = run_id()
    main = [f"w{tag}-{i}" for i in range(n)]
    probes = [f"p{tag}-{i}" for i in range(PROBES)]
    rate = await _start_rate(bench, tag, min(CALIBRATION, n))
    budget = START_MARGIN_SECONDS + START_MARGIN * (n + PROBES) / rate
    pause_at = datetime.now(UTC) + timedelta(seconds=budget)

    def traits(customer: str, wake: float) -> dict[str, object]:
        when = pause_at + timedelta(seconds=wake)
        return {"email": f"{customer}@bench.example", "wakeAt": when.isoformat()}

    customers = [(c, traits(c, PROBE_FROM + i * PROBE_EVERY)) for i, c in enumerate(probes)]
    customers += [(c, traits(c, WAKE_FROM + WAKE_SPREAD * i / n)) for i, c in enumerate(main)]
    journey_id, definition = await publish_journey(sessions, "Lifecycle", WAKER, customers)
    _line(
        console,
        f"starts ran at {rate:.0f}/s: pause planned in {budget:.0f} s; {n} enrollments + {PROBES} probes",
    )

    async def late() -> None:  # a probe whose wake time passes before it starts would not sleep
        await asyncio.sleep((pause_at - datetime.now(UTC)).total_seconds() + PROBE_FROM - 1)
        raise RuntimeError(f"starting took longer than the {budget:.0f} s planned from {rate:.0f}/s")

    asleep = EnrollmentRow.waiting_until.is_not(None)
    watchdog = asyncio.ensure_future(late())
    try:
        await start_all(bench, journey_id, "Lifecycle", definition, [*probes, *main])
        starting = asyncio.ensure_future(wait_for_projection(sessions, journey_id, asleep, n + PROBES))
        await asyncio.wait([starting, watchdog], return_when=asyncio.FIRST_COMPLETED)
        if watchdog.done():
            starting.cancel()
            watchdog.result()
    finally:
        watchdog.cancel()
    ahead = (pause_at - datetime.now(UTC)).total_seconds()
    _line(console, f"all {n + PROBES} asleep; {ahead:.0f} s until the pause")
    await cpu.idle(console, "the starts")
    await asyncio.sleep(max(0.0, (pause_at - datetime.now(UTC)).total_seconds()))

    # ---- pause ---------------------------------------------------------------------------------
    before = cpu.now()
    requested = datetime.now(UTC)
    await _transition(bench, journey_id, "pause")
    control = client.get_workflow_handle(f"journey-control:{TENANT}:{journey_id}")
    nudges = asyncio.ensure_future(control.result())
    nudged_after: list[float] = []
    nudges.add_done_callback(lambda _: nudged_after.append((datetime.now(UTC) - requested).total_seconds()))
    journey = uuid.UUID(journey_id)
    held_now = EnrollmentRow.waiting_until.is_(None) & (EnrollmentRow.status == "ACTIVE")
    await _progress(console, "woken and held", n + PROBES, lambda: _count_settled(bench, journey, held_now))
    await nudges
    await cpu.idle(console, "the pause")
    f.cpu["pause"] = cpu.since(before)

    async with sessions() as session:
        repository = EnrollmentRepository(session)
        sends = dict(await repository.node_entries(journey, "after"))
        f.held = await repository.count_where(journey, held_now & EnrollmentRow.customer_id.in_(main))
        f.probes_held = await repository.count_where(
            journey, held_now & EnrollmentRow.customer_id.in_(probes)
        )
    stepped_after = sorted((at - requested).total_seconds() for at in sends.values() if at >= requested)
    f.pause_seconds = max(stepped_after, default=0.0)
    f.probes_stepped_after = len(stepped_after)
    f.main_sent = len(set(main) & set(sends))
    f.emails, f.emails_expected = len(stack.smtp.messages()), len(sends)
    f.nudge_seconds = nudged_after[0] if nudged_after else float("nan")
    _print_pause(f, console)

    # ---- bare signals --------------------------------------------------------------------------
    async with sessions() as session:
        active = await EnrollmentRepository(session).active_page(
            TENANT, journey, after=None, limit=n + PROBES
        )
    workflow_ids = [row.workflow_id for row in active]
    signal = ControlSignal(reason="bench: a bare signal")

    async def bare(workflow_id: str) -> None:
        await client.get_workflow_handle(workflow_id).signal(SIGNAL_PAUSE, signal)

    before = cpu.now()
    bare_started = asyncio.get_running_loop().time()
    f.bare_n = f.archive_n = len(workflow_ids)
    f.bare_seconds = await run_all(
        f"bare signals to {len(workflow_ids)}",
        workflow_ids,
        bare,
        concurrency=stack.settings.control_signal_concurrency,
    )
    bare_taken_in = await cpu.idle(console, "the bare signals") - bare_started
    f.bare_taken_in_seconds = max(bare_taken_in, f.bare_seconds)
    _print_bare(f, console)
    f.cpu["bare signals"] = cpu.since(before)

    # ---- archive -------------------------------------------------------------------------------
    before = cpu.now()
    archived = asyncio.get_running_loop().time()
    await _transition(bench, journey_id, "archive")
    exited = EnrollmentRow.status == "EXITED"
    await _progress(console, "exited", len(workflow_ids), lambda: _count(bench, journey, exited))
    f.archive_seconds = asyncio.get_running_loop().time() - archived
    f.cpu["archive"] = cpu.since(before)
    _line(console, f"archive: {f.archive_n} exited after {f.archive_seconds:.1f} s")
    return f


async def _start_rate(bench: BenchClients, tag: str, k: int) -> float:
    """Enrollments started (and asleep) per second on this stack now, from `k` of another journey."""
    wake = (datetime.now(UTC) + timedelta(days=1)).isoformat()
    customers = [(f"c{tag}-{i}", {"email": f"c{tag}-{i}@bench.example", "wakeAt": wake}) for i in range(k)]
    journey_id, definition = await publish_journey(bench.sessions, "Calibration", WAKER, customers)
    loop = asyncio.get_running_loop()
    started = loop.time()
    await start_all(bench, journey_id, "Calibration", definition, [c for c, _ in customers])
    await wait_for_projection(bench.sessions, journey_id, EnrollmentRow.waiting_until.is_not(None), k)
    return k / (loop.time() - started)


async def _transition(bench: BenchClients, journey_id: str, action: LifecycleAction) -> None:
    async with bench.sessions() as session:
        uow = UnitOfWork(session)
        await JourneyService(uow, bench.gateway).transition(TENANT, uuid.UUID(journey_id), action)
        await uow.commit()


async def _count(bench: BenchClients, journey: uuid.UUID, condition: ColumnElement[bool]) -> int:
    async with bench.sessions() as session:
        return await EnrollmentRepository(session).count_where(journey, condition)


async def _count_settled(bench: BenchClients, journey: uuid.UUID, held: ColumnElement[bool]) -> int:
    """Enrollments whose nap is over: held, or (a probe that woke before the pause held) ended."""
    return await _count(bench, journey, (EnrollmentRow.status != "ACTIVE") | held)


async def _progress(console: Console, label: str, total: int, count: Callable[[], Awaitable[int]]) -> None:
    """Poll `count` until it reaches `total`, showing it."""
    with Progress(
        TextColumn(f"[bold]{label}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=True,
    ) as progress:
        task = progress.add_task(label, total=total)
        async with asyncio.timeout(3600):
            while (done := await count()) < total:
                progress.update(task, completed=done)
                await asyncio.sleep(0.25)


def _line(console: Console, text: str) -> None:
    console.print(text, soft_wrap=True)  # never folded: scripts read the lines


def _print_pause(f: LifecycleFigures, console: Console) -> None:
    _line(console, f"pause: {f.held} in-flight held after {f.pause_seconds:.1f} s")
    _line(
        console,
        f"  verified in the projection: {f.held} of the {f.n} held before the SEND (nap over, ACTIVE), "
        f"{f.main_sent} of them reached it; probes: {f.probes_stepped_after} stepped on into the SEND after "
        f"the request (X is the last of them), {f.probes_held} held",
    )
    _line(
        console,
        f"  emails received {f.emails}, SEND steps recorded {f.emails_expected} (the probes that woke "
        "before the request or within X)",
    )
    _line(console, f"  the pause signal (the nudge) reached every enrollment after {f.nudge_seconds:.1f} s")


def _print_bare(f: LifecycleFigures, console: Console) -> None:
    _line(console, f"bare signals: {f.bare_n} delivered in {f.bare_seconds:.1f} s")
    _line(
        console,
        f"  (taken in by their workflows, one workflow task each, the stack idle again after "
        f"{f.bare_taken_in_seconds:.1f} s)",
    )


def print_lifecycle(f: LifecycleFigures, console: Console) -> None:
    """What the phases printed as they ended add up to."""
    ratio = f.archive_seconds / f.bare_seconds if f.bare_seconds else float("nan")
    taken_in = f.archive_seconds / f.bare_taken_in_seconds if f.bare_taken_in_seconds else float("nan")
    _line(console, f"Y/Z = {ratio:.2f} (against the bare signals taken in: {taken_in:.2f})")
    for phase, used in f.cpu.items():
        parts = ", ".join(f"{name} {seconds:.1f}" for name, seconds in sorted(used.items()))
        _line(console, f"  CPU seconds, {phase} (until idle): {parts}")
