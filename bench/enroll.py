"""`journeys bench enroll --n N`: the reference journey through the engine and through a hand-written
workflow, same dev server, same worker, same run. Prints enrollments/s for both, R = engine/control,
history events per enrollment for both, and the worker's peak RSS."""

from __future__ import annotations

import statistics
import uuid
from dataclasses import dataclass

from rich.console import Console
from rich.table import Table

from bench.common import TENANT, connect, enrollment_input, publish_journey, run_all, run_id
from bench.reference import CONTROL_WORKFLOW, ControlInput, reference_journey
from bench.stack import bench_stack

HISTORY_SAMPLE = 25
WARM_UP = 20
# Enrollments in flight at once: each spends ~1 s asleep, so this, not the engine, caps the rate.
CONCURRENCY = 200


@dataclass(frozen=True)
class EnrollFigures:
    n: int
    engine_per_second: float
    control_per_second: float
    engine_events: float
    control_events: float
    worker_peak_rss_mib: float

    @property
    def ratio(self) -> float:
        return self.engine_per_second / self.control_per_second


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

        async def engine_enrollment(customer: str) -> None:
            workflow_id, payload = enrollment_input(journey_id, "Reference", definition, customer)
            await gateway.start(workflow_id, payload)
            await client.get_workflow_handle(workflow_id).result()

        async def control_enrollment(customer: str) -> None:
            workflow_id = f"control:{journey_id}:{customer}"
            await client.execute_workflow(
                CONTROL_WORKFLOW,
                ControlInput(
                    tenant_id=TENANT,
                    journey_id=journey_id,
                    enrollment_id=str(uuid.uuid5(uuid.NAMESPACE_URL, workflow_id)),
                    customer_id=customer,
                ),
                id=workflow_id,
                task_queue=stack.settings.temporal_task_queue,
            )

        warm, measured = customers[:WARM_UP], customers[WARM_UP:]
        await run_all("warm-up engine", warm, engine_enrollment)
        await run_all("warm-up control", warm, control_enrollment)
        engine_seconds = await run_all("engine", measured, engine_enrollment, concurrency=CONCURRENCY)
        control_seconds = await run_all("control", measured, control_enrollment, concurrency=CONCURRENCY)

        sample = measured[:HISTORY_SAMPLE]
        engine_events = [
            len(
                (
                    await client.get_workflow_handle(
                        enrollment_input(journey_id, "", definition, c)[0]
                    ).fetch_history()
                ).events
            )
            for c in sample
        ]
        control_events = [
            len((await client.get_workflow_handle(f"control:{journey_id}:{c}").fetch_history()).events)
            for c in sample
        ]
        _, peak = stack.worker_memory_mib()
        await bench.close()
        return EnrollFigures(
            n=n,
            engine_per_second=n / engine_seconds,
            control_per_second=n / control_seconds,
            engine_events=statistics.mean(engine_events),
            control_events=statistics.mean(control_events),
            worker_peak_rss_mib=peak,
        )


def print_enroll(figures: EnrollFigures, console: Console) -> None:
    table = Table(title=f"reference journey × {figures.n} (SEND → WAIT 1 s → CONDITION → SEND → EXIT)")
    table.add_column("")
    table.add_column("engine", justify="right")
    table.add_column("hand-written control", justify="right")
    table.add_row("enrollments/s", f"{figures.engine_per_second:.1f}", f"{figures.control_per_second:.1f}")
    table.add_row(
        "history events / enrollment", f"{figures.engine_events:.1f}", f"{figures.control_events:.1f}"
    )
    console.print(table)
    verdict = "[green]meets[/green]" if figures.ratio >= 1.0 else "[red]misses[/red]"
    console.print(f"R = engine/control = [bold]{figures.ratio:.2f}[/bold] ({verdict} the R ≥ 1.0 target)")
    console.print(f"worker peak RSS: {figures.worker_peak_rss_mib:.0f} MiB")
