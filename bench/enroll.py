"""`journeys bench enroll --n N`: the reference journey through the engine and through two hand-written
workflows — a control with ordinary activities and a tuned control with local activities — same dev
server, same worker, same run. Prints enrollments/s for each, R = engine/control and R = engine/tuned
control, history events per enrollment for each, and the worker's peak RSS.

The lines starting `R = engine/control = `, `R = engine/tuned control = ` and `history events per
enrollment: ` are read by machines: keep their wording.

Each side runs N enrollments in two halves, in the order engine, control, tuned, tuned, control,
engine, so a drift over the run (the dev server's database growing, the machine's other load) weighs on
every side alike instead of on whichever runs last."""

from __future__ import annotations

import statistics
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from rich.console import Console
from rich.table import Table

from bench.common import TENANT, connect, enrollment_input, publish_journey, run_all, run_id
from bench.reference import CONTROL_WORKFLOW, TUNED_CONTROL_WORKFLOW, ControlInput, reference_journey
from bench.stack import bench_stack

HISTORY_SAMPLE = 25
WARM_UP = 20
# Enrollments in flight at once: each spends ~1 s asleep, so this, not the engine, caps the rate.
CONCURRENCY = 200
# Targets of issue 14 ("a leaner enrollment").
CONTROL_TARGET = 1.2
TUNED_TARGET = 1.0
EVENTS_TARGET = 16.0

SIDES = ("engine", "control", "tuned control")
ORDER = ("engine", "control", "tuned control", "tuned control", "control", "engine")


@dataclass(frozen=True)
class EnrollFigures:
    n: int
    engine_per_second: float
    control_per_second: float
    tuned_per_second: float
    engine_events: float
    control_events: float
    tuned_events: float
    worker_peak_rss_mib: float

    @property
    def ratio(self) -> float:
        return self.engine_per_second / self.control_per_second

    @property
    def tuned_ratio(self) -> float:
        return self.engine_per_second / self.tuned_per_second


async def run_enroll_bench(n: int, console: Console) -> EnrollFigures:
    with bench_stack() as stack:
        bench = await connect(stack, console)
        sessions, client, gateway = bench.sessions, bench.client, bench.gateway
        tag = run_id()
        customers = [f"c{tag}-{i}" for i in range(n + WARM_UP)]
        profiles = [
            (c, {"email": f"{c}@example.com", "firstName": c, "plan": "pro" if i % 2 else "free"})
            for i, c in enumerate(customers)
        ]
        journey_id, definition = await publish_journey(sessions, "Reference", reference_journey(), profiles)

        def engine_id(customer: str) -> str:
            return enrollment_input(journey_id, "", definition, customer)[0]

        async def engine_enrollment(customer: str) -> None:
            workflow_id, payload = enrollment_input(journey_id, "Reference", definition, customer)
            await gateway.start(workflow_id, payload)
            await client.get_workflow_handle(workflow_id).result()

        def hand_written(workflow: str, prefix: str) -> Callable[[str], Awaitable[None]]:
            async def enrollment(customer: str) -> None:
                workflow_id = f"{prefix}:{journey_id}:{customer}"
                await client.execute_workflow(
                    workflow,
                    ControlInput(
                        tenant_id=TENANT,
                        journey_id=journey_id,
                        enrollment_id=str(uuid.uuid5(uuid.NAMESPACE_URL, workflow_id)),
                        customer_id=customer,
                    ),
                    id=workflow_id,
                    task_queue=stack.settings.temporal_task_queue,
                )

            return enrollment

        runs = {
            "engine": engine_enrollment,
            "control": hand_written(CONTROL_WORKFLOW, "control"),
            "tuned control": hand_written(TUNED_CONTROL_WORKFLOW, "tuned"),
        }
        ids: dict[str, Callable[[str], str]] = {
            "engine": engine_id,
            "control": lambda c: f"control:{journey_id}:{c}",
            "tuned control": lambda c: f"tuned:{journey_id}:{c}",
        }

        warm, measured = customers[:WARM_UP], customers[WARM_UP:]
        for side in SIDES:
            await run_all(f"warm-up {side}", warm, runs[side])
        halves = [measured[: n // 2], measured[n // 2 :]]
        seconds = dict.fromkeys(SIDES, 0.0)
        for index, side in enumerate(ORDER):
            half = halves[0] if index < len(SIDES) else halves[1]
            seconds[side] += await run_all(side, half, runs[side], concurrency=CONCURRENCY)

        sample = halves[0][:HISTORY_SAMPLE]
        events: dict[str, float] = {}
        for side in SIDES:
            counts = [
                len((await client.get_workflow_handle(ids[side](c)).fetch_history()).events) for c in sample
            ]
            events[side] = statistics.mean(counts)
        _, peak = stack.worker_memory_mib()
        await bench.close()
        return EnrollFigures(
            n=n,
            engine_per_second=n / seconds["engine"],
            control_per_second=n / seconds["control"],
            tuned_per_second=n / seconds["tuned control"],
            engine_events=events["engine"],
            control_events=events["control"],
            tuned_events=events["tuned control"],
            worker_peak_rss_mib=peak,
        )


def _verdict(met: bool) -> str:
    return "meets" if met else "misses"


def print_enroll(figures: EnrollFigures, console: Console) -> None:
    table = Table(title=f"reference journey × {figures.n} (SEND → WAIT 1 s → CONDITION → SEND → EXIT)")
    table.add_column("")
    table.add_column("engine", justify="right")
    table.add_column("hand-written control", justify="right")
    table.add_column("tuned control (local activities)", justify="right")
    table.add_row(
        "enrollments/s",
        f"{figures.engine_per_second:.1f}",
        f"{figures.control_per_second:.1f}",
        f"{figures.tuned_per_second:.1f}",
    )
    table.add_row(
        "history events / enrollment",
        f"{figures.engine_events:.1f}",
        f"{figures.control_events:.1f}",
        f"{figures.tuned_events:.1f}",
    )
    console.print(table)
    # Plain lines (no markup, no highlighting, never wrapped): scripts read them.
    lines = [
        f"R = engine/control = {figures.ratio:.2f} "
        f"({_verdict(figures.ratio >= CONTROL_TARGET)} the R ≥ {CONTROL_TARGET} target)",
        f"R = engine/tuned control = {figures.tuned_ratio:.2f} "
        f"({_verdict(figures.tuned_ratio >= TUNED_TARGET)} the R ≥ {TUNED_TARGET} target)",
        f"history events per enrollment: engine {figures.engine_events:.1f}, "
        f"control {figures.control_events:.1f}, tuned control {figures.tuned_events:.1f} "
        f"({_verdict(figures.engine_events <= EVENTS_TARGET)} the engine ≤ {EVENTS_TARGET:.0f} target)",
        f"worker peak RSS: {figures.worker_peak_rss_mib:.0f} MiB",
    ]
    for line in lines:
        console.print(line, markup=False, highlight=False, soft_wrap=True)
